"""Offerings (groups and classes), their sessions, and model-fidelity observations.

Scoring rules, the same for every checklist a plugin registers:
- a yes/no item earns its weight for "yes" and 0 for "no";
- a 1-5 rating earns weight x rating out of weight x 5 (the IPS-25 convention: totals, not
  rescaled ratings, so a checklist of 25 rated items has a maximum of 125);
- "insufficient data" (only where the item allows it) leaves the item out of score and maximum;
- a critical item fails on "no", on a rating below 3, or on insufficient data (it was not shown
  to be met); any critical failure means the observation does not pass, whatever its score;
- the band is the highest band whose minimum percentage the score reaches; the observation
  passes when it has no critical failure and reaches the checklist's `pass_band`.

When a leader is observed next (`fidelity due`): a new leader by the program's
`format.first_observation_within_days` from their first offering, then every
`format.observation_interval_days` after their last observation, unless the last scores say
otherwise (adaptive fidelity, the program's `fidelity` settings, whose keys are
core.program_model.ADAPTIVE_SETTINGS):
- a last observation that needs support (its score below `fidelity.support_below_percent`, or a
  critical item missed) is followed by another within `fidelity.support_within_days`;
- `fidelity.good_streak` passing observations in a row (the latest ones) are followed by the
  next after `fidelity.good_interval_days`.
A setting left None (a figure nobody publishes) changes nothing: the plain interval applies.
"""

import csv
import io
import json
from collections import Counter, defaultdict
from typing import Optional

import attrs

from .entities import (ENDED_STATUSES, Enrollment, Observation, Offering, Peer, SessionRecord, parse_date, shift_date,
                       text_tuple)
from .errors import ValidationError
from .serialize import from_document, unreadable_refused
from .session import Service

INSUFFICIENT = "insufficient"
YES = {"yes", "y", "true", "1", "met"}
NO = {"no", "n", "false", "0", "not met"}
CRITICAL_RATING = 3

@attrs.frozen
class Score:
    score: float
    max_score: float
    percent: float
    band: Optional[str]
    critical_failed: tuple
    passed: bool
    missed: tuple


def _answer(item, raw):
    """The normalised answer to one item, or a ValidationError naming the item."""
    text = str(raw).strip().lower()
    if text in (INSUFFICIENT, "insufficient data", "n/a", "na"):
        if not item.allow_insufficient:
            raise ValidationError(f"item '{item.key}' does not allow 'insufficient data'")
        return INSUFFICIENT
    if item.type == "yes_no":
        if text in YES:
            return "yes"
        if text in NO:
            return "no"
        raise ValidationError(f"item '{item.key}' needs yes or no, not '{raw}'")
    try:
        rating = int(text)
    except ValueError:
        rating = None
    if rating is None or not 1 <= rating <= 5 or str(rating) != text:
        raise ValidationError(f"item '{item.key}' needs a rating from 1 to 5, not '{raw}'")
    return rating


def normalise_answers(checklist, answers: dict) -> dict:
    """Every item answered with a valid value; unknown or missing items are refused by name."""
    known = {item.key: item for item in checklist.items}
    unknown = sorted(set(answers) - set(known))
    if unknown:
        raise ValidationError(f"checklist '{checklist.key}' has no item '{unknown[0]}'")
    missing = [key for key in known if key not in answers or str(answers[key]).strip() == ""]
    if missing:
        raise ValidationError(f"item '{missing[0]}' of checklist '{checklist.key}' is not answered")
    return {key: _answer(known[key], answers[key]) for key in known}


def score(checklist, answers: dict) -> Score:
    """Score normalised answers against a checklist (see the module docstring)."""
    total = maximum = 0.0
    critical, missed = [], []
    for item in checklist.items:
        answer = answers[item.key]
        if answer == INSUFFICIENT:
            if item.critical:
                critical.append(item.key)
            continue
        earned = (1.0 if answer == "yes" else 0.0) if item.type == "yes_no" else float(answer)
        top = 1.0 if item.type == "yes_no" else 5.0
        total += item.weight * earned
        maximum += item.weight * top
        met = answer == "yes" if item.type == "yes_no" else answer >= CRITICAL_RATING
        if not met:
            missed.append(item.key)
            if item.critical:
                critical.append(item.key)
    percent = round(100.0 * total / maximum, 1) if maximum else 0.0
    band = _band(checklist, percent)
    return Score(total, maximum, percent, band, tuple(critical), _passes(checklist, percent, critical),
                 tuple(missed))


def _band(checklist, percent):
    for band in sorted(checklist.bands, key=lambda b: -b.min_percent):
        if percent >= band.min_percent:
            return band.name
    return None


def _passes(checklist, percent, critical) -> bool:
    if critical:
        return False
    if checklist.pass_band is None:
        return True
    needed = next(b.min_percent for b in checklist.bands if b.name == checklist.pass_band)
    return percent >= needed


def read_answers(path: str) -> dict:
    """Answers from a JSON object {item: answer} or a CSV with columns item,answer."""
    try:
        text = open(path, encoding="utf-8-sig").read()
    except OSError as error:
        raise ValidationError(f"cannot read answers file '{path}': {error.strerror}") from None
    except UnicodeDecodeError:
        raise ValidationError(f"answers file {path} is not UTF-8 text") from None
    if path.lower().endswith(".json"):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise ValidationError(f"{path} is not valid JSON: {error}") from None
        if not isinstance(data, dict):
            raise ValidationError(f"{path} must hold an object of item: answer")
        return {str(k): v for k, v in data.items()}
    try:
        rows = list(csv.DictReader(io.StringIO(text)))
    except csv.Error as error:
        raise ValidationError(f"{path} is not a readable CSV: {error}") from None
    if not rows or not {"item", "answer"} <= set(rows[0]):
        raise ValidationError(f"{path} needs the columns item,answer")
    return {(row["item"] or "").strip(): (row["answer"] or "").strip() for row in rows}


def _cadence(value):
    """A cadence as typed: case and spaces ignored ("Weekly" is weekly); None when not given."""
    return " ".join(value.split()).lower() if isinstance(value, str) and value.strip() else None


class Fidelity(Service):
    """Offerings, sessions and observations (a Tracker service)."""

    # -- offerings and sessions --------------------------------------------------------------------

    def add_offering(self, program_key, name, leaders=(), schedule=None, location=None, started=None,
                     status="running", ended=None, cadence=None, language=None):
        with self.tracker.changing():  # first: the catalog is read under the change's own lock
            program = self.tracker.catalog.program(program_key)
            leaders = self._check_leaders(program.key, text_tuple(leaders))
            offering = Offering(id=self.tracker.tx.next_id("O"), program=program.key, name=name, leaders=leaders,
                                schedule=schedule, location=location, started=started, status=status, ended=ended,
                                cadence=_cadence(cadence), language=language)
            self._check_end(offering)
            self.tracker.store_new("offerings", offering, "add", details={"program": program.key})
        return offering

    def edit_offering(self, offering_id, **changes) -> Offering:
        """Change an offering's name, leaders, schedule, cadence, language, location, start, end
        date, status or number of graduates."""
        unknown = set(changes) - {"name", "leaders", "schedule", "location", "started", "ended", "status",
                                  "cadence", "language", "graduates"}
        if unknown:
            raise ValidationError(f"cannot edit offering field(s): {', '.join(sorted(unknown))}")
        if not changes:
            raise ValidationError("nothing to change: give at least one field")
        with self.tracker.changing():
            before = self.offering(offering_id)
            if "leaders" in changes:
                changes["leaders"] = self._check_leaders(before.program, text_tuple(changes["leaders"]))
            if "cadence" in changes:
                changes["cadence"] = _cadence(changes["cadence"])
            after = attrs.evolve(before, **changes)
            self._check_end(after)
            named = len(self.tracker.tx.search("peers", graduate_of=after.id))
            if after.graduates is not None and named > after.graduates:
                raise ValidationError(f"--graduates {after.graduates} is fewer than the {named} graduates "
                                      f"of {after.id} named")
            changed = sorted(k for k in changes if getattr(before, k) != getattr(after, k))
            if not changed:
                raise ValidationError(f"{offering_id} already has those values")
            self.tracker.store_changed("offerings", before, after, "edit", details={"fields": changed})
            self.tracker.settle_leaders(after.program, sorted(set(before.leaders) | set(after.leaders)))
        return after

    def close_offering(self, offering_id, on=None, cancelled=False, graduates=None, graduate=()) -> Offering:
        """Mark an offering completed (or cancelled) on `on` (default today); a completed one with
        its number of `graduates` and the graduates named who consent to be contacted (`graduate`:
        peer ids, linked to it, or names, added as prospects), a recruitment source (core.graduates)."""
        from .graduates import close_with_graduates

        return close_with_graduates(self.tracker, offering_id, on, cancelled, graduates, graduate)

    def _check_end(self, offering) -> None:
        """A completed or cancelled offering has ended, by a date that is not in the future; only
        a completed one has graduates."""
        if offering.status in ENDED_STATUSES:
            if offering.ended is None:
                raise ValidationError(f"a {offering.status} offering needs its end date (--ended)")
            self.tracker.check_not_future(offering.ended)
        if offering.graduates is not None and offering.status != "completed":
            raise ValidationError(f"only a completed offering has graduates ({offering.id} is {offering.status})")

    def offerings(self, program_key=None) -> list:
        enabled = self.tracker.catalog.programs
        if program_key is not None:
            self.tracker.catalog.program(program_key)
        with self.tracker.reading():
            found = self.tracker.load_all("offerings", Offering)
        return [o for o in found if o.program in enabled and program_key in (None, o.program)]

    def offering(self, offering_id: str) -> Offering:
        with self.tracker.reading():
            offering = self.tracker.load("offerings", Offering, offering_id, "offering")
        self.tracker.catalog.program(offering.program)  # a disabled program's offerings are hidden
        return offering

    def add_session(self, offering_id, on, leaders=None, attendance=None) -> SessionRecord:
        """Record a meeting of a group or class; it counts toward its leaders' pathway steps."""
        with self.tracker.changing():
            offering = self.offering(offering_id)
            leaders = self._check_leaders(offering.program, text_tuple(leaders) or offering.leaders)
            session = SessionRecord(id=self.tracker.tx.next_id("S"), offering_id=offering.id,
                                    program=offering.program, on=on or self.tracker.today, leaders=leaders,
                                    attendance=attendance)
            self.tracker.check_not_future(session.on)
            self.tracker.store_new("sessions", session, "add", details={"offering": offering.id})
            self.tracker.fire("session_recorded", session=session, offering=offering)
            self.tracker.settle_leaders(offering.program, leaders)
        return session

    def sessions(self, offering_id: str) -> list:
        with self.tracker.reading():
            return sorted(self.tracker.load_all("sessions", SessionRecord, offering_id=offering_id), key=lambda s: s.on)

    def _check_leaders(self, program_key, leaders) -> tuple:
        for peer_id in leaders:
            self.tracker.load("peers", Peer, peer_id, "peer")
            if not self.tracker.tx.search("enrollments", peer_id=peer_id, program=program_key):
                raise ValidationError(f"{peer_id} is not a {program_key} leader: enrol them first")
        return tuple(leaders)

    # -- observations --------------------------------------------------------------------------------

    def observe(self, offering_id, checklist_key, observer, answers: dict, on=None, leaders=None):
        """Score and store a fidelity observation of an offering; with `checklist_key` None, on
        the program's current checklist (an earlier version is used only when named)."""
        with self.tracker.changing():
            offering = self.offering(offering_id)
            checklist = self.tracker.catalog.current_checklist(offering.program) if checklist_key is None \
                else self.tracker.catalog.checklist(checklist_key)
            if checklist.program != offering.program:
                raise ValidationError(
                    f"checklist '{checklist.key}' is for {checklist.program}, not {offering.program}"
                )
            leaders = self._check_leaders(offering.program, text_tuple(leaders) or offering.leaders)
            normalised = normalise_answers(checklist, answers)
            result = score(checklist, normalised)
            observation = Observation(
                id=self.tracker.tx.next_id("F"), offering_id=offering.id, program=offering.program,
                checklist=checklist.key, checklist_version=checklist.version, observer=observer,
                on=on or self.tracker.today, leaders=leaders, answers=normalised, score=result.score,
                max_score=result.max_score, percent=result.percent, band=result.band,
                critical_failed=result.critical_failed, passed=result.passed,
            )
            self.tracker.check_not_future(observation.on)
            self.tracker.store_new("observations", observation, "observe",
                           details={"offering": offering.id, "percent": result.percent, "band": result.band})
            self.tracker.fire("observation_recorded", observation=observation, offering=offering)
            self.tracker.settle_leaders(offering.program, leaders)
        return observation

    def observations(self, program=None, offering=None, leader=None) -> list:
        enabled = self.tracker.catalog.programs
        with self.tracker.reading():
            found = self.tracker.load_all("observations", Observation)
        return sorted(
            (o for o in found if o.program in enabled and program in (None, o.program)
             and offering in (None, o.offering_id) and (leader is None or leader in o.leaders)),
            key=lambda o: (o.on, o.id),
        )

    # -- reports --------------------------------------------------------------------------------------

    def fidelity_report(self, program=None, offering=None, leader=None) -> dict:
        """Scores over time per offering and leader, the items most often missed, and drift."""
        if program is not None:
            self.tracker.catalog.program(program)
        if offering is not None:
            self.offering(offering)
        if leader is not None:
            self.tracker.peer(leader)
        found = self.observations(program=program, offering=offering, leader=leader)
        by_offering: defaultdict[str, list] = defaultdict(list)
        by_leader: defaultdict[str, list] = defaultdict(list)
        missed: Counter = Counter()
        for observation in found:
            point = {"on": observation.on.isoformat(), "observation": observation.id,
                     "percent": observation.percent, "band": observation.band,
                     "passed": observation.passed, "critical_failed": list(observation.critical_failed)}
            by_offering[observation.offering_id].append(point)
            for peer_id in observation.leaders:
                by_leader[peer_id].append(point)
            missed.update(_missed_items(observation))
        return {
            "observations": len(found),
            "offerings": dict(by_offering),
            "leaders": dict(by_leader),
            "most_missed": [{"item": item, "times": times} for item, times in missed.most_common(5)],
            "drift": [
                {"offering": offering_id, "from": before["percent"], "to": after["percent"],
                 "between": [before["on"], after["on"]], "drop": round(before["percent"] - after["percent"], 1)}
                for offering_id, points in by_offering.items()
                for before, after in zip(points, points[1:]) if after["percent"] < before["percent"]
            ],
        }

    def fidelity_due(self, program=None) -> list:
        """Leaders who need an observation: new leaders once their first offering has begun (by
        `first_observation_within_days`), then every `observation_interval_days` or as the
        program's adaptive `fidelity` settings decide from their last scores (`next_interval`).
        Each says why (`reason`) and by which `rule`; `overdue_days` is negative while the due
        date is still ahead."""
        return self.observation_schedule(program, upcoming=False)

    def observation_schedule(self, program=None, upcoming: bool = True) -> list:
        """Every leader's next observation due date, as `fidelity_due` lists them, with (when
        `upcoming`) those not due yet too: what a change of a setting would move (config set
        --dry-run)."""
        programs = self.tracker.catalog.programs
        if program is not None:
            self.tracker.catalog.program(program)
        with self.tracker.reading() as tx:
            offerings = [o for o in self.tracker.load_all("offerings", Offering)
                         if o.program in programs and program in (None, o.program)]
            first_led = _first_led(offerings, self._session_days({o.id for o in offerings if not o.started}))
            # Only leaders who have led something can be due: only their enrolments are read,
            # and the others' track is not judged.
            stored = tx.all("enrollments")
            with unreadable_refused(Enrollment, stored):
                leading = [from_document(Enrollment, d) for d in stored if (d["peer_id"], d["program"]) in first_led]
            holds = {(e.peer_id, e.program): e.hold for e in leading}
            probation = self._new_leader_track(leading)
        history = defaultdict(list)  # (peer, program): their observations, oldest first
        for observation in self.observations():
            for peer_id in observation.leaders:
                history[(peer_id, observation.program)].append(observation)
        due = []
        for (peer_id, program_key), (began, offering) in sorted(first_led.items()):
            if holds.get((peer_id, program_key)):
                continue  # on hold or inactive leaders lead nothing
            program = programs[program_key]
            seen = history.get((peer_id, program_key), [])
            last = seen[-1].on if seen else None
            left = probation.get((peer_id, program_key))
            new_leader = last is None or left is not None
            if new_leader:
                due_on = shift_date(began, int(program.format.get("first_observation_within_days", 0)))
                track = "; ".join(left) if left else "never observed"
                reason = f"new leader: {track}; first offering {offering.id} began {began}"
                rule = "new leader"
                support = _needs_support(program, seen[-1]) if seen else None
                within = program.fidelity.get("support_within_days")
                if support and within is not None and shift_date(seen[-1].on, int(within)) < due_on:
                    due_on = shift_date(seen[-1].on, int(within))
                    reason += f"; {support}: re-observe within {within} days"
                    rule = "needs support"
            else:
                days, reason, rule = next_interval(program, seen)
                due_on = shift_date(seen[-1].on, days)  # not a new leader: observed before
            # A new leader needs an observation from the day their first offering begins (the
            # due date is the deadline); a long-standing one once the interval has passed.
            if upcoming or (new_leader and began <= self.tracker.today) or due_on <= self.tracker.today:
                due.append({"peer": peer_id, "program": program_key, "due": due_on.isoformat(),
                            "overdue_days": (self.tracker.today - due_on).days,
                            "last_observed": last.isoformat() if last else None,
                            "last_percent": seen[-1].percent if seen else None,
                            "rule": rule, "reason": reason})
        return due

    def _session_days(self, offering_ids) -> defaultdict:
        """{offering: the days of its sessions} of the offerings `offering_ids`; inside `reading()`."""
        sessions = self.tracker.tx.all("sessions")
        days = defaultdict(list)
        with unreadable_refused(SessionRecord, sessions):
            for session in sessions:
                if session["offering_id"] in offering_ids:
                    days[session["offering_id"]].append(parse_date(session["on"]))
        return days

    def _new_leader_track(self, enrollments) -> dict:
        """{(peer, program): the steps left of the new-leader (probation) track}: a pathway's
        optional steps, such as co-facilitating with a trained partner and a first observation
        that meets fidelity. They grant no certification; a leader stays new until they are done."""
        programs = self.tracker.catalog.programs
        with_track = [e for e in enrollments
                      if any(step.optional for step in programs[e.program].pathway(e.pathway).steps)]
        left: dict = {}
        for status in self.tracker.services.pathways._statuses(with_track):
            missing = [f"{s.step.key} {s.progress.summary}" for s in status.steps
                       if s.step.optional and not s.progress.done]
            if missing:
                left.setdefault((status.peer.id, status.program.key), missing)
        return left


def _first_led(offerings, sessions) -> dict:
    """{(peer, program): (the day their first offering began, that offering)} of the offerings
    begun (their start, else their first session in `sessions`, {offering: session days})."""
    first_led: dict = {}
    for offering in offerings:
        began = offering.started or min(sessions[offering.id], default=None)
        if began is None:
            continue  # not started yet: nothing to observe
        for peer_id in offering.leaders:
            key = (peer_id, offering.program)
            if key not in first_led or began < first_led[key][0]:
                first_led[key] = (began, offering)
    return first_led


def _needs_support(program, observation):
    """Why `observation` calls for support by the program's `fidelity` settings (a critical item
    missed, or a score below `support_below_percent`), or None."""
    if observation.critical_failed:
        return f"last observation missed critical {', '.join(observation.critical_failed)}"
    below = program.fidelity.get("support_below_percent")
    if below is not None and observation.percent < below:
        return f"last score {observation.percent:g}% below {below:g}%"
    return None


def next_interval(program, seen: list) -> tuple:
    """(days from the last of `seen`, a leader's observations in date order, to the next one
    due; why; which rule: "needs support", "good streak" or "interval") by the program's
    `format.observation_interval_days` and `fidelity` settings (see the module docstring)."""
    plain = int(program.format.get("observation_interval_days", 365))
    last = seen[-1]
    settings = program.fidelity
    support = _needs_support(program, last)
    if support:
        within = settings.get("support_within_days")
        if within is None:
            return plain, (f"{support} on {last.on}; {program.key}.fidelity.support_within_days not set: "
                           f"{_every(plain)}"), "interval"
        return int(within), f"{support} on {last.on}: re-observe within {within} days", "needs support"
    needed, longer = settings.get("good_streak"), settings.get("good_interval_days")
    streak = 0
    for observation in reversed(seen):
        if not observation.passed:
            break
        streak += 1
    if needed is not None and longer is not None and streak >= needed:
        return int(longer), f"good {_times(int(needed))} in a row, last on {last.on}: {_every(int(longer))}", \
            "good streak"
    return plain, f"last observed {last.on} ({last.percent:g}%): {_every(plain)}", "interval"


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def _every(days: int) -> str:
    if days % 365 == 0:
        return "yearly" if days == 365 else f"every {days // 365} years"
    return f"every {days} days"


def _missed_items(observation) -> list:
    """Items not met in an observation (answers are kept, so older versions still count)."""
    missed = []
    for key, answer in observation.answers.items():
        if answer == "no" or (isinstance(answer, int) and answer < CRITICAL_RATING):
            missed.append(key)
    return missed
