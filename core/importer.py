"""Reading the spreadsheets coordinators keep (saved as CSV) into peers: pure logic, no I/O but
reading the files.

A sheet is read in three steps, each a small function:

1. `read_sheet`: decode the bytes (UTF-8 with or without a BOM, UTF-16 with a BOM, else
   Windows-1252 / Latin-1), guess the delimiter from the header line (`,` `;` or tab), and keep
   each non-blank row with the line number it starts on.
2. `resolve_columns`: give each header a peer field through `HEADER_ALIASES` (matched ignoring
   case, spaces and punctuation, so "E-mail", "Phone #" and "Language(s)" all match) or an
   explicit `--map COLUMN=FIELD`; columns with no field are kept in the peer's notes.
3. `parse_rows`: turn each row into a `Row` of peer fields, normalising values to peerpath's
   vocabularies through the built-in `VALUE_ALIASES` table and the affiliate's value map; every
   problem of every row becomes a `RowProblem` naming its line, blocking (the row cannot be
   stored as written) or a warning (a value that matched nothing, kept as `other`).

`find_duplicates` then flags rows that look like a peer already stored or an earlier row of the
same sheet: same email, same phone (digits only) or the same name (its words folded, in any
order) in the same community; invisible characters, compatibility forms and common Cyrillic and
Greek look-alikes of Latin letters are ignored (`identity_text`). `sheet_text` writes a stored value as a cell that reads back to
exactly that value, for exports and for the old -> new lists of an import.
"""

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
from pathlib import Path
from typing import Any, Optional

import attrs

from .dates import MONTH_FIRST, read_date
from .entities import LIVED_EXPERIENCE, SECTORS, SOURCES, STAGES, Peer
from .errors import ValidationError
from .safe_output import csv_cell, csv_cell_read
from .values import fold

# The fields a column can fill. `first_name` and `last_name` are joined into `name` when the
# sheet has no full-name column; `date` is the day the peer entered their stage.
FIELDS = (
    "id", "name", "first_name", "last_name", "email", "phone", "pronouns", "languages", "community",
    "county", "lived_experience", "source", "source_detail", "sector", "consent", "stage", "date",
    "notes",
)
IGNORE = "ignore"  # `--map COLUMN=ignore` drops a column instead of keeping it in the notes
# Columns of peerpath's own export that are facts, not fields: dropped when a sheet has an id column.
EXPORT_ONLY = ("created",)
# A cell saying this empties the field of an existing peer (a blank cell leaves it as it is).
CLEAR = "(clear)"
# What a cleared field holds.
EMPTY: dict[str, Any] = {"languages": (), "consent": {}}

# Header names as coordinators write them, per field. The field's own name always matches too.
HEADER_ALIASES = {
    "id": ("peer id", "peerpath id"),
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
    "graduate_of": ("graduate of", "graduated from"),  # an offering's id (core.graduates)
    "consent": ("consents",),
    "stage": ("status", "pipeline stage"),
    "date": ("date added", "added", "date entered", "stage date", "stage since", "since"),
    "notes": ("note", "comments", "comment"),
}

# Cell values, per field, that mean one of peerpath's words (the built-in synonyms). A value equal
# to the word itself (any case) always matches; an affiliate's value map comes before this table;
# anything else matches nothing and is kept as `other` (see `RowReader`), never guessed.
VALUE_ALIASES = {
    "sector": {
        "health": ("healthcare", "health care", "hospital", "clinic", "medical"),
        "mental health": ("behavioral health", "behavioural health"),
        "education": ("school", "schools", "college", "university"),
        "criminal justice": ("courts", "court", "justice", "law enforcement", "police", "corrections"),
        "faith": ("faith based", "faith community", "church", "congregation", "church partner",
                  "faith partner", "mosque", "masjid", "synagogue", "temple"),
        "housing": ("shelter", "homeless services"),
    },
    "lived_experience": {
        "self": ("peer", "personal", "individual", "myself"),
        "family": ("family member", "caregiver", "parent"),
        "both": ("self and family", "self family", "family and self", "peer and family"),
    },
    "source": {
        "graduate": ("program graduate", "class graduate", "grad", "alumni", "nami class graduate",
                     "nami graduate", "peer to peer graduate", "family to family graduate",
                     "connection graduate", "basics graduate", "homefront graduate"),
        "hospital talk": ("hospital", "hospital presentation"),
        "community partner": ("partner", "partner referral", "agency", "church partner",
                              "faith partner"),
        "peer referral": ("referral", "friend", "word of mouth"),
        "event": ("fair", "health fair", "community event", "walk", "namiwalks"),
        "web form": ("website", "web", "online", "online form"),
    },
    "stage": {
        "prospect": ("interested", "new", "lead", "inquiry"),
        "contacted": ("called", "reached out"),
        "applied": ("application received", "applicant"),
        "screened": ("interviewed",),
        "accepted": ("approved",),
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
_CONSENT_SPLIT = re.compile(r"[;,]")
DELIMITERS = (",", ";", "\t")


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
    """A row as read: `fields` holds the peer fields of its non-blank cells (a `(clear)` cell
    gives the field's empty value; `on` is the stage date, when the row has one); `extras` are
    the "Column: value" lines it adds to the notes; `peer_id` is its id cell (it updates that
    peer), None for a new peer."""

    line: int
    fields: dict
    extras: tuple = ()
    peer_id: Optional[str] = None

    @property
    def name(self) -> Optional[str]:
        return self.fields.get("name")

    def new_peer_fields(self) -> dict:
        """What `Tracker.add_peers` takes for this row: the notes cell, then the extra lines."""
        fields = dict(self.fields)
        notes = "\n".join(part for part in (fields.pop("notes", None), *self.extras) if part)
        return {**fields, "notes": notes} if notes else fields


@attrs.frozen
class RowProblem:
    """A problem of one row: `warning` ones are reported and the row is stored anyway."""

    line: int
    reason: str
    warning: bool = False

    def describe(self) -> str:
        return f"line {self.line}: " + ("warning: " if self.warning else "") + self.reason


@attrs.frozen
class Unmatched:
    """A cell of a vocabulary field that matched nothing (kept as `other`)."""

    field: str
    text: str


@attrs.frozen
class Duplicate:
    """A row that looks like an existing peer or an earlier row: `matches` says which and why."""

    line: int
    name: str
    matches: tuple

    def describe(self) -> str:
        return f"line {self.line}: {self.name}: " + "; ".join(self.matches)


@attrs.frozen
class Update:
    """What a row with a known id changes: `changes` is {field: (old, new)} of the fields that
    differ; `stage` is (old, new, date) when the stage changes."""

    line: int
    peer_id: str
    name: str
    changes: dict
    stage: Optional[tuple] = None

    def describe(self) -> list:
        """One line per changed field, old -> new, as cells of a sheet."""
        lines = [f"{field}: {sheet_text(field, old) or '(blank)'} -> {sheet_text(field, new) or '(blank)'}"
                 for field, (old, new) in self.changes.items()]
        if self.stage:
            old, new, on = self.stage
            lines.append(f"stage: {old} -> {new} (on {on.isoformat()})")
        return lines


@attrs.frozen
class ImportResult:
    """What an import did (or, on a dry run, would do)."""

    path: str
    columns: tuple
    rows: tuple                # every row of the sheet that adds a peer
    duplicates: tuple          # rows flagged as likely duplicates
    updates: tuple = ()        # an Update for each row with a known id that changes something
    unchanged: int = 0         # rows with a known id that change nothing
    warnings: tuple = ()       # RowProblems that do not block the import
    unmatched: tuple = ()      # the distinct Unmatched values, for --write-value-map
    skipped: tuple = ()        # lines left out by --skip-duplicates
    added: tuple = ()          # ids of the stored peers (empty on a dry run)
    dry_run: bool = False

    @property
    def to_add(self) -> tuple:
        return tuple(row for row in self.rows if row.line not in self.skipped)

    @property
    def has_ids(self) -> bool:
        return any(column.field == "id" for column in self.columns)

    @property
    def kept_in_notes(self) -> tuple:
        return tuple(column.header for column in self.columns if column.field is None)


class BadRows(ValidationError):
    """Rows that cannot be stored as written; nothing was imported. `problems` lists every
    problem of every row by line, warnings included; `result` is the import as far as it was read."""

    def __init__(self, problems, total: int, result: ImportResult):
        self.problems = tuple(problems)
        self.result = result
        blocked = len({problem.line for problem in self.problems if not problem.warning})
        super().__init__(
            f"{blocked} of {total} row(s) cannot be stored; nothing was imported "
            "(fix them in the sheet, or map a column with --map COLUMN=FIELD)"
        )


# --- reading the file ---------------------------------------------------------------------------


def read_sheet(path, data: Optional[bytes] = None) -> Sheet:
    """The header and the non-blank rows of a CSV file, each row with its line number; `data`,
    when given, is the file's bytes (an upload named `path`), read instead of the file."""
    path = Path(path)
    try:
        data = path.read_bytes() if data is None else data
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
                rows.append((start, tuple(map(csv_cell_read, cells))))
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
    fields = [explicit.get(index, _HEADER_FIELDS.get(header_key(text))) for index, text in enumerate(header)]
    if any(header_key(text) == "id" for text in header):  # peerpath's export: its facts are not fields
        fields = [IGNORE if index not in explicit and header_key(text) in EXPORT_ONLY else field
                  for index, (text, field) in enumerate(zip(header, fields))]
    columns = [Column(index=index, header=text or f"Column {index + 1}", field=field)
               for index, (text, field) in enumerate(zip(header, fields)) if field != IGNORE]
    if not any(c.field in ("name", "first_name", "last_name") for c in columns):
        raise ValidationError(
            "no name column: expected 'Name', 'Full Name' or 'First' and 'Last'; "
            "name one with --map COLUMN=name"
        )
    return tuple(columns)


# --- rows ---------------------------------------------------------------------------------------

# Fields an import may not empty with a (clear) cell.
UNCLEARABLE = ("id", "name", "first_name", "last_name", "stage", "date")


def parse_rows(sheet: Sheet, columns, today: dt.date, value_map=None, stored=None, progress=None,
               date_order=MONTH_FIRST):
    """(Rows, RowProblems, Unmatched values) of `sheet`: a Row for each row with a name, every
    problem of every row, and each distinct value that matched nothing.

    `value_map` is the affiliate's {field: {value_key: word}}; `stored(peer_id)` gives the
    stored peer's cells ({field: text}) or None for an unknown id; `progress` may wrap the rows;
    numeric dates are read in `date_order` (the affiliate's `dates.order`).
    """
    rows: list = []
    problems: list = []
    unmatched: dict = {}
    seen_ids: dict = {}
    width = len(sheet.header)
    for line, cells in (progress or list)(list(sheet.rows)):
        reasons = []
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            reasons.append((f"{len(cells)} cells but the header names {width} columns "
                            "(a value with an unquoted delimiter?)", False))
        peer_id = _peer_id(cells, columns)
        texts = None
        if peer_id is not None:
            texts = (stored or (lambda _: None))(peer_id)
            if texts is None:
                reasons.append((f"unknown peer id '{peer_id}' (to add the row as a new peer, empty its "
                                "id cell; --map 'COLUMN=ignore' ignores a column of ids)", False))
            elif peer_id in seen_ids:
                reasons.append((f"peer {peer_id} is also on line {seen_ids[peer_id]}", False))
            seen_ids.setdefault(peer_id, line)
        reader = RowReader(today, value_map or {}, texts or {}, date_order)
        row = reader.read(line, cells, columns, peer_id)
        if row.name:
            rows.append(row)
        problems.extend(RowProblem(line, reason, warning) for reason, warning in reasons + reader.problems)
        unmatched.update(dict.fromkeys(reader.unmatched))
    return rows, problems, tuple(unmatched)


def _peer_id(cells, columns) -> Optional[str]:
    for column in columns:
        if column.field == "id" and column.index < len(cells):
            text = cells[column.index].strip().upper()
            if text.lower() not in BLANKS:
                return text
    return None


class RowReader:
    """Reads one row, collecting every problem in it as (reason, warning) pairs.

    `stored` is {field: text} of the peer the row updates: a cell whose text is the stored text
    is unchanged and is not read again (the stored value stands, even one the import would
    read differently).
    """

    def __init__(self, today: dt.date, value_map: dict, stored: dict, date_order=MONTH_FIRST):
        self.today, self.value_map, self.stored, self.date_order = today, value_map, stored, date_order
        self.fields: dict = {}
        self.extras: list = []
        self.problems: list = []
        self.unmatched: list = []

    def read(self, line, cells, columns, peer_id) -> Row:
        values, headers, notes = self._gather(cells, columns)
        if self.stored and not {"name", "first_name", "last_name"} & set(values):
            values["name"] = self.stored["name"]  # a blank name leaves it as it is, like any cell
        self._attempt("name", lambda: _name(values))
        for field, raw in values.items():
            if field not in ("name", "first_name", "last_name") and self.stored.get(field) != raw:
                self._attempt(field, lambda: self._value(field, raw, headers[field]))
        if notes:
            kept = [note for note in notes if note.casefold() != CLEAR]
            self.fields["notes"] = "\n".join(kept) or None
        self._keep_unmatched_source()
        if peer_id is None:
            self.fields.setdefault("on", self.today)
        if peer_id is None and not self.blocked:
            try:
                _check(self.fields)
            except ValidationError as error:
                self.problems.append((str(error), False))
        return Row(line=line, fields=self.fields, extras=tuple(self.extras), peer_id=peer_id)

    def _gather(self, cells, columns):
        """({field: text}, {field: header}, notes cells) of the non-blank cells; the cells of
        columns with no field (or a second column of a field) become extra note lines."""
        values, headers, notes = {}, {}, []
        for column in columns:
            raw = cells[column.index].strip() if column.index < len(cells) else ""
            if raw.lower() in BLANKS or column.field == "id":
                continue
            if column.field == "notes":
                notes.append(raw)
            elif column.field is None or column.field in values:
                self.extras.append(f"{column.header}: {raw}")  # an extra column, or a second phone...
            else:
                values[column.field], headers[column.field] = raw, column.header
        return values, headers, notes

    @property
    def blocked(self) -> bool:
        return any(not warning for _, warning in self.problems)

    def _attempt(self, field, read) -> None:
        try:
            value = read()
        except ValidationError as error:
            self.problems.append((str(error), False))
            return
        if value is not _SKIP:
            self.fields["on" if field == "date" else field] = value

    def _value(self, field, raw, header):
        if raw.casefold() == CLEAR:
            if field in UNCLEARABLE:
                raise ValidationError(f"{field.replace('_', ' ')} cannot be cleared")
            return EMPTY.get(field)
        if field == "date":
            return _stage_date(raw, self.today, self.date_order)
        if field not in VOCABULARIES:
            return read_cell(field, raw)
        word = match_word(field, raw, self.value_map)
        return word if word is not None else self._unmatched(field, raw, header)

    def _unmatched(self, field, raw, header):
        """A value that matched nothing: `other`, its text kept (a stage is left as it is)."""
        self.unmatched.append(Unmatched(field=field, text=raw))
        hint = f"map it with --map-value '{field}:{raw}=VALUE'"
        if field == "source":
            self.problems.append((f"unknown source '{raw}': kept as other, the text in source_detail; {hint}", True))
            return "other"
        self.extras.append(f"{header}: {raw}")
        if field == "stage":
            self.problems.append((f"unknown stage '{raw}': stage left as it is (a new peer starts as "
                                  f"prospect), the text kept in the notes; {hint}", True))
            return _SKIP
        self.problems.append((f"unknown {field.replace('_', ' ')} '{raw}': kept as other, the text in "
                              f"the notes; {hint}", True))
        return "other"

    def _keep_unmatched_source(self) -> None:
        """An unmatched source's text goes first in source_detail: "church picnic: St. Mark's"."""
        texts = [miss.text for miss in self.unmatched if miss.field == "source"]
        if texts:
            detail = self.fields.get("source_detail") or self.stored.get("source_detail")
            self.fields["source_detail"] = f"{texts[0]}: {detail}" if detail else texts[0]


_SKIP = object()  # a cell read as nothing (an unknown stage)


def read_cell(field: str, raw: str):
    """The value of a non-blank cell of `field` (not the stage date); a ValidationError if unreadable."""
    if field in VOCABULARIES:
        return match_word(field, raw)
    if field == "notes":
        return raw.strip()
    return _CLEANERS.get(field, _collapse)(raw)


def _name(values: dict) -> str:
    parts = [values.get(field) for field in ("name", "first_name", "last_name")]
    if any(part and part.casefold() == CLEAR for part in parts):
        raise ValidationError("name cannot be cleared")
    name = values.get("name") or " ".join(part for part in parts[1:] if part)
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


def _languages(text: str) -> tuple:
    return tuple(_collapse(part) for part in _LANGUAGE_SPLIT.split(text) if part.strip())


def _consent(text: str) -> dict:
    """ "contact=yes; photos=no" as {"contact": True, "photos": False}."""
    consent = {}
    for item in _CONSENT_SPLIT.split(text):
        flag, equals, answer = item.partition("=")
        if not item.strip():
            continue
        if not equals or not flag.strip() or answer.strip().lower() not in ("yes", "no"):
            raise ValidationError(f"consent '{text}': use FLAG=yes or FLAG=no, e.g. 'contact=yes; photos=no'")
        consent[flag.strip()] = answer.strip().lower() == "yes"
    return consent


_CLEANERS = {"email": _email, "phone": _phone, "languages": _languages, "consent": _consent}


def _stage_date(text: str, today: dt.date, date_order: str) -> dt.date:
    on = parse_sheet_date(text, date_order)
    if on > today:
        raise ValidationError(f"date '{text}' is after today ({today.isoformat()})")
    return on


def _check(fields: dict) -> None:
    """Let the Peer entity refuse what it would refuse when stored."""
    entity_fields = {k: v for k, v in fields.items() if k != "on"}
    Peer(id="P0000", **entity_fields)


def sheet_text(field: str, value) -> str:
    """A stored value as a cell that reads back to it: languages joined with ", ", consents as
    "flag=yes; flag=no", dates as YYYY-MM-DD, nothing as a blank cell."""
    if value is None:
        return ""
    if field == "languages":
        return ", ".join(value)
    if field == "consent":
        return "; ".join(f"{flag}={'yes' if given else 'no'}" for flag, given in sorted(value.items()))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def stored_as_read(field: str, value):
    """A stored value as the import reads its cell, to compare with a cell that was re-typed
    (a date LibreOffice saved as 3/4/26 is the same date); the stored value if it reads as nothing."""
    text = sheet_text(field, value)
    if text.strip().lower() in BLANKS:
        return EMPTY.get(field) if value in (None, (), {}) else value
    try:
        return read_cell(field, text)
    except ValidationError:
        return value


# --- value matching -----------------------------------------------------------------------------


def value_key(text: str) -> str:
    """A cell as compared: lower case, punctuation as spaces ("Faith-based" -> "faith based")."""
    return " ".join(re.sub(r"[^\w]+", " ", fold(text)).split())


_WORDS = {field: {value_key(word): word for word in words} for field, words in VOCABULARIES.items()}
_SYNONYMS = {
    field: {value_key(alias): word for word, aliases in VALUE_ALIASES[field].items() for alias in aliases}
    for field in VOCABULARIES
}


def match_word(field: str, text: str, value_map=None) -> Optional[str]:
    """The peerpath word a cell means: the word itself, else the affiliate's value map
    ({field: {value_key: word}}), else the built-in synonyms; None if nothing matches."""
    key = value_key(text)
    return (_WORDS[field].get(key) or (value_map or {}).get(field, {}).get(key)
            or _SYNONYMS[field].get(key))


def add_value_mapping(value_map: dict, field: str, text: str, value: str, where: str) -> None:
    """Add "TEXT in FIELD means VALUE" to `value_map`, or a ValidationError naming `where`."""
    name = field.strip().lower().replace("-", "_").replace(" ", "_")
    if name not in VOCABULARIES:
        raise ValidationError(f"{where}: unknown field '{field.strip()}': values are mapped for "
                              + ", ".join(VOCABULARIES))
    if not value_key(text):
        raise ValidationError(f"{where}: no text to map")
    word = _WORDS[name].get(value_key(value))
    if word is None:
        raise ValidationError(f"{where}: '{value.strip()}' is not a {name.replace('_', ' ')}: choose from "
                              + ", ".join(VOCABULARIES[name]))
    value_map.setdefault(name, {})[value_key(text)] = word


def parse_value_map(items) -> dict:
    """`FIELD:TEXT=VALUE` strings (from `--map-value`) as {field: {value_key(TEXT): VALUE}}."""
    value_map: dict = {}
    for item in items or ():
        field, colon, rest = item.partition(":")
        text, equals, value = rest.rpartition("=")
        if not colon or not equals:
            raise ValidationError(f"--map-value '{item}': use FIELD:TEXT=VALUE, "
                                  "e.g. --map-value 'sector:church partner=faith'")
        add_value_mapping(value_map, field, text.strip().strip('"'), value, f"--map-value '{item}'")
    return value_map


VALUE_MAP_COLUMNS = ("field", "text", "value", "choices")


def value_map_csv(unmatched) -> str:
    """The unmatched values as a value-map file to fill in: one row per value, `value` blank."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(VALUE_MAP_COLUMNS)
    for miss in unmatched:
        writer.writerow([csv_cell(cell) for cell in (miss.field, miss.text, "", ", ".join(VOCABULARIES[miss.field]))])
    return out.getvalue()


def read_value_map(path) -> dict:
    """The {field: {value_key: word}} of a value-map file (see `value_map_csv`); rows whose value
    is blank are left out."""
    try:
        text = decode(Path(path).read_bytes())
    except OSError as error:
        raise ValidationError(f"cannot read {path}: {error.strerror or error}") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text.split("\n", 1)[0]))
    value_map: dict = {}
    try:
        if [header_key(cell) for cell in next(reader, [])][:3] != list(VALUE_MAP_COLUMNS[:3]):
            raise ValidationError(f"{path}: the first line must be field,text,value "
                                  "(as --write-value-map writes it)")
        for cells in ([csv_cell_read(cell) for cell in row] for row in reader):
            if len(cells) >= 3 and cells[2].strip():
                add_value_mapping(value_map, cells[0], cells[1], cells[2], f"{path} line {reader.line_num}")
    except csv.Error as error:
        raise ValidationError(f"{path} line {reader.line_num}: not readable as CSV: {error}") from None
    return value_map


def merge_value_maps(*maps) -> dict:
    """One value map from several, the later ones winning."""
    merged: dict = {}
    for value_map in maps:
        for field, words in (value_map or {}).items():
            merged.setdefault(field, {}).update(words)
    return merged


def parse_sheet_date(text: str, date_order: str = MONTH_FIRST) -> dt.date:
    """A date in any form `core.dates.read_date` reads (a time of day after it is ignored)."""
    return read_date(text, date_order).day


# --- duplicates ---------------------------------------------------------------------------------


def phone_digits(text) -> str:
    """The digits of a phone number, without a leading US country code 1."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", str(text or "")) if ch.isdigit())
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


# Cyrillic and Greek letters that look like Latin ones, so that "Маria" typed with a Cyrillic
# М is the same name as "Maria". A small table of the common look-alikes, not Unicode's full
# confusables list: enough for a duplicate warning, with no dependency.
CONFUSABLES = str.maketrans({
    # Cyrillic
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ԛ": "Q", "Ԝ": "W", "Ү": "Y",
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "ѕ": "s", "і": "i",
    "ј": "j", "ԁ": "d", "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w", "ү": "y",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "ο": "o", "ν": "v", "ι": "i", "κ": "k",
    "ρ": "p", "υ": "u", "χ": "x", "α": "a",
})
# Characters that show nothing: dropped before comparing.
INVISIBLE = str.maketrans(dict.fromkeys(map(ord, "\u00ad\u034f\u061c\u180e\u200b\u200c\u200d\u200e\u200f"
                                               "\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff")))


def identity_text(text) -> str:
    """Text as compared when looking for the same person: invisible characters dropped,
    compatibility forms unified (NFKC: full-width letters, ligatures), common Cyrillic and
    Greek look-alikes read as the Latin letters, then folded (accents, case)."""
    text = unicodedata.normalize("NFKC", str(text or "").translate(INVISIBLE))
    return fold(text.translate(CONFUSABLES))


def name_key(name) -> str:
    """A name as compared: its words folded (case, accents, punctuation, look-alike letters)
    and sorted, so that "Lopez, Maria", "maria  LÓPEZ" and "Maria Lopez" are the same."""
    return " ".join(sorted(set(re.findall(r"\w+", identity_text(name)))))


def match_keys(name, email, phone, community) -> list:
    """(kind, key) pairs under which two records count as the same person."""
    keys: list[tuple[str, Any]] = []
    if email:
        keys.append(("email", identity_text(email).strip()))
    if phone_digits(phone):
        keys.append(("phone", phone_digits(phone)))
    place = " ".join(identity_text(community).split())
    keys.append(("name and community" if place else "name (no community)", (name_key(name), place)))
    return keys


IDENTITY = ("name", "email", "phone", "community")


def find_duplicates(rows, existing) -> tuple:
    """Rows that share an email, a phone or a name and community with a stored peer or an
    earlier row. The first of a set is not flagged; each later one is, naming the first.

    A row with the id of a stored peer stands for that peer as the row changes it, and is
    flagged only for what the row changes: re-importing an export repeats no warning."""
    stored = {peer.id: peer for peer in existing}
    updated = {row.peer_id for row in rows if row.peer_id in stored}
    first: dict = {}
    for peer in existing:
        if peer.id not in updated:
            for key in match_keys(*(getattr(peer, field) for field in IDENTITY)):
                first.setdefault(key, f"{peer.id} ({peer.name})")
    flagged = []
    for row in rows:
        peer = stored.get(row.peer_id)
        had = set(match_keys(*(getattr(peer, field) for field in IDENTITY))) if peer else set()
        identity = [row.fields.get(field, getattr(peer, field, None)) for field in IDENTITY]
        matches = []
        for key in match_keys(*identity):
            if key in first and key not in had:
                matches.append(f"same {key[0]} as {first[key]}")
            else:
                first.setdefault(key, f"line {row.line} ({row.name})")
        if matches:
            flagged.append(Duplicate(line=row.line, name=row.name, matches=tuple(matches)))
    return tuple(flagged)
