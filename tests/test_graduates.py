"""Graduates -> leaders (issue 17, points 1 and 4): `offering close --graduates --graduate`
records a completed offering's graduates, links or adds those who consent as peers whose source
is graduate, and `report funnel --source graduate` and `report graduates` follow them."""

import json

import pytest

from conftest import assert_refused, ok, snapshot

pytestmark = pytest.mark.both_backends  # each test on a file and on PostgreSQL (conftest.py)


@pytest.fixture
def closed(on_engine_today, peers, run):
    """O0001, a Peer-to-Peer class closed on 2026-04-30 with 8 graduates: Ana (P0001) linked,
    Rosa Mendez added (P0003); O0002, a Connection group still running."""
    assert ok(run("offering", "add", "peer_to_peer", "Spring class", "--started", "2026-03-01",
                  "--cadence", "weekly")) == "O0001\n"
    assert ok(run("offering", "add", "connection", "Tuesday group", "--cadence", "biweekly")) == "O0002\n"
    out = ok(run("offering", "close", "O0001", "--on", "2026-04-30", "--graduates", "8",
                 "--graduate", "P0001", "--graduate", "  Rosa   Mendez "))
    assert out == ("O0001 is completed (2026-04-30), 8 graduate(s)\n"
                   "  P0001 Ana: graduate of O0001\n  P0003 Rosa Mendez: graduate of O0001\n")
    return peers


def peer_doc(run, peer):
    return json.loads(ok(run("peer", "show", peer, "--json")))


def test_close_records_the_count_and_links_or_adds_each_graduate(closed, run):
    [offering, _] = json.loads(ok(run("offering", "list", "--json")))
    assert (offering["status"], offering["ended"], offering["graduates"], offering["cadence"]) == \
        ("completed", "2026-04-30", 8, "weekly")
    ana, rosa = peer_doc(run, "P0001"), peer_doc(run, "P0003")
    assert (ana["source"], ana["graduate_of"], ana["source_detail"]) == ("graduate", "O0001", "Spring class")
    assert (rosa["name"], rosa["stage"], rosa["source"], rosa["graduate_of"], rosa["consent"]) == \
        ("Rosa Mendez", "prospect", "graduate", "O0001", {"contact": True})
    assert rosa["stage_history"][0]["on"] == "2026-04-30"
    events = json.loads(ok(run("audit", "--json")))[-3:]
    assert [(e["action"], e["entity"], e["entity_id"]) for e in events] == \
        [("edit", "offerings", "O0001"), ("graduate", "peers", "P0001"), ("add", "peers", "P0003")]
    assert events[1]["details"]["changes"]["graduate_of"] == {"old": None, "new": "O0001"}


def test_the_count_alone_and_the_default_count(on_engine_today, peers, run):
    ok(run("offering", "add", "peer_to_peer", "A", "--started", "2026-03-01"))
    ok(run("offering", "add", "peer_to_peer", "B", "--started", "2026-03-01"))
    assert ok(run("offering", "close", "O0001", "--graduates", "5")) == "O0001 is completed (2026-06-01), 5 graduate(s)\n"
    ok(run("offering", "close", "O0002", "--graduate", "P0002"))
    assert [o["graduates"] for o in json.loads(ok(run("offering", "list", "--json")))] == [5, 1]
    ok(run("offering", "edit", "O0002", "--graduates", "7"))
    assert json.loads(ok(run("offering", "list", "--json")))[1]["graduates"] == 7


@pytest.mark.parametrize("args, message", [
    (("offering", "close", "O0002", "--cancelled", "--graduates", "3"), "a cancelled offering has no graduates"),
    (("offering", "close", "O0002", "--graduates", "1", "--graduate", "P0002", "--graduate", "Lu"),
     "--graduates 1 is fewer than the 2 graduates named"),
    (("offering", "close", "O0002", "--graduate", "P0001"), "P0001 is already a graduate of O0001"),
    (("offering", "close", "O0002", "--graduate", "P0099"), "unknown peer 'P0099'"),
    (("offering", "close", "O0002", "--graduate", "Lu", "--graduate", "Lu"), "graduate 'Lu' is named twice"),
    (("offering", "close", "O0002", "--graduate", "Lu", "--graduate", "P0004"), "P0004 came from 'hospital talk'"),
    (("offering", "close", "O0001", "--graduates", "2"), "O0001 is already completed"),
    (("offering", "edit", "O0002", "--graduates", "3"), "only a completed offering has graduates"),
    (("offering", "edit", "O0001", "--graduates", "1"), "--graduates 1 is fewer than the 2 graduates of O0001"),
    (("offering", "close", "O0002", "--graduates", "-1"), "--graduates"),
    (("peer", "add", "Mo", "--graduate-of", "O0002"), "O0002 is running, not completed"),
    (("peer", "add", "Mo", "--graduate-of", "O0001", "--source", "event"), "their source is 'graduate', not 'event'"),
    (("peer", "edit", "P0001", "--source", "event"), "P0001 graduated from O0001"),
    (("peer", "add", "Mo", "--graduate-of", "O0009"), "unknown offering 'O0009'"),
])
def test_bad_graduates_are_refused_with_one_line_and_nothing_stored(closed, run, db, args, message):
    ok(run("peer", "add", "Dee", "--source", "hospital talk"))  # P0004
    before = snapshot(db)
    assert_refused(run(*args), message)
    assert snapshot(db) == before


def test_peer_add_graduate_of_makes_a_graduate(closed, run):
    assert ok(run("peer", "add", "Mo", "--graduate-of", "O0001")) == "P0004\n"
    assert (peer_doc(run, "P0004")["source"], peer_doc(run, "P0004")["graduate_of"]) == ("graduate", "O0001")


def test_the_funnel_counts_graduates_by_their_source(closed, run):
    funnel = json.loads(ok(run("report", "funnel", "--source", "graduate", "--json")))["figures"]
    assert (funnel["peers"], funnel["by_source"]["graduate"]["total"]) == (2, 2)


def certify_facilitator(run, peer):
    ok(run("enroll", peer, "connection", "--on", "2026-05-01"))
    ok(run("record", peer, "connection", "application", "--on", "2026-05-01"))
    ok(run("record", peer, "connection", "reference", "--outcome", "passed", "--on", "2026-05-02"))
    ok(run("record", peer, "connection", "interview", "--outcome", "passed", "--on", "2026-05-03"))
    ok(run("record", peer, "connection", "fidelity_agreement", "--on", "2026-05-04"))
    ok(run("record", peer, "connection", "training", "--on", "2026-05-10", "--until", "2026-05-12"))


def test_report_graduates_counts_who_became_leaders_and_of_what(closed, run, db):
    certify_facilitator(run, "P0001")
    ok(run("peer", "add", "Zed", "--source", "graduate"))  # P0004: a graduate of no offering recorded
    before = snapshot(db)
    report = json.loads(ok(run("report", "graduates", "--json")))
    assert snapshot(db) == before
    figures = report["figures"]
    assert figures["programs"]["peer_to_peer"] == {
        "offerings": 1, "graduates": 8, "named": 2, "enrolled": 1, "leaders": 1, "leaders_percent_of_named": 50.0,
        "leader_of": {"connection": 1}}
    assert figures["programs"]["(no offering recorded)"]["named"] == 1
    assert figures["leaders"] == [{"peer": "P0001", "name": "Ana", "offering": "O0001", "from": "peer_to_peer",
                                   "leader_of": {"connection": "certified"}}]
    text = ok(run("report", "graduates"))
    assert "graduates who became leaders" in text and "connection certified" in text
    later = json.loads(ok(run("report", "graduates", "--from", "2026-05-01", "--json")))["figures"]["programs"]
    assert list(later) == ["(no offering recorded)"]  # O0001 ended before: only Zed, who came on 2026-06-01


def test_an_erased_graduate_still_counts(closed, run, db):
    certify_facilitator(run, "P0001")
    ok(run("peer", "erase", "P0001"))
    assert peer_doc(run, "P0001")["graduate_of"] == "O0001"  # not identifying: the statistics stay
    figures = json.loads(ok(run("report", "graduates", "--json")))["figures"]
    assert figures["programs"]["peer_to_peer"]["leaders"] == 1


def test_the_demo_has_graduates_who_became_leaders(demo_db, run):
    figures = json.loads(ok(run("report", "graduates", "--json")))["figures"]
    assert figures["programs"]["connection"]["graduates"] == 15
    assert figures["programs"]["peer_to_peer"]["leader_of"] == {"ioov": 1}
    assert [g["peer"] for g in figures["leaders"]] == ["P0027", "P0028", "P0030"]
    funnel = json.loads(ok(run("report", "funnel", "--source", "graduate", "--json")))["figures"]
    assert funnel["peers"] == 10


def test_the_python_api_takes_one_graduate_and_refuses_a_count_that_is_not_whole(on_engine_today, peers, db):
    from peerpath.core import Tracker, ValidationError

    tracker = Tracker(db=db, actor="tester")
    first = tracker.add_offering("peer_to_peer", "A", started="2026-03-01")
    with pytest.raises(ValidationError, match="whole number"):
        tracker.close_offering(first.id, graduates="5")
    tracker.close_offering(first.id, graduate="P0001")
    assert (tracker.offering(first.id).graduates, tracker.peer("P0001").graduate_of) == (1, first.id)
