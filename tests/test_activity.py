"""Volunteer activity (issue 17, point 3): activity add/list, report activity with its groupings
and totals, presenters short of their yearly presentations, and CRSS experience from activity."""

import csv
import io
import json

import pytest

from conftest import assert_refused, ok, snapshot

pytestmark = pytest.mark.both_backends  # each test on a file and on PostgreSQL (conftest.py)

# The demo (as of 2026-12-01): P0030 and P0031 present In Our Own Voice (offering O0004), P0023
# and P0024 facilitate Connection (O0001), P0027 and P0028 teach Peer-to-Peer (O0003); P0032 is
# a CRSS trainee; X0001-X0006 are outreach events.


def activities(run, *args):
    return json.loads(ok(run("activity", "list", "--json", *args)))


def test_an_activity_is_stored_listed_and_audited_with_the_actor(demo_db, run):
    before = len(activities(run))
    new_id = ok(run("--as", "Dana", "activity", "add", "P0031", "--kind", "talk", "--hours", "2", "--on", "2026-11-10",
                    "--offering", "O0004", "--stipend", "50")).strip()
    assert new_id == "A0013"  # A0012: the demo leader's own, still pending
    listed = activities(run)
    assert len(listed) == before + 1
    [mine] = [a for a in listed if a["id"] == new_id]
    assert mine == {"id": "A0013", "peer": "P0031", "name": mine["name"], "kind": "talk", "on": "2026-11-10",
                    "hours": 2.0, "program": "ioov", "offering": "O0004", "outreach": None, "stipend": 50.0}
    [event] = [e for e in json.loads(ok(run("audit", "--peer", "P0031", "--json"))) if e["entity_id"] == new_id]
    assert (event["actor"], event["action"], event["entity"]) == ("Dana", "add", "activities")
    assert event["details"] == {"kind": "talk", "hours": 2.0, "on": "2026-11-10", "status": "approved",
                                "stipend": 50.0}
    assert [a["id"] for a in activities(run, "--for", "P0031")] == ["A0008", "A0013"]
    table = list(csv.DictReader(io.StringIO(ok(run("activity", "list", "--for", "P0031", "--csv")))))
    assert [r["id"] for r in table] == ["A0008", "A0013"] and table[1]["stipend"] == "50.0"
    assert "A0013" in ok(run("activity", "list", "--for", "P0031"))
    assert run("verify").exit_code == 0


@pytest.mark.parametrize("args, fragment", [
    (("P0031", "--kind", "talk", "--hours", "0"), "--hours must be more than 0"),
    (("P0031", "--kind", "talk", "--hours", "25"), "--hours must be more than 0 and up to 24"),
    (("P0031", "--kind", "talk", "--hours", "nan"), "--hours must be a number"),
    (("P0031", "--kind", "talk", "--hours", "-1"), "--hours"),
    (("P0031", "--kind", "talk", "--hours", "2", "--stipend", "-5"), "--stipend must be 0 to 1,000,000"),
    (("P0031", "--kind", "talk", "--hours", "2", "--stipend", "inf"), "--stipend must be a number"),
    (("P0031", "--kind", "party", "--hours", "2"), "'party' is not one of"),
    (("P0099", "--kind", "talk", "--hours", "2"), "unknown peer 'P0099'"),
    (("P0031", "--kind", "talk", "--hours", "2", "--offering", "O0099"), "unknown offering 'O0099'"),
    (("P0031", "--kind", "talk", "--hours", "2", "--outreach", "X0099"), "unknown outreach event 'X0099'"),
    (("P0001", "--kind", "talk", "--hours", "2", "--offering", "O0004"), "P0001 is not a ioov leader"),
    (("P0031", "--kind", "talk", "--hours", "2", "--on", "2026-12-02"), "in the future"),
    (("P0031", "--kind", "talk"), "Missing option '--hours'"),
])
def test_bad_activity_is_one_error_line_and_stores_nothing(demo_db, run, args, fragment):
    before = snapshot(demo_db)
    assert_refused(run("activity", "add", *args), fragment)
    assert snapshot(demo_db) == before


def test_activity_list_of_an_unknown_peer_is_refused(demo_db, run):
    assert_refused(run("activity", "list", "--for", "P0099"), "unknown peer 'P0099'")


def report(run, *args):
    return json.loads(ok(run("report", "activity", "--json", *args)))


def test_report_activity_sums_hours_talks_speakers_and_stipends_by_each_grouping(demo_db, run):
    by_peer = report(run)
    assert by_peer["figures"]["by"] == "peer"
    assert by_peer["figures"]["groups"]["P0030 Ray Williams"] == {
        "hours": 6.5, "talks": 3, "speakers": 1, "stipends": 150.0, "activities": 3}
    assert by_peer["figures"]["totals"] == {"hours": 24.0, "talks": 4, "speakers": 2, "stipends": 200.0,
                                            "activities": 11}
    by_program = report(run, "--by", "program")["figures"]["groups"]
    assert by_program["ioov"] == {"hours": 8.5, "talks": 4, "speakers": 2, "stipends": 200.0, "activities": 4}
    assert by_program["none"]["activities"] == 3  # outreach and admin outside any offering
    assert sum(g["hours"] for g in by_program.values()) == 24.0
    by_month = report(run, "--by", "month", "--from", "2026-07-01", "--to", "2026-07-31")["figures"]
    assert by_month["groups"] == {"2026-07": {"hours": 4.0, "talks": 2, "speakers": 2, "stipends": 100.0,
                                              "activities": 2}}
    assert by_month["totals"]["activities"] == 2
    by_community = report(run, "--by", "COMMUNITY")["figures"]["groups"]
    assert sum(g["activities"] for g in by_community.values()) == 11
    text = ok(run("report", "activity", "--by", "program"))
    assert "by program" in text and "totals" in text and "ioov" in text


def test_presenters_used_fewer_than_twice_this_year_are_listed_and_a_talk_counts(demo_db, run):
    [short] = report(run)["figures"]["presentations"]["ioov"]["short"]
    assert short == {"peer": "P0031", "name": "Mei Haddad", "presentations": 1}
    table = [t for t in report(run)["tables"] if "fewer than 2 times in 2026" in t["title"]]
    assert table and table[0]["rows"] == [["P0031", "Mei Haddad", 1]]
    # a talk on the day of a session of the same offering is the same presentation
    ok(run("activity", "add", "P0031", "--kind", "talk", "--hours", "2", "--on", "2026-07-04", "--offering", "O0004"))
    assert [s["peer"] for s in report(run)["figures"]["presentations"]["ioov"]["short"]] == ["P0031"]
    # a talk of the offering on another day is a second one; presenter_use agrees
    ok(run("activity", "add", "P0031", "--kind", "talk", "--hours", "2", "--on", "2026-11-10", "--offering", "O0004"))
    assert report(run)["figures"]["presentations"]["ioov"]["short"] == []
    assert json.loads(ok(run("report", "presenter_use", "--json")))["figures"]["short"] == []
    # the figure is the plugin's setting, with its source
    ok(run("config", "set", "ioov.format.presentations_per_year", "4"))
    assert {s["peer"] for s in report(run)["figures"]["presentations"]["ioov"]["short"]} == {"P0030", "P0031"}
    assert "fewer than 4 times" in ok(run("report", "activity"))
    # the year is the calendar year of --to: nobody presented in 2025
    last_year = report(run, "--to", "2025-12-31")["figures"]["presentations"]["ioov"]
    assert last_year["year"] == 2025


def test_report_activity_refuses_a_bad_grouping_and_other_reports_refuse_by(demo_db, run):
    assert_refused(run("report", "activity", "--by", "year"), "--by must be one of peer, program, month, community")
    assert_refused(run("report", "funnel", "--by", "month"), "report 'funnel' has no --by", "activity")
    assert_refused(run("report", "activity", "--community", "Cicero"), "does not filter peers")


def test_report_activity_as_csv_and_html(demo_db, run, tmp_path):
    rows = list(csv.DictReader(io.StringIO(ok(run("report", "activity", "--by", "program", "--csv")))))
    assert {r["table"] for r in rows} >= {"by program", "totals"}
    out = tmp_path / "activity.html"
    ok(run("report", "activity", "--html", out))
    page = out.read_text()
    assert "<svg" in page and "Volunteer activity" in page and "Mei Haddad" in page


def test_crss_counts_activity_as_experience_only_when_the_affiliate_turns_it_on(demo_db, run):
    def experience_hours():
        [status] = json.loads(ok(run("progress", "P0032", "crss", "--json")))
        [step] = [s for s in status["steps"] if s["step"] == "experience"]
        return step["figures"].get("hours", 0)

    assert ok(run("activity", "add", "P0032", "--kind", "session", "--hours", "4")).strip() == "A0013"
    assert experience_hours() == 0  # off by default
    assert "Illinois Certification Board" in ok(run("programs", "show", "crss"))
    ok(run("config", "set", "crss.format.activity_counts_as_experience", "yes"))
    before = snapshot(demo_db)
    assert_refused(run("activity", "add", "P0032", "--kind", "session", "--hours", "4"), "give --share")
    assert_refused(run("activity", "add", "P0032", "--kind", "session", "--hours", "4", "--share", "40"),
                   "at least 51% recovery support", "nothing was stored")
    assert snapshot(demo_db) == before
    out = ok(run("activity", "add", "P0032", "--kind", "session", "--hours", "4", "--share", "80"))
    assert out.startswith("A0014 (also recorded as R")
    record_id = out.split("as ")[1].rstrip(")\n")
    assert experience_hours() == 4
    events = [e for e in json.loads(ok(run("audit", "--peer", "P0032", "--json"))) if e["action"] in ("add", "record")]
    assert events[-2]["entity_id"] == record_id and events[-1]["details"]["counted_as"] == [record_id]
    # someone not enrolled in CRSS is not asked for a share
    assert ok(run("activity", "add", "P0030", "--kind", "talk", "--hours", "1")).strip() == "A0015"


def test_merging_peers_moves_their_activity(demo_db, run):
    ok(run("peer", "add", "Mei H.", "--consent", "adult=yes"))
    ok(run("activity", "add", "P0037", "--kind", "admin", "--hours", "1"))
    ok(run("peer", "merge", "P0031", "P0037"))
    assert [a["id"] for a in activities(run, "--for", "P0031")] == ["A0008", "A0013"]
    assert run("verify").exit_code == 0


def test_a_leaders_own_activity_counts_only_once_a_coordinator_approves_it(demo_db, run):
    [pending] = activities(run, "--pending")
    assert pending["id"] == "A0012" and all(a["id"] != "A0012" for a in activities(run))
    hours = json.loads(ok(run("report", "activity", "--json")))["figures"]
    ok(run("--as", "Dana", "activity", "approve", "A0012"))
    assert activities(run, "--pending") == [] and any(a["id"] == "A0012" for a in activities(run))
    after = json.loads(ok(run("report", "activity", "--json")))["figures"]
    assert after != hours
    event = json.loads(ok(run("audit", "--json")))[-1]
    assert (event["action"], event["actor"], event["entity_id"]) == ("approve", "Dana", "A0012")
    assert_refused(run("activity", "approve", "A0012"), "already approved")
    assert_refused(run("activity", "approve", "A9999"), "unknown activity")


def test_only_a_leader_user_is_a_peer_record(demo_db, run, tmp_path):
    password = tmp_path / "pw"
    password.write_text("a long enough password\n")
    assert_refused(run("user", "add", "june", "--role", "leader", "--password-file", password), "--peer")
    assert_refused(run("user", "add", "june", "--role", "viewer", "--peer", "P0027", "--password-file", password),
                   "only a leader")
    assert_refused(run("user", "add", "june", "--role", "leader", "--peer", "P9999", "--password-file", password),
                   "unknown peer")
    ok(run("user", "add", "june", "--role", "leader", "--peer", "P0027", "--password-file", password))
    users = {u["name"]: u for u in json.loads(ok(run("user", "list", "--json")))}
    assert users["june"] == {"name": "june", "role": "leader", "peer": "P0027"}
