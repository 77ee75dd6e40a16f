"""What a report returns, how it is rendered, and small-count suppression for shared figures."""

import attrs

from .errors import ValidationError
from .values import as_tuple

# How far the capacity forecast (core.forecast) looks by default: a season ahead (no program
# publishes one).
DEFAULT_HORIZON = 90


@attrs.frozen
class Table:
    title: str
    headers: tuple = attrs.field(converter=as_tuple)
    rows: tuple = attrs.field(converter=lambda rows: tuple(tuple(r) for r in rows))


@attrs.frozen
class ReportResult:
    """A report's figures (JSON-ready) and the tables that show them."""

    name: str
    title: str
    tables: tuple = attrs.field(converter=as_tuple)
    figures: dict = attrs.field(factory=dict)
    period: tuple = (None, None)
    # {setting: value} the report was computed as if set (`report NAME --what-if`); nothing stored.
    what_if: dict = attrs.field(factory=dict)

    def to_dict(self) -> dict:
        start, end = self.period
        document = {
            "report": self.name, "title": self.title,
            "from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
            "figures": self.figures,
            "tables": [{"title": t.title, "headers": list(t.headers), "rows": [list(r) for r in t.rows]}
                       for t in self.tables],
        }
        return {**document, "what_if": self.what_if} if self.what_if else document

    def assumption(self) -> str:
        """What the report assumed ("what if KEY = VALUE, ...: nothing was written"), or ""."""
        if not self.what_if:
            return ""
        shown = ", ".join(f"{key} = {'none' if value is None else value}" for key, value in self.what_if.items())
        return f"what if {shown}: nothing was written"

    def full_title(self) -> str:
        """The title, with what the report assumed (a what-if) after it."""
        return f"{self.title} ({self.assumption()})" if self.what_if else self.title

    def records(self) -> list:
        """Every row of every table as {"table": title, header: value...}: one listing (the CSV
        of `peerpath report NAME --csv`) whose columns are every table's headers."""
        return [{"table": table.title, **dict(zip(table.headers, row))}
                for table in self.tables for row in table.rows]


def median(values):
    import statistics  # with fractions and decimal behind it: only reports that compute a median pay

    return round(float(statistics.median(values)), 1) if values else None


def percent(part, whole):
    return round(100.0 * part / whole, 1) if whole else None


# --- suppression: counts below a threshold are not shared exactly --------------------------------


def suppress(value: int, threshold: int):
    """`value`, or "<threshold" for 1..threshold-1 so small groups cannot be identified."""
    return f"<{threshold}" if 0 < value < threshold else value


def suppress_all(figures, threshold: int):
    if isinstance(figures, dict):
        return {key: suppress_all(value, threshold) for key, value in figures.items()}
    if isinstance(figures, bool) or not isinstance(figures, int):
        return figures
    return suppress(figures, threshold)


def _bounds(value, threshold: int):
    """(lowest, highest) a shared cell can stand for: exact, "<5", or a merged "12-19"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    text = str(value)
    if text.startswith("<"):
        return 1, int(text[1:]) - 1
    low, _, high = text.partition("-")
    try:
        return int(low), int(high)
    except ValueError:
        raise ValidationError(f"not a rollup figure: '{value}'") from None


def merge_cells(values, threshold: int):
    """The sum of several affiliates' cells; a range where some were suppressed."""
    low = high = 0
    for value in values:
        lo, hi = _bounds(value, threshold)
        low, high = low + lo, high + hi
    if low == high:
        return suppress(low, threshold)
    if high < threshold:
        return f"<{threshold}"
    return f"{low}-{high}"


def merge_figures(documents: list, threshold: int):
    """Merge nested {key: cell} figures of several rollups key by key."""
    if all(isinstance(d, dict) for d in documents):
        keys = sorted({key for d in documents for key in d})
        return {key: merge_figures([d[key] for d in documents if key in d], threshold) for key in keys}
    return merge_cells(documents, threshold)
