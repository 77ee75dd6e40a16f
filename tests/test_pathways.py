"""Certification pathways through the CLI: each built-in pathway walked to certification, each
refusal with its reason, overrides, renewal and lapse against a given today, corrections."""

import json
import re

import pytest

from conftest import CRSS_SUPERVISION, assert_refused, certify_teacher, crss_walk, manifest, ok, snapshot
from peerpath import core
from peerpath.core import Pathway, ProgramModel, Role, Step, hookimpl

pytestmark = pytest.mark.both_backends  # each test on a file and on PostgreSQL (conftest.py)

TODAY = "2026-06-01"


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setenv("PEERPATH_TODAY", TODAY)


def progress(run, peer, program):
    [status] = [s for s in json.loads(ok(run("progress", peer, program, "--json"))) if s["program"] == program]
    return status


def states(status) -> dict:
    return {s["step"]: s["state"] for s in status["steps"]}


def audit(run, action):
    return [e for e in json.loads(ok(run("audit", "--json"))) if e["action"] == action]


@pytest.fixture
def peers(initialised, run):
    ok(run("peer", "add", "Ana", "--lived-experience", "self", "--consent", "adult=yes"))      # P0001
    ok(run("peer", "add", "Bo", "--lived-experience", "both", "--consent", "adult=yes"))       # P0002
    ok(run("peer", "add", "Fay", "--lived-experience", "family"))    # P0003
    return initialised


MEETING = {"on_time": "yes", "two_facilitators": "yes", "welcome": "yes", "guidelines": "yes",
           "principles": "yes", "confidentiality": "yes", "check_in": 5, "agenda": 5, "processes": 5,
           "emotional_stages": "yes", "no_endorsement": "yes"}


# --- walks to certification -------------------------------------------------------------------


def test_connection_facilitator_walk(peers, run, tmp_path):
    for peer in ("P0001", "P0002"):
        ok(run("enroll", peer, "connection", "--on", "2026-01-01"))
        ok(run("record", peer, "connection", "application", "--on", "2026-01-02"))
        ok(run("record", peer, "connection", "reference", "--outcome", "passed", "--on", "2026-01-05"))
        ok(run("record", peer, "connection", "interview", "--outcome", "passed", "--on", "2026-01-06"))
        ok(run("record", peer, "connection", "fidelity_agreement", "--on", "2026-01-07"))
        ok(run("record", peer, "connection", "training", "--on", "2026-01-10", "--until", "2026-01-12"))
    status = progress(run, "P0001", "connection")
    assert status["status"] == "certified"  # on graduating from the 3-day training
    assert status["certified_on"] == "2026-01-12"
    assert status["expires"] is None  # Connection has no validity period by default
    assert sorted(e["peer_id"] for e in audit(run, "certify")) == ["P0001", "P0002"]
    # The new-leader track comes after: co-facilitation and a first observation.
    assert (states(status)["co_facilitation"], states(status)["observed_session"]) == ("missing", "missing")
    ok(run("offering", "add", "connection", "Tuesday group", "--leaders", "P0001,P0002"))
    ok(run("session", "add", "O0001", "--on", "2026-02-03"))
    assert states(progress(run, "P0001", "connection"))["co_facilitation"] == "done"
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(MEETING))
    ok(run("observe", "O0001", "--observer", "Pat", "--on", "2026-03-03", "--answers", answers))
    status = progress(run, "P0001", "connection")
    assert states(status)["observed_session"] == "done"
    assert status["certified_on"] == "2026-01-12"


def test_peer_to_peer_teacher_walk(peers, run):
    output = certify_teacher(run)
    assert "certified 2026-02-02, expires 2028-02-02" in output
    status = progress(run, "P0001", "peer_to_peer")
    assert status["status"] == "certified"
    assert set(states(status).values()) == {"done"}


def test_ioov_presenter_walk_certified_at_the_training(peers, run):
    ok(run("enroll", "P0002", "ioov", "--on", "2026-01-01"))
    ok(run("record", "P0002", "ioov", "fidelity_agreement", "--on", "2026-01-02"))
    ok(run("record", "P0002", "ioov", "training", "--on", "2026-01-10"))
    assert progress(run, "P0002", "ioov")["status"] == "in training"  # one day of two
    ok(run("record", "P0002", "ioov", "training", "--on", "2026-01-11"))
    status = progress(run, "P0002", "ioov")
    assert (status["status"], status["certified_on"]) == ("certified", "2026-01-11")
    assert states(status)["observed"] == "missing"  # the new-presenter track, optional


def crss_certified(run, peer="P0001"):
    return crss_walk(run, peer, 2024)  # certified 2024-04-01, expired by today


def test_crss_walk_and_its_validity(peers, run):
    assert "certified 2024-04-01, expires 2026-04-01" in crss_certified(run)
    assert [e["details"]["pathway"] for e in audit(run, "certify")] == ["crss"]


def test_crss_add_on_endorsement_needs_the_base_credential(peers, run, db):
    before = snapshot(db)
    assert_refused(run("enroll", "P0001", "crss", "--role", "employment"), "add-on", "'crss' pathway first")
    assert snapshot(db) == before
    ok(run("enroll", "P0001", "crss", "--on", "2024-01-01"))
    ok(run("enroll", "P0001", "crss", "--role", "employment", "--on", "2024-01-01"))
    for step, hours in (("employment_education", 20), ("employment_experience", 200), ("employment_practice", 50)):
        ok(run("config", "set", f"crss_e.{step}.total", hours))  # no public figure: the affiliate's
        ok(run("record", "P0001", "crss", step, "--role", "employment", "--hours", hours, "--on", "2024-01-05"))
    endorsement = lambda: [s for s in json.loads(ok(run("progress", "P0001", "crss", "--json")))
                           if s["pathway"] == "crss_e"][0]
    assert endorsement()["status"] == "in training"  # its steps are done, but there is no CRSS yet
    assert set(states(endorsement()).values()) == {"done"}
    base = ("--role", "specialist")
    for step in ("disclosure", "diploma", "code_of_ethics"):
        ok(run("record", "P0001", "crss", step, *base, "--on", "2024-01-02"))
    for domain, hours in (("Advocacy", 30), ("Professional Responsibility", 20), ("Mentoring", 20),
                          ("Recovery Support", 20), ("Ethics", 10)):
        ok(run("record", "P0001", "crss", "education", *base, "--hours", hours, "--domain", domain, "--on", "2024-02-01"))
    ok(run("record", "P0001", "crss", "experience", *base, "--hours", 2000, "--score", 60, "--on", "2024-03-01"))
    for domain, years, day in CRSS_SUPERVISION:
        ok(run("record", "P0001", "crss", "supervision", *base, "--hours", 25, "--domain", domain,
               "--on", f"{2024 + years}-{day}"))
    ok(run("record", "P0001", "crss", "application", *base, "--on", "2024-03-15"))
    ok(run("--today", "2024-05-01", "record", "P0001", "crss", "exam", *base, "--score", 75, "--on", "2024-04-01"))
    # Certifying the base credential settles the endorsement waiting on it.
    assert endorsement()["status"] == "certified"
    assert endorsement()["certified_on"] == "2024-04-01"  # the day the base credential was granted


# --- refusals ---------------------------------------------------------------------------------


def test_a_step_before_its_prerequisites_is_refused_unless_forced_with_a_reason(peers, run, db):
    ok(run("enroll", "P0001", "peer_to_peer", "--on", "2026-01-01"))
    before = snapshot(db)
    assert_refused(run("record", "P0001", "peer_to_peer", "online_course"),
                   "'online_course' needs 'fidelity_agreement' first")
    assert_refused(run("record", "P0001", "peer_to_peer", "online_course", "--force"), "--force needs --reason")
    assert snapshot(db) == before
    ok(run("record", "P0001", "peer_to_peer", "online_course", "--force", "--reason", "interview on paper"))
    [forced] = [e for e in audit(run, "record") if e["details"]["forced"]]
    assert forced["details"]["reason"] == "interview on paper"


def test_a_course_finished_too_late_does_not_count(peers, run):
    ok(run("enroll", "P0001", "peer_to_peer", "--on", "2026-01-01"))
    ok(run("record", "P0001", "peer_to_peer", "affiliate_interview", "--outcome", "passed", "--on", "2026-01-01"))
    ok(run("record", "P0001", "peer_to_peer", "fidelity_agreement", "--on", "2026-01-02"))
    ok(run("record", "P0001", "peer_to_peer", "online_course", "--on", "2026-01-25"))
    ok(run("record", "P0001", "peer_to_peer", "trainer_interview", "--outcome", "passed", "--on", "2026-01-26"))
    ok(run("record", "P0001", "peer_to_peer", "training", "--on", "2026-02-01", "--until", "2026-02-02",
           "--force", "--reason", "the trainer let the late course stand for now"))  # refused without
    status = progress(run, "P0001", "peer_to_peer")
    [course] = [s for s in status["steps"] if s["step"] == "online_course"]
    assert course["state"] == "failed"
    assert "at least 14 days before 'training' (by 2026-01-18)" in course["summary"]
    assert status["status"] == "in training"
    # the other order, a course recorded after the training: tests/test_engine_defects.py


def test_a_failed_exam_is_stored_but_does_not_certify(peers, run):
    ok(run("enroll", "P0001", "crss"))
    ok(run("record", "P0001", "crss", "disclosure"))
    ok(run("record", "P0001", "crss", "education", "--hours", 100, "--domain", "Advocacy", "--on", "2026-01-01"))
    ok(run("record", "P0001", "crss", "exam", "--score", 60, "--force", "--reason", "testing the exam"))
    [exam] = [s for s in progress(run, "P0001", "crss")["steps"] if s["step"] == "exam"]
    assert exam["state"] == "failed"
    assert "60" in exam["summary"] and "68" in exam["summary"]


def test_too_few_domain_hours_keep_education_partial(peers, run):
    ok(run("enroll", "P0001", "crss"))
    ok(run("record", "P0001", "crss", "education", "--hours", 100, "--domain", "Advocacy"))
    [education] = [s for s in progress(run, "P0001", "crss")["steps"] if s["step"] == "education"]
    assert education["state"] == "partial"
    assert education["summary"].startswith("100/100 h")
    assert "Mentoring 0/10" in education["summary"] and "Ethics 0/6" in education["summary"]


def test_hours_need_a_known_domain_where_the_step_has_domains(peers, run, db):
    ok(run("enroll", "P0001", "crss"))
    before = snapshot(db)
    assert_refused(run("record", "P0001", "crss", "education", "--hours", 5, "--domain", "Juggling"), "Juggling")
    assert_refused(run("record", "P0001", "crss", "education", "--domain", "Advocacy"), "hours")
    assert snapshot(db) == before


def test_wrong_lived_experience_is_refused_with_the_reason(peers, run, db):
    before = snapshot(db)
    assert_refused(run("enroll", "P0003", "crss"), "lived experience", "family")
    assert_refused(run("enroll", "P0003", "connection"), "lived experience")
    assert snapshot(db) == before


def test_a_date_in_the_future_is_refused(peers, run):
    ok(run("enroll", "P0001", "connection"))
    assert_refused(run("record", "P0001", "connection", "application", "--on", "2026-06-02"), "future")


# --- overrides ------------------------------------------------------------------------------------


def test_an_overridden_pass_mark_changes_the_outcome(peers, run):
    ok(run("enroll", "P0001", "crss"))
    ok(run("record", "P0001", "crss", "exam", "--score", 69, "--force", "--reason", "x"))
    exam = lambda: [s for s in progress(run, "P0001", "crss")["steps"] if s["step"] == "exam"][0]["state"]
    assert exam() == "done"
    ok(run("config", "set", "crss.exam.pass_mark", "70"))
    assert exam() == "failed"
    shown = ok(run("config", "show"))
    assert any(line.split()[:3] == ["crss.exam.pass_mark", "68", "70"] for line in shown.splitlines())
    ok(run("config", "unset", "crss.exam.pass_mark"))
    assert exam() == "done"
    [event] = audit(run, "configure")
    assert event["details"] == {"value": 70, "changes": {"crss.exam.pass_mark": {"old": 68, "new": 70}}}


@pytest.mark.parametrize("key, value, fragment", [
    ("crss.exam.pass_mark", "seventy", "whole number"),
    ("crss.exam.pass_mark", "-1", "between 0"),
    ("crss.exam.pass_mark", "1e400", "whole number"),
    ("crss.validity_days", "1e9", "whole number"),
    ("crss.validity_days", "99999", "between 0 and 36,500"),
    ("connection.training.days", "0", "between 1"),
    ("crss.exam.passmark", "70", "unknown setting 'crss.exam.passmark'"),
])
def test_bad_settings_are_refused(peers, run, db, key, value, fragment):
    before = snapshot(db)
    assert_refused(run("config", "set", "--", key, value), fragment)
    assert snapshot(db) == before


def test_an_optional_window_can_be_set_and_cleared(peers, run):
    ok(run("config", "set", "crss.experience.window_days", "1095"))
    ok(run("config", "set", "crss.experience.window_days", "none"))
    assert [e["details"]["value"] for e in audit(run, "configure")] == [1095, None]


def test_overridden_training_days(peers, run):
    ok(run("config", "set", "connection.training.days", "3"))
    ok(run("enroll", "P0001", "connection"))
    ok(run("record", "P0001", "connection", "training", "--on", "2026-01-10", "--until", "2026-01-11",
           "--force", "--reason", "x"))
    [training] = [s for s in progress(run, "P0001", "connection")["steps"] if s["step"] == "training"]
    assert (training["state"], training["summary"]) == ("partial", "2/3 days")


# --- renewal, lapse and status ------------------------------------------------------------------


def test_without_renewal_a_certification_lapses_once(peers, run, recording_plugin):
    crss_certified(run)  # on records two years old: expired 2026-04-01, recorded lapsed in the same change
    assert progress(run, "P0001", "crss")["status"] == "lapsed"
    assert len(recording_plugin.hooks("certification_lapsed")) == 1
    assert ok(run("sweep")).endswith("0 certification(s) lapsed\n")
    assert len(recording_plugin.hooks("certification_lapsed")) == 1
    # CEUs after a lapse renew nothing: they count toward reactivating (test_statuses.py).
    ok(run("record", "P0001", "crss", "ceu", "--hours", 40, "--domain", "CRSS domains"))
    assert progress(run, "P0001", "crss")["status"] == "lapsed"


def test_ceus_renew_the_certification_before_it_expires(peers, run):
    crss_certified(run)
    ok(run("--today", "2026-03-01", "record", "P0001", "crss", "ceu", "--hours", 15, "--domain", "CRSS domains",
           "--on", "2026-02-01"))
    ok(run("--today", "2026-03-01", "record", "P0001", "crss", "ceu", "--hours", 25, "--domain", "Core functions",
           "--on", "2026-02-02"))
    status = progress(run, "P0001", "crss")
    # 730 days from 2026-04-01 (the default validity is in days; 2028 is a leap year)
    assert (status["status"], status["expires"]) == ("certified", "2028-03-31")
    assert [e["details"]["expires"] for e in audit(run, "renew")] == ["2028-03-31"]


def test_expiring_leaders_and_what_if_dates(peers, run):
    crss_certified(run)
    listed = json.loads(ok(run("--today", "2026-03-01", "leaders", "--expiring-within", "60", "--json")))
    assert [s["peer"] for s in listed] == ["P0001"]
    assert json.loads(ok(run("--today", "2026-01-01", "leaders", "--expiring-within", "60", "--json"))) == []


def test_leader_status_on_hold_inactive_and_back(peers, run):
    certify_teacher(run)
    ok(run("status", "P0001", "peer_to_peer", "on hold"))
    assert progress(run, "P0001", "peer_to_peer")["status"] == "on hold"
    assert [s["peer"] for s in json.loads(ok(run("leaders", "--status", "on hold", "--json")))] == ["P0001"]
    ok(run("status", "P0001", "peer_to_peer", "inactive"))
    assert progress(run, "P0001", "peer_to_peer")["status"] == "inactive"
    ok(run("status", "P0001", "peer_to_peer", "active"))
    assert progress(run, "P0001", "peer_to_peer")["status"] == "certified"


# --- corrections ----------------------------------------------------------------------------------


def test_a_voided_record_stops_counting_and_stays_in_the_audit(peers, run, db):
    ok(run("enroll", "P0001", "crss"))
    ok(run("record", "P0001", "crss", "education", "--hours", 10, "--domain", "Advocacy"))
    ok(run("record", "P0001", "crss", "education", "--hours", 7, "--domain", "Ethics"))
    before = snapshot(db)
    assert_refused(run("void", "R0002"), "--reason")
    assert_refused(run("void", "R9999", "--reason", "typo"), "R9999")
    assert snapshot(db) == before
    ok(run("void", "R0002", "--reason", "entered for the wrong peer"))
    [education] = [s for s in progress(run, "P0001", "crss")["steps"] if s["step"] == "education"]
    assert education["summary"].startswith("10/100 h")
    [void] = audit(run, "void")
    assert void["entity_id"] == "R0002" and "wrong peer" in json.dumps(void["details"])
    assert_refused(run("void", "R0002", "--reason", "again"), "already")


def test_leaders_show_a_renamed_peer_by_the_new_name(peers, run, monkeypatch):
    certify_teacher(run)
    assert [s["name"] for s in json.loads(ok(run("leaders", "--json")))] == ["Ana"]
    ok(run("peer", "edit", "P0001", "--name", "Ana María"))
    assert [s["name"] for s in json.loads(ok(run("leaders", "--json")))] == ["Ana María"]
    monkeypatch.setenv("COLUMNS", "160")  # leaders' ten columns are cut short in 80
    assert "Ana María" in ok(run("leaders"))


def test_the_leaders_listing_from_stored_summaries_matches_progress_from_the_records(peers, run, monkeypatch):
    # leaders reads stored summaries; progress recomputes from the records: they must agree.
    certify_teacher(run)
    crss_certified(run, "P0002")
    ok(run("enroll", "P0001", "crss", "--on", "2026-01-01"))
    ok(run("record", "P0001", "crss", "education", "--hours", 12, "--domain", "Ethics", "--on", "2026-02-01"))
    ok(run("record", "P0001", "crss", "exam", "--score", 50, "--force", "--reason", "x", "--on", "2026-03-01"))
    listed = json.loads(ok(run("leaders", "--json")))
    fresh = [s for peer in ("P0001", "P0002") for s in json.loads(ok(run("progress", peer, "--json")))]
    assert len(listed) == 3
    assert sorted(listed, key=lambda s: s["enrollment"]) == sorted(fresh, key=lambda s: s["enrollment"])
    assert any(step["figures"] for status in listed for step in status["steps"])
    assert any(step["blocked_by"] for status in listed for step in status["steps"])
    # The table counts done steps and names the next ones from the stored rows, unrebuilt.
    monkeypatch.setenv("COLUMNS", "250")
    table = ok(run("leaders")).splitlines()[1:]
    for status in fresh:
        done = sum(step["state"] == "done" for step in status["steps"])
        upcoming = ", ".join(status["next"]) if not status["certified_on"] else ""
        row = rf"^{status['peer']} .* {status['program']} .* {done} +{len(status['steps'])} +{re.escape(upcoming)} "
        assert sum(bool(re.search(row, line)) for line in table) == 1, (row, table)
    assert any(status["next"] and not status["certified_on"] for status in fresh)


@pytest.mark.files_only("which chunk files of summaries a sweep rewrote")
def test_a_sweep_recomputes_only_the_summaries_that_no_longer_hold(peers, run, db):
    certify_teacher(run)
    crss_certified(run, "P0002")
    ok(run("sweep"))
    summary_files = {table: name for table, name in manifest(db)["tables"].items() if table.startswith("summaries")}
    ok(run("--today", "2026-07-01", "sweep"))  # nothing lapses, no pathway depends on the date
    assert {t: n for t, n in manifest(db)["tables"].items() if t.startswith("summaries")} == summary_files

    class Rolling:  # a plugin whose renewal counts only the last 30 days: its summaries age daily
        @hookimpl
        def register_programs(self, register):
            register(ProgramModel(key="rolling", title="Rolling", roles=[Role("leader", "Leader", pathway="rolling")],
                                  pathways=[Pathway(key="rolling", title="Rolling", steps=[
                                      Step("talks", "Talks given", "count", {"min": 1, "window_days": 30})])]))

    core.get_host().register(Rolling(), name="rolling")
    try:
        ok(run("enroll", "P0001", "rolling"))
        ok(run("record", "P0001", "rolling", "talks"))
        assert json.loads(ok(run("progress", "P0001", "rolling", "--json")))[0]["status"] == "certified"
        ok(run("--today", "2026-09-01", "sweep"))
        changed = {t for t, n in manifest(db)["tables"].items() if t.startswith("summaries") and summary_files.get(t) != n}
        assert changed  # the rolling pathway's summary was recomputed for the new day
        assert json.loads(ok(run("--today", "2026-09-01", "leaders", "--program", "rolling", "--json")))[0]["steps"][0][
            "state"] == "missing"
    finally:
        core.get_host().unregister("rolling")
