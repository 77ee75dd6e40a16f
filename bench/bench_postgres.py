"""The PostgreSQL backend beside the file store (issue 15, point 7): `db copy` of a dataset into
PostgreSQL and its rate, the same commands on both (median wall time, bytecode cached), and 8
concurrent writers on PostgreSQL (throughput, errors).

    python bench/bench_postgres.py [--size affiliate|state|national] [--runs 5] [--url URL]

Without --url it starts the tests' throwaway cluster (tests/postgres.py: initdb/pg_ctl on
127.0.0.1, fsync off, so writes are faster than on a real server) and copies the dataset into a
new database of it. The file store's commands run on a copy of the dataset (the writes among
them would change it). Targets of issue 15: one-peer commands on PostgreSQL within 1.5 x
start-up, reports within 3 x. For scale, `import psycopg` alone is measured against start-up
too: every command on PostgreSQL pays it.
"""

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_commands import a_leader
from common import BENCH, PEERPATH, compile_bytecode, copy_database, ensure_dataset, environment, table

# (command, target: PostgreSQL time / start-up): one-peer commands 1.5, the rest 3.
COMMANDS = ((("progress", "{leader}"), 1.5), (("peer", "show", "{leader}"), 1.5),
            (("record", "{leader}", "crss", "education", "--hours", "2", "--domain", "Advocacy", "--on", "2026-11-20"),
             1.5),
            (("peer", "add", "Bench Peer", "--community", "Community 1"), 1.5),
            (("leaders", "--json"), 3.0), (("peer", "list", "--stage", "accepted"), 3.0), (("report", "funnel"), 3.0),
            (("report", "rollup"), 3.0))
WRITERS, WRITES = 8, 10


def medians_ms(commands, runs) -> list:
    """The median wall ms of each command (an argv); in each of `runs` rounds every command runs
    once, in turn, so that the load of a busy machine weighs on all of them alike."""
    times: list = [[] for _ in commands]
    for _ in range(runs):
        for argv, found in zip(commands, times):
            began = time.perf_counter()
            result = subprocess.run(argv, env=environment(), capture_output=True, text=True)
            found.append(time.perf_counter() - began)
            if result.returncode:
                raise SystemExit(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    return [statistics.median(found) * 1000 for found in times]


def writers(url) -> tuple:
    """(seconds, errors) of WRITERS processes each adding WRITES peers at once."""
    def script(writer):
        return "; ".join(f"{PEERPATH} peer add 'Writer {writer} {n}' >/dev/null" for n in range(WRITES))

    began = time.perf_counter()
    children = [subprocess.Popen(["bash", "-c", script(writer)], env=environment(url), stderr=subprocess.PIPE,
                                 text=True) for writer in range(WRITERS)]
    errors = sum(bool(child.communicate()[1].strip()) or child.returncode != 0 for child in children)
    return time.perf_counter() - began, errors


def copy_in(files, url, size) -> None:
    """`db copy` of the dataset into the database at `url`: its rate and peak memory."""
    began = time.perf_counter()
    copied = subprocess.run([PEERPATH, "db", "copy", str(files), url], env=environment(), check=True,
                            capture_output=True, text=True).stdout
    seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far: the copy
    rows = int(copied.split(" row(s)")[0].rsplit(" ", 1)[1])
    events = int(copied.split(" audit event(s)")[0].rsplit(" ", 1)[1])
    print(f"db copy of the {size} dataset: {rows:,} rows and {events:,} audit events in {seconds:.1f} s "
          f"({rows / seconds:,.0f} rows/s, {(rows + events) / seconds:,.0f} rows and events/s); peak RSS {peak_mb:,.0f} MB",
          flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="affiliate", choices=("affiliate", "state", "national"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", help="an empty PostgreSQL database (default: a throwaway cluster's)")
    options = parser.parse_args()
    compile_bytecode()
    dataset = ensure_dataset(options.size, Path(tempfile.gettempdir()) / f"peerpath-bench-{options.size}.json")
    cluster = None
    if options.url is None:
        sys.path.insert(0, str(BENCH.parent / "tests"))
        from postgres import Cluster

        cluster = Cluster().start()
    try:
        with tempfile.TemporaryDirectory(prefix="peerpath-bench-") as scratch:
            files = Path(scratch) / "work.json"
            copy_database(dataset, files)
            url = options.url or cluster.new_database()
            copy_in(files, url, options.size)
            values = a_leader(files)
            found = []
            for args, limit in COMMANDS:
                args = [part.format(**values) for part in args]
                startup, on_files, on_postgres = medians_ms(
                    [[PEERPATH, "--help"], [PEERPATH, "--db", str(files), *args], [PEERPATH, "--db", url, *args]],
                    options.runs)
                ratio = on_postgres / startup
                found.append([" ".join(args[:3]), f"{startup:.0f}", f"{on_files:.0f}", f"{on_postgres:.0f}",
                              f"{on_postgres / on_files:.2f}", f"{ratio:.2f}", f"<= {limit}",
                              "PASS" if ratio <= limit else "MISS"])
            python, psycopg = medians_ms([[sys.executable, "-c", "pass"], [sys.executable, "-c", "import psycopg"]],
                                         options.runs)
            print(f"median of {options.runs} rounds, each running start-up (peerpath --help), the command on files "
                  f"and on PostgreSQL in turn; python -c 'import psycopg' {psycopg:.0f} ms, python -c pass {python:.0f} ms")
            print(table(found, ["command", "start-up ms", "files ms", "postgres ms", "pg / files", "pg / start-up",
                                "target", ""]))
            seconds, errors = writers(url)
            print(f"{WRITERS} concurrent writers x {WRITES} peer add: {WRITERS * WRITES / seconds:.1f} writes/s, "
                  f"{errors} error(s)")
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
