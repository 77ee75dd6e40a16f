"""The pathway engine: enrolments, step records, certification, renewal and lapse.

Progress is never stored: it is computed from the live (non-voided) step records, sessions and
observations as of `tracker.today`, so every answer can be asked "as of" any date. What is
stored are the facts (records) and the transitions (certifications granted, lapses), each once.
"""

import copy
import datetime as dt
from collections import defaultdict
from typing import Optional

import attrs

from .entities import (Certification, Cycle, Enrollment, Observation, Offering, Pathway, Peer, ProgramModel,
                       SessionRecord, StatusChange, StepRecord, record_order, shift_date)
from .errors import OVERRIDE_HINT, NotFound, OverridableError, ValidationError
from .progress import FAILED, StepContext, StepProgress
from . import summaries
from .serialize import from_document, to_document
from .session import Service

ACTIVE = "active"
HOLD_STATUSES = ("on hold", "inactive")


@attrs.frozen
class StepState:
    step: object
    progress: StepProgress
    blocked_by: tuple = ()


@attrs.frozen
class PeerRef:
    """The peer a status is about: its id and name, all a listing shows (rebuilding whole peers
    for every leader of a state would cost more than the listing itself)."""

    id: str
    name: str


@attrs.frozen
class PathwayStatus:
    """Where one leader stands in one program: each step, what blocks it, certification."""

    peer: PeerRef
    enrollment: Enrollment
    program: ProgramModel
    pathway: Pathway
    # The StepStates; from a stored summary, rebuilt only when asked for (summaries.StoredSteps);
    # from a summary's head, only counted (summaries.CountedSteps: listed with steps=False).
    _steps: "tuple | summaries.StoredSteps | summaries.CountedSteps" = attrs.field(alias="steps")
    status: str
    certification: Optional[Certification] = None
    renewal: Optional[StepProgress] = None
    last_activity: Optional[dt.date] = None

    @property
    def steps(self) -> tuple:
        return self._steps if isinstance(self._steps, tuple) else self._steps.states()

    @property
    def done_count(self) -> int:
        """How many steps are done (from a stored summary without rebuilding its steps)."""
        if isinstance(self._steps, tuple):
            return sum(state.progress.done for state in self._steps)
        return self._steps.done_count()

    @property
    def reason(self) -> Optional[str]:
        """Why the leader has their status: the reason of the change that gave it, or, for a
        lapse not yet recorded by the sweep, the pathway's reason for lapsing."""
        history = self.enrollment.history
        if history and history[-1].status == self.status:
            return history[-1].reason
        if self.status == self.pathway.lapse_status and self.certification is not None:
            return f"{self.pathway.lapse_reason} (expired {self.certification.expires})"
        return None

    @property
    def next_steps(self) -> list:
        if not isinstance(self._steps, tuple):
            return self._steps.next_keys()
        return [s.step.key for s in self._steps if not s.progress.done and not s.blocked_by]

    def to_dict(self) -> dict:
        cert = self.certification
        return {
            "peer": self.peer.id,
            "name": self.peer.name,
            "program": self.program.key,
            "role": self.enrollment.role,
            "pathway": self.pathway.key,
            "enrollment": self.enrollment.id,
            "status": self.status,
            "reason": self.reason,
            "history": [{"status": c.status, "on": c.on.isoformat(), "reason": c.reason}
                        for c in self.enrollment.history],
            "steps": [
                {"step": s.step.key, "title": s.step.title, "kind": s.step.kind,
                 "required": not s.step.optional, "state": s.progress.state,
                 "summary": s.progress.summary,
                 "completed_on": s.progress.completed_on.isoformat() if s.progress.completed_on else None,
                 "figures": s.progress.figures, "blocked_by": list(s.blocked_by)}
                for s in self.steps
            ],
            "next": self.next_steps,
            "certified_on": cert.granted.isoformat() if cert else None,
            "expires": cert.expires.isoformat() if cert and cert.expires else None,
            "renewal": {"state": self.renewal.state, "summary": self.renewal.summary,
                        "figures": self.renewal.figures} if self.renewal else None,
            "last_activity": self.last_activity.isoformat() if self.last_activity else None,
        }


@attrs.frozen
class Standing:
    """Where one leader stands in one program, without their steps: what reports that count
    leaders need (Pathways.standings)."""

    peer_id: str
    enrollment: Enrollment
    program: ProgramModel
    status: str
    certification: Optional[Certification] = None


class _Facts:
    """Everything the engine reads, loaded once per command and indexed.

    With `peer_ids`, only those peers' records are read (one chunk of each sharded table).
    `unread`: {enrollment id: (peer id, {step: day of its latest live record})}, taken from
    summaries known to hold, of the enrolments whose step records are not read unless a step
    they have records of is asked about; it must name every enrolment of the peers it names.
    """

    def __init__(self, tracker, peer_ids=None, unread=None):
        tx = tracker.tx
        # The rules these facts are judged by, taken once: the catalog is rebuilt only when a
        # setting or plugin changes, never while one set of facts is in use, and asking the
        # tracker for it costs a lookup of the settings every time (thousands per re-judgement).
        self.catalog = tracker.catalog
        wanted = None if peer_ids is None else set(peer_ids)
        self._recorded = dict(unread or {})
        skipped = {peer_id for peer_id, _ in self._recorded.values()}
        record_peers = None if wanted is None else wanted - skipped

        def docs(table, peers=wanted):
            if peers is None:
                return tx.all(table)
            if len(peers) > 20:  # many peers: one pass over the table beats a search per peer
                return [doc for doc in tx.all(table) if doc["peer_id"] in peers]
            return [doc for peer_id in peers for doc in tx.search(table, peer_id=peer_id)]

        # Live records are kept as read and rebuilt only when asked for, one enrolment's step at
        # a time where that is all a question needs: a re-judgement after a setting asks for the
        # steps the setting changed, not for the thousands of hours records of the others.
        self._unread = defaultdict(list)  # (enrollment id, step) -> documents
        self._steps = defaultdict(list)  # enrollment id -> its steps with live records
        self._tx = tx
        self._take(docs("step_records", record_peers) if record_peers or record_peers is None else [])
        self.records = {}  # enrollment id -> every live record, in order, once asked for
        self._by_step = {}  # (enrollment id, step) -> its live records, in order, once asked for
        self.certifications = {
            doc["enrollment_id"]: from_document(Certification, doc) for doc in docs("certifications")
        }
        def led(table):
            """What the wanted peers led: through the by-leader index, only their offerings' chunks."""
            if wanted is None or len(wanted) > 20:
                return tx.all(table)
            found = {doc["id"]: doc for peer_id in sorted(wanted) for doc in tx.containing(table, "leaders", peer_id)}
            return list(found.values())

        sessions = tx.all("sessions") if wanted is None else None
        self.sessions = self._by_leader(sessions if sessions is not None else led("sessions"), SessionRecord, wanted)
        self.observations = self._by_leader(led("observations"), Observation, wanted)
        self._session_days = None if sessions is None else self._days_by_offering(sessions)
        self._offerings = {}
        # {enrollment id: {step key: StepProgress}} already judged: a re-judgement after a setting
        # seeds it with the steps the setting left alone and, as its records cannot change within
        # it (`remember`), keeps each enrolment's steps once judged instead of judging them anew
        # for the revoke, the grant and the summary.
        self.known = {}
        self.remember = False
        self._fingerprints = {}

    def fingerprint(self, pathway, program_format) -> str:
        """The pathway's fingerprint, computed once per pathway object (a summary per enrolment
        would otherwise hash the whole pathway each time)."""
        entry = self._fingerprints.get(id(pathway))
        if entry is None or entry[0] is not pathway or entry[1] != program_format:
            entry = (pathway, dict(program_format), summaries.fingerprint(pathway, program_format))
            self._fingerprints[id(pathway)] = entry
        return entry[2]

    def _take(self, documents) -> None:
        for document in documents:
            if document.get("void_reason") is None:
                where = (document["enrollment_id"], document["step"])
                if where not in self._unread:
                    self._steps[where[0]].append(where[1])
                self._unread[where].append(document)

    def _read_unread(self, enrollment_id) -> None:
        """Read the records of an enrolment left unread, with the rest of its peer's."""
        peer_id = self._recorded[enrollment_id][0]
        for other in [e for e, (p, _) in self._recorded.items() if p == peer_id]:
            del self._recorded[other]
        self._take(self._tx.search("step_records", peer_id=peer_id))

    def recorded(self, enrollment_id) -> dict:
        """{step: day of its latest live record} of the enrolment (ISO dates), for its summary."""
        if enrollment_id in self._recorded:
            return dict(self._recorded[enrollment_id][1])
        if enrollment_id in self.records:
            found: dict = {}
            for record in self.records[enrollment_id]:
                found[record.step] = max(found.get(record.step, ""), record.on.isoformat())
            return found
        return {step: max(document["on"] for document in self._unread[(enrollment_id, step)])
                for step in self._steps.get(enrollment_id, ())}

    def records_of(self, enrollment_id, step=None) -> list:
        """The enrolment's live records in order (a copy), only those of `step` when given."""
        if enrollment_id in self._recorded:
            if step is not None and step not in self._recorded[enrollment_id][1]:
                return []  # none, by a summary that holds: nothing to read
            self._read_unread(enrollment_id)
        if enrollment_id in self.records:
            records = self.records[enrollment_id]
            return list(records) if step is None else [r for r in records if r.step == step]
        if step is not None:
            if (enrollment_id, step) not in self._by_step:
                self._by_step[(enrollment_id, step)] = self._rebuilt(self._unread.get((enrollment_id, step), ()))
            return list(self._by_step[(enrollment_id, step)])
        self.records[enrollment_id] = self._rebuilt(
            document for step in self._steps.get(enrollment_id, ()) for document in self._unread[(enrollment_id, step)])
        return list(self.records[enrollment_id])

    @staticmethod
    def _rebuilt(documents) -> list:
        return sorted((from_document(StepRecord, document) for document in documents), key=record_order)

    def last_record_on(self, enrollment_id):
        """The date of the enrolment's latest live record, or None (read without rebuilding them)."""
        days = self.recorded(enrollment_id).values()
        return dt.date.fromisoformat(max(days)) if days else None

    def offering(self, offering_id):
        """The stored offering (one chunk read with the first question about it), or None."""
        if offering_id not in self._offerings:
            document = self._tx.get("offerings", offering_id)
            self._offerings[offering_id] = from_document(Offering, document) if document else None
        return self._offerings[offering_id]

    def offering_session_days(self, offering_id) -> list:
        """The dates of every session of an offering, whoever led them, in order."""
        if self._session_days is None:
            self._session_days = {}
        if offering_id not in self._session_days:  # read from the one chunk holding that offering
            days = self._days_by_offering(self._tx.search("sessions", offering_id=offering_id))
            self._session_days[offering_id] = days.get(offering_id, [])
        return self._session_days.get(offering_id, [])

    @staticmethod
    def _days_by_offering(sessions) -> dict:
        found = defaultdict(list)
        for document in sessions:
            found[document["offering_id"]].append(dt.date.fromisoformat(document["on"]))
        for days in found.values():
            days.sort()
        return found

    def add_record(self, record) -> None:
        """A record stored in this change, put in its place: step kinds judge records in date order."""
        self.records[record.enrollment_id] = sorted(self.records_of(record.enrollment_id) + [record], key=record_order)
        self.known.pop(record.enrollment_id, None)  # its steps must be judged again

    @staticmethod
    def _by_leader(documents, cls, wanted) -> dict:
        found = defaultdict(list)
        for document in documents:
            leaders = [p for p in document.get("leaders", ()) if wanted is None or p in wanted]
            if leaders:
                entity = from_document(cls, document)
                for leader in leaders:
                    found[(leader, entity.program)].append(entity)
        return found


class Pathways(Service):
    """Enrolling leaders, recording their steps and judging their certification (a Tracker service)."""

    # -- enrolment ---------------------------------------------------------------------------------

    def enroll(self, peer_id: str, program_key: str, role: Optional[str] = None, on=None) -> Enrollment:
        """Enrol a peer in a program role; refused if their lived experience does not fit."""
        with self.tracker.changing():  # first: the catalog is read under the change's own lock
            program = self.tracker.catalog.program(program_key)
            role_model = program.role(role)
            pathway = program.pathway(role_model.pathway) if role_model.pathway else program.pathways[0]
            peer = self.tracker.load("peers", Peer, peer_id, "peer")
            _check_lived_experience(peer, program)
            _check_eligibility(peer, program, on or self.tracker.today)
            existing = self.tracker.tx.search("enrollments", peer_id=peer_id, program=program.key, role=role_model.key)
            if existing:
                raise ValidationError(f"{peer_id} is already enrolled in {program.key} as {role_model.key}")
            if pathway.add_on_to and not self.tracker.tx.search("enrollments", peer_id=peer_id,
                                                                  pathway=pathway.add_on_to):
                raise ValidationError(
                    f"'{pathway.key}' is an add-on: enrol {peer_id} in the '{pathway.add_on_to}' pathway first"
                )
            enrollment = Enrollment(id=self.tracker.tx.next_id("E"), peer_id=peer_id, program=program.key,
                                    role=role_model.key, pathway=pathway.key, started=on or self.tracker.today)
            self.tracker.check_not_future(enrollment.started)
            self.tracker.store_new("enrollments", enrollment, "enroll", peer_id=peer_id,
                           details={"program": program.key, "role": role_model.key})
            self._store_summary(enrollment, pathway, _Facts(self.tracker, [peer_id]))
            self.tracker.fire("enrollment_started", enrollment=enrollment, peer=peer)
        return enrollment

    def enrollment_of(self, peer_id: str, program_key: str, role: Optional[str] = None) -> Enrollment:
        program = self.tracker.catalog.program(program_key)
        with self.tracker.reading():
            self.tracker.load("peers", Peer, peer_id, "peer")
            found = self.tracker.load_all("enrollments", Enrollment, peer_id=peer_id, program=program.key)
        if role is not None:
            found = [e for e in found if e.role == role]
        if not found:
            raise ValidationError(f"{peer_id} is not enrolled in {program.key}" + (f" as {role}" if role else ""))
        if len(found) > 1:
            raise ValidationError(
                f"{peer_id} has several roles in {program.key} ({', '.join(e.role for e in found)}): give --role"
            )
        return found[0]

    # -- recording ---------------------------------------------------------------------------------

    def record_step(self, peer_id: str, program_key: str, step_key: str, role=None,
                    force: bool = False, reason: Optional[str] = None, **values) -> StepRecord:
        """Record evidence for a step; may certify the leader or renew their certification."""
        if force and not (reason or "").strip():
            raise ValidationError("--force needs --reason: say why the prerequisites are overridden")
        with self.tracker.changing():  # first: the catalog is read under the change's own lock
            program = self.tracker.catalog.program(program_key)
            enrollment = self.enrollment_of(peer_id, program.key, role)
            pathway = program.pathway(enrollment.pathway)
            self._sweep_lapses([enrollment])
            after_grant = {s.key: s for s in (pathway.renewal, pathway.reactivation) if s is not None}
            is_renewal = step_key in after_grant
            step = after_grant[step_key] if is_renewal else pathway.step(step_key)
            kind = self.tracker.catalog.step_kind(step.kind)
            record = StepRecord(
                id=self.tracker.tx.next_id("R"), enrollment_id=enrollment.id, peer_id=peer_id,
                program=program.key, pathway=pathway.key, step=step.key,
                on=values.pop("on", None) or self.tracker.today,
                forced_reason=reason if force else None, **values,
            )
            self.tracker.check_not_future(record.on, record.until)
            facts = _Facts(self.tracker, [peer_id])
            if is_renewal:
                self._check_renewable(enrollment, pathway, step, facts)
                kind.check(step, record, self._context(enrollment, facts))
            else:
                self._check_rules(pathway, step, record, enrollment, facts, force)
            self.tracker.store_new("step_records", record, "record", peer_id=peer_id,
                           details={"step": step.key, "forced": bool(force), **({"reason": reason} if force else {})})
            self.tracker.fire("step_recorded", record=record, enrollment=enrollment)
            facts.add_record(record)
            self._settle_certification(enrollment, program, pathway, facts)
        return record

    def _check_rules(self, pathway, step, record, enrollment, facts, force) -> None:
        """Refuse a record the pathway cannot take: its prerequisites, its kind's check, and no
        other step made to fail by it (a lead time holds whichever record comes first). The
        rules that raise OverridableError give way to --force."""
        context = self._context(enrollment, facts)
        before = self._states(pathway, context, facts, enrollment)
        rules = (
            lambda: _check_prerequisites(pathway, step, record, before),
            lambda: self.tracker.catalog.step_kind(step.kind).check(step, record, context),
            lambda: _check_nothing_broken(step, record, before, self._states_with(pathway, enrollment, facts, record)),
        )
        for rule in rules:
            try:
                rule()
            except OverridableError:
                if not force:
                    raise

    def _states_with(self, pathway, enrollment, facts, record) -> list:
        """The step states as they would be with `record` stored too (`facts` stay as they are)."""
        trial = copy.copy(facts)
        trial.records = {**facts.records,
                         enrollment.id: sorted(facts.records_of(enrollment.id) + [record], key=record_order)}
        return self._states(pathway, self._context(enrollment, trial), trial, enrollment)

    def void_record(self, record_id: str, reason: str) -> StepRecord:
        """Mark a wrongly recorded step as void; it stays in the database and the audit trail."""
        if not (reason or "").strip():
            raise ValidationError("voiding a record needs --reason")
        with self.tracker.changing():
            before = self.tracker.load("step_records", StepRecord, record_id, "step record")
            if before.voided:
                raise ValidationError(f"{record_id} is already void ({before.void_reason})")
            after = attrs.evolve(before, void_reason=reason)
            self.tracker.store_changed("step_records", before, after, "void", peer_id=before.peer_id,
                               details={"reason": reason, "step": before.step})
            if before.program in self.tracker.catalog.programs:
                enrollment = self.tracker.load("enrollments", Enrollment, before.enrollment_id, "enrolment")
                add_ons = [e for e in self.tracker.load_all("enrollments", Enrollment, peer_id=before.peer_id)
                           if self._pathway_of(e).add_on_to == enrollment.pathway]
                self._rejudge_enrollments([enrollment] + add_ons, f"void {record_id}: {reason}")
        return after

    def set_leader_status(self, peer_id: str, program_key: str, status: str, role=None,
                          reason: Optional[str] = None) -> Enrollment:
        """Put a leader on hold, make them inactive, or make them active again; the change is
        dated today in the leader's history, with `reason`."""
        if status not in HOLD_STATUSES + (ACTIVE,):
            raise ValidationError(f"unknown status '{status}': choose from active, on hold, inactive")
        with self.tracker.changing():
            before = self.enrollment_of(peer_id, program_key, role)
            self._sweep_lapses([before])
            before = self.tracker.load("enrollments", Enrollment, before.id, "enrolment")
            certification = self._certification_of(before)
            held = attrs.evolve(before, hold=None if status == ACTIVE else status)
            if held.hold == before.hold:
                current = self._recorded_status(before, certification)
                if status == ACTIVE and certification is not None and certification.lapsed(self.tracker.today):
                    raise ValidationError(
                        f"{peer_id} is {current} in {before.program} ({self._pathway_of(before).lapse_reason} after "
                        f"{certification.expires}): peerpath reactivate {peer_id} {before.program}")
                raise ValidationError(f"{peer_id} is already {current} in {before.program}")
            # the hold set, or (made active) what the certification says, as of today
            new_status = held.hold or self._recorded_status(attrs.evolve(held, history=()), certification)
            change = StatusChange(new_status, self.tracker.today,
                                  reason or ("by hand" if status != ACTIVE else "made active"))
            after = attrs.evolve(held, history=_in_date_order(before.history + (change,)))
            self.tracker.store_changed("enrollments", before, after, "status", peer_id=peer_id,
                               details={"program": before.program, "enrollment": before.id, "status": new_status,
                                        **({"reason": reason} if reason else {})})
            self._store_summary(after, self._pathway_of(after), _Facts(self.tracker, [peer_id]))
        return after

    def reactivate(self, peer_id: str, program_key: str, role=None, on=None, reason: Optional[str] = None):
        """Make a leader whose certification lapsed active again, from `on` (default today), once
        what the pathway asks to redo since the lapse is done (see Pathway.reactivation): a new
        cycle of the certification starts that day. Returns the certification."""
        with self.tracker.changing():
            enrollment = self.enrollment_of(peer_id, program_key, role)
            pathway = self._pathway_of(enrollment)
            self._sweep_lapses([enrollment])
            facts = _Facts(self.tracker, [peer_id])
            certification = facts.certifications.get(enrollment.id)
            if certification is None or not certification.lapsed(self.tracker.today):
                raise ValidationError(f"{peer_id} has no lapsed {pathway.key} certification to reactivate "
                                      f"(status {self._recorded_status(enrollment, certification)})")
            day = self.tracker.read_date(on) or self.tracker.today
            self.tracker.check_not_future(day)
            if day < certification.lapsed_on:
                raise ValidationError(f"--on {day} is before the certification lapsed ({certification.lapsed_on})")
            redo = self._reactivation_progress(pathway, certification, enrollment, facts)
            rule = pathway.reactivation or pathway.renewal
            if redo is not None and not redo.done:
                raise ValidationError(
                    f"{peer_id} must first redo '{rule.key}' since the lapse on {certification.lapsed_on} "
                    f"({redo.summary}): peerpath record {peer_id} {enrollment.program} {rule.key} ...")
            if redo is not None and redo.completed_on and day < redo.completed_on:
                raise ValidationError(f"--on {day} is before '{rule.key}' was redone ({redo.completed_on})")
            why = reason or (f"'{rule.key}' redone" if rule else "reactivated")
            after = attrs.evolve(certification, cycle_start=day, lapsed_on=None, renewed_cycles=(),
                                 expires=shift_date(day, pathway.validity_days) if pathway.validity_days else None)
            status = self._status_change(enrollment, "certified", day, why)
            self.tracker.store_changed("certifications", certification, after, "reactivate", peer_id=peer_id,
                               details={"pathway": pathway.key, "expires": after.expires.isoformat() if after.expires
                                        else None, "reason": why, **status})
            facts.certifications[enrollment.id] = after
            self._lapse_if_expired(enrollment, facts)
            self._store_summary(enrollment, pathway, facts)
        return after

    def _reactivation_progress(self, pathway, certification, enrollment, facts):
        """What the pathway asks to redo, judged on what was done since the lapse (None: nothing)."""
        rule = pathway.reactivation or pathway.renewal
        if rule is None:
            return None
        since_lapse = attrs.evolve(certification, cycle_start=certification.lapsed_on)
        return self._cycle_progress(rule, since_lapse, self._context(enrollment, facts), facts, enrollment)

    def _certification_of(self, enrollment):
        """The enrolment's stored certification, or None."""
        for document in self.tracker.tx.search("certifications", peer_id=enrollment.peer_id):
            if document["enrollment_id"] == enrollment.id:
                return from_document(Certification, document)
        return None

    def _recorded_status(self, enrollment, certification) -> str:
        """The status as the records stand: by hand, else the certification's (lapsed as recorded)."""
        return _leader_status(enrollment, certification, self.tracker.today, self._pathway_of(enrollment))

    def _status_change(self, enrollment, status: str, on, reason: str) -> dict:
        """Note in the enrolment's dated history, kept in date order, that the leader became
        `status` on `on` (unless on hold or inactive by hand from before then, which a
        transition of the certification does not change); the details to add to that
        transition's audit event."""
        document = self.tracker.tx.get("enrollments", enrollment.id, peer_id=enrollment.peer_id)
        if document is None:
            raise NotFound(f"unknown enrollment '{enrollment.id}'")
        stored = from_document(Enrollment, document)
        if stored.hold and _held_since(stored) <= on:
            status = stored.hold
        earlier = [change for change in stored.history if change.on <= on]
        if status == (earlier[-1].status if earlier else "in training"):
            return {"enrollment": enrollment.id}
        history = _in_date_order(stored.history + (StatusChange(status, on, reason),))
        self.tracker.tx.replace("enrollments", {**document, "history": [to_document(change) for change in history]})
        return {"enrollment": enrollment.id, "status": status}

    # -- certification -------------------------------------------------------------------------------

    def settle_leaders(self, program_key: str, peer_ids) -> None:
        """Grant or renew certifications that new sessions or observations may have completed."""
        program = self.tracker.catalog.program(program_key)
        facts = _Facts(self.tracker, peer_ids)
        for peer_id in peer_ids:
            for enrollment in self.tracker.load_all("enrollments", Enrollment, peer_id=peer_id, program=program.key):
                self._settle_certification(enrollment, program, program.pathway(enrollment.pathway), facts)

    def rules_in_force(self) -> dict:
        """{pathway: its summaries.Rules in force}, to tell afterwards which a change touched, and how."""
        return {pathway.key: summaries.rules(pathway, program.format)
                for program in self.tracker.catalog.programs.values() for pathway in program.pathways}

    def rejudge(self, rules_before: dict, why: str) -> None:
        """After a change of the rules (a setting): for every enrolment in a pathway whose rules now
        differ from `rules_before`, or whose base pathway's do, grant, renew or revoke what
        the rules decide, each transition audited with `why`, and store its summary. Enrolments
        in other pathways are left alone: their summaries still hold. Of the enrolments
        re-judged, only the steps the setting changed are judged from the records (see
        `_kept_progress`)."""
        rules_now = self.rules_in_force()
        changed = {key for key, rules in rules_now.items()
                   if key not in rules_before or rules_before[key].fingerprint != rules.fingerprint}
        if not changed:
            return
        documents = self.tracker.tx.all("enrollments")
        enrollments = self._enrollments_built_on(changed, documents)
        kept: dict = {}
        unread: dict = {}
        if self.tracker.rejudge_from_summaries:
            kept, unread = self._kept_progress(enrollments, rules_before, rules_now)
        self._rejudge_enrollments(enrollments, why, kept, _whole_peers(unread, documents))

    def _enrollments_built_on(self, pathway_keys, documents) -> list:
        """The enrolments of enabled programs in the pathways `pathway_keys` or in add-ons built on
        them (an endorsement stands or falls with its base); only those are rebuilt as entities."""
        wanted = set(pathway_keys) | {pathway.key for program in self.tracker.catalog.programs.values()
                                      for pathway in program.pathways if pathway.add_on_to in pathway_keys}
        programs = self.tracker.catalog.programs
        return [from_document(Enrollment, document) for document in documents
                if document["pathway"] in wanted and document["program"] in programs]

    def _kept_progress(self, enrollments, rules_before: dict, rules_now: dict) -> tuple[dict, dict]:
        """{enrollment id: {step key: progress}} of the steps a change of rules left alone (same
        kind, parameters and program format), read from the enrolment's stored summary when that
        summary held under the rules before: a step kind judges a step from its parameters, the
        records and the context only, none of which the setting changed, so that progress is
        still right (the listings trust the same summaries). An enrolment without such a summary
        is judged whole. Second, {enrollment id: (peer id, {step: latest record day})} of those
        whose summary says they have no record of a step to judge again (nor of the renewal):
        their records need not be read."""
        checker = summaries.Checker(self.tracker.today, self.tracker.catalog.step_kinds)
        kept_steps, kept, unread = {}, {}, {}
        for enrollment in enrollments:
            before, now = rules_before.get(enrollment.pathway), rules_now.get(enrollment.pathway)
            if before is None or now is None:
                continue
            document = self.tracker.tx.get(summaries.TABLE, enrollment.id, peer_id=enrollment.peer_id)
            if document is None or not checker.held_under(document, before):
                continue
            if enrollment.pathway not in kept_steps:
                keys = summaries.steps_kept(before, now)
                judged = {step.key for step in now.pathway.steps} - keys
                renewal = {now.pathway.renewal.key} if now.pathway.renewal else set()
                kept_steps[enrollment.pathway] = (keys, judged | renewal)
            keys, judged = kept_steps[enrollment.pathway]
            kept[enrollment.id] = summaries.step_progress(document, keys)
            recorded = document.get("records")
            if isinstance(recorded, dict) and not judged & set(recorded):
                unread[enrollment.id] = (enrollment.peer_id, recorded)
        return kept, unread

    def _pathway_of(self, enrollment):
        return self.tracker.catalog.programs[enrollment.program].pathway(enrollment.pathway)

    def _rejudge_enrollments(self, enrollments, why: str, kept=None, unread=None) -> None:
        """Grant, renew or revoke what the records and rules now decide for `enrollments`, each
        transition audited with `why`, and store their summaries. `kept`: step progress known
        to hold (see `_kept_progress`); given, the records do not change in this re-judgement,
        so each enrolment's steps are judged once; `unread`, enrolments whose records need not be
        read (see `_Facts`)."""
        facts = _Facts(self.tracker, {e.peer_id for e in enrollments}, unread)
        # Base credentials first: an add-on (endorsement) stands or falls with its base. (The
        # facts' catalog: asking the tracker for it looks up the settings, thousands of times here.)
        programs = facts.catalog.programs
        enrollments = sorted(enrollments,
                             key=lambda e: programs[e.program].pathway(e.pathway).add_on_to is not None)
        if kept is not None:
            facts.known, facts.remember = dict(kept), True
        for enrollment in enrollments:
            program = facts.catalog.programs[enrollment.program]
            pathway = program.pathway(enrollment.pathway)
            self._revoke_if_incomplete(enrollment, pathway, facts, why)
            self._settle_certification(enrollment, program, pathway, facts, why)

    def _revoke_if_incomplete(self, enrollment, pathway, facts, why) -> None:
        """Remove a current certification whose pathway the rules in force no longer complete
        (a lapsed one is history and stays), after undoing the renewals no longer complete."""
        self._unrenew_if_incomplete(enrollment, pathway, facts, why)
        existing = facts.certifications.get(enrollment.id)
        if existing is None or existing.lapsed(self.tracker.today):
            return
        states = self._states(pathway, self._context(enrollment, facts), facts, enrollment)
        if not self._complete(enrollment, pathway, states, facts):
            status = self._status_change(enrollment, "in training", self.tracker.today, why)
            self.tracker.store_removed("certifications", existing, "revoke", peer_id=enrollment.peer_id,
                               details={"pathway": pathway.key, "granted": existing.granted.isoformat(),
                                        "reason": why, **status})
            del facts.certifications[enrollment.id]

    def _unrenew_if_incomplete(self, enrollment, pathway, facts, why) -> None:
        """Put back the cycle a renewal ended while the records and rules in force no longer
        complete that renewal within it (a voided CEU, a higher total), newest renewal first."""
        existing = facts.certifications.get(enrollment.id)
        context = self._context(enrollment, facts)
        while existing is not None and existing.renewed_cycles and pathway.renewal is not None:
            cycle = existing.renewed_cycles[-1]
            in_cycle = attrs.evolve(existing, cycle_start=cycle.start, expires=cycle.expires)
            renewal = self._cycle_progress(pathway.renewal, in_cycle, context, facts, enrollment, until=cycle.expires)
            if renewal.done:
                return
            after = attrs.evolve(existing, cycle_start=cycle.start, expires=cycle.expires,
                                 renewed_cycles=existing.renewed_cycles[:-1])
            self.tracker.store_changed("certifications", existing, after, "unrenew", peer_id=enrollment.peer_id,
                               details={"pathway": pathway.key, "expires": cycle.expires.isoformat(),
                                        "reason": why})
            facts.certifications[enrollment.id] = existing = after

    def _complete(self, enrollment, pathway, states, facts) -> bool:
        """Every required step done and, for an add-on, its base credential current."""
        if not all(s.progress.done for s in states if not s.step.optional):
            return False
        return not pathway.add_on_to or self._base_certification(enrollment, facts) is not None

    def _settle_certification(self, enrollment, program, pathway, facts, why=None) -> None:
        """Grant or renew after a new record (or a change of rules, `why`); each transition is
        stored and fired once."""
        context = self._context(enrollment, facts)
        existing = facts.certifications.get(enrollment.id)
        because = {"reason": why} if why else {}
        if existing is None:
            states = self._states(pathway, context, facts, enrollment)
            if self._complete(enrollment, pathway, states, facts):
                base = self._base_certification(enrollment, facts) if pathway.add_on_to else None
                self._grant(enrollment, pathway, states, facts, base, why)
        else:
            renewal = self._renewal_progress(pathway, existing, context, facts, enrollment)
            if renewal is not None and renewal.done and _in_time(renewal, existing, self.tracker.today):
                ended = Cycle(existing.cycle_start or existing.granted, existing.expires)
                renewed = attrs.evolve(existing, cycle_start=existing.expires, lapsed_on=None,
                                       expires=shift_date(existing.expires, pathway.validity_days),
                                       renewed_cycles=existing.renewed_cycles + (ended,))
                # Done by the expiry, entered after a lapse was recorded: the lapse is undone on its day.
                done_on = renewal.completed_on or self.tracker.today
                status = self._status_change(enrollment, "certified", existing.lapsed_on,
                                             why or f"renewed (done {done_on}, by the expiry)") \
                    if existing.lapsed_on else {}
                self.tracker.store_changed("certifications", existing, renewed, "renew", peer_id=enrollment.peer_id,
                                   details={"expires": renewed.expires.isoformat(), **because, **status})
                facts.certifications[enrollment.id] = renewed
        self._lapse_if_expired(enrollment, facts)
        self._store_summary(enrollment, pathway, facts)

    def _lapse_if_expired(self, enrollment, facts) -> None:
        """A certification that has already expired as of today (granted on backdated records,
        reactivated from a past day) is recorded lapsed in the same change, as the sweep would."""
        certification = facts.certifications.get(enrollment.id)
        if certification is not None and certification.lapsed_on is None and certification.lapsed(self.tracker.today):
            facts.certifications[enrollment.id] = self._record_lapse(certification, enrollment)

    def _grant(self, enrollment, pathway, states, facts, base=None, why=None) -> None:
        completed = [s.progress.completed_on for s in states if s.progress.completed_on]
        granted = max(completed + ([base.granted] if base else []), default=self.tracker.today)
        expires = shift_date(granted, pathway.validity_days) if pathway.validity_days else None
        certification = Certification(
            id=self.tracker.tx.next_id("C"), enrollment_id=enrollment.id, peer_id=enrollment.peer_id,
            program=enrollment.program, pathway=pathway.key, granted=granted, expires=expires,
            cycle_start=granted,
        )
        status = self._status_change(enrollment, "certified", granted, why or "pathway completed")
        self.tracker.store_new("certifications", certification, "certify", peer_id=enrollment.peer_id,
                       details={"pathway": pathway.key, "expires": expires.isoformat() if expires else None,
                                **({"reason": why} if why else {}), **status})
        self.tracker.fire("certification_granted", certification=certification, enrollment=enrollment)
        facts.certifications[enrollment.id] = certification
        self._settle_add_ons(enrollment, pathway, facts, why)

    def _settle_add_ons(self, enrollment, pathway, facts, why=None) -> None:
        """A new base credential may complete add-ons (endorsements) that were waiting for it."""
        program = self.tracker.catalog.program(enrollment.program)
        for add_on in (p for p in program.pathways if p.add_on_to == pathway.key):
            for other in self.tracker.load_all("enrollments", Enrollment, peer_id=enrollment.peer_id,
                                               pathway=add_on.key):
                if other.id not in facts.certifications:
                    self._settle_certification(other, program, add_on, facts, why)

    def _base_certification(self, enrollment, facts):
        """The peer's current certification in the pathway an add-on builds on, if any."""
        program = self.tracker.catalog.program(enrollment.program)
        base = program.pathway(program.pathway(enrollment.pathway).add_on_to)
        for other in self.tracker.load_all("enrollments", Enrollment, peer_id=enrollment.peer_id, pathway=base.key):
            certification = facts.certifications.get(other.id)
            if certification and not certification.lapsed(self.tracker.today):
                return certification
        return None

    def _check_renewable(self, enrollment, pathway, step, facts) -> None:
        """A renewal record needs a current certification, a reactivation record a lapsed one;
        when the pathway asks for its renewal again to reactivate, it may be recorded either way."""
        certification = facts.certifications.get(enrollment.id)
        if certification is None:
            raise ValidationError(f"{enrollment.peer_id} has no {enrollment.pathway} certification to renew yet")
        lapsed = certification.lapsed(self.tracker.today)
        reactivating = step == (pathway.reactivation or pathway.renewal)
        if lapsed and not reactivating:
            raise ValidationError(
                f"{enrollment.peer_id}'s {enrollment.pathway} certification lapsed after {certification.expires}; "
                f"to reactivate, record '{pathway.reactivation.key}', then peerpath reactivate "
                f"{enrollment.peer_id} {enrollment.program}")
        if not lapsed and step == pathway.reactivation:
            raise ValidationError(f"'{step.key}' is for reactivating a lapsed certification; "
                                  f"{enrollment.peer_id}'s {enrollment.pathway} is current")

    def sweep_lapses(self) -> list:
        """Store every certification that has lapsed as of today; fires certification_lapsed once
        each. Only the certifications expired by today and not yet recorded lapsed are rebuilt,
        and only their enrolments read: a daily sweep touches the few that expired since."""
        with self.tracker.changing():
            today = self.tracker.today.isoformat()
            due = [from_document(Certification, document) for document in self.tracker.tx.all("certifications")
                   if not document.get("lapsed_on") and document.get("expires") and document["expires"] < today]
            documents = (self.tracker.tx.get("enrollments", c.enrollment_id, peer_id=c.peer_id) for c in due)
            enrollments = [from_document(Enrollment, document) for document in documents if document]
            return self._sweep_lapses(enrollments, due)

    def _sweep_lapses(self, enrollments, certifications=None) -> list:
        """Record the lapse of each of `certifications` (by default the enrolments' own) that has
        expired as of today and is not recorded yet."""
        lapsed = []
        by_id = {e.id: e for e in enrollments}
        if certifications is None:
            certifications = [from_document(Certification, doc) for peer_id in {e.peer_id for e in enrollments}
                              for doc in self.tracker.tx.search("certifications", peer_id=peer_id)]
        for certification in certifications:
            enrollment = by_id.get(certification.enrollment_id)
            if enrollment is None or certification.lapsed_on or not certification.lapsed(self.tracker.today):
                continue
            lapsed.append(self._record_lapse(certification, enrollment))
        return lapsed

    def _record_lapse(self, certification, enrollment):
        """Store the lapse of an expired certification: the leader becomes the pathway's lapse
        status (lapsed, or inactive for a commitment) from the day after expiry."""
        pathway = self._pathway_of(enrollment)
        after = attrs.evolve(certification, lapsed_on=shift_date(certification.expires, 1))
        reason = f"{pathway.lapse_reason} (expired {certification.expires})"
        status = self._status_change(enrollment, pathway.lapse_status, after.lapsed_on, reason)
        self.tracker.store_changed("certifications", certification, after, "lapse", peer_id=certification.peer_id,
                           details={"expired": certification.expires.isoformat(), "reason": reason, **status})
        self.tracker.fire("certification_lapsed", certification=after, enrollment=enrollment)
        return after

    # -- progress ------------------------------------------------------------------------------------

    def progress(self, peer_id: str, program_key: Optional[str] = None) -> list:
        """PathwayStatus of each of the peer's enrolments in enabled programs."""
        with self.tracker.reading():
            self.tracker.load("peers", Peer, peer_id, "peer")
            if program_key is not None:
                self.tracker.catalog.program(program_key)
            enrollments = self.tracker.load_all("enrollments", Enrollment, peer_id=peer_id)
            enrollments = [e for e in enrollments if program_key in (None, e.program)]
            if program_key is not None and not enrollments:
                raise ValidationError(f"{peer_id} is not enrolled in {program_key}")
            return self._statuses(enrollments, [peer_id])

    def leaders(self, program=None, status=None, expiring_within=None, where=None, steps=True) -> list:
        """Every enrolled leader's status, filtered by program, status or upcoming expiry, and
        by `where`, a PeerFilter (core.filters) of the leaders' peers. Without `steps`, each
        status holds only how many steps are done and the next ones (read from the summaries'
        heads, a quarter of the summaries: what a table of every leader shows)."""
        from .entities import LEADER_STATUSES

        if program is not None:
            self.tracker.catalog.program(program)
        if status is not None and status not in LEADER_STATUSES:
            raise ValidationError(f"unknown status '{status}': choose from {', '.join(LEADER_STATUSES)}")
        if expiring_within is not None and expiring_within < 0:
            raise ValidationError("--expiring-within must be 0 or more days")
        where = self.tracker.check_filter(where)
        with self.tracker.reading():
            found = self._statuses([e for e in self._enrollments(where) if program in (None, e.program)],
                                   steps=steps)
        if status is not None:
            found = [s for s in found if s.status == status]
        if expiring_within is not None:
            horizon = shift_date(self.tracker.today, expiring_within)
            found = [s for s in found if s.status == "certified" and s.certification.expires
                     and s.certification.expires <= horizon]
        return found

    def standings(self, where=None) -> list:
        """Each enrolled leader's Standing in the enabled programs, as `leaders` lists them
        (`where`, a PeerFilter of their peers), without reading their steps or summaries."""
        where = self.tracker.check_filter(where)
        programs = self.tracker.catalog.programs
        with self.tracker.reading():
            enrollments = self._visible(self._enrollments(where))
            certifications = {d["enrollment_id"]: from_document(Certification, d)
                              for d in self.tracker.tx.all("certifications")}
        standings = []
        for enrollment in enrollments:
            program, certification = programs[enrollment.program], certifications.get(enrollment.id)
            status = _leader_status(enrollment, certification, self.tracker.today, program.pathway(enrollment.pathway))
            standings.append(Standing(enrollment.peer_id, enrollment, program, status, certification))
        return standings

    def _visible(self, enrollments) -> list:
        """The enrolments of enabled programs (a disabled one's are kept, hidden), in listing order."""
        programs = self.tracker.catalog.programs
        return sorted((e for e in enrollments if e.program in programs), key=lambda e: (e.peer_id, e.program, e.role))

    def _enrollments(self, where) -> list:
        """The enrolments of the peers `where` (a checked PeerFilter) matches; inside `reading()`."""
        enrollments = self.tracker.load_all("enrollments", Enrollment)
        if where.given():
            chosen = {peer["id"] for peer in self.tracker.peer_documents(where=where)}
            enrollments = [e for e in enrollments if e.peer_id in chosen]
        return enrollments

    def _statuses(self, enrollments, peer_ids=None, steps=True) -> list:
        """Status of each enrolment of an enabled program; stored summaries (without `steps`,
        their heads) stand in for the records when listing everyone (see core.summaries)."""
        programs = self.tracker.catalog.programs
        visible = self._visible(enrollments)
        stored = {} if peer_ids is not None else self._stored_summaries(visible, steps)
        checker = summaries.Checker(self.tracker.today, self.tracker.catalog.step_kinds)
        stale = {e.peer_id for e in visible
                 if not checker.usable(stored.get(e.id), programs[e.program], programs[e.program].pathway(e.pathway))}
        facts = _Facts(self.tracker, stale if peer_ids is None else peer_ids)
        if peer_ids is None:
            facts.certifications = {d["enrollment_id"]: from_document(Certification, d)
                                    for d in self.tracker.tx.all("certifications")}
        peers = {}
        result = []
        for enrollment in visible:
            document = None if enrollment.peer_id in stale else stored.get(enrollment.id)
            if enrollment.peer_id not in peers:
                peers[enrollment.peer_id] = self._peer_ref(enrollment.peer_id, document)
            program = programs[enrollment.program]
            result.append(self._status(peers[enrollment.peer_id], enrollment, program, facts, document))
        return result

    def _stored_summaries(self, visible, steps) -> dict:
        """{enrolment id: its stored summary, or without `steps` its head}; an enrolment with no
        head yet (a database from before heads) has its summary, read from its peer's chunk."""
        tx = self.tracker.tx
        if steps:
            return {d["id"]: d for d in tx.all(summaries.TABLE)}
        stored = {d["id"]: d for d in tx.all(summaries.HEADS)}
        for enrollment in visible:
            if enrollment.id not in stored:
                stored[enrollment.id] = tx.get(summaries.TABLE, enrollment.id, peer_id=enrollment.peer_id)
        return stored

    def _peer_ref(self, peer_id: str, summary=None) -> PeerRef:
        """The peer's id and name, from its stored summary when it has one (so listing every
        leader need not read every peer)."""
        if summary is not None and summary.get("name"):
            return PeerRef(peer_id, summary["name"])
        document = self.tracker.tx.get("peers", peer_id)
        if document is None:  # load refuses it with the usual "no peer" message
            return PeerRef(peer_id, self.tracker.load("peers", Peer, peer_id, "peer").name)
        return PeerRef(peer_id, document["name"])

    def _status(self, peer, enrollment, program, facts, summary=None) -> PathwayStatus:
        pathway = program.pathway(enrollment.pathway)
        certification = facts.certifications.get(enrollment.id)
        steps: tuple | summaries.StoredSteps | summaries.CountedSteps
        if summary is not None:
            steps, renewal, last_activity = summaries.restore(summary, pathway, StepState)
        else:
            states, renewal, last_activity = self._evaluate(enrollment, pathway, facts)
            steps = tuple(states)
        return PathwayStatus(
            peer=peer, enrollment=enrollment, program=program, pathway=pathway, steps=steps,
            status=_leader_status(enrollment, certification, self.tracker.today, pathway),
            certification=certification, renewal=renewal, last_activity=last_activity,
        )

    def _evaluate(self, enrollment, pathway, facts) -> tuple[list, Optional[StepProgress], Optional[dt.date]]:
        """(step states, renewal progress, last activity) computed from the records."""
        context = self._context(enrollment, facts)
        states = self._states(pathway, context, facts, enrollment)
        renewal = self._renewal_progress(pathway, facts.certifications.get(enrollment.id), context, facts,
                                         enrollment)
        last_record = facts.last_record_on(enrollment.id)
        last_activity = max(([last_record] if last_record else []) + [s.on for s in context.sessions_led()]
                            + [o.on for o in context.observations()], default=None)
        return states, renewal, last_activity

    def _store_summary(self, enrollment, pathway, facts) -> None:
        stored = self.tracker.tx.get(summaries.TABLE, enrollment.id, peer_id=enrollment.peer_id)
        # The name a summary holds is kept current (summaries.rename), so the peer is read only
        # for a first summary: a re-judgement of thousands need not read every peer.
        name = stored["name"] if stored and stored.get("name") else \
            (self.tracker.tx.get("peers", enrollment.peer_id) or {}).get("name")
        program = facts.catalog.programs[enrollment.program]
        document = summaries.summary_document(enrollment, name, program, pathway,
                                              *self._evaluate(enrollment, pathway, facts), self.tracker.today,
                                              facts.fingerprint(pathway, program.format), facts.recorded(enrollment.id))
        summaries.store(self.tracker.tx, document, stored)

    def refresh_summaries(self) -> int:
        """Recompute the stored summaries that do not hold for today (their pathway's rules or a
        plugin changed since, or their progress depends on the date and was computed on another
        day); the others still hold and are left as they are, and given their head if they have
        none (a database from before heads). How many were recomputed."""
        with self.tracker.changing():
            programs = self.tracker.catalog.programs
            checker = summaries.Checker(self.tracker.today, self.tracker.catalog.step_kinds)
            stored = {document["id"]: document for document in self.tracker.tx.all(summaries.TABLE)}
            # Checked on the stored documents: only the stale enrolments are rebuilt as entities.
            stale = [from_document(Enrollment, document) for document in self.tracker.tx.all("enrollments")
                     if document["program"] in programs and not checker.usable(
                         stored.get(document["id"]), programs[document["program"]],
                         programs[document["program"]].pathway(document["pathway"]))]
            if stale:
                facts = _Facts(self.tracker, {e.peer_id for e in stale})
                for enrollment in stale:
                    self._store_summary(enrollment, programs[enrollment.program].pathway(enrollment.pathway), facts)
            summaries.add_missing_heads(self.tracker.tx, stored.values())
        return len(stale)

    def _states(self, pathway, context, facts, enrollment) -> list:
        known = facts.known.get(enrollment.id, {})
        catalog = facts.catalog
        progress = {}
        for step in pathway.steps:
            if step.key in known:
                progress[step.key] = known[step.key]
                continue
            kind = catalog.step_kind(step.kind)
            progress[step.key] = kind.progress(step, facts.records_of(enrollment.id, step.key), context)
        if facts.remember:
            facts.known[enrollment.id] = progress
        return [
            StepState(step, progress[step.key],
                      tuple(req for req in step.requires if not progress[req].done))
            for step in pathway.steps
        ]

    def _renewal_progress(self, pathway, certification, context, facts, enrollment):
        """The renewal step judged on the current cycle only (since the grant or the last renewal):
        what renewed the certification once must not renew it again."""
        if certification is None or pathway.renewal is None:
            return None
        return self._cycle_progress(pathway.renewal, certification, context, facts, enrollment)

    def _cycle_progress(self, step, certification, context, facts, enrollment, until=dt.date.max):
        """`step` judged on the records, sessions and observations from the certification's
        cycle start (or grant) on, up to `until`."""
        start = certification.cycle_start or certification.granted

        def within(day):
            return start <= day <= until

        records = [r for r in facts.records_of(enrollment.id, step.key) if within(r.on)]
        sessions, observations = context.sessions_led, context.observations
        in_cycle = attrs.evolve(context, sessions_led=lambda: [s for s in sessions() if within(s.on)],
                                observations=lambda: [o for o in observations() if within(o.on)],
                                cycle_start=start)
        return facts.catalog.step_kind(step.kind).progress(step, records, in_cycle)

    def _context(self, enrollment, facts) -> StepContext:
        key = (enrollment.peer_id, enrollment.program)
        return StepContext(
            today=self.tracker.today, peer_id=enrollment.peer_id, program=enrollment.program,
            records_for=lambda step_key: facts.records_of(enrollment.id, step_key),
            sessions_led=lambda: list(facts.sessions.get(key, [])),
            observations=lambda: list(facts.observations.get(key, [])),
            format=facts.catalog.programs[enrollment.program].format,
            offering=facts.offering, offering_session_days=facts.offering_session_days,
        )


def _whole_peers(unread: dict, enrollment_documents) -> dict:
    """`unread` without the peers one of whose enrolments it does not name: a peer's records are
    read for all of their enrolments or for none."""
    named = defaultdict(set)
    for document in enrollment_documents:
        named[document["peer_id"]].add(document["id"])
    return {enrollment_id: entry for enrollment_id, entry in unread.items()
            if named[entry[0]] <= unread.keys()}


def _in_time(renewal, certification, today) -> bool:
    """Whether a complete renewal renews: done by the day the certification expires, even when
    recorded after it (what is done after a lapse is a reactivation)."""
    done_on = renewal.completed_on or today
    return certification.expires is None or done_on <= certification.expires


def _leader_status(enrollment, certification, today, pathway) -> str:
    held = _hold_as_of(enrollment, today)
    if held:
        return held
    if certification is None or certification.granted > today:  # a view as of a day before it was granted
        return "in training"
    return pathway.lapse_status if certification.lapsed(today) else "certified"


def _in_date_order(history: tuple) -> tuple:
    """A leader's status history by date; changes of one day in the order they were recorded."""
    return tuple(sorted(history, key=lambda change: change.on))


def _hold_as_of(enrollment, today: dt.date) -> Optional[str]:
    """The hold (on hold, inactive) in force on `today` by the dated history: as of a day before
    a hold began the leader is not held, as of a day inside one that has since ended they are.
    (An enrolment stored before histories were kept: its hold as set.)"""
    if not enrollment.history:
        return enrollment.hold
    so_far = [change for change in enrollment.history if change.on <= today]
    return so_far[-1].status if so_far and so_far[-1].status in HOLD_STATUSES else None


def _held_since(enrollment) -> dt.date:
    """When the hold in force began: the first of the history's last run of entries in the hold's
    status (a lapse noted during a hold is noted in it). A view as of an earlier day is not held."""
    since = dt.date.min
    for change in reversed(enrollment.history):
        if change.status != enrollment.hold:
            break
        since = change.on
    return since


def _check_lived_experience(peer, program) -> None:
    allowed = tuple(program.leader_requirements.get("lived_experience") or ())
    if not allowed:
        return
    if peer.lived_experience is None:
        raise ValidationError(
            f"{program.title} leaders need lived experience ({' or '.join(allowed)}); "
            f"{peer.id} has none recorded (peerpath peer edit {peer.id} --lived-experience ...)"
        )
    if peer.lived_experience not in allowed:
        raise ValidationError(
            f"{program.title} leaders need lived experience '{' or '.join(allowed)}'; "
            f"{peer.id} has '{peer.lived_experience}'"
        )


# The consent flag a coordinator sets when a peer's age is confirmed but their birth date is not
# kept: `peer edit P0001 --consent adult=yes` ("18+ confirmed").
ADULT_CONSENT, ADULT_AGE = "adult", 18


def _check_eligibility(peer, program, on) -> None:
    """The age and NAMI membership a program's leaders need (its `min_age` and
    `nami_membership` leader requirements), as of the enrolment date."""
    requirements = program.leader_requirements
    min_age = requirements.get("min_age")
    if min_age is not None and not _old_enough(peer, int(min_age), on):
        if peer.birth_date:
            known = f"was born {peer.birth_date}"
        elif peer.consent.get(ADULT_CONSENT):
            known = "has only an 18+ confirmation"
        else:
            known = "has no birth date or 18+ confirmation"
        adult = f", or --consent {ADULT_CONSENT}=yes" if int(min_age) <= ADULT_AGE else ""
        raise ValidationError(
            f"{program.title} leaders must be {min_age} or older: {peer.id} {known} "
            f"(peerpath peer edit {peer.id} --birth-date DATE{adult})"
        )
    if requirements.get("nami_membership") and not (peer.member_until and peer.member_until >= on):
        known = f"ended {peer.member_until}" if peer.member_until else "is not recorded"
        raise ValidationError(
            f"{program.title} leaders must be NAMI members: {peer.id}'s membership {known} "
            f"(peerpath peer edit {peer.id} --member-until DATE)"
        )


def _old_enough(peer, min_age: int, on) -> bool:
    if peer.birth_date is not None:
        born = peer.birth_date
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day)) >= min_age
    return min_age <= ADULT_AGE and peer.consent.get(ADULT_CONSENT) is True


def _check_prerequisites(pathway, step, record, states) -> None:
    by_key = {s.step.key: s for s in states}
    for requirement in step.requires:
        needed = by_key[requirement].progress
        if not needed.done:
            raise OverridableError(f"'{step.key}' needs '{requirement}' first ({needed.summary}); {OVERRIDE_HINT}")
        if needed.completed_on and needed.completed_on > record.on:
            raise OverridableError(
                f"'{step.key}' on {record.on} is before its prerequisite '{requirement}' "
                f"was completed ({needed.completed_on}); {OVERRIDE_HINT}"
            )


def _check_nothing_broken(step, record, before, after) -> None:
    """Refuse a record that would make another step fail, e.g. a training that comes too soon
    after the online course it must follow by some days."""
    for old, new in zip(before, after):
        if new.step.key != step.key and new.progress.state == FAILED and old.progress.state != FAILED:
            raise OverridableError(
                f"'{step.key}' on {record.on} would make '{new.step.key}' fail: {new.progress.summary}; "
                f"{OVERRIDE_HINT}"
            )
