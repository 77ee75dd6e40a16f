"""Spreadsheet import and export of peers (a Tracker service); reading sheets is `core.importer`.

An export re-imports to exactly the stored values: a row with a peer's id changes only the
fields whose cells differ from that peer's, through `edit_peer` and `set_stage`, so the audit
trail records each change with its old and new value."""

import csv
import io
import json

import attrs

from .entities import Peer
from .errors import ValidationError
from .importer import (BadRows, ImportResult, RowProblem, Update, find_duplicates, merge_value_maps,
                       parse_mapping, parse_rows, parse_value_map, read_sheet, read_value_map,
                       resolve_columns, sheet_text, stored_as_read)
from .peers import CONTACT_FIELDS, EDITABLE, GRADUATION
from .safe_output import csv_cell, database_files, write_output_file
from .session import Service

EXPORT_FORMATS = ("csv", "json")
EXPORT_COLUMNS = (
    "id", "name", "pronouns", "languages", "community", "county", "lived_experience", "source",
    "source_detail", "sector", "graduate_of", "consent", "stage", "stage_since", "created",
)
# Personal contact details and notes are exported only when asked for.
CONTACT_COLUMNS = CONTACT_FIELDS
# The peer fields an import compares with a stored peer's, and the stage date ("date"); the
# offering a graduate came from too, so an export keeps it and an edited cell changes it.
IMPORTED = tuple(field for field in EDITABLE if field != "outreach") + GRADUATION
COMPARED = IMPORTED + ("stage", "date")


class Transfer(Service):
    """Peer import from and export to spreadsheet files (a Tracker service)."""

    def import_peers(self, path, mapping=None, dry_run=False, skip_duplicates=False,
                     progress=None, value_map=None, value_map_file=None, data=None) -> ImportResult:
        """Import the CSV file `path` in one write, or nothing at all: rows without an id add
        peers, rows with a stored peer's id change the fields whose cells differ (a blank cell
        leaves a field as it is, a `(clear)` cell empties it).

        `mapping` is {COLUMN: FIELD} (or "COLUMN=FIELD" strings) overriding the header aliases.
        `value_map` ({field: {text: value}} as `parse_value_map` gives, or "FIELD:TEXT=VALUE"
        strings) and the value-map file `value_map_file` say what cells mean, before the
        affiliate's stored value map; an import that is written stores them in it. Values that
        match nothing are kept as `other` with their text, and listed as warnings. Rows that
        cannot be stored as written raise `BadRows` listing every problem of every row. Likely
        duplicates are flagged in the result and still added, unless `skip_duplicates`.
        `dry_run` reads and writes nothing. `progress`, if given, wraps the list of rows while
        they are read (e.g. a progress bar). `data`, when given, is the sheet's bytes (an upload
        named `path`), read instead of the file.
        """
        sheet = read_sheet(path, data)
        if not isinstance(mapping, dict):
            mapping = parse_mapping(mapping)
        columns = resolve_columns(sheet.header, mapping)
        given = merge_value_maps(read_value_map(value_map_file) if value_map_file else {},
                                 value_map if isinstance(value_map, dict) else parse_value_map(value_map))
        if dry_run:
            with self.tracker.reading():
                return self._import_plan(sheet, columns, given, skip_duplicates, progress, dry_run=True)
        with self.tracker.changing():
            plan = self._import_plan(sheet, columns, given, skip_duplicates, progress)
            peers = self.tracker.add_peers([row.new_peer_fields() for row in plan.to_add]) if plan.to_add else []
            for update in plan.updates:
                self._apply_update(update)
            self._remember_values(given)
        return attrs.evolve(plan, added=tuple(peer.id for peer in peers))

    def _import_plan(self, sheet, columns, given, skip_duplicates, progress, dry_run=False) -> ImportResult:
        existing = {peer.id: peer for peer in self.tracker.load_all("peers", Peer)}
        value_map = merge_value_maps(self.tracker.tx.meta.get("value_map", {}), given)
        rows, problems, unmatched = parse_rows(
            sheet, columns, self.tracker.today, value_map, progress=progress, date_order=self.tracker.date_order(),
            stored=lambda peer_id: peer_cells(existing[peer_id]) if peer_id in existing else None)
        updates, unchanged = [], 0
        for row in rows:
            if row.peer_id is None and row.fields.get("graduate_of"):
                try:
                    self.tracker.services.peers._check_graduate_of(dict(row.fields))
                except ValidationError as error:
                    problems.append(RowProblem(row.line, str(error)))
            if row.peer_id in existing:
                try:
                    update = plan_update(row, existing[row.peer_id], self.tracker.today)
                    # a graduate's offering must be a completed one, their source graduate
                    self.tracker.services.peers._check_graduate_of(
                        {field: new for field, (_, new) in update.changes.items()}, existing[row.peer_id])
                except ValidationError as error:
                    problems.append(RowProblem(row.line, str(error)))
                    continue
                problems.extend(stage_date_warnings(row, existing[row.peer_id]))
                if update.changes or update.stage:
                    updates.append(update)
                else:
                    unchanged += 1
        duplicates = find_duplicates(rows, existing.values())
        result = ImportResult(
            path=sheet.path, columns=columns, rows=tuple(row for row in rows if row.peer_id is None),
            duplicates=duplicates, updates=tuple(updates), unchanged=unchanged,
            warnings=tuple(sorted((p for p in problems if p.warning), key=lambda p: p.line)),
            unmatched=unmatched, dry_run=dry_run,
            skipped=tuple(d.line for d in duplicates) if skip_duplicates else (),
        )
        if any(not problem.warning for problem in problems):
            problems += [RowProblem(d.line, "likely duplicate: " + "; ".join(d.matches), warning=True)
                         for d in duplicates]
            raise BadRows(sorted(problems, key=lambda p: p.line), total=len(sheet.rows), result=result)
        return result

    def _apply_update(self, update: Update) -> None:
        if update.changes:
            self.tracker.edit_peer(update.peer_id, **{field: new for field, (_, new) in update.changes.items()})
        if update.stage:
            _, stage, on = update.stage
            self.tracker.set_stage(update.peer_id, stage, on=on)

    def _remember_values(self, given: dict) -> None:
        """Add the values mapped for this import to the affiliate's value map, each one audited."""
        stored = self.tracker.tx.meta.get("value_map", {})
        new = [(field, text, word) for field, words in sorted(given.items())
               for text, word in sorted(words.items()) if stored.get(field, {}).get(text) != word]
        for field, text, word in new:
            self.tracker.audit_event("map", "value map", f"{field}:{text}",
                             details={"field": field, "text": text, "value": word})
        if new:
            self.tracker.tx.meta["value_map"] = merge_value_maps(stored, given)

    def write_file(self, path, text: str, format: str, force: bool = False) -> None:
        """Write an export (or a value-map file) to the new file `path`, private to its owner (it
        holds personal data): refused if it exists (unless `force`), is a symbolic link or is one
        of this database's files; written atomically (core.safe_output).

        CSV files get a UTF-8 byte order mark so that Excel shows accented names correctly."""
        data = text.encode("utf-8-sig" if format == "csv" else "utf-8")
        write_output_file(path, data, force=force, protected=database_files(self.tracker.store.path))

    def value_map(self) -> dict:
        """The affiliate's value map: {field: {text as compared: value}}."""
        with self.tracker.reading(missing_ok=True) as tx:
            return merge_value_maps(tx.meta.get("value_map", {}))

    def export_peers(self, format="csv", include_contact=False) -> str:
        """Every peer as CSV or JSON text; email, phone and notes only if `include_contact`.
        A CSV export imports back to exactly the stored values (see `import_peers`)."""
        if format not in EXPORT_FORMATS:
            raise ValidationError(
                f"unknown export format '{format}': choose from {', '.join(EXPORT_FORMATS)}"
            )
        columns = EXPORT_COLUMNS + (CONTACT_COLUMNS if include_contact else ())
        records = [export_record(peer, columns) for peer in self.tracker.peers()]
        return records_json(records) if format == "json" else records_csv(records, columns)


def peer_cells(peer: Peer) -> dict:
    """The compared fields of `peer` as the cells of its export: {field: text}."""
    return {field: sheet_text(field, peer.stage_since() if field == "date" else getattr(peer, field))
            for field in COMPARED}


def plan_update(row, peer: Peer, today) -> Update:
    """What `row` changes in `peer`; a ValidationError if the peer cannot hold it."""
    changes = {field: (getattr(peer, field), new) for field, new in row.fields.items()
               if field in EDITABLE + GRADUATION and field != "notes" and stored_as_read(field, getattr(peer, field)) != new}
    notes = _merged_notes(row.fields["notes"] if "notes" in row.fields else peer.notes, row.extras)
    if notes != peer.notes:
        changes["notes"] = (peer.notes, notes)
    attrs.evolve(peer, **{field: new for field, (_, new) in changes.items()})  # refuses what Peer refuses
    return Update(line=row.line, peer_id=peer.id, name=peer.name, changes=changes,
                  stage=_stage_change(row, peer, today))


def _merged_notes(notes, extras):
    """`notes` with each of the row's extra "Column: value" lines it does not have yet."""
    lines = (notes or "").split("\n") if notes else []
    return "\n".join(lines + [line for line in extras if line not in lines]) or None


def _stage_change(row, peer: Peer, today):
    """(old, new, date) when the row moves the peer to another stage: on the row's date if it
    changed it, else today."""
    stage, on, since = row.fields.get("stage"), row.fields.get("on"), peer.stage_since()
    if not stage or stage == peer.stage:
        return None
    day = on if on and on != since else today
    if since is not None and day < since:
        raise ValidationError(f"stage date {day.isoformat()} is before {peer.id} entered "
                              f"'{peer.stage}' on {since.isoformat()}")
    return (peer.stage, stage, day)


def stage_date_warnings(row, peer: Peer) -> list:
    """A changed stage date without a new stage is not stored: an import adds to the stage
    history, it never rewrites it."""
    on, since = row.fields.get("on"), peer.stage_since()
    if on is None or on == since or row.fields.get("stage", peer.stage) != peer.stage:
        return []
    return [RowProblem(row.line, f"stage date {on.isoformat()} differs from the recorded "
                                 f"{since.isoformat() if since else '(none)'} but the stage is the same: "
                                 "left as recorded (an import never rewrites the stage history)", warning=True)]


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
        writer.writerow({column: csv_cell(sheet_text(column, value)) for column, value in record.items()})
    return out.getvalue()


