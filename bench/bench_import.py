"""Bulk import: `peerpath peer import` of generated sheets of 10,000 and 50,000 rows (time, peak
memory, and the ratio between the two), against the naive way: a TinyDB JSONStorage database
taking one `insert()` per row.

    python bench/bench_import.py [--rows 10000 50000] [--naive-rows 2000 10000]

The naive baseline is quadratic (every insert rewrites the whole file): it is measured at the
`--naive-rows` sizes (about 5 minutes at 10,000 rows) with peerpath beside it at the same sizes,
and the verdict compares the largest size where both were measured; beyond it the naive time is
a quadratic extrapolation, printed as an estimate.
Targets: 50,000 rows <= 6 x the 10,000-row time; >= 100 x faster than naive.
"""

import argparse
import csv
import random
import sys
import tempfile
import time
from pathlib import Path

from common import PEERPATH, Finding, environment, median_time, peak_rss_mb, run_once, table

NAIVE = """
import csv, sys
from tinydb import TinyDB
with TinyDB(sys.argv[2]) as db:
    for row in csv.DictReader(open(sys.argv[1], newline="")):
        db.insert(row)
"""


def write_sheet(path: Path, rows: int, seed: int = 1) -> Path:
    """A coordinator's sheet: the headers they use, blank cells, US dates, an extra column."""
    rng = random.Random(seed)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Full Name", "E-mail", "Phone #", "Community/Town", "Lived experience",
                         "How did you hear about us", "Partner sector", "Date added", "T-shirt size"])
        for n in range(rows):
            writer.writerow([
                f"Peer {n} {rng.choice('ABCDEFGH')}.", f"peer{n}@example.org" if rng.random() < 0.7 else "",
                f"555-{n % 10000:04d}" if rng.random() < 0.5 else "", f"Town {rng.randint(1, 80)}",
                rng.choice(["Self", "Family member", "Both", ""]), rng.choice(["Hospital", "Graduate", "Event", ""]),
                rng.choice(["Health", "Faith-based", "Education", ""]),
                f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/20{rng.randint(22, 25)}", rng.choice(["S", "M", "L"]),
            ])
    return path


def peerpath_import(sheet: Path, folder: Path, runs: int) -> tuple:
    """Median seconds of importing `sheet` into a fresh database, and the peak RSS of one import."""
    db = folder / f"import-{sheet.stem}.json"
    env = environment(db)

    def fresh():
        for leftover in folder.glob(f"{db.name}*"):
            if leftover.is_dir():
                import shutil
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        run_once([PEERPATH, "init"], env)

    argv = [PEERPATH, "peer", "import", str(sheet)]
    seconds = median_time(argv, env, runs, before_each=fresh)
    fresh()
    return seconds, peak_rss_mb(argv, env)


def naive_import(sheet: Path, folder: Path) -> float:
    target = folder / f"naive-{sheet.stem}.json"
    if target.exists():
        target.unlink()
    began = time.perf_counter()
    run_once([sys.executable, "-c", NAIVE, str(sheet), str(target)], environment())
    return time.perf_counter() - began


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs=2, default=[10_000, 50_000], metavar=("SMALL", "LARGE"))
    parser.add_argument("--naive-rows", type=int, nargs=2, default=[2_000, 10_000], metavar=("A", "B"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="peerpath-import-") as folder:
        measure(args, Path(folder))


def measure(args, folder: Path) -> list:
    """Print the import table; the growth and the speed-up over naive as Findings."""
    measured = {}
    for rows in sorted({*args.rows, *args.naive_rows}):
        sheet = write_sheet(folder / f"sheet-{rows}.csv", rows)
        measured[rows] = peerpath_import(sheet, folder, args.runs)
    naive = {rows: naive_import(folder / f"sheet-{rows}.csv", folder) for rows in args.naive_rows}
    # Quadratic fit through the two measured naive points: t = a*n + b*n^2.
    (n1, t1), (n2, t2) = sorted(naive.items())
    b = (t2 / n2 - t1 / n1) / (n2 - n1)
    a = t1 / n1 - b * n1

    def naive_at(n):
        return naive[n] if n in naive else a * n + b * n * n

    rows = []
    for n in sorted(measured):
        seconds, peak = measured[n]
        kind = "measured" if n in naive else "extrapolated"
        rows.append([f"{n:,}", f"{seconds:.2f} s", f"{seconds / n * 1e3:.3f} ms", f"{peak:.0f} MB",
                     f"{naive_at(n):.1f} s ({kind})", f"{naive_at(n) / n * 1e3:.2f} ms", f"{naive_at(n) / seconds:.0f}"])
    small, large = args.rows
    print(f"peer import, median of {args.runs} runs each (a fresh database per run); naive: one run each")
    print(table(rows, ["rows", "peerpath", "per row", "peak RSS", "naive TinyDB, insert per row", "per row",
                       "naive / peerpath"]))
    ratio = measured[large][0] / measured[small][0]
    print(f"\n{large:,} rows / {small:,} rows: {ratio:.2f} x the time (linear would be {large / small:.0f}; "
          f"target <= 6): {'PASS' if ratio <= 6 else 'MISS'}")
    both = max(naive)  # the largest size at which both sides were measured
    speedup = naive[both] / measured[both][0]
    print(f"naive / peerpath at {both:,} rows, both measured: {speedup:,.0f} x "
          f"(target >= 100): {'PASS' if speedup >= 100 else 'MISS'}")
    floor = naive[both] / both * small / measured[small][0]
    print(f"at {small:,} rows, naive taken as its measured per-row cost at {both:,} rows times {small:,} (linear, so "
          f"a lower bound of a quadratic cost): {floor:,.0f} x")
    speedup = naive_at(large) / measured[large][0]
    print(f"at {large:,} rows, naive extrapolated quadratically: {speedup:,.0f} x (an estimate, not a measurement)")
    return [Finding("bulk import", f"{large:,} rows / {small:,} rows, time", ratio, 6.0),
            Finding("bulk import", f"naive / peerpath at {both:,} rows", naive[both] / measured[both][0], 100.0,
                    at_most=False)]

if __name__ == "__main__":
    main()
