"""report capacity --horizon (issue 17, point 2): the leaders each planned or running offering
keeps through the horizon, the shortfall by date, who can fill it, and where to recruit."""

import csv
import io
import json

import pytest

from conftest import assert_refused, certify_teacher, ok, snapshot

pytestmark = pytest.mark.both_backends  # each test on a file and on PostgreSQL (conftest.py)

TODAY = "2027-12-01"  # the teachers certified 2026-02-02 (730 days) lapse on 2028-02-03


@pytest.fixture
def affiliate(peers, run, monkeypatch):
    """Two Peer-to-Peer teachers lapsing within 90 days, leading a planned class in Spanish; a
    trainee missing only the training, on the roster of a planned training; a third teacher on
    hold; a screened prospect who speaks Spanish."""
    monkeypatch.setenv("PEERPATH_TODAY", TODAY)
    ok(run("peer", "edit", "P0001", "--source", "hospital talk", "--sector", "health", "--community", "Cicero",
           "--language", "Spanish"))
    ok(run("peer", "edit", "P0002", "--source", "graduate", "--community", "Berwyn"))
    certify_teacher(run, "P0001")
    certify_teacher(run, "P0002")
    ok(run("peer", "add", "Cy", "--lived-experience", "self", "--language", "Spanish", "--source", "web form"))  # P0003
    ok(run("enroll", "P0003", "peer_to_peer", "--on", "2027-10-01"))
    ok(run("record", "P0003", "peer_to_peer", "affiliate_interview", "--outcome", "passed", "--on", "2027-10-05"))
    ok(run("record", "P0003", "peer_to_peer", "fidelity_agreement", "--on", "2027-10-06"))
    ok(run("record", "P0003", "peer_to_peer", "online_course", "--on", "2027-10-10"))
    ok(run("record", "P0003", "peer_to_peer", "trainer_interview", "--outcome", "passed", "--on", "2027-10-20"))
    assert ok(run("training", "add", "peer_to_peer", "--on", "2027-12-20", "--until", "2027-12-21")) == "T0001\n"
    ok(run("training", "enroll", "T0001", "P0003"))
    ok(run("peer", "add", "Di", "--lived-experience", "self", "--consent", "adult=yes"))  # P0004
    certify_teacher(run, "P0004")
    ok(run("status", "P0004", "peer_to_peer", "on hold", "--reason", "moving house"))
    ok(run("peer", "add", "Ed", "--language", "spanish", "--stage", "screened"))  # P0005
    ok(run("peer", "add", "Flo", "--stage", "accepted"))  # P0006: speaks no Spanish
    assert ok(run("offering", "add", "peer_to_peer", "Clase de Cicero", "--leaders", "P0001,P0002",
                  "--status", "planned", "--started", "2028-01-08", "--cadence", "Weekly",
                  "--language", "Spanish")) == "O0001\n"
    return peers


def forecast(run, *args):
    return json.loads(ok(run("report", "capacity", "--json", *args)))["figures"]


def test_leaders_lapsing_within_the_horizon_leave_the_offering_short_from_the_day_after(affiliate, run):
    figures = forecast(run)
    assert (figures["horizon_days"], figures["until"]) == (90, "2028-02-29")
    assert figures["short_offerings"] == []  # both teachers certified today: not short now
    [offering] = figures["forecast"]
    assert (offering["status"], offering["from"], offering["cadence"], offering["language"]) == \
        ("planned", "2028-01-08", "weekly", "Spanish")
    assert (offering["needed"], offering["active_now"], offering["active_through"]) == (2, 2, 0)
    assert (offering["short"], offering["short_from"]) == (2, "2028-02-03")
    assert [(x["peer"], x["until"]) for x in offering["lapsing"]] == [("P0001", "2028-02-02"), ("P0002", "2028-02-02")]


def test_who_can_fill_it_trainees_by_the_next_training_then_held_leaders_then_prospects(affiliate, run):
    [offering] = forecast(run)["forecast"]
    assert [(c["kind"], c["peer"]) for c in offering["fill"]] == \
        [("trainee", "P0003"), ("on hold", "P0004"), ("prospect", "P0005")]
    trainee, held, prospect = offering["fill"]
    assert (trainee["expected"], trainee["in_time"]) == ("2027-12-21", True)
    assert trainee["note"] == "expected certified 2027-12-21 at T0001 (in time)"
    assert held["note"] == "on hold by hand: peerpath status P0004 peer_to_peer active"
    assert prospect["note"] == "screened, speaks Spanish, in no program yet"
    recruit = offering["recruit"]
    assert recruit["peers"] == 1  # short 2, less the trainee certified in time
    assert recruit["text"].startswith(
        "recruit 1 Spanish-speaking peer for NAMI Peer-to-Peer; hospital talk (health) in Cicero gave 1 of your "
        "last 1 Spanish-speaking leaders")


def test_the_text_report_shows_the_forecast_tables(affiliate, run, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = ok(run("report", "capacity"))
    for line in ("forecast to 2028-02-29 (90 days)", "leaders lapsing within the horizon", "who can fill a shortfall",
                 "where to recruit", "recruitment yield", "expected certified 2027-12-21 at T0001 (in time)"):
        assert line in out, line
    rows = list(csv.DictReader(io.StringIO(ok(run("report", "capacity", "--csv")))))
    [row] = [r for r in rows if r["table"] == "forecast to 2028-02-29 (90 days)"]
    assert (row["offering"], row["status"], row["short"], row["short from"]) == ("O0001", "planned", "2", "2028-02-03")


def test_a_shorter_horizon_sees_no_lapse_and_no_shortfall(affiliate, run):
    [offering] = forecast(run, "--horizon", "60")["forecast"]
    assert (offering["short"], offering["short_from"], offering["lapsing"], offering["fill"]) == (0, None, [], [])
    assert offering["recruit"] is None


def test_a_training_after_the_shortfall_begins_is_not_in_time(affiliate, run, db):
    ok(run("peer", "add", "Gus", "--lived-experience", "self"))  # P0007, trained only in March
    ok(run("enroll", "P0007", "peer_to_peer", "--on", "2027-10-01"))
    for step, outcome in (("affiliate_interview", "passed"), ("fidelity_agreement", None), ("online_course", None)):
        ok(run("record", "P0007", "peer_to_peer", step, *(["--outcome", outcome] if outcome else []),
               "--on", "2027-10-10"))
    [offering] = forecast(run, "--horizon", "120")["forecast"]
    [gus] = [c for c in offering["fill"] if c["peer"] == "P0007"]
    assert gus["note"] == "if trainer_interview done before T0001 on 2027-12-20: certified 2027-12-21"
    ok(run("training", "add", "peer_to_peer", "--on", "2028-03-01", "--capacity", "1"))  # T0002
    ok(run("training", "enroll", "T0002", "P0003"))  # on two rosters: the first still counts
    [offering] = forecast(run)["forecast"]
    assert [c["in_time"] for c in offering["fill"] if c["peer"] == "P0003"] == [True]


def test_an_offering_that_ended_or_is_past_its_end_is_not_forecast(affiliate, run):
    ok(run("offering", "edit", "O0001", "--ended", "2028-01-31"))  # ends before the teachers lapse
    [offering] = forecast(run)["forecast"]
    assert (offering["to"], offering["short"], offering["active_through"]) == ("2028-01-31", 0, 2)
    ok(run("offering", "close", "O0001", "--cancelled"))  # before its first day: ends today
    assert forecast(run)["forecast"] == []


def test_horizon_is_refused_by_reports_without_one_and_out_of_range(affiliate, run, db):
    before = snapshot(db)
    assert_refused(run("report", "funnel", "--horizon", "30"),
                   "report 'funnel' has no --horizon; the reports that do: capacity")
    assert_refused(run("report", "capacity", "--horizon", "-1"), "--horizon")
    assert_refused(run("report", "capacity", "--horizon", "soon"), "--horizon")
    assert_refused(run("offering", "add", "peer_to_peer", "Daily", "--cadence", "daily"),
                   "unknown cadence 'daily': choose from weekly, biweekly, monthly, on request")
    assert snapshot(db) == before


def test_the_forecast_is_audited_nowhere_reports_change_nothing(affiliate, run, db):
    before = snapshot(db)
    forecast(run)
    ok(run("report", "capacity", "--horizon", "365"))
    assert snapshot(db) == before


def test_the_demo_forecast_shows_its_shortfalls(demo_db, run):
    figures = forecast(run)
    assert [s["offering"] for s in figures["short_offerings"]] == ["O0002", "O0007"]
    spanish = next(f for f in figures["forecast"] if f["offering"] == "O0007")
    assert (spanish["status"], spanish["language"], spanish["short_from"]) == ("planned", "Spanish", "2027-01-10")
    assert [c["peer"] for c in spanish["fill"] if c["kind"] == "trainee"] == ["P0029"]
    assert spanish["recruit"]["text"].startswith("recruit 1 Spanish-speaking peer for NAMI Peer-to-Peer")
