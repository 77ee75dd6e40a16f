"""Erasing who a peer is while keeping the statistics, a retention setting that `sweep` applies,
and audit events that keep the old and new value of every change (issue 13, points 9, 14, 16)."""

import json

import pytest

from peerpath.core import Tracker, ValidationError

from conftest import assert_refused, manifest, ok, snapshot

pytestmark = pytest.mark.both_backends  # each test on a file and on PostgreSQL (conftest.py)

SECRETS = ("Ana Secretname", "ana@example.org", "708-555-0101", "afraid of dogs", "met at the Cicero fair")


def folder_of(db):
    return db.with_name(db.name + ".d")


def every_byte(db) -> bytes:
    """Every byte of a file database; every stored value of a PostgreSQL one."""
    stored = snapshot(db)
    return repr(stored).encode() if isinstance(db, str) else b"".join(stored.values())


@pytest.fixture
def ana(initialised, run):
    """P0001 with every identity field, edited (so the log holds old values), enrolled and staged."""
    name, email, phone, notes, detail = SECRETS
    ok(run("peer", "add", name, "--email", email, "--phone", "708-555-0199", "--source", "event",
           "--source-detail", detail, "--lived-experience", "self", "--community", "Cicero", "--consent", "adult=yes"))
    ok(run("peer", "edit", "P0001", "--phone", phone, "--notes", notes))
    ok(run("peer", "stage", "P0001", "contacted"))
    ok(run("enroll", "P0001", "connection"))
    ok(run("peer", "add", "Bo Bystander"))
    return initialised


def test_erase_removes_identity_everywhere_and_keeps_the_statistics(ana, run):
    before = json.loads(ok(run("peer", "show", "P0001", "--json")))
    events_before = json.loads(ok(run("audit", "--json", "--contact")))
    assert all(secret.encode() in every_byte(ana) for secret in SECRETS)

    assert ok(run("peer", "erase", "P0001")).strip() == "Erased P0001"

    stored = every_byte(ana)
    assert not [secret for secret in SECRETS if secret.encode() in stored]
    assert b"708-555-0199" not in stored  # the old phone number too
    after = json.loads(ok(run("peer", "show", "P0001", "--json")))
    assert after["name"] == "(erased)" and after["erased"]
    assert after["email"] is after["phone"] is after["notes"] is after["source_detail"] is None
    for kept in ("stage", "stage_history", "community", "lived_experience", "source", "created"):
        assert after[kept] == before[kept], kept
    assert [p.name for p in Tracker(db=ana).peers()] == ["(erased)", "Bo Bystander"]
    # The trail keeps every event, loses the values, and records the erasure.
    events = json.loads(ok(run("audit", "--json", "--contact")))
    assert len(events) == len(events_before) + 1
    assert [(e["action"], e["entity_id"]) for e in events[:-1]] == \
        [(e["action"], e["entity_id"]) for e in events_before]
    erase = events[-1]
    assert erase["action"] == "erase" and erase["peer_id"] == "P0001"
    assert erase["details"]["fields"] == ["name", "email", "phone", "notes", "source_detail"]
    edit_number = next(n for n, e in enumerate(events_before, 1) if e["action"] == "edit")
    redacted = {entry["event"]: entry["values"] for entry in erase["details"]["redacted"]}
    assert set(redacted[edit_number]) >= {"details.changes.phone.old", "details.changes.notes.new"}
    assert "$redacted" in json.dumps(events[edit_number - 1]["details"]["changes"]["notes"]["new"])
    assert events[edit_number - 1]["details"]["fields"] == ["notes", "phone"]  # which fields: kept
    # ...and the hash chain still verifies.
    assert "unbroken chain" in ok(run("verify"))


def test_erase_leaves_other_peers_alone(ana, run):
    ok(run("peer", "edit", "P0002", "--notes", "keeps his notes"))
    ok(run("peer", "erase", "P0001"))
    assert Tracker(db=ana).peer("P0002").notes == "keeps his notes"
    assert b"keeps his notes" in every_byte(ana)


def test_erasing_twice_or_an_unknown_peer_is_refused(ana, run):
    ok(run("peer", "erase", "P0001"))
    before = snapshot(ana)
    assert_refused(run("peer", "erase", "P0001"), "P0001", "already erased")
    assert_refused(run("peer", "erase", "P0404"), "unknown peer 'P0404'")
    assert snapshot(ana) == before


@pytest.mark.files_only("a log from before the hash chain exists only as a file")
def test_an_old_log_is_sealed_then_redacted_in_the_same_change(ana, run):
    from test_safekeeping import unchain

    unchain(ana)
    ok(run("peer", "erase", "P0001"))
    assert SECRETS[3].encode() not in every_byte(ana)
    assert "unbroken chain" in ok(run("verify"))


def test_erase_through_the_tracker_api(ana):
    tracker = Tracker(db=ana, actor="api")
    assert tracker.erase_peer("P0001").name == "(erased)"
    with pytest.raises(ValidationError, match="already erased"):
        tracker.erase_peer("P0001")
    assert tracker.audit()[-1].actor == "api"


# --- retention ------------------------------------------------------------------------------------------


@pytest.fixture
def prospects(initialised, run):
    """P0001 a prospect since January, P0002 contacted since January, P0003 a prospect since June."""
    on = ("--today", "2026-07-01")
    ok(run(*on, "peer", "add", "Old Prospect", "--notes", "old notes", "--on", "2026-01-05"))
    ok(run(*on, "peer", "add", "Went Further", "--on", "2026-01-05"))
    ok(run(*on, "peer", "stage", "P0002", "contacted", "--on", "2026-01-20"))
    ok(run(*on, "peer", "add", "New Prospect", "--on", "2026-06-20"))
    return initialised


def test_without_the_retention_setting_sweep_erases_nobody(prospects, run):
    assert "erased" not in ok(run("--today", "2030-01-01", "sweep"))
    assert [p.name for p in Tracker(db=prospects).peers()] == ["Old Prospect", "Went Further", "New Prospect"]


def test_sweep_erases_prospects_kept_longer_than_the_setting_and_reports_them(prospects, run):
    ok(run("config", "set", "privacy.retain_prospects_days", "90"))
    out = ok(run("--today", "2026-07-01", "sweep"))
    assert "1 prospect(s) erased after privacy.retain_prospects_days: P0001" in out
    peers = {p.id: p for p in Tracker(db=prospects).peers()}
    assert peers["P0001"].name == "(erased)" and peers["P0001"].notes is None
    assert peers["P0002"].name == "Went Further" and peers["P0003"].name == "New Prospect"
    erase = Tracker(db=prospects).audit(peer_id="P0001")[-1]
    assert erase.action == "erase" and erase.details["reason"] == "privacy.retain_prospects_days = 90"
    assert "erased" not in ok(run("--today", "2026-07-01", "sweep"))  # once
    assert "unbroken chain" in ok(run("verify"))


def test_the_retention_setting_can_be_cleared_and_refuses_nonsense(prospects, run):
    ok(run("config", "set", "privacy.retain_prospects_days", "30"))
    ok(run("config", "set", "privacy.retain_prospects_days", "none"))
    assert "erased" not in ok(run("--today", "2030-01-01", "sweep"))
    assert_refused(run("config", "set", "privacy.retain_prospects_days", "--", "-1"), "between 0")


# --- old and new values ---------------------------------------------------------------------------------


def last_event(db):
    return Tracker(db=db).audit()[-1]


def test_every_edit_records_old_and_new_values(ana, run):
    ok(run("peer", "edit", "P0002", "--notes", "first"))
    ok(run("peer", "edit", "P0002", "--notes", "second"))
    assert last_event(ana).details["changes"]["notes"] == {"old": "first", "new": "second"}
    ok(run("peer", "stage", "P0002", "contacted"))
    assert last_event(ana).details["changes"]["stage"] == {"old": "prospect", "new": "contacted"}
    ok(run("status", "P0001", "connection", "on hold"))
    assert last_event(ana).details["changes"]["hold"] == {"old": None, "new": "on hold"}
    record = ok(run("record", "P0001", "connection", "application")).split(":")[0]
    ok(run("void", record, "--reason", "wrong peer"))
    assert last_event(ana).details["changes"]["void_reason"] == {"old": None, "new": "wrong peer"}


def test_settings_plugins_and_communities_record_old_and_new(initialised, run):
    ok(run("config", "set", "recruitment.followup_days", "30"))
    assert last_event(initialised).details["changes"] == {"recruitment.followup_days": {"old": 14, "new": 30}}
    ok(run("config", "set", "recruitment.followup_days", "45"))
    assert last_event(initialised).details["changes"] == {"recruitment.followup_days": {"old": 30, "new": 45}}
    ok(run("config", "unset", "recruitment.followup_days"))
    assert last_event(initialised).details["changes"] == {"recruitment.followup_days": {"old": 45, "new": 14}}
    ok(run("plugins", "disable", "crss"))
    assert last_event(initialised).details["changes"] == {"enabled": {"old": True, "new": False}}
    ok(run("communities", "mark", "Cicero"))
    assert last_event(initialised).details["changes"] == {"underserved": {"old": False, "new": True}}


@pytest.mark.files_only("recover rebuilds a lost manifest file")
def test_recover_still_replays_settings_recorded_with_old_and_new(initialised, run):
    ok(run("config", "set", "recruitment.followup_days", "30"))
    initialised.unlink()
    ok(run("recover"))
    assert manifest(initialised)["meta"]["config"] == {"recruitment.followup_days": 30}


def test_a_short_name_is_redacted_as_a_word_not_inside_other_words(initialised, run):
    ok(run("peer", "add", "Bo", "--lived-experience", "self"))
    ok(run("peer", "edit", "P0001", "--lived-experience", "both", "--notes", "Bo said yes"))
    ok(run("peer", "erase", "P0001"))
    edit = next(e for e in Tracker(db=initialised).audit() if e.action == "edit")
    assert edit.details["changes"]["lived_experience"] == {"old": "self", "new": "both"}
    assert "$redacted" in edit.details["changes"]["notes"]["new"]


@pytest.mark.files_only("counts the manifest's generations: one commit, one generation")
def test_sweep_erases_many_prospects_in_one_change(initialised, run):
    for n in range(5):
        ok(run("--today", "2026-01-01", "peer", "add", f"Prospect {n}", "--notes", f"note {n}"))
    ok(run("config", "set", "privacy.retain_prospects_days", "10"))
    generation = manifest(initialised)["generation"]
    assert "5 prospect(s) erased" in ok(run("--today", "2026-03-01", "sweep"))
    assert manifest(initialised)["generation"] == generation + 1
    assert not any(f"note {n}".encode() in every_byte(initialised) for n in range(5))
    assert "unbroken chain" in ok(run("verify"))


@pytest.mark.files_only("recover rebuilds a lost manifest file")
def test_recover_after_an_erasure_uses_the_redacted_log_and_drops_the_older_one(ana, run):
    old_log = (folder_of(ana) / manifest(ana)["events"]["file"]).read_bytes()
    ok(run("peer", "erase", "P0001"))
    rewritten = manifest(ana)["events"]["file"]
    assert rewritten != "events.jsonl"
    (folder_of(ana) / "events.jsonl").write_bytes(old_log)  # as if the erasure's tidying never ran
    ana.unlink()
    ok(run("recover"))
    assert manifest(ana)["events"]["file"] == rewritten
    assert not (folder_of(ana) / "events.jsonl").exists()
    assert not [secret for secret in SECRETS if secret.encode() in every_byte(ana)]
    assert "unbroken chain" in ok(run("verify"))


def test_erasing_a_peer_also_erases_the_duplicates_merged_into_them(initialised, run):
    ok(run("peer", "add", "Ana Secretname", "--email", "ana@example.org"))
    ok(run("peer", "add", "Ana S.", "--phone", "708-555-0123", "--notes", "duplicate's own notes"))
    ok(run("peer", "merge", "P0001", "P0002"))
    assert b"708-555-0123" in every_byte(initialised)
    ok(run("peer", "erase", "P0001"))
    stored = every_byte(initialised)
    for secret in (b"Ana Secretname", b"ana@example.org", b"Ana S.", b"708-555-0123", b"duplicate's own notes"):
        assert secret not in stored, secret
    assert "unbroken chain" in ok(run("verify"))
