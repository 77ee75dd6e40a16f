"""One-peer commands (progress, record, peer show) at two sizes, median wall time, bytecode
cached as the bench compiles it: the target is national (or state) time <= 1.5 x affiliate time.

    python bench/bench_one_peer.py SMALL_DB LARGE_DB [--runs 5] [--crss-small P0003 --crss-large P0017]
      [--leader P0022]

The databases are written to by `record` (a copy is wise). Issue 14, point 5.
"""

import argparse
import statistics
import subprocess
import time

from common import PEERPATH, compile_bytecode, environment


def median_ms(db, args, runs):
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        result = subprocess.run([PEERPATH, "--db", db, *args], env=environment(), capture_output=True, text=True)
        times.append(time.perf_counter() - began)
        if result.returncode:
            raise SystemExit(f"{' '.join(args)} failed: {result.stderr.strip()}")
    return statistics.median(times) * 1000


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("small")
    parser.add_argument("large")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--leader", default="P0022", help="a leader of sessions in both databases")
    parser.add_argument("--crss-small", default="P0003")
    parser.add_argument("--crss-large", default="P0017")
    args = parser.parse_args(argv)
    compile_bytecode()
    commands = {"progress": lambda crss: ["progress", args.leader],
                "record": lambda crss: ["record", crss, "crss", "education", "--hours", "2", "--domain",
                                        "Advocacy", "--on", "2026-11-20"],
                "peer show": lambda crss: ["peer", "show", args.leader]}
    for name, make in commands.items():
        small = median_ms(args.small, make(args.crss_small), args.runs)
        large = median_ms(args.large, make(args.crss_large), args.runs)
        print(f"{name:10} small {small:6.0f} ms  large {large:6.0f} ms  large/small {large / small:.2f}  "
              f"{'PASS' if large / small <= 1.5 else 'MISS'} (<= 1.5)", flush=True)


if __name__ == "__main__":
    main()
