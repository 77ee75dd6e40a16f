"""mypy passes on core/, plugins/ and cli.py with the settings in setup.cfg's [mypy] section, so
every attribute a Tracker service uses is declared (core.session) and every call to another
area matches that area's signature."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_finds_no_errors(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy-cache")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 0, "\n".join(errors or [result.stdout, result.stderr])
    assert result.stdout.startswith("Success: no issues found"), result.stdout
