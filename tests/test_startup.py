"""Slim start-up (issue 14 point 6): a command imports only what it uses, seen in a fresh
process's sys.modules (what it did, not how long it took); and the entry points peerpath reads
itself are the ones importlib.metadata would give."""

import importlib.metadata
import json
import os
import subprocess
import sys
import zipfile

import pytest

from peerpath.core import plugins

# Runs the CLI on its arguments, then writes the names of every module imported to MODULES_OUT.
# (Given its arguments, the CLI ends with sys.exit, which runs atexit, rather than os._exit.)
IMPORTS_OF = """
import atexit, json, os, sys
atexit.register(lambda: open(os.environ["MODULES_OUT"], "w").write(json.dumps(sorted(sys.modules))))
from peerpath.cli import cli
cli(sys.argv[1:], prog_name="peerpath")
"""

# Never needed to start a command that serves no web page and sends no mail.
WEB_AND_MAIL = {"flask", "werkzeug", "jinja2", "waitress", "peerpath.web", "smtplib", "email",
                "peerpath.core.mailing"}
# Needed only to list plugins with their versions, or by single commands.
RARELY_NEEDED = {"importlib.metadata", "peerpath.core.demo", "zipfile"}
# What only a command that opens the database (or writes a file, or a report) needs.
COMMANDS_ONLY = {"peerpath.core.tracker", "peerpath.core.base", "peerpath.core.store", "tinydb.database",
                 "peerpath.core.entities", "peerpath.core.importer", "peerpath.core.reports",
                 "peerpath.core.contract", "csv", "statistics", "tempfile", "shutil"}
# The areas, and the heavy neighbours, of other commands: a one-peer command imports none of them
# (the services of Tracker are made, and their modules imported, on first use).
OTHER_COMMANDS = {f"peerpath.core.{module}" for module in (
    "importer", "forecast", "equity", "graduates", "ical", "merging", "erasure", "safekeeping", "transfer",
    "trainings", "users", "filters", "fidelity", "mailing", "activity")}
# Who runs the command is PEERPATH_USER here: the OS user need not be asked.
OS_USER = {"getpass", "termios"}


def imports_of(tmp_path, *args) -> set:
    out = tmp_path / "modules.json"
    env = {**os.environ, "MODULES_OUT": str(out), "PEERPATH_USER": "tester"}
    env.pop("COLUMNS", None)  # with no terminal either, help needs no shutil to know its width
    result = subprocess.run([sys.executable, "-c", IMPORTS_OF, *map(str, args)], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(json.loads(out.read_text()))


def test_help_imports_no_command_and_no_tracker(tmp_path):
    imported = imports_of(tmp_path, "--help")
    assert {"peerpath.cli", "peerpath.plugins.crss", "peerpath.core.program_model"} <= imported
    assert imported.isdisjoint(WEB_AND_MAIL | RARELY_NEEDED | COMMANDS_ONLY), \
        sorted(imported & (WEB_AND_MAIL | RARELY_NEEDED | COMMANDS_ONLY))


@pytest.mark.files_only("what the embedded default imports: psycopg itself brings email and importlib.metadata")
@pytest.mark.parametrize("args", [("peer", "add", "Ana", "--lived-experience", "self"), ("progress", "P0025")])
def test_one_peer_commands_import_neither_web_nor_mail_nor_what_they_do_not_run(tmp_path, db, args):
    imports_of(tmp_path, "demo")  # P0025 is enrolled: progress judges each of their steps
    imported = imports_of(tmp_path, *args)
    assert "peerpath.core.tracker" in imported
    assert imported.isdisjoint(WEB_AND_MAIL | RARELY_NEEDED), sorted(imported & (WEB_AND_MAIL | RARELY_NEEDED))
    assert imported.isdisjoint(OTHER_COMMANDS | OS_USER), sorted(imported & (OTHER_COMMANDS | OS_USER))


def _distribution(site, folder, name, entry_points=None):
    dist = site / folder
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    if entry_points is not None:
        (dist / "entry_points.txt").write_text(entry_points)


def _pairs(found) -> list:
    return [(entry_point.name, entry_point.value) for entry_point in found]


def _importlib_pairs(group) -> list:
    return _pairs(importlib.metadata.entry_points(group=group))


def test_entry_points_read_from_folders_are_the_ones_importlib_metadata_finds(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    _distribution(first, "zeta_plugin-2.0.dist-info", "zeta-plugin",
                  "# a comment\n[console_scripts]\nzeta = zeta:main\n\n[peerpath]\n  zeta = zeta_plugin : hooks \n"
                  "alpha=alpha_plugin\n[peerpath.other]\nnot_ours = elsewhere\n")
    _distribution(first, "Alpha.Plugin-1.0.dist-info", "Alpha.Plugin", "[peerpath]\nalpha = alpha_plugin\n")
    _distribution(first, "quiet-1.0.dist-info", "quiet")  # no entry points at all
    _distribution(first, "legacy_plugin-0.1.egg-info", "legacy-plugin", "[peerpath]\nlegacy = legacy_plugin\n")
    # Shadowed by the same names earlier on the path (however spelled): importlib skips them.
    _distribution(second, "zeta.plugin-3.0.dist-info", "zeta.plugin", "[peerpath]\nshadowed = zeta_v3\n")
    _distribution(second, "alpha_plugin-9.0.dist-info", "alpha_plugin", "[peerpath]\nshadowed_too = alpha_v9\n")
    _distribution(second, "late-1.0.dist-info", "late", "[peerpath]\nlate = late_plugin:Plugin.instance\n")
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))

    found = plugins.entry_points("peerpath")
    assert all(isinstance(entry_point, plugins.FoundEntryPoint) for entry_point in found)  # read from the folders
    assert _pairs(found) == _importlib_pairs("peerpath")
    assert {"zeta", "alpha", "legacy", "late"} <= {name for name, _ in _pairs(found)}
    assert not {"shadowed", "shadowed_too", "not_ours"} & {name for name, _ in _pairs(found)}
    [late] = [entry_point for entry_point in found if entry_point.name == "late"]
    assert (late.dist.metadata["Name"], late.dist.version) == ("late", "1.0")


def test_an_entry_point_loads_its_module_and_attribute(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _distribution(site, "late-1.0.dist-info", "late", "[peerpath]\nlate = late_plugin:Plugin.instance [extra]\n")
    (site / "late_plugin.py").write_text("class Plugin:\n    instance = 'the instance'\n")
    monkeypatch.syspath_prepend(str(site))
    [late] = [entry_point for entry_point in plugins.entry_points("peerpath") if entry_point.name == "late"]
    assert late.load() == "the instance"


def test_a_zip_archive_on_the_path_leaves_the_search_to_importlib_metadata(tmp_path, monkeypatch):
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as written:
        written.writestr("zipped-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zipped\nVersion: 1.0\n")
        written.writestr("zipped-1.0.dist-info/entry_points.txt", "[peerpath]\nzipped = zipped_plugin\n")
    monkeypatch.syspath_prepend(str(archive))
    found = plugins.entry_points("peerpath")
    assert ("zipped", "zipped_plugin") in _pairs(found)
    assert _pairs(found) == _importlib_pairs("peerpath")


@pytest.mark.parametrize("columns, width", [(None, 78), ("60", 58), ("200", 78)])
def test_help_is_as_wide_as_click_makes_it_with_no_terminal(columns, width):
    """Without a terminal the CLI gives click's help formatter the width click would work out
    (COLUMNS, at most 80, less its margin of 2), so that --help need not import shutil."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns:
        env["COLUMNS"] = columns
    shown = subprocess.run([sys.executable, "-c", "from peerpath.cli import cli; cli()", "--help"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert shown.returncode == 0, shown.stderr
    # Every line but the examples' (kept as written) is wrapped.
    wrapped = [line for line in shown.stdout.splitlines() if not line.lstrip().startswith("peerpath ")]
    assert max(map(len, wrapped)) in range(width - 8, width + 1)
