"""Training events with rosters (issue 17, point 5): plan, enrol within the seats, close with every
trainee's result in one change, each result a training step record under the pathway's rules."""

import csv
import io
import json

import pytest

from conftest import assert_refused, ok, snapshot

pytestmark = pytest.mark.both_backends  # each test on a file and on PostgreSQL (conftest.py)


@pytest.fixture
def demo(demo_db):
    return demo_db


def training_step(run, peer):
    [status] = json.loads(ok(run("progress", peer, "connection", "--json")))
    [step] = [s for s in status["steps"] if s["step"] == "training"]
    return status["status"], step


def test_a_training_is_planned_filled_and_closed_with_each_result_recorded(demo, run):
    assert ok(run("training", "add", "connection", "--on", "2026-11-20", "--until", "2026-11-22",
                  "--trainers", "Dana Ruiz,Lee Park", "--capacity", "2")) == "T0002\n"
    ok(run("record", "P0026", "connection", "interview", "--outcome", "passed", "--on", "2026-11-01"))
    ok(run("record", "P0026", "connection", "fidelity_agreement", "--on", "2026-11-02"))
    assert ok(run("training", "enroll", "T0002", "P0025", "P0026")) == "T0002: 2 on the roster, 0 seat(s) left\n"
    assert ok(run("training", "close", "T0002", "--passed", "P0025", "--not-passed", "P0026")) == \
        "T0002 closed: 1 passed, 1 not passed\n"
    status, step = training_step(run, "P0025")
    assert (status, step["state"]) == ("certified", "done")
    status, step = training_step(run, "P0026")
    assert (status, step["state"]) == ("in training", "failed")
    records = [e for e in json.loads(ok(run("audit", "--json"))) if e["action"] == "record"][-2:]
    assert {e["peer_id"] for e in records} == {"P0025", "P0026"}
    row, planned = json.loads(ok(run("training", "list", "--json")))  # in date order: the demo's T0001 later
    assert (row["enrolled"], row["seats_left"], row["closed"], row["trainers"]) == (2, 0, True, ["Dana Ruiz", "Lee Park"])
    assert (planned["id"], planned["enrolled"], planned["seats_left"], planned["closed"]) == ("T0001", 2, 10, False)
    table = list(csv.DictReader(io.StringIO(ok(run("training", "list", "--csv")))))
    assert [r["id"] for r in table] == ["T0002", "T0001"] and table[0]["seats_left"] == "0"


def test_one_refused_trainee_refuses_the_whole_close(demo, run):
    ok(run("training", "add", "connection", "--on", "2026-11-20", "--until", "2026-11-22"))
    ok(run("training", "enroll", "T0002", "P0025", "P0026"))
    before = snapshot(demo)
    assert_refused(run("training", "close", "T0002", "--passed", "P0025", "--partial", "P0026"),
                   "P0026:", "fidelity_agreement", "nothing of T0002 was recorded")
    assert_refused(run("training", "close", "T0002", "--passed", "P0025"), "missing: P0026")
    assert_refused(run("training", "close", "T0002", "--passed", "P0025,P0023", "--partial", "P0026"),
                   "not on the roster of T0002: P0023")
    assert_refused(run("training", "close", "T0002", "--passed", "P0025", "--not-passed", "P0025"), "two results")
    assert snapshot(demo) == before
    assert training_step(run, "P0025")[1]["state"] != "done"


def test_enrolment_refusals_change_nothing(demo, run):
    ok(run("training", "add", "connection", "--on", "2026-11-20", "--capacity", "1"))
    ok(run("training", "enroll", "T0002", "P0025"))
    before = snapshot(demo)
    assert_refused(run("training", "enroll", "T0002", "P0026"), "0 seat(s) left")
    assert_refused(run("training", "enroll", "T0002", "P0025"), "already on the roster")
    assert_refused(run("training", "enroll", "T0009", "P0025"), "no training 'T0009'")
    assert_refused(run("training", "add", "crss", "--on", "2026-11-20"), "no training step")
    assert_refused(run("training", "add", "connection", "--on", "2026-11-20", "--until", "2026-11-19"), "before --on")
    assert snapshot(demo) == before


def test_a_peer_not_enrolled_in_the_program_cannot_be_on_the_roster(demo, run):
    ok(run("training", "add", "ioov", "--on", "2026-11-20", "--until", "2026-11-21"))
    assert_refused(run("training", "enroll", "T0002", "P0004"), "P0004 is not enrolled in ioov")


# --- roster files (issue 17, point 5) ------------------------------------------------------------


def roster_of(run, training="T0002") -> list:
    [row] = [r for r in json.loads(ok(run("training", "list", "--json"))) if r["id"] == training]  # not the demo's T0001
    return row


def test_a_roster_file_of_names_enrols_each_matched_peer(demo, run, tmp_path):
    ok(run("training", "add", "connection", "--on", "2026-11-20", "--capacity", "3"))
    roster = tmp_path / "roster.csv"
    roster.write_text("Name,Phone\n  sofia PATEL ,555\n\n\"Kowalski, Tariq\",\n")  # case, order, spacing
    assert ok(run("training", "enroll", "T0002", "--roster", roster)) == \
        f"T0002: 2 on the roster, 1 seat(s) left\nadded from {roster}: P0025, P0026\n"
    assert roster_of(run)["enrolled"] == 2
    [event] = [e for e in json.loads(ok(run("audit", "--json")))
               if e["action"] == "enroll" and e["entity"] == "trainings" and e["entity_id"] == "T0002"]
    assert event["details"] == {"peers": ["P0025", "P0026"], "roster": str(roster)}


def test_a_roster_file_of_ids_with_or_without_a_header(demo, run, tmp_path):
    ok(run("training", "add", "connection", "--on", "2026-11-20"))
    ok(run("training", "add", "connection", "--on", "2026-11-27"))
    (tmp_path / "ids.csv").write_text("p0025\nTariq Kowalski\n")  # no header: ids and names mixed
    (tmp_path / "both.csv").write_text("id,name\nP0025,Sofia Patel\nP0026,\n")  # the id's name checked
    assert ok(run("training", "enroll", "T0002", "--roster", tmp_path / "ids.csv")).endswith(": P0025, P0026\n")
    assert ok(run("training", "enroll", "T0003", "--roster", tmp_path / "both.csv")).endswith(": P0025, P0026\n")


@pytest.mark.parametrize("text, fragment", [
    ("name\nSofia Patel\nNo Such Person\n", "line 3: no peer named 'No Such Person'"),
    ("name\nSofia Patel\nTariq Kowalski\nSofia Patel\n", "line 4: P0025 is also on"),
    ("name\nsofia patel\nMaria Lopez\n", "line 3: 'Maria Lopez' matches 2 peers (P0037 Maria Lopez, P0038"),
    ("id\nP0025\nP0999\n", "line 3: unknown peer 'P0999'"),
    ("id\nP0025\nSofia\n", "line 3: 'Sofia' is not a peer id"),
    ("id,name\nP0025,Tariq Kowalski\n", "line 2: P0025 is Sofia Patel, not 'Tariq Kowalski'"),
    ("name\nSofia Patel\nJune Fischer\n", "line 3: P0027 is not enrolled in connection in a role with a training"),
    ("name\n\n", "names no peer"),
    ("", "names no peer"),
])
def test_a_roster_with_one_bad_line_enrols_nobody(demo, run, tmp_path, text, fragment):
    ok(run("peer", "add", "Maria Lopez"))    # P0037
    ok(run("peer", "add", "Lopez, María"))   # P0038: the same name
    ok(run("training", "add", "connection", "--on", "2026-11-20"))
    roster = tmp_path / "roster.csv"
    roster.write_text(text)
    before = snapshot(demo)
    line = assert_refused(run("training", "enroll", "T0002", "--roster", roster), fragment)
    assert "Error: " + (f"{roster} line" if "line" in fragment else "") in line
    assert snapshot(demo) == before
    assert roster_of(run)["enrolled"] == 0


def test_a_roster_beyond_the_seats_or_unreadable_is_refused(demo, run, tmp_path):
    ok(run("training", "add", "connection", "--on", "2026-11-20", "--capacity", "1"))
    (tmp_path / "two.csv").write_text("name\nSofia Patel\nTariq Kowalski\n")
    (tmp_path / "book.csv").write_bytes(b"PK\x03\x04rest of a workbook")
    before = snapshot(demo)
    assert_refused(run("training", "enroll", "T0002", "--roster", tmp_path / "two.csv"), "1 seat(s) left, not 2")
    assert_refused(run("training", "enroll", "T0002", "--roster", tmp_path / "book.csv"), "Excel workbook")
    assert_refused(run("training", "enroll", "T0002", "--roster", tmp_path / "none.csv"), "cannot read roster")
    assert_refused(run("training", "enroll", "T0002"), "name at least one peer")
    assert snapshot(demo) == before
