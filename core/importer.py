"""Reading the spreadsheets coordinators keep (saved as CSV) into peers: pure logic, no I/O but
reading the file.

A sheet is read in three steps, each a small function:

1. `read_sheet`: decode the bytes (UTF-8 with or without a BOM, UTF-16 with a BOM, else
   Windows-1252 / Latin-1), guess the delimiter from the header line (`,` `;` or tab), and keep
   each non-blank row with the line number it starts on.
2. `resolve_columns`: give each header a peer field through `HEADER_ALIASES` (matched ignoring
   case, spaces and punctuation, so "E-mail", "Phone #" and "Language(s)" all match) or an
   explicit `--map COLUMN=FIELD`; columns with no field are kept in the peer's notes.
3. `parse_rows`: turn each row into the fields `Tracker.add_peers` takes, normalising values to
   peerpath's vocabularies through the small `VALUE_ALIASES` table; a row that cannot be read
   becomes a `RowProblem` naming its line and the reason.

`find_duplicates` then flags rows that look like a peer already stored or an earlier row of the
same sheet: same email, same phone (digits only) or same name in the same community.
"""

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
from pathlib import Path
from typing import Optional

import attrs

from .dates import MONTH_FIRST, read_date
from .entities import LIVED_EXPERIENCE, SECTORS, SOURCES, STAGES, Peer
from .errors import PeerpathError, ValidationError

# The fields a column can fill. `first_name` and `last_name` are joined into `name` when the
# sheet has no full-name column; `date` is the day the peer entered their stage.
FIELDS = (
    "name", "first_name", "last_name", "email", "phone", "pronouns", "languages", "community",
    "county", "lived_experience", "source", "source_detail", "sector", "stage", "date", "notes",
)
IGNORE = "ignore"  # `--map COLUMN=ignore` drops a column instead of keeping it in the notes

# Header names as coordinators write them, per field. The field's own name always matches too.
HEADER_ALIASES = {
    "name": ("full name", "name", "participant name", "volunteer name", "peer name", "contact name"),
    "first_name": ("first", "first name", "given name"),
    "last_name": ("last", "last name", "surname", "family name"),
    "email": ("e-mail", "email address", "e-mail address"),
    "phone": ("phone #", "phone number", "telephone", "tel", "cell", "cell phone", "mobile"),
    "pronouns": ("pronoun",),
    "languages": ("language", "language(s)", "languages spoken"),
    "community": ("community/town", "town", "city", "neighborhood", "neighbourhood"),
    "county": (),
    "lived_experience": ("lived experience",),
    "source": ("how did you hear about us", "how did you hear", "referral source", "lead source"),
    "source_detail": ("referred by", "partner", "partner name", "partner organization"),
    "sector": ("partner sector",),
    "stage": ("status", "pipeline stage"),
    "date": ("date added", "added", "date entered", "stage date", "stage since", "since"),
    "notes": ("note", "comments", "comment"),
}

# Cell values, per field, that mean one of peerpath's words. A value equal to the word itself
# (any case) is always accepted; anything else is refused, never guessed.
VALUE_ALIASES = {
    "sector": {
        "health": ("healthcare", "health care", "hospital", "clinic", "medical"),
        "mental health": ("behavioral health", "behavioural health"),
        "education": ("school", "schools", "college", "university"),
        "criminal justice": ("courts", "court", "justice", "law enforcement", "police", "corrections"),
        "faith": ("faith based", "faith community", "church", "congregation"),
        "housing": ("shelter", "homeless services"),
    },
    "lived_experience": {
        "self": ("peer", "personal", "individual", "myself"),
        "family": ("family member", "caregiver", "parent"),
        "both": ("self and family", "self family", "family and self", "peer and family"),
    },
    "source": {
        "graduate": ("program graduate", "class graduate", "grad", "alumni"),
        "hospital talk": ("hospital", "hospital presentation"),
        "community partner": ("partner", "partner referral", "agency"),
        "peer referral": ("referral", "friend", "word of mouth"),
        "event": ("fair", "health fair", "community event", "walk", "namiwalks"),
        "web form": ("website", "web", "online", "online form"),
        "other": (),
    },
    "stage": {
        "prospect": ("interested", "new", "lead", "inquiry"),
        "contacted": ("called", "reached out"),
        "applied": ("application received", "applicant"),
        "screened": ("interviewed",),
        "accepted": ("approved",),
        "declined": (),
        "withdrawn": ("withdrew", "dropped out"),
    },
}
VOCABULARIES = {"sector": SECTORS, "lived_experience": LIVED_EXPERIENCE, "source": SOURCES,
                "stage": STAGES}

# Cells that mean "nothing here".
BLANKS = {"", "n/a", "na", "none", "-", "--", "?"}

# Dates are read by core.dates.read_date, numeric ones in the affiliate's `dates.order`.

_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_LANGUAGE_SPLIT = re.compile(r"[,;/&]|\band\b", re.IGNORECASE)
DELIMITERS = (",", ";", "\t")


def fold(text) -> str:
    """Text compared loosely: accents dropped, case folded."""
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


# --- results ------------------------------------------------------------------------------------


@attrs.frozen
class Column:
    """One column of the sheet and the field it fills (None: kept in the notes)."""

    index: int
    header: str
    field: Optional[str] = None


@attrs.frozen
class Sheet:
    path: str
    header: tuple
    rows: tuple  # (line number, cells) for each non-blank row


@attrs.frozen
class Row:
    """A readable row: `fields` is what `Tracker.add_peers` takes, with `on`, the day the peer
    entered their stage (today when the row has no date)."""

    line: int
    fields: dict


@attrs.frozen
class RowProblem:
    line: int
    reason: str


@attrs.frozen
class Duplicate:
    """A row that looks like an existing peer or an earlier row: `matches` says which and why."""

    line: int
    name: str
    matches: tuple

    def describe(self) -> str:
        return f"line {self.line}: {self.name}: " + "; ".join(self.matches)


@attrs.frozen
class ImportResult:
    """What an import did (or, on a dry run, would do)."""

    path: str
    columns: tuple
    rows: tuple                # every readable row
    duplicates: tuple          # rows flagged as likely duplicates
    skipped: tuple = ()        # lines left out by --skip-duplicates
    added: tuple = ()          # ids of the stored peers (empty on a dry run)
    dry_run: bool = False

    @property
    def to_add(self) -> tuple:
        return tuple(row for row in self.rows if row.line not in self.skipped)

    @property
    def kept_in_notes(self) -> tuple:
        return tuple(column.header for column in self.columns if column.field is None)


class BadRows(ValidationError):
    """Rows that cannot be read; nothing was imported. `problems` lists them by line."""

    def __init__(self, problems, total: int):
        self.problems = tuple(problems)
        super().__init__(
            f"{len(self.problems)} of {total} row(s) cannot be read; nothing was imported "
            "(fix them in the sheet, or map a column with --map COLUMN=FIELD)"
        )


# --- reading the file ---------------------------------------------------------------------------


def read_sheet(path) -> Sheet:
    """The header and the non-blank rows of a CSV file, each row with its line number."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValidationError(f"cannot read {path}: {error.strerror or error}") from None
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise ValidationError(f"{path} is an Excel workbook, not CSV: save the sheet as CSV first")
    text = decode(data)
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(first_line))
    header, rows, line = None, [], 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if header is None:
                header = tuple(cell.strip() for cell in cells)
            elif any(cell.strip() for cell in cells):
                rows.append((start, tuple(cells)))
    except csv.Error as error:
        raise ValidationError(f"{path} line {reader.line_num}: not readable as CSV: {error}") from None
    if not header or not any(header):
        raise ValidationError(f"{path} is empty: the first line must name the columns")
    if not rows:
        raise ValidationError(f"{path} has a header but no rows to import")
    return Sheet(path=str(path), header=header, rows=tuple(rows))


def decode(data: bytes) -> str:
    """Text from UTF-16 or UTF-8 (BOM or not), else Windows-1252, else Latin-1 (never fails)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def sniff_delimiter(header_line: str) -> str:
    """The most frequent of `,` `;` and tab in the header line (comma when none is there)."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


# --- columns ------------------------------------------------------------------------------------


def header_key(text: str) -> str:
    """A header as compared: lower case, letters and digits only ("Phone #" -> "phone")."""
    return "".join(ch for ch in fold(text) if ch.isalnum())


_HEADER_FIELDS = {header_key(alias): field
                  for field, aliases in HEADER_ALIASES.items() for alias in (field, *aliases)}


def parse_mapping(items) -> dict:
    """`COLUMN=FIELD` strings (from `--map`) as {COLUMN: FIELD}."""
    mapping = {}
    for item in items or ():
        column, equals, field = item.rpartition("=")
        if not equals or not column.strip() or not field.strip():
            raise ValidationError(f"--map '{item}': use COLUMN=FIELD, e.g. --map 'Cell=phone'")
        mapping[column.strip()] = field.strip()
    return mapping


def _mapped_field(column: str, field: str) -> str:
    name = field.strip().lower().replace("-", "_").replace(" ", "_")
    if name not in FIELDS and name != IGNORE:
        raise ValidationError(
            f"--map {column}={field}: unknown field '{field}': choose from {', '.join(FIELDS)} or {IGNORE}"
        )
    return name


def resolve_columns(header, mapping=None) -> tuple:
    """Each header's Column: `mapping` ({COLUMN: FIELD}) first, then the alias table."""
    explicit = {}
    for column, field in (mapping or {}).items():
        matches = [i for i, text in enumerate(header) if header_key(text) == header_key(column)]
        if not matches:
            raise ValidationError(
                f"--map {column}={field}: no column '{column}': the columns are "
                + ", ".join(f"'{text}'" for text in header if text)
            )
        for index in matches:
            explicit[index] = _mapped_field(column, field)
    columns = []
    for index, text in enumerate(header):
        label = text or f"Column {index + 1}"
        field = explicit.get(index, _HEADER_FIELDS.get(header_key(text)))
        if field != IGNORE:
            columns.append(Column(index=index, header=label, field=field))
    if not any(c.field in ("name", "first_name", "last_name") for c in columns):
        raise ValidationError(
            "no name column: expected 'Name', 'Full Name' or 'First' and 'Last'; "
            "name one with --map COLUMN=name"
        )
    return tuple(columns)


# --- rows ---------------------------------------------------------------------------------------


def parse_rows(sheet: Sheet, columns, today: dt.date, progress=None, date_order=MONTH_FIRST):
    """(readable Rows, RowProblems) for the rows of `sheet`; `progress` may wrap the row list;
    numeric dates are read in `date_order` (the affiliate's `dates.order`)."""
    rows, problems = [], []
    width = len(sheet.header)
    for line, cells in (progress or list)(list(sheet.rows)):
        try:
            if len(cells) > width and any(cell.strip() for cell in cells[width:]):
                raise ValidationError(
                    f"{len(cells)} cells but the header names {width} columns "
                    "(a value with an unquoted delimiter?)"
                )
            rows.append(Row(line=line, fields=parse_row(cells, columns, today, date_order)))
        except PeerpathError as error:
            problems.append(RowProblem(line=line, reason=str(error)))
    return rows, problems


def parse_row(cells, columns, today: dt.date, date_order=MONTH_FIRST) -> dict:
    """The peer fields of one row; a ValidationError says why the row cannot be read."""
    values, notes, extras = {}, [], []
    for column in columns:
        raw = cells[column.index].strip() if column.index < len(cells) else ""
        if raw.lower() in BLANKS:
            continue
        if column.field == "notes":
            notes.append(raw)
        elif column.field is None or column.field in values:
            extras.append(f"{column.header}: {raw}")  # an extra column, or a second phone...
        else:
            values[column.field] = raw
    fields = {"name": _name(values)}
    for field in ("email", "phone", "pronouns", "community", "county", "source_detail"):
        if field in values:
            fields[field] = _CLEANERS.get(field, _collapse)(values[field])
    if "languages" in values:
        fields["languages"] = _languages(values["languages"])
    for field in VOCABULARIES:
        if field in values:
            fields[field] = vocabulary_word(field, values[field])
    fields["on"] = _stage_date(values["date"], today, date_order) if "date" in values else today
    if notes or extras:
        fields["notes"] = "\n".join(notes + extras)
    _check(fields)
    return fields


def _name(values: dict) -> str:
    name = values.get("name") or " ".join(
        part for part in (values.get("first_name"), values.get("last_name")) if part
    )
    if not name:
        raise ValidationError("no name")
    return _collapse(name)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _email(text: str) -> str:
    if not _EMAIL.match(text):
        raise ValidationError(f"invalid email '{text}'")
    return text


def _phone(text: str) -> str:
    if len(phone_digits(text)) < 7:
        raise ValidationError(f"invalid phone '{text}': fewer than 7 digits")
    return _collapse(text)


_CLEANERS = {"email": _email, "phone": _phone}


def _languages(text: str) -> list:
    return [_collapse(part) for part in _LANGUAGE_SPLIT.split(text) if part.strip()]


def _stage_date(text: str, today: dt.date, date_order: str) -> dt.date:
    on = parse_sheet_date(text, date_order)
    if on > today:
        raise ValidationError(f"date '{text}' is after today ({today.isoformat()})")
    return on


def _check(fields: dict) -> None:
    """Let the Peer entity refuse what it would refuse when stored."""
    entity_fields = {k: v for k, v in fields.items() if k != "on"}
    Peer(id="P0000", **entity_fields)


def vocabulary_word(field: str, text: str) -> str:
    """The peerpath word a cell means (see VALUE_ALIASES), or a ValidationError."""
    word = _VALUE_WORDS[field].get(value_key(text))
    if word is None:
        label = field.replace("_", " ")
        raise ValidationError(
            f"unknown {label} '{text}': use one of {', '.join(VOCABULARIES[field])}"
        )
    return word


def value_key(text: str) -> str:
    """A cell as compared: lower case, punctuation as spaces ("Faith-based" -> "faith based")."""
    return " ".join(re.sub(r"[^\w]+", " ", fold(text)).split())


_VALUE_WORDS = {
    field: {value_key(alias): word
            for word in VOCABULARIES[field]
            for alias in (word, *VALUE_ALIASES[field].get(word, ()))}
    for field in VOCABULARIES
}


def parse_sheet_date(text: str, date_order: str = MONTH_FIRST) -> dt.date:
    """A date in any form `core.dates.read_date` reads (a time of day after it is ignored)."""
    return read_date(text, date_order).day


# --- duplicates ---------------------------------------------------------------------------------


def phone_digits(text) -> str:
    """The digits of a phone number, without a leading US country code 1."""
    digits = "".join(ch for ch in str(text or "") if ch.isdigit())
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def match_keys(name, email, phone, community) -> list:
    """(kind, key) pairs under which two records count as the same person."""
    keys = []
    if email:
        keys.append(("email", fold(email).strip()))
    if phone_digits(phone):
        keys.append(("phone", phone_digits(phone)))
    place = " ".join(fold(community).split())
    keys.append(("name and community" if place else "name (no community)",
                 (" ".join(fold(name).split()), place)))
    return keys


def find_duplicates(rows, existing) -> tuple:
    """Rows that share an email, a phone or a name and community with a stored peer or an
    earlier row. The first of a set is not flagged; each later one is, naming the first."""
    first = {}
    for peer in existing:
        for key in match_keys(peer.name, peer.email, peer.phone, peer.community):
            first.setdefault(key, f"{peer.id} ({peer.name})")
    flagged = []
    for row in rows:
        f = row.fields
        matches = []
        for key in match_keys(f["name"], f.get("email"), f.get("phone"), f.get("community")):
            if key in first:
                matches.append(f"same {key[0]} as {first[key]}")
            else:
                first[key] = f"line {row.line} ({f['name']})"
        if matches:
            flagged.append(Duplicate(line=row.line, name=f["name"], matches=tuple(matches)))
    return tuple(flagged)
