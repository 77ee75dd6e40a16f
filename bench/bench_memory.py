"""Memory at scale: peak RSS of the heaviest read commands, and of `sweep` (on a copy), against
the database's size on disk.

    python bench/bench_memory.py --size state [--db PATH]

Targets: the reads' peak RSS <= 10 x the database files (manifest + `<db>.d/`) at state size;
`sweep` <= 1.5 x them at national size (issue 14).
"""

import argparse
import tempfile
from pathlib import Path

from common import PEERPATH, Finding, copy_database, disk_size, ensure_dataset, environment, peak_rss_mb, table

COMMANDS = [["--help"], ["leaders"], ["report", "funnel"], ["peer", "list"], ["report", "rollup"],
            ["fidelity", "report"]]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=["affiliate", "state", "national"], default="state")
    parser.add_argument("--db", help="a dataset made by make_dataset.py (built if missing)")
    args = parser.parse_args(argv)
    db = ensure_dataset(args.size, args.db or Path(tempfile.gettempdir()) / f"peerpath-bench-{args.size}.json")
    with tempfile.TemporaryDirectory(prefix="peerpath-memory-") as scratch:
        measure(args.size, db, Path(scratch))


def measure(size: str, db: Path, scratch: Path) -> list:
    """Print each command's peak RSS; the reads' (state) and sweep's (national) ratios as Findings."""
    size_mb = disk_size(db) / 1e6
    env = environment(db)
    rows, findings = [], []
    for command in COMMANDS:
        peak = peak_rss_mb([PEERPATH, *command], env)
        rows.append([f"peerpath {' '.join(command)}", f"{peak:.0f} MB", f"{peak / size_mb:.2f}",
                     "PASS" if peak <= 10 * size_mb else "MISS"])
        findings.append(Finding(f"memory of reads at {size} size", " ".join(command), peak / size_mb,
                                10.0 if size == "state" else None))
    work = scratch / "sweep.json"
    copy_database(db, work)
    peak = peak_rss_mb([PEERPATH, "sweep"], environment(work))
    limit = 1.5 if size == "national" else None
    rows.append(["peerpath sweep (a copy)", f"{peak:.0f} MB", f"{peak / size_mb:.2f}",
                 "" if limit is None else ("PASS" if peak <= limit * size_mb else "MISS")])
    findings.append(Finding(f"memory, {size} sweep", "sweep", peak / size_mb, limit))
    print(f"{size} dataset: {size_mb:.1f} MB on disk; targets: reads' peak RSS <= 10 x that at state size, "
          f"sweep's <= 1.5 x at national size")
    print(table(rows, ["command", "peak RSS", "x database size", "target"]))
    return findings

if __name__ == "__main__":
    main()
