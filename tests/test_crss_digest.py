"""The CRSS plugin's reminders through `digest_items`: a CRSS holder whose credential expires
within reports.expiring_days and whose CEUs (crss.renewal.*) are short, in the leader's own
digest and the trainer's, gone once the renewal is complete."""

import json

import pytest

from conftest import ok, snapshot

CEUS = "CRSS continuing education"


@pytest.fixture
def demo(demo_db):
    return demo_db  # P0027 June Fischer: CRSS, expires 2026-12-11 (in 10 days), no CEUs yet


def ceu_items(run, *args) -> list:
    found = json.loads(ok(run("digest", "--format", "json", *args)))["items"]
    return [item for item in found if item["kind"] == CEUS]


def test_a_leader_and_the_trainer_see_how_many_ceus_are_short_and_when(demo, run):
    [own] = ceu_items(run, "--role", "leader", "--for", "P0027")
    assert own["text"] == ("P0027 June Fischer: CEUs short by 40 h (CRSS domains 15 h, Core functions 25 h), "
                           "renewal in 10 days")
    assert own["days_left"] == 10 and own["peer"] == "P0027" and own["source"] == "crss"
    assert ceu_items(run, "--role", "trainer") == [own] == ceu_items(run)  # coordinator: the same
    shown = ok(run("digest", "--role", "leader", "--for", "P0027"))
    assert f"\n{CEUS}\n  in 10 days     P0027 June Fischer: CEUs short by 40 h" in shown
    # another leader's digest holds nobody else's reminder
    assert ceu_items(run, "--role", "leader", "--for", "P0032") == []


def test_recorded_ceus_shrink_the_shortfall_by_total_and_by_domain(demo, run):
    before = snapshot(demo)
    ok(run("record", "P0027", "crss", "ceu", "--hours", 20, "--domain", "core functions", "--on", "2026-11-20"))
    ok(run("record", "P0027", "crss", "ceu", "--hours", 8, "--domain", "CRSS domains", "--on", "2026-11-25"))
    assert snapshot(demo) != before
    [item] = ceu_items(run, "--role", "trainer")
    assert item["text"] == ("P0027 June Fischer: CEUs short by 12 h (CRSS domains 7 h, Core functions 5 h), "
                            "renewal in 10 days")
    # more core-function hours than the minimum still leave the CRSS domains short
    ok(run("record", "P0027", "crss", "ceu", "--hours", 12, "--domain", "core functions", "--on", "2026-11-26"))
    [item] = ceu_items(run, "--role", "leader", "--for", "P0027")
    assert "CEUs short by 7 h (CRSS domains 7 h)," in item["text"]
    assert ceu_items(run, "--as-of", "2026-12-10")[0]["text"].endswith("renewal in 1 day")
    assert ceu_items(run, "--as-of", "2026-12-11")[0]["text"].endswith("renewal due today")
    # complete: the credential renews and the reminder is gone
    ok(run("record", "P0027", "crss", "ceu", "--hours", 7, "--domain", "CRSS domains", "--on", "2026-11-30"))
    assert ceu_items(run, "--role", "trainer") == [] and ceu_items(run, "--role", "leader", "--for", "P0027") == []
    assert [s["expires"] for s in json.loads(ok(run("leaders", "--program", "crss", "--json")))
            if s["peer"] == "P0027"] == ["2028-12-10"]


def test_the_hours_and_the_window_are_the_settings_in_force(demo, run):
    ok(run("config", "set", "crss.renewal.total", 50))
    [item] = ceu_items(run, "--role", "trainer")
    assert "CEUs short by 50 h (CRSS domains 15 h, Core functions 25 h)" in item["text"]
    ok(run("config", "set", "crss.renewal.domains.CRSS domains", 0))
    assert "CEUs short by 50 h (Core functions 25 h)" in ceu_items(run, "--role", "trainer")[0]["text"]
    ok(run("config", "set", "reports.expiring_days", 9))  # the warning window: 2026-12-11 is beyond it
    assert ceu_items(run, "--role", "trainer") == [] and ceu_items(run, "--role", "leader", "--for", "P0027") == []
