"""Memory at scale: peak RSS of the heaviest read commands against the database's size on disk.

    python bench/bench_memory.py --size state [--db PATH]

Target at state size: peak RSS <= 10 x the database files (manifest + `<db>.d/`).
"""

import argparse
import tempfile
from pathlib import Path

from common import PEERPATH, disk_size, ensure_dataset, environment, peak_rss_mb, table

COMMANDS = [["--help"], ["leaders"], ["report", "funnel"], ["peer", "list"], ["report", "rollup"],
            ["fidelity", "report"]]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=["affiliate", "state", "national"], default="state")
    parser.add_argument("--db", help="a dataset made by make_dataset.py (built if missing)")
    args = parser.parse_args(argv)
    db = ensure_dataset(args.size, args.db or Path(tempfile.gettempdir()) / f"peerpath-bench-{args.size}.json")
    size_mb = disk_size(db) / 1e6
    env = environment(db)
    rows = []
    for command in COMMANDS:
        peak = peak_rss_mb([PEERPATH, *command], env)
        rows.append([f"peerpath {' '.join(command)}", f"{peak:.0f} MB", f"{peak / size_mb:.2f}",
                     "PASS" if peak <= 10 * size_mb else "MISS"])
    print(f"{args.size} dataset: {size_mb:.1f} MB on disk; target: peak RSS <= 10 x that")
    print(table(rows, ["command", "peak RSS", "x database size", "target"]))


if __name__ == "__main__":
    main()
