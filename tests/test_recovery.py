"""A database whose manifest is lost (issue 13, "Recovery and paths"): init and demo refuse to
start afresh over the data, `peerpath recover` rebuilds the manifest from the table files and the
audit log, and no commit deletes or truncates a file the manifest does not describe."""

import json
import stat

import pytest

from peerpath.core import StoreError, Tracker

from conftest import assert_refused, manifest, ok, snapshot

pytestmark = pytest.mark.files_only("recover rebuilds a lost manifest file")


def folder_of(db):
    return db.with_name(db.name + ".d")


def newest_generation(manifest_document) -> int:
    """The newest generation among the table files (commits that change only settings write none)."""
    return max(int(name.split(".")[-2]) for name in manifest_document["tables"].values())


@pytest.fixture
def lost_manifest(initialised, run):
    """A database with peers, a leader, an override and a disabled plugin, whose manifest is gone."""
    db = initialised
    ok(run("init", "--affiliate", "NAMI Lost County"))
    for name in ("Ana", "Bo", "Cy"):
        ok(run("peer", "add", name, "--lived-experience", "self", "--consent", "adult=yes"))
    ok(run("enroll", "P0002", "connection"))
    ok(run("record", "P0002", "connection", "application"))
    ok(run("config", "set", "recruitment.followup_days", "30"))
    ok(run("plugins", "disable", "crss"))
    ok(run("communities", "mark", "Cicero"))
    before = manifest(db)
    db.unlink()
    return db, before


def test_a_missing_manifest_beside_data_suggests_recover_not_init(lost_manifest, run):
    db, _ = lost_manifest
    before = snapshot(db)
    for args in (("peer", "list"), ("peer", "add", "Di"), ("audit",), ("leaders",)):
        line = assert_refused(run(*args), str(db), str(folder_of(db)), "peerpath recover")
        assert "init" not in line
    assert snapshot(db) == before


@pytest.mark.parametrize("command", ["init", "demo"])
def test_init_and_demo_refuse_to_start_afresh_over_existing_data(lost_manifest, run, command):
    db, _ = lost_manifest
    before = snapshot(db)
    assert_refused(run(command), str(folder_of(db)), "peerpath recover")
    assert snapshot(db) == before
    with pytest.raises(StoreError, match="peerpath recover"):
        Tracker(db=db).init(affiliate="Afresh")
    assert snapshot(db) == before


def test_init_refuses_a_folder_holding_only_a_users_file(db, run):
    folder_of(db).mkdir()
    (folder_of(db) / "notes.txt").write_text("mine")
    assert_refused(run("init"), str(folder_of(db)), "peerpath recover")
    assert [p.name for p in folder_of(db).iterdir()] == ["notes.txt"] and not db.exists()


def test_recover_rebuilds_the_manifest_from_the_newest_tables_and_the_log(lost_manifest, run):
    db, before = lost_manifest
    result = run("recover")
    out = ok(result)
    assert f"Recovered {db}" in out
    assert f"{len(before['tables'])} table(s)" in out and f"generation {newest_generation(before)}" in out
    assert f"{before['events']['count']} audit event(s)" in out
    assert "peers~0" in out and "3 row(s)" in out
    after = manifest(db)
    # The same table files and log as before it was lost; the next ids carry on.
    assert after["tables"] == before["tables"]
    assert after["events"]["count"] == before["events"]["count"] + 1  # the recovery itself is audited
    assert after["meta"]["counters"] == before["meta"]["counters"]
    # Settings kept in the manifest come back from the audit trail.
    for key in ("affiliate", "config", "disabled_plugins", "underserved"):
        assert after["meta"][key] == before["meta"][key], key
    assert [p["name"] for p in json.loads(ok(run("peer", "list", "--json")))] == ["Ana", "Bo", "Cy"]
    assert ok(run("peer", "add", "Di")).strip() == "P0004"
    audit = json.loads(ok(run("audit", "--json")))
    assert audit[-2]["action"] == "recover" and audit[-2]["actor"] == "tester"


def test_recover_refuses_when_a_manifest_exists(initialised, run):
    ok(run("peer", "add", "Ana"))
    before = snapshot(initialised)
    assert_refused(run("recover"), str(initialised), "exists")
    assert snapshot(initialised) == before


def test_recover_refuses_a_folder_without_peerpath_data(db, run):
    assert_refused(run("recover"), str(folder_of(db)), "nothing to recover")
    folder_of(db).mkdir()
    (folder_of(db) / "notes.txt").write_text("mine")
    assert_refused(run("recover"), str(folder_of(db)), "nothing to recover")
    assert not db.exists()


def test_recover_skips_an_unfinished_generation_and_a_torn_log_and_says_why(lost_manifest, run):
    db, before = lost_manifest
    folder = folder_of(db)
    generation = newest_generation(before)
    newest = folder / f"peers~0.{generation + 1}.json"
    newest.write_bytes(b'{"peers~0": {"1": {"id": "P00')  # a commit killed while writing it
    log = folder / "events.jsonl"
    committed = log.read_bytes()
    log.write_bytes(committed + b'{"at": "2026-01-0')
    out = ok(run("recover"))
    assert f"skipped peers~0.{generation + 1}.json: not valid JSON" in out
    assert "events.jsonl" in out and "incomplete" in out
    after = manifest(db)
    assert after["tables"]["peers~0"] == before["tables"]["peers~0"]
    assert after["events"]["count"] == before["events"]["count"] + 1
    # Nothing skipped is thrown away: it is kept beside the data, where no commit deletes it.
    assert (folder / f"peers~0.{generation + 1}.json.unreadable").read_bytes().startswith(b'{"peers~0"')
    assert (folder / "events.jsonl.unreadable").read_bytes() == b'{"at": "2026-01-0'
    for kept in folder.glob("*.unreadable"):
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600, kept
    ok(run("peer", "add", "Di"))
    assert (folder / f"peers~0.{generation + 1}.json.unreadable").exists()
    assert log.read_bytes().startswith(committed)


def test_recover_gives_the_database_private_modes(lost_manifest, run):
    db, _ = lost_manifest
    folder = folder_of(db)
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o644)
    ok(run("recover"))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in [db, *folder.iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_recover_through_the_tracker_reports_what_it_found(lost_manifest):
    db, before = lost_manifest
    recovery = Tracker(db=db, actor="api").recover()
    assert recovery.generation == newest_generation(before)
    assert recovery.events == before["events"]["count"]
    assert recovery.tables["peers~0"] == (before["tables"]["peers~0"], 3)
    assert recovery.skipped == []
    assert "affiliate" in recovery.settings


def test_no_commit_truncates_a_log_the_manifest_does_not_describe(initialised, run):
    ok(run("peer", "add", "Ana"))
    log = folder_of(initialised) / "events.jsonl"
    kept = log.read_bytes()
    document = manifest(initialised)
    del document["events"]
    initialised.write_text(json.dumps(document))
    assert_refused(run("peer", "add", "Bo"), str(log))
    assert log.read_bytes() == kept


def test_commits_never_delete_a_users_files_in_the_folder(initialised, run):
    folder = folder_of(initialised)
    generation = manifest(initialised)["generation"]
    notes = folder / "notes.txt"
    notes.write_text("call Ana back")
    lookalikes = [folder / name for name in (f"peers~0.{generation}.json.bak", "peers~0.old.json",
                                             "Peers~0.1.json~", "events.jsonl.1")]
    for path in lookalikes:
        path.write_text("{}")
    for n in range(12):
        ok(run("peer", "add", f"Peer {n}"))
    assert notes.read_text() == "call Ana back"
    assert all(path.read_text() == "{}" for path in lookalikes)
    referenced = set(manifest(initialised)["tables"].values()) | {"events.jsonl"}
    assert {p.name for p in folder.iterdir()} == referenced | {notes.name} | {p.name for p in lookalikes}


def test_recover_replays_remembered_import_values_and_skips_odd_setting_events(lost_manifest, run):
    db, _ = lost_manifest
    log = folder_of(db) / "events.jsonl"
    event = {"at": "2026-01-01T00:00:00+00:00", "actor": "tester", "entity_id": None, "peer_id": None}
    with open(log, "ab") as handle:
        for extra in ({"action": "map", "entity": "value map", "entity_id": "sector:Church",
                       "details": {"field": "sector", "text": "church", "value": "faith"}},
                      {"action": "configure", "entity": "config", "details": {}}):  # no value: skipped
            handle.write(json.dumps({**event, **extra}).encode() + b"\n")
    out = ok(run("recover"))
    assert "value_map" in out
    meta = manifest(db)["meta"]
    assert meta["value_map"] == {"sector": {"church": "faith"}}
    assert meta["config"] == {"recruitment.followup_days": 30}
