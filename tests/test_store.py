"""The store on real files: atomic commits, private files, refusing damaged files, migrations,
one write per bulk operation, crash leftovers, locking, read-only folders and a full disk."""

import errno
import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

import peerpath.core.store
from peerpath import core
from peerpath.core import Peer, StoreError, Tracker
from peerpath.core.store import SHARDS, Store, Transaction

from conftest import assert_refused, manifest, ok, snapshot

pytestmark = pytest.mark.files_only("the file store itself: its manifest, chunk files, locks and migrations")

# The child of the read-only tests: a peerpath that, even when run as root, obeys file modes
# (root's CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER are dropped first).
UNPRIVILEGED_CLI = textwrap.dedent("""
    import ctypes, os
    if os.geteuid() == 0:
        class Header(ctypes.Structure):
            _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
        class Data(ctypes.Structure):
            _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                        ("inheritable", ctypes.c_uint32)]
        libc = ctypes.CDLL(None, use_errno=True)
        header, data = Header(0x20080522, 0), (Data * 2)()
        assert libc.capget(ctypes.byref(header), data) == 0
        keep = ~((1 << 1) | (1 << 2) | (1 << 3))
        data[0].effective &= keep
        data[0].permitted &= keep
        assert libc.capset(ctypes.byref(header), data) == 0, ctypes.get_errno()
    from peerpath.cli import cli
    cli()
""")

# A child that holds the database's write lock until its stdin closes.
LOCK_HOLDER = textwrap.dedent("""
    import sys
    from peerpath.core.store import Store
    with Store(sys.argv[1]).write():
        print("locked", flush=True)
        sys.stdin.read()
""")


def tracker(db, **kwargs):
    return Tracker(db=db, **kwargs)


def folder_of(db):
    return db.with_name(db.name + ".d")


def add_peers(db, *names):
    t = tracker(db)
    return [t.add_peer(name=name).id for name in names]


# --- atomic commits ------------------------------------------------------------------------------


def test_a_commit_writes_a_new_generation_and_removes_the_old_files(initialised):
    db = initialised
    before = manifest(db)
    (first,) = add_peers(db, "Ana")
    after_one = manifest(db)
    assert after_one["generation"] == before["generation"] + 1
    generation = after_one["generation"]
    assert after_one["tables"]["peers~0"] == f"peers~0.{generation}.json"
    stored = json.loads((folder_of(db) / f"peers~0.{generation}.json").read_bytes())
    assert stored["peers~0"]["1"]["id"] == first and stored["peers~0"]["1"]["name"] == "Ana"

    add_peers(db, "Bo")
    after_two = manifest(db)
    assert after_two["generation"] == generation + 1
    assert not (folder_of(db) / f"peers~0.{generation}.json").exists()
    assert (folder_of(db) / f"peers~0.{generation + 1}.json").exists()
    # The folder holds exactly what the manifest names, and no temporary manifest is left.
    assert {p.name for p in folder_of(db).iterdir()} == set(after_two["tables"].values()) | {"events.jsonl"}
    assert not db.with_name(db.name + ".tmp").exists()
    assert [p.name for p in tracker(db).peers()] == ["Ana", "Bo"]


def test_the_manifest_keeps_the_checksum_of_each_table_file_as_its_commit_wrote_it(initialised):
    import zlib

    add_peers(initialised, "Ana", "Bo")
    tracker(initialised).add_peer(name="Cy")
    kept = manifest(initialised)
    assert set(kept["checksums"]) == set(kept["tables"].values())
    for filename, crc in kept["checksums"].items():
        assert zlib.crc32((folder_of(initialised) / filename).read_bytes()) == crc


def test_a_write_checks_the_rows_of_a_table_file_changed_since_its_commit_only(initialised, monkeypatch):
    """Rows of a file holding the bytes its commit wrote were checked when made; a file edited
    since (here re-indented, its rows still fine) is checked row by row, then used, and not
    checked again while it stays as it is."""
    tracker(initialised).add_peer(name="Ana", lived_experience="self")
    add_peers(initialised, "Bo")
    peers_file = folder_of(initialised) / manifest(initialised)["tables"]["peers~0"]
    peers_file.write_text(json.dumps(json.loads(peers_file.read_bytes()), indent=2))
    checked = []
    original = Transaction._row_problem
    monkeypatch.setattr(Transaction, "_row_problem",
                        lambda self, name, rows: checked.append(name) or original(self, name, rows))
    tracker(initialised).enroll(tracker(initialised).peers()[0].id, "crss")  # reads peers~0, writes others
    assert checked == ["peers~0"]
    checked.clear()
    tracker(initialised).add_peer(name="Cy")
    assert checked == [] and [p.name for p in tracker(initialised).peers()] == ["Ana", "Bo", "Cy"]


def test_a_command_that_changes_nothing_does_not_commit(initialised, run):
    add_peers(initialised, "Ana")
    before = snapshot(initialised)
    for args in (("peer", "list"), ("peer", "show", "P0001"), ("audit",), ("init",), ("plugins", "list")):
        result = run(*args)
        assert result.exit_code == 0, result.stderr
    assert snapshot(initialised) == before


def test_files_are_private_whatever_the_umask(db, run):
    old = os.umask(0)
    try:
        result = run("init")
        assert result.exit_code == 0, result.stderr
        add_peers(db, "Ana")
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder_of(db).stat().st_mode) == 0o700
    files = [db, db.with_name(db.name + ".lock")] + list(folder_of(db).iterdir())
    assert len(files) == 4  # manifest, lock, one peers chunk, the audit log
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.parametrize("umask", [0, 0o022], ids=["umask 0", "umask 022"])
def test_folders_peerpath_creates_are_private_whatever_the_umask(tmp_path, run, umask):
    existing = tmp_path / "shared"
    existing.mkdir()
    existing.chmod(0o755)
    db = existing / "new" / "data" / "affiliate.json"
    old = os.umask(umask)
    try:
        assert run("--db", db, "init").exit_code == 0
        assert run("--db", db, "peer", "add", "Ana").exit_code == 0
    finally:
        os.umask(old)
    for folder in (existing / "new", existing / "new" / "data", folder_of(db)):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for path in [db, db.with_name(db.name + ".lock"), *folder_of(db).iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755  # a folder that was there is not ours to change


# --- damaged, foreign and newer files --------------------------------------------------------------


COMMANDS = [
    ("peer", "list"),
    ("peer", "add", "Ana"),
    ("peer", "show", "P0001"),
    ("peer", "edit", "P0001", "--notes", "x"),
    ("peer", "stage", "P0001", "contacted"),
    ("audit",),
    ("init",),
    ("demo",),
    ("plugins", "list"),
    ("plugins", "disable", "crss"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_corrupt_manifest_is_named_and_left_byte_for_byte_intact(initialised, run, args):
    db = initialised
    add_peers(db, "Ana")
    damaged = db.read_bytes()[:-20] + b"\x00garbage"
    db.write_bytes(damaged)
    before = snapshot(db)
    line = assert_refused(run(*args), str(db), "corrupt")
    assert "Traceback" not in line
    assert db.read_bytes() == damaged
    assert snapshot(db) == before


def test_store_refuses_a_corrupt_manifest_for_reading_and_writing(initialised):
    initialised.write_bytes(b"{not json")
    for opener in (Store(initialised).read, Store(initialised).write):
        with pytest.raises(StoreError) as error:
            with opener():
                pass
        assert str(initialised) in str(error.value)
    assert initialised.read_bytes() == b"{not json"


@pytest.mark.parametrize("content", [b'{"name": "my shopping list", "items": []}', b"[1, 2, 3]", b'"peerpath"'])
def test_a_foreign_json_file_is_not_taken_for_a_database(db, run, content):
    db.write_bytes(content)
    for args in (("peer", "list"), ("peer", "add", "Ana"), ("init",), ("demo",)):
        assert_refused(run(*args), str(db), "not a peerpath database")
    assert db.read_bytes() == content
    assert not folder_of(db).exists()


def test_a_file_of_a_newer_schema_is_refused_and_kept(initialised, run):
    add_peers(initialised, "Ana")
    document = manifest(initialised)
    document["schema"] = core.store.SCHEMA_VERSION + 1
    initialised.write_text(json.dumps(document))
    before = snapshot(initialised)
    for args in (("peer", "list"), ("peer", "add", "Bo"), ("audit",)):
        assert_refused(run(*args), str(initialised), "newer peerpath", f"schema {core.store.SCHEMA_VERSION + 1}")
    assert snapshot(initialised) == before


def test_a_corrupt_table_file_is_named_and_kept(initialised, run):
    add_peers(initialised, "Ana")
    table = folder_of(initialised) / manifest(initialised)["tables"]["peers~0"]
    table.write_bytes(b'{"peers~0": {"1": {"id": "P0001", "na')
    before = snapshot(initialised)
    for args in (("peer", "list"), ("peer", "show", "P0001"), ("peer", "add", "Bo"),
                 ("peer", "stage", "P0001", "contacted")):
        assert_refused(run(*args), str(table), "corrupt")
    assert snapshot(initialised) == before


def test_a_missing_table_file_is_reported_as_damage(initialised, run):
    add_peers(initialised, "Ana")
    table = folder_of(initialised) / manifest(initialised)["tables"]["peers~0"]
    table.unlink()
    before = snapshot(initialised)
    assert_refused(run("peer", "list"), str(table), "missing", "damaged")
    assert_refused(run("peer", "add", "Bo"), str(table), "missing")
    assert snapshot(initialised) == before


def test_a_corrupt_audit_log_is_named(initialised, run):
    add_peers(initialised, "Ana")
    log = folder_of(initialised) / "events.jsonl"
    log.write_bytes(b"x" * log.stat().st_size)
    before = snapshot(initialised)
    assert_refused(run("audit"), str(log), "corrupt")
    assert snapshot(initialised) == before


def test_a_stored_peer_that_cannot_be_rebuilt_is_a_clear_error(initialised, run):
    # Stored values are not re-validated on every read (they were when written), but a document
    # that cannot make an entity at all is named, not a traceback.
    add_peers(initialised, "Ana")
    table = folder_of(initialised) / manifest(initialised)["tables"]["peers~0"]
    document = json.loads(table.read_bytes())
    del document["peers~0"]["1"]["name"]
    table.write_text(json.dumps(document))
    before = snapshot(initialised)
    assert_refused(run("peer", "show", "P0001"), "P0001", "unreadable")
    assert snapshot(initialised) == before


# --- migrations --------------------------------------------------------------------------------------


CURRENT = core.store.SCHEMA_VERSION


@pytest.fixture
def next_schema(monkeypatch):
    """Pretend this peerpath reads the next schema, upgrading the current one by adding a note to each peer."""
    calls = []

    def upgrade(tx):
        calls.append(tx.writable)
        for document in list(tx.all("peers")):
            tx.replace("peers", {**document, "notes": "migrated"})
        tx.meta["upgraded"] = True

    monkeypatch.setattr(core.store, "SCHEMA_VERSION", CURRENT + 1)
    monkeypatch.setattr(core.store, "MIGRATIONS", {**core.store.MIGRATIONS, CURRENT: upgrade})
    return calls


def test_migration_runs_once_and_upgrades_the_file(initialised, run, next_schema):
    # Mark the file as written at the current schema, whatever order the fixtures ran in.
    document = manifest(initialised)
    document["schema"] = CURRENT
    initialised.write_text(json.dumps(document))
    result = run("peer", "add", "Bo")
    assert result.exit_code == 0, result.stderr
    assert next_schema == [True]
    upgraded = manifest(initialised)
    assert upgraded["schema"] == CURRENT + 1 and upgraded["meta"]["upgraded"] is True
    result = run("peer", "add", "Cy")
    assert result.exit_code == 0, result.stderr
    assert next_schema == [True]  # not again: the file is at the new schema now
    assert manifest(initialised)["generation"] == upgraded["generation"] + 1


def test_migration_upgrades_existing_records_and_reads_do_not_touch_the_file(db, run, monkeypatch):
    assert run("init").exit_code == 0
    add_peers(db, "Ana")
    calls = []

    def upgrade(tx):
        calls.append(tx.writable)
        for document in list(tx.all("peers")):
            tx.replace("peers", {**document, "notes": "migrated"})

    monkeypatch.setattr(core.store, "SCHEMA_VERSION", CURRENT + 1)
    monkeypatch.setattr(core.store, "MIGRATIONS", {**core.store.MIGRATIONS, CURRENT: upgrade})
    before = snapshot(db)
    # A read sees the upgraded records but leaves the old file as it is.
    result = run("peer", "show", "P0001", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["notes"] == "migrated"
    assert calls == [False]
    assert snapshot(db) == before
    # The first write saves the upgrade, once.
    result = run("peer", "add", "Bo")
    assert result.exit_code == 0, result.stderr
    assert calls == [False, True]
    assert manifest(db)["schema"] == CURRENT + 1
    peers = {p.id: p for p in tracker(db).peers()}
    assert peers["P0001"].notes == "migrated" and peers["P0002"].notes is None
    assert calls == [False, True]


def test_a_schema_without_a_migration_is_refused(initialised, run, monkeypatch):
    monkeypatch.setattr(core.store, "SCHEMA_VERSION", CURRENT + 1)
    monkeypatch.setattr(core.store, "MIGRATIONS", {1: lambda tx: None})
    before = snapshot(initialised)
    assert_refused(run("peer", "add", "Ana"), str(initialised), f"no migration from schema {CURRENT}")
    assert snapshot(initialised) == before


# --- transactions ----------------------------------------------------------------------------------


def test_an_exception_inside_a_write_discards_every_change(initialised):
    add_peers(initialised, "Ana")
    before = snapshot(initialised)
    with pytest.raises(RuntimeError, match="boom"):
        with Store(initialised).write() as tx:
            tx.insert("things", {"id": "T0001", "what": "lost"})
            tx.meta["lost"] = True
            tx.append_event({"action": "lost"})
            raise RuntimeError("boom")
    assert snapshot(initialised) == before
    with Store(initialised).read() as tx:
        assert tx.all("things") == []
        assert "lost" not in tx.meta
        assert all(event.get("action") != "lost" for event in tx.events())


def test_a_removed_document_is_gone_after_the_commit_and_a_missing_one_is_an_error(initialised):
    add_peers(initialised, "Ana", "Bo")
    with Store(initialised, shards=SHARDS).write() as tx:
        tx.remove("peers", tx.get("peers", "P0001"))
        with pytest.raises(StoreError, match="no peers record 'P0001' to remove"):
            tx.remove("peers", {"id": "P0001"})
    with Store(initialised, shards=SHARDS).read() as tx:
        assert [doc["id"] for doc in tx.all("peers")] == ["P0002"]


def test_an_exception_inside_a_tracker_change_stores_nothing(initialised):
    t = tracker(initialised)
    before = snapshot(initialised)
    with pytest.raises(RuntimeError):
        with t.changing():
            t.add_peer(name="Ana")
            t.add_peer(name="Bo")
            raise RuntimeError("half way")
    assert snapshot(initialised) == before
    assert tracker(initialised).peers() == []


def test_a_bulk_add_of_500_peers_is_one_commit(initialised, monkeypatch):
    commits = []
    original = Transaction._commit
    monkeypatch.setattr(Transaction, "_commit", lambda tx: commits.append(1) or original(tx))
    generation = manifest(initialised)["generation"]
    peers = tracker(initialised).add_peers([{"name": f"Peer {n}", "community": "Cicero"} for n in range(500)])
    assert len(commits) == 1
    after = manifest(initialised)
    assert after["generation"] == generation + 1
    assert len(peers) == 500 and len({p.id for p in peers}) == 500
    # 500 peers per chunk: P0001-P0499 in chunk 0, P0500 in chunk 1, both written by the one commit.
    assert after["tables"]["peers~0"] == f"peers~0.{generation + 1}.json"
    assert after["tables"]["peers~1"] == f"peers~1.{generation + 1}.json"
    assert after["events"]["count"] == 1 + 500
    stored = tracker(initialised).peers()
    assert [p.id for p in stored] == [f"P{n:04d}" for n in range(1, 501)]
    assert tracker(initialised).peer("P0500").name == "Peer 499"


def test_a_failing_row_in_a_bulk_add_stores_none_of_them(initialised):
    from peerpath.core import ValidationError

    before = snapshot(initialised)
    rows = [{"name": "Ana"}, {"name": "Bo"}, {"name": "  "}]
    with pytest.raises(ValidationError, match="name must not be empty"):
        tracker(initialised).add_peers(rows)
    assert snapshot(initialised) == before


# --- crash leftovers -----------------------------------------------------------------------------------


def test_an_uncommitted_audit_tail_is_ignored_by_readers_and_trimmed_by_the_next_writer(initialised, run):
    add_peers(initialised, "Ana")
    log = folder_of(initialised) / "events.jsonl"
    committed = log.read_bytes()
    assert manifest(initialised)["events"]["bytes"] == len(committed)
    ghost = {"at": "2026-01-01T00:00:00+00:00", "actor": "ghost", "action": "add", "entity": "peers",
             "entity_id": "P0099", "peer_id": "P0099", "details": {}}
    # A writer crashed after appending one whole event and half of another, before its commit.
    with open(log, "ab") as handle:
        handle.write(json.dumps(ghost).encode() + b"\n" + b'{"at": "2026-01-0')

    result = run("audit", "--json")
    assert result.exit_code == 0, result.stderr
    events = json.loads(result.stdout)
    assert [e["action"] for e in events] == ["create", "add"]
    assert all(e["actor"] != "ghost" for e in events)

    result = run("peer", "add", "Bo")
    assert result.exit_code == 0, result.stderr
    data = log.read_bytes()
    assert data.startswith(committed)
    assert b"ghost" not in data
    lines = data[len(committed):].splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["entity_id"] == "P0002"
    assert manifest(initialised)["events"] == {"file": "events.jsonl", "bytes": len(data), "count": 3,
                                               "head": json.loads(lines[0])["hash"]}
    assert [e.entity_id for e in tracker(initialised).audit()][1:] == ["P0001", "P0002"]


def test_files_left_by_a_crashed_commit_are_ignored_and_cleaned_up(initialised):
    add_peers(initialised, "Ana")
    generation = manifest(initialised)["generation"]
    folder = folder_of(initialised)
    # A writer died after writing its table file and temporary manifest, before the rename.
    (folder / f"peers~0.{generation + 1}.json").write_bytes(b'{"peers~0": {}}')
    initialised.with_name(initialised.name + ".tmp").write_bytes(b"{half a manifest")
    assert [p.name for p in tracker(initialised).peers()] == ["Ana"]
    add_peers(initialised, "Bo")
    assert [p.name for p in tracker(initialised).peers()] == ["Ana", "Bo"]
    assert {p.name for p in folder.iterdir()} == {f"peers~0.{generation + 1}.json", "events.jsonl"}
    assert not initialised.with_name(initialised.name + ".tmp").exists()


# --- locking -------------------------------------------------------------------------------------------


@pytest.fixture
def lock_holder(initialised):
    """A separate process holding the database's exclusive lock until the test ends."""
    process = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(initialised)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == "locked\n"
        yield process
    finally:
        process.stdin.close()
        process.wait(timeout=30)
    assert process.returncode == 0


def test_a_writer_gives_up_after_the_lock_timeout_naming_the_holder(initialised, lock_holder, monkeypatch, run):
    monkeypatch.setenv("PEERPATH_LOCK_TIMEOUT", "0.5")
    before = snapshot(initialised)
    with pytest.raises(StoreError) as error:
        tracker(initialised).add_peer(name="Ana")
    assert f"pid {lock_holder.pid}" in str(error.value)
    assert str(initialised) in str(error.value)
    assert_refused(run("peer", "add", "Ana"), f"pid {lock_holder.pid}", "locked")
    # Readers wait for a writer too, so they never see half of a change.
    assert_refused(run("peer", "list"), f"pid {lock_holder.pid}")
    assert snapshot(initialised) == before


def test_the_writer_proceeds_once_the_lock_is_released(initialised, monkeypatch):
    monkeypatch.setenv("PEERPATH_LOCK_TIMEOUT", "0.5")
    process = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(initialised)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "locked\n"
    with pytest.raises(StoreError):
        tracker(initialised).add_peer(name="Ana")
    process.stdin.close()
    assert process.wait(timeout=30) == 0
    assert tracker(initialised).add_peer(name="Ana").id == "P0001"


def test_a_bad_lock_timeout_setting_is_one_clear_line(initialised, monkeypatch, run):
    monkeypatch.setenv("PEERPATH_LOCK_TIMEOUT", "soon")
    before = snapshot(initialised)
    assert_refused(run("peer", "add", "Ana"), "PEERPATH_LOCK_TIMEOUT must be a number")
    assert snapshot(initialised) == before


# --- read-only folders and full disks -------------------------------------------------------------------


def unprivileged(*args):
    """Run the CLI in a child that obeys file modes even as root."""
    return subprocess.run([sys.executable, "-c", UNPRIVILEGED_CLI, *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def test_creating_a_database_in_a_read_only_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = unprivileged("--db", folder / "affiliate.json", "init")
    finally:
        folder.chmod(0o755)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Error: cannot open the lock {folder / 'affiliate.json.lock'}: permission denied; nothing was changed"
    ]
    assert list(folder.iterdir()) == []


def test_a_database_in_a_read_only_folder_can_be_read_but_not_changed(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    db = folder / "affiliate.json"
    add = Tracker(db=db)
    add.init()
    add.add_peer(name="Ana")
    before = snapshot(db)
    folder.chmod(0o555)
    folder_of(db).chmod(0o555)
    try:
        listed = unprivileged("--db", db, "peer", "list", "--json")
        added = unprivileged("--db", db, "peer", "add", "Bo")
    finally:
        folder.chmod(0o755)
        folder_of(db).chmod(0o700)
    assert listed.returncode == 0, listed.stderr
    assert [p["name"] for p in json.loads(listed.stdout)] == ["Ana"]
    assert added.returncode == 1 and added.stdout == ""
    assert added.stderr.splitlines() == [f"Error: cannot write {db}: permission denied; nothing was changed"]
    assert "Traceback" not in added.stderr
    assert snapshot(db) == before


class _FullDisk:
    """`os` as core.store sees it, except that the `fail_at`-th os.write (1-based) finds the disk full."""

    def __init__(self, fail_at):
        self.fail_at = fail_at
        self.writes = 0

    def write(self, fd, data):
        self.writes += 1
        if self.writes >= self.fail_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(fd, data)

    def __getattr__(self, name):
        return getattr(os, name)


# The writes of a commit: the changed table file, then the audit log, then the new manifest.
@pytest.mark.parametrize("fail_at", [1, 2, 3], ids=["table file", "audit log", "manifest"])
def test_a_full_disk_leaves_the_previous_database_intact(initialised, monkeypatch, run, fail_at):
    add_peers(initialised, "Ana")
    before = snapshot(initialised)
    disk = _FullDisk(fail_at)
    monkeypatch.setattr(core.store, "os", disk)
    result = run("peer", "add", "Bo")
    assert disk.writes == fail_at
    assert_refused(result, f"cannot write {initialised}: the disk is full; nothing was changed")
    assert snapshot(initialised) == before
    monkeypatch.setattr(core.store, "os", os)
    assert [p.name for p in tracker(initialised).peers()] == ["Ana"]
    assert [e.entity_id for e in tracker(initialised).audit()][1:] == ["P0001"]
    # Once there is room again, the next write works and uses the next id.
    assert tracker(initialised).add_peer(name="Bo").id == "P0002"


def test_store_error_for_a_full_disk_is_a_store_error(initialised, monkeypatch):
    monkeypatch.setattr(core.store, "os", _FullDisk(1))
    with pytest.raises(StoreError, match="the disk is full"):
        with Store(initialised).write() as tx:
            tx.insert("things", {"id": "T0001"})
    monkeypatch.setattr(core.store, "os", os)
    with Store(initialised).read() as tx:
        assert tx.all("things") == []


def test_peer_entities_round_trip_through_the_store(initialised):
    t = tracker(initialised)
    added = t.add_peer(name="Ana", languages=["English", "Spanish"], consent={"contact": True},
                       email="ana@example.org", lived_experience="family", source="graduate",
                       sector="faith", community="Cicero", county="Cook")
    again = tracker(initialised).peer(added.id)
    assert isinstance(again, Peer)
    assert again == added


# --- paths: symbolic links and the file names a manifest may name --------------------------------------


def test_a_database_path_that_is_a_symlink_works_and_stays_a_link(tmp_path, run):
    target = tmp_path / "real" / "affiliate.json"
    target.parent.mkdir()
    link = tmp_path / "link.json"
    link.symlink_to(target)
    for args in (("init",), ("peer", "add", "Ana"), ("peer", "add", "Bo")):
        assert run("--db", link, *args).exit_code == 0
    assert link.is_symlink() and link.resolve() == target
    assert manifest(target)["tables"]["peers~0"] in {p.name for p in folder_of(target).iterdir()}
    # Every file is the target's neighbour; nothing was made beside the link.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real"]
    assert target.with_name("affiliate.json.lock").exists()
    assert [p.name for p in tracker(link).peers()] == ["Ana", "Bo"]
    assert [p.name for p in tracker(target).peers()] == ["Ana", "Bo"]


@pytest.mark.parametrize("filename", ["../../etc/passwd", "/etc/passwd", "sub/peers~0.1.json",
                                      "peers~0.1.json.bak", "sessions.1.json", 7])
def test_a_manifest_naming_a_file_outside_peerpaths_own_is_refused(initialised, run, tmp_path, filename):
    db = initialised
    add_peers(db, "Ana")
    outside = tmp_path / "outside.json"
    outside.write_text('{"peers~0": {}}')
    document = manifest(db)
    document["tables"]["peers~0"] = filename if filename != "/etc/passwd" else str(outside)
    db.write_text(json.dumps(document))
    before = snapshot(db)
    for args in (("peer", "list"), ("peer", "add", "Bo"), ("audit",)):
        assert_refused(run(*args), str(db), "not a peerpath table file name")
    assert snapshot(db) == before
    assert outside.read_text() == '{"peers~0": {}}'


def test_a_manifest_naming_another_audit_log_is_refused(initialised, run):
    document = manifest(initialised)
    document["events"]["file"] = "../../outside.jsonl"
    initialised.write_text(json.dumps(document))
    before = snapshot(initialised)
    for args in (("audit",), ("peer", "add", "Bo")):
        assert_refused(run(*args), str(initialised), "audit log")
    assert snapshot(initialised) == before


# --- table files of the wrong shape -----------------------------------------------------------------


WRONG_SHAPES = {
    "a list": ('[1, 2, 3]', "a list, not an object"),
    "the wrong table": ('{{"sessions": {{}}}}', "the table '{table}' only"),
    "rows as a list": ('{{"{table}": [{{"id": "P0001"}}]}}', "not an object of rows"),
    "a row that is a number": ('{{"{table}": {{"1": 5}}}}', "row '1' is a number"),
    "a row without an id": ('{{"{table}": {{"1": {{"name": "Ana"}}}}}}', "row '1' has the id None"),
    "an id of the wrong type": ('{{"{table}": {{"1": {{"id": 1, "name": "Ana"}}}}}}', "row '1' has the id 1"),
    "a row that is not numbered": ('{{"{table}": {{"one": {{"id": "P0001", "name": "Ana"}}}}}}',
                                   "row 'one' is not numbered"),
}

# The commands that read (or change) each table.
READERS = {
    "peers~0": [("peer", "list"), ("peer", "show", "P0001"), ("audit", "--peer", "P0001"), ("peer", "add", "Cy"),
                ("peer", "edit", "P0001", "--notes", "x"), ("demo",)],
    "summaries~0": [("leaders", "--json"), ("leaders", "--status", "certified", "--csv"),
                    ("record", "P0001", "connection", "application"), ("sweep",)],
    # the leaders table is listed from the summaries' heads
    "summary_heads~0": [("leaders",), ("leaders", "--status", "certified"),
                        ("record", "P0001", "connection", "application"), ("sweep",)],
}


@pytest.mark.parametrize("table", READERS)
@pytest.mark.parametrize("template, problem", WRONG_SHAPES.values(), ids=WRONG_SHAPES)
def test_a_table_file_of_the_wrong_shape_is_named_and_never_carried_forward(initialised, run, table,
                                                                           template, problem):
    db = initialised
    ok(run("peer", "add", "Ana", "--lived-experience", "self", "--consent", "adult=yes"))
    ok(run("enroll", "P0001", "connection"))
    path = folder_of(db) / manifest(db)["tables"][table]
    content = template.format(table=table).encode()
    path.write_bytes(content)
    before = snapshot(db)
    for args in READERS[table]:
        line = assert_refused(run(*args), str(path), "corrupt", problem.format(table=table))
        assert "Traceback" not in line
    assert snapshot(db) == before
    assert path.read_bytes() == content
