"""Training events with rosters (`peerpath training ...`): a state trainer trains fifteen people
at once, and the results go on every trainee's record in one change.

A training is planned for a program, on days (`on` to `until`), with trainers, a place and an
optional number of seats. Trainees are peers enrolled in the program whose pathway has a step
of the `training` kind. Closing it records that step for each trainee named, with the training's
dates and trainers: passed, not passed or partial (attended part: recorded `incomplete`), so only
the passed ones complete the step, each record going through the pathway's rules as if recorded
by hand. One refusal (a trainee whose prerequisites are missing, a roster peer left without a
result) refuses the whole close: nothing is recorded.
"""

import datetime as dt
from typing import Optional

import attrs

from .entities import Enrollment, clean_text, line_text, optional_date, parse_date, text_tuple
from .errors import ValidationError
from .serialize import from_document, to_document

TABLE = "trainings"
RESULTS = {"passed": "passed", "not passed": "not passed", "partial": "incomplete"}  # result -> outcome


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


class Trainings:
    """Planning, filling and closing training events: a service on one tracker (its transaction,
    catalog and audit), reached through `Tracker.add_training` and the others."""

    def __init__(self, tracker):
        self.tracker = tracker

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

    def enroll_in_training(self, training_id, peer_ids) -> Training:
        """Add peers to the roster: each enrolled in the program with a training step; all or none."""
        with self.tracker.changing():
            before = self._training(training_id)
            if before.closed:
                raise ValidationError(f"{training_id} is closed")
            wanted = list(dict.fromkeys(text_tuple(peer_ids)))
            if not wanted:
                raise ValidationError("name at least one peer to enrol")
            for peer_id in wanted:
                if peer_id in before.roster:
                    raise ValidationError(f"{peer_id} is already on the roster of {training_id}")
                self._training_step(before, peer_id)
            after = attrs.evolve(before, roster=before.roster + tuple(wanted))
            if after.seats_left is not None and after.seats_left < 0:
                raise ValidationError(f"{training_id} has {before.seats_left} seat(s) left, not {len(wanted)}")
            self._store_training(before, after, "enroll", {"peers": wanted})
        return after

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
