"""peerpath installs as one import package, `peerpath`, beside any other tool.

Each test builds real distributions (with setuptools, in-process: nothing is downloaded) and
installs them into a throwaway virtual environment that borrows the test environment's
dependencies, so what is checked is what `pip install`, the wheel of `python -m build` or pipx
put into site-packages.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What a checkout may hold that is not source: never copied into a build.
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__",
                                    ".pytest_cache", ".hypothesis", ".mypy_cache")


def _run(args, cwd=None, env=None, timeout=300):
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (args, result.stdout[-3000:], result.stderr[-3000:])
    return result


def build(kind: str, project: Path, out: Path) -> Path:
    """Build a "wheel" or "sdist" of `project` with setuptools' PEP 517 backend; return its path."""
    out.mkdir(parents=True, exist_ok=True)
    code = f"import sys; from setuptools import build_meta; print(build_meta.build_{kind}(sys.argv[1]))"
    name = _run([sys.executable, "-c", code, out], cwd=project).stdout.strip().splitlines()[-1]
    return out / name


def source_copy(tmp: Path) -> Path:
    """The checkout's sources in a fresh folder, so no stale build/ of an earlier run is packed."""
    return Path(shutil.copytree(ROOT, tmp / "source", ignore=NOT_SOURCE))


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """peerpath's wheel, and the wheel of another tool with its own top-level `core` and `cli.py`."""
    tmp = tmp_path_factory.mktemp("wheels")
    other = tmp / "other-tool"
    (other / "core").mkdir(parents=True)
    (other / "core" / "__init__.py").write_text("GREETING = 'other tool core'\n")
    (other / "cli.py").write_text("from core import GREETING\n\n\ndef main():\n    print(GREETING)\n")
    (other / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools"]\n'
                                          'build-backend = "setuptools.build_meta"\n')
    (other / "setup.cfg").write_text(textwrap.dedent("""\
        [metadata]
        name = other-tool
        version = 1.0
        [options]
        packages = core
        py_modules = cli
        [options.entry_points]
        console_scripts =
            other-tool = cli:main
        """))
    return {"peerpath": build("wheel", source_copy(tmp), tmp / "dist"),
            "other": build("wheel", other, tmp / "dist")}


class Venv:
    """A new virtual environment whose own site-packages comes first, then the test environment's
    (for attrs, click, pytest...): what is installed here shadows nothing and is shadowed by nothing."""

    def __init__(self, path: Path):
        _run([sys.executable, "-m", "venv", "--without-pip", path])
        self.path = path
        self.python = path / "bin" / "python"
        site = _run([self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
        Path(site, "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("PEERPATH_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        self.env["PATH"] = os.pathsep.join([str(path / "bin"), self.env.get("PATH", "")])

    def pip(self, *args):
        return _run([sys.executable, "-m", "pip", "--python", self.python, "--disable-pip-version-check",
                     *args], env=self.env)

    def install(self, wheel: Path):
        self.pip("install", "--no-deps", "--no-index", wheel)

    def run(self, *args, cwd=None, **env):
        return _run(args, cwd=cwd, env={**self.env, **env})


def project_with(tmp: Path, files: dict) -> Path:
    for name, text in files.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(textwrap.dedent(text))
    return tmp


def test_the_wheel_holds_only_the_peerpath_package(wheels):
    names = zipfile.ZipFile(wheels["peerpath"]).namelist()
    assert {name.split("/")[0] for name in names if ".dist-info/" not in name} == {"peerpath"}
    assert {"peerpath/cli.py", "peerpath/core/__init__.py", "peerpath/core/testing.py",
            "peerpath/plugins/connection.py", "peerpath/web/charts.py"} <= set(names)
    entry_points = zipfile.ZipFile(wheels["peerpath"]).read("peerpath-0.1.0.dist-info/entry_points.txt").decode()
    assert "peerpath = peerpath.cli:cli" in entry_points
    assert "peerpath = peerpath.core.testing" in entry_points
    assert "connection = peerpath.plugins.connection" in entry_points


@pytest.mark.parametrize("order", [("peerpath", "other"), ("other", "peerpath")])
def test_another_tools_core_and_cli_do_not_collide(wheels, tmp_path, order):
    venv = Venv(tmp_path / "venv")
    for name in order:
        venv.install(wheels[name])

    demo = venv.run("peerpath", "demo", PEERPATH_DB=str(tmp_path / "demo.json"), PEERPATH_USER="tester")
    assert "peerpath leaders" in demo.stdout
    assert venv.run("other-tool").stdout == "other tool core\n"

    # A project with its own `core` package still collects and runs its tests (peerpath's pytest
    # plugin loads as peerpath.core.testing, not as a top-level `core.testing`).
    own_core = project_with(tmp_path / "own-core", {
        "core/__init__.py": "VALUE = 42\n",
        "tests/test_own.py": "from core import VALUE\n\n\ndef test_value():\n    assert VALUE == 42\n",
    })
    assert "1 passed" in venv.run(venv.python, "-m", "pytest", "-p", "no:cacheprovider", cwd=own_core).stdout

    # A plugin author whose repository has a cli.py of its own can use the `peerpath` fixture.
    author = project_with(tmp_path / "author", {
        "cli.py": "raise SystemExit('the author cli.py was imported instead of peerpath.cli')\n",
        "tests/test_with_fixture.py": """\
            def test_peerpath_fixture(peerpath, tracker):
                result = peerpath("peer", "add", "Ana Diaz")
                assert result.exit_code == 0, result.output
                assert [peer.name for peer in tracker.peers()] == ["Ana Diaz"]
            """,
    })
    assert "1 passed" in venv.run(venv.python, "-m", "pytest", "-p", "no:cacheprovider", cwd=author).stdout

    # Uninstalling the tool installed first leaves the other's files in place.
    first, second = order
    venv.pip("uninstall", "--yes", {"peerpath": "peerpath", "other": "other-tool"}[first])
    if second == "peerpath":
        assert "Usage: peerpath" in venv.run("peerpath", "--help").stdout
        venv.run("peerpath", "init", PEERPATH_DB=str(tmp_path / "after.json"))
        assert (tmp_path / "after.json").exists()
    else:
        assert venv.run("other-tool").stdout == "other tool core\n"
        probe = "import importlib.util as u; print(u.find_spec('peerpath'))"
        assert venv.run(venv.python, "-c", probe).stdout.strip() == "None"


def test_the_sdist_is_complete_and_its_tests_run(tmp_path):
    sdist = build("sdist", source_copy(tmp_path), tmp_path / "dist")
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
        archive.extractall(tmp_path / "unpacked", filter="data")
    for wanted in ("LICENSE", "README.md", "setup.cfg", "cli.py", "core/__init__.py", "plugins/crss.py",
                   "tests/conftest.py", "tests/fixtures/messy_peers.csv", "docs/hooks.md",
                   "docs/writing-plugins.md", "examples/peerpath-family-to-family/setup.cfg", ".ci/run"):
        assert wanted in names, wanted
    assert "Apache License" in (tmp_path / "unpacked" / top / "LICENSE").read_text()
    assert not [name for name in names if "__pycache__" in name or name.startswith(("examples/", "tests/"))
                and ".egg-info" in name]

    unpacked = tmp_path / "unpacked" / top
    venv = Venv(tmp_path / "venv")
    venv.install(build("wheel", unpacked, tmp_path / "from-sdist"))
    result = venv.run(venv.python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                      "tests/test_readme.py", "tests/test_cli_peers.py", cwd=unpacked)
    assert " passed" in result.stdout and "failed" not in result.stdout
