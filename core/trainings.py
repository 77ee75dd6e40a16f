"""Training events with rosters (`peerpath training ...`): a state trainer trains fifteen people
at once, and the results go on every trainee's record in one change.

A training is planned for a program, on days (`on` to `until`), with trainers, a place and an
optional number of seats. Trainees are peers enrolled in the program whose pathway has a step
of the `training` kind. Closing it records that step for each trainee named, with the training's
dates and trainers: passed, not passed or partial (attended part: recorded `incomplete`), so only
the passed ones complete the step, each record going through the pathway's rules as if recorded
by hand. One refusal (a trainee whose prerequisites are missing, a roster peer left without a
result) refuses the whole close: nothing is recorded.

A roster can come from a CSV file (`read_roster`, `training enroll T --roster FILE`): one column
of peer ids or of names, each name matched to exactly one stored peer (case, spacing, accents and
word order ignored, as `peer import` compares names). An unknown or ambiguous name, an unknown id
or a peer named twice refuses the whole file with one line naming its line: all or none.
"""

import csv
import datetime as dt
import io
import re
from pathlib import Path
from typing import Optional

import attrs

from .entities import Enrollment, Peer, clean_text, line_text, optional_date, parse_date, text_tuple
from .errors import ValidationError
from .importer import decode, header_key, name_key, sniff_delimiter
from .safe_output import csv_cell_read
from .serialize import from_document, to_document
from .session import Service

TABLE = "trainings"
RESULTS = {"passed": "passed", "not passed": "not passed", "partial": "incomplete"}  # result -> outcome
# The headers a roster file's column may have (compared as `header_key` does): ids or names.
ID_HEADERS = {"id", "peer", "peerid"}
NAME_HEADERS = {"name", "peername", "fullname", "trainee"}
PEER_ID = re.compile(r"^P\d+$")


@attrs.frozen
class Training:
    """One training event and its roster; `results` once it is closed ({peer: result})."""

    id: str
    program: str
    on: dt.date = attrs.field(converter=parse_date)
    until: Optional[dt.date] = attrs.field(default=None, converter=optional_date)
    trainers: tuple = attrs.field(default=(), converter=text_tuple)
    location: Optional[str] = attrs.field(default=None, converter=clean_text, validator=line_text("location"))
    capacity: Optional[int] = attrs.field(default=None)
    roster: tuple = attrs.field(default=(), converter=text_tuple)
    results: dict = attrs.field(factory=dict, converter=dict)

    @until.validator
    def _check_until(self, attribute, value):
        if value is not None and value < self.on:
            raise ValidationError(f"--until {value} is before --on {self.on}")

    @capacity.validator
    def _check_capacity(self, attribute, value):
        if value is not None and value < 1:
            raise ValidationError("--capacity must be 1 or more")

    @property
    def closed(self) -> bool:
        return bool(self.results)

    @property
    def seats_left(self) -> Optional[int]:
        return None if self.capacity is None else self.capacity - len(self.roster)


class Trainings(Service):
    """Planning, filling and closing training events: a service on one tracker (its transaction,
    catalog and audit), reached through `Tracker.add_training` and the others."""

    def add_training(self, program_key, on, until=None, trainers=(), location=None, capacity=None) -> Training:
        with self.tracker.changing():
            program = self.tracker.catalog.program(program_key)
            if not any(step.kind == "training" for pathway in program.pathways for step in pathway.steps):
                raise ValidationError(f"{program.key} has no training step to hold a training for")
            training = Training(id=self.tracker.tx.next_id("T"), program=program.key, on=on, until=until,
                                trainers=trainers, location=location, capacity=capacity)
            self.tracker.tx.insert(TABLE, to_document(training))
            self.tracker.audit_event("add", TABLE, training.id,
                                     details={"program": program.key, "on": training.on.isoformat()})
        return training

    def trainings(self) -> list:
        with self.tracker.reading() as tx:
            return sorted((from_document(Training, d) for d in tx.all(TABLE)), key=lambda t: (t.on, t.id))

    def enroll_in_training(self, training_id, peer_ids=(), roster=None) -> Training:
        """Add peers to the roster: each enrolled in the program with a training step; all or none.
        `roster`, a CSV file's path, adds the peers it names (see `read_roster`)."""
        with self.tracker.changing():
            before = self._training(training_id)
            if before.closed:
                raise ValidationError(f"{training_id} is closed")
            wanted = list(dict.fromkeys(text_tuple(peer_ids)))
            where: dict = {}  # peer id: the roster file's line naming them
            if roster is not None:
                for place, peer_id in self.roster_peers(roster):
                    if peer_id in wanted:
                        earlier = f"on {where[peer_id]}" if peer_id in where else "given on the command line"
                        raise ValidationError(f"{place}: {peer_id} is also {earlier}")
                    wanted.append(peer_id)
                    where[peer_id] = place
            if not wanted:
                raise ValidationError("name at least one peer to enrol")
            for peer_id in wanted:
                try:
                    if peer_id in before.roster:
                        raise ValidationError(f"{peer_id} is already on the roster of {training_id}")
                    self._training_step(before, peer_id)
                except ValidationError as error:
                    raise ValidationError(f"{where[peer_id]}: {error}" if peer_id in where else str(error)) from None
            after = attrs.evolve(before, roster=before.roster + tuple(wanted))
            if after.seats_left is not None and after.seats_left < 0:
                raise ValidationError(f"{training_id} has {before.seats_left} seat(s) left, not {len(wanted)}")
            details = {"peers": wanted, **({"roster": str(roster)} if roster is not None else {})}
            self._store_training(before, after, "enroll", details)
        return after

    def roster_peers(self, path) -> list:
        """[(where, peer id)] for each row of the roster file `path` ("FILE line N"), each name
        matched to exactly one stored peer; the first problem refused naming its line."""
        rows = read_roster(path)
        with self.tracker.reading():
            peers = self.tracker.load_all("peers", Peer)
        by_id = {peer.id: peer for peer in peers}
        by_name: dict = {}
        for peer in peers:
            by_name.setdefault(name_key(peer.name), []).append(peer)
        found = []
        for line, peer_id, name in rows:
            place = f"{path} line {line}"
            if peer_id is not None:
                if peer_id not in by_id:
                    try:
                        self.tracker.peer(peer_id)  # a merged peer's id is refused naming the merge
                    except ValidationError as error:
                        raise ValidationError(f"{place}: {error}") from None
                peer = by_id[peer_id]
                if name is not None and name_key(name) != name_key(peer.name):
                    raise ValidationError(f"{place}: {peer.id} is {peer.name}, not '{name}'")
            else:
                matches = by_name.get(name_key(name), [])
                if not matches:
                    raise ValidationError(f"{place}: no peer named '{name}' (give the peer id instead)")
                if len(matches) > 1:
                    named = ", ".join(f"{p.id} {p.name}" for p in matches[:5])
                    raise ValidationError(f"{place}: '{name}' matches {len(matches)} peers ({named}): "
                                          "give the peer id instead")
                peer = matches[0]
            found.append((place, peer.id))
        return found

    def close_training(self, training_id, passed=(), not_passed=(), partial=()) -> Training:
        """Record the training step of every trainee named, with their result, in one change."""
        with self.tracker.changing():
            before = self._training(training_id)
            if before.closed:
                raise ValidationError(f"{training_id} was closed already")
            results = _results(passed=passed, not_passed=not_passed, partial=partial)
            strangers = [p for p in results if p not in before.roster]
            if strangers:
                raise ValidationError(f"not on the roster of {training_id}: {', '.join(strangers)}")
            missing = [p for p in before.roster if p not in results]
            if missing:
                raise ValidationError(f"give a result for every trainee; missing: {', '.join(missing)}")
            for peer_id, result in results.items():
                enrollment, step = self._training_step(before, peer_id)
                try:
                    self.tracker.record_step(peer_id, before.program, step.key, role=enrollment.role, on=before.on,
                                             until=before.until, trainer=", ".join(before.trainers) or None,
                                             outcome=RESULTS[result], evidence=f"training {training_id}")
                except ValidationError as error:
                    raise ValidationError(f"{peer_id}: {error}; nothing of {training_id} was recorded") from None
            after = attrs.evolve(before, results=results)
            self._store_training(before, after, "close", {"results": results})
        return after

    def training(self, training_id) -> Training:
        with self.tracker.reading():
            return self._training(training_id)

    def _training(self, training_id) -> Training:
        document = self.tracker.tx.get(TABLE, training_id)
        if document is None:
            raise ValidationError(f"no training '{training_id}'")
        return from_document(Training, document)

    def _training_step(self, training, peer_id):
        """(enrolment, training step) of `peer_id` in the training's program, or a refusal."""
        self.tracker.peer(peer_id)  # refuses an unknown peer by name
        program = self.tracker.catalog.program(training.program)
        for enrollment in self.tracker.load_all("enrollments", Enrollment, peer_id=peer_id, program=program.key):
            steps = [s for s in program.pathway(enrollment.pathway).steps if s.kind == "training"]
            if steps:
                return enrollment, steps[0]
        raise ValidationError(f"{peer_id} is not enrolled in {program.key} in a role with a training "
                              f"(peerpath enroll {peer_id} {program.key})")

    def _store_training(self, before, after, action, details) -> None:
        self.tracker.tx.replace(TABLE, to_document(after))
        self.tracker.audit_event(action, TABLE, after.id, details=details)


def read_roster(path) -> list:
    """[(line number, peer id or None, name or None)] for each non-blank row of a roster CSV.

    The file is one column of peer ids or of names, with or without a header line; with a
    header, the column headed id (or peer) and/or name (both: the id is used and its name
    checked)."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ValidationError(f"cannot read roster {path}: {error.strerror or error}") from None
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise ValidationError(f"{path} is an Excel workbook, not CSV: save the sheet as CSV first")
    text = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text.split("\n", 1)[0]))
    rows, columns = [], None
    try:
        for cells in reader:
            line = reader.line_num
            cells = [csv_cell_read(cell).strip() for cell in cells]
            if not any(cells):
                continue
            if columns is None:
                columns = _roster_columns(cells)
                if columns is not None:
                    continue  # the header line
                columns = AUTO
            rows.append((line, *_roster_row(path, line, cells, columns)))
    except csv.Error as error:
        raise ValidationError(f"{path} line {reader.line_num}: not readable as CSV: {error}") from None
    if not rows:
        raise ValidationError(f"roster {path} names no peer")
    return rows


AUTO = "auto"  # no header line: each row's first cell is an id if it looks like one, else a name


def _roster_columns(cells):
    """(id column, name column) of a header line, either None; None if `cells` is no header."""
    keys = [header_key(cell) for cell in cells]
    ids = [i for i, key in enumerate(keys) if key in ID_HEADERS]
    names = [i for i, key in enumerate(keys) if key in NAME_HEADERS]
    if not ids and not names:
        return None
    return (ids[0] if ids else None, names[0] if names else None)


def _roster_row(path, line, cells, columns) -> tuple:
    """(peer id or None, name or None) of one roster row."""
    if columns == AUTO:
        first = cells[0] or None
        columns = (0, None) if first and PEER_ID.match(first.upper()) else (None, 0)
    id_column, name_column = columns
    cell = lambda index: (cells[index] if index is not None and index < len(cells) else "") or None
    peer_id, name = cell(id_column), cell(name_column)
    if peer_id is None and name is None:
        raise ValidationError(f"{path} line {line}: no peer id or name")
    if name is not None and ("\n" in name or len(name) > 200):
        raise ValidationError(f"{path} line {line}: a name is one line of at most 200 characters")
    if peer_id is not None and not PEER_ID.match(peer_id.upper()):
        raise ValidationError(f"{path} line {line}: '{peer_id}' is not a peer id like P0001")
    return (peer_id.upper() if peer_id else None), name


def _results(**groups) -> dict:
    results = {}
    for name, peers in groups.items():
        for peer_id in text_tuple(peers):
            if peer_id in results:
                raise ValidationError(f"{peer_id} is given two results")
            results[peer_id] = name.replace("_", " ")
    if not results:
        raise ValidationError("give the results: --passed, --not-passed or --partial")
    return results
