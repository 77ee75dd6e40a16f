"""Spreadsheet import and export of peers (Tracker mixin); reading sheets is `core.importer`."""

import csv
import io
import json
import os

import attrs

from .entities import Peer
from .errors import ValidationError
from .importer import (BadRows, ImportResult, find_duplicates, parse_mapping, parse_rows, read_sheet,
                       resolve_columns)

EXPORT_FORMATS = ("csv", "json")
EXPORT_COLUMNS = (
    "id", "name", "pronouns", "languages", "community", "county", "lived_experience", "source",
    "source_detail", "sector", "stage", "stage_since", "created",
)
# Personal contact details, and notes (which hold the extra columns of imported sheets), are
# exported only when asked for.
CONTACT_COLUMNS = ("email", "phone", "notes")


class TransferOps:
    def import_peers(self, path, mapping=None, dry_run=False, skip_duplicates=False,
                     progress=None) -> ImportResult:
        """Add every row of the CSV file `path` as a peer, in one write, or nothing at all.

        `mapping` is {COLUMN: FIELD} (or "COLUMN=FIELD" strings) overriding the header aliases.
        Rows that cannot be read raise `BadRows` listing them. Likely duplicates are flagged in
        the result and still added, unless `skip_duplicates`. `dry_run` reads and writes nothing.
        `progress`, if given, wraps the list of rows while they are read (e.g. a progress bar).
        """
        sheet = read_sheet(path)
        if not isinstance(mapping, dict):
            mapping = parse_mapping(mapping)
        columns = resolve_columns(sheet.header, mapping)
        rows, problems = parse_rows(sheet, columns, self.today, progress, self.date_order())
        if problems:
            raise BadRows(problems, total=len(sheet.rows))
        if dry_run:
            with self.reading():
                return self._import_plan(sheet, columns, rows, skip_duplicates, dry_run=True)
        with self.changing():
            plan = self._import_plan(sheet, columns, rows, skip_duplicates)
            peers = self.add_peers([row.fields for row in plan.to_add])
        return attrs.evolve(plan, added=tuple(peer.id for peer in peers))

    def _import_plan(self, sheet, columns, rows, skip_duplicates, dry_run=False) -> ImportResult:
        duplicates = find_duplicates(rows, self.load_all("peers", Peer))
        return ImportResult(
            path=sheet.path, columns=columns, rows=tuple(rows), duplicates=duplicates,
            skipped=tuple(d.line for d in duplicates) if skip_duplicates else (), dry_run=dry_run,
        )

    def export_peers(self, format="csv", include_contact=False) -> str:
        """Every peer as CSV or JSON text; email, phone and notes only if `include_contact`."""
        if format not in EXPORT_FORMATS:
            raise ValidationError(
                f"unknown export format '{format}': choose from {', '.join(EXPORT_FORMATS)}"
            )
        columns = EXPORT_COLUMNS + (CONTACT_COLUMNS if include_contact else ())
        records = [export_record(peer, columns) for peer in self.peers()]
        return records_json(records) if format == "json" else records_csv(records, columns)


def export_record(peer: Peer, columns) -> dict:
    since = peer.stage_since()
    computed = {
        "languages": list(peer.languages),
        "stage_since": since.isoformat() if since else None,
        "created": peer.created.isoformat(),
    }
    return {column: computed[column] if column in computed else getattr(peer, column)
            for column in columns}


def records_json(records) -> str:
    return json.dumps(records, indent=2, ensure_ascii=False) + "\n"


def records_csv(records, columns) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({**record, "languages": ", ".join(record["languages"])})
    return out.getvalue()


def write_export(path, text: str, format: str) -> None:
    """Write an export to a file readable by its owner only (it holds personal data).

    CSV files get a UTF-8 byte order mark so that Excel shows accented names correctly.
    """
    data = text.encode("utf-8-sig" if format == "csv" else "utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    except OSError as error:
        raise ValidationError(f"cannot write {path}: {error.strerror or error}") from None
