"""Issue 14's table of targets in one run: every bench script at the sizes the table names, each
printing its own figures, then one summary line per row of the table, pass or miss, with the worst
command named.

    python bench/targets.py [--runs 5] [--scale 1.0] [--skip-national]

Datasets are built on first use in the temporary directory, as the other scripts do (`--scale`
below 1 builds smaller ones under other names, for a quick look; RESULTS.md is made at 1.0).
`--skip-national` leaves out the two rows that need the national dataset (1 GB, minutes to
build), and says so in the summary. Run it with nothing else busy: the machine has 2 cores.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import bench_commands
import bench_import
import bench_memory
import bench_one_peer
import bench_startup
import sqlite_yardstick
from common import BENCH, compile_bytecode, copy_database, table

# The rows of issue 14's table, in its order.
ROWS = ["start-up, bytecode cached", "every command at affiliate size", "every command at state size",
        "one-peer commands, large / small database", "within the sqlite3 yardstick at affiliate size",
        "within the sqlite3 yardstick at state size", "memory, national sweep", "bulk import"]
NEEDS_NATIONAL = {"one-peer commands, large / small database", "memory, national sweep"}


def dataset(size: str, scale: float) -> Path:
    name = f"peerpath-bench-{size}.json" if scale == 1 else f"peerpath-bench-{size}-x{scale:g}.json"
    path = Path(tempfile.gettempdir()) / name
    if not path.exists():
        print(f"building the {size} dataset (scale {scale:g}) at {path} ...", flush=True)
        subprocess.run([sys.executable, str(BENCH / "make_dataset.py"), "--size", size, "--seed", "1",
                        "--scale", str(scale), str(path)], check=True)
    return path


def section(title: str, scratch: Path) -> Path:
    """Print the section's heading; a scratch folder of its own."""
    print(f"\n## {title}\n", flush=True)
    folder = scratch / title.replace(" ", "-")
    folder.mkdir()
    return folder


def measure_all(args, scratch: Path) -> list:
    findings = []
    section("start-up", scratch)
    findings += bench_startup.measure(max(args.runs, 9))
    for size in ("affiliate", "state"):
        folder = section(f"commands at {size} size", scratch)
        findings += bench_commands.measure(argparse.Namespace(size=size, runs=args.runs), dataset(size, args.scale),
                                           folder)
        folder = section(f"sqlite3 yardstick at {size} size", scratch)
        findings += sqlite_yardstick.compare(argparse.Namespace(size=size, runs=args.runs), dataset(size, args.scale),
                                             folder)
    if not args.skip_national:
        national = dataset("national", args.scale)
        folder = section("one-peer commands, affiliate vs national", scratch)
        small, large = folder / "small.json", folder / "large.json"
        copy_database(dataset("affiliate", args.scale), small)
        copy_database(national, large)  # `record` writes to what it is given
        findings += bench_one_peer.measure(small, large, args.runs)
        shutil.rmtree(folder)
        findings += bench_memory.measure("national", national, section("memory at national size", scratch))
    folder = section("bulk import", scratch)
    findings += bench_import.measure(argparse.Namespace(rows=[10_000, 50_000], naive_rows=[2_000, 10_000], runs=3),
                                     folder)
    return findings


def margin_used(finding) -> float:
    """How much of its target a finding uses (above 1: missed)."""
    if finding.limit is None:
        return 0.0
    return finding.ratio / finding.limit if finding.at_most else finding.limit / finding.ratio


def measured(findings) -> str:
    """The range of a row's ratios, or each one when the row mixes kinds of target."""
    if len({(f.limit, f.at_most) for f in findings}) > 1:
        return "; ".join(f"{f.ratio:.2f} x" for f in findings)
    low, high = min(f.ratio for f in findings), max(f.ratio for f in findings)
    return f"{low:.2f} - {high:.2f} x" if len(findings) > 1 else f"{low:.2f} x"


def summary(findings: list, skipped_national: bool) -> list:
    """[row, measured range, worst, verdict] for each row of the table."""
    lines = []
    for row in ROWS:
        found = [finding for finding in findings if finding.row == row]
        if not found:
            lines.append([row, "not measured", "", "(--skip-national)" if row in NEEDS_NATIONAL and skipped_national
                          else "NOT MEASURED"])
            continue
        worst = max(found, key=margin_used)
        limit = "none" if worst.limit is None else f"{'<=' if worst.at_most else '>='} {worst.limit:g}"
        verdict = "pass" if all(f.holds for f in found) else "MISS"
        lines.append([row, measured(found), f"{worst.what} ({worst.ratio:.2f} x, target {limit})", verdict])
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--skip-national", action="store_true")
    args = parser.parse_args(argv)
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="peerpath-targets-") as scratch:
        findings = measure_all(args, Path(scratch))
    print("\n## summary against issue 14's targets\n")
    print(table(summary(findings, args.skip_national), ["target", "measured", "worst", "verdict"]))


if __name__ == "__main__":
    main()
