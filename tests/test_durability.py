"""Durability with real OS processes (issue 6, "Concurrency and crashes").

- 8 processes x 50 mixed writes on one database at once: every write is there afterwards, the
  audit trail has exactly one event per write, and every file of the database is valid JSON;
- a bulk import of 3,000 peers killed with SIGKILL at 20 random moments spread over a whole run:
  each time the database opens and holds all of that import or none of it, and a later import
  works; the same import killed at chosen points inside its commit; a writer killed while it
  holds the lock does not block the next writer;
- a read-only folder, a full disk at each write of a bulk import's commit, a lock held by a stuck
  writer or reader: one clear error line (naming the holder's pid), nothing lost, and the next
  write works once the cause is gone.

Children run `sys.executable`, so they use the same Python and the same peerpath as the tests.
"""

import contextlib
import csv
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import peerpath.core.store
from peerpath import core
from peerpath.cli import cli
from peerpath.core import Tracker

from conftest import assert_refused as refused, certify_teacher, ok, snapshot

pytestmark = pytest.mark.files_only("the file store's atomic writes, flock and torn commits, with real processes")

ROOT = Path(__file__).resolve().parents[1]
TODAY = "2025-06-02"
CHILD_TIMEOUT = 120  # seconds; a child still running after this is a hung test, not a slow one


# --- helpers ------------------------------------------------------------------------------------------


@pytest.fixture
def database(tmp_path, monkeypatch) -> Path:
    """An empty, initialised database of this test; the environment points at it."""
    path = tmp_path / "affiliate.json"
    monkeypatch.setenv("PEERPATH_DB", str(path))
    monkeypatch.setenv("PEERPATH_USER", "durability")
    monkeypatch.setenv("PEERPATH_TODAY", TODAY)
    for name in ("PEERPATH_LOAD_PLUGINS", "PEERPATH_LOCK_TIMEOUT", "PEERPATH_TRACE_HOOKS"):
        monkeypatch.delenv(name, raising=False)
    ok(invoke("init", "--affiliate", "Durable County"))
    return path


def invoke(*args):
    """Run the CLI in this process (the environment set by the fixture applies)."""
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def folder_of(db: Path) -> Path:
    return db.with_name(db.name + ".d")


def strict_json(data: bytes):
    """Parse JSON as the standard defines it (no NaN or Infinity)."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(data, parse_constant=refuse)


def assert_clean_database(db: Path) -> dict:
    """Every file is valid JSON, the manifest names exactly the files there, the audit log holds
    exactly the committed events and nothing is left over; returns the manifest."""
    manifest = strict_json(db.read_bytes())
    folder = folder_of(db)
    tables = set(manifest["tables"].values())
    events = manifest["events"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(tables | {events["file"]})
    assert not db.with_name(db.name + ".tmp").exists()
    for name in tables:
        document = strict_json((folder / name).read_bytes())
        assert isinstance(document, dict) and len(document) == 1, name
    log = (folder / events["file"]).read_bytes()
    assert len(log) == events["bytes"]
    lines = log.splitlines()
    assert len(lines) == events["count"]
    for line in lines:
        assert isinstance(strict_json(line), dict)
    return manifest


def child_env(db: Path, **extra) -> dict:
    env = dict(os.environ)
    env.pop("PEERPATH_LOAD_PLUGINS", None)
    env.update(PEERPATH_DB=str(db), PEERPATH_USER="durability", PEERPATH_TODAY=TODAY)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update({key: str(value) for key, value in extra.items()})
    return env


def start(code: str, *args, env, **popen):
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env, cwd=ROOT, **popen)


@contextlib.contextmanager
def reaped(*processes):
    """Kill (by their own pid) the children started here that are still running when we leave."""
    try:
        yield
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=CHILD_TIMEOUT)


def stored(db: Path) -> dict:
    """{table: documents} of the tables these tests write, and the committed audit events."""
    with Tracker(db=db).store.read() as tx:
        found = {name: list(tx.all(name)) for name in ("peers", "step_records", "sessions")}
        found["events"] = tx.events()
    return found


def listed_peers(db: Path) -> list:
    """The peers as `peer list --json` shows them (which must exit 0)."""
    return json.loads(ok(invoke("--db", db, "peer", "list", "--json", "--contact")))


def has_import_command() -> bool:
    return "import" in cli.commands["peer"].commands


# --- 8 processes x 50 mixed writes ---------------------------------------------------------------------

# One worker: imports the CLI once, waits for the start signal, then makes its writes one after
# the other, each a whole command (its own lock, read, commit), and prints the ids it was given.
WRITER = textwrap.dedent("""
    import contextlib, io, json, os, sys, time
    from peerpath.cli import cli

    db, index, writes, go, offering = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    leaders = sys.argv[6].split(",")
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.002)
    made = {"peers": [], "step_records": [], "sessions": []}
    for i in range(writes):
        kind = ("peers", "step_records", "sessions")[(index + i) % 3]
        if kind == "peers":
            args = ["peer", "add", f"Writer {index} peer {i}", "--community", f"Town {index}"]
        elif kind == "step_records":
            args = ["record", leaders[(index + i) % len(leaders)], "connection", "application"]
        else:
            args = ["session", "add", offering, "--on", f"2025-0{1 + i % 5}-{1 + index:02d}",
                    "--attendance", str(i)]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            cli.main(["--db", db, *args], prog_name="peerpath", standalone_mode=False)
        made[kind].append(out.getvalue().split()[0].rstrip(":"))
    print(json.dumps(made), flush=True)
""")

PROCESSES = 8
WRITES = 50
LEADERS = 8


def expected_kinds(index: int) -> dict:
    kinds = [("peers", "step_records", "sessions")[(index + i) % 3] for i in range(WRITES)]
    return {kind: kinds.count(kind) for kind in ("peers", "step_records", "sessions")}


def test_eight_processes_of_fifty_mixed_writes_lose_nothing(database, tmp_path):
    db = database
    leaders = []
    for n in range(LEADERS):
        leaders.append(ok(invoke("peer", "add", f"Leader {n}", "--lived-experience", "self", "--consent", "adult=yes")).strip())
        ok(invoke("enroll", leaders[-1], "connection"))
    offering = ok(invoke("offering", "add", "connection", "Tuesday group",
                         "--leaders", ",".join(leaders[:2]))).strip()
    before = stored(db)
    go = tmp_path / "go"
    env = child_env(db, PEERPATH_LOCK_TIMEOUT=CHILD_TIMEOUT)
    workers = [start(WRITER, db, index, WRITES, go, offering, ",".join(leaders), env=env,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for index in range(PROCESSES)]
    with reaped(*workers):
        for worker in workers:  # all interpreters are up before anyone writes: they really race
            assert worker.stdout.readline() == "ready\n", worker.stderr.read()
        began = time.monotonic()
        go.touch()
        outputs = [worker.communicate(timeout=CHILD_TIMEOUT) for worker in workers]
        elapsed = time.monotonic() - began
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err
        assert "Traceback" not in err and "Error" not in err, err
    made = [json.loads(out) for out, _ in outputs]
    for index, ids in enumerate(made):
        assert {kind: len(found) for kind, found in ids.items()} == expected_kinds(index)

    after = stored(db)
    for kind in ("peers", "step_records", "sessions"):
        new_ids = [record_id for ids in made for record_id in ids[kind]]
        assert len(set(new_ids)) == len(new_ids), f"two writers were given the same {kind} id"
        stored_ids = [doc["id"] for doc in after[kind]]
        assert sorted(stored_ids) == sorted([doc["id"] for doc in before[kind]] + new_ids), kind
    # Each write is exactly what its writer asked for.
    peers = {doc["id"]: doc for doc in after["peers"]}
    for index, ids in enumerate(made):
        for record_id in ids["peers"]:
            assert peers[record_id]["name"].startswith(f"Writer {index} peer ")
            assert peers[record_id]["community"] == f"Town {index}"
    sessions = {doc["id"]: doc for doc in after["sessions"]}
    assert all(sessions[s]["offering_id"] == offering for ids in made for s in ids["sessions"])
    assert sorted(doc["attendance"] for doc in after["sessions"]) == sorted(
        i for index in range(PROCESSES) for i in range(WRITES) if (index + i) % 3 == 2)
    records = {doc["id"]: doc for doc in after["step_records"]}
    assert all(records[r]["step"] == "application" and records[r]["peer_id"] in leaders
               for ids in made for r in ids["step_records"])

    # The audit trail: one event per write, each naming its record, none lost or doubled.
    new_events = after["events"][len(before["events"]):]
    assert after["events"][:len(before["events"])] == before["events"]
    assert len(new_events) == PROCESSES * WRITES
    expected = sorted((kind, record_id) for ids in made for kind in ids for record_id in ids[kind])
    assert sorted((e["entity"], e["entity_id"]) for e in new_events) == expected
    assert {e["actor"] for e in new_events} == {"durability"}
    # The writers really ran at the same time: their writes are interleaved in the trail.
    writer_of = {record_id: index for index, ids in enumerate(made) for found in ids.values() for record_id in found}
    order = [writer_of[e["entity_id"]] for e in new_events]
    switches = sum(1 for a, b in zip(order, order[1:]) if a != b)
    assert switches > 2 * PROCESSES, f"only {switches} switches between writers: they did not overlap"

    assert_clean_database(db)
    assert len(listed_peers(db)) == LEADERS + sum(len(ids["peers"]) for ids in made)
    audit = json.loads(ok(invoke("audit", "--json")))
    assert len(audit) == len(after["events"])
    assert elapsed < 60, f"400 writes by 8 processes took {elapsed:.1f} s"


# --- a backup taken while 4 processes write -------------------------------------------------------------


def test_a_backup_taken_under_four_concurrent_writers_restores_and_verifies(database, tmp_path):
    db, writers, writes = database, 4, 30
    leaders = []
    for n in range(2):
        leaders.append(ok(invoke("peer", "add", f"Leader {n}", "--lived-experience", "self", "--consent", "adult=yes")).strip())
        ok(invoke("enroll", leaders[-1], "connection"))
    offering = ok(invoke("offering", "add", "connection", "Group", "--leaders", leaders[0])).strip()
    start_count = len(stored(db)["events"])
    go = tmp_path / "go"
    env = child_env(db, PEERPATH_LOCK_TIMEOUT=CHILD_TIMEOUT)
    workers = [start(WRITER, db, index, writes, go, offering, ",".join(leaders), env=env,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for index in range(writers)]
    backups = []
    with reaped(*workers):
        for worker in workers:
            assert worker.stdout.readline() == "ready\n", worker.stderr.read()
        go.touch()
        while any(worker.poll() is None for worker in workers):
            backups.append(tmp_path / f"backup{len(backups)}.json")
            ok(invoke("backup", backups[-1]))
        for worker in workers:
            _, err = worker.communicate(timeout=CHILD_TIMEOUT)
            assert worker.returncode == 0, err
    final = stored(db)
    assert len(final["events"]) == start_count + writers * writes
    taken_during = 0
    for backup in backups:
        assert "unbroken chain" in ok(invoke("verify", "--db", backup))
        copy = stored(backup)
        # One generation: its log is a start of the final one, and its tables hold what that log did.
        assert copy["events"] == final["events"][:len(copy["events"])]
        added = [e["entity_id"] for e in copy["events"] if e["entity"] == "peers" and e["action"] == "add"]
        assert sorted(doc["id"] for doc in copy["peers"]) == sorted(added)
        assert len(copy["sessions"]) == sum(e["entity"] == "sessions" for e in copy["events"])
        taken_during += start_count < len(copy["events"]) < len(final["events"])
    assert taken_during, "no backup was taken while the writers wrote"
    middle = next(b for b in backups if start_count < len(stored(b)["events"]) < len(final["events"]))
    restored = tmp_path / "restored.json"
    ok(invoke("restore", middle, "--db", restored))
    assert "unbroken chain" in ok(invoke("verify", "--db", restored))
    assert stored(restored)["peers"] == stored(middle)["peers"]
    assert stored(restored)["events"][:-1] == stored(middle)["events"]


# --- a bulk import killed at random moments ------------------------------------------------------------

IMPORT_ROWS = 3000
KILLS = 20

# Used only if this peerpath has no `peer import` command: the same one-transaction bulk add.
BULK_ADD = textwrap.dedent("""
    import csv, sys
    from peerpath.core import Tracker
    with open(sys.argv[2], newline="", encoding="utf-8") as handle:
        rows = [{"name": r["Full Name"], "community": r["Community"], "lived_experience": r["Lived experience"]}
                for r in csv.DictReader(handle)]
    peers = Tracker(db=sys.argv[1]).add_peers(rows)
    print(f"Imported {len(peers)} peer(s)")
""")
CLI = "from peerpath.cli import cli; cli()"


def write_sheet(path: Path, batch: str) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Full Name", "Community", "Lived experience"])
        for i in range(IMPORT_ROWS):
            writer.writerow([f"{batch} person {i}", f"Town {i % 40}", ("self", "family", "both")[i % 3]])
    return path


def start_import(db: Path, sheet: Path):
    env = child_env(db, PEERPATH_LOCK_TIMEOUT=CHILD_TIMEOUT)
    if has_import_command():
        return start(CLI, "--db", db, "peer", "import", sheet, env=env,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return start(BULK_ADD, db, sheet, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def batch_count(peers, batch: str) -> int:
    return sum(1 for peer in peers if peer["name"].startswith(f"{batch} person "))


def run_import(db: Path, sheet: Path) -> float:
    """Import `sheet` in a child to the end; how long it took, start-up to exit."""
    began = time.monotonic()
    process = start_import(db, sheet)
    with reaped(process):
        out, err = process.communicate(timeout=CHILD_TIMEOUT)
    assert process.returncode == 0, err.decode(errors="replace")
    assert f"Imported {IMPORT_ROWS} peer(s)" in out.decode(), out
    return time.monotonic() - began


def test_a_bulk_import_killed_at_random_moments_is_all_or_nothing(database, tmp_path):
    db = database
    ok(invoke("peer", "add", "Before Everything"))
    run_import(db, write_sheet(tmp_path / "first.csv", "First"))
    peers = listed_peers(db)
    assert len(peers) == 1 + IMPORT_ROWS and batch_count(peers, "First") == IMPORT_ROWS
    # How long one whole run takes, start-up to exit, measured on a copy of the database, so on
    # the size the killed runs will see (an import reads every stored peer to flag duplicates).
    scratch = tmp_path / "scratch" / db.name
    scratch.parent.mkdir()
    shutil.copy2(db, scratch)
    shutil.copytree(folder_of(db), folder_of(scratch))
    duration = run_import(scratch, write_sheet(tmp_path / "timing.csv", "Timing"))

    rng = random.Random(6)
    # One kill in each twentieth of a run, at a random moment within it: start-up, reading the
    # sheet, building the change, writing the table files, the audit log, the manifest, exiting.
    delays = [duration * (k + rng.random()) / KILLS for k in range(KILLS)]
    rng.shuffle(delays)
    outcomes = []
    for round_number, delay in enumerate(delays):
        batch = f"Round {round_number}"
        sheet = write_sheet(tmp_path / f"round{round_number}.csv", batch)
        before = stored(db)
        process = start_import(db, sheet)
        with reaped(process):
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=CHILD_TIMEOUT)
        # The database opens, and holds all of the import or none of it.
        listed = listed_peers(db)
        imported = batch_count(listed, batch)
        assert imported in (0, IMPORT_ROWS), f"kill after {delay:.3f} s left {imported} of {IMPORT_ROWS} peers"
        assert len(listed) == len(before["peers"]) + imported
        after = stored(db)
        kept = {doc["id"]: doc for doc in after["peers"]}
        assert all(kept.get(doc["id"]) == doc for doc in before["peers"])
        # The audit trail agrees: one event per imported peer, or none.
        assert after["events"][:len(before["events"])] == before["events"]
        new_events = after["events"][len(before["events"]):]
        assert len(new_events) == imported
        assert all(e["action"] == "add" and e["entity"] == "peers" for e in new_events)
        outcomes.append(f"{delay:.2f}s:{'all' if imported else 'none'}")
        # The next writer trims whatever the killed one left behind.
        new_id = ok(invoke("peer", "add", f"After round {round_number}")).strip()
        assert new_id == f"P{len(listed) + 1:04d}"
        assert_clean_database(db)

    # A later import still works, on top of everything that was kept.
    before = stored(db)
    run_import(db, write_sheet(tmp_path / "last.csv", "Last"))
    after = listed_peers(db)
    assert len(after) == len(before["peers"]) + IMPORT_ROWS and batch_count(after, "Last") == IMPORT_ROWS
    assert_clean_database(db)
    print(f"import run {duration:.2f} s; kills: {sorted(outcomes)}")


# An import that stops at a given point of its commit, so that it can be killed exactly there.
PAUSED_IMPORT = textwrap.dedent("""
    import csv, os, sys, time
    import peerpath.core.store as store

    db, sheet, point = sys.argv[1], sys.argv[2], sys.argv[3]

    def pause(*args, **kwargs):
        print("paused", flush=True)
        time.sleep(600)

    if point == "tables written":  # every new table file is on disk; the audit log is next
        store.Transaction._append_events = pause
    elif point == "audit log written":  # the events are appended; the manifest is not replaced yet
        real_replace = os.replace
        def replace(source, target, *args, **kwargs):
            if os.path.abspath(target) == os.path.abspath(db):
                pause()
            return real_replace(source, target, *args, **kwargs)
        os.replace = replace
    elif point == "manifest replaced":  # committed; the old generation's files are still there
        store.Store._remove_unreferenced = pause
    from peerpath.cli import cli
    if "import" in cli.commands["peer"].commands:
        cli.main(["--db", db, "peer", "import", sheet], standalone_mode=False)
    else:
        from peerpath.core import Tracker
        with open(sheet, newline="", encoding="utf-8") as handle:
            rows = [{"name": r["Full Name"], "community": r["Community"], "lived_experience": r["Lived experience"]}
                    for r in csv.DictReader(handle)]
        Tracker(db=db).add_peers(rows)
""")


@pytest.mark.parametrize("point, kept", [("tables written", False), ("audit log written", False),
                                         ("manifest replaced", True)])
def test_a_bulk_import_killed_inside_its_commit_is_all_or_nothing(database, tmp_path, point, kept):
    """The moments a random kill rarely hits, hit on purpose: the database holds none of the
    import until the manifest is replaced, all of it after; the next writer cleans up."""
    db = database
    ok(invoke("peer", "add", "Ana"))
    before = stored(db)
    process = start(PAUSED_IMPORT, db, write_sheet(tmp_path / "sheet.csv", "Paused"), point,
                    env=child_env(db), stdout=subprocess.PIPE, text=True)
    with reaped(process):
        assert process.stdout.readline() == "paused\n"
        manifest = json.loads(db.read_bytes())  # the child really stopped where it was meant to
        on_disk = {path.name for path in folder_of(db).iterdir()}
        unreferenced = on_disk - set(manifest["tables"].values()) - {manifest["events"]["file"]}
        log_size = (folder_of(db) / manifest["events"]["file"]).stat().st_size
        assert manifest["events"]["count"] == len(before["events"]) + (IMPORT_ROWS if kept else 0)
        assert unreferenced  # the new table files, or (once committed) the old generation's
        assert (log_size > manifest["events"]["bytes"]) == (point == "audit log written")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=CHILD_TIMEOUT)
    peers = listed_peers(db)
    assert batch_count(peers, "Paused") == (IMPORT_ROWS if kept else 0)
    assert len(peers) == 1 + (IMPORT_ROWS if kept else 0)
    events = stored(db)["events"]
    assert events[:len(before["events"])] == before["events"]
    assert len(events) == len(before["events"]) + (IMPORT_ROWS if kept else 0)
    # The next writer trims the uncommitted audit tail and removes the files nobody refers to.
    assert ok(invoke("peer", "add", "Bo")).strip() == f"P{len(peers) + 1:04d}"
    assert_clean_database(db)
    assert len(stored(db)["events"]) == len(events) + 1


# A writer that stops dead in the middle of a change, holding the exclusive lock.
STALLED_WRITER = textwrap.dedent("""
    import sys, time
    from peerpath.core import Tracker
    tracker = Tracker(db=sys.argv[1])
    with tracker.changing():
        tracker.add_peer(name="Never committed")
        print("locked", flush=True)
        time.sleep(600)
""")


def test_a_writer_killed_while_holding_the_lock_does_not_block_the_next(database, monkeypatch):
    db = database
    ok(invoke("peer", "add", "Ana"))
    process = start(STALLED_WRITER, db, env=child_env(db), stdout=subprocess.PIPE, text=True)
    with reaped(process):
        assert process.stdout.readline() == "locked\n"
        lock = db.with_name(db.name + ".lock")
        assert lock.read_text() == str(process.pid)
        monkeypatch.setenv("PEERPATH_LOCK_TIMEOUT", "0.3")
        refused(invoke("peer", "add", "Bo"), f"pid {process.pid}")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=CHILD_TIMEOUT)
    # The kernel released the flock with the process: the next writer goes straight in.
    monkeypatch.setenv("PEERPATH_LOCK_TIMEOUT", "5")
    began = time.monotonic()
    assert ok(invoke("peer", "add", "Bo")).strip() == "P0002"
    assert time.monotonic() - began < 2
    assert [p["name"] for p in listed_peers(db)] == ["Ana", "Bo"]
    assert lock.read_text() == str(os.getpid())
    assert_clean_database(db)


# --- read-only folder -------------------------------------------------------------------------------


class ReadOnlyFolders:
    """`os` as core.store sees it, with `folders` read-only the way the kernel makes them for a
    user without write permission: files there can be opened, written and truncated, but none
    can be created, renamed or removed."""

    def __init__(self, *folders):
        self.folders = {Path(folder).resolve() for folder in folders}

    def _check(self, path):
        if Path(path).resolve().parent in self.folders:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    def open(self, path, flags, mode=0o777, *args, **kwargs):
        if flags & os.O_CREAT and not os.path.exists(path):
            self._check(path)
        return os.open(path, flags, mode, *args, **kwargs)

    def replace(self, source, target, *args, **kwargs):
        self._check(source)
        self._check(target)
        return os.replace(source, target, *args, **kwargs)

    rename = replace

    def unlink(self, path, *args, **kwargs):
        self._check(path)
        return os.unlink(path, *args, **kwargs)

    remove = unlink

    def mkdir(self, path, *args, **kwargs):
        self._check(path)
        return os.mkdir(path, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(os, name)


@contextlib.contextmanager
def read_only(monkeypatch, *folders):
    """Make `folders` read-only: really (chmod 0555) for a normal user; for root, who is not
    bound by file modes, by simulating what the kernel would refuse inside core.store."""
    if os.geteuid() == 0:
        with monkeypatch.context() as patch:
            patch.setattr(core.store, "os", ReadOnlyFolders(*folders))
            yield
        return
    modes = {folder: folder.stat().st_mode & 0o777 for folder in folders}
    try:
        for folder in folders:
            folder.chmod(0o555)
        yield
    finally:
        for folder, mode in modes.items():
            folder.chmod(mode)


def test_a_database_in_a_read_only_folder_reads_refuses_writes_and_loses_nothing(database, monkeypatch, tmp_path):
    db = database
    ok(invoke("peer", "add", "Ana", "--lived-experience", "self", "--consent", "adult=yes"))
    ok(invoke("enroll", "P0001", "connection"))
    ok(invoke("record", "P0001", "connection", "application"))
    sheet = write_sheet(tmp_path / "sheet.csv", "Sheet")
    before = snapshot(db)
    audit_before = json.loads(ok(invoke("audit", "--json")))
    writes = [
        ("peer", "add", "Bo"),
        ("peer", "edit", "P0001", "--community", "Eastside"),
        ("record", "P0001", "connection", "reference", "--outcome", "passed"),
        ("offering", "add", "connection", "Group", "--leaders", "P0001"),
        ("config", "set", "recruitment.followup_days", "30"),
        ("communities", "mark", "Eastside"),
    ]
    if has_import_command():
        writes.append(("peer", "import", sheet))
    with read_only(monkeypatch, db.parent, folder_of(db)):
        # Reading still works: there is no writer to race in a folder nobody can write.
        assert [p["name"] for p in listed_peers(db)] == ["Ana"]
        assert json.loads(ok(invoke("progress", "P0001", "--json")))[0]["steps"][0]["state"] == "done"
        assert json.loads(ok(invoke("audit", "--json"))) == audit_before
        for args in writes:
            refused(invoke(*args), "permission denied", "nothing was changed")
            assert snapshot(db) == before, args
        # A new database cannot be made there either, and nothing is left behind trying.
        refused(invoke("--db", db.parent / "other.json", "init"), "permission denied")
    assert snapshot(db) == before
    assert not list(db.parent.glob("other.json*"))
    # Once the folder is writable again, every write goes through on top of the old data.
    for args in writes:
        ok(invoke(*args))
    peers = listed_peers(db)
    assert [p["name"] for p in peers[:2]] == ["Ana", "Bo"] and peers[0]["community"] == "Eastside"
    audit = json.loads(ok(invoke("audit", "--json")))
    assert audit[:len(audit_before)] == audit_before
    assert_clean_database(db)


# --- full disk ------------------------------------------------------------------------------------


class DiskFillsUp:
    """`os` as core.store sees it, except that the disk fills up during the `fail_at`-th os.write
    (1-based): half of that write reaches the file, then ENOSPC; every later write fails too."""

    def __init__(self, fail_at):
        self.fail_at = fail_at
        self.writes = 0

    def write(self, fd, data):
        self.writes += 1
        if self.writes < self.fail_at:
            return os.write(fd, data)
        if self.writes == self.fail_at and len(data) > 1:
            os.write(fd, bytes(data[:len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(os, name)


def test_a_full_disk_at_any_write_of_a_bulk_import_loses_nothing(database, monkeypatch, tmp_path):
    """Every os.write of a 3,000-peer commit (seven table chunks, the audit log, the manifest) in
    turn finds the disk full: each time one clear line and the database byte-for-byte as before;
    then, with room again, the same import goes through."""
    db = database
    for name in ("Ana", "Bo"):
        ok(invoke("peer", "add", name))
    sheet = write_sheet(tmp_path / "sheet.csv", "Sheet")

    def attempt():
        """Import the sheet; None if it went through, else the one error line."""
        if has_import_command():
            result = invoke("peer", "import", sheet)
            return None if result.exit_code == 0 else refused(result)
        rows = [{"name": f"Sheet person {i}"} for i in range(IMPORT_ROWS)]
        try:
            Tracker(db=db).add_peers(rows)
        except core.StoreError as error:
            return f"Error: {error}"
        return None

    before = snapshot(db)
    peers_before = listed_peers(db)
    failed_at = []
    for fail_at in range(1, 60):
        disk = DiskFillsUp(fail_at)
        with monkeypatch.context() as patch:
            patch.setattr(core.store, "os", disk)
            error = attempt()
        if disk.writes < fail_at:  # the commit needed fewer writes than that: it went through
            assert error is None
            break
        failed_at.append(fail_at)
        assert error == f"Error: cannot write {db}: the disk is full; nothing was changed"
        assert snapshot(db) == before, f"a full disk at write {fail_at} changed the database"
        assert listed_peers(db) == peers_before
    # The last round had room for every write: the import is there, exactly once.
    assert len(failed_at) >= 3, failed_at  # at least a table file, the audit log and the manifest
    peers = listed_peers(db)
    assert len(peers) == len(peers_before) + IMPORT_ROWS
    assert peers[:len(peers_before)] == peers_before
    assert peers[-1]["id"] == f"P{len(peers):04d}"
    assert_clean_database(db)
    ok(invoke("peer", "add", "After the disk was cleared"))
    assert_clean_database(db)


class SpaceRunsOut(DiskFillsUp):
    """DiskFillsUp counting every call that may need room on the disk (creating a file or a folder,
    writing, flushing), so that the disk can fill up at any of them, before the lock file exists
    as well as after the manifest was replaced."""

    def _needs_room(self, call, *args, **kwargs):
        self.writes += 1
        if self.writes >= self.fail_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return call(*args, **kwargs)

    def open(self, path, flags, *args, **kwargs):
        if flags & os.O_CREAT:
            return self._needs_room(os.open, path, flags, *args, **kwargs)
        return os.open(path, flags, *args, **kwargs)

    def mkdir(self, *args, **kwargs):
        return self._needs_room(os.mkdir, *args, **kwargs)

    def pwrite(self, *args, **kwargs):
        return self._needs_room(os.pwrite, *args, **kwargs)

    def fsync(self, *args, **kwargs):
        return self._needs_room(os.fsync, *args, **kwargs)


def restore(db: Path, files: dict) -> None:
    """Put the database back to a `snapshot` of it (and remove its lock file)."""
    for path in [*folder_of(db).iterdir(), *db.parent.glob(db.name + "*")]:
        if path.is_file():
            path.unlink()
    for name, data in files.items():
        (db.parent / name).write_bytes(data)


def test_sweep_is_one_commit_and_a_full_disk_at_any_point_changes_nothing(database, monkeypatch):
    """`sweep` records lapsed certifications and refreshes stored progress in one commit. The disk
    fills up at each call that needs room in turn, the first of them creating the lock file: each
    time either one clear error and the database as it was, or (once the manifest is replaced)
    the whole sweep; never "nothing was changed" about a change that was made."""
    db = database
    monkeypatch.setenv("PEERPATH_TODAY", "2026-03-01")
    ok(invoke("peer", "add", "Ana", "--lived-experience", "self", "--consent", "adult=yes"))
    certify_teacher(invoke)
    commits = []
    original = core.store.Transaction._commit
    monkeypatch.setattr(core.store.Transaction, "_commit", lambda tx: commits.append(1) or original(tx))
    before = snapshot(db)
    generation = json.loads(db.read_bytes())["generation"]

    def lapsed():
        with Tracker(db=db).store.read() as tx:
            return [doc["id"] for doc in tx.all("certifications") if doc.get("lapsed_on")]

    outcomes = []
    for fail_at in range(1, 40):
        restore(db, before)
        commits.clear()
        disk = SpaceRunsOut(fail_at)
        with monkeypatch.context() as patch:
            patch.setattr(core.store, "os", disk)
            result = invoke("--today", "2028-06-01", "sweep")
        if result.exit_code == 0:
            assert result.stdout.splitlines()[-1] == "1 certification(s) lapsed", result.stdout
            assert len(commits) == 1 and json.loads(db.read_bytes())["generation"] == generation + 1
            assert len(lapsed()) == 1
            outcomes.append("swept")
            if disk.writes < fail_at:  # the sweep needed less room than that: every point was tried
                break
            continue
        line = refused(result, "the disk is full", "nothing was changed")
        assert str(db) in line
        assert snapshot(db) == before, f"a full disk at call {fail_at} changed the database"
        assert lapsed() == []
        outcomes.append("refused")
    assert outcomes[-1] == "swept" and outcomes.count("refused") >= 5, outcomes
    assert_clean_database(db)


def test_a_full_disk_while_creating_a_database_is_one_clear_line(database, monkeypatch, tmp_path):
    """From the first folder of a new database's path to its first manifest: one clear error
    line and no database, until the manifest is in place (a full disk after that, when the
    folder is flushed, does not undo or deny the new database)."""
    db = tmp_path / "new" / "nested" / "affiliate.json"
    refusals = 0
    for fail_at in range(1, 30):
        disk = SpaceRunsOut(fail_at)
        with monkeypatch.context() as patch:
            patch.setattr(core.store, "os", disk)
            result = invoke("--db", db, "init")
        if result.exit_code == 0:
            break
        refused(result, "the disk is full", "nothing was changed")
        assert not db.exists()
        refusals += 1
    assert ok(result) == f"Created {db}\n"
    assert refusals >= 5, refusals  # the two folders, the lock, its pid, the audit log, the manifest...
    assert_clean_database(db)


# --- a lock held by a stuck process ------------------------------------------------------------------

# A process that takes the database's lock the way a writer does, writes its pid there, and hangs.
STUCK_WRITER = textwrap.dedent("""
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    print("locked", flush=True)
    time.sleep(600)
""")

# A reader that hangs while it holds the shared lock (e.g. stopped with Ctrl-Z in a long report).
STUCK_READER = textwrap.dedent("""
    import sys, time
    from peerpath.core.store import Store
    with Store(sys.argv[1]).read():
        print("locked", flush=True)
        time.sleep(600)
""")


def test_a_lock_held_by_a_stuck_process_times_out_naming_its_pid(database, monkeypatch):
    db = database
    ok(invoke("peer", "add", "Ana"))
    before = snapshot(db)
    lock = db.with_name(db.name + ".lock")
    process = start(STUCK_WRITER, lock, env=child_env(db), stdout=subprocess.PIPE, text=True)
    with reaped(process):
        assert process.stdout.readline() == "locked\n"
        monkeypatch.setenv("PEERPATH_LOCK_TIMEOUT", "1")
        for args in (("peer", "add", "Bo"), ("record", "P0001", "connection", "application"),
                     ("peer", "list"), ("audit",)):
            began = time.monotonic()
            line = refused(invoke(*args), f"pid {process.pid}", str(db))
            waited = time.monotonic() - began
            assert 1 <= waited < 10, f"{args} waited {waited:.1f} s for a 1 s timeout"
            assert "locked" in line
        assert snapshot(db) == before
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=CHILD_TIMEOUT)
    assert snapshot(db) == before
    assert ok(invoke("peer", "add", "Bo")).strip() == "P0002"
    assert [p["name"] for p in listed_peers(db)] == ["Ana", "Bo"]
    assert_clean_database(db)


def test_a_writer_blocked_by_a_stuck_reader_names_the_reader(database, monkeypatch):
    """The message must name the process that holds the lock; the lock file holds only the pid
    of the last *writer* (here this very test process), which is not who is in the way."""
    db = database
    ok(invoke("peer", "add", "Ana"))
    before = snapshot(db)
    process = start(STUCK_READER, db, env=child_env(db), stdout=subprocess.PIPE, text=True)
    with reaped(process):
        assert process.stdout.readline() == "locked\n"
        monkeypatch.setenv("PEERPATH_LOCK_TIMEOUT", "0.5")
        result = invoke("peer", "add", "Bo")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=CHILD_TIMEOUT)
    assert snapshot(db) == before
    refused(result, "locked", f"pid {process.pid}")
