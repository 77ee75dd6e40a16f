"""The peer commands, the audit trail and where the database lives, through the CLI."""

import json
import os
import stat

import pytest

from conftest import assert_refused, snapshot


def ok(result) -> str:
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.fixture
def ana(initialised, run, monkeypatch):
    monkeypatch.setenv("PEERPATH_TODAY", "2026-03-01")
    assert ok(run("--today", "2026-01-10", "peer", "add", "Ana Ruiz", "--email", "ana@example.org", "--phone", "555-0101",
                  "--language", "English", "--language", "Spanish", "--community", "Eastside",
                  "--lived-experience", "self", "--source", "graduate", "--source-detail", "Peer-to-Peer",
                  "--consent", "contact=yes")) == "P0001\n"
    return "P0001"


def test_init_creates_an_empty_private_database(db, run):
    assert not db.exists()
    ok(run("init", "--affiliate", "NAMI Testville"))
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert json.loads(ok(run("peer", "list", "--json"))) == []
    ok(run("peer", "add", "Ana"))
    before = snapshot(db)
    assert ok(run("init")).startswith("Already exists")  # running it again is harmless
    assert snapshot(db) == before


def test_peer_add_prints_the_id_and_stores_every_field(ana, run):
    peer = json.loads(ok(run("peer", "show", ana, "--json")))
    assert peer["name"] == "Ana Ruiz"
    assert peer["email"] == "ana@example.org"
    assert peer["languages"] == ["English", "Spanish"]
    assert (peer["community"], peer["lived_experience"], peer["source"]) == ("Eastside", "self", "graduate")
    assert peer["consent"] == {"contact": True}
    assert peer["stage"] == "prospect"
    assert ok(run("peer", "add", "Bo")) == "P0002\n"


def test_list_show_and_audit_json_are_json_and_nothing_else(ana, run):
    for args in (("peer", "list", "--json"), ("peer", "show", ana, "--json"), ("audit", "--json"),
                 ("audit", "--peer", ana, "--json")):
        result = run(*args)
        assert result.exit_code == 0, result.stderr
        json.loads(result.stdout)
        assert result.stderr == ""


def test_peer_list_filters_by_stage(ana, run):
    ok(run("peer", "add", "Bo", "--stage", "applied"))
    assert [p["id"] for p in json.loads(ok(run("peer", "list", "--stage", "applied", "--json")))] == ["P0002"]
    table = ok(run("peer", "list"))
    assert "Ana Ruiz" in table and "Bo" in table


def test_peer_edit_changes_only_what_is_given(ana, run):
    ok(run("peer", "edit", ana, "--community", "Westside", "--pronouns", "she/her"))
    peer = json.loads(ok(run("peer", "show", ana, "--json")))
    assert (peer["community"], peer["pronouns"], peer["email"]) == ("Westside", "she/her", "ana@example.org")
    [event] = [e for e in json.loads(ok(run("audit", "--json"))) if e["action"] == "edit"]
    assert event["details"]["fields"] == ["community", "pronouns"]


def test_peer_stage_keeps_a_dated_history(ana, run):
    ok(run("peer", "stage", ana, "contacted", "--on", "2026-01-12"))
    ok(run("peer", "stage", ana, "applied", "--on", "2026-02-01"))
    peer = json.loads(ok(run("peer", "show", ana, "--json")))
    assert peer["stage"] == "applied"
    assert [(h["stage"], h["on"]) for h in peer["stage_history"]] == [
        ("prospect", "2026-01-10"), ("contacted", "2026-01-12"), ("applied", "2026-02-01")]


def test_every_change_records_who_made_it(ana, run, monkeypatch):
    ok(run("--as", "coordinator Kim", "peer", "stage", ana, "contacted"))
    monkeypatch.delenv("PEERPATH_USER")
    ok(run("peer", "edit", ana, "--county", "Cook"))
    events = json.loads(ok(run("audit", "--peer", ana, "--json")))
    assert [(e["action"], e["actor"]) for e in events] == [
        ("add", "tester"), ("stage", "coordinator Kim"), ("edit", os.environ.get("USER") or events[2]["actor"])]
    assert events[2]["actor"]


@pytest.mark.parametrize("args, fragment", [
    (("peer", "show", "P0999"), "P0999"),
    (("peer", "edit", "P0999", "--county", "Cook"), "P0999"),
    (("peer", "stage", "P0999", "contacted"), "P0999"),
    (("peer", "stage", "P0001", "levitating"), "unknown stage 'levitating'"),
    (("peer", "stage", "P0001", "contacted", "--on", "2026-02-30"), "invalid date '2026-02-30'"),
    (("peer", "add", "   "), "name"),
    (("peer", "add", "Bo", "--email", "not-an-email"), "invalid email"),
    (("peer", "add", "Bo", "--sector", "aerospace"), "unknown sector 'aerospace'"),
    (("peer", "add", "Bo", "--lived-experience", "maybe"), "maybe"),
    (("peer", "add", "Bo", "--consent", "contact=perhaps"), "contact"),
    (("peer", "edit", "P0001"), "nothing to change"),
    (("audit", "--peer", "P0999"), "P0999"),
])
def test_bad_input_is_one_line_and_changes_nothing(ana, run, db, args, fragment):
    before = snapshot(db)
    assert_refused(run(*args), fragment)
    assert snapshot(db) == before


def test_a_missing_database_is_a_clear_error(db, run):
    assert_refused(run("peer", "list"), str(db), "peerpath init")
    assert not db.exists()


def test_the_database_path_comes_from_the_option_then_the_environment_then_the_data_folder(
        tmp_path, run, monkeypatch):
    option, env = tmp_path / "option.json", tmp_path / "env.json"
    monkeypatch.setenv("PEERPATH_DB", str(env))
    ok(run("--db", option, "init"))
    assert option.exists() and not env.exists()
    ok(run("init"))
    assert env.exists()
    monkeypatch.delenv("PEERPATH_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    ok(run("init"))
    default = tmp_path / "data" / "peerpath" / "peerpath.json"
    assert default.exists()
    assert stat.S_IMODE(default.stat().st_mode) == 0o600
    assert stat.S_IMODE(default.parent.stat().st_mode) == 0o700
