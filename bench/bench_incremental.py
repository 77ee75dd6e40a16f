"""`sweep` and `config set` side by side with CLI start-up, for this checkout and, with
--before, another peerpath install (e.g. main's) measured in the same run on the same data:

    python bench/bench_incremental.py --size affiliate [--runs 5] [--before /path/to/.venv/bin/peerpath]
    python bench/bench_incremental.py --size state --db /tmp/state.json --before ...

Each run starts from the dataset (copied outside the timing): `sweep` is the first sweep of the
dataset (it records the lapses of every expired certification), `sweep, next day` a sweep the
day after one (the daily case), and each `config set` a setting of one program. Ratios divide
by the start-up (`peerpath --help`) of the same install, bytecode cached; nothing is asserted.
"""

import argparse
import subprocess
import tempfile
from pathlib import Path

from common import PEERPATH, compile_bytecode, copy_database, ensure_dataset, environment, median_time, table

DAY, NEXT_DAY = "2026-11-22", "2026-11-23"  # make_dataset's today, and the day after
CASES = [
    ("sweep", ["sweep"], DAY, False),
    ("sweep, next day", ["sweep"], NEXT_DAY, True),
    ("config set crss.exam.pass_mark 70", ["config", "set", "crss.exam.pass_mark", "70"], DAY, False),
    ("config set crss.validity_days 365", ["config", "set", "crss.validity_days", "365"], DAY, False),
    ("config set connection.training.days 4", ["config", "set", "connection.training.days", "4"], DAY, False),
]


def compile_install(peerpath: str) -> None:
    """Cache the bytecode of the install `peerpath` belongs to (its own interpreter)."""
    python = Path(peerpath).with_name("python")
    code = ("import compileall, sysconfig, pathlib, peerpath.core as c; "
            "[compileall.compile_dir(str(p), quiet=2, workers=0) for p in "
            "{pathlib.Path(c.__file__).parent.parent, pathlib.Path(sysconfig.get_paths()['purelib'])}]")
    subprocess.run([str(python), "-c", code], check=True)


def measure(peerpath: str, source: Path, swept: Path, work: Path, runs: int) -> list:
    """[(label, seconds, x start-up)] of each case for the install `peerpath`."""
    startup = median_time([peerpath, "--help"], environment(), runs)
    found = [("start-up (--help)", startup, 1.0)]
    for label, argv, today, after_a_sweep in CASES:
        origin = swept if after_a_sweep else source
        seconds = median_time([peerpath, *argv], environment(work, PEERPATH_TODAY=today), runs,
                              before_each=lambda origin=origin: copy_database(origin, work))
        found.append((label, seconds, seconds / startup))
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=["affiliate", "state", "national"], default="affiliate")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", help="a dataset made by make_dataset.py (built if missing)")
    parser.add_argument("--before", help="another install's peerpath command, measured side by side")
    args = parser.parse_args(argv)
    source = ensure_dataset(args.size, args.db or Path(tempfile.gettempdir()) / f"peerpath-bench-{args.size}.json")
    compile_bytecode()
    if args.before:
        compile_install(args.before)
    with tempfile.TemporaryDirectory(prefix="peerpath-bench-") as scratch:
        swept, work = Path(scratch) / "swept.json", Path(scratch) / "work.json"
        copy_database(source, swept)
        subprocess.run([PEERPATH, "sweep"], env=environment(swept, PEERPATH_TODAY=DAY), check=True,
                       stdout=subprocess.DEVNULL)
        after = measure(PEERPATH, source, swept, work, args.runs)
        before = measure(args.before, source, swept, work, args.runs) if args.before else None
    headers = ["command", "median", "x start-up"]
    rows = []
    for number, (label, seconds, ratio) in enumerate(after):
        row = [label, f"{seconds * 1000:.0f} ms", f"{ratio:.2f}"]
        if before:
            _, old_seconds, old_ratio = before[number]
            row = [label, f"{old_seconds * 1000:.0f} ms", f"{old_ratio:.2f}", *row[1:],
                   f"{old_seconds / seconds:.1f}"]
        rows.append(row)
    if before:
        headers = ["command", "before", "x start-up", "after", "x start-up", "before / after"]
    print(f"{args.size} dataset {source}; median of {args.runs} runs, bytecode cached")
    print(table(rows, headers))


if __name__ == "__main__":
    main()
