"""Leader statuses after certification (issue 12): the Peer-to-Peer commitment counts whole
courses, a lapse makes the leader inactive or lapsed but is never a dead end (`reactivate`, with
the plugin's rule of what must be redone), and every status change is dated, explained and audited."""

import json

import pytest

from conftest import ENGINE_TODAY, assert_refused, certify_teacher, crss_walk, ok

TODAY = ENGINE_TODAY
pytestmark = [pytest.mark.usefixtures("on_engine_today"), pytest.mark.both_backends]


@pytest.fixture
def teacher(initialised, run):
    """P0001 certified to teach Peer-to-Peer on 2026-02-02 (valid 730 days), P0002 a co-teacher."""
    ok(run("peer", "add", "Ana", "--lived-experience", "self"))
    ok(run("peer", "add", "Bo", "--lived-experience", "self"))
    certify_teacher(run)
    ok(run("enroll", "P0002", "peer_to_peer", "--on", "2026-01-01"))
    return initialised


def status_of(run, peer, program, *options):
    [status] = json.loads(ok(run(*options, "progress", peer, program, "--json")))
    return status


def teach(run, offering, days):
    for day in days:
        ok(run("session", "add", offering, "--on", day))


WEEKS = ["2026-03-0%d" % d for d in (1, 8)] + ["2026-03-%d" % d for d in (15, 22, 29)] + \
    ["2026-04-0%d" % d for d in (5,)] + ["2026-04-%d" % d for d in (12, 19)]
LATER = [day.replace("2026-03", "2026-09").replace("2026-04", "2026-10") for day in WEEKS]


# --- the Peer-to-Peer commitment counts whole courses ----------------------------------------------


def test_one_session_led_is_not_a_course(teacher, run):
    ok(run("offering", "add", "peer_to_peer", "Spring class", "--leaders", "P0001,P0002"))
    ok(run("offering", "add", "peer_to_peer", "Summer class", "--leaders", "P0001,P0002"))
    ok(run("session", "add", "O0001", "--on", "2026-03-01"))
    ok(run("session", "add", "O0002", "--on", "2026-03-02"))
    assert status_of(run, "P0001", "peer_to_peer")["renewal"]["summary"] == "0/2 courses"


def test_a_course_counts_when_its_sessions_reach_the_format_or_it_is_completed(teacher, run):
    ok(run("offering", "add", "peer_to_peer", "Spring class", "--leaders", "P0001,P0002"))
    teach(run, "O0001", WEEKS[:7])
    assert status_of(run, "P0001", "peer_to_peer")["renewal"]["summary"] == "0/2 courses"
    teach(run, "O0001", WEEKS[7:])  # the eighth session: format.sessions
    assert status_of(run, "P0001", "peer_to_peer")["renewal"]["summary"] == "1/2 courses"
    ok(run("--today", "2026-12-01", "offering", "add", "peer_to_peer", "Short class", "--leaders", "P0001,P0002"))
    ok(run("--today", "2026-12-01", "session", "add", "O0002", "--on", "2026-09-06"))
    ok(run("--today", "2026-12-01", "offering", "close", "O0002", "--on", "2026-11-01"))  # completed early
    status = status_of(run, "P0001", "peer_to_peer", "--today", "2026-12-01")
    assert status["expires"] == "2030-02-01"  # two courses: renewed once


def test_format_sessions_is_the_affiliates_setting(teacher, run):
    ok(run("offering", "add", "peer_to_peer", "Spring class", "--leaders", "P0001,P0002"))
    teach(run, "O0001", WEEKS[:6])
    ok(run("config", "set", "peer_to_peer.format.sessions", "6"))
    assert status_of(run, "P0001", "peer_to_peer")["renewal"]["summary"] == "1/2 courses"


# --- falling short of the commitment makes the teacher inactive, never a dead end --------------------


def audit_statuses(run, enrollment):
    """The statuses the audit trail records for one enrolment, in order."""
    return [e["details"]["status"] for e in json.loads(ok(run("audit", "--json")))
            if e["details"].get("enrollment") == enrollment and "status" in e["details"]]


def test_a_teacher_short_of_the_commitment_becomes_inactive_and_can_be_reactivated(teacher, run, recording_plugin):
    after = ("--today", "2028-03-01")
    assert ok(run(*after, "sweep")).splitlines()[-1] == "1 certification(s) lapsed"
    status = status_of(run, "P0001", "peer_to_peer", *after)
    assert (status["status"], status["reason"]) == ("inactive", "did not meet commitment (expired 2028-02-02)")
    assert [(h["status"], h["on"]) for h in status["history"]] == [("certified", "2026-02-02"),
                                                                   ("inactive", "2028-02-03")]
    assert "P0001 peer_to_peer/teacher: inactive (did not meet commitment (expired 2028-02-02))" in \
        ok(run(*after, "progress", "P0001", "peer_to_peer"))
    assert_refused(run(*after, "status", "P0001", "peer_to_peer", "active"), "peerpath reactivate P0001 peer_to_peer")
    assert_refused(run(*after, "reactivate", "P0001", "peer_to_peer"),
                   "must first redo 'co_teach' since the lapse on 2028-02-03 (0/2 courses)")
    # Two courses co-taught since: the commitment met again.
    for name, day in (("Spring class", "2028-02-10"), ("Summer class", "2028-02-20")):
        ok(run(*after, "offering", "add", "peer_to_peer", name, "--leaders", "P0001,P0002"))
    for offering, day in (("O0001", "2028-02-10"), ("O0002", "2028-02-20")):
        ok(run(*after, "session", "add", offering, "--on", day))
        ok(run(*after, "offering", "close", offering, "--on", day))
    assert status_of(run, "P0001", "peer_to_peer", *after)["status"] == "inactive"  # until reactivated
    assert ok(run(*after, "reactivate", "P0001", "peer_to_peer", "--on", "2028-02-25")) == \
        "P0001 is certified again in peer_to_peer, expires 2030-02-24\n"
    status = status_of(run, "P0001", "peer_to_peer", *after)
    assert (status["status"], status["expires"], status["reason"]) == ("certified", "2030-02-24", "'co_teach' redone")
    assert [h["status"] for h in status["history"]] == ["certified", "inactive", "certified"]
    assert audit_statuses(run, status["enrollment"]) == ["certified", "inactive", "certified"]
    assert status["renewal"]["summary"] == "0/2 courses"  # the courses that reactivated do not renew
    listed = [s for s in json.loads(ok(run(*after, "leaders", "--json"))) if s["enrollment"] == status["enrollment"]]
    assert listed == [status]


def test_a_lapsed_credential_is_reactivated_after_the_renewal_is_redone(initialised, run):
    ok(run("peer", "add", "Ana", "--lived-experience", "self"))
    crss_walk(run, year=2024)  # certified 2024-04-01, lapsed 2026-04-02
    status = status_of(run, "P0001", "crss")
    assert (status["status"], status["reason"]) == ("lapsed", "certification lapsed (expired 2026-04-01)")
    ok(run("record", "P0001", "crss", "ceu", "--hours", 15, "--domain", "CRSS domains", "--on", "2026-04-10"))
    assert_refused(run("reactivate", "P0001", "crss"), "must first redo 'ceu'", "40 h")
    ok(run("record", "P0001", "crss", "ceu", "--hours", 25, "--domain", "Core functions", "--on", "2026-05-01"))
    assert_refused(run("reactivate", "P0001", "crss", "--on", "2026-04-20"), "before 'ceu' was redone (2026-05-01)")
    assert_refused(run("reactivate", "P0001", "crss", "--on", "2026-07-01"), "future")
    ok(run("reactivate", "P0001", "crss", "--on", "2026-05-02", "--reason", "40 CEUs since the lapse"))
    status = status_of(run, "P0001", "crss")
    assert (status["status"], status["expires"]) == ("certified", "2028-05-01")
    assert [(h["status"], h["on"], h["reason"]) for h in status["history"]] == [
        ("certified", "2024-04-01", "pathway completed"),
        ("lapsed", "2026-04-02", "certification lapsed (expired 2026-04-01)"),
        ("certified", "2026-05-02", "40 CEUs since the lapse")]
    assert audit_statuses(run, status["enrollment"]) == ["certified", "lapsed", "certified"]
    assert_refused(run("reactivate", "P0001", "crss"), "no lapsed crss certification to reactivate (status certified)")


def test_hold_and_return_are_dated_with_their_reasons(teacher, run):
    ok(run("status", "P0001", "peer_to_peer", "on hold", "--reason", "moving house"))
    assert_refused(run("status", "P0001", "peer_to_peer", "on hold"), "already on hold")
    status = status_of(run, "P0001", "peer_to_peer")
    assert (status["status"], status["reason"]) == ("on hold", "moving house")
    ok(run("status", "P0001", "peer_to_peer", "active"))
    status = status_of(run, "P0001", "peer_to_peer")
    assert [(h["status"], h["on"], h["reason"]) for h in status["history"]] == [
        ("certified", "2026-02-02", "pathway completed"), ("on hold", TODAY, "moving house"),
        ("certified", TODAY, "made active")]
    assert audit_statuses(run, status["enrollment"]) == ["certified", "on hold", "certified"]
    shown = ok(run("progress", "P0001", "peer_to_peer"))
    assert f"  {TODAY} on hold: moving house\n" in shown


def test_the_reactivation_rule_is_the_plugins(initialised, run):
    from peerpath.core import Pathway, ProgramModel, Role, Step, hookimpl
    from peerpath.core.testing import registered_plugin

    class Refresher:
        @hookimpl
        def register_programs(self, register):
            register(ProgramModel(key="mini", title="Mini", roles=[Role("leader", "Leader", pathway="mini")],
                                  pathways=[Pathway("mini", "Mini", steps=[Step("agreement", "Agreement", "attestation")],
                                                    validity_days=30, lapse_status="inactive",
                                                    lapse_reason="did not meet commitment",
                                                    renewal=Step("talks", "Talks", "count", {"min": 5}),
                                                    reactivation=Step("refresher", "Refresher", "training"))]))

    with registered_plugin(Refresher(), "refresher-test"):
        ok(run("peer", "add", "Ana", "--lived-experience", "self"))
        ok(run("enroll", "P0001", "mini", "--on", "2026-01-01"))
        assert_refused(run("record", "P0001", "mini", "refresher", "--on", "2026-01-02"), "no mini certification")
        ok(run("record", "P0001", "mini", "agreement", "--on", "2026-04-01"))  # lapses 2026-05-02
        assert status_of(run, "P0001", "mini")["status"] == "inactive"
        assert_refused(run("record", "P0001", "mini", "talks"), "to reactivate, record 'refresher'")
        assert_refused(run("reactivate", "P0001", "mini"), "must first redo 'refresher'")
        ok(run("record", "P0001", "mini", "refresher", "--on", "2026-05-20"))
        ok(run("reactivate", "P0001", "mini", "--on", "2026-05-21"))
        assert_refused(run("record", "P0001", "mini", "refresher"), "is for reactivating a lapsed certification")
        assert status_of(run, "P0001", "mini")["status"] == "certified"


# --- a view as of an earlier day (--today) -------------------------------------------------------------


def test_as_of_a_day_before_the_certification_the_teacher_is_in_training(teacher, run):
    """certify_teacher certified P0001 on 2026-02-02: the leader listing as of January says so."""
    assert status_of(run, "P0001", "peer_to_peer", "--today", "2026-01-20")["status"] == "in training"
    assert status_of(run, "P0001", "peer_to_peer", "--today", "2026-02-02")["status"] == "certified"
    before = {s["peer"]: s["status"] for s in json.loads(ok(run("--today", "2026-01-20", "leaders", "--json")))}
    assert before["P0001"] == "in training"


def test_as_of_a_day_before_a_hold_the_leader_is_not_on_hold(teacher, run):
    ok(run("status", "P0001", "peer_to_peer", "on hold", "--reason", "moving house"))  # dated 2026-06-01
    assert status_of(run, "P0001", "peer_to_peer")["status"] == "on hold"
    assert status_of(run, "P0001", "peer_to_peer", "--today", "2026-05-01")["status"] == "certified"


# --- renewals follow the records: a void un-renews, a late entry of timely CEUs renews -------------


def crss_specialist(run):
    """P0001 certified CRSS on 2025-04-01, expiring 2027-04-01 (renewed by 40 CEUs in the cycle)."""
    ok(run("peer", "add", "Ana", "--lived-experience", "self"))
    crss_walk(run, year=2025)


def ceus(run, on, core_functions_on=None):
    ok(run("record", "P0001", "crss", "ceu", "--hours", 15, "--domain", "CRSS domains", "--on", on))
    return ok(run("record", "P0001", "crss", "ceu", "--hours", 25, "--domain", "Core functions",
                  "--on", core_functions_on or on)).split(":")[0]


def audit_of(run, action):
    return [e for e in json.loads(ok(run("audit", "--json"))) if e["action"] == action]


def test_voiding_the_ceu_that_renewed_puts_the_expiry_back(initialised, run):
    crss_specialist(run)
    completing = ceus(run, "2026-01-05")
    assert status_of(run, "P0001", "crss")["expires"] == "2029-03-31"
    ok(run("void", completing, "--reason", "certificate belonged to another course"))
    status = status_of(run, "P0001", "crss")
    assert (status["status"], status["expires"]) == ("certified", "2027-04-01")
    assert status["renewal"]["summary"] == "15/40 h; Core functions 0/25"
    [unrenew] = audit_of(run, "unrenew")
    assert unrenew["details"]["expires"] == "2027-04-01"
    assert unrenew["details"]["reason"] == f"void {completing}: certificate belonged to another course"
    ceus(run, "2026-02-01")  # the CEUs done again: renewed again
    assert status_of(run, "P0001", "crss")["expires"] == "2029-03-31"


def test_a_void_that_leaves_the_renewal_complete_changes_nothing(initialised, run):
    crss_specialist(run)
    ceus(run, "2026-01-05")
    extra = ok(run("record", "P0001", "crss", "ceu", "--hours", 5, "--domain", "Core functions",
                   "--on", "2026-01-07")).split(":")[0]
    ok(run("void", extra, "--reason", "entered twice"))
    assert status_of(run, "P0001", "crss")["expires"] == "2029-03-31"
    assert audit_of(run, "unrenew") == []


def test_ceus_done_in_time_but_entered_after_the_expiry_renew(initialised, run, monkeypatch):
    crss_specialist(run)
    monkeypatch.setenv("PEERPATH_TODAY", "2027-05-01")
    ok(run("sweep"))
    assert status_of(run, "P0001", "crss")["status"] == "lapsed"
    ceus(run, "2027-03-01", core_functions_on="2027-03-20")  # before the 2027-04-01 expiry, entered in May
    status = status_of(run, "P0001", "crss")
    assert (status["status"], status["expires"]) == ("certified", "2029-03-31")
    assert status["history"][-2:] == [
        {"status": "lapsed", "on": "2027-04-02", "reason": "certification lapsed (expired 2027-04-01)"},
        {"status": "certified", "on": "2027-04-02", "reason": "renewed (done 2027-03-20, by the expiry)"}]


def test_ceus_done_after_the_expiry_do_not_renew_but_reactivate(initialised, run, monkeypatch):
    crss_specialist(run)
    monkeypatch.setenv("PEERPATH_TODAY", "2027-05-01")
    ceus(run, "2027-04-10")
    assert status_of(run, "P0001", "crss")["status"] == "lapsed"
    ok(run("reactivate", "P0001", "crss"))
    status = status_of(run, "P0001", "crss")
    assert (status["status"], status["expires"]) == ("certified", "2029-04-30")


def test_as_of_a_day_inside_a_hold_that_has_since_ended_the_leader_is_on_hold(teacher, run, monkeypatch):
    ok(run("status", "P0001", "peer_to_peer", "on hold", "--reason", "moving house"))  # 2026-06-01
    monkeypatch.setenv("PEERPATH_TODAY", "2026-08-01")
    ok(run("status", "P0001", "peer_to_peer", "active"))
    assert status_of(run, "P0001", "peer_to_peer")["status"] == "certified"
    assert status_of(run, "P0001", "peer_to_peer", "--today", "2026-07-01")["status"] == "on hold"
    assert status_of(run, "P0001", "peer_to_peer", "--today", "2026-05-01")["status"] == "certified"


def test_a_certification_backdated_before_a_hold_is_in_the_history_before_it(initialised, run):
    ok(run("peer", "add", "Ana", "--lived-experience", "self"))
    ok(run("enroll", "P0001", "peer_to_peer", "--on", "2026-01-01"))
    ok(run("status", "P0001", "peer_to_peer", "on hold", "--reason", "away"))  # 2026-06-01, in training
    for step, on, extra in (("affiliate_interview", "2026-01-05", ("--outcome", "passed")),
                            ("fidelity_agreement", "2026-01-06", ()), ("online_course", "2026-01-10", ()),
                            ("trainer_interview", "2026-01-26", ("--outcome", "passed"))):
        ok(run("record", "P0001", "peer_to_peer", step, "--on", on, *extra))
    ok(run("record", "P0001", "peer_to_peer", "training", "--on", "2026-02-01", "--until", "2026-02-02"))
    status = status_of(run, "P0001", "peer_to_peer")
    assert status["status"] == "on hold"
    assert [(h["status"], h["on"]) for h in status["history"]] == [("certified", "2026-02-02"), ("on hold", TODAY)]
    assert status_of(run, "P0001", "peer_to_peer", "--today", "2026-03-01")["status"] == "certified"
