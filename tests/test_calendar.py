"""`peerpath calendar`: an RFC 5545 file of expiries, observations due, offerings and sessions,
read back with an independent parser (icalendar) event by event."""

import datetime as dt
import json
import stat

import icalendar
import pytest

from conftest import DEMO_TODAY, assert_refused, ok
from peerpath.core import Tracker


@pytest.fixture
def demo(demo_db):
    return demo_db


def events(path) -> dict:
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def test_every_expiry_observation_offering_and_session_is_an_event(demo, run, tmp_path):
    out = tmp_path / "affiliate.ics"
    result = run("calendar", "--output", out)
    assert ok(result) == "" and result.stderr == f"Wrote {out}\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    found = events(out)
    leaders = json.loads(ok(run("leaders", "--status", "certified", "--json")))
    for leader in (s for s in leaders if s["expires"]):
        [event] = [e for uid, e in found.items() if uid.startswith("expiry-") and leader["peer"] in str(e["DESCRIPTION"])
                   and leader["name"] in str(e["SUMMARY"]) and str(e["DTSTART"].dt) == leader["expires"]]
        assert event["DTSTART"].dt == dt.date.fromisoformat(leader["expires"])
        assert event["DTEND"].dt - event["DTSTART"].dt == dt.timedelta(days=1)  # all day
    due = json.loads(ok(run("fidelity", "due", "--json")))
    for item in due:
        event = found[f"observation-{item['peer']}-{item['program']}@peerpath"]
        assert str(event["DTSTART"].dt) == item["due"] and str(event["DESCRIPTION"]) == item["reason"]
    tracker = Tracker()
    stored = {f"session-{s.id}@peerpath": s.on for o in tracker.offerings() for s in tracker.sessions(o.id)}
    assert stored and {uid: e["DTSTART"].dt for uid, e in found.items() if uid.startswith("session-")} == stored
    assert all(str(event["DTSTAMP"].dt.date()) == DEMO_TODAY for event in found.values())


def test_a_newer_file_keeps_each_events_uid(demo, run, tmp_path):
    ok(run("calendar", "--output", tmp_path / "before.ics"))
    ok(run("session", "add", "O0001", "--on", "2026-11-30"))
    ok(run("calendar", "--output", tmp_path / "after.ics"))
    before, after = events(tmp_path / "before.ics"), events(tmp_path / "after.ics")
    assert set(before) < set(after) and len(after) == len(before) + 1
    assert all(before[uid]["DTSTART"].dt == after[uid]["DTSTART"].dt for uid in before)


def test_one_peers_calendar_holds_only_their_dates(demo, run, tmp_path):
    out = tmp_path / "p0027.ics"
    ok(run("calendar", "--for", "P0027", "--output", out))
    found = events(out)
    assert found and all("P0027" in str(e["DESCRIPTION"]) or "P0027" in str(e["SUMMARY"])
                         or uid.startswith(("offering-", "session-")) for uid, e in found.items())
    assert {uid for uid in found if uid.startswith("expiry-")}  # June Fischer's two credentials
    everyone = events_of(run, tmp_path)
    assert len(found) < len(everyone)


def events_of(run, tmp_path) -> dict:
    out = tmp_path / "everyone.ics"
    ok(run("calendar", "--output", out))
    return events(out)


def test_text_is_escaped_and_long_lines_folded(demo, run, tmp_path):
    long_name = "Ana; Bo, and \\ a very long offering name that goes on and on past seventy-five octets é"
    ok(run("offering", "add", "connection", long_name, "--leaders", "P0023", "--started", "2026-11-02"))
    out = tmp_path / "a.ics"
    ok(run("calendar", "--output", out))
    raw = out.read_bytes()
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    [event] = [e for uid, e in events(out).items() if uid.endswith("-starts@peerpath") and long_name in str(e["SUMMARY"])]
    assert str(event["SUMMARY"]) == f"{long_name} starts"


def test_refusals(demo, run, tmp_path):
    out = tmp_path / "a.ics"
    out.write_text("keep")
    assert_refused(run("calendar", "--output", out), "already exists")
    assert out.read_text() == "keep"
    assert_refused(run("calendar", "--for", "P9999", "--output", tmp_path / "b.ics"), "P9999")
    assert not (tmp_path / "b.ics").exists()
