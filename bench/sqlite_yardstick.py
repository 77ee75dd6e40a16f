"""A stdlib sqlite3 yardstick: the same commands on the same generated data, one process per
command, stored the way a careful SQLite design would store them (typed columns, indexes, WAL, one
summary row per enrolment kept in the same transaction as the change), timed side by side with
peerpath's own commands in the same run. Before timing, each read command's answer is checked
equal to peerpath's on the same data, so the yardstick cannot win by answering less.

    python bench/sqlite_yardstick.py --size affiliate [--runs 7] [--db PATH]

Target (issue 14): peerpath within 2 x the yardstick at affiliate size, 3 x at state size.

The yardstick does not re-implement the pathway engine: `record` stores the step record, adds
its hours to the enrolment's summary row and writes the audit event in one transaction;
statuses come from peerpath's own answer for the dataset. It is a floor for the storage and
process costs of each command, which is what the ratio is meant to show.
"""

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from common import (PEERPATH, Finding, compile_bytecode, copy_database, ensure_dataset, environment, median_time,
                    table)

TARGETS = {"affiliate": 2.0, "state": 3.0, "national": None}
TODAY = "2026-11-22"  # common.environment's PEERPATH_TODAY

SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE peers (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT, phone TEXT, community TEXT,
                    lived_experience TEXT, source TEXT, sector TEXT, stage TEXT NOT NULL);
CREATE INDEX peers_by_stage ON peers (stage);
CREATE TABLE enrollments (id TEXT PRIMARY KEY, peer_id TEXT NOT NULL REFERENCES peers, program TEXT NOT NULL,
                          role TEXT NOT NULL, pathway TEXT NOT NULL, started DATE);
CREATE INDEX enrollments_by_peer ON enrollments (peer_id);
CREATE TABLE step_records (id TEXT PRIMARY KEY, enrollment_id TEXT NOT NULL REFERENCES enrollments,
                           peer_id TEXT NOT NULL, step TEXT NOT NULL, on_day DATE NOT NULL, hours REAL,
                           domain TEXT, score REAL, outcome TEXT, void_reason TEXT);
CREATE INDEX records_by_enrollment ON step_records (enrollment_id);
CREATE TABLE certifications (id TEXT PRIMARY KEY, enrollment_id TEXT NOT NULL REFERENCES enrollments,
                             peer_id TEXT NOT NULL, granted DATE NOT NULL, expires DATE, lapsed_on DATE);
CREATE INDEX certifications_by_expiry ON certifications (expires);
CREATE TABLE summaries (enrollment_id TEXT PRIMARY KEY REFERENCES enrollments, peer_id TEXT NOT NULL,
                        name TEXT NOT NULL, program TEXT NOT NULL, status TEXT NOT NULL, expires DATE,
                        hours REAL NOT NULL DEFAULT 0);
CREATE INDEX summaries_by_peer ON summaries (peer_id);
CREATE TABLE events (id INTEGER PRIMARY KEY, actor TEXT NOT NULL, action TEXT NOT NULL, entity TEXT NOT NULL,
                     details TEXT NOT NULL);
CREATE TABLE counters (prefix TEXT PRIMARY KEY, last INTEGER NOT NULL);
"""


# --- building the yardstick's database from a peerpath dataset -----------------------------------


def _rows(source: Path, table_name: str) -> list:
    folder = source.with_name(source.name + ".d")
    manifest = json.loads(source.read_bytes())
    rows = []
    for name, filename in manifest["tables"].items():
        if name.split("~")[0] == table_name:
            rows += json.loads((folder / filename).read_bytes())[name].values()
    return rows


def build(source: Path, target: Path) -> None:
    """The dataset at `source` in a new SQLite database `target`, statuses from peerpath's answer."""
    statuses = {s["enrollment"]: s for s in peerpath_json(source, "leaders")}
    peers = _rows(source, "peers")
    with sqlite3.connect(target) as db:
        db.executescript(SCHEMA)
        db.executemany("INSERT INTO peers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [(p["id"], p["name"], p["email"], p["phone"], p["community"], p["lived_experience"],
                         p["source"], p["sector"], p["stage"]) for p in peers])
        db.executemany("INSERT INTO enrollments VALUES (?, ?, ?, ?, ?, ?)",
                       [(e["id"], e["peer_id"], e["program"], e["role"], e["pathway"], e["started"])
                        for e in _rows(source, "enrollments")])
        db.executemany("INSERT INTO step_records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [(r["id"], r["enrollment_id"], r["peer_id"], r["step"], r["on"], r["hours"], r["domain"],
                         r["score"], r["outcome"], r["void_reason"]) for r in _rows(source, "step_records")])
        db.executemany("INSERT INTO certifications VALUES (?, ?, ?, ?, ?, ?)",
                       [(c["id"], c["enrollment_id"], c["peer_id"], c["granted"], c["expires"], c["lapsed_on"])
                        for c in _rows(source, "certifications")])
        db.executemany("INSERT INTO summaries (enrollment_id, peer_id, name, program, status, expires) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       [(key, s["peer"], s["name"], s["program"], s["status"], s["expires"])
                        for key, s in statuses.items()])
        db.executemany("INSERT INTO counters VALUES (?, ?)",
                       [(prefix, max((int(r["id"][1:]) for r in _rows(source, name)), default=0))
                        for prefix, name in (("P", "peers"), ("R", "step_records"))])


# --- the yardstick's commands (run as `sqlite_yardstick.py run DB COMMAND ARGS...`) ----------------


def _next_id(db, prefix: str) -> str:
    (last,) = db.execute("UPDATE counters SET last = last + 1 WHERE prefix = ? RETURNING last", (prefix,)).fetchone()
    return f"{prefix}{last:04d}"


def _audit(db, action: str, entity: str, details: dict) -> None:
    db.execute("INSERT INTO events (actor, action, entity, details) VALUES ('bench', ?, ?, ?)",
               (action, entity, json.dumps(details)))


def peer_add(db, name, community):
    with db:
        peer_id = _next_id(db, "P")
        db.execute("INSERT INTO peers (id, name, community, stage) VALUES (?, ?, ?, 'prospect')",
                   (peer_id, name, community))
        _audit(db, "add", peer_id, {"name": name})
    print(peer_id)


def record(db, peer_id, program, step, hours, domain, on):
    with db:
        (enrollment_id,) = db.execute("SELECT id FROM enrollments WHERE peer_id = ? AND program = ?",
                                      (peer_id, program)).fetchone()
        record_id = _next_id(db, "R")
        db.execute("INSERT INTO step_records (id, enrollment_id, peer_id, step, on_day, hours, domain) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)", (record_id, enrollment_id, peer_id, step, on, float(hours), domain))
        db.execute("UPDATE summaries SET hours = hours + ? WHERE enrollment_id = ?", (float(hours), enrollment_id))
        _audit(db, "record", record_id, {"step": step, "hours": float(hours)})
    print(f"{record_id}: recorded {step} for {peer_id} on {on}")


def progress(db, peer_id):
    for enrollment_id, program, status in db.execute(
            "SELECT enrollment_id, program, status FROM summaries WHERE peer_id = ? ORDER BY enrollment_id", (peer_id,)):
        print(f"{peer_id} {program}: {status}")
        for step, count, hours in db.execute(
                "SELECT step, count(*), sum(hours) FROM step_records WHERE enrollment_id = ? AND void_reason IS NULL "
                "GROUP BY step ORDER BY step", (enrollment_id,)):
            print(f"  {step:<22} {count} record(s), {hours or 0:g} h")


def leaders(db):
    rows = db.execute("SELECT peer_id, name, program, status, expires FROM summaries ORDER BY peer_id, enrollment_id")
    print("\n".join(f"{p}  {n}  {prog}  {s}  {e or ''}" for p, n, prog, s, e in rows))


def peer_list_stage(db, stage):
    rows = db.execute("SELECT id, name, community FROM peers WHERE stage = ? ORDER BY length(id), id", (stage,))
    print("\n".join(f"{i}  {n}  {c or ''}" for i, n, c in rows))


def funnel(db):
    for stage, count in db.execute("SELECT stage, count(*) FROM peers GROUP BY stage ORDER BY stage"):
        print(f"{stage}: {count}")


def sweep(db, today):
    with db:
        lapsed = db.execute("UPDATE certifications SET lapsed_on = ? WHERE expires < ? AND lapsed_on IS NULL "
                            "RETURNING enrollment_id", (today, today)).fetchall()
        db.executemany("UPDATE summaries SET status = 'lapsed' WHERE enrollment_id = ?", lapsed)
        for (enrollment_id,) in lapsed:
            _audit(db, "lapse", enrollment_id, {"on": today})
    print(f"{len(lapsed)} certification(s) lapsed")


COMMANDS = {"peer-add": peer_add, "record": record, "progress": progress, "leaders": leaders,
            "peer-list-stage": peer_list_stage, "funnel": funnel, "sweep": sweep}


# --- the same commands side by side -------------------------------------------------------------

# label: (peerpath's argv, the yardstick's argv); {leader} is an enrolled CRSS leader.
PAIRS = {
    "peer add": (["peer", "add", "Bench Peer", "--community", "Community 1"], ["peer-add", "Bench Peer", "Community 1"]),
    "record": (["record", "{leader}", "crss", "education", "--hours", "2", "--domain", "Advocacy", "--on", "2026-11-20"],
               ["record", "{leader}", "crss", "education", "2", "Advocacy", "2026-11-20"]),
    "progress": (["progress", "{leader}"], ["progress", "{leader}"]),
    "leaders": (["leaders"], ["leaders"]),
    "peer list --stage": (["peer", "list", "--stage", "screened"], ["peer-list-stage", "screened"]),
    "report funnel": (["report", "funnel"], ["funnel"]),
    "sweep": (["sweep"], ["sweep", TODAY]),
}


def peerpath_json(db: Path, *args):
    out = subprocess.run([PEERPATH, *args, "--json"], env=environment(db), capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def yardstick_lines(sqlite_db: Path, *args) -> list:
    out = subprocess.run([sys.executable, __file__, "run", str(sqlite_db), *args], capture_output=True, text=True,
                         check=True)
    return out.stdout.splitlines()


def check_answers(db: Path, sqlite_db: Path) -> None:
    """Refuse to time a yardstick whose read commands answer differently from peerpath."""
    ours = sorted((s["peer"], s["program"], s["status"]) for s in peerpath_json(db, "leaders"))
    theirs = sorted(tuple(line.split("  ")[i] for i in (0, 2, 3)) for line in yardstick_lines(sqlite_db, "leaders"))
    assert ours == theirs, "leaders differ"
    ours = [p["id"] for p in peerpath_json(db, "peer", "list", "--stage", "screened")]
    theirs = [line.split("  ")[0] for line in yardstick_lines(sqlite_db, "peer-list-stage", "screened")]
    assert ours == theirs, "peer list --stage differs"
    stages = dict(line.split(": ") for line in yardstick_lines(sqlite_db, "funnel"))
    peers = sum(int(count) for count in stages.values())
    assert peers == peerpath_json(db, "report", "funnel")["figures"]["peers"], "the funnel's peers differ"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        with sqlite3.connect(argv[1]) as db:
            COMMANDS[argv[2]](db, *argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(TARGETS), default="affiliate")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--db", help="a dataset made by make_dataset.py (built if missing)")
    args = parser.parse_args(argv)
    source = ensure_dataset(args.size, args.db or Path(tempfile.gettempdir()) / f"peerpath-bench-{args.size}.json")
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="peerpath-yardstick-") as scratch:
        compare(args, source, Path(scratch))


def compare(args, source: Path, scratch: Path) -> list:
    """Print the side-by-side table; each command's peerpath / sqlite3 ratio as a Finding."""
    work, sqlite_db = scratch / "work.json", scratch / "yardstick.sqlite"
    copy_database(source, work)
    build(source, sqlite_db)
    check_answers(work, sqlite_db)
    leader = next(s["peer"] for s in peerpath_json(work, "leaders", "--program", "crss"))
    target = TARGETS[args.size]
    rows, findings = [], []
    for label, (ours, theirs) in PAIRS.items():
        ours_time = median_time([PEERPATH, *(a.format(leader=leader) for a in ours)], environment(work), args.runs)
        theirs_time = median_time([sys.executable, __file__, "run", str(sqlite_db),
                                   *(a.format(leader=leader) for a in theirs)], environment(), args.runs)
        ratio = ours_time / theirs_time
        findings.append(Finding(f"within the sqlite3 yardstick at {args.size} size", label, ratio, target))
        verdict = "" if target is None else ("PASS" if ratio <= target else "MISS")
        rows.append([label, f"{ours_time * 1000:.0f} ms", f"{theirs_time * 1000:.0f} ms", f"{ratio:.2f}", verdict])
    print(f"{args.size} dataset; median of {args.runs} runs, one process per command, bytecode cached; "
          f"target: peerpath <= {target} x the sqlite3 yardstick")
    print(table(rows, ["command", "peerpath", "sqlite3", "peerpath / sqlite3", "target"]))
    worst = max(rows, key=lambda row: float(row[3]))
    print(f"worst: {worst[0]} at {worst[3]} x the yardstick")
    return findings


if __name__ == "__main__":
    main()
