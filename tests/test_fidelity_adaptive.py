"""Adaptive fidelity (issue 17, point 6): the next observation follows the last scores. A score
below `PROGRAM.fidelity.support_below_percent` (the checklist's pass band, 80%) or a critical
item missed calls for another observation within `fidelity.support_within_days`; `good_streak`
passing observations in a row earn `good_interval_days`. Nobody publishes those three for the
NAMI programs: they have no default and change nothing until set (the plain interval applies),
and `fidelity due` says which rule made each leader due."""

import json

import pytest

from conftest import assert_refused, ok, snapshot
from test_fidelity import ALL_MET, group, observe  # noqa: F401 (group is a fixture)

WEAK = {**ALL_MET, "check_in": 1, "agenda": 1, "processes": 2}  # 8 + 1 + 1 + 4 = 14/28 = 50%
CRITICAL = {**ALL_MET, "principles": "no"}                         # 27/28 = 96.4%, not passed


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setenv("PEERPATH_TODAY", "2026-06-01")


@pytest.fixture
def observed(group, run, tmp_path):
    """The two facilitators observed meeting fidelity on 2026-03-03: no longer new leaders."""
    ok(observe(run, tmp_path, ALL_MET, "2026-03-03"))
    return group


def schedule(run, *today) -> list:
    args = ("--today", today[0]) if today else ()
    return [(d["peer"], d["due"], d["rule"], d["reason"])
            for d in json.loads(ok(run(*args, "fidelity", "due", "--json")))]


def test_a_weak_score_changes_nothing_until_the_affiliate_sets_the_support_interval(observed, run, tmp_path):
    ok(observe(run, tmp_path, WEAK, "2026-04-07"))
    assert schedule(run) == []  # the yearly interval: due 2027-04-07
    reason = "last score 50% below 80% on 2026-04-07; connection.fidelity.support_within_days not set: yearly"
    assert schedule(run, "2027-04-07") == [("P0001", "2027-04-07", "interval", reason),
                                           ("P0002", "2027-04-07", "interval", reason)]


def test_below_the_band_re_observe_within_the_support_interval(observed, run, tmp_path, db):
    ok(observe(run, tmp_path, WEAK, "2026-04-07"))
    assert ok(run("config", "set", "connection.fidelity.support_within_days", "30")) == \
        "connection.fidelity.support_within_days = 30\n"
    reason = "last score 50% below 80% on 2026-04-07: re-observe within 30 days"
    assert schedule(run) == [("P0001", "2026-05-07", "needs support", reason),
                             ("P0002", "2026-05-07", "needs support", reason)]
    shown = ok(run("fidelity", "due"))
    assert "25 days overdue" in shown and "re-observe within 30" in shown
    # the band is a setting too: at 40% a 50% score no longer needs support
    ok(run("config", "set", "connection.fidelity.support_below_percent", "40"))
    assert schedule(run) == []
    [row] = [r for r in schedule(run, "2027-04-07") if r[0] == "P0001"]
    assert row == ("P0001", "2027-04-07", "interval", "last observed 2026-04-07 (50%): yearly")
    # both changes are in the audit trail, each with its old and new value
    events = [e for e in json.loads(ok(run("audit", "--json"))) if e["action"] == "configure"]
    assert [(e["entity_id"], e["details"]["changes"][e["entity_id"]]) for e in events] == [
        ("connection.fidelity.support_within_days", {"old": None, "new": 30}),
        ("connection.fidelity.support_below_percent", {"old": 80, "new": 40})]


def test_a_critical_item_missed_needs_support_whatever_the_score(observed, run, tmp_path):
    ok(run("config", "set", "connection.fidelity.support_within_days", "14"))
    ok(observe(run, tmp_path, CRITICAL, "2026-05-05"))
    assert schedule(run) == [
        ("P0001", "2026-05-19", "needs support",
         "last observation missed critical principles on 2026-05-05: re-observe within 14 days"),
        ("P0002", "2026-05-19", "needs support",
         "last observation missed critical principles on 2026-05-05: re-observe within 14 days")]


def test_good_twice_in_a_row_earns_the_longer_interval(observed, run, tmp_path):
    ok(run("config", "set", "connection.fidelity.good_interval_days", "730"))
    # one setting alone changes nothing: the streak needs its length too
    assert schedule(run, "2027-03-03")[0][1:3] == ("2027-03-03", "interval")
    ok(run("config", "set", "connection.fidelity.good_streak", "2"))
    assert schedule(run, "2027-03-03")[0][1:3] == ("2027-03-03", "interval")  # good once so far
    ok(observe(run, tmp_path, ALL_MET, "2026-04-07"))
    assert schedule(run, "2028-04-05") == []
    assert schedule(run, "2028-04-06")[0] == (
        "P0001", "2028-04-06", "good streak", "good twice in a row, last on 2026-04-07: every 2 years")
    # a weak observation breaks the streak: back to the plain interval (support is not set)
    ok(observe(run, tmp_path, WEAK, "2026-05-05"))
    assert schedule(run, "2027-05-05")[0][1:3] == ("2027-05-05", "interval")


def test_the_dry_run_shows_the_due_dates_a_fidelity_setting_would_move(observed, run, tmp_path, db):
    ok(observe(run, tmp_path, WEAK, "2026-04-07"))
    before = snapshot(db)
    shown = ok(run("config", "set", "connection.fidelity.support_within_days", "30", "--dry-run"))
    assert "P0001  Ana   connection        observation due  2027-04-07  2026-05-07" in shown
    assert snapshot(db) == before


def test_a_new_leader_with_a_weak_first_observation_is_due_by_the_sooner_date(group, run, tmp_path):
    ok(observe(run, tmp_path, WEAK, "2026-03-03"))
    assert [d[1] for d in schedule(run)] == ["2026-08-02", "2026-08-02"]  # the first-program deadline
    ok(run("config", "set", "connection.fidelity.support_within_days", "30"))
    [first, _] = schedule(run)
    assert first[1:3] == ("2026-04-02", "needs support")
    assert first[3].startswith("new leader: observed_session") and first[3].endswith("re-observe within 30 days")


@pytest.mark.parametrize("key, value, fragment", [
    ("connection.fidelity.support_below_percent", "101", "between 0 and 100"),
    ("connection.fidelity.support_within_days", "-1", "between 0 and 36,500"),
    ("connection.fidelity.good_streak", "0", "between 1 and"),
    ("connection.fidelity.good_interval_days", "a year", "must be a whole number"),
    ("connection.fidelity.streak", "2", "unknown setting 'connection.fidelity.streak'"),
])
def test_bad_fidelity_settings_are_refused_and_nothing_changes(observed, run, db, key, value, fragment):
    before = snapshot(db)
    assert_refused(run("config", "set", "--", key, value), fragment)
    assert snapshot(db) == before


@pytest.mark.parametrize("program", ["connection", "peer_to_peer", "ioov"])
def test_each_fidelity_setting_says_where_it_comes_from(initialised, run, program):
    shown = ok(run("programs", "show", program))
    assert f"{program}.fidelity.support_below_percent = 80: the " in shown and "pass band ('good', 80%)" in shown
    for key in ("support_within_days", "good_streak", "good_interval_days"):
        assert f"{program}.fidelity.{key} = none: affiliate setting, no default: changes nothing until set" in shown
    plugin = "connection" if program == "connection" else "peer_education"
    assert f"note: {program}.fidelity.good_streak is an affiliate setting with no default: it changes nothing " \
           "until set" in ok(run("plugins", "check", plugin))
