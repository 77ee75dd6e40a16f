"""Leader retention (issue 17, point 8): (active at end - new) / active at start, per program,
with holds and lapses taken from the leader's dated history."""

import json

import pytest

from conftest import assert_refused, certify_teacher, ok

pytestmark = pytest.mark.both_backends  # each test on a file and on PostgreSQL (conftest.py)


def retention(run, *args):
    return json.loads(ok(run("report", "retention", "--json", *args)))["figures"]


def test_retention_of_the_demo_per_program_and_overall(demo_db, run):
    figures = retention(run)
    assert figures["connection"] == {"active_at_start": 2, "active_at_end": 2, "new": 0, "retained": 2, "left": 0,
                                     "retention_percent": 100.0}
    # one CRSS specialist lapsed during the year
    assert figures["crss"]["active_at_start"] == 2 and figures["crss"]["left"] == 1
    assert figures["crss"]["retention_percent"] == 50.0
    # nobody to retain: teachers certified during the year are new, and retention is not a number
    assert figures["peer_to_peer"] == {"active_at_start": 0, "active_at_end": 2, "new": 2, "retained": 0, "left": 0,
                                       "retention_percent": None}
    assert figures["all programs"]["retention_percent"] == 75.0
    leaders = json.loads(ok(run("report", "leaders", "--json")))["figures"]
    assert leaders["crss"]["retention_percent"] == figures["crss"]["retention_percent"]
    text = ok(run("report", "retention"))
    assert text.startswith("Leader retention (2025-12-01 to 2026-12-01)") and "all programs" in text


@pytest.fixture
def teachers(peers, run, monkeypatch):
    """P0001 and P0002 certified Peer-to-Peer teachers (2026-02-02); P0002 on hold from 2026-06-01."""
    certify_teacher(run, "P0001")
    certify_teacher(run, "P0002")
    monkeypatch.setenv("PEERPATH_TODAY", "2026-06-01")
    ok(run("status", "P0002", "peer_to_peer", "on hold", "--reason", "moving house"))
    monkeypatch.setenv("PEERPATH_TODAY", "2026-07-01")


def test_a_hold_during_the_period_counts_as_leaving_and_new_leaders_are_not_retained(teachers, run):
    p2p = retention(run, "--from", "2026-03-01", "--to", "2026-06-15")["peer_to_peer"]
    assert (p2p["active_at_start"], p2p["active_at_end"], p2p["new"], p2p["left"]) == (2, 1, 0, 1)
    assert p2p["retention_percent"] == 50.0
    # before the hold, both were still there
    assert retention(run, "--from", "2026-03-01", "--to", "2026-05-31")["peer_to_peer"]["retention_percent"] == 100.0
    # certified during the period: new, none active at the start
    p2p = retention(run, "--from", "2026-01-01", "--to", "2026-05-01")["peer_to_peer"]
    assert (p2p["active_at_start"], p2p["new"], p2p["retention_percent"]) == (0, 2, None)


def test_back_from_a_hold_is_new_again_never_above_100_percent(teachers, run, monkeypatch):
    monkeypatch.setenv("PEERPATH_TODAY", "2026-08-01")
    ok(run("status", "P0002", "peer_to_peer", "active"))
    p2p = retention(run, "--from", "2026-07-01", "--to", "2026-08-01")["peer_to_peer"]
    assert (p2p["active_at_start"], p2p["active_at_end"], p2p["new"], p2p["retention_percent"]) == (1, 2, 1, 100.0)


def test_retention_refuses_a_backwards_period_and_peer_filters(demo_db, run):
    assert_refused(run("report", "retention", "--from", "2026-12-01", "--to", "2026-01-01"), "is after --to")
    assert_refused(run("report", "retention", "--community", "Cicero"), "does not filter peers")
