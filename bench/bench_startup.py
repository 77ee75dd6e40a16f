"""CLI start-up: `peerpath --help` against importing its runtime libraries in a bare Python,
with bytecode cached (compiled first, as an install leaves it) and, for comparison, uncached.

    python bench/bench_startup.py [--runs 21] [--against REV]

Target: <= 1.5 x the bare imports, bytecode cached. The commands are run in turn, round after
round, so a busy moment of the machine falls on all of them alike; each figure is the median of
its rounds. The fastest round and the CPU time are shown too: on a busy machine they are the
steadier figures.
`--against REV` also times the `--help` of git revision REV of this repository (exported to a
temporary folder, compiled, imported through PYTHONPATH like the code here), side by side.
"""

import argparse
import importlib.util
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import BASELINE_IMPORTS, PEERPATH, Finding, compile_bytecode, environment, run_once, table

TARGET = 1.5
BASELINE = f"python -c '{BASELINE_IMPORTS}' (baseline)"
HELP = "from peerpath.cli import cli; cli()"  # `peerpath --help` of the peerpath found on sys.path
# What is not part of the installed package (the `peerpath` folder is the repository's top level).
NOT_PACKAGED = (".git", ".venv", ".mypy-path", "bench", "docs", "examples", "tests", "__pycache__", "*.egg-info")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--against", metavar="REV", help="also time this git revision's --help, side by side")
    args = parser.parse_args(argv)
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="peerpath-startup-") as scratch:
        measure(args.runs, against=args.against, scratch=Path(scratch))


def measure(runs: int, against: str = None, scratch: Path = None) -> list:
    """Print the start-up table; the cached ratio as a Finding."""
    _check_bytecode()
    commands = {"python -c pass": [sys.executable, "-c", "pass"],
                BASELINE: [sys.executable, "-c", BASELINE_IMPORTS],
                "peerpath --help": [PEERPATH, "--help"]}
    extra_env = {}  # command -> what its environment adds
    if against:
        trees = {"--help, this tree on PYTHONPATH": _package_copy(scratch / "here"),
                 f"--help, {against} on PYTHONPATH": _revision_copy(against, scratch / "then")}
        for name, tree in trees.items():
            commands[name] = [sys.executable, "-c", HELP, "--help"]
            extra_env[name] = {"PYTHONPATH": str(tree)}
    rows, findings = [], []
    for cached in (True, False):
        label = "cached" if cached else "uncached"
        wall, cpu = _in_turn(commands, extra_env, cached, runs)
        baseline = {figure: statistics.median(times[BASELINE]) for figure, times in (("wall", wall), ("cpu", cpu))}
        fastest_baseline = min(wall[BASELINE])
        for name in commands:
            ratio = statistics.median(wall[name]) / baseline["wall"]
            verdict = ""
            if name == "peerpath --help":
                verdict = ("PASS" if ratio <= TARGET else "MISS") if cached else "(reported)"
                if cached:
                    findings.append(Finding("start-up, bytecode cached", "peerpath --help", ratio, TARGET))
            rows.append([f"{name} ({label})", _ms(statistics.median(wall[name])), f"{ratio:.2f}",
                         _ms(min(wall[name])), f"{min(wall[name]) / fastest_baseline:.2f}",
                         _ms(statistics.median(cpu[name])), f"{statistics.median(cpu[name]) / baseline['cpu']:.2f}",
                         verdict])
    print(f"CLI start-up, {runs} rounds: wall time (median, fastest) and CPU time (median, user + system, "
          f"steadier on a busy machine); target <= {TARGET} x the bare imports, median wall time, bytecode cached")
    print(table(rows, ["command", "median", "x baseline", "fastest", "x fastest", "cpu", "x baseline cpu",
                       "target"]))
    return findings


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _in_turn(commands: dict, extra_env: dict, cached: bool, runs: int) -> tuple:
    """Wall and CPU seconds of each run of each command ({name: [seconds]} each), the commands
    run one after another in each round."""
    envs = {name: environment(cached=cached, **extra_env.get(name, {})) for name in commands}
    wall, cpu = {name: [] for name in commands}, {name: [] for name in commands}
    for name, argv in commands.items():  # a first run each, not counted: the files into the page cache
        run_once(argv, envs[name])
    for _ in range(runs):
        for name, argv in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            wall[name].append(run_once(argv, envs[name]))
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return wall, cpu


def _check_bytecode() -> None:
    """Refuse to call a figure cached when the bytecode of peerpath or click is not written."""
    import click

    import peerpath.cli

    for module in (peerpath.cli, click):
        cached = Path(importlib.util.cache_from_source(module.__file__))
        if not cached.exists() or cached.stat().st_mtime < Path(module.__file__).stat().st_mtime:
            raise SystemExit(f"no fresh bytecode for {module.__file__}: the cached figures would not be")


def _repository() -> Path:
    import peerpath.core

    return Path(peerpath.core.__file__).parent.parent  # an editable install maps peerpath onto the repository


def _package_copy(target: Path) -> Path:
    """This tree's package, as `peerpath/` in a folder to put on PYTHONPATH, compiled."""
    shutil.copytree(_repository(), target / "peerpath", ignore=shutil.ignore_patterns(*NOT_PACKAGED))
    return _compiled(target)


def _revision_copy(revision: str, target: Path) -> Path:
    """Git revision `revision` of this repository's package, exported like `_package_copy`."""
    (target / "peerpath").mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(_repository()), "archive", revision],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target / "peerpath")], input=archive, check=True)
    for name in NOT_PACKAGED:
        shutil.rmtree(target / "peerpath" / name, ignore_errors=True)
    return _compiled(target)


def _compiled(folder: Path) -> Path:
    import compileall

    compileall.compile_dir(str(folder), quiet=2, workers=0)
    return folder


if __name__ == "__main__":
    main()
