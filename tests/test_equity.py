"""Equity (issue 17, point 9): leaders, trainees and prospects by community and language against
the communities and languages the affiliate serves (settings equity.*), under-served marked."""

import json

import pytest

from conftest import assert_refused, ok, snapshot

pytestmark = pytest.mark.both_backends  # each test on a file and on PostgreSQL (conftest.py)


def equity(run, *args):
    return json.loads(ok(run("report", "equity", "--json", *args)))["figures"]


def test_the_demo_shows_the_communities_and_languages_without_leaders(demo_db, run):
    figures = equity(run)
    assert figures["underserved_communities"] == ["Maywood", "Waukegan"]  # no leader; Waukegan marked too
    assert figures["by_community"]["Maywood"] == {"prospects": 0, "in training": 0, "leaders": 0, "served": True,
                                                  "marked": False, "underserved": True}
    assert figures["by_community"]["Waukegan"]["marked"] is True
    assert figures["underserved_languages"] == ["Polish"]
    assert figures["leaders"] == 6
    assert sum(v["leaders"] for v in figures["by_community"].values()) == 6
    peers = json.loads(ok(run("peer", "list", "--json")))
    prospects = sum(p["stage"] in ("prospect", "contacted", "applied", "screened") for p in peers)
    assert sum(v["prospects"] for v in figures["by_community"].values()) == prospects
    text = ok(run("report", "equity"))
    assert "by community" in text and "by language" in text and "UNDER-SERVED" in text


def test_the_threshold_and_the_lists_are_settings_set_and_audited(demo_db, run):
    ok(run("config", "set", "equity.min_leaders", "2"))
    assert "Cicero" in equity(run)["underserved_communities"]
    assert ok(run("--as", "Dana", "config", "set", "equity.communities", "cicero,  Oak Park, Cicero")) == \
        "equity.communities = cicero/Oak Park\n"
    figures = equity(run)
    assert figures["communities_served"] == ["cicero", "Oak Park"]
    assert figures["by_community"]["cicero"]["served"] is True  # matched ignoring case
    assert figures["by_community"]["Joliet"]["served"] is False and not figures["by_community"]["Joliet"]["underserved"]
    [event] = [e for e in json.loads(ok(run("audit", "--json"))) if e["entity_id"] == "equity.communities"][-1:]
    assert event["actor"] == "Dana" and event["details"]["value"] == ["cicero", "Oak Park"]


def test_without_the_lists_the_report_says_which_settings_to_set(demo_db, run):
    ok(run("config", "set", "equity.communities", "none"))
    ok(run("config", "unset", "equity.languages"))
    document = json.loads(ok(run("report", "equity", "--json")))
    [settings] = [t for t in document["tables"] if t["title"] == "settings to set"]
    assert [row[0] for row in settings["rows"]] == ["equity.communities", "equity.languages"]
    assert document["figures"]["underserved_communities"] == ["Waukegan"]  # marked by hand still shows
    assert document["figures"]["underserved_languages"] == []


def test_equity_as_of_an_earlier_day(demo_db, run):
    assert equity(run, "--to", "2025-10-01")["leaders"] < equity(run)["leaders"]


def test_bad_equity_settings_and_options_are_refused(demo_db, run):
    before = snapshot(demo_db)
    assert_refused(run("config", "set", "equity.communities", "Cicero,,Maywood"), "empty name")
    assert_refused(run("config", "set", "equity.languages", "Eng\x1blish"), "control")
    assert_refused(run("config", "set", "--", "equity.min_leaders", "-1"), "between 0")
    assert_refused(run("report", "equity", "--from", "2026-01-01"), "drop --from")
    assert snapshot(demo_db) == before
