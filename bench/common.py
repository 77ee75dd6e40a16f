"""What the benchmark scripts share: timing child processes, the peerpath command, sizes."""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PEERPATH = str(Path(sys.executable).with_name("peerpath"))


BASELINE_IMPORTS = "import pluggy, attrs, click, tinydb, orjson"  # peerpath's runtime libraries
# An empty cache folder, never written: every module is compiled from source on each run.
UNCACHED = {"PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "peerpath-bench-no-pyc"),
            "PYTHONDONTWRITEBYTECODE": "1"}


@dataclass(frozen=True)
class Finding:
    """One measured ratio against its target, for bench/targets.py's summary: `row` is the row of
    issue 14's table it answers, `what` the command or case measured."""

    row: str
    what: str
    ratio: float
    limit: float = None  # None: reported, no target
    at_most: bool = True  # False: the ratio must be at least `limit`

    @property
    def holds(self) -> bool:
        if self.limit is None:
            return True
        return self.ratio <= self.limit if self.at_most else self.ratio >= self.limit


def environment(db=None, cached=True, **extra) -> dict:
    """The environment of a measured child: bytecode cached (what `pip install .` and pipx users
    get) unless not `cached`, peerpath's own variables replaced by the bench's."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PEERPATH_") and k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    env.update({"PEERPATH_USER": "bench", "PEERPATH_TODAY": "2026-11-22", **extra})
    if not cached:
        env.update(UNCACHED)
    if db is not None:
        env["PEERPATH_DB"] = str(db)
    return env


def compile_bytecode() -> None:
    """Write the .pyc of peerpath and of every library in its environment, as an install does
    (an editable install, or PYTHONDONTWRITEBYTECODE, otherwise leaves them out)."""
    import compileall
    import sysconfig

    import peerpath.core

    package = Path(peerpath.core.__file__).parent.parent  # an editable install maps peerpath onto the repo
    for folder in {package, Path(sysconfig.get_paths()["purelib"])}:
        compileall.compile_dir(str(folder), quiet=2, workers=0)


def run_once(argv, env) -> float:
    """Wall seconds of one child process, which must succeed."""
    began = time.perf_counter()
    result = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv))} failed: {result.stderr.strip()}")
    return seconds


def median_time(argv, env, runs: int, before_each=None) -> float:
    times = []
    for _ in range(runs):
        if before_each is not None:
            before_each()
        times.append(run_once(argv, env))
    return statistics.median(times)


def peak_rss_mb(argv, env) -> float:
    """Peak RSS of one run, measured in a fresh child so earlier children do not count."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *map(str, argv)], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv))} failed: {out.stderr.strip()}")
    return int(out.stdout) / 1024


def startup_median(runs: int, cached=True) -> float:
    return median_time([PEERPATH, "--help"], environment(cached=cached), runs)


def disk_size(db) -> int:
    db = Path(db)
    folder = db.with_name(db.name + ".d")
    return db.stat().st_size + sum(f.stat().st_size for f in folder.iterdir())


def copy_database(source, target) -> None:
    source, target = Path(source), Path(target)
    for suffix in ("", ".d"):
        path = target.with_name(target.name + suffix)
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    shutil.copy2(source, target)
    shutil.copytree(source.with_name(source.name + ".d"), target.with_name(target.name + ".d"))


def ensure_dataset(size: str, path, seed: int = 1) -> Path:
    path = Path(path)
    if not path.exists():
        print(f"building the {size} dataset at {path} ...", flush=True)
        subprocess.run([sys.executable, str(BENCH / "make_dataset.py"), "--size", size, "--seed", str(seed),
                        str(path)], check=True)
    return path


def table(rows, headers) -> str:
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)
