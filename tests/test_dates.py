"""core/dates.py: every date option reads the forms `peer import` reads, in the affiliate's
`dates.order` (issue 11, point 3)."""

import datetime as dt
import json

import pytest

from peerpath.core import Tracker
from peerpath.core.dates import DAY_FIRST, MONTH_FIRST, read_date

from conftest import assert_refused, ok, snapshot

pytestmark = pytest.mark.both_backends  # each test on a file and on PostgreSQL (conftest.py)

MARCH_4 = dt.date(2026, 3, 4)
AMBIGUOUS_NOTE = ("read 3/4/2026 as 2026-03-04 (month first; "
                  "`peerpath config set dates.order day-first` to change)")


@pytest.mark.parametrize("text", [
    "2026-03-04", "2026/03/04", "3/4/2026", "03/04/26", "3-4-2026", "4 Mar 2026", "04-Mar-2026",
    "March 4, 2026", "Mar. 4, 2026", "3/4/2026 14:05",
])
def test_every_form_reads_march_4_month_first(text):
    assert read_date(text, MONTH_FIRST).day == MARCH_4


@pytest.mark.parametrize("text, day", [
    ("4/3/2026", MARCH_4), ("04/03/26", MARCH_4), ("13/4/2026", dt.date(2026, 4, 13)),
    ("2026-03-04", MARCH_4), ("4 Mar 2026", MARCH_4), ("March 4, 2026", MARCH_4),
])
def test_day_first_changes_only_the_numeric_forms(text, day):
    assert read_date(text, DAY_FIRST).day == day


@pytest.mark.parametrize("text, order, note", [
    ("3/4/2026", MONTH_FIRST, AMBIGUOUS_NOTE),
    ("3/4/2026", DAY_FIRST, "read 3/4/2026 as 2026-04-03 (day first; "
                            "`peerpath config set dates.order month-first` to change)"),
    ("4/4/2026", MONTH_FIRST, None),     # both readings are the same day
    ("3/13/2026", MONTH_FIRST, None),    # 13 can only be the day
    ("2026-03-04", DAY_FIRST, None),
    ("4 Mar 2026", MONTH_FIRST, None),
])
def test_only_a_form_readable_both_ways_carries_a_note(text, order, note):
    assert read_date(text, order).note == note


@pytest.mark.parametrize("text, order, message", [
    ("13/4/2026", MONTH_FIRST, "unreadable date '13/4/2026': 13 is not a month; dates are read month "
                               "first (`peerpath config set dates.order day-first` to change)"),
    ("4/13/2026", DAY_FIRST, "unreadable date '4/13/2026': 13 is not a month; dates are read day "
                             "first (`peerpath config set dates.order month-first` to change)"),
    ("31/31/2026", MONTH_FIRST, "unreadable date '31/31/2026': use e.g. 2026-03-04, 3/4/2026 or 4 Mar 2026"),
    ("2/30/2026", MONTH_FIRST, "unreadable date '2/30/2026': use e.g. 2026-03-04, 3/4/2026 or 4 Mar 2026"),
    ("yesterday", MONTH_FIRST, "unreadable date 'yesterday': use e.g. 2026-03-04, 3/4/2026 or 4 Mar 2026"),
])
def test_impossible_dates_are_refused_saying_why(text, order, message):
    with pytest.raises(Exception) as refused:
        read_date(text, order)
    assert str(refused.value) == message


def test_an_unknown_order_is_refused():
    with pytest.raises(Exception, match="unknown date order 'sideways': choose from month-first, day-first"):
        read_date("3/4/2026", "sideways")


def stage_history(run, peer_id):
    return [(h["stage"], h["on"]) for h in json.loads(ok(run("peer", "show", peer_id, "--json")))["stage_history"]]


@pytest.mark.parametrize("text", ["2026-03-04", "3/4/2026", "03/04/26", "4 Mar 2026", "March 4, 2026"])
def test_on_stores_the_iso_date_whatever_the_form(initialised, run, text):
    ok(run("peer", "add", "Ana", "--on", text))
    assert stage_history(run, "P0001") == [("prospect", "2026-03-04")]


def test_an_ambiguous_on_warns_once_on_stderr_and_an_unambiguous_one_does_not(initialised, run):
    added = run("peer", "add", "Ana", "--on", "3/4/2026")
    assert ok(added) == "P0001\n"
    assert added.stderr.splitlines() == [f"Warning: {AMBIGUOUS_NOTE}"]
    clear = run("peer", "add", "Bo", "--on", "3/13/2026")
    assert ok(clear) == "P0002\n" and clear.stderr == ""
    assert stage_history(run, "P0002") == [("prospect", "2026-03-13")]


def test_a_date_impossible_in_the_order_in_force_is_refused_and_changes_nothing(initialised, run, db):
    before = snapshot(db)
    assert_refused(run("peer", "add", "Ana", "--on", "13/4/2026"), "Invalid value for '--on'",
                   "13 is not a month; dates are read month first")
    assert snapshot(db) == before


def test_other_date_options_read_the_same_forms(initialised, run):
    ok(run("peer", "add", "Ana", "--lived-experience", "self", "--consent", "adult=yes", "--on", "2026-03-01"))
    ok(run("peer", "stage", "P0001", "contacted", "--on", "March 10, 2026"))
    ok(run("enroll", "P0001", "connection", "--on", "11 Mar 2026"))
    ok(run("record", "P0001", "connection", "application", "--on", "3/12/26"))
    ok(run("outreach", "add", "fair", "--on", "03/13/2026"))
    assert stage_history(run, "P0001") == [("prospect", "2026-03-01"), ("contacted", "2026-03-10")]
    status = Tracker().progress("P0001")[0]
    assert status.enrollment.started == dt.date(2026, 3, 11)
    assert status.steps[0].progress.completed_on == dt.date(2026, 3, 12)
    assert json.loads(ok(run("outreach", "list", "--json")))[0]["on"] == "2026-03-13"


def test_today_and_report_periods_read_the_same_forms(initialised, run):
    ok(run("peer", "add", "Ana", "--on", "2026-03-01"))
    assert ok(run("--today", "4 Mar 2026", "peer", "add", "Bo")) == "P0002\n"
    assert stage_history(run, "P0002") == [("prospect", "2026-03-04")]
    funnel = json.loads(ok(run("report", "funnel", "--from", "March 2, 2026", "--to", "3/31/2026", "--json")))
    assert (funnel["from"], funnel["to"], funnel["figures"]["peers"]) == ("2026-03-02", "2026-03-31", 1)


def test_day_first_changes_both_on_and_import(initialised, run, tmp_path):
    assert ok(run("config", "set", "dates.order", "day-first")) == "dates.order = day-first\n"
    added = run("peer", "add", "Ana", "--on", "3/4/2026")
    assert ok(added) == "P0001\n"
    assert "read 3/4/2026 as 2026-04-03 (day first" in added.stderr
    assert stage_history(run, "P0001") == [("prospect", "2026-04-03")]
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("Name,Date added\nBo,3/4/2026\nCy,13/4/2026\n", encoding="utf-8")
    ok(run("peer", "import", sheet))
    assert stage_history(run, "P0002") == [("prospect", "2026-04-03")]
    assert stage_history(run, "P0003") == [("prospect", "2026-04-13")]


def test_import_reads_month_first_by_default_and_refuses_a_13th_month(initialised, run, tmp_path, db):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("Name,Date added\nBo,3/4/2026\nCy,13/4/2026\n", encoding="utf-8")
    before = snapshot(db)
    result = run("peer", "import", sheet)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "line 3: unreadable date '13/4/2026': 13 is not a month; dates are read month first "
        "(`peerpath config set dates.order day-first` to change)")
    assert snapshot(db) == before


def test_config_takes_only_the_two_orders(initialised, run, db):
    before = snapshot(db)
    assert_refused(run("config", "set", "dates.order", "sideways"),
                   "dates.order must be one of month-first, day-first, not 'sideways'")
    assert snapshot(db) == before
    rows = {r["key"]: r for r in json.loads(ok(run("config", "show", "--json")))}
    assert rows["dates.order"] == {"key": "dates.order", "default": "month-first", "value": "month-first"}


def test_the_tracker_reads_dates_in_the_affiliates_order(initialised):
    tracker = Tracker()
    assert tracker.read_date("3/4/2026") == MARCH_4
    assert tracker.date_notes == [AMBIGUOUS_NOTE]
    tracker.set_setting("dates.order", "day-first")
    assert tracker.read_date("4/3/2026") == MARCH_4
    assert Tracker(today="4/3/2026").today == MARCH_4


def test_a_refusal_stays_one_line_even_after_an_ambiguous_date(initialised, run, db, monkeypatch):
    monkeypatch.setenv("PEERPATH_TODAY", "2026-03-05")
    before = snapshot(db)
    assert_refused(run("peer", "add", "Ana", "--on", "4/3/2026"), "2026-04-03 is in the future")
    assert snapshot(db) == before
