"""core/filters.py: listings and reports filter the way coordinators ask (issue 11, point 4).

The affiliate below is small enough to check every expectation by hand:

    id     name   community  sector     source         languages         stage      entered     enrolled in
    P0001  Ana    Cicero     health     hospital talk  Spanish, English  accepted   2026-01-10  connection
    P0002  Bo     cicero     education  graduate       English           contacted  2026-02-15
    P0003  Cy     Berwyn     health     graduate       Español           accepted   2026-03-20  peer_to_peer
    P0004  Dee    Oak Park   -          event          -                 prospect   2026-04-05
    P0005  Émile  Cícero     faith      peer referral  french            accepted   2026-05-01  connection

plus two outreach events: a health fair in Cicero (10 reached) and a faith visit in Berwyn (5).
"""

import json

import pytest

from peerpath.core import PeerFilter, PeerpathError, Tracker, ValidationError, to_document

from conftest import assert_refused, ok, snapshot

TODAY = "2026-06-01"
PEERS = (
    ("Ana", dict(community="Cicero", sector="health", source="hospital talk", languages=["Spanish", "English"],
                 stage="accepted", on="2026-01-10")),
    ("Bo", dict(community="cicero", sector="education", source="graduate", languages=["English"],
                stage="contacted", on="2026-02-15")),
    ("Cy", dict(community="Berwyn", sector="health", source="graduate", languages=["Español"],
                stage="accepted", on="2026-03-20")),
    ("Dee", dict(community="Oak Park", source="event", stage="prospect", on="2026-04-05")),
    ("Émile", dict(community="Cícero", sector="faith", source="peer referral", languages=["french"],
                   stage="accepted", on="2026-05-01")),
)


@pytest.fixture
def affiliate(db, monkeypatch) -> Tracker:
    monkeypatch.setenv("PEERPATH_TODAY", TODAY)
    tracker = Tracker()
    tracker.init(affiliate="NAMI Filter County")
    for name, fields in PEERS:
        tracker.add_peer(name=name, lived_experience="self", consent={"adult": True}, **fields)
    tracker.enroll("P0001", "connection", on="2026-05-10")
    tracker.enroll("P0003", "peer_to_peer", on="2026-05-10")
    tracker.enroll("P0005", "connection", on="2026-05-10")
    tracker.add_outreach("health fair", on="2026-03-01", sector="health", community="Cicero", reached=10)
    tracker.add_outreach("faith visit", on="2026-03-02", sector="faith", community="Berwyn", reached=5)
    return tracker


def listed(run, *options) -> list:
    return [peer["id"] for peer in json.loads(ok(run("peer", "list", *options, "--json")))]


def leader_rows(run, *options) -> list:
    return [(row["peer"], row["program"]) for row in json.loads(ok(run("leaders", *options, "--json")))]


@pytest.mark.parametrize("options, ids", [
    ((), ["P0001", "P0002", "P0003", "P0004", "P0005"]),
    (("--community", "cicero"), ["P0001", "P0002", "P0005"]),         # case and accents ignored
    (("--community", "CÍCERO"), ["P0001", "P0002", "P0005"]),
    (("--community", "Oak  Park"), ["P0004"]),
    (("--community", "Cic"), []),                                     # whole names, not prefixes
    (("--sector", "health"), ["P0001", "P0003"]),
    (("--source", "graduate"), ["P0002", "P0003"]),
    (("--language", "english"), ["P0001", "P0002"]),
    (("--language", "espanol"), ["P0003"]),
    (("--language", "Spanish"), ["P0001"]),
    (("--program", "connection"), ["P0001", "P0005"]),
    (("--program", "peer_to_peer"), ["P0003"]),
    (("--program", "crss"), []),
    (("--stage", "accepted"), ["P0001", "P0003", "P0005"]),
    (("--since", "2026-02-15"), ["P0002", "P0003", "P0004", "P0005"]),   # inclusive
    (("--until", "2026-03-20"), ["P0001", "P0002", "P0003"]),            # inclusive
    (("--since", "2/15/2026", "--until", "March 20, 2026"), ["P0002", "P0003"]),
    (("--community", "cicero", "--stage", "accepted"), ["P0001", "P0005"]),
    (("--community", "cicero", "--stage", "accepted", "--program", "connection", "--sector", "faith"),
     ["P0005"]),
    (("--sector", "health", "--source", "graduate"), ["P0003"]),
    (("--sector", "health", "--language", "english", "--since", "2026-01-11"), []),
])
def test_peer_list_filters_alone_and_combined(affiliate, run, options, ids):
    assert listed(run, *options) == ids


def test_peer_list_table_shows_only_the_matching_peers(affiliate, run):
    lines = ok(run("peer", "list", "--sector", "health")).splitlines()
    assert [line.split()[0] for line in lines] == ["id", "P0001", "P0003"]


@pytest.mark.parametrize("options, rows", [
    ((), [("P0001", "connection"), ("P0003", "peer_to_peer"), ("P0005", "connection")]),
    (("--community", "cicero"), [("P0001", "connection"), ("P0005", "connection")]),
    (("--program", "connection"), [("P0001", "connection"), ("P0005", "connection")]),
    (("--language", "ESPAÑOL"), [("P0003", "peer_to_peer")]),
    (("--sector", "health"), [("P0001", "connection"), ("P0003", "peer_to_peer")]),
    (("--source", "peer referral"), [("P0005", "connection")]),
    (("--since", "2026-03-01", "--until", "2026-04-30"), [("P0003", "peer_to_peer")]),
    (("--stage", "contacted"), []),
    (("--sector", "health", "--status", "in training", "--program", "peer_to_peer"), [("P0003", "peer_to_peer")]),
])
def test_leaders_filter_by_their_peers(affiliate, run, options, rows):
    assert leader_rows(run, *options) == rows


def figures(run, name, *options) -> dict:
    return json.loads(ok(run("report", name, *options, "--json")))["figures"]


def test_funnel_counts_only_the_filtered_peers(affiliate, run):
    cicero = figures(run, "funnel", "--community", "cicero")
    assert cicero["peers"] == 3
    assert {stage: n for stage, n in cicero["by_stage"].items() if n} == {"accepted": 2, "contacted": 1}
    assert set(cicero["by_source"]) == {"hospital talk", "graduate", "peer referral"}
    health = figures(run, "funnel", "--sector", "health", "--from", "2026-02-01")   # the period still applies
    assert health["peers"] == 1 and health["by_source"]["graduate"]["total"] == 1


def test_funnel_text_names_the_filter(affiliate, run):
    lines = ok(run("report", "funnel", "--stage", "accepted", "--language", "french")).splitlines()
    assert lines[1] == "peers: language french, stage accepted"


def test_reach_counts_filtered_peers_and_the_events_of_the_community(affiliate, run):
    cicero = figures(run, "reach", "--community", "cicero")
    assert {name: row["recruited"] for name, row in cicero["by_community"].items()} == {
        "Cicero": 1, "cicero": 1, "Cícero": 1}
    assert cicero["by_community"]["Cicero"]["reached"] == 10
    assert "Berwyn" not in cicero["by_community"]
    accepted = figures(run, "reach", "--stage", "accepted")   # events have no stage: all are kept
    assert sum(row["recruited"] for row in accepted["by_sector"].values()) == 3
    assert sum(row["events"] for row in accepted["by_sector"].values()) == 2


def test_leaders_report_counts_the_filtered_leaders(affiliate, run):
    cicero = figures(run, "leaders", "--community", "cicero")
    assert (cicero["connection"]["in training"], cicero["peer_to_peer"]["in training"]) == (2, 0)
    health = figures(run, "leaders", "--sector", "health")
    assert (health["connection"]["in training"], health["peer_to_peer"]["in training"]) == (1, 1)


@pytest.mark.parametrize("args, message", [
    (("peer", "list", "--sector", "aerospace"),
     "unknown sector 'aerospace': choose from health, mental health, education, criminal justice, faith, housing"),
    (("peer", "list", "--source", "tv"), "unknown source 'tv': choose from graduate, hospital talk, "
                                        "community partner, peer referral, event, web form, other"),
    (("leaders", "--stage", "bogus"), "unknown stage 'bogus': choose from prospect, contacted, applied, "
                                      "screened, accepted, declined, withdrawn"),
    (("report", "funnel", "--program", "knitting"),
     "unknown program 'knitting': choose from connection, crss, ioov, peer_to_peer"),
    (("peer", "list", "--since", "2026-05-01", "--until", "2026-04-01"),
     "--since 2026-05-01 is after --until 2026-04-01"),
    (("peer", "list", "--since", "13/13/2026"), "Invalid value for '--since': unreadable date '13/13/2026'"),
    (("report", "capacity", "--community", "cicero"),
     "report 'capacity' does not filter peers (by community cicero); the reports that do: "
     "expiring, funnel, leaders, reach"),
    (("report", "rollup", "--stage", "accepted"), "report 'rollup' does not filter peers"),
])
def test_bad_filters_are_one_line_and_change_nothing(affiliate, run, db, args, message):
    before = snapshot(db)
    assert_refused(run(*args), message)
    assert snapshot(db) == before


def test_report_has_no_since_or_until_its_period_is_from_and_to(affiliate, run):
    assert_refused(run("report", "funnel", "--since", "2026-01-01"), "No such option '--since'")


def test_the_tracker_api_filters_the_same_way(affiliate):
    where = PeerFilter(community="CICERO", stage="accepted")
    assert [p.id for p in affiliate.peers(where=where)] == ["P0001", "P0005"]
    assert [s.peer.id for s in affiliate.leaders(where=PeerFilter(language="español"))] == ["P0003"]
    assert affiliate.report("funnel", where=PeerFilter(program="connection")).figures["peers"] == 2
    assert [p.id for p in affiliate.peers(stage="accepted", where=PeerFilter(sector="health"))] == [
        "P0001", "P0003"]


@pytest.mark.parametrize("stage, where, ids", [
    (None, PeerFilter(), ["P0001", "P0002", "P0003", "P0004", "P0005"]),
    ("accepted", PeerFilter(), ["P0001", "P0003", "P0005"]),
    (None, PeerFilter(community="cicero", language="ENGLISH"), ["P0001", "P0002"]),
    (None, PeerFilter(sector="faith", since="2026-04-05"), ["P0005"]),
    (None, PeerFilter(program="connection", until="2026-04-30"), ["P0001"]),
    ("accepted", PeerFilter(source="graduate"), ["P0003"]),
    ("prospect", PeerFilter(stage="accepted"), []),   # both stages must hold, as for peers()
])
def test_peer_documents_are_the_stored_documents_of_the_peers_chosen(affiliate, stage, where, ids):
    """What the counting reports read instead of entities: the same peers as `peers`, as stored."""
    documents = affiliate.peer_documents(stage=stage, where=where)
    assert [document["id"] for document in documents] == ids
    assert [to_document(peer) for peer in affiliate.peers(stage=stage, where=where)] == documents


@pytest.mark.parametrize("report", ["funnel", "reach", "rollup"])
def test_counting_reports_read_a_peer_stored_without_stage_as_rebuilding_it_does(affiliate, run, report):
    """Peer's defaults stand for fields an older document lacks: no stage is a prospect (as
    `--stage prospect` filters it), no stage history none, as when the peer was rebuilt."""
    before = json.loads(ok(run("report", report, "--json")))
    with affiliate.changing() as tx:
        document = tx.get("peers", "P0004")
        tx.replace("peers", {key: value for key, value in document.items() if key != "stage"})
    assert json.loads(ok(run("report", report, "--json"))) == before
    with affiliate.changing() as tx:
        document = tx.get("peers", "P0004")
        tx.replace("peers", {key: value for key, value in document.items() if key != "stage_history"})
    ok(run("report", report, "--json"))


def test_peer_documents_refuse_an_unknown_stage_or_program(affiliate):
    with pytest.raises(ValidationError, match="unknown stage 'hired'"):
        affiliate.peer_documents(stage="hired")
    with pytest.raises(PeerpathError, match="crsss"):
        affiliate.peer_documents(where=PeerFilter(program="crsss"))


def test_expiring_report_counts_only_the_filtered_certified_leaders(affiliate, run):
    for step, day, extra in (("affiliate_interview", "2026-05-11", {"outcome": "passed"}),
                             ("fidelity_agreement", "2026-05-11", {}),
                             ("online_course", "2026-05-12", {}),
                             ("trainer_interview", "2026-05-13", {"outcome": "passed"}),
                             ("training", "2026-05-30", {"until": "2026-05-31"})):
        affiliate.record_step("P0003", "peer_to_peer", step, on=day, **extra)
    expiring = [item["peer"] for item in figures(run, "expiring", "--days", "800")["expiring"]]
    assert expiring == ["P0003"]
    assert figures(run, "expiring", "--days", "800", "--community", "berwyn")["expiring"][0]["peer"] == "P0003"
    assert figures(run, "expiring", "--days", "800", "--community", "cicero")["expiring"] == []
