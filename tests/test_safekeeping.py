"""Data that cannot be lost by mistake (issue 13, points 7 and 8): the audit log is a hash chain
that `verify` checks line by line, a damaged log is refused rather than padded, old logs are
sealed by a migration, and `backup` / `restore` copy a database that verifies."""

import json
import stat

import pytest

from peerpath import core
from peerpath.core import Tracker, chain

from conftest import assert_refused, manifest, ok, snapshot

pytestmark = pytest.mark.files_only("the file store's log, manifest and table files tampered with, backup files, restores "
                                     "(PostgreSQL's verify: test_postgres_cluster.py)")


def folder_of(db):
    return db.with_name(db.name + ".d")


def log_of(db):
    return folder_of(db) / manifest(db)["events"]["file"]


@pytest.fixture
def busy(initialised, run):
    """A database with a few peers, an enrolment and some edits: a dozen audit events."""
    for name in ("Ana", "Bo", "Cy"):
        ok(run("peer", "add", name, "--lived-experience", "self", "--consent", "adult=yes"))
    ok(run("enroll", "P0002", "connection"))
    ok(run("peer", "edit", "P0001", "--notes", "call after 5"))
    ok(run("peer", "stage", "P0003", "contacted"))
    return initialised


def rewrite_lines(db, change, keep_manifest=True):
    """Apply `change` to the log's lines; unless `keep_manifest`, make the manifest agree on size."""
    log = log_of(db)
    lines = log.read_bytes().splitlines(keepends=True)
    data = b"".join(change(lines))
    log.write_bytes(data)
    if not keep_manifest:
        document = manifest(db)
        document["events"].update(bytes=len(data), count=len(data.splitlines()))
        db.write_text(json.dumps(document))


def edited(lines):
    event = json.loads(lines[2])
    event["actor"] = "someone else"
    return lines[:2] + [json.dumps(event).encode() + b"\n"] + lines[3:]


TAMPERING = {
    "edited": (edited, True),
    "deleted": (lambda lines: lines[:2] + lines[3:], False),
    "inserted": (lambda lines: lines[:3] + lines[2:], False),
    "reordered": (lambda lines: lines[:2] + [lines[3], lines[2]] + lines[4:], True),
    "truncated": (lambda lines: lines[:-1], False),  # the manifest made to agree: only its head catches it
    "cut short": (lambda lines: lines[:-1] + [lines[-1][:10]], True),
}


@pytest.mark.parametrize("kind", TAMPERING)
def test_verify_detects_a_tampered_audit_log(busy, run, kind):
    assert "unbroken chain" in ok(run("verify"))
    change, keep_manifest = TAMPERING[kind]
    rewrite_lines(busy, change, keep_manifest)
    result = run("verify")
    line = assert_refused(result, str(busy), "does not verify", "audit log", code=1)
    expected = {"edited": "event 3", "deleted": "event 3", "inserted": "event 4", "reordered": "event 3",
                "truncated": "chain head", "cut short": "truncated"}[kind]
    assert expected in line
    assert Tracker(db=busy).verify().problems  # the same through the API


def test_a_log_shorter_than_its_manifest_is_refused_not_padded(busy, run):
    rewrite_lines(busy, TAMPERING["cut short"][0])
    before = snapshot(busy)
    for args in (("peer", "add", "Di"), ("audit",)):
        assert_refused(run(*args), str(log_of(busy)))
    assert snapshot(busy) == before
    assert b"\0" not in log_of(busy).read_bytes()


def test_a_log_whose_end_is_not_the_chain_head_is_refused_on_write(busy, run):
    rewrite_lines(busy, TAMPERING["truncated"][0], keep_manifest=False)
    before = snapshot(busy)
    assert_refused(run("peer", "add", "Di"), "damaged", "chain head")
    assert snapshot(busy) == before


def test_every_stored_line_carries_a_seal_that_audit_does_not_show(busy, run):
    lines = [json.loads(line) for line in log_of(busy).read_bytes().splitlines()]
    assert all(chain.is_sealed(line) for line in lines)
    assert manifest(busy)["events"]["head"] == lines[-1]["hash"]
    shown = json.loads(ok(run("audit", "--json", "--contact")))
    assert len(shown) == len(lines) and not any("hash" in event or "salt" in event for event in shown)


# --- migration of a log from before the chain ----------------------------------------------------------


def unchain(db):
    """Make `db` look as written by schema 1: no seals in the log, no head, schema 1."""
    log = log_of(db)
    lines = [json.loads(line) for line in log.read_bytes().splitlines()]
    data = b"".join(json.dumps(chain.unsealed(line)).encode() + b"\n" for line in lines)
    log.write_bytes(data)
    document = manifest(db)
    document["schema"] = 1
    del document["events"]["head"]
    document["events"]["bytes"] = len(data)
    for name in document["tables"].values():  # schema 1 stored no `erased`
        path = folder_of(db) / name
        table = json.loads(path.read_bytes())
        for rows in table.values():
            for row in rows.values():
                row.pop("erased", None)
        path.write_text(json.dumps(table))
    db.write_text(json.dumps(document))
    return [chain.unsealed(line) for line in lines]


def test_an_old_log_is_read_as_it_is_and_sealed_by_the_first_write(busy, run):
    old_events = unchain(busy)
    before = snapshot(busy)
    assert json.loads(ok(run("audit", "--json", "--contact"))) == old_events
    assert "predates the hash chain" in ok(run("verify"))
    assert snapshot(busy) == before  # reading never writes
    ok(run("peer", "add", "Di"))
    upgraded = manifest(busy)
    assert upgraded["schema"] == core.store.SCHEMA_VERSION
    lines = [json.loads(line) for line in log_of(busy).read_bytes().splitlines()]
    assert [chain.unsealed(line) for line in lines[:len(old_events)]] == old_events
    assert all(chain.is_sealed(line) for line in lines) and upgraded["events"]["head"] == lines[-1]["hash"]
    assert "unbroken chain" in ok(run("verify"))
    assert json.loads(ok(run("peer", "show", "P0001", "--json")))["erased"] is None
    assert {p.name for p in folder_of(busy).iterdir()} == set(upgraded["tables"].values()) | {log_of(busy).name}


def test_recover_accepts_the_chain_head_of_the_complete_lines(busy, run):
    head = manifest(busy)["events"]["head"]
    busy.unlink()
    ok(run("recover"))
    assert manifest(busy)["events"]["head"] != head  # the recovery itself was appended and sealed
    assert "unbroken chain" in ok(run("verify"))


def test_recover_seals_a_log_from_before_the_chain(busy, run):
    unchain(busy)
    busy.unlink()
    ok(run("recover"))
    assert manifest(busy)["schema"] == core.store.SCHEMA_VERSION
    assert "unbroken chain" in ok(run("verify"))


# --- verify ---------------------------------------------------------------------------------------------


def test_verify_names_a_reference_to_a_missing_record(busy, run):
    peers = folder_of(busy) / manifest(busy)["tables"]["peers~0"]
    table = json.loads(peers.read_bytes())
    del table["peers~0"]["2"]  # P0002 is enrolled
    peers.write_text(json.dumps(table))
    assert_refused(run("verify"), "enrollments", "names peers P0002", code=1)


@pytest.mark.parametrize("damage", ["manifest", "table"])
def test_verify_names_a_damaged_manifest_or_table(busy, run, damage):
    path = busy if damage == "manifest" else folder_of(busy) / manifest(busy)["tables"]["peers~0"]
    path.write_text("{not json")
    assert_refused(run("verify"), str(path), "corrupt", code=1)


def test_verify_of_a_missing_database_fails(tmp_path, run):
    assert_refused(run("verify", "--db", tmp_path / "none.json"), "no peerpath database", code=1)


# --- backup and restore ---------------------------------------------------------------------------------


def test_a_backup_is_a_private_database_that_verifies(busy, run, tmp_path):
    copy = tmp_path / "saved" / "copy.json"
    out = ok(run("backup", copy))
    assert "generation" in out
    assert "unbroken chain" in ok(run("verify", "--db", copy))
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder_of(copy).stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder_of(copy).iterdir())
    assert Tracker(db=copy).peers() == Tracker(db=busy).peers()
    before = snapshot(copy)
    assert_refused(run("backup", copy), str(copy), "already exists")
    assert snapshot(copy) == before


def test_a_backup_copies_only_the_committed_log(busy, run, tmp_path):
    with open(log_of(busy), "ab") as log:
        log.write(b'{"half": ')  # a commit that never finished
    copy = tmp_path / "copy.json"
    ok(run("backup", copy))
    assert (folder_of(copy) / manifest(copy)["events"]["file"]).stat().st_size == manifest(busy)["events"]["bytes"]


def test_restore_refuses_an_existing_database_unless_forced(busy, run, tmp_path):
    copy = tmp_path / "copy.json"
    ok(run("backup", copy))
    ok(run("peer", "add", "Added after the backup"))
    before = snapshot(busy)
    assert_refused(run("restore", copy), str(busy), "--force")
    assert snapshot(busy) == before
    ok(run("restore", copy, "--force"))
    names = [peer.name for peer in Tracker(db=busy).peers()]
    assert names == ["Ana", "Bo", "Cy"]
    events = json.loads(ok(run("audit", "--json", "--contact")))
    assert events[-1]["action"] == "restore" and events[-1]["details"]["from"] == str(copy)
    assert len(events) == manifest(copy)["events"]["count"] + 1
    assert "unbroken chain" in ok(run("verify"))
    # Nothing of the replaced database is left in its folder.
    assert {p.name for p in folder_of(busy).iterdir()} == \
        set(manifest(busy)["tables"].values()) | {manifest(busy)["events"]["file"]}


def test_restore_into_a_new_database_is_private(busy, run, tmp_path):
    copy, target = tmp_path / "copy.json", tmp_path / "new" / "restored.json"
    ok(run("backup", copy))
    ok(run("restore", copy, "--db", target))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder_of(target).stat().st_mode) == 0o700
    assert Tracker(db=target).peers() == Tracker(db=busy).peers()
    assert "unbroken chain" in ok(run("verify", "--db", target))


def test_a_tampered_backup_is_not_restored(busy, run, tmp_path):
    copy, target = tmp_path / "copy.json", tmp_path / "restored.json"
    ok(run("backup", copy))
    rewrite_lines(copy, edited)
    assert_refused(run("restore", copy, "--db", target), str(copy), "event 3")
    assert not target.exists() and not folder_of(target).exists()


def test_restore_through_the_tracker_api(busy, tmp_path):
    copy, target = tmp_path / "copy.json", tmp_path / "restored.json"
    Tracker(db=busy).backup(copy)
    Tracker(db=target, actor="api").restore(copy)
    assert Tracker(db=target).audit()[-1].actor == "api"
    assert not Tracker(db=target).verify().problems


def test_a_value_shaped_like_a_redaction_marker_is_still_a_value(initialised, run):
    ok(run("peer", "add", "Ana", "--consent", "$redacted=yes"))
    assert "unbroken chain" in ok(run("verify"))
    ok(run("peer", "erase", "P0001"))
    assert "unbroken chain" in ok(run("verify"))


def test_a_redacted_value_cannot_be_swapped_for_another_digest(busy, run):
    ok(run("peer", "erase", "P0001"))
    log = log_of(busy)
    data = log.read_bytes()
    marker = data.index(b'"$redacted":"') + len(b'"$redacted":"')
    forged = data[:marker] + (b"0" if data[marker:marker + 1] != b"0" else b"1") + data[marker + 1:]
    log.write_bytes(forged)
    assert_refused(run("verify"), "does not match the chain", code=1)


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_backup_and_restore_refuse_the_database_itself(busy, run, command):
    before = snapshot(busy)
    assert_refused(run(command, busy), "database")
    assert snapshot(busy) == before


def test_a_backup_of_an_old_database_restores_sealed(busy, run, tmp_path):
    old_events = unchain(busy)
    copy, target = tmp_path / "copy.json", tmp_path / "restored.json"
    ok(run("backup", copy))
    assert "predates the hash chain" in ok(run("verify", "--db", copy))
    ok(run("restore", copy, "--db", target))
    assert manifest(target)["schema"] == core.store.SCHEMA_VERSION
    assert [chain.unsealed(e) for e in json.loads(ok(run("--db", target, "audit", "--json", "--contact")))][:-1] == old_events
    assert "unbroken chain" in ok(run("verify", "--db", target))
