"""The peer commands, the audit trail and where the database lives, through the CLI."""

import getpass
import json
import stat

import pytest

from conftest import assert_refused, ok, snapshot

pytestmark = pytest.mark.both_backends  # each test on a file and on PostgreSQL (conftest.py)


@pytest.fixture
def ana(initialised, run, monkeypatch):
    monkeypatch.setenv("PEERPATH_TODAY", "2026-03-01")
    assert ok(run("--today", "2026-01-10", "peer", "add", "Ana Ruiz", "--email", "ana@example.org", "--phone", "555-0101",
                  "--language", "English", "--language", "Spanish", "--community", "Eastside",
                  "--lived-experience", "self", "--source", "graduate", "--source-detail", "Peer-to-Peer",
                  "--consent", "contact=yes")) == "P0001\n"
    return "P0001"


@pytest.mark.files_only("the files' modes")
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
    assert event["details"]["changes"] == {"community": {"old": "Eastside", "new": "Westside"},
                                           "pronouns": {"old": None, "new": "she/her"}}


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
        ("add", "tester"), ("stage", "coordinator Kim"), ("edit", getpass.getuser())]


@pytest.mark.parametrize("args, fragment", [
    (("peer", "show", "P0999"), "P0999"),
    (("peer", "edit", "P0999", "--county", "Cook"), "P0999"),
    (("peer", "stage", "P0999", "contacted"), "P0999"),
    (("peer", "stage", "P0001", "levitating"), "unknown stage 'levitating'"),
    (("peer", "stage", "P0001", "contacted", "--on", "2026-02-30"), "unreadable date '2026-02-30'"),
    (("peer", "add", "   "), "name"),
    (("peer", "add", "Bo", "--email", "not-an-email"), "invalid email"),
    (("peer", "add", "Bo", "--sector", "aerospace"), "unknown sector 'aerospace'"),
    (("peer", "add", "Bo", "--lived-experience", "maybe"), "maybe"),
    (("peer", "add", "Bo", "--consent", "contact=perhaps"), "contact"),
    (("peer", "edit", "P0001"), "nothing to change"),
    (("audit", "--peer", "P0999"), "P0999"),
    (("peer", "show", "p0001"), "unknown peer 'p0001'"),
    (("peer", "edit", "P0001", "--email", "bad"), "invalid email 'bad'"),
    (("peer", "edit", "P0001", "--name", "  "), "name"),
    (("peer", "edit", "P0001", "--sector", "aerospace"), "unknown sector 'aerospace'"),
    (("peer", "add", "Bo", "--stage", "bogus"), "unknown stage 'bogus'"),
    (("peer", "add", "Bo", "--source", "nowhere"), "unknown source 'nowhere'"),
    (("--today", "2026-13-01", "peer", "add", "Bo"), "unreadable date '2026-13-01'"),
    (("peer", "stage", "P0001", "contacted", "--on", "yesterday"), "unreadable date 'yesterday'"),
    (("peer", "stage", "P0001", "prospect"), "already at stage 'prospect'"),
    (("peer", "list", "--stage", "bogus"), "unknown stage 'bogus'"),
])
def test_bad_input_is_one_line_and_changes_nothing(ana, run, db, args, fragment):
    before = snapshot(db)
    assert_refused(run(*args), fragment)
    assert snapshot(db) == before


@pytest.mark.files_only("a path that must stay absent; PostgreSQL's own is in test_postgres_cluster.py")
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


def test_show_and_audit_tables_say_who_and_when(ana, run):
    ok(run("--as", "coordinator Kim", "peer", "stage", ana, "contacted", "--on", "2026-01-12"))
    shown = ok(run("peer", "show", ana)).splitlines()
    assert "name:             Ana Ruiz" in shown
    assert [line for line in shown if line.startswith("stage history:")] == [
        "stage history:    2026-01-10 prospect (tester)", "stage history:    2026-01-12 contacted (coordinator Kim)"]
    table = ok(run("audit", "--peer", ana)).splitlines()
    assert table[0].split() == ["when", "who", "action", "what", "id", "details"]
    rows = [line for line in table[1:] if not line.startswith(" ")]  # indented: the details wrapped
    assert [line.split()[1:4] for line in rows] == [["tester", "add", "peers"], ["coordinator", "Kim", "stage"]]


def test_audit_is_append_only_and_names_each_change(ana, run):
    events = json.loads(ok(run("audit", "--json")))
    assert [(e["action"], e["entity"], e["entity_id"]) for e in events][1:] == [("add", "peers", ana)]
    ok(run("peer", "edit", ana, "--notes", "prefers evenings"))
    later = json.loads(ok(run("audit", "--json")))
    assert later[:len(events)] == events
    assert (later[-1]["action"], later[-1]["entity_id"], later[-1]["actor"]) == ("edit", ana, "tester")


def test_a_refused_change_is_not_audited(ana, run):
    count = len(json.loads(ok(run("audit", "--json"))))
    assert run("peer", "stage", ana, "levitating").exit_code != 0
    assert len(json.loads(ok(run("audit", "--json")))) == count


@pytest.mark.files_only("the files' modes")
def test_every_file_of_the_database_is_private(ana, run, db):
    ok(run("peer", "stage", ana, "contacted"))
    ok(run("peer", "add", "Bo"))
    folder = db.with_name(db.name + ".d")
    files = [path for path in db.parent.iterdir() if path.name.startswith(db.name) and path.is_file()]
    files += list(folder.iterdir())
    assert {path.name for path in files} >= {db.name, db.name + ".lock", "events.jsonl"}
    assert len(files) > 3
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_without_xdg_data_home_the_database_is_under_the_home_folder(tmp_path, run, monkeypatch):
    monkeypatch.delenv("PEERPATH_DB")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    result = run("init")
    default = tmp_path / "home" / ".local" / "share" / "peerpath" / "peerpath.json"
    assert ok(result) == f"Created {default}\n"
    assert default.exists()
    assert ok(run("peer", "add", "Ana")) == "P0001\n"
    other = tmp_path / "other.json"
    assert ok(run("--db", other, "init")) == f"Created {other}\n"
    assert json.loads(ok(run("--db", other, "peer", "list", "--json"))) == []  # --db wins over the default


def test_the_environment_database_wins_over_the_data_folder(tmp_path, run, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    ok(run("init"))
    ok(run("peer", "add", "Ana"))
    assert not (tmp_path / "data").exists()
    assert [p["name"] for p in json.loads(ok(run("peer", "list", "--json")))] == ["Ana"]


def test_peer_add_takes_the_date_the_peer_entered_their_stage(initialised, run, db, monkeypatch):
    monkeypatch.setenv("PEERPATH_TODAY", "2026-03-01")
    assert ok(run("peer", "add", "Ana", "--stage", "applied", "--on", "2026-02-10")) == "P0001\n"
    history = json.loads(ok(run("peer", "show", "P0001", "--json")))["stage_history"]
    assert [(h["stage"], h["on"]) for h in history] == [("applied", "2026-02-10")]
    before = snapshot(db)
    assert_refused(run("peer", "add", "Bo", "--on", "2026-03-02"), "2026-03-02 is in the future")
    assert_refused(run("peer", "add", "Bo", "--on", "March"), "unreadable date 'March'")
    assert snapshot(db) == before
