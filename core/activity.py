"""Volunteer activity (`peerpath activity ...`, `report activity`): the hours a peer gives, what
they did (a talk, a session, outreach, admin work...), and any stipend paid for it.

An activity belongs to one peer, on one day, with its hours (more than 0, at most 24: one entry
is one day's work) and optionally the offering it was part of (its program is then the
offering's, and the peer must be enrolled in that program), the outreach event it served, and
a stipend. It is stored and audited like every other change.

An activity a leader logs for themselves (in the web app) waits for a coordinator's approval:
it is stored `pending`, and counts nowhere (reports, presentations, experience hours) until
`approve_activity` approves it, recording who did.

A talk that names an offering of a program counts as one of that program's presentations, and
so do the sessions of its offerings the leader led; a session and a talk of the same offering on
the same day are the same presentation, counted once. A program that expects its leaders to
present a number of times a calendar year says so in its format (`presentations_per_year`, e.g.
In Our Own Voice: twice, NAMI national), and `report activity` lists the certified leaders
short of it in the calendar year of --to.

A program whose format sets `activity_counts_as_experience` (an affiliate setting, off unless
the plugin says otherwise) and names the step volunteer hours feed (`activity_step`) gets each
activity of a peer enrolled in it recorded as that step as well, in the same change, through
the pathway's own rules (the CRSS experience hours: supervised paid, volunteer or internship
work, Illinois Certification Board).
"""

import datetime as dt
import math
from collections import Counter, defaultdict
from typing import Optional

import attrs

from .entities import (Enrollment, Offering, Outreach, Peer, SessionRecord, as_tuple, clean_text, one_of,
                       parse_date)
from .errors import ValidationError
from .reporting import ReportResult, Table
from .serialize import from_document
from .session import Service
from .values import ACTIVITY_GROUPINGS, ACTIVITY_KINDS

TABLE = "activities"
KINDS = ACTIVITY_KINDS
STATUSES = ("approved", "pending")
MOST_HOURS = 24  # one activity is one day's work
LARGEST_STIPEND = 1_000_000


def _amount(what, largest, smallest="0"):
    def check(instance, attribute, value):
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValidationError(f"--{what} must be a number, not '{value}'")
        if value < 0 or value > largest:
            raise ValidationError(f"--{what} must be {smallest} to {largest:,}, not {value:g}")
    return check


def _float(value):
    """A whole number as the float it stands for; anything else as given (the validator judges it)."""
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


@attrs.frozen
class Activity:
    """One day's volunteer work of one peer."""

    id: str
    peer_id: str
    kind: str = attrs.field(validator=one_of(KINDS, "kind"))
    on: dt.date = attrs.field(converter=parse_date)
    hours: float = attrs.field(converter=_float, validator=_amount("hours", MOST_HOURS, "more than 0 and up"))
    program: Optional[str] = attrs.field(default=None, converter=clean_text)
    offering_id: Optional[str] = attrs.field(default=None, converter=clean_text)
    outreach_id: Optional[str] = attrs.field(default=None, converter=clean_text)
    stipend: Optional[float] = attrs.field(default=None, converter=_float,
                                           validator=_amount("stipend", LARGEST_STIPEND))
    counted_as: tuple = attrs.field(default=(), converter=as_tuple)  # step records it was also recorded as
    share: Optional[float] = attrs.field(default=None, converter=_float)  # % recovery support, as given
    status: str = attrs.field(default="approved", validator=one_of(STATUSES, "activity status"))
    approved_by: Optional[str] = attrs.field(default=None, converter=clean_text)

    @hours.validator
    def _check_hours(self, attribute, value):
        if value is None or not value > 0:
            raise ValidationError(f"--hours must be more than 0 and up to {MOST_HOURS}, not {value}")


class Activities(Service):
    """Recording and listing volunteer activity: a service on one tracker (its transaction,
    catalog and audit), reached through `Tracker.add_activity` and the others."""

    def add_activity(self, peer_id, kind, hours, on=None, offering_id=None, outreach_id=None, stipend=None,
                     share=None, pending=False) -> Activity:
        """Record one activity; `share` (the percentage of the work that is recovery support) is
        what a program counting activity as experience asks for. A `pending` one (logged by the
        leader) counts once a coordinator approves it."""
        tracker = self.tracker
        with tracker.changing():
            peer = tracker.load("peers", Peer, peer_id, "peer")
            program = None
            if offering_id:
                offering = tracker.offering(offering_id)  # refuses an unknown or hidden offering
                program = offering.program
                if not tracker.tx.search("enrollments", peer_id=peer.id, program=program):
                    raise ValidationError(f"{peer.id} is not a {program} leader, so not part of {offering.id}: "
                                          f"enrol them first (peerpath enroll {peer.id} {program})")
            if outreach_id:
                tracker.load("outreach", Outreach, outreach_id, "outreach event")
            kind = (kind or "").strip().lower()
            activity = Activity(id=tracker.tx.next_id("A"), peer_id=peer.id, kind=kind, on=on or tracker.today,
                                hours=hours, program=program, offering_id=offering_id or None,
                                outreach_id=outreach_id or None, stipend=stipend, share=share,
                                status="pending" if pending else "approved",
                                approved_by=None if pending else tracker.actor)
            tracker.check_not_future(activity.on)
            records = [] if pending else self._count_as_experience(activity, share)
            activity = attrs.evolve(activity, counted_as=tuple(r.id for r in records))
            tracker.store_new(TABLE, activity, "add", peer_id=peer.id,
                              details={"kind": activity.kind, "hours": activity.hours, "on": activity.on.isoformat(),
                                       "status": activity.status,
                                       **({"stipend": activity.stipend} if activity.stipend is not None else {}),
                                       **({"counted_as": list(activity.counted_as)} if records else {})})
        return activity

    def approve_activity(self, activity_id) -> Activity:
        """Approve a leader's pending activity: from now it counts (and is recorded as experience
        hours where a program counts it), with the approver recorded."""
        tracker = self.tracker
        with tracker.changing():
            before = tracker.load(TABLE, Activity, activity_id, "activity")
            if before.status != "pending":
                raise ValidationError(f"{before.id} is already approved (by {before.approved_by or 'its recorder'})")
            records = self._count_as_experience(before, before.share)
            after = attrs.evolve(before, status="approved", approved_by=tracker.actor,
                                 counted_as=tuple(r.id for r in records))
            tracker.store_changed(TABLE, before, after, "approve", peer_id=before.peer_id)
        return after

    def _count_as_experience(self, activity, share) -> list:
        """The step records of programs that count volunteer activity as experience (see the
        module's docstring), recorded in the change under way; a refusal refuses the activity."""
        tracker, records = self.tracker, []
        for program in tracker.catalog.programs.values():
            step_key = program.format.get("activity_step")
            if program.format.get("activity_counts_as_experience") is not True or not step_key:
                continue
            enrollments = tracker.load_all("enrollments", Enrollment, peer_id=activity.peer_id, program=program.key)
            for enrollment in enrollments:
                pathway = program.pathway(enrollment.pathway)
                if not any(step.key == step_key for step in pathway.steps):
                    continue
                step = pathway.step(step_key)
                setting = f"{program.key}.format.activity_counts_as_experience"
                if step.params.get("min_share") is not None and share is None:
                    raise ValidationError(f"{program.key} counts activity as '{step_key}' hours ({setting}): "
                                          "give --share, the percentage of the work that is recovery support")
                try:
                    records.append(tracker.record_step(activity.peer_id, program.key, step_key, role=enrollment.role,
                                                       on=activity.on, hours=activity.hours, score=share,
                                                       evidence=f"activity {activity.id} ({setting})"))
                except ValidationError as error:
                    raise ValidationError(f"{activity.peer_id}'s {program.key} '{step_key}' ({setting}): {error}; "
                                          "nothing was stored") from None
        return records

    def activities(self, peer_id=None, start=None, end=None, status="approved") -> list:
        """Activities in date order, only `peer_id`'s when given, between `start` and `end`, of
        `status` (approved: the ones that count; pending; None: all)."""
        tracker = self.tracker
        with tracker.reading():
            if peer_id is not None:
                tracker.load("peers", Peer, peer_id, "peer")
                documents = tracker.tx.search(TABLE, peer_id=peer_id)
            else:
                documents = tracker.tx.all(TABLE)
            found = [from_document(Activity, d) for d in documents]
        return sorted((a for a in found if (start is None or a.on >= start) and (end is None or a.on <= end)
                       and status in (None, a.status)), key=lambda a: (a.on, a.id))

    def presentations(self, program_key, start, end) -> Counter:
        """{peer id: presentations of `program_key` from `start` to `end`}: sessions of its
        offerings the peer led and talks naming one of them, a session and a talk of one offering
        on one day counted once."""
        tracker = self.tracker
        with tracker.reading():
            offerings = {o.id for o in tracker.load_all("offerings", Offering, program=program_key)}
            seen: set = set()
            for session in tracker.load_all("sessions", SessionRecord, program=program_key):
                if session.offering_id in offerings and start <= session.on <= end:
                    seen.update((peer, session.offering_id, session.on) for peer in session.leaders)
            for activity in self.activities(start=start, end=end):
                if activity.kind == "talk" and activity.offering_id in offerings:
                    seen.add((activity.peer_id, activity.offering_id, activity.on))
        return Counter(peer for peer, _, _ in seen)


# --- report activity -------------------------------------------------------------------------------


FIELDS = ("hours", "talks", "speakers", "stipends", "activities")


def _key(activity, by, peers) -> str:
    if by == "peer":
        peer = peers.get(activity.peer_id)
        return f"{activity.peer_id} {peer.name}" if peer is not None else activity.peer_id
    if by == "program":
        return activity.program or "none"
    if by == "month":
        return activity.on.strftime("%Y-%m")
    peer = peers.get(activity.peer_id)
    return (peer.community if peer is not None else None) or "unknown"


def _figures(activities) -> dict:
    talks = [a for a in activities if a.kind == "talk"]
    return {"hours": round(sum(a.hours for a in activities), 2), "talks": len(talks),
            "speakers": len({a.peer_id for a in talks}),
            "stipends": round(sum(a.stipend or 0 for a in activities), 2), "activities": len(activities)}


def activity_report(tracker, options) -> ReportResult:
    """Hours, talks, speakers and stipends of the period by peer, program, month or community,
    with totals; and the leaders short of the presentations their program expects this year."""
    by = options.get("by") or ACTIVITY_GROUPINGS[0]
    start, end = options["start"], options["end"]
    activities = Activities(tracker).activities(start=start, end=end)
    with tracker.reading():
        peers = {p.id: p for p in tracker.load_all("peers", Peer)}
    groups = defaultdict(list)
    for activity in activities:
        groups[_key(activity, by, peers)].append(activity)
    by_group = {name: _figures(found) for name, found in sorted(groups.items())}
    totals = _figures(activities)
    tables = [Table(f"by {by}", [by, *FIELDS], [[name, *(g[f] for f in FIELDS)] for name, g in by_group.items()]),
              Table("totals", ["period", *FIELDS], [[_period(start, end), *(totals[f] for f in FIELDS)]])]
    expectations = {}
    year = end.year
    for program in tracker.catalog.programs.values():
        if "presentations_per_year" not in program.format:
            continue
        needed = program.format["presentations_per_year"]
        short = presenters_short(tracker, program.key, needed, end)
        expectations[program.key] = {"year": year, "expected": needed, "short": short}
        title = (f"{program.title} leaders used fewer than {needed} times in {year}" if needed is not None
                 else f"{program.key}.format.presentations_per_year is not set")
        tables.append(Table(title, ["peer", "name", "presentations"],
                            [[s["peer"], s["name"], s["presentations"]] for s in short]))
    return ReportResult("activity", "Volunteer activity", tables,
                        {"by": by, "groups": by_group, "totals": totals, "presentations": expectations},
                        (start, end))


def presenters_short(tracker, program_key, needed, end) -> list:
    """The certified leaders of `program_key` with fewer than `needed` presentations in the
    calendar year of `end`, up to `end` (none when the figure is not set)."""
    if needed is None:
        return []
    counted = Activities(tracker).presentations(program_key, dt.date(end.year, 1, 1), end)
    certified = [s for s in tracker.leaders(program=program_key) if s.status == "certified"]
    return [{"peer": s.peer.id, "name": s.peer.name, "presentations": counted[s.peer.id]}
            for s in certified if counted[s.peer.id] < needed]


def _period(start, end) -> str:
    return f"{start or 'start'} to {end}"
