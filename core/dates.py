"""Reading the dates people type and write in sheets: the one parser used by `peer import` and by
every date option of the command line. Dates are stored as ISO `YYYY-MM-DD` whatever form they
were read from.

Accepted: `2026-03-04`, `2026/03/04`, `3/4/2026`, `03/04/26`, `3-4-2026`, `4 Mar 2026`,
`04-Mar-2026`, `March 4, 2026`, `Mar. 4, 2026`, with or without a time of day after them.
In the numeric forms with the year last, which number is the month is the affiliate's setting
`dates.order`: `month-first` (US, the default: 3/4/2026 is March 4) or `day-first` (4 March).
Such a date is ambiguous when both numbers could be the month and differ; `read_date` then says
how it read it, so the person can check.
"""

import datetime as dt
import re
from typing import Optional

import attrs

from .errors import ValidationError
from .session import Service

MONTH_FIRST, DAY_FIRST = "month-first", "day-first"
DATE_ORDERS = (MONTH_FIRST, DAY_FIRST)
ORDER_SETTING = "dates.order"

# Forms whose reading does not depend on the order (commas and dots are dropped first).
NAMED_FORMATS = (
    "%Y-%m-%d", "%Y/%m/%d",
    "%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y", "%d-%b-%Y", "%d-%b-%y",
)
# 3/4/2026, 03/04/26, 3-4-2026: two numbers then the year, one separator throughout.
_NUMERIC = re.compile(r"^(\d{1,2})([/-])(\d{1,2})\2(\d{4}|\d{2})$")
UNREADABLE_HINT = "use e.g. 2026-03-04, 3/4/2026 or 4 Mar 2026"
_TIME_SUFFIX = re.compile(r"[ T]\d{1,2}:\d{2}(:\d{2})?( ?[ap]m)?$", re.IGNORECASE)


@attrs.frozen
class DateReading:
    """A date read from text, and `note`: how an ambiguous form was read (None otherwise)."""

    day: dt.date
    note: Optional[str] = None


def check_order(order: str) -> str:
    if order not in DATE_ORDERS:
        raise ValidationError(f"unknown date order '{order}': choose from {', '.join(DATE_ORDERS)}")
    return order


def read_date(text, order: str = MONTH_FIRST) -> DateReading:
    """The date `text` names, reading numeric forms in `order` (see the module docstring)."""
    check_order(order)
    cleaned = _TIME_SUFFIX.sub("", " ".join(str(text).replace(",", " ").replace(".", " ").split()))
    numeric = _NUMERIC.match(cleaned)
    if numeric:
        return _read_numeric(str(text).strip(), numeric, order)
    for form in NAMED_FORMATS:
        try:
            return DateReading(dt.datetime.strptime(cleaned, form).date())
        except ValueError:
            continue
    raise ValidationError(f"unreadable date '{text}': {UNREADABLE_HINT}")


def _read_numeric(text: str, match, order: str) -> DateReading:
    first, second = int(match.group(1)), int(match.group(3))
    month, day = (first, second) if order == MONTH_FIRST else (second, first)
    year = _full_year(match.group(4))
    if not 1 <= month <= 12 and _is_date(year, day, month):  # a date in the other order: say so
        raise ValidationError(
            f"unreadable date '{text}': {month} is not a month; dates are read {_order_words(order)} "
            f"(`peerpath config set {ORDER_SETTING} {_other(order)}` to change)"
        )
    try:
        day_read = dt.date(year, month, day)
    except ValueError:
        raise ValidationError(f"unreadable date '{text}': {UNREADABLE_HINT}") from None
    note = None
    if first != second and first <= 12 and second <= 12:
        note = (f"read {text} as {day_read.isoformat()} ({_order_words(order)}; "
                f"`peerpath config set {ORDER_SETTING} {_other(order)}` to change)")
    return DateReading(day_read, note)


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def _full_year(digits: str) -> int:
    """A year as written; two digits as `strptime`'s %y reads them (69-99: 1900s, else 2000s)."""
    if len(digits) == 4:
        return int(digits)
    return dt.datetime.strptime(digits, "%y").year


def _order_words(order: str) -> str:
    return "month first" if order == MONTH_FIRST else "day first"


def _other(order: str) -> str:
    return DAY_FIRST if order == MONTH_FIRST else MONTH_FIRST


def is_iso(text) -> bool:
    """Whether `text` is a plain ISO date, which reads the same under every order."""
    try:
        dt.date.fromisoformat(str(text).strip())
    except ValueError:
        return False
    return True


class Dates(Service):
    """Dates as this affiliate writes them (a Tracker service)."""

    def date_order(self) -> str:
        return self.tracker.core_setting(ORDER_SETTING)

    def read_date(self, value) -> Optional[dt.date]:
        """`value` (a date, or text in any form `read_date` accepts) as a date, read in the
        affiliate's `dates.order`; how an ambiguous form was read is added to `date_notes`."""
        if value is None or isinstance(value, dt.date):
            return value.date() if isinstance(value, dt.datetime) else value
        if is_iso(value):  # the common case needs no setting, hence no read of the database
            return dt.date.fromisoformat(str(value).strip())
        reading = read_date(value, self.date_order())
        if reading.note and reading.note not in self.tracker.date_notes:
            self.tracker.date_notes.append(reading.note)
        return reading.day
