"""CLI start-up: `peerpath --help` against importing its runtime libraries in a bare Python,
with bytecode cached (compiled first, as an install leaves it) and, for comparison, uncached.

    python bench/bench_startup.py [--runs 15]

Target: <= 1.5 x the bare imports, bytecode cached.
"""

import argparse
import sys

from common import BASELINE_IMPORTS, PEERPATH, Finding, compile_bytecode, environment, median_time, table

TARGET = 1.5


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    compile_bytecode()
    measure(args.runs)


def measure(runs: int) -> list:
    """Print the start-up table; the cached ratio as a Finding."""
    rows, findings = [], []
    for cached in (True, False):
        env = environment(cached=cached)
        baseline = median_time([sys.executable, "-c", BASELINE_IMPORTS], env, runs)
        help_time = median_time([PEERPATH, "--help"], env, runs)
        ratio = help_time / baseline
        verdict = ("PASS" if ratio <= TARGET else "MISS") if cached else "(reported)"
        label = "cached" if cached else "uncached"
        rows += [[f"python -c '{BASELINE_IMPORTS}' ({label}, baseline)", f"{baseline * 1000:.0f} ms", "1.00", ""],
                 [f"peerpath --help ({label})", f"{help_time * 1000:.0f} ms", f"{ratio:.2f}", verdict]]
        if cached:
            findings.append(Finding("start-up, bytecode cached", "peerpath --help", ratio, TARGET))
    print(f"CLI start-up, median of {runs} runs; target <= {TARGET} x the bare imports, bytecode cached")
    print(table(rows, ["command", "median", "x baseline", "target"]))
    return findings

if __name__ == "__main__":
    main()
