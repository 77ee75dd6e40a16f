"""Text tables that fit a given width, measured in terminal columns (display width).

Pure functions: the caller decides the width (the CLI uses the terminal's, or 80). A wide
(East Asian Wide or Fullwidth) character takes two columns, a combining or other zero-width
character none, so columns stay aligned with names such as 陳美玲 or Jose\u0301.
"""

import unicodedata
from typing import Optional

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


def fit_widths(widths: list, limit: int, floors=None) -> list:
    """Column widths whose total (with gaps) is at most `limit`: the widest column is narrowed,
    one column at a time, never below its floor (default MIN_WIDTH); if even that does not fit,
    the narrowed widths are returned anyway, since a column is never dropped."""
    floors = [min(width, floor) for width, floor in zip(widths, floors or [MIN_WIDTH] * len(widths))]
    widths = list(widths)
    overflow = sum(widths) + len(GAP) * (len(widths) - 1) - limit
    while overflow > 0:
        narrowable = [i for i, width in enumerate(widths) if width > floors[i]]
        if not narrowable:
            break
        widest = max(narrowable, key=lambda i: widths[i])
        next_widest = max([widths[i] for i in narrowable if i != widest], default=0)
        cut = min(overflow, widths[widest] - floors[widest], max(widths[widest] - next_widest, 1))
        widths[widest] -= cut
        overflow -= cut
    return widths


def wrap(text: str, width: int) -> list:
    """`text` as lines of at most `width` columns, broken at spaces (a longer word is split)."""
    if text.isascii() and len(text) <= width and " ".join(text.split()) == text:
        return [text]  # what the loop below makes of it: one cell per row of a listing
    lines: list = []
    used = 0
    for piece in (piece for word in text.split() for piece in _pieces(word, width)):
        needed = display_width(piece)
        if lines and used + 1 + needed <= width:
            lines[-1] += " " + piece
            used += 1 + needed
        else:
            lines.append(piece)
            used = needed
    return lines or [""]


def _pieces(word: str, width: int) -> list:
    """`word` in pieces of at most `width` columns (a wide character is never split)."""
    if word.isascii():
        return [word[start:start + width] for start in range(0, len(word), width)] if width else [word]
    pieces, current, used = [], "", 0
    for char in word:
        needed = char_width(char)
        if current and used + needed > width:
            pieces.append(current)
            current, used = "", 0
        current, used = current + char, used + needed
    return pieces + [current]


def format_table(rows, headers, limit: int) -> list:
    """The lines of `rows` under `headers`, columns aligned and the whole at most `limit` wide.
    The cells of a narrowed column end in "…", except in the last column, which is wrapped onto
    lines of its own, so that free text (a reason, an error) is kept whole; trailing spaces are
    left off."""
    cells = [list(headers)] + [["" if value is None else str(value) for value in row] for row in rows]
    columns = list(zip(*cells))
    natural = [max(map(len if _ascii(column) else display_width, column)) for column in columns]
    widths = fit_widths(natural, limit, _floors(natural, columns, limit))
    fitted = [_fitted_column(column, width) for column, width in zip(columns[:-1], widths)]
    if natural[-1] <= widths[-1]:
        return [GAP.join(row).rstrip() for row in zip(*fitted, columns[-1])]
    indent = " " * (sum(widths[:-1]) + len(GAP) * (len(widths) - 1))
    lines = []
    for row, last in zip(zip(*fitted), columns[-1]):
        first, *more = wrap(last, widths[-1])
        lines.append(GAP.join((*row, first)).rstrip())
        lines.extend(indent + line for line in more)
    return lines


def _floors(natural: list, columns, limit: int) -> Optional[list]:
    """How narrow each column may get, if the table does not fit as it is.

    A column of short single words (ids, dates, counts, a status) is kept whole while the rest can
    make room, since "2026-0…" answers nothing; the last column (wrapped, not cut) keeps room for
    its longest word; any other column may shrink to MIN_WIDTH. If even that does not fit, every
    column but the last may shrink to MIN_WIDTH.
    """
    if sum(natural) + len(GAP) * (len(natural) - 1) <= limit:
        return None
    longest_word = max((display_width(word) for cell in columns[-1] for word in cell.split()), default=0)
    last = [max(MIN_WIDTH, longest_word)]
    kept = [width if _short_words(column[1:]) else MIN_WIDTH for width, column in zip(natural, columns[:-1])]
    if sum(kept) + last[0] + len(GAP) * (len(natural) - 1) <= limit:
        return kept + last
    return [MIN_WIDTH] * (len(natural) - 1) + last


SHORT_WORD = 10  # columns: an ISO date, a peer id, a count


def _short_words(cells) -> bool:
    if _ascii(cells):
        return max(map(len, cells), default=0) <= SHORT_WORD and " " not in "".join(cells)
    return all(display_width(cell) <= SHORT_WORD and " " not in cell for cell in cells)


def _ascii(cells) -> bool:
    """Whether every cell is ASCII, where a cell's width is its length: the common case, asked of
    the column at once (a state's listing has 100,000 cells)."""
    return "".join(cells).isascii()


def _fitted_column(column, width: int) -> list:
    """Every cell of `column` cut or padded to exactly `width` columns."""
    if _ascii(column):  # the common case, with str's own (fast) methods
        return [(cell if len(cell) <= width else cell[:width - 1] + ELLIPSIS).ljust(width) for cell in column]
    cut = [truncate(cell, width) for cell in column]
    return [cell + " " * (width - display_width(cell)) for cell in cut]
