"""`peerpath report NAME --what-if KEY=VALUE` (issue 17, point 7): the report as it would be were
the settings set, each applied and the enrolments re-judged exactly as `config set` does, in a
read-only transaction thrown away: every file of the database stays byte-identical, no
lifecycle hook fires, and the report says what it assumed."""

import csv
import io
import json

import pytest

from conftest import assert_refused, ok, snapshot


@pytest.fixture
def demo(demo_db):
    return demo_db


def rows(run, *args) -> list:
    document = json.loads(ok(run("report", *args, "--json")))
    return [row for table in document["tables"] for row in table["rows"]]


def test_a_pass_mark_raised_would_take_a_credential_off_the_expiring_list(demo, run):
    assert [r[:4] for r in rows(run, "expiring")] == [["P0027", "June Fischer", "crss", "2026-12-11"]]
    before = snapshot(demo)
    shown = ok(run("report", "expiring", "--what-if", "crss.exam.pass_mark=99"))
    assert shown.splitlines()[:2] == ["Certifications lapsing within 60 days (2026-12-01 to 2027-01-30)",
                                      "what if crss.exam.pass_mark = 99: nothing was written"]
    assert "P0027" not in shown and "(none)" in shown
    assert snapshot(demo) == before  # the manifest, every table and the audit log
    # nothing was set: the same report without --what-if is as it was, and so is the setting
    assert [r[0] for r in rows(run, "expiring")] == ["P0027"]
    assert {r["key"]: r["value"] for r in json.loads(ok(run("config", "show", "--json")))}["crss.exam.pass_mark"] == 68
    # ...and the real change does what the what-if showed
    ok(run("config", "set", "crss.exam.pass_mark", "99"))
    assert rows(run, "expiring") == []


def test_several_settings_at_once_in_json(demo, run):
    before = snapshot(demo)
    document = json.loads(ok(run("report", "expiring", "--what-if", "reports.expiring_days=500",
                                 "--what-if", "crss.renewal.total=10", "--json")))
    assert document["what_if"] == {"reports.expiring_days": 500, "crss.renewal.total": 10}
    assert document["title"] == "Certifications lapsing within 500 days"
    assert [(r[0], r[2], r[5]) for r in document["tables"][0]["rows"]] == [
        ("P0027", "crss", "0/10 h; CRSS domains 0/15; Core functions 0/25"),
        ("P0027", "peer_to_peer", "1/2 courses"), ("P0028", "peer_to_peer", "1/2 courses")]
    assert "what_if" not in json.loads(ok(run("report", "expiring", "--json")))
    assert snapshot(demo) == before


def test_a_plugin_report_follows_a_plugin_setting(demo, run):
    before = snapshot(demo)
    assert [r[0] for r in rows(run, "presenter_use")] == ["P0031"]
    assert [r[0] for r in rows(run, "presenter_use", "--what-if", "ioov.format.presentations_per_year=10")] == \
        ["P0030", "P0031"]
    assert snapshot(demo) == before


def test_a_leaders_report_as_if_certifications_were_revoked_fires_no_hook(demo, run, recording_plugin):
    counts = lambda *extra: {r[0]: r[1] for r in rows(run, "leaders", *extra)}  # program: certified
    assert counts()["crss"] == 1
    before = snapshot(demo)
    assert counts("--what-if", "crss.exam.pass_mark=99")["crss"] == 0
    assert snapshot(demo) == before
    assert [call for call in recording_plugin.calls if call[0] != "validate_change"] == []


def test_csv_and_html_say_what_was_assumed(demo, run, tmp_path):
    result = run("report", "expiring", "--what-if", "reports.expiring_days=5", "--csv")
    assert result.exit_code == 0 and result.stderr == "Note: what if reports.expiring_days = 5: nothing was written\n"
    assert list(csv.DictReader(io.StringIO(result.stdout))) == []
    before = snapshot(demo)
    ok(run("report", "expiring", "--what-if", "reports.expiring_days=5", "--html", tmp_path / "r.html"))
    assert "(what if reports.expiring_days = 5: nothing was written)</h1>" in (tmp_path / "r.html").read_text()
    assert snapshot(demo) == before


@pytest.mark.parametrize("args, fragment", [
    (("expiring", "--what-if", "crss.validity=1000"), "unknown setting 'crss.validity'"),
    (("expiring", "--what-if", "crss.exam.pass_mark"), "use KEY=VALUE"),
    (("expiring", "--what-if", "=5"), "use KEY=VALUE"),
    (("expiring", "--what-if", "crss.exam.pass_mark=high"), "crss.exam.pass_mark must be a whole number"),
    (("expiring", "--what-if", "crss.exam.pass_mark=-1"), "must be between"),
    (("expiring", "--what-if", "crss.exam.pass_mark=70", "--what-if", "crss.exam.pass_mark=80"), "twice"),
    (("nothing", "--what-if", "crss.exam.pass_mark=70"), "unknown report 'nothing'"),
    (("funnel", "--what-if", "crss.exam.pass_mark=70", "--by", "month"), "has no --by"),
])
def test_bad_what_ifs_are_refused_with_one_line_and_write_nothing(demo, run, args, fragment):
    before = snapshot(demo)
    assert_refused(run("report", *args), fragment)
    assert snapshot(demo) == before


def test_a_what_if_on_an_empty_database_writes_nothing(initialised, run, db):
    before = snapshot(db)
    assert "what if crss.exam.pass_mark = 70" in ok(run("report", "funnel", "--what-if", "crss.exam.pass_mark=70"))
    assert snapshot(db) == before


def test_in_python_the_tracker_refuses_a_change_inside_a_what_if(demo):
    from peerpath.core import Tracker

    tracker = Tracker(db=demo)
    with pytest.raises(RuntimeError, match="writes nothing"):
        with tracker._scratch():
            tracker.set_setting("crss.exam.pass_mark", "70")
    result = tracker.report_what_if(["crss.exam.pass_mark=99"], "expiring")
    assert result.what_if == {"crss.exam.pass_mark": 99} and result.tables[0].rows == ()
