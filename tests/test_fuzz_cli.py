"""Bad input at scale (issue 6): random text, numbers and dates fed to every command.

Each example runs one command in-process against a fresh copy of a small prepared database and
checks the CLI's promises:

- never a traceback: the command either succeeds or exits with `SystemExit`;
- a refusal exits non-zero with exactly one `Error:` line on stderr and nothing on stdout
  (`peer import` may list the sheet's bad rows, `line N: ...`, before that line), and leaves
  every file of the database byte-for-byte as it was;
- a success exits 0, leaves every file valid JSON, and the change it reports is there; a
  command that only reads never changes a byte.

How examples are made: each command line is first drawn valid (real ids, the programs' own words,
dates that make sense, any unicode text where free text is allowed, any subset of the options in
any order), then up to two of its values are swapped for junk: any unicode text, empty and
blank strings, option-like strings, very long strings, numbers of any size, impossible or
extreme dates. So examples both get deep into the commands and hit every first check.
"""

import contextlib
import datetime as dt
import json
import os
import shutil
import tempfile
import traceback
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from peerpath.cli import cli
from peerpath.core import LIVED_EXPERIENCE, SECTORS, SOURCES, STAGES
from peerpath.core.catalog import build_catalog
from peerpath.core.config import defaults
from peerpath.core.plugins import get_host

TODAY = "2025-06-01"
ENV = {"PEERPATH_TODAY": TODAY, "PEERPATH_USER": "fuzzer", "PEERPATH_LOAD_PLUGINS": None,
       "PEERPATH_LOCK_TIMEOUT": None, "PEERPATH_TRACE_HOOKS": None}

# What the built-in plugins provide.
_CATALOG = build_catalog(get_host(), get_host().names(), {})
PROGRAMS = sorted(_CATALOG.programs)
ROLES = sorted({role.key for p in _CATALOG.programs.values() for role in p.roles})
CHECKLISTS = sorted(_CATALOG.checklists)
REPORTS = sorted(_CATALOG.reports)
DEFAULTS = defaults(_CATALOG.programs)
SETTINGS = sorted(DEFAULTS)
PLUGINS = sorted(get_host().names())
MEETING_ITEMS = [item.key for item in _CATALOG.checklists["connection_meeting"].items]
DOMAINS = sorted({domain for p in _CATALOG.programs.values() for w in p.pathways
                  for step in list(w.steps) + ([w.renewal] if w.renewal else [])
                  for domain in (step.params.get("domains") or {})})


def _steps(*enrolled):
    """(peer, program, step) for every step of the programs the template's peers are enrolled in."""
    found = []
    for peer, program in enrolled:
        for pathway in _CATALOG.programs[program].pathways:
            for step in list(pathway.steps) + ([pathway.renewal] if pathway.renewal else []):
                found.append((peer, program, step.key))
    return sorted(set(found))


PEER_STEPS = _steps(("P0001", "connection"), ("P0002", "connection"), ("P0002", "crss"),
                    ("P0004", "connection"), ("P0004", "peer_to_peer"))
LEADER_STATUSES = ("active", "on hold", "inactive")
IMPORT_COMMAND = "import" in cli.commands["peer"].commands


def fuzz(max_examples):
    return settings(max_examples=max_examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


# --- junk ---------------------------------------------------------------------------------------------

# Any text an argv can carry as valid UTF-8: no NUL, no lone surrogates (those come from bytes
# that are not UTF-8, and have a test of their own below).
CHAR = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
TEXT = st.text(CHAR, max_size=40)
ODD = st.sampled_from([
    "", " ", "\t", "  \n ", "--", "-", "-x", "--nope", "'", '"', "\\", "a\nb", "\r\n", "é", "名前", "🙂",
    "\u200b", "\u202e", "\ufeff", "NaN", "nan", "inf", "-inf", "null", "true", "{}", "[]", "{\"a\": 1}",
    "0", "-0", "-1", "1e309", "١٢", "P0001 ", " P0001", "p0001", "P00001", "P-1", "P9" * 40, "%s", "{0}",
])
LONG = st.one_of(st.integers(1_000, 120_000).map(lambda n: "x" * n),
                 st.text(CHAR, min_size=300, max_size=2_000))
NUMBER = st.one_of(st.integers(), st.integers(-1_000, 1_000), st.floats()).map(str) | st.sampled_from(
    ["1e400", "-1e400", "0x10", "1_000", " 7 ", "+5", "3.", ".5", "1/2", "10**9"])
DATE = st.one_of(
    st.dates().map(dt.date.isoformat),
    st.datetimes().map(dt.datetime.isoformat),
    st.sampled_from(["2025-02-30", "2025-13-01", "2025-00-10", "0000-01-01", "0001-01-01", "9999-12-31",
                     "20250101", "2025-1-1", "2025/01/01", "1/2/2025", " 2025-05-01 ", "2025-06-02",
                     "2025-W01-1", "yesterday", "today"]),
)
JUNK = st.one_of(TEXT, ODD, LONG, NUMBER, DATE)

# --- valid values ---------------------------------------------------------------------------------------

FREE = st.text(CHAR, max_size=30)  # where any text is allowed
NAME = st.one_of(st.text(CHAR, min_size=1, max_size=30), st.sampled_from(["Ana", "Zoë Ñúñez", "李华", "O'Brien"]))
PEER = st.sampled_from(["P0001", "P0002", "P0003", "P0004"])
# A date the user could mean: mostly in the months before TODAY, sometimes any day at all.
DAY = st.one_of(st.dates(dt.date(2025, 2, 19), dt.date(2025, 6, 1)), st.dates(dt.date(2020, 1, 1), dt.date(2027, 1, 1)),
                st.dates()).map(dt.date.isoformat)
SMALL = st.integers(0, 400).map(str)
ANY_INT = st.one_of(st.integers(0, 400), st.integers(0, 10 ** 12), st.integers(2 ** 63 - 2, 2 ** 70)).map(str)
LEADERS = st.sampled_from(["P0001", "P0002", "P0001,P0002", "P0002, P0001", "P0004", "P0001,P0004"])


def repeated(strategy):
    return st.lists(strategy, min_size=1, max_size=3)


class Cmd(NamedTuple):
    """A command line (the arguments after the command's name) and the values it holds by name."""

    argv: list
    values: dict

    @classmethod
    def of(cls, *argv, **values):
        return cls(list(argv), values)

    @property
    def plain(self) -> bool:
        """No value looks like an option, so click read each value where it was put."""
        return not any(isinstance(v, str) and v.startswith("-") for v in self.values.values())


def command(*positional, always=None, **optional):
    """Command lines: the `positional` (name, strategy) arguments in order, the `always` options,
    and any subset of the `optional` ones, in any order (keys use `_` for `-`; True makes a flag;
    a list repeats the option). Every value is drawn valid, then up to two are swapped for junk.

    A positional name may be a tuple, its strategy drawing a tuple of as many values (e.g. a peer
    with a program it is enrolled in); a positional drawing None is left out.
    """
    always = dict(always or {})
    options = (st.fixed_dictionaries(always, optional=optional)
               .flatmap(lambda chosen: st.permutations(sorted(chosen.items()))))
    drawn = st.tuples(st.tuples(*[strategy for _, strategy in positional]), options,
                      st.lists(st.tuples(st.integers(0, 30), JUNK), max_size=2))
    names = [name for name, _ in positional]
    return drawn.map(lambda parts: _line(names, *parts))


def _line(names, positional, options, swaps) -> Cmd:
    slots = []  # [flag or None, name, value]
    for name, drawn in zip(names, positional):
        if isinstance(name, tuple):
            slots += [[None, n, v] for n, v in zip(name, drawn)]
        elif drawn is not None:
            slots.append([None, name, drawn])
    for key, drawn in options:
        flag = "--" + key.replace("_", "-")
        slots += [[flag, flag, item] for item in (drawn if isinstance(drawn, list) else [drawn])]
    swappable = [slot for slot in slots if slot[2] is not True]
    for index, junk in swaps:
        if swappable:
            swappable[index % len(swappable)][2] = junk
    argv, values = [], {}
    for flag, name, value in slots:
        argv += [value] if flag is None else ([flag] if value is True else [flag, value])
        values[name] = value
    return Cmd(argv, values)


# The options before the command: who is acting and what day it is.
GLOBAL = command(**{"as": NAME, "today": DAY})
NO_GLOBAL = Cmd.of()
PEER_FIELDS = dict(
    email=st.one_of(st.emails(), st.sampled_from(["ana@example.org", "x@y"])), phone=FREE, pronouns=FREE,
    language=repeated(FREE), community=st.one_of(st.sampled_from(["Eastside", "eastside", "Westside"]), FREE),
    county=FREE, lived_experience=st.sampled_from(LIVED_EXPERIENCE), source=st.sampled_from(SOURCES),
    source_detail=FREE, sector=st.sampled_from(SECTORS), outreach=st.just("X0001"),
    consent=repeated(st.sampled_from(["contact=yes", "photo=no", "Contact=YES", " sms = no"])), notes=FREE,
)


# --- the database and the checks ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A small affiliate: Ana (P0001) one co-facilitated session short of certification as a
    Connection facilitator; Bo (P0002) enrolled in Connection and CRSS with some hours; Cy (P0003)
    not eligible to lead; Dee (P0004) enrolled in Connection and Peer-to-Peer with nothing done;
    an offering led by Ana and Bo with three sessions and a passing observation; an outreach
    event; an underserved community."""
    db = tmp_path_factory.mktemp("template") / "affiliate.json"
    answers = db.with_name("answers.json")
    answers.write_text(json.dumps({key: "yes" for key in MEETING_ITEMS} | {
        "check_in": "4", "agenda": "5", "processes": "4"}))
    steps = [
        ("init", "--affiliate", "Fuzz County"),
        ("peer", "add", "Ana Lopez", "--lived-experience", "self", "--consent", "adult=yes", "--community", "Eastside",
         "--email", "ana@example.org", "--source", "graduate"),
        ("peer", "add", "Bo Chen", "--lived-experience", "self", "--consent", "adult=yes", "--stage", "applied"),
        ("peer", "add", "Cy Diaz", "--lived-experience", "family"),
        ("peer", "add", "Dee Evans", "--lived-experience", "both", "--consent", "adult=yes", "--stage", "accepted"),
        ("enroll", "P0001", "connection", "--on", "2025-01-02"),
        ("enroll", "P0002", "connection", "--on", "2025-01-02"),
        ("enroll", "P0002", "crss", "--on", "2025-01-02"),
        ("record", "P0002", "crss", "experience", "--hours", "120", "--score", "75", "--on", "2025-02-01"),
        ("record", "P0002", "crss", "education", "--hours", "10", "--domain", "ethics", "--on", "2025-02-01"),
        ("enroll", "P0004", "connection", "--on", "2025-03-01"),
        ("enroll", "P0004", "peer_to_peer", "--on", "2025-03-01"),
        ("record", "P0001", "connection", "application", "--on", "2025-01-03"),
        ("record", "P0001", "connection", "reference", "--outcome", "passed", "--on", "2025-01-10"),
        ("record", "P0001", "connection", "interview", "--outcome", "passed", "--on", "2025-01-10"),
        ("record", "P0001", "connection", "fidelity_agreement", "--on", "2025-01-11"),
        ("record", "P0001", "connection", "training", "--on", "2025-01-20", "--until", "2025-01-22"),
        ("offering", "add", "connection", "Tuesday group", "--leaders", "P0001,P0002", "--started", "2025-02-04"),
        ("session", "add", "O0001", "--on", "2025-02-04", "--attendance", "7"),
        ("session", "add", "O0001", "--on", "2025-02-11", "--attendance", "9"),
        ("session", "add", "O0001", "--on", "2025-02-18"),
        ("observe", "O0001", "--checklist", "connection_meeting", "--observer", "Dee", "--on", "2025-02-04",
         "--answers", answers),
        ("outreach", "add", "hospital talk", "--on", "2025-01-10", "--community", "Eastside", "--reached", "30"),
        ("communities", "mark", "Eastside"),
    ]
    for args in steps:
        result = run(db, *args)
        assert result.exit_code == 0, (args, result.stderr)
    answers.unlink()
    return db


@contextlib.contextmanager
def fresh(template: Path):
    """A private copy of the template database for one example."""
    folder = Path(tempfile.mkdtemp(dir=template.parent.parent, prefix="example"))
    try:
        for item in template.parent.iterdir():
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, folder / item.name)
        yield folder / template.name
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(db: Path, *args, before=()):
    return CliRunner().invoke(cli, [*map(str, before), "--db", str(db), *map(str, args)], env=ENV)


def snapshot(db: Path) -> dict:
    """Every byte of the database but `<db>.lock` (which only holds the last writer's pid)."""
    files = {}
    for path in sorted(db.parent.iterdir()):
        if path.name.startswith(db.name) and path.is_file() and path.name != db.name + ".lock":
            files[path.name] = path.read_bytes()
    folder = db.with_name(db.name + ".d")
    for path in sorted(folder.iterdir()) if folder.is_dir() else ():
        files[f"{folder.name}/{path.name}"] = path.read_bytes()
    return files


def _strict_json(data: bytes, where: str):
    def refuse(constant):
        raise AssertionError(f"{where} holds {constant}, which is not JSON")

    try:
        return json.loads(data, parse_constant=refuse)
    except ValueError as error:
        raise AssertionError(f"{where} is not valid JSON: {error}") from None


def assert_valid_files(files: dict) -> None:
    for name, data in files.items():
        if name.endswith(".jsonl"):
            for number, line in enumerate(data.splitlines(), 1):
                _strict_json(line, f"{name} line {number}")
        else:
            _strict_json(data, name)


def describe(result) -> str:
    if result.exc_info and not isinstance(result.exception, SystemExit):
        return "".join(traceback.format_exception(*result.exc_info))
    return f"exit {result.exit_code}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"


def assert_no_crash(result, bad_rows: bool = False) -> bool:
    """No traceback; a refusal is exactly one `Error:` line (after the bad rows of an import).
    Returns True for a success."""
    assert result.exception is None or isinstance(result.exception, SystemExit), describe(result)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, describe(result)
    if result.exit_code == 0:
        return True
    lines = result.stderr.splitlines()
    if bad_rows:
        while len(lines) > 1 and lines[0].startswith("line "):
            lines.pop(0)
    assert len(lines) == 1 and lines[0].startswith("Error: "), describe(result)
    assert result.stdout == "", describe(result)
    return False


def attempt(db: Path, *args, before=(), reads_only=False, bad_rows=False):
    """Run a command; check the promises above; return the result if it succeeded, else None."""
    files = snapshot(db)
    result = run(db, *args, before=before)
    succeeded = assert_no_crash(result, bad_rows=bad_rows)
    after = snapshot(db)
    if not succeeded:
        assert after == files, f"refused, but the database changed: {describe(result)}"
        return None
    assert_valid_files(after)
    if reads_only:
        assert after == files, f"a read changed the database: {describe(result)}"
    return result


def audit_count(db: Path) -> int:
    return json.loads(db.read_text())["events"]["count"]


def wrote(db: Path, result, events_before: int) -> None:
    """A write that succeeded is in the audit trail."""
    assert audit_count(db) > events_before, f"success without an audit event: {describe(result)}"


def show(db: Path, *args):
    result = run(db, *args)
    assert result.exit_code == 0, describe(result)
    return json.loads(result.stdout)


# --- peers --------------------------------------------------------------------------------------------


@fuzz(250)
@given(cmd=command(("name", NAME), **PEER_FIELDS, stage=st.sampled_from(STAGES)), global_opts=GLOBAL)
@example(cmd=Cmd.of("Ana", "--outreach", "X²"), global_opts=NO_GLOBAL)
def test_peer_add(template, cmd, global_opts):
    with fresh(template) as db:
        events = audit_count(db)
        result = attempt(db, "peer", "add", *cmd.argv, before=global_opts.argv)
        if result:
            wrote(db, result, events)
            assert result.stdout == "P0005\n", describe(result)
            peer = show(db, "peer", "show", "P0005", "--json")
            if cmd.plain:
                assert peer["name"] == cmd.values["name"].strip()
                assert peer["stage"] == (cmd.values.get("--stage") or "prospect")


@fuzz(200)
@given(cmd=command(("peer", PEER), name=NAME, **PEER_FIELDS))
@example(cmd=Cmd.of("P²", "--notes", "x"))  # a superscript two: str.isdigit() says digit, int() says no
def test_peer_edit(template, cmd):
    with fresh(template) as db:
        events = audit_count(db)
        result = attempt(db, "peer", "edit", *cmd.argv)
        if result:
            wrote(db, result, events)
            assert result.stdout.startswith("Updated P000"), describe(result)
            if "--name" in cmd.values and cmd.plain:
                peer = show(db, "peer", "show", cmd.values["peer"], "--json")
                assert peer["name"] == cmd.values["--name"].strip()


@fuzz(150)
@given(cmd=command(("peer", PEER), ("stage", st.sampled_from(STAGES)), on=DAY), global_opts=GLOBAL)
@example(cmd=Cmd.of("P²", "contacted"), global_opts=NO_GLOBAL)
def test_peer_stage(template, cmd, global_opts):
    with fresh(template) as db:
        events = audit_count(db)
        result = attempt(db, "peer", "stage", *cmd.argv, before=global_opts.argv)
        if result:
            wrote(db, result, events)
            if cmd.plain:
                assert show(db, "peer", "show", cmd.values["peer"], "--json")["stage"] == cmd.values["stage"]


@fuzz(80)
@given(cmd=command(("peer", PEER), json=st.just(True)))
@example(cmd=Cmd.of("P²"))
def test_peer_show(template, cmd):
    with fresh(template) as db:
        attempt(db, "peer", "show", *cmd.argv, reads_only=True)


SHEET_COLUMNS = {
    "Full Name": NAME, "First": NAME, "Last": NAME, "E-mail": st.emails(),
    "Phone #": st.from_regex(r"\(?[0-9]{3}\)? ?[0-9]{3}-[0-9]{4}", fullmatch=True),
    "Lived experience": st.sampled_from(LIVED_EXPERIENCE + ("Peer", "family member")),
    "Community/Town": st.sampled_from(["Eastside", "Westside", ""]), "Stage": st.sampled_from(STAGES),
    "Date added": st.dates(dt.date(2020, 1, 1), dt.date(2025, 6, 1)).map(lambda d: f"{d.month}/{d.day}/{d.year}"),
    "How did you hear about us": st.sampled_from(SOURCES + ("hospital", "")),
    "Partner sector": st.sampled_from(SECTORS + ("church",)), "Favourite colour": FREE, "Notes": FREE,
}


def _sheet(header, rows, swaps, delimiter):
    cells = [list(header)] + [list(row) for row in rows]
    flat = [(r, c) for r in range(len(cells)) for c in range(len(cells[r]))]
    for index, junk in swaps:
        r, c = flat[index % len(flat)]
        cells[r][c] = junk
    quote = lambda text: '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',;\t"\n\r') else text
    return "".join(delimiter.join(quote(cell) for cell in line) + "\n" for line in cells)


SHEETS = st.lists(st.sampled_from(sorted(SHEET_COLUMNS)), min_size=1, max_size=6, unique=True).flatmap(
    lambda header: st.builds(
        _sheet, st.just(header),
        st.lists(st.tuples(*[SHEET_COLUMNS[column] for column in header]), min_size=1, max_size=6),
        st.lists(st.tuples(st.integers(0, 50), JUNK), max_size=2),
        st.sampled_from([",", ";", "\t"])))


@pytest.mark.skipif(not IMPORT_COMMAND, reason="this peerpath has no `peer import`")
@fuzz(200)
@given(sheet=st.one_of(SHEETS.map(str.encode), SHEETS.map(lambda text: text.encode("utf-16")),
                       st.binary(max_size=300)),
       cmd=command(("file", st.just("{sheet}")),
                   map=repeated(st.sampled_from(["Favourite colour=ignore", "Favourite colour=notes",
                                                 "Notes=ignore", "Community/Town=county", "Full Name=name"])),
                   dry_run=st.just(True), skip_duplicates=st.just(True)))
def test_peer_import(template, sheet, cmd):
    with fresh(template) as db:
        path = db.with_name("sheet.csv")
        path.write_bytes(sheet)
        argv = [str(path) if arg == "{sheet}" else arg for arg in cmd.argv]
        peers = len(show(db, "peer", "list", "--json"))
        events = audit_count(db)
        dry_run = "--dry-run" in cmd.values
        result = attempt(db, "peer", "import", *argv, bad_rows=True, reads_only=dry_run)
        if result and not dry_run:
            added = len(show(db, "peer", "list", "--json")) - peers
            assert f"Imported {added} peer(s)" in result.stdout, describe(result)
            assert audit_count(db) == events + added


# --- pathways -------------------------------------------------------------------------------------------


@fuzz(150)
@given(cmd=command(("peer", PEER), ("program", st.sampled_from(PROGRAMS)), role=st.sampled_from(ROLES), on=DAY),
       global_opts=GLOBAL)
@example(cmd=Cmd.of("P²", "connection"), global_opts=NO_GLOBAL)
def test_enroll(template, cmd, global_opts):
    with fresh(template) as db:
        events = audit_count(db)
        result = attempt(db, "enroll", *cmd.argv, before=global_opts.argv)
        if result:
            wrote(db, result, events)
            if cmd.plain:
                statuses = show(db, "progress", cmd.values["peer"], "--json")
                assert any(s["program"] == cmd.values["program"] for s in statuses), describe(result)


@fuzz(300)
@given(cmd=command((("peer", "program", "step"), st.sampled_from(PEER_STEPS)),
                   role=st.sampled_from(ROLES), on=DAY, until=DAY,
                   hours=st.one_of(st.integers(1, 300).map(str), st.floats(0, 1e6).map(str)),
                   domain=st.sampled_from(DOMAINS), score=st.integers(0, 100).map(str),
                   outcome=st.sampled_from(["passed", "not passed", "Passed"]), trainer=FREE, evidence=FREE,
                   force=st.just(True), reason=FREE),
       global_opts=GLOBAL)
@example(cmd=Cmd.of("P²", "connection", "application"), global_opts=NO_GLOBAL)
def test_record(template, cmd, global_opts):
    with fresh(template) as db:
        events = audit_count(db)
        result = attempt(db, "record", *cmd.argv, before=global_opts.argv)
        if result:
            wrote(db, result, events)
            assert result.stdout.startswith("R0008: recorded "), describe(result)
            if cmd.plain:
                assert result.stdout.startswith(f"R0008: recorded {cmd.values['step']} for {cmd.values['peer']}")


@fuzz(100)
@given(cmd=command(("record", st.sampled_from([f"R000{n}" for n in range(1, 8)])), always={"reason": FREE}))
@example(cmd=Cmd.of("R¹", "--reason", "typo"))
def test_void(template, cmd):
    with fresh(template) as db:
        events = audit_count(db)
        result = attempt(db, "void", *cmd.argv)
        if result:
            wrote(db, result, events)
            assert result.stdout.startswith("R000")


@fuzz(100)
@given(cmd=command(("peer", PEER), ("program", st.sampled_from(PROGRAMS)), ("status", st.sampled_from(LEADER_STATUSES)),
                   role=st.sampled_from(ROLES)))
@example(cmd=Cmd.of("P²", "connection", "on hold"))
def test_leader_status(template, cmd):
    with fresh(template) as db:
        events = audit_count(db)
        result = attempt(db, "status", *cmd.argv)
        if result:
            wrote(db, result, events)


@fuzz(100)
@given(cmd=command(("peer", PEER), ("program", st.one_of(st.none(), st.sampled_from(PROGRAMS))), json=st.just(True)),
       global_opts=GLOBAL)
@example(cmd=Cmd.of("P²"), global_opts=NO_GLOBAL)
def test_progress(template, cmd, global_opts):
    with fresh(template) as db:
        attempt(db, "progress", *cmd.argv, before=global_opts.argv, reads_only=True)


@fuzz(150)
@given(cmd=command(program=st.sampled_from(PROGRAMS),
                   status=st.sampled_from(["in training", "certified", "on hold", "inactive", "lapsed"]),
                   expiring_within=ANY_INT, json=st.just(True)),
       global_opts=GLOBAL)
@example(cmd=Cmd.of("--expiring-within", "3384548653"), global_opts=NO_GLOBAL)
@example(cmd=Cmd.of("--expiring-within", "1"), global_opts=Cmd.of("--today", "9999-12-31"))
def test_leaders(template, cmd, global_opts):
    with fresh(template) as db:
        attempt(db, "leaders", *cmd.argv, before=global_opts.argv, reads_only=True)


# --- offerings, sessions, observations ---------------------------------------------------------------------


@fuzz(150)
@given(cmd=command(("program", st.sampled_from(PROGRAMS)), ("name", NAME),
                   leaders=LEADERS, schedule=FREE, location=FREE, started=DAY))
@example(cmd=Cmd.of("connection", "Group", "--leaders", "P0001,P²"))
def test_offering_add(template, cmd):
    with fresh(template) as db:
        events = audit_count(db)
        result = attempt(db, "offering", "add", *cmd.argv)
        if result:
            wrote(db, result, events)
            assert result.stdout == "O0002\n"
            offering = {o["id"]: o for o in show(db, "offering", "list", "--json")}["O0002"]
            assert not cmd.plain or offering["name"] == cmd.values["name"].strip()


@fuzz(200)
@given(cmd=command(("offering", st.just("O0001")), always={"on": DAY}, leaders=LEADERS,
                   attendance=st.one_of(SMALL, ANY_INT)),
       global_opts=GLOBAL)
@example(cmd=Cmd.of("O0001", "--on", "2025-05-05", "--attendance", str(2 ** 64)), global_opts=NO_GLOBAL)
@example(cmd=Cmd.of("O²", "--on", "2025-05-05"), global_opts=NO_GLOBAL)
def test_session_add(template, cmd, global_opts):
    with fresh(template) as db:
        events = audit_count(db)
        result = attempt(db, "session", "add", *cmd.argv, before=global_opts.argv)
        if result:
            wrote(db, result, events)
            assert result.stdout == "S0004\n"


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
GOOD_ANSWERS = st.fixed_dictionaries(
    {key: st.sampled_from(["yes", "no", "Yes", "met", "not met", "y", "n"]) for key in MEETING_ITEMS}
    | {key: st.sampled_from(["1", "2", "3", "4", "5", " 4 "]) for key in ("check_in", "agenda")}
    | {"processes": st.sampled_from(["1", "3", "5", "insufficient", "n/a"])})
ANSWER_FILES = st.one_of(
    GOOD_ANSWERS.map(lambda answers: ("answers.json", json.dumps(answers).encode())),
    GOOD_ANSWERS.map(lambda answers: ("answers.csv", ("item,answer\n" + "".join(
        f"{key},{value}\n" for key, value in answers.items())).encode())),
    st.tuples(st.sampled_from(MEETING_ITEMS), JUNK, GOOD_ANSWERS).map(
        lambda t: ("answers.json", json.dumps({**t[2], t[0]: t[1]}).encode())),
    JSON_VALUE.map(lambda value: ("answers.json", json.dumps(value).encode())),
    st.tuples(st.sampled_from(["answers.json", "answers.csv", "answers.txt"]), st.binary(max_size=200)),
)


@fuzz(200)
@given(answers=ANSWER_FILES,
       cmd=command(("offering", st.just("O0001")),
                   always={"checklist": st.sampled_from(CHECKLISTS), "observer": NAME, "answers": st.just("{answers}")},
                   on=DAY, leaders=LEADERS))
# A sheet saved by a spreadsheet in Latin-1 ("trés" is not UTF-8).
@example(answers=("answers.csv", "item,answer\non_time,trés bien\n".encode("latin-1")),
         cmd=Cmd.of("O0001", "--checklist", "connection_meeting", "--observer", "Dee", "--answers", "{answers}"))
@example(answers=("answers.json", b"{}"), cmd=Cmd.of("O²", "--checklist", "connection_meeting", "--observer", "Dee",
                                                     "--answers", "{answers}"))
# An empty file name is a file that cannot be read, not a request to be asked item by item.
@example(answers=("answers.json", b"[]"), cmd=Cmd.of("O0001", "--checklist", "connection_meeting", "--observer", "0",
                                                     "--answers", ""))
def test_observe(template, answers, cmd):
    with fresh(template) as db:
        name, content = answers
        path = db.with_name(name)
        path.write_bytes(content)
        argv = [str(path) if arg == "{answers}" else arg for arg in cmd.argv]
        events = audit_count(db)
        result = attempt(db, "observe", *argv)
        if result:
            wrote(db, result, events)
            assert result.stdout.startswith("F0002: "), describe(result)


# --- recruitment -------------------------------------------------------------------------------------------


@fuzz(150)
@given(cmd=command(("kind", NAME), on=DAY, sector=st.sampled_from(SECTORS), partner=FREE,
                   community=st.sampled_from(["Eastside", "Westside"]), reached=st.one_of(SMALL, ANY_INT), notes=FREE),
       global_opts=GLOBAL)
@example(cmd=Cmd.of("talk", "--reached", str(2 ** 64), kind="talk"), global_opts=NO_GLOBAL)
def test_outreach_add(template, cmd, global_opts):
    with fresh(template) as db:
        events = audit_count(db)
        result = attempt(db, "outreach", "add", *cmd.argv, before=global_opts.argv)
        if result:
            wrote(db, result, events)
            assert result.stdout == "X0002\n"
            stored = {o["id"]: o for o in show(db, "outreach", "list", "--json")}["X0002"]
            assert not cmd.plain or stored["kind"] == cmd.values["kind"].strip()


@fuzz(100)
@given(cmd=command(("community", st.one_of(st.sampled_from(["Eastside", "EASTSIDE", "Westside"]), NAME)),
                   underserved=st.just(True), served=st.just(True)))
def test_communities_mark(template, cmd):
    with fresh(template) as db:
        events = audit_count(db)
        result = attempt(db, "communities", "mark", *cmd.argv)
        if result:
            wrote(db, result, events)


@fuzz(100)
@given(cmd=command(days=st.one_of(SMALL, ANY_INT), json=st.just(True)), global_opts=GLOBAL)
@example(cmd=Cmd.of("--days", "3093076"), global_opts=NO_GLOBAL)
@example(cmd=Cmd.of(), global_opts=Cmd.of("--today", "0001-01-01"))
def test_followups(template, cmd, global_opts):
    with fresh(template) as db:
        attempt(db, "followups", *cmd.argv, before=global_opts.argv, reads_only=True)


# --- configuration, plugins, reports, audit ---------------------------------------------------------------

# Commands whose answers depend on settings and on the enabled plugins.
READS = [("leaders", "--json"), ("progress", "P0001", "--json"), ("progress", "P0002", "--json"),
         ("progress", "P0004", "--json"), ("report", "expiring", "--json"), ("report", "leaders", "--json"),
         ("report", "capacity"), ("fidelity", "due", "--json"), ("followups", "--json"),
         ("config", "show", "--json")]
# Writes that judge pathways with the settings in force: the session certifies Ana.
WRITES = [("session", "add", "O0001", "--on", "2025-05-05"),
          ("record", "P0002", "crss", "experience", "--hours", "5", "--score", "80"),
          ("record", "P0004", "connection", "application"), ("sweep",)]


def setting_text(key):
    """Text for `config set KEY`: values of the type of its default (with their edge cases), or junk."""
    default = DEFAULTS[key]
    if isinstance(default, bool):
        typed = st.sampled_from(["yes", "no", "true", "false", "1", "0", "maybe"])
    elif isinstance(default, int):
        typed = st.one_of(st.integers(0, 3), st.integers(0, 10 ** 6), st.integers(),
                          st.integers(2 ** 63 - 2, 2 ** 70)).map(str)
    elif isinstance(default, float):
        typed = st.floats().map(str)
    elif default is None:  # any JSON value is taken for a setting without a default
        typed = st.one_of(JSON_VALUE.map(json.dumps), st.integers(0, 10 ** 12).map(str), st.sampled_from(
            ["0", "1", "1.5", "1e9", "1e400", "NaN", "Infinity", '"x"', "[1]", "true", "null", "{}"]))
    else:
        typed = st.one_of(TEXT, st.sampled_from([default, default.upper(), "", "records", "sessions",
                                                 "offerings"] + CHECKLISTS))
    return st.one_of(typed, typed, JUNK)


KEY_AND_TEXT = st.one_of(
    st.sampled_from(SETTINGS).flatmap(lambda key: st.tuples(st.just(key), setting_text(key))),
    st.tuples(JUNK, JUNK),
)


@fuzz(200)
@given(key_and_text=KEY_AND_TEXT)
@example(key_and_text=("connection.training.days", "0"))
@example(key_and_text=("connection.co_facilitation.min", "0"))
@example(key_and_text=("connection.validity_days", '"abc"'))
@example(key_and_text=("connection.validity_days", "NaN"))
@example(key_and_text=("crss.experience.window_days", "1e9"))
@example(key_and_text=("crss.exam.pass_mark", str(2 ** 64)))
@example(key_and_text=("connection.format.observation_interval_days", "99999999999"))
def test_config_set(template, key_and_text):
    """A setting is taken or refused in one line; whatever is taken is stored as valid JSON, and
    every command that judges pathways with it keeps working (or refuses in one line) after."""
    key, text = key_and_text
    with fresh(template) as db:
        events = audit_count(db)
        result = attempt(db, "config", "set", key, text)
        if result:
            wrote(db, result, events)
            assert key in {row["key"] for row in show(db, "config", "show", "--json")}
            for args in READS:
                attempt(db, *args, reads_only=True)
            for args in WRITES:
                attempt(db, *args)
            for args in READS:
                attempt(db, *args, reads_only=True)


@fuzz(80)
@given(action=st.sampled_from(["enable", "disable"]), name=st.one_of(st.sampled_from(PLUGINS), JUNK))
def test_plugins_enable_disable(template, action, name):
    with fresh(template) as db:
        result = attempt(db, "plugins", action, name)
        if result:
            enabled = {p["name"]: p["enabled"] for p in show(db, "plugins", "list", "--json")}
            assert enabled[name] is (action == "enable")
            # A disabled program's records are kept; every listing still works.
            for args in READS:
                attempt(db, *args, reads_only=True)


@fuzz(250)
@given(cmd=command(("name", st.sampled_from(REPORTS)), **{"from": DAY, "to": DAY, "days": st.one_of(SMALL, ANY_INT),
                                                          "json": st.just(True), "csv": st.just(True)}),
       global_opts=GLOBAL)
def test_report(template, cmd, global_opts):
    with fresh(template) as db:
        attempt(db, "report", *cmd.argv, before=global_opts.argv, reads_only=True)


@fuzz(80)
@given(cmd=command(peer=PEER, json=st.just(True)))
@example(cmd=Cmd.of("--peer", "P0001²"))
def test_audit(template, cmd):
    with fresh(template) as db:
        attempt(db, "audit", *cmd.argv, reads_only=True)


# --- bytes that are not UTF-8 ----------------------------------------------------------------------------

# On Linux a program's arguments are bytes; Python hands bytes that are not UTF-8 over as lone
# surrogates ("surrogateescape"). A shell passes them on from a Latin-1 terminal or a pasted
# file name, so every text a command stores can arrive this way.
ARGV_BYTES = (st.binary(min_size=1, max_size=12).filter(lambda b: b"\x00" not in b).map(os.fsdecode)
              | st.sampled_from([b"Jos\xe9", b"\xff", b"Ana \x80\x81"]).map(os.fsdecode))
WRITES_TEXT = [
    lambda text: ("peer", "add", text),
    lambda text: ("peer", "add", "Ana", "--notes", text),
    lambda text: ("peer", "edit", "P0001", "--community", text),
    lambda text: ("outreach", "add", text),
    lambda text: ("offering", "add", "connection", text, "--leaders", "P0001"),
    lambda text: ("communities", "mark", text),
    lambda text: ("record", "P0002", "connection", "application", "--evidence", text),
    lambda text: ("--as", text, "peer", "add", "Ana"),
]


@fuzz(60)
@given(make=st.sampled_from(WRITES_TEXT), text=ARGV_BYTES)
@example(make=WRITES_TEXT[0], text=os.fsdecode(b"Jos\xe9"))
def test_arguments_that_are_not_utf8(template, make, text):
    with fresh(template) as db:
        events = audit_count(db)
        result = attempt(db, *make(text))
        if result:
            wrote(db, result, events)
