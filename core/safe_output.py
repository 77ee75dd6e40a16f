"""What peerpath writes for people and their programs to read, made safe to read.

Three rules, each in one place:

- `write_output_file`: every file a command writes (`peer export --output`, `peer import
  --write-value-map`) is new unless `force`, never one of the database's own files, never
  reached through a symbolic link, private (mode 0600) and written atomically: a temporary
  file in the same folder, flushed, then linked (or, with `force`, renamed) into place, so a
  crash never leaves half a file and an existing file is never truncated.
- `csv_cell` / `csv_cell_read`: CSV formula injection (OWASP). A text cell that begins with
  `=`, `+`, `-`, `@`, a tab or a carriage return is written with a leading `'`, so a
  spreadsheet shows it as text instead of running it; a text cell that begins with `'` gets one
  more, so the rule is exactly reversible. `peer import` takes one `'` off a cell that begins
  with `'` followed by one of those characters, and leaves every other cell alone: a round trip
  is lossless. Numbers (int and float values, such as a negative count of days) are written as
  they are: a number is not a formula, and machines read the column as numbers.
- `terminal_text`: text for a terminal. Control characters (C0, DEL, C1: ESC, BEL, CR, BS...),
  bidirectional overrides and invisible characters are shown as visible escapes (`\\x1b`,
  `\\u202e`), never sent raw; a table cell shows a newline or tab as `\\n` / `\\t` too, so a value
  cannot forge a row. JSON output needs none of this (json escapes controls itself).
"""

import io
import json
import os
import re
from pathlib import Path

from .errors import ValidationError
from .storage import is_url

# --- files --------------------------------------------------------------------------------------


def database_files(store_path) -> tuple:
    """The paths a database at `store_path` owns: its manifest, lock and folder (none for a
    PostgreSQL database, whose files are the server's)."""
    if is_url(str(store_path)):
        return ()
    manifest = Path(os.path.realpath(store_path))
    return (manifest, manifest.with_name(manifest.name + ".lock"), manifest.with_name(manifest.name + ".d"))


def write_output_file(path, data: bytes, force: bool = False, protected=()) -> None:
    """Write `data` to the new file `path` (mode 0600), atomically; see the module docstring.

    `protected` are paths (files or folders) never written onto, nor into; a refusal is a
    ValidationError naming the file."""
    path = Path(path)
    if path.is_symlink():
        raise ValidationError(f"{path} is a symbolic link: give the path of a file (a link is never followed)")
    target = Path(os.path.realpath(path.parent)) / path.name
    for owned in map(Path, protected):
        if target == owned or owned in target.parents:
            raise ValidationError(f"{path} is a file of the database: choose another file name")
    if target.is_dir():
        raise ValidationError(f"{path} is a folder: give a file name")
    if target.exists() and not force:
        raise ValidationError(f"{path} already exists: give --force to replace it")
    try:
        _write_atomically(target, data, replace=force)
    except FileExistsError:
        raise ValidationError(f"{path} already exists: give --force to replace it") from None
    except OSError as error:
        raise ValidationError(f"cannot write {path}: {error.strerror or error}") from None


def _write_atomically(target: Path, data: bytes, replace: bool) -> None:
    import tempfile  # imported by the commands that write a file, not by every start-up

    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(temporary, target)  # a link or file there is replaced, never followed
        else:
            _link_new(temporary, target)
    finally:
        if os.path.lexists(temporary):  # linked, or left by a failure
            os.unlink(temporary)


def _link_new(temporary: str, target: Path) -> None:
    """Put `temporary` in place as `target`, which must not exist: a hard link fails if anything
    appeared there meanwhile; where the file system has no hard links, a rename after a check."""
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(target):
            raise FileExistsError(target) from None
        os.replace(temporary, target)


# --- CSV cells ----------------------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NEUTRALISER = "'"


def csv_cell(value) -> str:
    """A cell's text for a CSV file: text that a spreadsheet would run as a formula (or text
    that begins with the neutralising `'`) gets a leading `'`; numbers are left as they are."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return NEUTRALISER + text if text.startswith(FORMULA_STARTS + (NEUTRALISER,)) else text


def records_csv(records: list) -> str:
    """Records (dicts) as CSV text: one column per key, each cell as `csv_cell` writes it, a
    list or dict value as compact JSON, true/false for booleans."""
    import csv  # imported by the commands that write CSV, not by every start-up

    headers = list(dict.fromkeys(key for record in records for key in record))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows([_record_cell(record.get(key)) for key in headers] for record in records)
    return out.getvalue()


def _record_cell(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        return csv_cell(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    return csv_cell(value)


def csv_cell_read(text: str) -> str:
    """The text `csv_cell` was given: one leading `'` off a neutralised cell, others unchanged."""
    if text.startswith(NEUTRALISER) and text[1:2] and text[1:].startswith(FORMULA_STARTS + (NEUTRALISER,)):
        return text[1:]
    return text


# --- terminal text ------------------------------------------------------------------------------

# Characters that reorder or hide text without showing themselves: bidirectional controls,
# zero-width characters and the Unicode line and paragraph separators.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u180e")
INVISIBLE = BIDI_CONTROLS | ZERO_WIDTH | frozenset("\u2028\u2029")


def _escape(match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_CONTROLS = "\x00-\x09\x0b-\x1f\x7f-\x9f"  # C0 but the newline, DEL, C1
_UNSAFE = re.compile(f"[{_CONTROLS}{''.join(sorted(INVISIBLE))}]")
_UNSAFE_IN_CELL = re.compile(f"[\n{_CONTROLS}{''.join(sorted(INVISIBLE))}]")


def unsafe_characters(text: str, allow_newlines: bool = False) -> list:
    """The control, bidi and invisible characters in `text` (the newline too unless `allow_newlines`)."""
    return (_UNSAFE if allow_newlines else _UNSAFE_IN_CELL).findall(text)


_UNSAFE_IN_JSON = re.compile(f"[\x7f-\x9f{''.join(sorted(INVISIBLE))}]")


def json_text(text: str) -> str:
    """JSON text (whose C0 controls json already escapes) with DEL, C1, bidi and invisible
    characters as \\u escapes too: the same JSON, safe on a terminal. Such characters can only
    stand inside JSON strings, where the escape means the same character."""
    return _UNSAFE_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def terminal_text(text, keep_newlines: bool = True) -> str:
    """`text` with every control, bidi and invisible character shown as an escape; newlines
    are kept unless `keep_newlines` is false (a table cell)."""
    text = str(text)
    if text.isascii() and text.isprintable():  # the common case; a listing has 100,000 cells
        return text
    return (_UNSAFE if keep_newlines else _UNSAFE_IN_CELL).sub(_escape, text)
