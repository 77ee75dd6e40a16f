"""One-peer commands (progress, record, peer show) at two sizes, median wall time, bytecode
cached as the bench compiles it: the target is national (or state) time <= 1.5 x affiliate time.

    python bench/bench_one_peer.py SMALL_DB LARGE_DB [--runs 5]

In each database, `progress` and `peer show` ask about the leader of its first session, `record`
adds education hours for its first CRSS leader. The databases are written to by `record` (a copy
is wise). Issue 14, point 5.
"""

import argparse
import json
import statistics
import subprocess
import time

from common import PEERPATH, Finding, compile_bytecode, environment


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
    args = parser.parse_args(argv)
    compile_bytecode()
    measure(args.small, args.large, args.runs)


def leaders_in(db) -> dict:
    """{"leader": the first session's leader, "crss": the first CRSS leader} of `db`."""
    from peerpath.core import Tracker

    crss = json.loads(subprocess.run([PEERPATH, "--db", db, "leaders", "--program", "crss", "--json"],
                                     env=environment(), capture_output=True, text=True, check=True).stdout)
    with Tracker(db).store.read() as transaction:
        first_session = min(transaction.all("sessions"), key=lambda session: session["id"])
    return {"leader": first_session["leaders"][0], "crss": crss[0]["peer"]}


COMMANDS = {"progress": ["progress", "{leader}"],
            "record": ["record", "{crss}", "crss", "education", "--hours", "2", "--domain", "Advocacy",
                       "--on", "2026-11-20"],
            "peer show": ["peer", "show", "{leader}"]}


def measure(small_db, large_db, runs) -> list:
    """Print each command's times at both sizes; each large / small ratio as a Finding."""
    who = {db: leaders_in(db) for db in (small_db, large_db)}
    findings = []
    for name, template in COMMANDS.items():
        small, large = (median_ms(db, [part.format(**who[db]) for part in template], runs)
                        for db in (small_db, large_db))
        findings.append(Finding("one-peer commands, large / small database", name, large / small, 1.5))
        print(f"{name:10} small {small:6.0f} ms  large {large:6.0f} ms  large/small {large / small:.2f}  "
              f"{'PASS' if large / small <= 1.5 else 'MISS'} (<= 1.5)", flush=True)
    return findings

if __name__ == "__main__":
    main()
