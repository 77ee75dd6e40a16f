"""Fidelity: checklist scoring by hand-computed figures, observations completing pathway steps,
the due list against a given today, the report, and refusals of bad answers."""

import json

import pytest

from peerpath.core import Band, Checklist, ChecklistItem
from peerpath.core.fidelity import INSUFFICIENT, normalise_answers, score

from conftest import assert_refused, ok, snapshot

pytestmark = pytest.mark.both_backends  # each test on a file and on PostgreSQL (conftest.py)

TODAY = "2026-06-01"

# The built-in Connection meeting checklist: 8 yes/no items of weight 1 (on_time, two_facilitators,
# welcome, guidelines, principles, confidentiality, emotional_stages, no_endorsement), ratings
# check_in and agenda of weight 1 and processes of weight 2 (which allows "insufficient data").
# Maximum: 8 + 5 + 5 + 10 = 28.
ALL_MET = {"on_time": "yes", "two_facilitators": "yes", "welcome": "yes", "guidelines": "yes",
           "principles": "yes", "confidentiality": "yes", "check_in": 5, "agenda": 5,
           "emotional_stages": "yes", "processes": 5, "no_endorsement": "yes"}

CHECKLIST = Checklist(
    key="t", program="p", title="T", version="3",
    items=[ChecklistItem("a", "A"), ChecklistItem("b", "B", weight=2, critical=True),
           ChecklistItem("r", "R", type="rating", weight=2, allow_insufficient=True),
           ChecklistItem("c", "C", type="rating", critical=True)],
    bands=[Band("good", 80), Band("fair", 60), Band("not supported", 0)], pass_band="good",
)


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setenv("PEERPATH_TODAY", TODAY)


def test_yes_no_and_ratings_score_by_weight():
    # a: yes 1/1; b: yes 2/2; r: 4 x 2 = 8/10; c: 3/5  ->  14/18 = 77.8% -> fair
    result = score(CHECKLIST, normalise_answers(CHECKLIST, {"a": "yes", "b": "y", "r": 4, "c": "3"}))
    assert (result.score, result.max_score, result.percent, result.band) == (14.0, 18.0, 77.8, "fair")
    assert result.critical_failed == () and result.passed is False  # fair is below the pass band


def test_insufficient_data_leaves_the_item_out_of_score_and_maximum():
    # r left out: a 1 + b 2 + c 5 = 8 of 1 + 2 + 5 = 8 -> 100% good, passed
    result = score(CHECKLIST, normalise_answers(CHECKLIST, {"a": "yes", "b": "yes", "r": "n/a", "c": 5}))
    assert (result.score, result.max_score, result.percent, result.band, result.passed) == (8.0, 8.0, 100.0, "good", True)


def test_a_critical_failure_fails_the_observation_whatever_the_score():
    # b is critical and "no": 1 + 0 + 10 + 5 = 16 of 18 = 88.9% (good) but not passed
    result = score(CHECKLIST, normalise_answers(CHECKLIST, {"a": "yes", "b": "no", "r": 5, "c": 5}))
    assert (result.percent, result.band, result.critical_failed, result.passed) == (88.9, "good", ("b",), False)
    # a critical rating below 3 fails too: 1 + 2 + 10 + 2 = 15/18 = 83.3%
    result = score(CHECKLIST, normalise_answers(CHECKLIST, {"a": "yes", "b": "yes", "r": 5, "c": 2}))
    assert (result.percent, result.critical_failed, result.passed) == (83.3, ("c",), False)


def test_the_lowest_band():
    # 0 + 2 + 2 + 3 = 7/18 = 38.9%
    result = score(CHECKLIST, normalise_answers(CHECKLIST, {"a": "no", "b": "yes", "r": 1, "c": 3}))
    assert (result.percent, result.band) == (38.9, "not supported")


@pytest.mark.parametrize("answers, fragment", [
    ({"a": "yes", "b": "yes", "r": 4}, "'c'"),
    ({"a": "yes", "b": "yes", "r": 4, "c": 3, "zz": "yes"}, "'zz'"),
    ({"a": "maybe", "b": "yes", "r": 4, "c": 3}, "'a'"),
    ({"a": "yes", "b": "yes", "r": 6, "c": 3}, "'r'"),
    ({"a": "yes", "b": "yes", "r": 4, "c": INSUFFICIENT}, "'c'"),
])
def test_bad_answers_are_refused_naming_the_item(answers, fragment):
    with pytest.raises(Exception, match=fragment):
        normalise_answers(CHECKLIST, answers)


# --- through the CLI -------------------------------------------------------------------------------


@pytest.fixture
def group(initialised, run):
    """Two Connection facilitators certified at their 3-day training and co-facilitating, on their
    new-leader track: waiting for their first observation."""
    for name in ("Ana", "Bo"):
        ok(run("peer", "add", name, "--lived-experience", "self", "--consent", "adult=yes"))
    for peer in ("P0001", "P0002"):
        ok(run("enroll", peer, "connection", "--on", "2026-01-01"))
        for step, extra in (("application", ()), ("reference", ("--outcome", "passed")),
                            ("interview", ("--outcome", "passed")), ("fidelity_agreement", ())):
            ok(run("record", peer, "connection", step, *extra, "--on", "2026-01-05"))
        ok(run("record", peer, "connection", "training", "--on", "2026-01-10", "--until", "2026-01-12"))
    ok(run("offering", "add", "connection", "Tuesday group", "--leaders", "P0001,P0002", "--location", "Library"))
    for day in ("2026-02-03", "2026-02-10", "2026-02-17", "2026-02-24"):
        ok(run("session", "add", "O0001", "--on", day, "--attendance", 6))
    return initialised


def observe(run, tmp_path, answers, on, name="answers.json"):
    path = tmp_path / name
    if name.endswith(".csv"):
        path.write_text("item,answer\n" + "".join(f"{k},{v}\n" for k, v in answers.items()))
    else:
        path.write_text(json.dumps(answers))
    return run("observe", "O0001", "--checklist", "connection_meeting", "--observer", "Pat", "--on", on,
               "--answers", path)


def observed_step(run, peer="P0001"):
    [status] = json.loads(ok(run("progress", peer, "connection", "--json")))
    return status, [s for s in status["steps"] if s["step"] == "observed_session"][0]


def test_offerings_and_sessions_feed_count_steps(group, run):
    [offering] = json.loads(ok(run("offering", "list", "--json")))
    assert (offering["id"], offering["leaders"], offering["location"]) == ("O0001", ["P0001", "P0002"], "Library")
    status, _ = observed_step(run)
    [count] = [s for s in status["steps"] if s["step"] == "co_facilitation"]
    assert (count["state"], count["summary"]) == ("done", "4/1 sessions")


def test_an_observation_below_threshold_does_not_complete_the_step(group, run, tmp_path):
    # check_in 1, agenda 1, processes 2: 8 + 1 + 1 + 4 = 14/28 = 50% -> not supported
    answers = {**ALL_MET, "check_in": 1, "agenda": 1, "processes": 2}
    output = ok(observe(run, tmp_path, answers, "2026-03-03"))
    assert "= 50% (not supported)" in output
    status, step = observed_step(run)
    assert step["state"] != "done"
    assert status["status"] == "certified"  # the observation is the new-leader track, not certification


def test_an_observation_at_threshold_completes_the_step_and_certifies(group, run, tmp_path):
    # agenda 3, processes 4: 8 + 5 + 3 + 8 = 24/28 = 85.7% -> good, passes the 80% step threshold
    output = ok(observe(run, tmp_path, {**ALL_MET, "agenda": 3, "processes": 4}, "2026-03-03", "answers.csv"))
    assert "85.7%" in output and "good" in output
    status, step = observed_step(run)
    assert step["state"] == "done"
    assert status["status"] == "certified" and status["certified_on"] == "2026-01-12"  # at the training
    [stored] = json.loads(ok(run("fidelity", "report", "--json")))["offerings"]["O0001"]
    assert (stored["percent"], stored["band"], stored["passed"]) == (85.7, "good", True)


def test_a_critical_failure_does_not_complete_the_step(group, run, tmp_path):
    output = ok(observe(run, tmp_path, {**ALL_MET, "principles": "no"}, "2026-03-03"))
    assert "principles" in output
    _, step = observed_step(run)
    assert step["state"] != "done"


@pytest.mark.parametrize("answers, fragment", [
    ({**ALL_MET, "juggling": "yes"}, "juggling"),
    ({k: v for k, v in ALL_MET.items() if k != "agenda"}, "agenda"),
    ({**ALL_MET, "check_in": 7}, "check_in"),
    ({**ALL_MET, "guidelines": "insufficient"}, "guidelines"),
])
def test_bad_answers_through_the_cli_store_nothing(group, run, db, tmp_path, answers, fragment):
    before = snapshot(db)
    assert_refused(observe(run, tmp_path, answers, "2026-03-03"), fragment)
    assert snapshot(db) == before


def test_answers_can_be_given_interactively(group, run):
    typed = "\n".join(str(ALL_MET[key]) for key in ALL_MET) + "\n"
    result = run("observe", "O0001", "--checklist", "connection_meeting", "--observer", "Pat", "--on", "2026-03-03",
                 input=typed)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith("28/28 = 100% (good); passed\n")


def test_the_report_shows_scores_over_time_most_missed_items_and_drift(group, run, tmp_path):
    ok(observe(run, tmp_path, ALL_MET, "2026-03-03"))
    ok(observe(run, tmp_path, {**ALL_MET, "on_time": "no", "agenda": 2}, "2026-04-07"))
    report = json.loads(ok(run("fidelity", "report", "--program", "connection", "--json")))
    # second: 7 + 5 + 2 + 10 = 24/28 = 85.7%
    assert [p["percent"] for p in report["offerings"]["O0001"]] == [100.0, 85.7]
    assert [p["percent"] for p in report["leaders"]["P0002"]] == [100.0, 85.7]
    assert {m["item"]: m["times"] for m in report["most_missed"]} == {"on_time": 1, "agenda": 1}
    [drift] = report["drift"]
    assert (drift["offering"], drift["from"], drift["to"], drift["drop"]) == ("O0001", 100.0, 85.7, 14.3)
    assert "O0001" in ok(run("fidelity", "report"))


def test_fidelity_due_for_new_and_long_standing_leaders(group, run, tmp_path):
    # New leaders: first offering began 2026-02-03, first observation within 180 days: due 2026-08-02.
    due = json.loads(ok(run("fidelity", "due", "--json")))
    assert [(d["peer"], d["due"], d["overdue_days"]) for d in due] == [("P0001", "2026-08-02", -62),
                                                                        ("P0002", "2026-08-02", -62)]
    assert "in 62 days" in ok(run("fidelity", "due"))
    ok(observe(run, tmp_path, ALL_MET, "2026-03-03"))
    assert json.loads(ok(run("fidelity", "due", "--json"))) == []
    # A year after their observation (interval 365 days) they are due again.
    assert json.loads(ok(run("--today", "2027-03-02", "fidelity", "due", "--json"))) == []
    late = json.loads(ok(run("--today", "2027-03-10", "fidelity", "due", "--json")))
    assert [(d["peer"], d["due"], d["overdue_days"], d["last_observed"]) for d in late] == [
        ("P0001", "2027-03-03", 7, "2026-03-03"), ("P0002", "2027-03-03", 7, "2026-03-03")]
    # ...and the cadence is an affiliate setting.
    ok(run("config", "set", "connection.format.observation_interval_days", "180"))
    assert len(json.loads(ok(run("--today", "2026-09-01", "fidelity", "due", "--json")))) == 2


def test_leaders_on_hold_are_not_due(group, run):
    ok(run("status", "P0002", "connection", "on hold"))
    assert [d["peer"] for d in json.loads(ok(run("fidelity", "due", "--json")))] == ["P0001"]


def test_an_observation_keeps_its_checklist_version(group, run, tmp_path):
    ok(observe(run, tmp_path, ALL_MET, "2026-03-03"))
    events = [e for e in json.loads(ok(run("audit", "--json"))) if e["action"] == "observe"]
    assert len(events) == 1
    listed = json.loads(ok(run("checklists", "show", "connection_meeting", "--json")))
    assert listed["version"] == "2026.2"


def test_an_empty_answers_file_name_is_refused_not_asked(group, run, db):
    before = snapshot(db)
    assert_refused(run("observe", "O0001", "--checklist", "connection_meeting", "--observer", "Pat",
                       "--answers", ""), "cannot read answers file ''")
    assert snapshot(db) == before


def test_running_out_of_answers_when_asked_aborts_on_a_line_of_its_own(group, run, db):
    before = snapshot(db)
    result = run("observe", "O0001", "--checklist", "connection_meeting", "--observer", "Pat", input="yes\n")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "Error: aborted"
    assert snapshot(db) == before
