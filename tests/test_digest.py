"""`peerpath digest`: what needs doing, by role, most urgent first, from core's own answers and
the plugins' `digest_items`, as text, JSON or HTML."""

import json

import pytest

from conftest import assert_refused, certify_teacher, ok, snapshot
from peerpath import core
from peerpath.core import DigestItem, hookimpl


@pytest.fixture
def demo(demo_db):
    return demo_db


CEUS = "CRSS continuing education"  # the heading of the CRSS plugin's reminders


def items(run, *args):
    found = json.loads(ok(run("digest", "--format", "json", *args)))
    return found["items"]


def test_the_coordinator_sees_every_kind_most_urgent_first(demo, run):
    found = items(run)
    assert {item["kind"] for item in found if item["source"] == "core"} == \
        {"lapsing", "observation", "stalled", "no contact", "short", "seats"}  # seats: the demo's planned T0001
    assert {item["source"] for item in found} == {"core", "crss"}  # the CRSS plugin's CEU reminders
    assert [item["days_left"] for item in found] == sorted(item["days_left"] for item in found)
    followups = json.loads(ok(run("followups", "--json")))
    assert {i["peer"] for i in found if i["kind"] == "no contact"} == {f["peer"] for f in followups}
    due = json.loads(ok(run("fidelity", "due", "--json")))
    assert {i["peer"] for i in found if i["kind"] == "observation"} == {d["peer"] for d in due}


def test_a_lapsing_credential_says_when_and_what_it_lacks(demo, run):
    [lapsing] = [i for i in items(run) if i["kind"] == "lapsing"]
    assert lapsing["peer"] == "P0027" and lapsing["days_left"] == 10
    assert "expires 2026-12-11 (in 10 days); renewal 0/40 h" in lapsing["text"]
    # the warning window is reports.expiring_days, the rule of `leaders --expiring-within`
    ok(run("config", "set", "reports.expiring_days", "5"))
    assert not [i for i in items(run) if i["kind"] == "lapsing"]


def test_a_trainer_sees_no_prospects_and_a_leader_only_their_own_items(demo, run):
    assert {item["kind"] for item in items(run, "--role", "trainer")} == \
        {"lapsing", "observation", "stalled", "seats", CEUS}
    own = items(run, "--role", "leader", "--for", "P0027")
    assert own and {item["peer"] for item in own} == {"P0027"}
    assert {item["kind"] for item in own} == {"lapsing", "observation", CEUS}


def test_the_text_digest_groups_items_under_headings(demo, run):
    shown = ok(run("digest", "--role", "trainer"))
    assert shown.startswith("Digest for the trainer, as of 2026-12-01: 10 to do\n")
    assert "\nCredentials lapsing soon\n  in 10 days     P0027 June Fischer: " in shown
    assert "\nObservations due\n" in shown and "days late" in shown


def test_as_of_a_later_day_more_is_late(demo, run):
    now = {i["peer"]: i["days_left"] for i in items(run, "--role", "trainer") if i["kind"] == "lapsing"}
    later = {i["peer"]: i["days_left"] for i in items(run, "--role", "trainer", "--as-of", "2026-12-06")
             if i["kind"] == "lapsing"}
    assert later["P0027"] == now["P0027"] - 5


def test_an_html_digest_is_a_page_with_every_value_escaped(demo, run):
    ok(run("peer", "edit", "P0004", "--name", "<b>Priya</b>"))
    page = ok(run("digest", "--format", "html"))
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert "&lt;b&gt;Priya&lt;/b&gt;" in page and "<b>Priya" not in page
    assert "<h2>Prospects with no contact</h2>" in page


def test_refusals(demo, run):
    assert_refused(run("digest", "--role", "leader"), "give --for PEER")
    assert_refused(run("digest", "--for", "P9999"), "P9999")


def test_plugins_add_items_through_digest_items_and_a_failing_one_is_named(demo, run):
    class Reminders:
        @hookimpl
        def digest_items(self, tracker, role, peer_id):
            if role == "coordinator":
                return [DigestItem("CEUs", 45, "P0023: CEUs short by 12 h, renewal in 45 days", peer="P0023")]

    class Broken:
        @hookimpl
        def digest_items(self, role):
            raise RuntimeError("no mail today")

    host = core.get_host()
    host.register(Reminders(), name="reminders")
    host.register(Broken(), name="broken")
    try:
        result = run("digest", "--format", "json")
        trainer = items(run, "--role", "trainer")
    finally:
        host.unregister("reminders")
        host.unregister("broken")
    found = json.loads(ok(result))["items"]
    [ceus] = [i for i in found if i["kind"] == "CEUs"]
    assert ceus == {"kind": "CEUs", "days_left": 45, "peer": "P0023",
                    "text": "P0023: CEUs short by 12 h, renewal in 45 days", "source": "reminders",
                    "key": "reminders|CEUs|P0023|P0023: CEUs short by 12 h, renewal in 45 days"}
    assert "plugin 'broken' failed in digest_items" in result.stderr
    assert not [i for i in trainer if i["kind"] == "CEUs"]


def test_trainings_still_to_come_with_seats_left_are_listed_for_coordinator_and_trainer(demo, run):
    # the demo plans T0001 (2026-12-12 to 14, 12 seats, P0025 and P0026 on its roster)
    ok(run("training", "add", "connection", "--on", "2026-12-12", "--until", "2026-12-14",
           "--trainers", "State team", "--capacity", "3"))                                     # T0002
    ok(run("training", "add", "connection", "--on", "2026-12-20", "--capacity", "1"))        # T0003: full
    ok(run("training", "enroll", "T0003", "P0025"))
    ok(run("training", "add", "connection", "--on", "2026-12-22"))                           # T0004: no seats given
    ok(run("training", "add", "connection", "--on", "2026-11-20", "--capacity", "9"))        # T0005: begun already
    ok(run("training", "add", "connection", "--on", "2026-12-01", "--capacity", "2"))        # T0006: begins today
    for role in ("coordinator", "trainer"):
        seats = [i for i in items(run, "--role", role) if i["kind"] == "seats"]
        assert [(i["days_left"], i["text"]) for i in seats] == [
            (0, "T0006 connection training 2026-12-01: 2 of 2 seat(s) left"),
            (11, "T0001 connection training 2026-12-12 to 2026-12-14 (NAMI Illinois state trainers): "
                 "10 of 12 seat(s) left"),
            (11, "T0002 connection training 2026-12-12 to 2026-12-14 (State team): 3 of 3 seat(s) left")]
        assert all(i["peer"] is None and i["source"] == "core" for i in seats)
    assert not [i for i in items(run, "--role", "leader", "--for", "P0025") if i["kind"] == "seats"]
    shown = ok(run("digest", "--role", "trainer"))
    assert "\nTrainings with seats left\n  today          T0006 connection training 2026-12-01: 2 of 2" in shown
    # one more trainee: the reminder changes (a new key, so a mailed digest says it again)
    before = {i["key"] for i in items(run) if i["kind"] == "seats"}
    ok(run("training", "enroll", "T0002", "P0026"))
    after = [i for i in items(run) if i["kind"] == "seats"]
    assert "2 of 3 seat(s) left" in after[2]["text"] and after[2]["key"] not in before
    # a later day: the trainings that have begun are no longer listed
    assert [i["text"][:5] for i in items(run, "--as-of", "2026-12-13") if i["kind"] == "seats"] == []


def test_an_offering_short_of_leaders_within_the_forecast_horizon_is_due_the_day_it_falls_short(
        peers, run, db, monkeypatch):
    """Both teachers of a running class lapse on 2028-02-03 (certified 2026-02-02 for 730 days):
    not short today, but inside report capacity's 90-day horizon, so the coordinator hears of it."""
    monkeypatch.setenv("PEERPATH_TODAY", "2027-12-01")
    certify_teacher(run, "P0001")
    certify_teacher(run, "P0002")
    ok(run("offering", "add", "peer_to_peer", "Berwyn class", "--leaders", "P0001,P0002", "--started", "2026-03-01"))
    capacity = json.loads(ok(run("report", "capacity", "--json")))["figures"]
    assert capacity["short_offerings"] == []  # today's shortfall alone would say nothing
    before = snapshot(db)
    [short] = [i for i in items(run) if i["kind"] == "short"]
    assert (short["days_left"], short["peer"], short["key"]) == (64, None, "short:O0001:2028-02-03")
    assert short["text"].startswith("O0001 Berwyn class (peer_to_peer): short 2 of 2 leaders from 2028-02-03, "
                                    "2 trained and active today")
    assert "\nOfferings short of leaders\n  in 64 days     O0001 Berwyn class" in ok(run("digest"))
    assert not [i for i in items(run, "--role", "trainer") if i["kind"] == "short"]
    # 125 days before the lapse it is beyond the horizon; on the day it falls short it is due today
    assert not [i for i in items(run, "--as-of", "2027-10-01") if i["kind"] == "short"]
    [due] = [i for i in items(run, "--as-of", "2028-02-03") if i["kind"] == "short"]
    assert due["days_left"] == 0 and "short 2 of 2 leaders now, 0 trained and active today" in due["text"]
    assert snapshot(db) == before  # the digest changes nothing
