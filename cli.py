"""The peerpath command line: parsing and rendering only; the work is done in `core`."""

import contextlib
import functools
import gc
import json
import os
import sys

import click

# Only what building the command tree needs is imported here; each command imports the rest of
# core when it runs (issue 14: `peerpath --help` pays for no tracker, importer, web or mail code).
from .core import (ACTIVITY_KINDS, CADENCES, LIVED_EXPERIENCE, OFFERING_STATUSES, ROLES, SECTORS, SOURCES, STAGES,
                   PeerpathError, PluginError, digest_heading, to_document)
from .core.columns import format_table
from .core.digest import ROLES as DIGEST_ROLES
from .core.plugins import get_host
from .core.safe_output import json_text, records_csv, terminal_text


def tracker_class():
    """core's Tracker, imported when a command first needs it: it is assembled from every area
    of core, which `--help` and the building of the command tree never use."""
    from .core.tracker import Tracker

    return Tracker


def pass_tracker(command):
    """`click.make_pass_decorator(Tracker)`, looking Tracker up only when the command runs."""
    @functools.wraps(command)
    def with_tracker(*args, **kwargs):
        ctx = click.get_current_context()
        tracker = ctx.find_object(tracker_class())
        if tracker is None:
            raise RuntimeError(f"{command.__name__} needs the Tracker the peerpath group makes")
        return ctx.invoke(command, tracker, *args, **kwargs)

    return with_tracker


class PeerpathGroup(click.Group):
    """A group whose errors are always one line on stderr, never a traceback."""

    def make_context(self, info_name, args, parent=None, **extra):
        if parent is None:
            extra.setdefault("terminal_width", _help_width())  # the subcommands' contexts inherit it
        return super().make_context(info_name, args, parent, **extra)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        _refuse_undecodable(sys.argv[1:] if args is None else args)
        console = args is None  # the installed `peerpath` command, not a test runner's or a program's call
        try:
            with _without_cycle_collection():
                code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
                if console and not code:  # while paused: back on, its first pass scans all the command built
                    _exit_without_teardown()
        except click.exceptions.NoArgsIsHelpError as error:
            error.show()
            sys.exit(0)
        except click.UsageError as error:
            _fail(error.format_message(), 2)
        except click.ClickException as error:
            _fail(error.format_message(), error.exit_code)
        except PeerpathError as error:
            _fail(str(error), 1)
        except click.Abort:
            echo(err=True)  # end the line of the prompt that was interrupted
            _fail("aborted", 1)
        finally:
            if not console:
                RETAINED.clear()
        sys.exit(code or 0)

    def invoke(self, ctx):
        """The command, as one transaction of the tracker (Tracker.begin_command): committed,
        and its held-back output shown, when it returns or exits on purpose (sys.exit after
        reporting); discarded, with its output, when it fails or its commit does."""
        hold_output()
        shown = False
        try:
            try:
                result = super().invoke(ctx)
            except SystemExit:
                _end_command(ctx)
                shown = True
                raise
            except BaseException as error:
                _end_command(ctx, error)
                raise
            _end_command(ctx)
            shown = True
            return result
        except BaseException:
            ctx.meta[FAILED] = not shown  # read when the context closes, before the error is shown
            raise
        finally:
            show_held_output(shown)

    # Commands added by a plugin disappear while the plugin is disabled for the database.
    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        owner = PLUGIN_COMMANDS.get(name) if ctx.parent is None else None
        if command is not None and owner is not None and owner not in _enabled(ctx):
            return None
        return command

    def list_commands(self, ctx):
        return [name for name in super().list_commands(ctx) if self.get_command(ctx, name) is not None]


FAILED = "peerpath.failed"


def _help_width():
    """The width click's help formatter gives itself when neither COLUMNS nor a terminal on
    stdout says one (80 columns less its margin of 2); None, to let it work the width out, when
    they may: that imports shutil, and bz2 and lzma behind it, into every `--help`."""
    if click.formatting.FORCED_WIDTH is not None or os.environ.get("COLUMNS"):
        return None
    stdout = sys.__stdout__  # the one shutil.get_terminal_size asks
    try:
        on_terminal = stdout is not None and os.isatty(stdout.fileno())
    except (ValueError, OSError):
        on_terminal = False
    return None if on_terminal else 78


def _end_command(ctx, error=None) -> None:
    if isinstance(ctx.obj, tracker_class()):
        ctx.obj.end_command(error)


def _enabled(ctx) -> set:
    try:
        return tracker_class()(db=ctx.find_root().params.get("db")).enabled_plugins()
    except PeerpathError:
        return get_host().names()  # an unreadable database is reported by the command itself


# The trackers of the command this process ran, kept from being freed until the process ends.
RETAINED: list = []


def _exit_without_teardown() -> None:
    """End the process once the command has succeeded and its output is out, without freeing
    what it built (os._exit; Instagram's "dismissing Python garbage collection" does the same at
    exit): at state size freeing the tables a command read took a fifth of a `config set`. The
    command has committed and closed its files; nothing is left for teardown to do."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # a reader that went away, a closed stream: normal exit
        return
    os._exit(0)


@contextlib.contextmanager
def _without_cycle_collection():
    """Pause Python's cycle collector for one command: a command builds up to millions of
    short-lived, acyclic records, and the collector re-scanning them took up to half the time
    of a state-wide listing (bench/). Reference counting still frees them; the collector is
    back on for whatever runs after the command."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _refuse_undecodable(args) -> None:
    """Bytes that are not UTF-8 reach us as lone surrogates, which can be neither shown nor stored."""
    for arg in args:
        try:
            str(arg).encode("utf-8")
        except UnicodeEncodeError:
            _fail(f"argument {ascii(arg)} is not UTF-8 text", 2)


# Bounds that keep dates computed from a number of days inside the calendar.
DAYS = click.IntRange(0, 36_500)


class DateParam(click.ParamType):
    """A date in any form `peer import` reads (2026-03-04, 3/4/2026, 4 Mar 2026...), numeric
    ones in the affiliate's `dates.order`; how an ambiguous one was read is a warning."""

    name = "date"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        tracker = ctx.find_object(tracker_class()) if ctx is not None else None
        try:
            if tracker is None:
                from .core.dates import read_date

                return read_date(value).day
            return tracker.read_date(value)
        except PeerpathError as error:
            self.fail(str(error), param, ctx)


DATE = DateParam()


def one_line(text) -> str:
    """`text` with every kind of line break or run of spaces as one space: one message, one line."""
    return " ".join(str(text).split())


def _fail(message: str, code: int):
    echo(f"Error: {one_line(message)}", err=True)
    sys.exit(code)


def _complete_peer_ids(ctx, param, incomplete):
    """Shell completion of peer ids from the database the command line names."""
    try:
        peers = tracker_class()(db=ctx.find_root().params.get("db")).peers()
    except PeerpathError:
        return []
    from click.shell_completion import CompletionItem

    return [CompletionItem(p.id, help=p.name)
            for p in peers if p.id.startswith(incomplete.upper())]


peer_id_argument = click.argument("peer_id", shell_complete=_complete_peer_ids)


# While a command's transaction is open, what it prints is held back and shown once the
# transaction has ended (see PeerpathGroup.invoke): standard output only if it ended well, so
# nothing is ever said to be stored that was not.
_held_output: list | None = None


def _emit(text, err=False, nl=True) -> None:
    if _held_output is not None:
        _held_output.append((text, err, nl))
    else:
        click.echo(text, err=err, nl=nl)


def hold_output() -> None:
    global _held_output
    _held_output = []


def show_held_output(shown=True) -> None:
    """Print what was held back and stop holding; when the command failed (not `shown`), only
    what went to stderr (the problems found on the way to its Error line)."""
    global _held_output
    held, _held_output = _held_output or [], None
    for text, err, nl in held:
        if shown or err:
            click.echo(text, err=err, nl=nl)


def echo(message="", err=False, nl=True) -> None:
    """Print text for a person: control, bidi and invisible characters of the values in it
    are shown as escapes (\\x1b, \\u202e), never sent to the terminal raw (core.safe_output)."""
    _emit(terminal_text(message), err=err, nl=nl)


def echo_data(text: str) -> None:
    """Print CSV as it is for a file or a pipe; on a terminal, with its control characters shown."""
    _emit(terminal_text(text) if stdout_is_terminal() else text, nl=False)


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def echo_json(data) -> None:
    _emit(json_text(json.dumps(data, indent=2, ensure_ascii=False)))


def listing_options(command):
    """`--json` and `--csv` for a command that lists things; the command gets `output`:
    "text", "json" or "csv" (see `echo_records`)."""
    @functools.wraps(command)
    def with_output(*args, as_json, as_csv, **kwargs):
        if as_json and as_csv:
            raise click.UsageError("give --json or --csv, not both")
        return command(*args, output="json" if as_json else "csv" if as_csv else "text", **kwargs)

    with_output = click.option("--csv", "as_csv", is_flag=True,
                               help="Output CSV with a header row, nothing else.")(with_output)
    return click.option("--json", "as_json", is_flag=True, help="Output JSON, nothing else.")(with_output)


def echo_records(output: str, records: list) -> None:
    """Print a listing's records (dicts) as JSON, or as CSV: one column per key, a list or dict
    value as compact JSON, true/false for booleans."""
    if output == "json":
        echo_json(records)
        return
    echo_data(records_csv(records))


def output_width() -> int:
    """Columns a table may use: the terminal's when stdout is one, else 80; COLUMNS overrides."""
    if os.environ.get("COLUMNS", "").isdigit() or stdout_is_terminal():
        import shutil  # with bz2 and lzma behind it: only tables pay

        return shutil.get_terminal_size().columns
    return 80


def echo_table(rows, headers) -> None:
    """Rows of plain values as aligned columns that fit the terminal (see core/columns.py); a
    newline or control character in a cell is shown as an escape, so it cannot forge a row."""
    cells = [["" if value is None else str(value) for value in row] for row in rows]
    text = "".join("".join(row) for row in cells)
    if not (text.isascii() and text.isprintable()):  # else nothing to show as an escape (a state's listing)
        cells = [[terminal_text(cell, keep_newlines=False) for cell in row] for row in cells]
    lines = format_table(cells, headers, output_width())
    _emit("\n".join(lines))  # cells shown safe above; one write: a state's peers are 20,000 lines


# -h as well as --help, on every command: child contexts, plugins' commands too, inherit it.
@click.group(cls=PeerpathGroup, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="peerpath")
@click.option("--db", type=click.Path(dir_okay=False),
              help="Database file, or a postgresql:// URL [env PEERPATH_DB].")
@click.option("--as", "actor", metavar="NAME", help="Who is making changes [env PEERPATH_USER].")
@click.option("--today", metavar="DATE", help="Answer as of this date, in any form a date option takes "
                                               "[env PEERPATH_TODAY].")
@click.pass_context
def cli(ctx, db, actor, today):
    """peerpath: recruit NAMI peer volunteers and track their leader training.

    The database defaults to peerpath.json in your data directory; every change is recorded
    in the audit trail with who made it. Every command takes -h/--help. Every DATE may be
    written 2026-03-04, 3/4/2026, 03/04/26, 4 Mar 2026 or March 4, 2026; 3/4/2026 is March 4
    unless the affiliate reads dates day first (`peerpath config set dates.order day-first`),
    and a date that could be read either way is followed by a warning saying how it was read.

    Examples:

    \b
      peerpath demo
      peerpath --db other.json init --affiliate "NAMI Example County"
      peerpath --today 2027-01-01 leaders --expiring-within 60
      peerpath peer -h
    """
    tracker = tracker_class()(db=db, actor=actor, today=today)
    tracker.warnings.extend(str(error) for error in COMMAND_ERRORS)
    tracker.begin_command()
    RETAINED.append(tracker)
    ctx.obj = tracker
    ctx.call_on_close(lambda: _echo_warnings(tracker, failed=ctx.meta.get(FAILED, False)))


def _echo_warnings(tracker, failed: bool) -> None:
    """The tracker's warnings; how an ambiguous date was read only if the command succeeded (a
    refusal is one line, and names the dates it refuses as YYYY-MM-DD)."""
    for warning in tracker.warnings + ([] if failed else tracker.date_notes):
        echo(f"Warning: {one_line(warning)}", err=True)


@cli.command()
@click.option("--affiliate", metavar="NAME", help="The affiliate's name, used in rollups.")
@pass_tracker
def init(tracker, affiliate):
    """Create the database (files private to you, mode 0600).

    Examples:

    \b
      peerpath --db affiliate.json init --affiliate "NAMI Example County"
      peerpath init                         # already there: harmless
    """
    created = tracker.init(affiliate=affiliate)
    echo(f"{'Created' if created else 'Already exists:'} {tracker.store.path}")


@cli.command()
@pass_tracker
def demo(tracker):
    """Build a realistic sample affiliate and show what to try next.

    Examples:

    \b
      peerpath --db demo.json demo
      peerpath demo                         # already built: prints what to try
    """
    from .core.demo import build_demo

    summary = build_demo(tracker)
    echo(summary)


@cli.command()
@pass_tracker
def recover(tracker):
    """Rebuild a lost manifest (affiliate.json) from its folder (affiliate.json.d/).

    Uses the newest complete generation of each table and the complete lines of the audit log;
    ids carry on from the largest stored, and the affiliate's name, settings, disabled plugins
    and underserved communities are replayed from the audit trail. Files it cannot use are
    kept as NAME.unreadable and listed. Refused if the manifest exists.

    Examples:

    \b
      peerpath recover                  # refused: this database has its manifest
      peerpath --db lost.json recover   # lost.json is gone, lost.json.d/ is there
    """
    recovery = tracker.recover()
    rows = sum(count for _, count in recovery.tables.values())
    echo(f"Recovered {tracker.store.path}: {len(recovery.tables)} table(s), {rows} row(s), "
         f"generation {recovery.generation}, {recovery.events} audit event(s)")
    for table, (filename, count) in recovery.tables.items():
        echo(f"  {table}: {filename}, {count} row(s)")
    if recovery.settings:
        echo(f"  settings from the audit trail: {', '.join(recovery.settings)}")
    for skipped in recovery.skipped:
        echo(f"  skipped {skipped}")


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False))
@pass_tracker
def backup(tracker, path):
    """Copy the database to the new database PATH (and PATH.d/), private to you.

    The copy is one committed generation and the audit log up to it, taken under the lock:
    other processes may keep writing, they wait for it. PATH must not exist yet. A backup is a
    database: check it with `peerpath --db PATH verify`.

    Examples:

    \b
      peerpath backup nightly.json
      peerpath --db nightly.json verify
      peerpath backup nightly.json          # refused: it exists
    """
    manifest = tracker.backup(path)
    events = (manifest.get("events") or {}).get("count", 0)
    echo(f"Backed up {tracker.store.path} to {path}: generation {manifest.get('generation', 0)}, "
               f"{len(manifest['tables'])} table file(s), {events} audit event(s)")


@cli.command()
@click.option("--db", "path", type=click.Path(dir_okay=False),
              help="Verify this database (or backup) instead of the one in use.")
@pass_tracker
def verify(tracker, path):
    """Check the manifest, every table, the references between records and the audit trail's
    hash chain; exit 1 naming every problem found.

    Examples:

    \b
      peerpath verify
      peerpath backup copy.json
      peerpath verify --db copy.json
    """
    target = tracker_class()(db=path, actor=tracker.actor) if path else tracker
    found = target.verify()
    if found.problems:
        _fail(f"{target.store.path} does not verify: {'; '.join(found.problems)}", 1)
    for note in found.notes:
        echo(f"note: {one_line(note)}")
    echo(f"{target.store.path} is sound: {found.tables} table file(s), {found.rows} row(s), "
               f"{found.events} audit event(s) in an unbroken chain")


@cli.command()
@click.argument("backup_path", metavar="BACKUP", type=click.Path(dir_okay=False))
@click.option("--db", "path", type=click.Path(dir_okay=False),
              help="The database to restore into (default: the one in use).")
@click.option("--force", is_flag=True, help="Replace the database there, if there is one.")
@pass_tracker
def restore(tracker, backup_path, path, force):
    """Restore the backup BACKUP (made by `peerpath backup`) once it verifies.

    Refused if the target database exists, unless --force. The restore is recorded as the
    first new event of the restored audit trail.

    Examples:

    \b
      peerpath backup saved.json
      peerpath restore saved.json --db restored.json
      peerpath restore saved.json             # refused: the database exists
      peerpath restore saved.json --force
    """
    target = tracker_class()(db=path, actor=tracker.actor, today=tracker.today.isoformat()) if path else tracker
    target.restore(backup_path, force=force)
    echo(f"Restored {target.store.path} from {backup_path}")


# --- the database itself ---------------------------------------------------------------------------


@cli.group(name="db")
def db_group():
    """The database itself: its schema, and copies between files and PostgreSQL.

    A PostgreSQL database is named by a URL, postgresql://USER@HOST:PORT/NAME (the password from
    the URL, PGPASSWORD or ~/.pgpass; never shown); see docs/postgres.md.

    Examples:

    \b
      peerpath db upgrade
      peerpath db copy -h
    """


@db_group.command(name="upgrade")
@pass_tracker
def db_upgrade(tracker):
    """Create the database's schema (PostgreSQL), or bring an older one up to date.

    A file database is upgraded by its next change; this makes that change now. A schema newer
    than this peerpath knows is refused and left untouched: upgrade peerpath instead.

    Examples:

    \b
      peerpath db upgrade
      peerpath --db postgresql://nobody@127.0.0.1:1/x db upgrade  # refused
    """
    before, after = tracker.store.upgrade()
    if before is None:
        echo(f"Created the peerpath schema (version {after}) in {tracker.store.path}")
    elif before < after:
        echo(f"Upgraded {tracker.store.path} from schema {before} to {after}")
    else:
        echo(f"{tracker.store.path} is up to date (schema {after})")


@db_group.command(name="copy")
@click.argument("source", metavar="SOURCE")
@click.argument("target", metavar="TARGET")
@click.option("--force", is_flag=True, help="Replace what TARGET holds, if anything.")
@click.option("--affiliate", metavar="ID", help="Copy into this affiliate of a PostgreSQL TARGET "
              "(made if new), one per affiliate file copied in.")
@pass_tracker
def db_copy(tracker, source, target, force, affiliate):
    """Copy the database SOURCE into TARGET: each a file path or a postgresql:// URL.

    Files to PostgreSQL to grow up, PostgreSQL to a file to keep a copy or to leave. Copies
    every table, the settings and the audit trail (its chain goes on unbroken), records the
    copy in TARGET's audit trail, then checks that TARGET holds every row and audit event of
    SOURCE and verifies. TARGET is created if need be; one that holds anything is refused
    unless --force. Several affiliates' files go into one PostgreSQL database each as its own
    affiliate: --affiliate ID (or ?affiliate=ID in TARGET).

    Examples:

    \b
      peerpath db copy affiliate.json copy.json
      peerpath db copy affiliate.json copy.json          # refused: not empty
      peerpath db copy affiliate.json copy.json --force
      peerpath db copy affiliate.json new.json --affiliate cook  # refused
    """
    from .core.copying import copy_database

    copied = copy_database(source, target, actor=tracker.actor, force=force, affiliate=affiliate)
    echo(f"Copied {copied.source} to {copied.target}: {copied.tables} table(s), {copied.rows} row(s), "
         f"{copied.events} audit event(s); verified")


# --- affiliates (PostgreSQL) ---------------------------------------------------------------------


@cli.group(name="affiliate")
def affiliate_group():
    """The affiliates of a PostgreSQL database (a file database is one affiliate's).

    Each affiliate has a role, peerpath_affiliate_ID; a login role that is a member of it
    sees and changes that affiliate's rows only. A connection acts for the affiliate named by
    ?affiliate=ID in the URL or PEERPATH_AFFILIATE, else the only one its role belongs to.
    See docs/postgres.md.

    Examples:

    \b
      peerpath affiliate list             # refused: a file database
      peerpath affiliate add -h
    """


@affiliate_group.command(name="add")
@click.argument("name")
@click.option("--id", "affiliate", metavar="ID", help="Its id (lower-case letters, digits, _); "
              "default: made from NAME.")
@pass_tracker
def affiliate_add(tracker, name, affiliate):
    """Add the affiliate NAME: its role (NOLOGIN) and its empty database, audited.

    Run by the database's owner, who may create roles. Then GRANT the role to each of the
    affiliate's coordinators' login roles.

    Examples:

    \b
      peerpath affiliate add "NAMI Cook County" --id cook  # refused: a file
    """
    from .core.affiliates import add_affiliate

    added = add_affiliate(tracker, name, affiliate)
    echo(f"Added the affiliate {added.id} ({added.name}) to {tracker.store.path}")
    echo(f"Its coordinators connect with ?affiliate={added.id} once granted its role, e.g.:")
    echo(f"  GRANT {added.role} TO <login role>;")


@affiliate_group.command(name="list")
@listing_options
@pass_tracker
def affiliate_list(tracker, output):
    """The affiliates of the database, with their roles and whether yours is a member.

    Examples:

    \b
      peerpath affiliate list                  # refused: a file database
      peerpath affiliate list --json           # refused: a file database
    """
    from .core.affiliates import list_affiliates

    rows = [{"id": a.id, "name": a.name, "role": a.role, "member": a.member} for a in list_affiliates(tracker)]
    if output != "text":
        echo_records(output, rows)
        return
    echo_table([[r["id"], r["name"], r["role"], "yes" if r["member"] else "no"] for r in rows],
               ["id", "name", "role", "member"])


# --- plugins ------------------------------------------------------------------------------------


@cli.group(name="plugins")
def plugins_group():
    """Installed plugins and which are enabled for this database.

    Examples:

    \b
      peerpath plugins list
      peerpath plugins check crss
    """


@plugins_group.command(name="list")
@listing_options
@pass_tracker
def plugins_list(tracker, output):
    """List plugins: name, version, source, enabled, hooks.

    Examples:

    \b
      peerpath plugins list
      peerpath plugins list --json
    """
    from .core.contract import check_plugin

    enabled = tracker.enabled_plugins()
    rows = []
    for info in tracker.host.infos():
        row = to_document(info)
        row["enabled"] = info.name in enabled
        row["problems"] = check_plugin(tracker.host, info.name)
        rows.append(row)
    if output != "text":
        echo_records(output, rows)
        return
    echo_table(
        [[r["name"], r["version"], r["source"], "yes" if r["enabled"] else "no", _plugin_state(r)]
         for r in rows],
        ["name", "version", "source", "enabled", "hooks"],
    )


def _plugin_state(row) -> str:
    if row["error"]:
        return f"BROKEN: {row['error']}"
    if row["problems"]:
        return f"{len(row['problems'])} PROBLEM(S), see 'peerpath plugins check {row['name']}'"
    return ", ".join(row["hooks"])


@plugins_group.command(name="check")
@click.argument("name", required=False)
@pass_tracker
def plugins_check(tracker, name):
    """Check plugin NAME (or every plugin) against the plugin contract; exit 1 on problems.

    Examples:

    \b
      peerpath plugins check crss
      peerpath plugins check
    """
    from .core.contract import check_plugin, unset_figures

    names = [name] if name else [info.name for info in tracker.host.infos()]
    known = {info.name for info in tracker.host.infos()}
    if name and name not in known:
        raise click.UsageError(f"unknown plugin '{name}': installed are {', '.join(sorted(known))}")
    problems = []
    for plugin in names:
        found = check_plugin(tracker.host, plugin)
        problems += found
        echo(f"{plugin}: {'ok' if not found else f'{len(found)} problem(s)'}")
        for problem in found:
            echo(f"  {one_line(problem)}")
        for note in unset_figures(tracker.host, plugin):
            echo(f"  note: {one_line(note)}")
    if problems:
        sys.exit(1)


@plugins_group.command(name="enable")
@click.argument("name")
@pass_tracker
def plugins_enable(tracker, name):
    """Enable plugin NAME for this database.

    Examples:

    \b
      peerpath plugins enable crss
    """
    tracker.set_plugin_enabled(name, True)
    echo(f"Enabled {name}")


@plugins_group.command(name="disable")
@click.argument("name")
@pass_tracker
def plugins_disable(tracker, name):
    """Disable plugin NAME for this database; its data is kept.

    Examples:

    \b
      peerpath plugins disable crss
      peerpath plugins enable crss          # and back, records intact
    """
    tracker.set_plugin_enabled(name, False)
    echo(f"Disabled {name} (its records are kept and return when re-enabled)")


# --- peers --------------------------------------------------------------------------------------


def peer_field_options(command):
    """The options that set a peer's fields, shared by `peer add` and `peer edit`."""
    options = [
        click.option("--email", help="Email address (contact detail)."),
        click.option("--phone", help="Phone number (contact detail)."),
        click.option("--pronouns", help="e.g. she/her."),
        click.option("--language", "languages", multiple=True, help="Repeat for each language."),
        click.option("--community", help="Town or neighbourhood the peer lives in."),
        click.option("--county", help="County, for state reports."),
        click.option("--lived-experience", help=f"One of: {', '.join(LIVED_EXPERIENCE)}."),
        click.option("--source", help=f"One of: {', '.join(SOURCES)}."),
        click.option("--source-detail", help="Program graduated from, partner name, event..."),
        click.option("--sector", help=f"Partner sector, one of: {', '.join(SECTORS)}."),
        click.option("--outreach", metavar="ID", help="Outreach event the peer came from."),
        click.option("--graduate-of", metavar="OFFERING",
                     help="Completed offering the peer graduated from (source graduate)."),
        click.option("--consent", "consents", multiple=True, metavar="FLAG=yes|no",
                     help="Consent flag, e.g. contact=yes, or adult=yes (18+ confirmed). Repeatable."),
        click.option("--birth-date", metavar="DATE", type=DATE,
                     help="Birth date, for programs whose leaders must be 18+ (not exported)."),
        click.option("--member-until", metavar="DATE", type=DATE,
                     help="Last day of the peer's NAMI membership (not exported)."),
        click.option("--notes", help="Free text about the peer (lines allowed, at most 10,000 characters)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def peer_fields(values: dict, existing_consent=None) -> dict:
    """Keep only the options given; turn repeated options into lists and FLAG=yes into booleans."""
    fields = {k: v for k, v in values.items() if v not in (None, ())}
    consents = fields.pop("consents", ())
    if consents:
        consent = dict(existing_consent or {})
        for item in consents:
            flag, _, answer = item.partition("=")
            if answer.lower() not in ("yes", "no") or not flag.strip():
                raise click.BadParameter(f"'{item}': use FLAG=yes or FLAG=no", param_hint="--consent")
            consent[flag.strip()] = answer.lower() == "yes"
        fields["consent"] = consent
    return fields


def peer_filter_options(period=True):
    """The options choosing the peers a listing or report counts, shared by `peer list`,
    `leaders` and `report`: the command receives them as one core PeerFilter, `where`.
    `period=False` leaves out --since/--until for commands whose --from/--to already bound the
    day peers entered the pipeline."""
    options = [
        click.option("--community", help="Only peers of this community (case and accents ignored)."),
        click.option("--sector", help=f"Only peers of this partner sector: {', '.join(SECTORS)}."),
        click.option("--source", help=f"Only peers who came from: {', '.join(SOURCES)}."),
        click.option("--language", help="Only peers who speak this language (case and accents ignored)."),
        click.option("--program", help="Only peers with an enrolment in this program."),
        click.option("--stage", help=f"Only peers at this stage: {', '.join(STAGES)}."),
    ]
    if period:
        options += [
            click.option("--since", metavar="DATE", type=DATE,
                         help="Only peers who entered the pipeline (their first stage) on or after DATE."),
            click.option("--until", metavar="DATE", type=DATE,
                         help="Only peers who entered the pipeline on or before DATE."),
        ]

    def decorate(command):
        @functools.wraps(command)
        def with_filter(*args, **kwargs):
            from .core.filters import FILTER_FIELDS, PeerFilter

            where = PeerFilter(**{name: kwargs.pop(name, None) for name in FILTER_FIELDS})
            return command(*args, where=where, **kwargs)

        for option in reversed(options):
            with_filter = option(with_filter)
        return with_filter

    return decorate


@cli.group(name="peer")
def peer_group():
    """Add, find and update peers.

    Examples:

    \b
      peerpath peer add "Ana Ruiz" --community Cicero --source graduate
      peerpath peer list --stage prospect
      peerpath peer show P0001
    """


@peer_group.command(name="add")
@click.argument("name")
@peer_field_options
@click.option("--stage", help=f"Starting stage (default prospect): {', '.join(STAGES)}.")
@click.option("--on", "on", metavar="DATE", type=DATE, help="When they entered that stage (default today).")
@pass_tracker
def peer_add(tracker, name, **values):
    """Add a peer named NAME and print the new id.

    Examples:

    \b
      peerpath peer add "Ana Ruiz" --email ana@example.org --lived-experience self
      peerpath peer add "Bo Chen" --language English --language Cantonese
      peerpath peer add "Cy Moss" --stage applied --outreach X0001
    """
    peer = tracker.add_peer(name=name, **peer_fields(values))
    echo(peer.id)


CONTACT_OPTION = click.option("--contact", "contact", is_flag=True,
                              help="Also show email, phone and notes (personal data).")


@peer_group.command(name="list")
@peer_filter_options()
@CONTACT_OPTION
@listing_options
@pass_tracker
def peer_list(tracker, where, contact, output):
    """List peers; the options combine. Email, phone and notes (also in --json and --csv) only
    with --contact, or in `peer show`.

    Examples:

    \b
      peerpath peer list
      peerpath peer list --stage accepted
      peerpath peer list --community cicero --language spanish
      peerpath peer list --sector faith --since 2026-01-01
      peerpath peer list --csv > peers.csv
      peerpath peer list --contact --stage accepted
    """
    from .core.peers import CONTACT_FIELDS, without_contact

    peers = tracker.peers(where=where)
    if output != "text":
        documents = [to_document(peer) for peer in peers]
        echo_records(output, documents if contact else [without_contact(d) for d in documents])
        return
    extra = list(CONTACT_FIELDS) if contact else []
    echo_table(
        [[p.id, p.name, p.stage, p.source, p.sector, p.community] + [getattr(p, f) for f in extra] for p in peers],
        ["id", "name", "stage", "source", "sector", "community"] + extra,
    )


@peer_group.command(name="show")
@peer_id_argument
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@pass_tracker
def peer_show(tracker, peer_id, as_json):
    """Show everything recorded about peer PEER_ID.

    Examples:

    \b
      peerpath peer show P0023
      peerpath peer show P0023 --json
    """
    document = to_document(tracker.peer(peer_id))
    if as_json:
        echo_json(document)
        return
    history = document.pop("stage_history")
    for key, value in document.items():
        if value not in (None, [], {}):
            text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            echo(f"{key + ':':<18}" + text.replace("\n", "\n" + " " * 18))  # a line of notes cannot pose as a field
    for change in history:
        echo(f"{'stage history:':<18}{change['on']} {change['stage']} ({change['actor']})")


@peer_group.command(name="edit")
@peer_id_argument
@click.option("--name", help="New name.")
@peer_field_options
@pass_tracker
def peer_edit(tracker, peer_id, **values):
    """Change fields of peer PEER_ID; fields not given are kept.

    Examples:

    \b
      peerpath peer edit P0001 --phone 708-555-0199 --consent contact=yes
      peerpath peer edit P0001 --notes "prefers evenings"
    """
    with tracker.changing():  # the consent flags given are merged into the stored ones
        consent = tracker.peer(peer_id).consent if values.get("consents") else None
        peer = tracker.edit_peer(peer_id, **peer_fields(values, consent))
    echo(f"Updated {peer.id}")


@peer_group.command(name="erase")
@peer_id_argument
@pass_tracker
def peer_erase(tracker, peer_id):
    """Erase who peer PEER_ID is: name, email, phone, notes and source details.

    Stages, dates, enrolments, records and counts are kept, so reports do not change. In the
    audit trail those values are replaced by digests (the hash chain still verifies) and the
    erasure is recorded, listing what it redacted. It cannot be undone.

    Examples:

    \b
      peerpath peer erase P0010
      peerpath peer erase P0010             # refused: already erased
    """
    peer = tracker.erase_peer(peer_id)
    echo(f"Erased {peer.id}")


@peer_group.command(name="stage")
@peer_id_argument
@click.argument("stage")
@click.option("--on", "on", metavar="DATE", type=DATE, help="When it happened (default today).")
@pass_tracker
def peer_stage(tracker, peer_id, stage, on):
    """Move peer PEER_ID to STAGE: prospect, contacted, applied, screened, accepted, declined, withdrawn.

    Examples:

    \b
      peerpath peer stage P0001 contacted
      peerpath peer stage P0008 declined
    """
    peer = tracker.set_stage(peer_id, stage, on=on)
    echo(f"{peer.id} is now {peer.stage}")


@peer_group.command(name="merge")
@click.argument("keep", shell_complete=_complete_peer_ids)
@click.argument("duplicate", shell_complete=_complete_peer_ids)
@click.option("--dry-run", is_flag=True, help="List what would move and which fields would be filled; write nothing.")
@pass_tracker
def peer_merge(tracker, keep, duplicate, dry_run):
    """Merge peer DUPLICATE into peer KEEP (the same person entered twice), in one change.

    DUPLICATE's enrolments, step records, certifications and progress, its places in the leader
    lists of offerings, sessions and observations, and its stage changes from before KEEP entered
    the pipeline move to KEEP; KEEP's empty fields are filled from DUPLICATE (and consents KEEP
    lacks added), never overwriting KEEP's own. KEEP's progress and certifications are judged
    again. The audit trail gets one `merge` event listing what moved; DUPLICATE's id is never
    reused, and any command given it says which peer it was merged into. Refused, changing
    nothing, when both are enrolled in the same program and role.

    Examples:

    \b
      peerpath peer merge P0032 P0031 --dry-run
      peerpath peer merge P0032 P0031
      peerpath peer show P0031                # refused: merged into P0032
      peerpath peer merge P0024 P0025         # refused: both in connection
    """
    result = tracker.merge_peers(keep, duplicate, dry_run=dry_run)
    verb = "Dry run: would merge" if dry_run else "Merged"
    echo(f"{verb} {result.duplicate} into {result.keep}" + ("; nothing was written." if dry_run else "."))
    for table, ids in result.moved.items():
        echo(f"  {table.replace('_', ' ')}: {', '.join(ids)}")
    if result.filled:
        echo(f"  fields filled from {result.duplicate}: {', '.join(result.filled)}")
    if result.earlier_stages:
        echo(f"  earlier stage changes added to {result.keep}'s history: {result.earlier_stages}")
    if not (result.moved or result.filled or result.earlier_stages):
        echo("  nothing to move: no records, and no field of KEEP is empty")


PROGRESS_MIN_ROWS = 200  # a progress bar (on a terminal) for imports longer than this


@peer_group.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--map", "mapping", multiple=True, metavar="COLUMN=FIELD",
              help="Read COLUMN as FIELD (id, name, first_name, last_name, email, phone, pronouns, "
                   "languages, community, county, lived_experience, source, source_detail, sector, "
                   "consent, stage, date, notes) or 'ignore' it. Repeatable.")
@click.option("--map-value", "map_values", multiple=True, metavar='FIELD:"TEXT"=VALUE',
              help="Read TEXT in FIELD (source, sector, lived_experience, stage) as VALUE, e.g. "
                   "--map-value 'sector:church partner=faith'; remembered for later imports. Repeatable.")
@click.option("--value-map", type=click.Path(dir_okay=False), metavar="FILE",
              help="Read more values from FILE (field,text,value, as --write-value-map writes it); "
                   "remembered too.")
@click.option("--write-value-map", type=click.Path(dir_okay=False), metavar="FILE",
              help="With --dry-run: write the values that matched nothing to FILE, to fill in and "
                   "give back with --value-map.")
@click.option("--dry-run", is_flag=True,
              help="Show what would be added and, per peer, each field that would change; write nothing.")
@click.option("--skip-duplicates", is_flag=True,
              help="Leave out new rows flagged as likely duplicates instead of importing them.")
@click.option("--force", is_flag=True, help="Replace the --write-value-map file if it exists.")
@pass_tracker
def peer_import(tracker, file, mapping, map_values, value_map, write_value_map, dry_run, skip_duplicates,
                force):
    """Import the spreadsheet saved as CSV FILE, all in one change.

    Rows without an id add peers. Rows with the id of a stored peer (as `peer export` writes
    it) change only the fields whose cells differ, each recorded in the audit trail with its
    old and new value; a blank cell leaves a field as it is, a cell saying (clear) empties it.

    Headers are matched loosely ("Full Name" or "First"/"Last", "E-mail", "Phone #", "Cell",
    "Language(s)", "Community/Town", "How did you hear about us", "Partner sector",
    "Lived experience", "Stage"/"Status", "Date added"...); other columns are kept in the
    peer's notes as "Column: value" lines. Dates are read as every date option reads them
    (3/4/2026 is March 4 unless `peerpath config set dates.order day-first`) and give the day
    the peer entered their stage.

    Values are matched to peerpath's words by a built-in synonym table and the affiliate's
    value map (--map-value, --value-map); a value that matches nothing is kept as `other`
    with its text, and listed. Every problem of every row is listed by line. A row that
    cannot be stored as written (no name, a bad email, phone, date or consent, an unknown id,
    a control or zero-width character) stops the whole import: nothing is stored. A cell
    that begins with ' before = + - @ or ' (as peerpath's CSV writes them) loses that '. Likely duplicates (same email, same phone, or
    the same name in the same community as a stored peer or an earlier row) are flagged but
    still imported, unless --skip-duplicates; look-alike letters and invisible characters
    are ignored when comparing.

    Examples:

    \b
      peerpath peer import volunteers.csv --dry-run
      peerpath peer import volunteers.csv --map "T-shirt size=ignore"
      peerpath peer import volunteers.csv --map-value 'sector:church=faith'
      peerpath peer import volunteers.csv --dry-run --write-value-map values.csv
      peerpath peer import volunteers.csv --skip-duplicates   # again: skips all
    """
    from .core.importer import BadRows

    if write_value_map and not dry_run:
        raise click.UsageError("--write-value-map needs --dry-run")

    def progress(rows):
        if len(rows) > PROGRESS_MIN_ROWS and sys.stderr.isatty():
            return bars.enter_context(click.progressbar(rows, label="Reading rows", file=sys.stderr))
        return rows

    try:
        with contextlib.ExitStack() as bars:
            result = tracker.import_peers(file, mapping, dry_run=dry_run, skip_duplicates=skip_duplicates,
                                          progress=progress, value_map=map_values, value_map_file=value_map)
    except BadRows as error:
        _write_value_map(tracker, write_value_map, error.result, force)
        for problem in error.problems:
            echo(one_line(problem.describe()), err=True)
        raise
    _write_value_map(tracker, write_value_map, result, force)
    _echo_import(result)


def _write_value_map(tracker, path, result, force) -> None:
    if path:
        from .core.importer import value_map_csv

        tracker.write_file(path, value_map_csv(result.unmatched), "csv", force=force)
        echo(f"Wrote {len(result.unmatched)} unmatched value(s) to {path}", err=True)


def _echo_import(result) -> None:
    if result.dry_run:
        echo("Columns: " + "; ".join(f"{c.header} -> {c.field}" for c in result.columns if c.field))
    if result.kept_in_notes:
        echo("Kept in notes: " + "; ".join(result.kept_in_notes))
    _echo_import_rows(result)
    _echo_updates(result)
    if result.warnings:
        echo(f"{len(result.warnings)} warning(s):")
        for warning in result.warnings:
            echo(f"  line {warning.line}: {one_line(warning.reason)}")
    if result.duplicates:
        what = "left out" if result.skipped else "imported anyway; --skip-duplicates leaves them out"
        echo(f"{len(result.duplicates)} likely duplicate(s) ({what}):")
        for duplicate in result.duplicates:
            echo(f"  {duplicate.describe()}")


def _echo_import_rows(result) -> None:
    changed = f" and change {len(result.updates)} ({result.unchanged} unchanged)" if result.has_ids else ""
    if result.dry_run:
        echo(f"Dry run: would import {len(result.to_add)} peer(s){changed}; nothing was written.")
        if result.to_add:
            echo_table([[r.line, r.fields["name"], r.fields.get("stage", "prospect"), r.fields["on"],
                         r.fields.get("source"), r.fields.get("sector"), r.fields.get("community")]
                        for r in result.to_add],
                       ["line", "name", "stage", "since", "source", "sector", "community"])
    else:
        ids = f": {result.added[0]} to {result.added[-1]}" if result.added else ""
        echo(f"Imported {len(result.added)} peer(s){ids}.")
        if result.has_ids:
            echo(f"{len(result.updates)} changed, {result.unchanged} unchanged.")


def _echo_updates(result) -> None:
    for update in result.updates:
        echo(f"{update.peer_id} {update.name} (line {update.line}):")
        for change in update.describe():
            echo(f"  {one_line(change)}")


@peer_group.command(name="export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True,
              help="File format.")
@click.option("--include-contact", is_flag=True, help="Also export email, phone and notes (personal data).")
@click.option("--output", "-o", type=click.Path(dir_okay=False),
              help="Write to this new file (private to you, mode 0600) instead of stdout.")
@click.option("--force", is_flag=True, help="Replace the --output file if it exists.")
@pass_tracker
def peer_export(tracker, fmt, include_contact, output, force):
    """Export every peer as CSV or JSON; contact details and notes only with --include-contact.

    The id comes first: edit the CSV file and give it back to `peer import` to change exactly
    the cells you edited (the contact columns of an export without them are left as they are).
    A cell that a spreadsheet would run as a formula (it begins with = + - @) is written with a
    leading ' and read back without it.

    --output never replaces a file unless --force, never writes onto the database's own files
    or through a symbolic link, and writes the whole file or nothing.

    Examples:

    \b
      peerpath peer export --format csv > peers.csv
      peerpath peer export --include-contact --output peers-contact.csv
    """
    text = tracker.export_peers(fmt, include_contact=include_contact)
    if output:
        tracker.write_file(output, text, fmt, force=force)
        echo(f"Wrote {output}", err=True)
    else:
        echo_data(text)


# --- audit --------------------------------------------------------------------------------------


@cli.command()
@click.option("--peer", "peer_id", metavar="ID", help="Only changes about this peer.")
@CONTACT_OPTION
@listing_options
@pass_tracker
def audit(tracker, peer_id, contact, output):
    """Show the append-only trail of every change and who made it.

    Old and new values of email, phone and notes show as (hidden) unless --contact.

    Examples:

    \b
      peerpath audit --peer P0023
      peerpath audit --csv > audit.csv
      peerpath audit --peer P0023 --contact
    """
    from .core.peers import event_without_contact

    events = [to_document(event) for event in tracker.audit(peer_id=peer_id)]
    if not contact:
        events = [event_without_contact(event) for event in events]
    if output != "text":
        echo_records(output, events)
        return
    echo_table(
        [[e["at"], e["actor"], e["action"], e["entity"], e["entity_id"],
          json.dumps(e["details"], ensure_ascii=False) if e["details"] else ""] for e in events],
        ["when", "who", "action", "what", "id", "details"],
    )


# --- programs and pathways -----------------------------------------------------------------------


@cli.group(name="programs")
def programs_group():
    """Program models provided by the enabled plugins.

    Examples:

    \b
      peerpath programs list
      peerpath programs show crss
    """


@programs_group.command(name="list")
@listing_options
@pass_tracker
def programs_list(tracker, output):
    """List enabled programs with their roles and pathways.

    Examples:

    \b
      peerpath programs list
      peerpath programs list --json
    """
    catalog = tracker.catalog
    rows = [{"key": p.key, "title": p.title, "plugin": catalog.owners[("programs", p.key)],
             "roles": [r.key for r in p.roles], "pathways": [w.key for w in p.pathways]}
            for p in catalog.programs.values()]
    if output != "text":
        echo_records(output, rows)
        return
    echo_table([[r["key"], r["title"], r["plugin"], ", ".join(r["roles"])] for r in rows],
               ["key", "title", "plugin", "roles"])


@programs_group.command(name="show")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@pass_tracker
def programs_show(tracker, key, as_json):
    """Show program KEY: its roles, pathway steps and the defaults in force.

    Examples:

    \b
      peerpath programs show crss
      peerpath programs show connection --json
    """
    program = tracker.catalog.program(key)
    sources = tracker.rule_sources(program.key)
    document = {**to_document(program), "sources": sources}
    if as_json:
        echo_json(document)
        return
    echo(f"{program.title} ({program.key})")
    if program.description:
        echo(program.description)
    echo("roles: " + ", ".join(f"{r.key} ({r.title})" for r in program.roles))
    for name, prefix, values in (("format", "format", program.format), ("leaders", "leader", program.leader_requirements),
                                 ("fidelity", "fidelity", program.fidelity)):
        if name == "fidelity" and not values:
            continue
        echo(f"{name}:")
        _echo_rules(sources, {f"{program.key}.{prefix}.{k}": v for k, v in values.items()})
    for pathway in program.pathways:
        validity = f", valid {pathway.validity_days} days" if pathway.validity_days else ""
        addon = f", add-on to {pathway.add_on_to}" if pathway.add_on_to else ""
        echo(f"\npathway {pathway.key}: {pathway.title}{validity}{addon}")
        _echo_rules(sources, {f"{pathway.key}.validity_days": pathway.validity_days})
        steps = list(pathway.steps) + ([pathway.renewal] if pathway.renewal else [])
        for step in steps:
            label = "renewal" if step is pathway.renewal else ("optional" if step.optional else "")
            requires = f" after {', '.join(step.requires)}" if step.requires else ""
            prefix = f"{pathway.key}.{'renewal' if step is pathway.renewal else step.key}"
            echo(f"  {step.key:<22} {step.kind:<12} {step.title}{requires} {label}".rstrip())
            if prefix in sources:
                echo(f"      rule: {sources[prefix]}")
            _echo_rules(sources, {key: value for key, value in _flat_params(prefix, step.params)})


def _flat_params(prefix, params):
    """(KEY, value) of each step parameter, a dict parameter (domain minimums) one key each."""
    for param, value in params.items():
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                yield f"{prefix}.{param}.{sub}", subvalue
        else:
            yield f"{prefix}.{param}", value


def _echo_rules(sources, values: dict) -> None:
    """One line per rule: KEY = VALUE and where it comes from."""
    for key, value in values.items():
        source = sources.get(key)
        echo(f"      {key} = {'none' if value is None else _show(value)}" + (f": {source}" if source else ""))


def _show(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "/".join(map(str, value))
    return str(value)


@cli.command()
@peer_id_argument
@click.argument("program")
@click.option("--role", help="Role in the program (default: its first role).")
@click.option("--on", "on", metavar="DATE", type=DATE, help="Enrolment date (default today).")
@pass_tracker
def enroll(tracker, peer_id, program, role, on):
    """Enrol PEER_ID as a leader in PROGRAM.

    Examples:

    \b
      peerpath enroll P0031 connection
      peerpath enroll P0032 peer_to_peer --role teacher
    """
    enrollment = tracker.enroll(peer_id, program, role=role, on=on)
    echo(f"{enrollment.id}: {peer_id} enrolled in {enrollment.program} as {enrollment.role}")


@cli.command()
@peer_id_argument
@click.argument("program")
@click.argument("step")
@click.option("--role", help="Which role, if the peer has several in PROGRAM.")
@click.option("--on", "on", metavar="DATE", type=DATE, help="When it happened (default today).")
@click.option("--until", metavar="DATE", type=DATE, help="Last day of a multi-day training.")
@click.option("--hours", type=float, help="Hours (education, experience, supervision, CEUs).")
@click.option("--domain", help="Domain the hours count toward.")
@click.option("--score", type=float, help="Exam score, observation percentage or role share.")
@click.option("--outcome", help="Outcome of a screening or training: passed or 'not passed'.")
@click.option("--trainer", help="Who led the training.")
@click.option("--evidence", help="Where the proof is (certificate no., file, note).")
@click.option("--force", is_flag=True, help="Record even though a pathway rule refuses it (prerequisites, lead times).")
@click.option("--reason", help="Why --force was needed (kept in the audit trail).")
@pass_tracker
def record(tracker, peer_id, program, step, role, force, reason, **values):
    """Record a certification STEP of PEER_ID in PROGRAM.

    Examples:

    \b
      peerpath record P0026 connection interview --outcome passed
      peerpath record P0026 connection training   # refused: the agreement first
      peerpath record P0029 peer_to_peer fidelity_agreement --evidence "form"
      peerpath record P0032 crss education --hours 6 --domain Ethics
    """
    values = {k: v for k, v in values.items() if v is not None}
    saved = tracker.record_step(peer_id, program, step, role=role, force=force, reason=reason, **values)
    echo(f"{saved.id}: recorded {saved.step} for {peer_id} on {saved.on}")
    for status in tracker.progress(peer_id, program):
        if status.enrollment.id == saved.enrollment_id:
            echo(_status_line(status))


@cli.command()
@click.argument("record_id")
@click.option("--reason", required=True, help="Why the record is void.")
@pass_tracker
def void(tracker, record_id, reason):
    """Void record RECORD_ID, a wrongly recorded step (it is kept, marked void, with the reason).

    Examples:

    \b
      peerpath void R0002 --reason "entered for the wrong peer"
    """
    voided = tracker.void_record(record_id, reason)
    echo(f"{voided.id} is void: {reason}")


def _status_line(status) -> str:
    cert = status.certification
    line = f"{status.peer.id} {status.program.key}/{status.enrollment.role}: {status.status}"
    if status.reason and status.status != "certified":
        line += f" ({status.reason})"
    if cert:
        line += f", certified {cert.granted}" + (f", expires {cert.expires}" if cert.expires else "")
    return line


@cli.command()
@peer_id_argument
@click.argument("program", required=False)
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@pass_tracker
def progress(tracker, peer_id, program, as_json):
    """Show each pathway step of PEER_ID (in every program, or only PROGRAM): done, partly done
    or missing, and what blocks it.

    Examples:

    \b
      peerpath progress P0025
      peerpath progress P0032 crss --json
    """
    statuses = tracker.progress(peer_id, program)
    if as_json:
        echo_json([s.to_dict() for s in statuses])
        return
    if not statuses:
        echo(f"{peer_id} is not enrolled in any enabled program")
    for status in statuses:
        echo(f"{status.peer.name} - {status.pathway.title}")
        echo(_status_line(status))
        for state in status.steps:
            mark = {"done": "[x]", "partial": "[~]", "failed": "[!]"}.get(state.progress.state, "[ ]")
            blocked = f"  (needs {', '.join(state.blocked_by)})" if state.blocked_by else ""
            echo(f"  {mark} {state.step.key:<22} {state.progress.summary}{blocked}")
        if status.renewal:
            echo(f"  renewal: {status.renewal.summary} by {status.certification.expires}")
        if status.next_steps and not status.certification:
            echo(f"  next: {', '.join(status.next_steps)}")
        for change in status.enrollment.history:
            echo(f"  {change.on} {change.status}" + (f": {change.reason}" if change.reason else ""))
        echo("")


@cli.command()
@peer_filter_options()
@click.option("--status", help="in training, certified, on hold, inactive or lapsed.")
@click.option("--expiring-within", type=DAYS, metavar="DAYS",
              help="Only certifications that lapse within DAYS.")
@listing_options
@pass_tracker
def leaders(tracker, where, status, expiring_within, output):
    """Who is ready, who is stuck and whose credential lapses soon.

    The peer options choose whose enrolments are listed; --program also lists only that program's.

    Examples:

    \b
      peerpath leaders
      peerpath leaders --status "in training"
      peerpath leaders --program crss --expiring-within 60
      peerpath leaders --source graduate --community cicero
      peerpath leaders --csv > leaders.csv
    """
    # The table shows only done counts and next steps: listed from the summaries' heads.
    found = tracker.leaders(program=where.program, status=status, expiring_within=expiring_within,
                            where=where, steps=output != "text")
    if output != "text":
        echo_records(output, [s.to_dict() for s in found])
        return
    echo_table(
        [[s.peer.id, s.peer.name, s.program.key, s.enrollment.role, s.status,
          s.certification.expires if s.certification else "",
          s.done_count, len(s.pathway.steps),
          ", ".join(s.next_steps) if not s.certification else "", s.last_activity]
         for s in found],
        ["peer", "name", "program", "role", "status", "expires", "done", "of", "next", "last activity"],
    )


@cli.command(name="status")
@peer_id_argument
@click.argument("program")
@click.argument("status", type=click.Choice(["active", "on hold", "inactive"]))
@click.option("--role", help="Which role, if the peer has several in PROGRAM.")
@click.option("--reason", help="Why (kept in the leader's status history).")
@pass_tracker
def leader_status(tracker, peer_id, program, status, role, reason):
    """Put leader PEER_ID on hold in PROGRAM, make them inactive, or active again (STATUS).

    A leader whose certification lapsed is made active again with 'peerpath reactivate'.

    Examples:

    \b
      peerpath status P0024 connection "on hold" --reason "moving house"
      peerpath status P0024 connection active
    """
    enrollment = tracker.set_leader_status(peer_id, program, status, role=role, reason=reason)
    echo(f"{peer_id} is {enrollment.history[-1].status} in {enrollment.program}")


@cli.command()
@peer_id_argument
@click.argument("program")
@click.option("--role", help="Which role, if the peer has several in PROGRAM.")
@click.option("--on", "on", metavar="DATE", type=DATE, help="From when (default today).")
@click.option("--reason", help="Why (kept in the leader's status history).")
@pass_tracker
def reactivate(tracker, peer_id, program, role, on, reason):
    """Make leader PEER_ID, whose certification in PROGRAM lapsed (or who did not meet the
    commitment), active again: refused until what the program asks to redo since the lapse is
    recorded (e.g. the renewal's CEUs); a new cycle of the certification starts.

    Examples:

    \b
      peerpath reactivate P0023 crss        # refused: no CEUs since the lapse
      peerpath record P0023 crss ceu --hours 15 --domain "CRSS domains"
      peerpath record P0023 crss ceu --hours 25 --domain "Core functions"
      peerpath reactivate P0023 crss --reason "40 CEUs since the lapse"
    """
    certification = tracker.reactivate(peer_id, program, role=role, on=on, reason=reason)
    echo(f"{peer_id} is certified again in {certification.program}"
               + (f", expires {certification.expires}" if certification.expires else ""))


@cli.command()
@click.option("--send", is_flag=True, help="Then e-mail each person their new reminders (as digest --send).")
@pass_tracker
def sweep(tracker, send):
    """Record certifications lapsed by today, erase prospects kept longer than the setting
    privacy.retain_prospects_days (if set) and refresh stored progress (run daily, e.g. cron);
    with --send, then send the digests (see `peerpath digest --send`).

    Examples:

    \b
      peerpath sweep
      peerpath --today 2028-03-01 sweep     # what will have lapsed by then
      peerpath config set privacy.retain_prospects_days 365
      peerpath sweep                        # and erases prospects older than that
    """
    swept = tracker.sweep()
    for certification in swept.lapsed:
        echo(f"{certification.peer_id} {certification.pathway} lapsed after {certification.expires}")
    echo(f"{len(swept.lapsed)} certification(s) lapsed")
    if swept.erased:
        echo(f"{len(swept.erased)} prospect(s) erased after privacy.retain_prospects_days: "
                   f"{', '.join(peer.id for peer in swept.erased)}")
    if send:
        _send_digests(tracker, dry_run=False)


# --- training events ---------------------------------------------------------------------------


@cli.group(name="training")
def training_group():
    """Training events with a roster: plan one, enrol trainees, close it with everyone's result.

    Examples:

    \b
      peerpath training add connection --on 2026-11-20 --until 2026-11-22
      peerpath training list
    """


@training_group.command(name="add")
@click.argument("program")
@click.option("--on", "on", metavar="DATE", type=DATE, required=True, help="First day of the training.")
@click.option("--until", metavar="DATE", type=DATE, help="Last day (a training of several days).")
@click.option("--trainers", metavar="NAME,NAME", help="Who trains (recorded as each trainee's trainer).")
@click.option("--location", help="Where it is held.")
@click.option("--capacity", type=click.IntRange(1, 10_000), help="Seats: enrolling beyond them is refused.")
@pass_tracker
def training_add(tracker, program, on, until, trainers, location, capacity):
    """Plan a training event of PROGRAM (a program with a training step).

    Examples:

    \b
      peerpath training add connection --on 2026-11-20 --until 2026-11-22 \\
          --trainers "Dana Ruiz,Lee Park" --location Springfield --capacity 15
      peerpath training add crss --on 2026-11-14   # refused: no training step
    """
    training = tracker.add_training(program, on, until=until, trainers=trainers, location=location, capacity=capacity)
    echo(training.id)


@training_group.command(name="enroll")
@click.argument("training_id")
@click.argument("peer_ids", nargs=-1)
@click.option("--roster", type=click.Path(dir_okay=False), metavar="FILE.csv",
              help="A CSV of peer ids or names (column id or name, or no header).")
@pass_tracker
def training_enroll(tracker, training_id, peer_ids, roster):
    """Put peers PEER_IDS (enrolled in the training's program) on the roster of TRAINING_ID.

    --roster FILE.csv adds the peers a sheet names: one column of peer ids or of names (a
    header "id" or "name", or none), each name matching exactly one peer (case, accents and
    word order ignored). An unknown or ambiguous name refuses the whole file, naming its
    line: all of them are enrolled or none.

    Examples:

    \b
      peerpath training add connection --on 2026-11-20 --capacity 1
      peerpath training enroll T0002 P0025
      peerpath training enroll T0002 P0026   # refused: no seat left
      peerpath training add connection --on 2026-11-27
      peerpath training enroll T0003 --roster unknown.csv   # refused
      peerpath training enroll T0003 --roster roster.csv
    """
    training = tracker.enroll_in_training(training_id, peer_ids, roster=roster)
    seats = "" if training.seats_left is None else f", {training.seats_left} seat(s) left"
    echo(f"{training.id}: {len(training.roster)} on the roster{seats}")
    if roster:  # read again inside the command's change: no second lock
        echo(f"added from {roster}: " + ", ".join(peer_id for _, peer_id in tracker.roster_peers(roster)))


@training_group.command(name="close")
@click.argument("training_id")
@click.option("--passed", metavar="ID,ID", help="Trainees who graduated: their training step is done.")
@click.option("--not-passed", "not_passed", metavar="ID,ID", help="Trainees who did not graduate.")
@click.option("--partial", metavar="ID,ID", help="Trainees who attended part of it (recorded incomplete).")
@pass_tracker
def training_close(tracker, training_id, passed, not_passed, partial):
    """Close TRAINING_ID: record the training step of every trainee, with their result, in one
    change (all of them or, if one is refused, none).

    Examples:

    \b
      peerpath training add connection --on 2026-11-20 --until 2026-11-22
      peerpath training enroll T0002 P0025 P0026
      peerpath training close T0002 --passed P0025   # refused: P0026 has none
      peerpath training close T0002 --passed P0025 --partial P0026   # refused
      peerpath training add connection --on 2026-11-20 --until 2026-11-22
      peerpath training enroll T0003 P0025
      peerpath training close T0003 --passed P0025
    """
    training = tracker.close_training(training_id, passed=passed or (), not_passed=not_passed or (),
                                      partial=partial or ())
    counts = {result: list(training.results.values()).count(result) for result in ("passed", "not passed", "partial")}
    echo(f"{training.id} closed: " + ", ".join(f"{n} {result}" for result, n in counts.items() if n))


@training_group.command(name="list")
@listing_options
@pass_tracker
def training_list(tracker, output):
    """Training events with their dates, trainers, roster and seats left.

    Examples:

    \b
      peerpath training list
      peerpath training list --json
    """
    rows = [{"id": t.id, "program": t.program, "on": t.on.isoformat(), "until": t.until.isoformat() if t.until else None,
             "trainers": list(t.trainers), "location": t.location, "capacity": t.capacity,
             "enrolled": len(t.roster), "seats_left": t.seats_left, "closed": t.closed} for t in tracker.trainings()]
    if output != "text":
        echo_records(output, rows)
        return
    echo_table([[r["id"], r["program"], r["on"], r["until"], ", ".join(r["trainers"]), r["enrolled"],
                 r["seats_left"], "closed" if r["closed"] else "open"] for r in rows],
               ["id", "program", "on", "until", "trainers", "enrolled", "seats left", "status"])


# --- volunteer activity --------------------------------------------------------------------------


@cli.group(name="activity")
def activity_group():
    """Volunteer activity: the hours peers give (talks, sessions, outreach, admin), with stipends.

    `peerpath report activity` sums them by peer, program, month or community.

    Examples:

    \b
      peerpath activity add P0031 --kind talk --hours 2 --offering O0004
      peerpath activity list --for P0031
    """


@activity_group.command(name="add")
@peer_id_argument
@click.option("--kind", required=True, type=click.Choice(ACTIVITY_KINDS, case_sensitive=False),
              help="What it was: talk, session, outreach, admin or other.")
@click.option("--hours", required=True, type=float, help="Hours given that day (more than 0, at most 24).")
@click.option("--on", "on", metavar="DATE", type=DATE, help="The day (default today).")
@click.option("--offering", "offering_id", metavar="ID", help="The offering it was part of (its program's).")
@click.option("--outreach", "outreach_id", metavar="ID", help="The outreach event it served.")
@click.option("--stipend", type=float, metavar="AMOUNT", help="Stipend paid for it.")
@click.option("--share", type=float, metavar="PERCENT",
              help="Share of the work that is recovery support (when a program counts activity as "
                   "experience, e.g. crss.format.activity_counts_as_experience).")
@pass_tracker
def activity_add(tracker, peer_id, kind, hours, on, offering_id, outreach_id, stipend, share):
    """Record a day of volunteer activity of PEER_ID and print its id. A talk that names an
    offering counts as a presentation of its program (In Our Own Voice: report presenter_use).

    Examples:

    \b
      peerpath activity add P0031 --kind talk --hours 2 --on 2026-11-10 \\
          --offering O0004 --stipend 50
      peerpath activity add P0027 --kind outreach --hours 3 --outreach X0001
      peerpath activity add P0027 --kind admin --hours 0   # refused: more than 0
    """
    activity = tracker.add_activity(peer_id, kind, hours, on=on, offering_id=offering_id, outreach_id=outreach_id,
                                    stipend=stipend, share=share)
    counted = f" (also recorded as {', '.join(activity.counted_as)})" if activity.counted_as else ""
    echo(activity.id + counted)


@activity_group.command(name="list")
@click.option("--for", "peer_id", metavar="PEER", help="Only this peer's activity.")
@click.option("--pending", is_flag=True, help="Only what leaders logged themselves, waiting for approval.")
@listing_options
@pass_tracker
def activity_list(tracker, peer_id, pending, output):
    """List volunteer activity that counts (approved), oldest first; --pending lists what
    leaders logged in the web app and a coordinator has still to approve.

    Examples:

    \b
      peerpath activity list
      peerpath activity list --for P0030 --csv
      peerpath activity list --pending
    """
    with tracker.reading():
        names = {p.id: p.name for p in tracker.peers()}
    rows = [{"id": a.id, "peer": a.peer_id, "name": names.get(a.peer_id), "kind": a.kind, "on": a.on.isoformat(),
             "hours": a.hours, "program": a.program, "offering": a.offering_id, "outreach": a.outreach_id,
             "stipend": a.stipend} for a in tracker.activities(peer_id, status="pending" if pending else "approved")]
    if output != "text":
        echo_records(output, rows)
        return
    echo_table([[r["id"], r["peer"], r["name"], r["kind"], r["on"], f"{r['hours']:g}", r["program"], r["offering"],
                 r["outreach"], None if r["stipend"] is None else f"{r['stipend']:.2f}"] for r in rows],
               ["id", "peer", "name", "kind", "on", "hours", "program", "offering", "outreach", "stipend"])


@activity_group.command(name="approve")
@click.argument("activity_id")
@pass_tracker
def activity_approve(tracker, activity_id):
    """Approve ACTIVITY_ID, logged by a leader in the web app, so that it counts (in reports,
    and as CRSS experience hours where the affiliate counts them).

    Examples:

    \b
      peerpath activity approve A0012
      peerpath activity approve A0001   # refused: already approved
    """
    activity = tracker.approve_activity(activity_id)
    counted = f" (also recorded as {', '.join(activity.counted_as)})" if activity.counted_as else ""
    echo(f"Approved {activity.id}: {activity.peer_id} {activity.kind}, {activity.hours:g} h on {activity.on}"
         + counted)


# --- offerings, sessions and fidelity ----------------------------------------------------------


@cli.group(name="offering")
def offering_group():
    """Groups and classes the affiliate runs.

    Examples:

    \b
      peerpath offering list
      peerpath offering add connection "Berwyn Monday group" --leaders P0023,P0024
    """


@offering_group.command(name="add")
@click.argument("program")
@click.argument("name")
@click.option("--leaders", metavar="ID,ID", help="Peer ids of the leaders.")
@click.option("--schedule", help="e.g. 'Tuesdays 6:30pm, weekly'.")
@click.option("--cadence", help=f"How often it meets: {', '.join(CADENCES)}.")
@click.option("--language", help="The language it is held in (report capacity: who to recruit).")
@click.option("--location", help="Where it meets.")
@click.option("--started", metavar="DATE", type=DATE, help="First meeting or class date.")
@click.option("--ended", metavar="DATE", type=DATE, help="Last meeting or class date (planned or past).")
@click.option("--status", type=click.Choice(OFFERING_STATUSES), default="running", show_default=True,
              help="planned, running, completed or cancelled.")
@pass_tracker
def offering_add(tracker, program, name, leaders, **values):
    """Add an offering of PROGRAM called NAME and print its id.

    Examples:

    \b
      peerpath offering add connection "Berwyn Monday group" \\
          --leaders P0023,P0024 --schedule "Mondays 7pm" --cadence weekly \\
          --location "Berwyn library" --started 2026-11-02
      peerpath offering add ioov "Spring talks" --status planned
      peerpath offering add peer_to_peer "Clase de Cicero" --status planned \\
          --started 2027-01-09 --cadence weekly --language Spanish
      peerpath offering add connection "Maywood group" --cadence daily   # refused
    """
    offering = tracker.add_offering(program, name, leaders=leaders, **values)
    echo(offering.id)


@offering_group.command(name="edit")
@click.argument("offering_id")
@click.option("--name", help="New name.")
@click.option("--leaders", metavar="ID,ID", help="Peer ids of the leaders (replaces the list).")
@click.option("--schedule", help="e.g. 'Tuesdays 6:30pm, weekly'.")
@click.option("--cadence", help=f"How often it meets: {', '.join(CADENCES)}.")
@click.option("--language", help="The language it is held in.")
@click.option("--location", help="Where it meets.")
@click.option("--started", metavar="DATE", type=DATE, help="First meeting or class date.")
@click.option("--ended", metavar="DATE", type=DATE, help="Last meeting or class date.")
@click.option("--status", type=click.Choice(OFFERING_STATUSES), help="planned, running, completed or cancelled.")
@click.option("--graduates", type=click.IntRange(0, 100_000),
              help="How many completed it (a completed offering only).")
@pass_tracker
def offering_edit(tracker, offering_id, **values):
    """Change offering OFFERING_ID: its name, leaders, schedule, cadence, language, place, dates,
    status or number of graduates.

    Examples:

    \b
      peerpath offering edit O0001 --schedule "Mondays 6pm" --cadence weekly
      peerpath offering edit O0002 --location "Cicero library" --status running
      peerpath offering edit O0005 --graduates 14
      peerpath offering edit O0001 --graduates 3   # refused: still running
    """
    offering = tracker.edit_offering(offering_id, **{k: v for k, v in values.items() if v is not None})
    echo(f"{offering.id} updated: {offering.status}" + (f", ends {offering.ended}" if offering.ended else ""))


@offering_group.command(name="close")
@click.argument("offering_id")
@click.option("--on", "on", metavar="DATE", type=DATE, help="Its last day (default today).")
@click.option("--cancelled", is_flag=True, help="It was cancelled rather than completed.")
@click.option("--graduates", type=click.IntRange(0, 100_000),
              help="How many completed it (default: the number named).")
@click.option("--graduate", "graduate", multiple=True, metavar="PEER|NAME",
              help="A graduate who consents to contact: a peer id, or a name to add as a "
                   "prospect. Repeatable.")
@pass_tracker
def offering_close(tracker, offering_id, on, cancelled, graduates, graduate):
    """Mark offering OFFERING_ID completed (or --cancelled) on its last day; a completed class counts
    as a course its teachers taught.

    A completed offering's graduates are a recruitment source: --graduates gives how many, and
    each --graduate who consents to be contacted becomes a peer whose source is graduate, linked
    to the offering (a peer id links that peer; a name adds a prospect). `report funnel --source
    graduate` and `report graduates` follow them.

    Examples:

    \b
      peerpath offering close O0003 --graduates 9 --graduate "Rosa Mendez" \\
          --graduate "Luis Ortega"
      peerpath offering close O0002 --cancelled
      peerpath offering close O0001 --cancelled --graduates 4   # refused
    """
    offering = tracker.close_offering(offering_id, on=on, cancelled=cancelled, graduates=graduates,
                                      graduate=graduate)
    graduated = f", {offering.graduates} graduate(s)" if offering.graduates is not None else ""
    echo(f"{offering.id} is {offering.status} ({offering.ended}){graduated}")
    if graduate:  # a graduate is linked only to a completed offering: these are the ones just named
        for peer in (p for p in tracker.peers() if p.graduate_of == offering.id):
            echo(f"  {peer.id} {peer.name}: graduate of {offering.id}")


@offering_group.command(name="list")
@click.option("--program", help="Only this program.")
@listing_options
@pass_tracker
def offering_list(tracker, program, output):
    """List offerings of the enabled programs.

    Examples:

    \b
      peerpath offering list
      peerpath offering list --program connection --json
    """
    found = tracker.offerings(program)
    if output != "text":
        echo_records(output, [to_document(o) for o in found])
        return
    echo_table([[o.id, o.program, o.name, ", ".join(o.leaders), o.schedule, o.cadence, o.location, o.status,
                 o.ended] for o in found],
               ["id", "program", "name", "leaders", "schedule", "cadence", "location", "status", "ends"])


@cli.group(name="session")
def session_group():
    """Meetings of groups and classes.

    Examples:

    \b
      peerpath session add O0001 --on 2026-11-24 --attendance 7
    """


@session_group.command(name="add")
@click.argument("offering_id")
@click.option("--on", "on", metavar="DATE", type=DATE, required=True, help="Date of the meeting.")
@click.option("--leaders", metavar="ID,ID", help="Who led it (default: the offering's leaders).")
@click.option("--attendance", type=click.IntRange(min=0), help="Participants present.")
@pass_tracker
def session_add(tracker, offering_id, on, leaders, attendance):
    """Record a meeting of OFFERING_ID; it counts toward the leaders' pathways.

    Examples:

    \b
      peerpath session add O0001 --on 2026-11-24 --attendance 7
      peerpath session add O0002 --on 2026-11-26 --leaders P0025
    """
    session = tracker.add_session(offering_id, on, leaders=leaders, attendance=attendance)
    echo(session.id)


@cli.group(name="checklists")
def checklists_group():
    """Model-fidelity checklists of the enabled programs.

    Examples:

    \b
      peerpath checklists list
      peerpath checklists show connection_meeting
    """


@checklists_group.command(name="list")
@listing_options
@pass_tracker
def checklists_list(tracker, output):
    """List checklists.

    Examples:

    \b
      peerpath checklists list
      peerpath checklists list --csv
    """
    if output != "text":
        echo_records(output, [{"key": c.key, "program": c.program, "version": c.version, "items": len(c.items),
                               "title": c.title, "superseded_by": c.superseded_by}
                              for c in tracker.catalog.checklists.values()])
        return
    echo_table([[c.key, c.program, c.version, len(c.items), _checklist_title(c)]
                for c in tracker.catalog.checklists.values()],
               ["key", "program", "version", "items", "title"])


def _checklist_title(checklist) -> str:
    if checklist.superseded_by is None:
        return checklist.title
    return f"{checklist.title} (earlier version, superseded by {checklist.superseded_by})"


@checklists_group.command(name="show")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@pass_tracker
def checklists_show(tracker, key, as_json):
    """Show checklist KEY: its items, weights, critical items and bands.

    Examples:

    \b
      peerpath checklists show connection_meeting
      peerpath checklists show p2p_class --json
    """
    checklist = tracker.catalog.checklist(key)
    if as_json:
        echo_json(to_document(checklist))
        return
    echo(f"{_checklist_title(checklist)} ({checklist.key} v{checklist.version}, program {checklist.program})")
    for item in checklist.items:
        flags = [item.type.replace("_", "/"), f"weight {item.weight:g}"]
        flags += ["critical"] * item.critical + ["insufficient data allowed"] * item.allow_insufficient
        echo(f"  {item.key:<18} {item.text} [{', '.join(flags)}]")
    echo("bands: " + ", ".join(f"{b.name} >= {b.min_percent:g}%" for b in checklist.bands)
         + (f"; passes at '{checklist.pass_band}'" if checklist.pass_band else ""))


@cli.command()
@click.argument("offering_id")
@click.option("--checklist", "checklist_key",
              help="Checklist key (default: the program's current checklist; name an earlier version "
                   "only for a past observation).")
@click.option("--observer", required=True, help="Who observed.")
@click.option("--on", "on", metavar="DATE", type=DATE, help="Date observed (default today).")
@click.option("--leaders", metavar="ID,ID", help="Leaders observed (default: the offering's).")
@click.option("--answers", "answers_file", type=click.Path(dir_okay=False),
              help="JSON {item: answer} or CSV item,answer instead of being asked.")
@pass_tracker
def observe(tracker, offering_id, checklist_key, observer, on, leaders, answers_file):
    """Score a fidelity observation of OFFERING_ID, item by item.

    Without --answers each item of the checklist is asked in turn.

    Examples:

    \b
      peerpath observe O0001 --checklist connection_meeting \\
          --observer "Pat (state trainer)" --answers observation.csv
    """
    from .core.fidelity import read_answers

    if answers_file is None:
        offering = tracker.offering(offering_id)
        checklist_key = (tracker.catalog.current_checklist(offering.program) if checklist_key is None
                         else tracker.catalog.checklist(checklist_key)).key
        tracker.release()  # no lock is held while the observer answers
        show_held_output()
        answers = _ask(tracker.catalog.checklist(checklist_key))
        hold_output()
    else:
        answers = read_answers(answers_file)
    observation = tracker.observe(offering_id, checklist_key, observer, answers, on=on, leaders=leaders)
    echo(f"{observation.id}: {observation.score:g}/{observation.max_score:g} = "
         f"{observation.percent:g}% ({observation.band}); "
         + ("passed" if observation.passed else "not passed"))
    if observation.critical_failed:
        echo("critical items not met: " + ", ".join(observation.critical_failed))


def _ask(checklist) -> dict:
    from .core.fidelity import normalise_answers

    answers = {}
    for item in checklist.items:
        choices = "yes/no" if item.type == "yes_no" else "1-5"
        if item.allow_insufficient:
            choices += "/insufficient"
        anchors = "; ".join(f"{k}={v}" for k, v in item.anchors.items())
        prompt = f"{item.text}{' [critical]' if item.critical else ''}{f' ({anchors})' if anchors else ''} [{choices}]"
        while True:
            answer = click.prompt(prompt, err=True)
            try:
                normalise_answers(checklist, {**{i.key: _placeholder(i) for i in checklist.items},
                                              item.key: answer})
            except PeerpathError as error:
                echo(f"  {error}", err=True)
                continue
            answers[item.key] = answer
            break
    return answers


def _placeholder(item) -> str:
    return "yes" if item.type == "yes_no" else "3"


@cli.group(name="fidelity")
def fidelity_group():
    """Fidelity scores over time and who needs an observation.

    Examples:

    \b
      peerpath fidelity due
      peerpath fidelity report --program connection
    """


@fidelity_group.command(name="report")
@click.option("--program", help="Only this program.")
@click.option("--offering", "offering_id", help="Only this offering.")
@click.option("--leader", help="Only observations of this leader.")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@pass_tracker
def fidelity_report(tracker, program, offering_id, leader, as_json):
    """Scores per offering and leader, the items most often missed, and drift.

    Examples:

    \b
      peerpath fidelity report --program connection
      peerpath fidelity report --leader P0023 --json
    """
    report = tracker.fidelity_report(program=program, offering=offering_id, leader=leader)
    if as_json:
        echo_json(report)
        return
    echo(f"{report['observations']} observation(s)")
    for title, series in (("offering", report["offerings"]), ("leader", report["leaders"])):
        for key, points in series.items():
            trail = " -> ".join(f"{p['on']} {p['percent']:g}% {p['band']}" for p in points)
            echo(f"{title} {key}: {trail}")
    if report["most_missed"]:
        echo("most often missed: " + ", ".join(f"{m['item']} ({m['times']})" for m in report["most_missed"]))
    for drift in report["drift"]:
        echo(f"drift: {drift['offering']} fell {drift['drop']:g} points "
             f"({drift['from']:g}% -> {drift['to']:g}%, {drift['between'][0]} to {drift['between'][1]})")


@fidelity_group.command(name="due")
@click.option("--program", help="Only this program.")
@listing_options
@pass_tracker
def fidelity_due(tracker, program, output):
    """Leaders needing an observation as of today (new leaders first, then at intervals),
    each with why: the new-leader track, the interval since the last observation, or the
    program's fidelity settings (a last score below PROGRAM.fidelity.support_below_percent:
    re-observe within support_within_days; good_streak good ones in a row:
    good_interval_days). --json adds the rule and the last score.

    Examples:

    \b
      peerpath fidelity due
      peerpath fidelity due --program peer_to_peer --csv
      peerpath config set connection.fidelity.support_within_days 30
      peerpath --today 2026-12-20 fidelity due --program connection
    """
    due = tracker.fidelity_due(program=program)
    if output != "text":
        echo_records(output, due)
        return
    echo_table([[d["peer"], d["program"], d["due"], _lateness(d["overdue_days"]), d["reason"]] for d in due],
               ["peer", "program", "due", "when", "why"])


def _lateness(overdue_days: int) -> str:
    if overdue_days > 0:
        return f"{overdue_days} days overdue"
    return "today" if overdue_days == 0 else f"in {-overdue_days} days"


# --- recruitment and reports ---------------------------------------------------------------------


@cli.group(name="outreach")
def outreach_group():
    """Outreach events: hospital talks, partner visits, fairs.

    Examples:

    \b
      peerpath outreach add "hospital talk" --sector health --reached 12
      peerpath outreach list
    """


@outreach_group.command(name="add")
@click.argument("kind")
@click.option("--on", "on", metavar="DATE", type=DATE, help="Date (default today).")
@click.option("--sector", help=f"Partner sector: {', '.join(SECTORS)}.")
@click.option("--partner", help="Partner organization.")
@click.option("--community", help="Community reached.")
@click.option("--reached", type=click.IntRange(min=0), default=0, help="People reached.")
@click.option("--notes", help="Free text about the event.")
@pass_tracker
def outreach_add(tracker, kind, **values):
    """Record an outreach event of KIND (e.g. 'hospital talk') and print its id.

    Examples:

    \b
      peerpath outreach add "hospital talk" --sector health \\
          --partner "Loretto Hospital" --community Cicero --reached 12
    """
    echo(tracker.add_outreach(kind, **values).id)


@outreach_group.command(name="list")
@listing_options
@pass_tracker
def outreach_list(tracker, output):
    """List outreach events.

    Examples:

    \b
      peerpath outreach list
      peerpath outreach list --csv > outreach.csv
    """
    events = tracker.outreach_events()
    if output != "text":
        echo_records(output, [to_document(e) for e in events])
        return
    echo_table([[e.id, e.on, e.kind, e.sector, e.partner, e.community, e.reached] for e in events],
               ["id", "on", "kind", "sector", "partner", "community", "reached"])


@cli.group(name="communities")
def communities_group():
    """Communities served, and which the affiliate counts as underserved.

    Examples:

    \b
      peerpath communities list
      peerpath communities mark Joliet
    """


@communities_group.command(name="list")
@listing_options
@pass_tracker
def communities_list(tracker, output):
    """List communities with their peers; underserved ones are marked.

    Examples:

    \b
      peerpath communities list
      peerpath communities list --json
    """
    communities = tracker.communities()
    if output != "text":
        echo_records(output, [{"community": name, "peers": count, "underserved": flag}
                              for name, count, flag in communities])
        return
    echo_table([[name, count, "yes" if flag else ""] for name, count, flag in communities],
               ["community", "peers", "underserved"])


@communities_group.command(name="mark")
@click.argument("community")
@click.option("--underserved/--served", default=True, help="Mark or unmark as underserved.")
@pass_tracker
def communities_mark(tracker, community, underserved):
    """Mark COMMUNITY as underserved (or --served to unmark).

    Examples:

    \b
      peerpath communities mark Joliet
      peerpath communities mark Waukegan --served
    """
    tracker.mark_underserved(community, underserved)
    echo(f"{community}: {'underserved' if underserved else 'not marked underserved'}")


@cli.command()
@click.option("--days", type=DAYS, help="Untouched for this many days (setting recruitment.followup_days).")
@listing_options
@pass_tracker
def followups(tracker, days, output):
    """Prospects and applicants nobody has touched for a while.

    Examples:

    \b
      peerpath followups
      peerpath followups --days 60 --json
    """
    due = tracker.followups(days)
    if output != "text":
        echo_records(output, [{"peer": p.id, "name": p.name, "stage": p.stage, "last_touched": t.isoformat(),
                               "days": d} for p, t, d in due])
        return
    echo_table([[p.id, p.name, p.stage, t, d, p.source] for p, t, d in due],
               ["peer", "name", "stage", "last touched", "days", "source"])


@cli.group(invoke_without_command=True)
@click.option("--role", type=click.Choice(DIGEST_ROLES), default="coordinator", show_default=True,
              help="Whose digest: a coordinator sees everything, a trainer credentials, observations, "
                   "stalled trainees and trainings with seats left, a leader (with --for) only their "
                   "own items.")
@click.option("--for", "peer_id", metavar="PEER", help="Only the items about this peer (a leader's own digest).")
@click.option("--as-of", "as_of", metavar="DATE", type=DATE, help="The day the digest is for (default today).")
@click.option("--format", "form", type=click.Choice(["text", "json", "html"]), default="text", show_default=True,
              help="Plain text, JSON, or a small HTML page (for a mail or a browser).")
@click.option("--send", is_flag=True, help="E-mail each leader their own digest, and the coordinator's and "
              "trainer's to mail.coordinator_to / mail.trainer_to, over SMTP (the mail.* settings).")
@click.option("--dry-run", is_flag=True, help="With --send: print the messages instead of sending them.")
@click.pass_context
def digest(ctx, role, peer_id, as_of, form, send, dry_run):
    """What needs doing, grouped and most urgent first: credentials lapsing within the warning
    window (reports.expiring_days) and what each still lacks, observations due, trainees stalled
    on a step (digest.stalled_days), prospects with no contact (recruitment.followup_days),
    offerings short of leaders, trainings still to come with seats left, and what program
    plugins add.

    With --send, each person gets only the reminders not sent to them within mail.resend_days;
    `peerpath digest log` lists what was sent.

    Examples:

    \b
      peerpath digest
      peerpath digest --role trainer --as-of 2027-01-15
      peerpath digest --role leader --for P0023 --format json
      peerpath digest --role leader   # refused: a leader's digest needs --for
      peerpath digest --send --dry-run   # refused: no mail server is set
      peerpath digest log
    """
    if ctx.invoked_subcommand is not None:
        return
    tracker = ctx.find_object(tracker_class())
    if as_of is not None:
        tracker.today = as_of  # the digest is asked as of that day, like --today
    if send:
        _send_digests(tracker, dry_run)
        return
    items = tracker.digest(role, peer_id)
    if form == "json":
        echo_json({"role": role, "as_of": tracker.today.isoformat(), "items": [i.to_dict() for i in items]})
    elif form == "html":
        from .web.charts import digest_page  # only HTML output needs it

        _emit(digest_page(role, tracker.today, items))
    else:
        _echo_digest(role, tracker.today, items)


def _send_digests(tracker, dry_run) -> None:
    if dry_run:
        tracker.check_mail_settings()
        for message in tracker.plan_messages():
            email = message.email(tracker.core_setting("mail.sender"), tracker.today)
            echo(f"To: {email['To']}\nSubject: {email['Subject']}\n\n{email.get_content()}")
        return
    sending = tracker.send_digests()
    echo(f"{len(sending.sent)} of {sending.planned} digest(s) sent", err=True)
    if sending.failure:
        echo(f"Error: {one_line(sending.failure)}; {sending.planned - len(sending.sent)} left for the next run",
             err=True)
        sys.exit(1)


@digest.command(name="log")
@listing_options
@pass_tracker
def digest_log(tracker, output):
    """The digests sent: to whom (a peer id or a role), when, how many reminders, the message id.

    Examples:

    \b
      peerpath digest log
      peerpath digest log --json
    """
    rows = [{"id": d["id"], "recipient": d["recipient"], "role": d["role"], "on": d["on"],
             "reminders": len(d["items"]), "message_id": d["message_id"]} for d in tracker.sent_log()]
    if output != "text":
        echo_records(output, rows)
        return
    echo_table([list(row.values()) for row in rows], ["id", "to", "role", "on", "reminders", "message id"])


@cli.command()
@click.option("-o", "--output", "output_file", type=click.Path(dir_okay=False), metavar="FILE", required=True,
              help="Write to this new file (private to you, mode 0600).")
@click.option("--for", "peer_id", metavar="PEER", help="Only this peer's dates (their credentials, "
              "observations and the offerings they lead).")
@click.option("--force", is_flag=True, help="Replace the --output file if it exists.")
@pass_tracker
def calendar(tracker, output_file, peer_id, force):
    """Write the dates that matter as an iCalendar file (RFC 5545) that calendar programs import:
    credential expiry (the renewal deadline), observations due, offerings' first and last days
    and their sessions. Each event keeps its UID, so importing a newer file updates it.

    Examples:

    \b
      peerpath calendar --output affiliate.ics
      peerpath calendar --for P0023 --output p0023.ics
      peerpath calendar --output affiliate.ics   # refused: it exists
    """
    tracker.write_file(output_file, tracker.calendar(peer_id), "ics", force=force)
    echo(f"Wrote {output_file}", err=True)


def _echo_digest(role, day, items) -> None:
    echo(f"Digest for the {role}, as of {day}: {len(items) or 'nothing'} to do")
    for kind in dict.fromkeys(item.kind for item in items):
        echo(f"\n{digest_heading(kind)}")
        for item in (i for i in items if i.kind == kind):
            when = "today" if item.days_left == 0 else (f"in {item.days_left} days" if item.days_left > 0
                                                         else f"{-item.days_left} days late")
            echo(f"  {when:<14} {item.text}")


@cli.command()
@listing_options
@pass_tracker
def reports(tracker, output):
    """List the reports of core and the enabled plugins.

    Examples:

    \b
      peerpath reports
      peerpath reports --json
    """
    catalog = tracker.catalog
    if output != "text":
        echo_records(output, [{"report": r.name, "plugin": catalog.owners[("reports", r.name)],
                               "description": r.description} for r in catalog.reports.values()])
        return
    echo_table([[r.name, catalog.owners[("reports", r.name)], r.description] for r in catalog.reports.values()],
               ["report", "plugin", "what it shows"])


@cli.command()
@click.argument("name")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--from", "start", metavar="DATE", type=DATE, help="Start of the period.")
@click.option("--to", "end", metavar="DATE", type=DATE, help="End of the period (default today).")
@click.option("--days", type=DAYS, help="Horizon for 'expiring' (setting reports.expiring_days).")
@click.option("--merge", is_flag=True, help="rollup: merge the rollup JSON FILES of several affiliates.")
@click.option("--by", metavar="GROUPING", help="activity: group by peer (default), program, month or community.")
@click.option("--horizon", type=DAYS, help="capacity: days to look ahead (default 90).")
@click.option("--html", "html_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the report as a new printable HTML file with charts (mode 0600).")
@click.option("--force", is_flag=True, help="Replace the --html file if it exists.")
@click.option("--what-if", "what_if", multiple=True, metavar="KEY=VALUE",
              help="As if setting KEY were VALUE (repeatable); nothing is written.")
@peer_filter_options(period=False)
@listing_options
@pass_tracker
def report(tracker, name, files, start, end, days, merge, html_file, force, what_if, where, output, by,
           horizon):
    """Run report NAME (see `peerpath reports`): funnel, leaders, capacity, expiring, fidelity,
    reach, rollup, activity, retention, graduates, equity.

    The period counts the peers who entered the pipeline in it. funnel, leaders, expiring and
    reach take the peer options (they combine); reach also keeps only the outreach events of a
    --community or --sector given. The other reports refuse them.

    activity sums volunteer hours, talks, speakers and stipends of the period --by peer,
    program, month or community, and lists presenters short of the presentations their
    program expects in the year of --to. retention is, per program, (leaders active at the
    end - new) / active at the start (default: the last year). equity counts prospects,
    trainees and leaders by community and language as of --to against the settings
    equity.communities and equity.languages; under-served ones are marked.

    capacity lists the offerings short of leaders now, then forecasts the next --horizon
    days (default 90): each planned or running offering's leaders still active through
    it, when it falls short, and who can fill it (other leaders, trainees expected to
    certify at a planned training, leaders to reactivate), then where to recruit.
    graduates counts each program's graduates and how many became leaders, of what.

    rollup --merge combines the rollup JSON FILES of several affiliates. --json gives the
    figures and tables, --csv the rows of every table in one CSV: a "table" column with the
    table's title, then the columns of every table.

    --html FILE writes one self-contained, printable HTML file: a bar chart (inline SVG) of
    each table with its title, a description and the numbers as a table beside it; no script,
    nothing fetched. Like every file peerpath writes it must be new unless --force.

    --what-if KEY=VALUE (repeatable) computes the report as if `config set KEY VALUE` had
    been run, each enrolment judged again as it would be; nothing is written, and the title
    says what was assumed.

    Examples:

    \b
      peerpath report funnel --from 2026-01-01
      peerpath report funnel --html funnel.html
      peerpath report fidelity --html fidelity.html
      peerpath report capacity --html funnel.html   # refused: it exists
      peerpath report funnel --sector faith --community cicero
      peerpath report expiring --days 90 --csv
      peerpath report rollup --json > cook.json
      peerpath report rollup --merge cook.json kane.json
      peerpath report activity --by month --from 2026-01-01
      peerpath report activity --by program --html activity.html
      peerpath report retention --from 2025-12-01 --to 2026-12-01
      peerpath report equity --csv
      peerpath report funnel --by month   # refused: no --by
      peerpath report expiring --what-if crss.exam.pass_mark=99
      peerpath report expiring --what-if reports.expiring_days=500 \\
          --what-if crss.renewal.total=10 --json
      peerpath report presenter_use --what-if ioov.format.presentations_per_year=3
      peerpath report expiring --what-if crss.validity=1000   # refused
      peerpath report capacity --horizon 120
      peerpath report capacity --json
      peerpath report funnel --horizon 30   # refused: no --horizon
      peerpath report funnel --source graduate
      peerpath report graduates --csv
    """
    if files and not merge:
        raise click.UsageError("give --merge to combine rollup files")
    if merge and not files:
        raise click.UsageError("--merge needs the rollup JSON files to combine")
    options = {"start": start, "end": end, "days": days, "files": files, "where": where, "by": by,
               "horizon": horizon}
    result = tracker.report_what_if(what_if, name, **options) if what_if else tracker.report(name, **options)
    if what_if and output == "csv" and not html_file:
        echo(f"Note: {result.assumption()}", err=True)
    if html_file:
        from .web.charts import report_document  # only HTML output needs it

        tracker.write_file(html_file, report_document(result, title=result.full_title()), "html", force=force)
        echo(f"Wrote {html_file}", err=True)
    elif output == "json":  # the figures too, and what `--merge` reads
        echo_json(result.to_dict())
    elif output == "csv":
        echo_records(output, result.records())
    else:
        echo(result.title + (f" ({result.period[0] or 'start'} to {result.period[1]})"
                             if result.period[1] else ""))
        if result.what_if:
            echo(result.assumption())
        if where.given():
            echo(f"peers: {where.describe()}")
        for table in result.tables:
            echo(f"\n{table.title}")
            echo_table(table.rows, table.headers) if table.rows else echo("  (none)")


# --- web app users and serve ---------------------------------------------------------------------


@cli.group(name="user")
def user_group():
    """Who may sign in to the web app (`peerpath serve`), and with which role.

    Roles: coordinator (everything in the affiliate), trainer (steps and observations),
    viewer (read-only, no contact details), state (roll-ups only), admin (users too).
    Passwords are stored only as scrypt hashes.

    Examples:

    \b
      peerpath user add dana --role coordinator --password-file pw.txt
      peerpath user list
    """


def password_option(command):
    return click.option("--password-file", type=click.File("r"), metavar="FILE",
                        help="Read the password from the first line of FILE (- for standard "
                             "input) instead of asking for it.")(command)


@user_group.command(name="add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@click.option("--peer", "peer_id", metavar="PEER", help="A leader's own peer record (leaders only).")
@password_option
@pass_tracker
def user_add(tracker, name, role, peer_id, password_file):
    """Add user NAME with a role; the password is asked for twice unless given in a file. A
    leader signs in as their own peer record, to see their progress and log their hours.

    Examples:

    \b
      peerpath user add sam --role trainer --password-file pw.txt
      peerpath user add june --role leader --peer P0027 --password-file pw.txt
      peerpath user add trainer --role viewer --password-file pw.txt  # refused
    """
    user = tracker.add_user(name, role, _password_text(password_file), peer_id=peer_id)
    echo(f"Added user {user.name} ({user.role}{', ' + user.peer_id if user.peer_id else ''}).")


def _password_text(password_file) -> str:
    if password_file is None:
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    lines = password_file.read().splitlines()
    return lines[0] if lines else ""


@user_group.command(name="list")
@listing_options
@pass_tracker
def user_list(tracker, output):
    """The users and their roles (never their passwords).

    Examples:

    \b
      peerpath user list
      peerpath user list --json
    """
    rows = [{"name": user.name, "role": user.role, "peer": user.peer_id} for user in tracker.users()]
    if output != "text":
        echo_records(output, rows)
    elif rows:
        echo_table([[row["name"], row["role"], row["peer"]] for row in rows], ["name", "role", "peer"])
    else:
        echo("No users: add one with `peerpath user add NAME --role admin`.")


@user_group.command(name="password")
@click.argument("name")
@password_option
@pass_tracker
def user_password(tracker, name, password_file):
    """Give user NAME a new password.

    Examples:

    \b
      peerpath user password coordinator --password-file pw.txt
    """
    tracker.set_password(name, _password_text(password_file))
    echo(f"New password set for {name}.")


@user_group.command(name="remove")
@click.argument("name")
@pass_tracker
def user_remove(tracker, name):
    """Take user NAME's sign-in away; the audit trail keeps their name on past changes.

    Examples:

    \b
      peerpath user remove viewer
      peerpath user remove nobody   # refused
    """
    tracker.remove_user(name)
    echo(f"Removed user {name}.")


@user_group.command(name="feed")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Turn the feed off: its URL stops working.")
@pass_tracker
def user_feed(tracker, name, revoke):
    """A calendar feed URL path for user NAME (`/calendar/SECRET.ics` on the web app): a new
    secret each time, so the one before stops working.

    Examples:

    \b
      peerpath user feed trainer
      peerpath user feed trainer --revoke
      peerpath user feed viewer     # refused
    """
    if revoke:
        tracker.revoke_feed(name)
        echo(f"The calendar feed of {name} is off.")
    else:
        echo(f"/calendar/{tracker.new_feed(name)}.ics  (add it to the web app's address; shown once)")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback should sit behind a TLS proxy.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Requests served at once.")
@click.option("--behind-proxy", is_flag=True,
              help="Trust one reverse proxy's X-Forwarded-* headers; cookies only over HTTPS.")
@pass_tracker
def serve(tracker, host, port, threads, behind_proxy):
    """Serve the web app for coordinators and trainers on this database (waitress).

    Sign in as a user added with `peerpath user add`. Stop with Ctrl-C.

    Examples:

    \b
      peerpath serve                                  # until Ctrl-C
      peerpath serve --port 8080                       # until Ctrl-C
      peerpath serve --host 0.0.0.0 --behind-proxy     # until Ctrl-C
    """
    from .web.app import create_app, run_server  # only `serve` needs Flask and waitress

    today = click.get_current_context().find_root().params["today"]
    app = create_app(tracker, today=today, behind_proxy=behind_proxy)
    tracker.end_command()
    show_held_output()
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    echo(f"Serving {tracker.store.path} at {url} (Ctrl-C to stop)")
    if host not in ("127.0.0.1", "localhost", "::1") and not behind_proxy:
        echo("Warning: listening beyond this machine without --behind-proxy: put it behind a TLS "
             "reverse proxy (README.md, 'Running the web app').", err=True)
    run_server(app, host, port, threads)


# --- config -------------------------------------------------------------------------------------


@cli.group(name="config")
def config_group():
    """The affiliate's overrides of plugin defaults (pass marks, hours, windows...).

    Examples:

    \b
      peerpath config show
      peerpath config set crss.exam.pass_mark 70
    """


@config_group.command(name="show")
@listing_options
@pass_tracker
def config_show(tracker, output):
    """List every setting, its plugin default and the value in force.

    Examples:

    \b
      peerpath config show
      peerpath config show --csv
    """
    rows = tracker.settings()
    if output != "text":
        echo_records(output, [{"key": k, "default": d, "value": v} for k, d, v in rows])
        return
    echo_table([[k, _show(d), _show(v), "*" if d != v else ""] for k, d, v in rows],
               ["setting", "default", "in force", "changed"])


@config_group.command(name="set")
@click.argument("key")
@click.argument("value")
@click.option("--dry-run", is_flag=True, help="List whose status, expiry or observation due date would "
              "change; write nothing.")
@pass_tracker
def config_set(tracker, key, value, dry_run):
    """Override the plugin default KEY with VALUE for this database. Every enrolment whose
    rules it changes is judged again: with --dry-run, see who would gain or lose a
    certification, or whose observation would fall due on another day, first.

    Examples:

    \b
      peerpath config set crss.exam.pass_mark 99 --dry-run
      peerpath config set crss.exam.pass_mark 70
      peerpath config set crss.experience.window_days none
      peerpath config set crss.exam.pass_mark 70.5    # refused: a whole number
    """
    if not dry_run:
        echo(f"{key} = {_show(tracker.set_setting(key, value))}")
        return
    what_if = tracker.what_if(key, value)
    setting = f"{key} = {_show(what_if.value)}"
    if not what_if.changes:
        echo(f"Dry run: {setting} changes no status, expiry or observation due date; nothing was written.")
        return
    echo(f"Dry run: {setting} would change these {len(what_if.changes)}; nothing was written.")
    echo_table([[c.peer, c.name, c.program, c.role, c.what, _or_none(c.before), _or_none(c.after)]
                for c in what_if.changes], ["peer", "name", "program", "role", "what", "now", "after"])


def _or_none(value) -> str:
    return "none" if value is None else str(value)


@config_group.command(name="unset")
@click.argument("key")
@pass_tracker
def config_unset(tracker, key):
    """Go back to the plugin default for KEY.

    Examples:

    \b
      peerpath config set reports.expiring_days 60
      peerpath config unset reports.expiring_days
    """
    tracker.unset_setting(key)
    echo(f"{key} is back to its default")


def _guard(command, plugin: str) -> None:
    """Make a plugin command's unexpected exceptions one error line naming the plugin."""
    original = command.callback
    if original is not None:
        @functools.wraps(original)
        def guarded(*args, **kwargs):
            try:
                return original(*args, **kwargs)
            except (PeerpathError, click.ClickException, click.exceptions.Exit, click.Abort):
                raise
            except Exception as error:
                raise PluginError(plugin, f"command '{command.name}'", error) from error

        command.callback = guarded
    for sub in getattr(command, "commands", {}).values():
        _guard(sub, plugin)


# Plugins add their commands last, as in datasette; a plugin that fails here is reported as a
# warning and does not stop the CLI.
COMMAND_ERRORS: list = []
PLUGIN_COMMANDS = {}
for _plugin in sorted(get_host().names()):
    _before = set(cli.commands)
    get_host().call("register_commands", {_plugin}, errors=COMMAND_ERRORS, cli=cli)
    for _name in set(cli.commands) - _before:
        PLUGIN_COMMANDS[_name] = _plugin
        _guard(cli.commands[_name], _plugin)
