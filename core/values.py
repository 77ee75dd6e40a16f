"""The values peerpath's records hold: the vocabularies (stages, sectors, sources...) and the
converters and validators every entity shares. Kept apart from the entities, whose attrs
classes cost their generated methods at import, so that what needs only these (the CLI's
options, the program model plugins declare) does not pay for every record class.
"""

import datetime as dt
import math
import unicodedata
from typing import Any, Iterable, Optional

from .errors import ValidationError
from .safe_output import terminal_text, unsafe_characters

# "other": a value that fits none of the others (an import keeps the original text in the notes).
LIVED_EXPERIENCE = ("self", "family", "both", "other")
SECTORS = ("health", "mental health", "education", "criminal justice", "faith", "housing", "other")
SOURCES = (
    "graduate",
    "hospital talk",
    "community partner",
    "peer referral",
    "event",
    "web form",
    "other",
)
STAGES = ("prospect", "contacted", "applied", "screened", "accepted", "declined", "withdrawn")
LEADER_STATUSES = ("in training", "certified", "on hold", "inactive", "lapsed")
OFFERING_STATUSES = ("planned", "running", "completed", "cancelled")
ENDED_STATUSES = ("completed", "cancelled")
# How often an offering meets: the words programs use (NAMI Connection: weekly, every other week
# or monthly; Peer-to-Peer: weekly sessions; In Our Own Voice: talks when booked). No figure.
CADENCES = ("weekly", "biweekly", "monthly", "on request")

# What a volunteer's logged time was spent on (core.activity) and what a user may be (core.users).
ACTIVITY_KINDS = ("talk", "session", "outreach", "admin", "other")
ACTIVITY_GROUPINGS = ("peer", "program", "month", "community")  # `report activity --by`
USER_ROLES = ("coordinator", "trainer", "viewer", "state", "admin", "leader")


# --- converters and validators shared by every entity -------------------------------------


def parse_date(value) -> dt.date:
    """A date from a `date`, a `datetime` or an ISO `YYYY-MM-DD` string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(f"invalid date '{value}': use YYYY-MM-DD") from None


def shift_date(day: dt.date, days: int) -> dt.date:
    """`day` moved by `days` (either way), held within the calendar's range rather than overflowing."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return dt.date.max if days > 0 else dt.date.min


def id_order(record_id: str):
    """Sort key putting ids in the order they were issued (`R9999` before `R10000`)."""
    tail = record_id[1:]
    if tail.isdigit() and not record_id[:1].isdigit():  # the usual P0042: sorted by the thousand
        digits = tail
    else:
        digits = "".join(ch for ch in record_id if ch.isdigit())
    return (len(digits), digits, record_id)


def record_order(record):
    """Records in date order; records of one day in the order they were stored."""
    return (record.on, id_order(record.id))


def optional_date(value) -> Optional[dt.date]:
    return None if value in (None, "") else parse_date(value)


def parse_timestamp(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"invalid timestamp '{value}'") from None


def clean_text(value) -> Optional[str]:
    """Strip text; blank becomes None."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def text_tuple(value) -> tuple:
    """A tuple of non-blank strings from a list or a comma-separated string."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(item for item in (clean_text(v) for v in value) if item)


def one_of(choices, what):
    def check(instance, attribute, value):
        if value is not None and value not in choices:
            raise ValidationError(f"unknown {what} '{value}': choose from {', '.join(choices)}")

    return check


def not_blank(what):
    def check(instance, attribute, value):
        if not value:
            raise ValidationError(f"{what} must not be empty")

    return check


# Text limits, in characters: a name, a place or a contact detail is one line of at most
# LINE_LIMIT; free text (notes) may hold lines and tabs, up to TEXT_LIMIT. Checked when a value
# is written, never when stored data is read, so older data with longer or odd text still loads.
LINE_LIMIT = 200
TEXT_LIMIT = 10_000


def check_text(what: str, value, limit: int = LINE_LIMIT, multiline: bool = False) -> None:
    """Refuse text longer than `limit`, or holding a control, zero-width or bidi character (a
    newline or tab only if `multiline`), with one clear ValidationError."""
    if value is None:
        return
    if len(value) > limit:
        raise ValidationError(f"{what} is {len(value):,} characters long: at most {limit:,}")
    found = unsafe_characters(value.replace("\t", "") if multiline else value, allow_newlines=multiline)
    if found:
        shown = "".join(dict.fromkeys(terminal_text(char, keep_newlines=False) for char in found))
        raise ValidationError(f"{what} must not hold control, zero-width or bidi characters (found {shown})")


def line_text(what, limit=LINE_LIMIT):
    def check(instance, attribute, value):
        check_text(what, value, limit)

    return check


def free_text(what, limit=TEXT_LIMIT):
    def check(instance, attribute, value):
        check_text(what, value, limit, multiline=True)

    return check


def each_line_text(what):
    def check(instance, attribute, value):
        for item in value:
            check_text(what, item)

    return check


# Far beyond any real count or number of hours; keeps stored numbers exact in every JSON reader.
LARGEST_AMOUNT = 10 ** 9


def non_negative(instance, attribute, value):
    if value is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"{attribute.name} must be a finite number, not {value}")
    if value < 0:
        raise ValidationError(f"{attribute.name} must not be negative")
    if value > LARGEST_AMOUNT:
        raise ValidationError(f"{attribute.name} must be at most {LARGEST_AMOUNT:,}")


def frozen_dict(value) -> dict:
    return dict(value or {})


def as_tuple(items: Iterable[Any]) -> tuple:
    """Any iterable as a tuple: the converter of tuple fields (attrs' `converter=tuple` would tell
    mypy that a field of `tuple[Any, ...]` takes only iterables of one unknown type; and attrs
    reads every converter's signature, which for the builtin means parsing its text signature,
    ~1.3 ms of every start-up)."""
    return tuple(items)


def fold(text) -> str:
    """Text compared loosely: accents dropped, case folded."""
    decomposed = unicodedata.normalize("NFKD", str(text or ""))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
