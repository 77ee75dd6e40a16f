"""README.md's two set-up commands are exactly what CI runs."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_commands():
    section = ROOT.joinpath("README.md").read_text().split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_readme_has_exactly_two_setup_commands():
    commands = readme_commands()
    assert len(commands) == 2
    assert "pip install -e '.[test]'" in commands[0] and "peerpath demo" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_commands_verbatim():
    ci_lines = ROOT.joinpath(".ci", "run").read_text().splitlines()
    for command in readme_commands():
        assert command in ci_lines


def tour_lines():
    """The commands of README's tour, continuation lines joined."""
    section = ROOT.joinpath("README.md").read_text().split("## A short tour", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.+?)\n```", section, re.DOTALL).group(1)
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


@pytest.mark.both_backends
def test_every_line_of_the_tour_runs_as_written(tmp_path, db):
    """On a file, and on PostgreSQL (PEERPATH_DB a URL, as the tour's first line says it may be)."""
    import os
    import subprocess
    import sys

    from peerpath.core import Tracker

    checklist = Tracker(db=tmp_path / "unused.json").catalog.checklist("connection_meeting")
    (tmp_path / "observation.csv").write_text(
        "item,answer\n" + "".join(f"{item.key},{'yes' if item.type == 'yes_no' else 4}\n" for item in checklist.items))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERPATH_")}
    env.update({"PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
                "PEERPATH_DB": str(db) if isinstance(db, str) else "affiliate.json", "PEERPATH_USER": "coordinator"})  # today is the real date
    lines = tour_lines()
    assert len(lines) > 25
    for line in lines:
        result = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=60)
        if "# refused" in line:
            assert result.returncode == 1 and result.stderr.startswith("Error: "), (line, result.stderr)
        else:
            assert result.returncode == 0, (line, result.stderr)
            assert "Error" not in result.stderr, (line, result.stderr)
