"""Leader statuses after certification (issue 12): the Peer-to-Peer commitment counts whole
courses, a lapse makes the leader inactive or lapsed but is never a dead end (`reactivate`, with
the plugin's rule of what must be redone), and every status change is dated, explained and audited."""

import json

import pytest

from conftest import assert_refused, certify_teacher, crss_walk, ok

TODAY = "2026-06-01"


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setenv("PEERPATH_TODAY", TODAY)


@pytest.fixture
def teacher(initialised, run):
    """P0001 certified to teach Peer-to-Peer on 2026-02-02 (valid 730 days), P0002 a co-teacher."""
    ok(run("peer", "add", "Ana", "--lived-experience", "self"))
    ok(run("peer", "add", "Bo", "--lived-experience", "self"))
    certify_teacher(run)
    ok(run("enroll", "P0002", "peer_to_peer", "--on", "2026-01-01"))
    return initialised


def status_of(run, peer, program, *options):
    [status] = json.loads(ok(run(*options, "progress", peer, program, "--json")))
    return status


def teach(run, offering, days):
    for day in days:
        ok(run("session", "add", offering, "--on", day))


WEEKS = ["2026-03-0%d" % d for d in (1, 8)] + ["2026-03-%d" % d for d in (15, 22, 29)] + \
    ["2026-04-0%d" % d for d in (5,)] + ["2026-04-%d" % d for d in (12, 19)]
LATER = [day.replace("2026-03", "2026-09").replace("2026-04", "2026-10") for day in WEEKS]


# --- the Peer-to-Peer commitment counts whole courses ----------------------------------------------


def test_one_session_led_is_not_a_course(teacher, run):
    ok(run("offering", "add", "peer_to_peer", "Spring class", "--leaders", "P0001,P0002"))
    ok(run("offering", "add", "peer_to_peer", "Summer class", "--leaders", "P0001,P0002"))
    ok(run("session", "add", "O0001", "--on", "2026-03-01"))
    ok(run("session", "add", "O0002", "--on", "2026-03-02"))
    assert status_of(run, "P0001", "peer_to_peer")["renewal"]["summary"] == "0/2 courses"


def test_a_course_counts_when_its_sessions_reach_the_format_or_it_is_completed(teacher, run):
    ok(run("offering", "add", "peer_to_peer", "Spring class", "--leaders", "P0001,P0002"))
    teach(run, "O0001", WEEKS[:7])
    assert status_of(run, "P0001", "peer_to_peer")["renewal"]["summary"] == "0/2 courses"
    teach(run, "O0001", WEEKS[7:])  # the eighth session: format.sessions
    assert status_of(run, "P0001", "peer_to_peer")["renewal"]["summary"] == "1/2 courses"
    ok(run("--today", "2026-12-01", "offering", "add", "peer_to_peer", "Short class", "--leaders", "P0001,P0002"))
    ok(run("--today", "2026-12-01", "session", "add", "O0002", "--on", "2026-09-06"))
    ok(run("--today", "2026-12-01", "offering", "close", "O0002", "--on", "2026-11-01"))  # completed early
    status = status_of(run, "P0001", "peer_to_peer", "--today", "2026-12-01")
    assert status["expires"] == "2030-02-01"  # two courses: renewed once


def test_format_sessions_is_the_affiliates_setting(teacher, run):
    ok(run("offering", "add", "peer_to_peer", "Spring class", "--leaders", "P0001,P0002"))
    teach(run, "O0001", WEEKS[:6])
    ok(run("config", "set", "peer_to_peer.format.sessions", "6"))
    assert status_of(run, "P0001", "peer_to_peer")["renewal"]["summary"] == "1/2 courses"
