"""Every command's help: -h and --help, help text for every option and argument, and an
Examples section whose every line runs as written on the demo database."""

import inspect
import shlex
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from conftest import demo_env, ok
from peerpath.cli import cli
from peerpath.core import Tracker

FIXTURES = Path(__file__).parent / "fixtures"
MAX_HELP_WIDTH = 80


def command_tree(command=cli, path=()):
    """(path, command) for the root and every group and command under it."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from command_tree(sub, (*path, name))


COMMANDS = list(command_tree())
IDS = [" ".join(path) or "peerpath" for path, _ in COMMANDS]


def help_text(command) -> str:
    return inspect.cleandoc(command.help or "")


SERVER = "# until Ctrl-C"  # an example that serves until stopped: parsed by the tests, never run


def all_examples(command) -> list:
    """The command lines of the help's Examples section, continuation lines joined."""
    section = help_text(command).partition("\nExamples:")[2]
    text = section.replace("\b", "").replace("\\\n", " ")
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def examples(command) -> list:
    """The examples that run to an end (not the servers)."""
    return [line for line in all_examples(command) if SERVER not in line]


@pytest.mark.parametrize("path, command", COMMANDS, ids=IDS)
def test_every_command_has_examples_and_help_for_every_parameter(path, command):
    assert "\nExamples:" in help_text(command), "no Examples section"
    lines = all_examples(command)
    assert lines and all(line.startswith("peerpath ") for line in lines), lines
    # Under the root's context, as when run: click caches the help option it makes for a command.
    root = click.Context(cli, info_name="peerpath", **cli.context_settings)
    for param in command.get_params(click.Context(command, parent=root)):
        if isinstance(param, click.Argument):
            assert param.human_readable_name in command.help, f"argument {param.name} is not explained"
        else:
            assert param.help, f"option {param.opts} has no help text"


@pytest.mark.parametrize("path, command", COMMANDS, ids=IDS)
def test_minus_h_and_help_show_the_help_within_80_columns(path, command, run):
    short = ok(run(*path, "-h"))
    assert short == ok(run(*path, "--help"))
    usage = short.splitlines()[0]
    assert usage.startswith("Usage: ") and f" {' '.join(path)} ".replace("  ", " ") in usage, usage
    assert "-h, --help" in short
    assert max(len(line) for line in short.splitlines()) <= MAX_HELP_WIDTH


def write_example_files(folder: Path) -> None:
    """The files the examples name: a coordinator's sheet, an observation's answers, training
    rosters, another affiliate's rollup to merge and a database whose manifest was lost."""
    shutil.copytree(folder / "affiliate.json.d", folder / "lost.json.d")
    shutil.copy(FIXTURES / "messy_peers.csv", folder / "volunteers.csv")
    (folder / "pw.txt").write_text("a long example password\n")
    (folder / "roster.csv").write_text("name\nSofia Patel\nTariq Kowalski\n")  # P0025, P0026
    (folder / "unknown.csv").write_text("name\nSofia Patel\nNo Such Person\n")
    checklist = Tracker(db=folder / "unused.json").catalog.checklist("connection_meeting")
    (folder / "observation.csv").write_text("item,answer\n" + "".join(
        f"{item.key},{'yes' if item.type == 'yes_no' else 4}\n" for item in checklist.items))
    other = demo_env(folder / "kane.db.json")
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--affiliate", "NAMI Kane County"], env=other).exit_code == 0
    rollup = runner.invoke(cli, ["report", "rollup", "--json"], env=other)
    assert rollup.exit_code == 0, rollup.stderr
    (folder / "kane.json").write_text(rollup.stdout)


def run_example(line: str, env: dict):
    """Run one example line in-process; `> FILE` writes stdout to FILE, as a shell would."""
    words = shlex.split(line, comments=True)
    assert words[0] == "peerpath", line
    args, redirect = words[1:], None
    if ">" in args:
        args, redirect = args[:args.index(">")], args[args.index(">") + 1]
    result = CliRunner().invoke(cli, args, env=env)
    if redirect and result.exit_code == 0:
        Path(redirect).write_text(result.stdout)
    return result


def check_parses(line: str) -> None:
    """The example's words make a valid command line: click parses them without error."""
    words = shlex.split(line.partition("#")[0])[1:]
    command, context = cli, click.Context(cli, info_name="peerpath", **cli.context_settings)
    while isinstance(command, click.Group):
        name, *words = words
        command = command.get_command(context, name)
        assert command is not None, line
        context = click.Context(command, info_name=name, parent=context)
    command.make_context(context.info_name, words, parent=context.parent)


def examples_folder(database_folder: Path, tmp_path: Path, monkeypatch) -> dict:
    """Work in a copy of `database_folder` with the files the examples name; the environment
    of the examples' runs."""
    folder = tmp_path / "work"
    shutil.copytree(database_folder, folder)
    write_example_files(folder)
    monkeypatch.chdir(folder)
    return demo_env(folder / "affiliate.json")


@pytest.mark.parametrize("path, command", COMMANDS, ids=IDS)
def test_every_example_runs_as_written_on_the_demo(path, command, demo_folder, tmp_path, monkeypatch):
    env = examples_folder(demo_folder, tmp_path, monkeypatch)
    for line in all_examples(command):  # in order: an example may build on the one before
        if SERVER in line:  # its words are checked, it is not started
            check_parses(line)
            continue
        result = run_example(line, env)
        if "# refused" in line:
            assert result.exit_code != 0, line
            assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1, (line, result.stderr)
        else:
            assert result.exception is None or isinstance(result.exception, SystemExit), (line, result.exception)
            assert result.exit_code == 0, (line, result.stderr)
            assert "Error" not in result.stderr, (line, result.stderr)
