"""CLI start-up: `peerpath --help` against importing its four libraries in a bare Python.

    python bench/bench_startup.py [--runs 15]
"""

import argparse
import sys

from common import PEERPATH, environment, median_time, table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    env = environment()
    baseline = median_time([sys.executable, "-c", "import click, pluggy, attrs, tinydb"], env, args.runs)
    bare = median_time([sys.executable, "-c", "pass"], env, args.runs)
    help_time = median_time([PEERPATH, "--help"], env, args.runs)
    print(f"CLI start-up, median of {args.runs} runs")
    print(table([
        ["python -c pass", f"{bare * 1000:.0f} ms", f"{bare / baseline:.2f}"],
        ["python -c 'import click, pluggy, attrs, tinydb' (baseline)", f"{baseline * 1000:.0f} ms", "1.00"],
        ["peerpath --help", f"{help_time * 1000:.0f} ms", f"{help_time / baseline:.2f}"],
    ], ["command", "median", "x baseline"]))


if __name__ == "__main__":
    main()
