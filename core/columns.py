"""Text tables that fit a given width, measured in terminal columns (display width).

Pure functions: the caller decides the width (the CLI uses the terminal's, or 80). A wide
(East Asian Wide or Fullwidth) character takes two columns, a combining or other zero-width
character none, so columns stay aligned with names such as 陳美玲 or Jose\u0301.
"""

import unicodedata

ELLIPSIS = "…"
GAP = "  "  # between columns
MIN_WIDTH = 3  # a shrunk column keeps at least this many columns, e.g. "ab…"


def char_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    if text.isascii():  # the common case, and a state's listing has 100,000 cells
        return len(text)
    return sum(char_width(char) for char in text)


def truncate(text: str, width: int) -> str:
    """`text` cut to at most `width` columns, ending in "…" when anything was cut."""
    if display_width(text) <= width:
        return text
    if text.isascii():
        return text[:width - 1] + ELLIPSIS
    kept, used = [], 0
    for char in text:
        needed = char_width(char)
        if used + needed > width - 1:  # the combining marks of a character cut go with it
            break
        kept.append(char)
        used += needed
    return "".join(kept) + ELLIPSIS


def fit_widths(widths: list, limit: int) -> list:
    """Column widths whose total (with gaps) is at most `limit`: the widest column is narrowed,
    one column at a time, never below MIN_WIDTH; if even that does not fit, the narrowed widths
    are returned anyway, since a column is never dropped."""
    widths = list(widths)
    overflow = sum(widths) + len(GAP) * (len(widths) - 1) - limit
    while overflow > 0:
        widest = max(range(len(widths)), key=lambda i: widths[i])
        if widths[widest] <= MIN_WIDTH:
            break
        second = max([w for i, w in enumerate(widths) if i != widest] + [MIN_WIDTH])
        cut = min(overflow, widths[widest] - max(second, MIN_WIDTH) or 1)
        widths[widest] -= cut
        overflow -= cut
    return widths


def format_table(rows, headers, limit: int) -> list:
    """The lines of `rows` under `headers`, columns aligned and the whole at most `limit` wide
    (cells of narrowed columns end in "…"); trailing spaces are left off."""
    cells = [list(headers)] + [["" if value is None else str(value) for value in row] for row in rows]
    columns = list(zip(*cells))
    widths = fit_widths([max(map(display_width, column)) for column in columns], limit)
    fitted = [_fitted_column(column, width) for column, width in zip(columns, widths)]
    return [GAP.join(row).rstrip() for row in zip(*fitted)]


def _fitted_column(column, width: int) -> list:
    """Every cell of `column` cut or padded to exactly `width` columns."""
    if all(cell.isascii() for cell in column):  # the common case, with str's own (fast) methods
        return [(cell if len(cell) <= width else cell[:width - 1] + ELLIPSIS).ljust(width) for cell in column]
    cut = [truncate(cell, width) for cell in column]
    return [cell + " " * (width - display_width(cell)) for cell in cut]
