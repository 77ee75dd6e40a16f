"""`peer merge KEEP DUPLICATE`: everything of the duplicate moves to the peer kept, in one audited
change; what cannot be merged is refused and changes nothing."""

import json

import pytest

from conftest import assert_refused, certify_teacher, ok, snapshot
from peerpath.core import Tracker

pytestmark = pytest.mark.both_backends  # each test on a file and on PostgreSQL (conftest.py)


@pytest.fixture
def twins(initialised, run, monkeypatch):
    """P0001 Maria (email, Cicero, a Connection facilitator in training) and P0002, the same person
    imported again earlier (phone, Spanish, a consent, a certified Peer-to-Peer teacher leading a
    class and observed); P0003 someone else."""
    monkeypatch.setenv("PEERPATH_TODAY", "2026-06-01")
    ok(run("peer", "add", "Maria Lopez", "--email", "maria@example.org", "--community", "Cicero",
           "--lived-experience", "self", "--consent", "contact=yes", "--birth-date", "1990-04-02",
           "--on", "2025-12-15"))
    ok(run("peer", "add", "María López", "--email", "mlopez@example.org", "--phone", "708-555-0101",
           "--language", "Spanish", "--source", "graduate", "--lived-experience", "both",
           "--consent", "contact=no", "--consent", "photos=yes", "--member-until", "2026-12-31",
           "--on", "2025-12-01"))
    ok(run("peer", "add", "Sam Lee", "--lived-experience", "self", "--on", "2025-12-01"))
    ok(run("peer", "stage", "P0002", "contacted", "--on", "2025-12-10"))
    ok(run("enroll", "P0001", "connection", "--on", "2026-01-01"))
    certify_teacher(run, "P0002")
    ok(run("enroll", "P0003", "peer_to_peer", "--on", "2026-01-01"))
    ok(run("offering", "add", "peer_to_peer", "Spring class", "--leaders", "P0002,P0003", "--started", "2026-03-03"))
    ok(run("session", "add", "O0001", "--on", "2026-03-03", "--attendance", "9"))
    return run


def test_merge_moves_every_record_onto_the_peer_kept(twins, db):
    run = twins
    out = ok(run("peer", "merge", "P0001", "P0002"))
    assert out.startswith("Merged P0002 into P0001.")
    assert "enrollments: E0002" in out and "sessions: S0001" in out

    peers = json.loads(ok(run("peer", "list", "--json")))
    assert [p["id"] for p in peers] == ["P0001", "P0003"]
    kept = json.loads(ok(run("peer", "show", "P0001", "--json")))
    # KEEP's own values stay; its empty fields are filled; consents it lacked are added.
    assert (kept["name"], kept["email"], kept["lived_experience"]) == ("Maria Lopez", "maria@example.org", "self")
    assert (kept["phone"], kept["languages"], kept["source"]) == ("708-555-0101", ["Spanish"], "graduate")
    assert kept["consent"] == {"contact": True, "photos": True}
    assert (kept["birth_date"], kept["member_until"]) == ("1990-04-02", "2026-12-31")  # eligibility too
    # The duplicate's stage changes before KEEP entered the pipeline become KEEP's history too.
    assert [(c["on"], c["stage"]) for c in kept["stage_history"]] == [
        ("2025-12-01", "prospect"), ("2025-12-10", "contacted"), ("2025-12-15", "prospect")]
    assert kept["stage"] == "prospect"

    leaders = json.loads(ok(run("leaders", "--json")))
    assert sorted((row["peer"], row["program"], row["status"]) for row in leaders) == [
        ("P0001", "connection", "in training"), ("P0001", "peer_to_peer", "certified"),
        ("P0003", "peer_to_peer", "in training")]
    assert "certified" in ok(run("progress", "P0001", "peer_to_peer"))
    offerings = json.loads(ok(run("offering", "list", "--json")))
    assert offerings[0]["leaders"] == ["P0001", "P0003"]


def test_merge_rewrites_the_stored_documents_and_keeps_the_duplicate_whole(twins, db):
    ok(twins("peer", "merge", "P0001", "P0002"))
    tracker = Tracker(db=db)
    with tracker.reading() as tx:
        for table in ("enrollments", "step_records", "certifications", "summaries"):
            assert tx.search(table, peer_id="P0002") == [], table
        assert {d["id"] for d in tx.search("enrollments", peer_id="P0001")} == {"E0001", "E0002"}
        assert {d["name"] for d in tx.search("summaries", peer_id="P0001")} == {"Maria Lopez"}
        assert tx.all("sessions")[0]["leaders"] == ["P0001", "P0003"]
        assert tx.get("peers", "P0002") is None
        merged = tx.get("merged_peers", "P0002")
        assert tx.counters()["P"] == 3  # ids are never reused
    assert merged["merged_into"] == "P0001" and merged["on"] == "2026-06-01"
    assert merged["peer"]["email"] == "mlopez@example.org"  # the duplicate's own values are kept


def test_merge_is_one_audit_event_and_keep_s_history_includes_the_duplicate_s(twins):
    run = twins
    before = len(json.loads(ok(run("audit", "--json"))))
    ok(run("peer", "merge", "P0001", "P0002"))
    events = json.loads(ok(run("audit", "--json")))
    assert len(events) == before + 1
    merge = events[-1]
    assert (merge["action"], merge["entity_id"], merge["peer_id"]) == ("merge", "P0002", "P0001")
    assert merge["details"]["moved"]["enrollments"] == ["E0002"]
    assert merge["details"]["moved"]["offerings"] == ["O0001"]
    assert merge["details"]["filled"] == ["consent", "languages", "member_until", "phone", "source"]
    history = json.loads(ok(run("audit", "--peer", "P0001", "--json")))
    assert {e["peer_id"] for e in history} == {"P0001", "P0002"}
    assert ("add", "P0002") in {(e["action"], e["entity_id"]) for e in history}
    duplicate = json.loads(ok(run("audit", "--peer", "P0002", "--json")))
    assert duplicate[-1]["action"] == "merge"


def test_the_duplicate_s_id_says_where_it_went(twins):
    run = twins
    ok(run("peer", "merge", "P0001", "P0002"))
    assert_refused(run("peer", "show", "P0002"), "P0002", "merged into P0001")
    assert_refused(run("record", "P0002", "peer_to_peer", "online_course"), "merged into P0001")


def test_dry_run_lists_what_would_move_and_writes_nothing(twins, db):
    before = snapshot(db)
    out = ok(twins("peer", "merge", "P0001", "P0002", "--dry-run"))
    assert out.startswith("Dry run: would merge P0002 into P0001; nothing was written.")
    assert "step records: R0001, R0002, R0003, R0004, R0005" in out
    assert "fields filled from P0002: consent, languages, member_until, phone, source" in out
    assert snapshot(db) == before


@pytest.mark.parametrize("args, fragments", [
    (("P0001", "P0001"), ("P0001 into itself",)),
    (("P0001", "P0099"), ("unknown peer 'P0099'",)),
    (("P0099", "P0002"), ("unknown peer 'P0099'",)),
    (("P0002", "P0003"), ("both are enrolled in peer_to_peer as teacher",)),
])
def test_a_refused_merge_changes_nothing(twins, db, args, fragments):
    before = snapshot(db)
    assert_refused(twins("peer", "merge", *args), *fragments)
    assert_refused(twins("peer", "merge", *args, "--dry-run"), *fragments)
    assert snapshot(db) == before


def test_merging_a_peer_already_merged_is_refused(twins, db):
    ok(twins("peer", "merge", "P0001", "P0002"))
    before = snapshot(db)
    assert_refused(twins("peer", "merge", "P0003", "P0002"), "P0002", "merged into P0001")
    assert_refused(twins("peer", "merge", "P0002", "P0003"), "P0002", "merged into P0001")
    assert snapshot(db) == before


def test_merging_the_peer_kept_later_follows_the_earlier_merge(twins, db):
    ok(twins("peer", "add", "Maria L.", "--on", "2026-01-01"))
    ok(twins("peer", "merge", "P0004", "P0001"))
    ok(twins("peer", "merge", "P0004", "P0002"))  # P0002 had no enrolment in connection
    assert_refused(twins("peer", "show", "P0001"), "merged into P0004")
    ok(twins("peer", "add", "Someone", "--on", "2026-01-01"))
    ok(twins("peer", "merge", "P0005", "P0004"))
    assert_refused(twins("peer", "show", "P0002"), "merged into P0005")
    assert {e["peer_id"] for e in json.loads(ok(twins("audit", "--peer", "P0005", "--json")))} >= {
        "P0001", "P0002", "P0004", "P0005"}


def test_merge_moves_records_between_chunks_of_the_sharded_tables(initialised):
    tracker = Tracker(db=initialised, today="2026-06-01")
    tracker.add_peers([{"name": f"Peer {n}", "lived_experience": "self", "on": "2026-01-01"} for n in range(501)])
    tracker.enroll("P0501", "peer_to_peer", on="2026-01-02")
    tracker.record_step("P0501", "peer_to_peer", "affiliate_interview", outcome="passed", on="2026-01-10")
    result = tracker.merge_peers("P0001", "P0501")
    assert result.moved["enrollments"] == ["E0001"]
    with tracker.reading() as tx:
        assert tx.search("step_records", peer_id="P0001")[0]["id"] == "R0001"
        assert tx.search("enrollments", peer_id="P0501") == []
    assert [status.peer.id for status in tracker.leaders()] == ["P0001"]
    assert len(tracker.peers()) == 500
