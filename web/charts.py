"""Reports as pictures: inline SVG bar charts beside the table of their numbers, and a whole
printable HTML document (`peerpath report NAME --html FILE`). Presentation only: the numbers
are a core ReportResult's tables, drawn as they are. Nothing here fetches anything or needs
JavaScript, and every text is escaped."""

import html
from numbers import Number

import attrs

from ..core import digest_heading


@attrs.frozen
class ChartSpec:
    """Which table of a report to draw: its label column, the columns drawn as bars, and what
    the chart shows (its description)."""

    table: str
    label: str
    series: tuple
    description: str


# The charts of the reports that have pictures; any other report's tables are drawn by
# `default_specs` (first column as labels, its numeric columns as bars).
CHARTS = {
    "funnel": (
        ChartSpec("stages", "stage", ("ever reached", "now"),
                  "Peers who ever reached each recruitment stage, and how many are at it now."),
        ChartSpec("by source", "source", ("peers", "accepted"), "Peers by where they came from, and how many were accepted."),
        ChartSpec("by sector", "sector", ("peers", "accepted"), "Peers by partner sector, and how many were accepted."),
    ),
    "capacity": (
        ChartSpec("offerings short of leaders", "name", ("needed", "trained and active"),
                  "Offerings still planned or running with fewer certified, active leaders than the model needs."),
    ),
    "expiring": (
        ChartSpec("expiring", "name", ("days left",),
                  "Days left until each certification lapses, soonest first (the expiry timeline)."),
    ),
    "fidelity": (
        ChartSpec("scores over time", "on", ("percent",),
                  "Each observation's fidelity score in percent, in date order, by offering."),
        ChartSpec("items most often missed", "item", ("times",), "Checklist items missed most often."),
    ),
}

BAR_FILLS = ("#1f5f8b", "#e0a030")  # dark blue and amber: told apart by lightness too
BAR_HEIGHT, GAP, LABEL_WIDTH, PLOT_WIDTH = 14, 10, 170, 260


def escape(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def default_specs(result) -> tuple:
    specs = []
    for table in result.tables:
        numeric = [h for i, h in enumerate(table.headers[1:], 1) if _numeric_column(table, i)]
        if table.rows and numeric:
            specs.append(ChartSpec(table.title, table.headers[0], tuple(numeric[:2]),
                                   f"{', '.join(numeric[:2])} by {table.headers[0]}."))
    return tuple(specs)


def _numeric_column(table, index) -> bool:
    values = [row[index] for row in table.rows if row[index] is not None]
    return bool(values) and all(isinstance(v, Number) and not isinstance(v, bool) for v in values)


def chart_sections(result) -> list:
    """One HTML <section> per chart of `result`: title, description, SVG and the table of its
    numbers; a table without a chart is shown as a table."""
    tables = {table.title: table for table in result.tables}
    specs = [s for s in CHARTS.get(result.name, default_specs(result)) if s.table in tables]
    charted = {s.table for s in specs}
    sections = [_chart_section(spec, tables[spec.table]) for spec in specs]
    sections += [_table_section(t) for t in result.tables if t.title not in charted]
    return sections


def _chart_section(spec, table) -> str:
    label_at = table.headers.index(spec.label)
    columns = [table.headers.index(name) for name in spec.series if name in table.headers]
    rows = [(row[label_at] if spec.label != "on" else _point_label(table, row),
             [row[c] if isinstance(row[c], Number) else 0 for c in columns]) for row in table.rows]
    title = f"{table.title}"
    svg = bar_chart(title, spec.description, rows, [table.headers[c] for c in columns]) if rows else \
        '<p class="empty">(none)</p>'
    return (f'<section class="chart"><h2>{escape(title)}</h2><p class="description">{escape(spec.description)}</p>'
            f'<div class="pair">{svg}{table_html(table)}</div></section>')


def _point_label(table, row) -> str:
    """A fidelity point is named by its date and offering."""
    return f"{row[0]} {row[table.headers.index('offering')]}" if "offering" in table.headers else str(row[0])


def _table_section(table) -> str:
    return f'<section class="chart"><h2>{escape(table.title)}</h2>{table_html(table)}</section>'


def table_html(table) -> str:
    if not table.rows:
        return '<p class="empty">(none)</p>'
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in table.headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in table.rows)
    return (f'<div class="scroll"><table><caption>{escape(table.title)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{body}</tbody></table></div>')


def bar_chart(title, description, rows, series) -> str:
    """A horizontal bar chart as accessible inline SVG: one group of bars per (label, values)
    row, each bar labelled with its value, and a legend when there are two series."""
    largest = max((v for _, values in rows for v in values), default=0) or 1
    group = BAR_HEIGHT * len(series) + GAP
    legend = 20 if len(series) > 1 else 0
    height = legend + group * len(rows) + GAP
    width = LABEL_WIDTH + PLOT_WIDTH + 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">'
             f"<title>{escape(title)}</title><desc>{escape(description)}</desc>"]
    if legend:
        for n, name in enumerate(series):
            x = LABEL_WIDTH + n * 130
            parts.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{BAR_FILLS[n]}"/>'
                         f'<text x="{x + 14}" y="13">{escape(name)}</text>')
    for r, (label, values) in enumerate(rows):
        top = legend + GAP + r * group
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{top + BAR_HEIGHT - 3}" text-anchor="end">'
                     f"{escape(_short(label))}</text>")
        for n, value in enumerate(values):
            length = round(PLOT_WIDTH * max(value, 0) / largest, 1)
            y = top + n * BAR_HEIGHT
            parts.append(f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT - 2}" '
                         f'fill="{BAR_FILLS[n % 2]}"><title>{escape(label)}: {escape(series[n])} {escape(value)}</title></rect>'
                         f'<text x="{LABEL_WIDTH + length + 4}" y="{y + BAR_HEIGHT - 3}">{escape(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _short(label, limit=28) -> str:
    text = str(label)
    return text if len(text) <= limit else text[:limit - 1] + "…"


STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #111; }
.pair { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #999; padding: 0.2em 0.5em; text-align: left; }
caption { text-align: left; font-weight: bold; }
.scroll { overflow-x: auto; max-width: 100%; }
section.chart { break-inside: avoid; page-break-inside: avoid; margin-bottom: 2em; }
@media print { body { margin: 0; } }
"""


def report_document(result, affiliate=None, title=None) -> str:
    """`result` as one self-contained, printable HTML file: styles inline, charts as SVG, no
    script and no link to anything outside the file; headed `title` (default the report's)."""
    start, end = result.period
    period = f"{start or 'the beginning'} to {end}" if end else ""
    heading = f"{escape(title or result.title)}" + (f" — {escape(affiliate)}" if affiliate else "")
    return ("<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><title>{heading}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
            f'<body><h1>{heading}</h1><p>{escape(period)}</p>{"".join(chart_sections(result))}</body></html>\n')


def digest_page(role, day, items) -> str:
    """A digest (core.digest items) as a small self-contained HTML page: one list per kind."""

    groups = []
    for kind in dict.fromkeys(item.kind for item in items):
        rows = "".join(f"<li><strong>{escape(_when(item.days_left))}</strong> {escape(item.text)}</li>"
                       for item in items if item.kind == kind)
        groups.append(f"<section><h2>{escape(digest_heading(kind))}</h2><ul>{rows}</ul></section>")
    title = f"Digest for the {escape(role)}, as of {escape(day)}"
    return ("<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{STYLE}</style></head>'
            f'<body><h1>{title}</h1>{"".join(groups) or "<p>Nothing to do.</p>"}</body></html>\n')


def _when(days_left: int) -> str:
    if days_left == 0:
        return "today"
    return f"in {days_left} days" if days_left > 0 else f"{-days_left} days late"
