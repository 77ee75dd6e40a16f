"""The programs' published rules (issue 12, DOMAIN.md), one test per fact, through the CLI:
each failed on the plugins as they were before."""

import json

import pytest

from conftest import ENGINE_TODAY, assert_refused, certify_teacher, crss_walk, ok, snapshot

TODAY = ENGINE_TODAY
pytestmark = pytest.mark.usefixtures("on_engine_today")


def status_of(run, peer, pathway):
    [status] = [s for s in json.loads(ok(run("progress", peer, "--json"))) if s["pathway"] == pathway]
    return status


def states(status) -> dict:
    return {s["step"]: s["state"] for s in status["steps"]}


def facilitator(run, peer="P0001", until="2026-01-12"):
    """A Connection facilitator walked to the training, attended 2026-01-10 to `until`."""
    ok(run("enroll", peer, "connection", "--on", "2026-01-01"))
    for step, extra in (("application", ()), ("reference", ("--outcome", "passed")),
                        ("interview", ("--outcome", "passed")), ("fidelity_agreement", ())):
        ok(run("record", peer, "connection", step, *extra, "--on", "2026-01-05"))
    return ok(run("record", peer, "connection", "training", "--on", "2026-01-10", "--until", until))


def answers_file(tmp_path, run, checklist, name="answers.json", **changed):
    """Every item of `checklist` met, but for `changed`."""
    items = json.loads(ok(run("checklists", "show", checklist, "--json")))["items"]
    answers = {i["key"]: ("yes" if i["type"] == "yes_no" else 5) for i in items}
    path = tmp_path / name
    path.write_text(json.dumps({**answers, **changed}))
    return path


# --- Connection ------------------------------------------------------------------------------


def test_connection_facilitators_are_certified_on_graduating_from_a_three_day_training(peers, run):
    assert "in training" in facilitator(run, until="2026-01-11")  # two days of three
    ok(run("record", "P0001", "connection", "training", "--on", "2026-01-12"))
    status = status_of(run, "P0001", "connection")
    assert (status["status"], status["certified_on"]) == ("certified", "2026-01-12")
    assert (states(status)["co_facilitation"], states(status)["observed_session"]) == ("missing", "missing")


def test_the_new_leader_track_feeds_fidelity_due_until_a_first_observation_meets_fidelity(peers, run, tmp_path):
    facilitator(run)
    facilitator(run, "P0002")
    ok(run("offering", "add", "connection", "Tuesday group", "--leaders", "P0001,P0002", "--started", "2026-02-03"))
    ok(run("session", "add", "O0001", "--on", "2026-02-03"))
    weak = answers_file(tmp_path, run, "connection_meeting", check_in=1, agenda=1, processes=1)
    ok(run("observe", "O0001", "--observer", "Pat", "--on", "2026-03-03", "--answers", weak))
    due = json.loads(ok(run("fidelity", "due", "--json")))
    assert [(d["peer"], d["due"]) for d in due] == [("P0001", "2026-08-02"), ("P0002", "2026-08-02")]
    assert due[0]["reason"].startswith("new leader: observed_session observed 2026-03-03")
    assert status_of(run, "P0001", "connection")["status"] == "certified"  # the track is not certification
    ok(run("observe", "O0001", "--observer", "Pat", "--on", "2026-04-07",
           "--answers", answers_file(tmp_path, run, "connection_meeting")))
    assert json.loads(ok(run("fidelity", "due", "--json"))) == []


def test_the_connection_checklist_has_the_fourth_structure_emotional_stages(initialised, run):
    items = json.loads(ok(run("checklists", "show", "connection_meeting", "--json")))["items"]
    assert "Emotional Stages" in {i["key"]: i["text"] for i in items}["emotional_stages"]


def test_connection_rules_cite_nami_national_and_nami_virginia(initialised, run):
    shown = ok(run("programs", "show", "connection"))
    assert "connection.training.days = 3: NAMI national; NAMI Virginia" in shown
    assert "Illinois practice" not in shown


# --- Peer-to-Peer ----------------------------------------------------------------------------


def test_peer_to_peer_fidelity_agreement_comes_before_the_online_course(peers, run, db):
    ok(run("enroll", "P0001", "peer_to_peer", "--on", "2026-01-01"))
    ok(run("record", "P0001", "peer_to_peer", "affiliate_interview", "--outcome", "passed", "--on", "2026-01-05"))
    before = snapshot(db)
    assert_refused(run("record", "P0001", "peer_to_peer", "online_course", "--on", "2026-01-10"),
                   "'online_course' needs 'fidelity_agreement' first")
    assert snapshot(db) == before
    assert "certified 2026-02-02" in certify_teacher(run, "P0002")  # in the published order


# --- In Our Own Voice ------------------------------------------------------------------------


def test_ioov_presenters_are_certified_at_the_two_day_training(peers, run):
    ok(run("enroll", "P0001", "ioov", "--on", "2026-01-01"))
    ok(run("record", "P0001", "ioov", "fidelity_agreement", "--on", "2026-01-02"))
    output = ok(run("record", "P0001", "ioov", "training", "--on", "2026-01-10", "--until", "2026-01-11"))
    assert "certified 2026-01-11" in output  # no presentations needed


def test_presenters_used_fewer_than_twice_in_the_calendar_year_are_a_report_row(peers, run):
    for peer in ("P0001", "P0002"):
        ok(run("enroll", peer, "ioov", "--on", "2025-01-01"))
        ok(run("record", peer, "ioov", "fidelity_agreement", "--on", "2025-01-02"))
        ok(run("record", peer, "ioov", "training", "--on", "2025-01-10", "--until", "2025-01-11"))
    ok(run("offering", "add", "ioov", "Talks", "--leaders", "P0001,P0002"))
    for day in ("2025-11-01", "2025-12-01"):  # last year: both presented twice
        ok(run("session", "add", "O0001", "--on", day))
    ok(run("session", "add", "O0001", "--on", "2026-02-01"))
    ok(run("session", "add", "O0001", "--on", "2026-03-01", "--leaders", "P0001"))
    report = json.loads(ok(run("report", "presenter_use", "--json")))
    assert report["figures"]["short"] == [{"peer": "P0002", "name": "Bo", "presentations": 1}]
    assert report["tables"][0]["title"] == "used fewer than 2 times in 2026"
    assert json.loads(ok(run("report", "presenter_use", "--to", "2025-12-31", "--json")))["figures"]["short"] == []
    assert status_of(run, "P0002", "ioov")["status"] == "certified"  # an expectation, not certification
    assert_refused(run("report", "presenter_use", "--from", "2026-01-01"), "calendar year of --to")


def test_new_ioov_observations_use_the_three_section_checklist_and_old_ones_keep_their_score(peers, run, tmp_path):
    ok(run("enroll", "P0001", "ioov", "--on", "2026-01-01"))
    ok(run("offering", "add", "ioov", "Talks", "--leaders", "P0001"))
    old = answers_file(tmp_path, run, "ioov_presentation", "old.json", segments=3)
    ok(run("observe", "O0001", "--checklist", "ioov_presentation", "--observer", "Pat", "--on", "2016-05-01",
           "--answers", old))
    new = answers_file(tmp_path, run, "ioov_presentation_2017", "new.json")
    ok(run("observe", "O0001", "--observer", "Pat", "--on", "2026-05-01", "--answers", new))
    listed = {o["observation"]: o for o in json.loads(ok(run("fidelity", "report", "--json")))["offerings"]["O0001"]}
    assert (listed["F0001"]["percent"], listed["F0002"]["percent"]) == (80.0, 100.0)
    keys = [i["key"] for i in json.loads(ok(run("checklists", "show", "ioov_presentation_2017", "--json")))["items"]]
    assert {"what_happened", "what_helps", "whats_next"} <= set(keys) and "segments" not in keys
    assert "earlier version, superseded by ioov_presentation_2017" in ok(run("checklists", "show", "ioov_presentation"))


# --- CRSS ------------------------------------------------------------------------------------


def test_the_crss_exam_needs_the_complete_approved_application(peers, run, db):
    ok(run("enroll", "P0001", "crss", "--on", "2024-01-01"))
    ok(run("record", "P0001", "crss", "disclosure", "--on", "2024-01-02"))
    ok(run("record", "P0001", "crss", "education", "--hours", 100, "--domain", "Advocacy", "--on", "2024-01-03"))
    before = snapshot(db)
    assert_refused(run("record", "P0001", "crss", "exam", "--score", 90, "--on", "2024-02-01"),
                   "'exam' needs 'application' first")
    assert_refused(run("record", "P0001", "crss", "application", "--on", "2024-02-01"), "'application' needs 'education' first")
    assert snapshot(db) == before
    assert "certified 2024-04-01" in crss_walk(run, "P0002")


def test_crss_supervision_covers_the_domains_over_at_least_a_year(peers, run):
    ok(run("enroll", "P0001", "crss", "--on", "2024-01-01"))
    ok(run("record", "P0001", "crss", "supervision", "--hours", 100, "--domain", "Mentoring", "--on", "2024-03-01"))
    step = lambda: [s for s in status_of(run, "P0001", "crss")["steps"] if s["step"] == "supervision"][0]
    assert step()["state"] == "partial" and "Advocacy none" in step()["summary"]
    for domain in ("Advocacy", "Professional Responsibility", "Recovery Support"):
        ok(run("record", "P0001", "crss", "supervision", "--hours", 1, "--domain", domain, "--on", "2024-06-01"))
    assert (step()["state"], step()["summary"]) == ("partial", "103/100 h; maintained 92/365 days")
    ok(run("record", "P0001", "crss", "supervision", "--hours", 1, "--domain", "Mentoring", "--on", "2025-03-01"))
    assert (step()["state"], step()["completed_on"]) == ("done", "2025-03-01")


def test_crss_endorsements_have_no_default_and_grant_nothing_until_set(peers, run):
    crss_walk(run, year=2025)
    ok(run("enroll", "P0001", "crss", "--role", "employment", "--on", "2025-05-01"))
    for step in ("employment_education", "employment_experience", "employment_practice"):
        ok(run("record", "P0001", "crss", step, "--role", "employment", "--hours", 500, "--on", "2025-05-02"))
    assert status_of(run, "P0001", "crss_e")["status"] == "in training"
    assert "affiliate setting, no default" in status_of(run, "P0001", "crss_e")["steps"][0]["summary"]
    shown = ok(run("programs", "show", "crss"))
    assert "crss_e.employment_education.total = none: affiliate setting, no default" in shown
    assert "note: crss_e.employment_education.total is an affiliate setting with no default" in \
        ok(run("plugins", "check", "crss"))
    for step in ("employment_education", "employment_experience", "employment_practice"):
        ok(run("config", "set", f"crss_e.{step}.total", "100"))
    status = status_of(run, "P0001", "crss_e")
    assert (status["status"], status["certified_on"]) == ("certified", "2025-05-02")


# --- leader eligibility ----------------------------------------------------------------------


def test_connection_enrolment_needs_an_adult(initialised, run, db):
    ok(run("peer", "add", "Ana", "--lived-experience", "self"))                            # P0001
    ok(run("peer", "add", "Cy", "--lived-experience", "self", "--birth-date", "2009-01-01"))  # P0002: 17
    before = snapshot(db)
    assert_refused(run("enroll", "P0001", "connection"), "must be 18 or older", "no birth date or 18+ confirmation")
    assert_refused(run("enroll", "P0002", "connection"), "must be 18 or older", "born 2009-01-01")
    assert snapshot(db) == before
    ok(run("peer", "edit", "P0001", "--consent", "adult=yes"))
    ok(run("enroll", "P0001", "connection"))
    ok(run("--today", "2027-01-01", "enroll", "P0002", "connection"))  # 18 by then
    ok(run("config", "set", "connection.leader.min_age", "21"))  # an affiliate's own rule
    ok(run("peer", "add", "Dee", "--lived-experience", "self", "--consent", "adult=yes"))  # P0003
    assert_refused(run("enroll", "P0003", "connection"), "must be 21 or older", "has only an 18+ confirmation")
    ok(run("enroll", "P0001", "peer_to_peer"))  # Peer-to-Peer declares no age


def test_a_required_nami_membership_is_checked_at_enrolment(peers, run):
    ok(run("config", "set", "connection.leader.nami_membership", "yes"))
    assert_refused(run("enroll", "P0001", "connection"), "must be NAMI members", "membership is not recorded")
    ok(run("peer", "edit", "P0001", "--member-until", "2026-03-31"))
    assert_refused(run("enroll", "P0001", "connection"), "membership ended 2026-03-31")
    ok(run("enroll", "P0001", "connection", "--on", "2026-03-01"))  # a member on the day of enrolment
    ok(run("peer", "edit", "P0002", "--member-until", "2027-03-31"))
    ok(run("enroll", "P0002", "connection"))


# --- settings that nothing read ----------------------------------------------------------------


def test_only_settings_something_reads_are_listed(initialised, run):
    keys = {row["key"] for row in json.loads(ok(run("config", "show", "--json")))}
    unread = {"connection.leader.commitment_months", "connection.format.audience_min_age",
              "connection.format.minutes", "ioov.format.minutes", "peer_to_peer.format.session_minutes",
              "crss.format.renewal_warning_days", "ioov.presentations.min"}
    assert not keys & unread
    assert {"connection.leader.min_age", "peer_to_peer.format.sessions", "ioov.format.presentations_per_year"} <= keys


def test_the_online_course_length_is_shown_and_follows_its_setting(peers, run):
    ok(run("enroll", "P0001", "peer_to_peer", "--on", "2026-01-01"))
    summary = {s["step"]: s["summary"] for s in status_of(run, "P0001", "peer_to_peer")["steps"]}
    assert summary["online_course"] == "not completed (a course of about 8 h)"
    ok(run("config", "set", "peer_to_peer.online_course.hours", "6"))
    summary = {s["step"]: s["summary"] for s in status_of(run, "P0001", "peer_to_peer")["steps"]}
    assert summary["online_course"] == "not completed (a course of about 6 h)"


@pytest.mark.parametrize("program", ["connection", "peer_to_peer", "ioov", "crss"])
def test_programs_show_gives_every_setting_its_source(initialised, run, program):
    shown = ok(run("programs", "show", program))
    assert "no source given" not in shown
    prefixes = {program} | ({"crss_e", "crss_ya"} if program == "crss" else set())
    settings = [row["key"] for row in json.loads(ok(run("config", "show", "--json")))
                if row["key"].split(".")[0] in prefixes]
    assert settings
    for key in settings:
        [line] = [line for line in shown.splitlines() if line.strip().startswith(f"{key} = ")]
        assert ": " in line.split(" = ", 1)[1], line


@pytest.mark.parametrize("program", ["connection", "peer_to_peer", "ioov", "crss"])
def test_every_step_cites_where_it_comes_from(initialised, run, program):
    shown = json.loads(ok(run("programs", "show", program, "--json")))
    sources = shown["sources"]
    for pathway in shown["pathways"]:
        for step in pathway["steps"] + ([pathway["renewal"]] if pathway["renewal"] else []):
            key = f"{pathway['key']}.{'renewal' if step is pathway['renewal'] else step['key']}"
            assert key in sources or any(k.startswith(f"{key}.") for k in sources), key
