"""What listings print: --json, --csv (the same rows), and text tables that fit the terminal."""

import csv
import io
import json
import re

import click
import pytest
from click.testing import CliRunner

from conftest import assert_refused, demo_env, ok
from peerpath.cli import cli
from peerpath.core.columns import display_width

# Every command that lists things, with the arguments it needs.
LISTINGS = [("peer", "list"), ("audit",), ("programs", "list"), ("plugins", "list"), ("leaders",),
            ("offering", "list"), ("checklists", "list"), ("fidelity", "due"), ("reports",), ("config", "show"),
            ("outreach", "list"), ("communities", "list"), ("followups",), ("report", "funnel"),
            ("report", "reach"), ("user", "list"), ("activity", "list"), ("report", "activity"),
            ("report", "retention"), ("report", "equity")]
# Listings the demo leaves empty, whose --csv is checked against --json where they have rows.
CHECKED_ELSEWHERE = {("digest", "log"): "tests/test_mailing.py, after digests were sent",
                     ("training", "list"): "tests/test_trainings.py, after a training was planned",
                     ("affiliate", "list"): "tests/test_postgres_affiliates.py, on PostgreSQL (a file refuses it)"}


def command_paths(command=cli, path=()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*path, name))


def test_every_command_with_csv_output_is_checked_here():
    with_csv = {path for path, command in command_paths()
                if any("--csv" in getattr(param, "opts", ()) for param in command.params)}
    assert with_csv == {args[:1] if args[0] == "report" else args for args in LISTINGS} | set(CHECKED_ELSEWHERE)


def on_demo(demo_folder, *args):
    return CliRunner().invoke(cli, list(args), env=demo_env(demo_folder / "affiliate.json"))


def json_rows(args, document) -> list:
    """The rows a listing's --csv must hold, from its --json: a report's are its tables' rows."""
    if args[0] != "report":
        return document
    return [{"table": table["title"], **dict(zip(table["headers"], row))}
            for table in document["tables"] for row in table["rows"]]


def csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@pytest.mark.parametrize("args", LISTINGS, ids=" ".join)
def test_csv_holds_the_rows_of_json(demo_folder, args):
    as_json = on_demo(demo_folder, *args, "--json")
    rows = json_rows(args, json.loads(ok(as_json)))
    assert as_json.stderr == ""
    as_csv = on_demo(demo_folder, *args, "--csv")
    reader = csv.DictReader(io.StringIO(ok(as_csv), newline=""))
    parsed = list(reader)
    assert rows, "the demo should give every listing something to list"
    assert len(parsed) == len(rows)
    assert reader.fieldnames == list(dict.fromkeys(key for row in rows for key in row))
    for row, line in zip(rows, parsed):
        for key in reader.fieldnames:
            value = row.get(key)
            if isinstance(value, (list, dict)):
                assert json.loads(line[key]) == value, key
            else:
                assert line[key] == csv_text(value), key


@pytest.mark.parametrize("args", LISTINGS, ids=" ".join)
def test_json_and_csv_together_are_a_usage_error(demo_folder, args):
    assert_refused(on_demo(demo_folder, *args, "--json", "--csv"), "--json or --csv", code=2)


NAMES = ["陳美玲 Chen Mei-ling", "José Núñez-Ibáñez".replace("é", "e\u0301").replace("ú", "u\u0301"),
         "Bartholomew Alexander Montgomery-Fitzgerald of the Lower Westside", "Ｆｕｌｌ Ｗｉｄｔｈ 名前" * 3]
COMMUNITIES = ["台北", "Cicero", "Oak Park", "Ciudad Juárez"]


@pytest.fixture
def wide_peers(initialised, run):
    for name, community in zip(NAMES, COMMUNITIES):
        ok(run("peer", "add", name, "--community", community, "--source", "community partner"))


def assert_aligned_within(output: str, width: int) -> list:
    """Every line at most `width` columns, all six columns present, the last one starting at the
    same display column on every line (or wrapped onto lines indented to it); the rows' first lines."""
    header, *lines = output.splitlines()
    assert header.split() == ["id", "name", "stage", "source", "sector", "community"]
    assert max(display_width(line) for line in [header, *lines]) <= width, output
    start = display_width(header) - len("community")
    rows = [line for line in lines if line.startswith("P")]
    assert len(rows) == len(NAMES)
    for community, row in zip(COMMUNITIES, output.split("\nP")[1:]):
        first, *wrapped = row.splitlines()
        last = re.split(r" {2,}", first)[-1]  # no cell here holds two spaces running
        assert display_width("P" + first[:len(first) - len(last)]) == start, output
        assert all(len(line) - len(line.lstrip(" ")) == start for line in wrapped), output
        assert " ".join([last, *(line.strip() for line in wrapped)]) == community
        assert "  prospect  " in first
    return rows


def test_peer_list_fits_80_columns_with_wide_and_combining_names(wide_peers, run):
    lines = assert_aligned_within(ok(run("peer", "list")), 80)
    assert [line.split()[0] for line in lines] == ["P0001", "P0002", "P0003", "P0004"]
    assert "…" in lines[2] and "…" in lines[3]  # the two longest names are cut, the others shown whole
    assert all("community partner" in line for line in lines)  # ...as is every other column
    assert "陳美玲 Chen Mei-ling" in lines[0] and NAMES[1] in lines[1]


def test_columns_sets_the_width(wide_peers, run, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    lines = assert_aligned_within(ok(run("peer", "list")), 200)
    assert NAMES[2] in lines[2] and NAMES[3] in lines[3]
    monkeypatch.setenv("COLUMNS", "60")
    assert_aligned_within(ok(run("peer", "list")), 60)


def installed_peerpath(*args, input=None):
    """The `peerpath` console script in a process of its own (the case that ends with os._exit)."""
    import subprocess
    import sys
    from pathlib import Path

    return subprocess.run([Path(sys.executable).parent / "peerpath", *map(str, args)], input=input,
                          capture_output=True, text=True, timeout=120)


def test_the_installed_command_delivers_all_its_output_and_stores_its_change(demo_db):
    """The console script ends without tearing down what it read: its output (one large
    write), its warnings and its commit must all be there first."""
    audit = installed_peerpath("audit", "--json")
    assert audit.returncode == 0, audit.stderr
    events = json.loads(audit.stdout)
    assert len(events) > 200 and events[-1]["action"]
    added = installed_peerpath("--today", "3/4/2026", "peer", "add", "Ana Exit", "--stage", "contacted")
    assert added.returncode == 0, added.stderr
    assert added.stderr.startswith("Warning: read 3/4/2026 as 2026-03-04")
    shown = installed_peerpath("peer", "list", "--json")
    assert [p["name"] for p in json.loads(shown.stdout)][-1] == "Ana Exit"
    refused = installed_peerpath("peer", "show", "P9999")
    assert refused.returncode == 1 and refused.stderr.startswith("Error: ")


COUNT_COLLECTIONS = """
import gc, os, sys
from peerpath.cli import cli
gc.collect()
gc.callbacks.append(lambda phase, info: phase == "start" and os.write(2, b"collected\\n"))
sys.argv = ["peerpath", *sys.argv[1:]]
cli()
"""


def test_the_installed_command_ends_without_a_cycle_collection(demo_db):
    """The collector, paused for the command, is not turned back on before the process ends:
    its first run would scan every object the command built (a large part of a state-wide
    `config set`)."""
    import subprocess
    import sys

    def collections(*args):
        done = subprocess.run([sys.executable, "-c", COUNT_COLLECTIONS, *args], capture_output=True, text=True,
                              timeout=120)
        return done.returncode, done.stderr.count("collected\n"), done.stdout

    code, collected, out = collections("leaders", "--json")
    assert (code, collected) == (0, 0) and json.loads(out)
    code, collected, _ = collections("config", "set", "crss.validity_days", "365")
    assert (code, collected) == (0, 0)
    settings = json.loads(installed_peerpath("config", "show", "--json").stdout)
    assert {s["key"]: s["value"] for s in settings}["crss.validity_days"] == 365
