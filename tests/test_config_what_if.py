"""`peerpath config set KEY VALUE --dry-run` (issue 17, point 7): whose status, expiry or
observation due date the setting would change, worked out exactly as the real `config set`
would (applied and re-judged in memory), with every file of the database left byte-identical
and no lifecycle hook fired."""

import json

import pytest

from conftest import assert_refused, ok, snapshot


@pytest.fixture
def demo(demo_db):
    return demo_db


def leaders(run) -> dict:
    return {(s["peer"], s["program"]): (s["status"], s["expires"])
            for s in json.loads(ok(run("leaders", "--json")))}


def test_a_dry_run_lists_who_would_lose_a_certification_and_writes_nothing(demo, run):
    before = snapshot(demo)
    shown = ok(run("config", "set", "crss.exam.pass_mark", "99", "--dry-run"))
    assert shown.splitlines() == [
        "Dry run: crss.exam.pass_mark = 99 would change these 2; nothing was written.",
        "peer   name          program  role        what     now         after",
        "P0027  June Fischer  crss     specialist  expires  2026-12-11  none",
        "P0027  June Fischer  crss     specialist  status   certified   in training",
    ]
    assert snapshot(demo) == before  # every byte of the manifest, the tables and the audit log
    assert {row["key"]: row["value"] for row in json.loads(ok(run("config", "show", "--json")))}[
        "crss.exam.pass_mark"] == 68
    # the real change does what the dry run said, and nothing more
    now = leaders(run)
    ok(run("config", "set", "crss.exam.pass_mark", "99"))
    after = leaders(run)
    assert {k for k in now if now[k] != after[k]} == {("P0027", "crss")}
    assert after[("P0027", "crss")] == ("in training", None)


def test_a_dry_run_lists_observation_due_dates_that_would_move(demo, run):
    before = snapshot(demo)
    shown = ok(run("config", "set", "connection.format.observation_interval_days", "100", "--dry-run"))
    assert "would change these 2;" in shown
    assert "P0023  Fatima Ito  connection        observation due  2027-11-11  2027-02-19" in shown
    assert "P0024  Eli Haddad  connection        observation due  2027-11-11  2027-02-19" in shown
    assert snapshot(demo) == before


def test_a_setting_that_moves_nothing_says_so(demo, run):
    before = snapshot(demo)
    assert ok(run("config", "set", "reports.expiring_days", "5", "--dry-run")) == (
        "Dry run: reports.expiring_days = 5 changes no status, expiry or observation due date; "
        "nothing was written.\n")
    assert snapshot(demo) == before


def test_a_dry_run_that_would_certify_fires_no_hook(demo, run, recording_plugin):
    ok(run("config", "set", "connection.training.days", "4"))  # the two facilitators lose it
    recording_plugin.calls.clear()
    before = snapshot(demo)
    shown = ok(run("config", "set", "connection.training.days", "3", "--dry-run"))
    assert "P0023  Fatima Ito  connection  facilitator  status  in training  certified" in shown
    assert "P0024" in shown and snapshot(demo) == before
    assert recording_plugin.hooks("certification_granted") == []
    ok(run("config", "set", "connection.training.days", "3"))  # the real change fires them
    assert {h["certification"].peer_id for h in recording_plugin.hooks("certification_granted")} == {"P0023", "P0024"}


@pytest.mark.parametrize("key, value, fragment", [
    ("crss.exam.pass_mark", "70.5", "must be a whole number"),
    ("crss.exam.nothing", "1", "unknown setting 'crss.exam.nothing'"),
    ("crss.exam.pass_mark", "-1", "must be between"),
    ("mail.port", "70000", "mail.port must be between 1 and 65,535"),
])
def test_bad_input_is_refused_with_one_line_and_nothing_changes(demo, run, key, value, fragment):
    before = snapshot(demo)
    assert_refused(run("config", "set", "--dry-run", "--", key, value), fragment)  # -- : "-1" is a value
    assert snapshot(demo) == before


def test_a_dry_run_on_an_empty_database_changes_nothing(initialised, run, db):
    before = snapshot(db)
    assert "changes no status" in ok(run("config", "set", "crss.exam.pass_mark", "70", "--dry-run"))
    assert snapshot(db) == before
