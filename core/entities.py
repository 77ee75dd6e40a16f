"""The things peerpath tracks: peers and the records about them; the program model they follow
(core.program_model) and the values they hold (core.values) are imported here too.

Entities are attrs classes that validate themselves and do no I/O. Converters accept both the
Python value and its stored JSON form (ISO dates, lists), so `core.serialize` can rebuild any
entity from a stored document.
"""

import datetime as dt
from typing import Any, Optional

import attrs

from .errors import ValidationError
# Re-exported: the modules that need records import the program model and values from here too.
from .program_model import Band, Checklist, ChecklistItem, Pathway, ProgramModel, Role, Step
from .values import (CADENCES, ENDED_STATUSES, LARGEST_AMOUNT, LEADER_STATUSES, LINE_LIMIT, LIVED_EXPERIENCE,
                     OFFERING_STATUSES, SECTORS, SOURCES, STAGES, TEXT_LIMIT, as_tuple, check_text, clean_text,
                     each_line_text, free_text, frozen_dict, id_order, line_text, non_negative, not_blank, one_of,
                     optional_date, parse_date, parse_timestamp, record_order, shift_date, text_tuple)


def _whole(what, value) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValidationError(f"{what} must be a whole number, not {value!r}")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


# --- people ---------------------------------------------------------------------------------


@attrs.frozen
class StageChange:
    """One move of a peer through the recruitment pipeline."""

    stage: str = attrs.field(validator=one_of(STAGES, "stage"))
    on: dt.date = attrs.field(converter=parse_date)
    actor: Optional[str] = None


@attrs.frozen
class Peer:
    """A volunteer or prospective volunteer with lived experience."""

    id: str
    name: str = attrs.field(converter=clean_text, validator=[not_blank("name"), line_text("name")])
    email: Optional[str] = attrs.field(default=None, converter=clean_text, validator=line_text("email"))
    phone: Optional[str] = attrs.field(default=None, converter=clean_text, validator=line_text("phone"))
    pronouns: Optional[str] = attrs.field(default=None, converter=clean_text, validator=line_text("pronouns"))
    languages: tuple = attrs.field(default=(), converter=text_tuple, validator=each_line_text("language"))
    community: Optional[str] = attrs.field(default=None, converter=clean_text, validator=line_text("community"))
    county: Optional[str] = attrs.field(default=None, converter=clean_text, validator=line_text("county"))
    lived_experience: Optional[str] = attrs.field(
        default=None, converter=clean_text, validator=one_of(LIVED_EXPERIENCE, "lived experience")
    )
    source: Optional[str] = attrs.field(
        default=None, converter=clean_text, validator=one_of(SOURCES, "source")
    )
    source_detail: Optional[str] = attrs.field(default=None, converter=clean_text,
                                               validator=line_text("source detail"))
    sector: Optional[str] = attrs.field(
        default=None, converter=clean_text, validator=one_of(SECTORS, "sector")
    )
    outreach: Optional[str] = attrs.field(default=None, converter=clean_text)
    # The offering (a completed class or group) the peer graduated from: `offering close
    # --graduate`. Not identifying, so kept when the peer is erased (the statistics stay).
    graduate_of: Optional[str] = attrs.field(default=None, converter=clean_text)
    # Leader eligibility a program may require at enrolment (ProgramModel.leader_requirements).
    birth_date: Optional[dt.date] = attrs.field(default=None, converter=optional_date)
    member_until: Optional[dt.date] = attrs.field(default=None, converter=optional_date)
    consent: dict = attrs.field(factory=dict, converter=frozen_dict)
    notes: Optional[str] = attrs.field(default=None, converter=clean_text, validator=free_text("notes"))
    stage: str = attrs.field(default="prospect", validator=one_of(STAGES, "stage"))
    stage_history: tuple = attrs.field(default=(), converter=as_tuple, metadata={"of": StageChange})
    created: dt.datetime = attrs.field(factory=_now, converter=parse_timestamp)
    updated: dt.datetime = attrs.field(factory=_now, converter=parse_timestamp)
    erased: Optional[dt.date] = attrs.field(default=None, converter=optional_date)  # `peer erase`

    @email.validator
    def _check_email(self, attribute, value):
        if value is not None and "@" not in value:
            raise ValidationError(f"invalid email '{value}'")

    @consent.validator
    def _check_consent(self, attribute, value):
        for flag, given in value.items():
            check_text("a consent flag", flag)
            if not isinstance(given, bool):
                raise ValidationError(f"consent '{flag}' must be yes or no")

    def stage_since(self) -> Optional[dt.date]:
        """The date the peer entered their current stage."""
        return self.stage_history[-1].on if self.stage_history else None


# --- records ---------------------------------------------------------------------------------


@attrs.frozen
class StatusChange:
    """One change of a leader's status in a program: the new status, its date and why."""

    status: str = attrs.field(validator=one_of(LEADER_STATUSES, "status"))
    on: dt.date = attrs.field(converter=parse_date)
    reason: Optional[str] = attrs.field(default=None, converter=clean_text)


@attrs.frozen
class Enrollment:
    """A peer's record in one program role; `hold` is set by hand only for on hold / inactive.
    `history` holds every change of the leader's status, each with its audit event."""

    id: str
    peer_id: str
    program: str
    role: str
    pathway: str
    started: dt.date = attrs.field(converter=parse_date)
    hold: Optional[str] = attrs.field(
        default=None, validator=one_of(("on hold", "inactive"), "status")
    )
    history: tuple = attrs.field(default=(), converter=as_tuple, metadata={"of": StatusChange})


@attrs.frozen
class StepRecord:
    """Evidence that a step (or part of it) was done."""

    id: str
    enrollment_id: str
    peer_id: str
    program: str
    pathway: str
    step: str
    on: dt.date = attrs.field(converter=parse_date)
    hours: Optional[float] = attrs.field(default=None, validator=non_negative)
    domain: Optional[str] = attrs.field(default=None, converter=clean_text, validator=line_text("domain"))
    score: Optional[float] = attrs.field(default=None, validator=non_negative)
    outcome: Optional[str] = attrs.field(default=None, converter=clean_text, validator=line_text("outcome"))
    until: Optional[dt.date] = attrs.field(default=None, converter=optional_date)
    trainer: Optional[str] = attrs.field(default=None, converter=clean_text, validator=line_text("trainer"))
    evidence: Optional[str] = attrs.field(default=None, converter=clean_text, validator=free_text("evidence"))
    forced_reason: Optional[str] = attrs.field(default=None, converter=clean_text, validator=free_text("reason"))
    void_reason: Optional[str] = attrs.field(default=None, converter=clean_text, validator=free_text("reason"))

    @property
    def voided(self) -> bool:
        return self.void_reason is not None


@attrs.frozen
class Cycle:
    """A certification cycle that a renewal ended: kept so that a void which un-completes that
    renewal can put the certification back as it was."""

    start: dt.date = attrs.field(converter=parse_date)
    expires: dt.date = attrs.field(converter=parse_date)


@attrs.frozen
class Certification:
    id: str
    enrollment_id: str
    peer_id: str
    program: str
    pathway: str
    granted: dt.date = attrs.field(converter=parse_date)
    expires: Optional[dt.date] = attrs.field(default=None, converter=optional_date)
    cycle_start: Optional[dt.date] = attrs.field(default=None, converter=optional_date)
    lapsed_on: Optional[dt.date] = attrs.field(default=None, converter=optional_date)
    # The cycles renewals ended, oldest first (since the grant or the last reactivation).
    renewed_cycles: tuple = attrs.field(default=(), converter=as_tuple, metadata={"of": Cycle})

    def lapsed(self, today: dt.date) -> bool:
        """Whether it has lapsed as of `today` (a recorded lapse too is dated: asked as of an
        earlier day, the certification was still current)."""
        return (self.lapsed_on is not None and self.lapsed_on <= today) or \
            (self.expires is not None and self.expires < today)


@attrs.frozen
class Offering:
    """A group or class run by an affiliate."""

    id: str
    program: str
    name: str = attrs.field(converter=clean_text, validator=[not_blank("offering name"), line_text("offering name")])
    leaders: tuple = attrs.field(default=(), converter=text_tuple)
    schedule: Optional[str] = attrs.field(default=None, converter=clean_text, validator=line_text("schedule"))
    location: Optional[str] = attrs.field(default=None, converter=clean_text, validator=line_text("location"))
    started: Optional[dt.date] = attrs.field(default=None, converter=optional_date)
    # Offerings stored before these fields existed read as running with no end date.
    status: str = attrs.field(default="running", validator=one_of(OFFERING_STATUSES, "offering status"))
    ended: Optional[dt.date] = attrs.field(default=None, converter=optional_date)
    cadence: Optional[str] = attrs.field(default=None, converter=clean_text, validator=one_of(CADENCES, "cadence"))
    language: Optional[str] = attrs.field(default=None, converter=clean_text, validator=line_text("language"))
    # How many participants completed it (`offering close --graduates`); None: not recorded.
    graduates: Optional[int] = attrs.field(default=None, validator=[lambda self, attribute, value: _whole(
        "--graduates", value), non_negative])

    @ended.validator
    def _check_ended(self, attribute, value):
        # A planned offering cancelled before its first day ends the day it is cancelled.
        if value is not None and self.started is not None and value < self.started and self.status != "cancelled":
            raise ValidationError(f"end date {value} is before the start {self.started}")

    def open_on(self, day: dt.date) -> bool:
        """Whether the offering still runs (or is still to run) on `day`: not completed or
        cancelled, and not past its end date."""
        return self.status not in ENDED_STATUSES and (self.ended is None or self.ended >= day)


@attrs.frozen
class SessionRecord:
    id: str
    offering_id: str
    program: str
    on: dt.date = attrs.field(converter=parse_date)
    leaders: tuple = attrs.field(default=(), converter=text_tuple)
    attendance: Optional[int] = attrs.field(default=None, validator=non_negative)


@attrs.frozen
class Observation:
    """A scored fidelity observation; keeps the checklist version it was scored with."""

    id: str
    offering_id: str
    program: str
    checklist: str
    checklist_version: str
    observer: str = attrs.field(converter=clean_text, validator=[not_blank("observer"), line_text("observer")])
    on: dt.date = attrs.field(converter=parse_date)
    leaders: tuple = attrs.field(default=(), converter=text_tuple)
    answers: dict = attrs.field(factory=dict, converter=frozen_dict)
    score: float = 0.0
    max_score: float = 0.0
    percent: float = 0.0
    band: Optional[str] = None
    critical_failed: tuple = attrs.field(default=(), converter=as_tuple)
    passed: bool = False


@attrs.frozen
class Outreach:
    """An outreach event: a hospital talk, a partner visit, a fair; peers can be linked to it."""

    id: str
    on: dt.date = attrs.field(converter=parse_date)
    kind: str = attrs.field(converter=clean_text, validator=[not_blank("outreach kind"), line_text("outreach kind")])
    sector: Optional[str] = attrs.field(
        default=None, converter=clean_text, validator=one_of(SECTORS, "sector")
    )
    partner: Optional[str] = attrs.field(default=None, converter=clean_text, validator=line_text("partner"))
    community: Optional[str] = attrs.field(default=None, converter=clean_text, validator=line_text("community"))
    reached: int = attrs.field(default=0, validator=non_negative)
    notes: Optional[str] = attrs.field(default=None, converter=clean_text, validator=free_text("notes"))


@attrs.frozen
class Event:
    """One line of the append-only audit trail."""

    at: dt.datetime = attrs.field(converter=parse_timestamp)
    actor: str
    action: str
    entity: str
    entity_id: Optional[str] = None
    peer_id: Optional[str] = None
    details: dict = attrs.field(factory=dict, converter=frozen_dict)


@attrs.frozen
class Problem:
    """What a `validate_change` hook returns to veto (`error`) or warn about a change."""

    message: str
    level: str = attrs.field(default="error", validator=one_of(("error", "warning"), "level"))


@attrs.frozen
class Change:
    """A change about to be stored, as shown to `validate_change` hooks."""

    action: str
    entity: Any
    before: Any = None
    actor: Optional[str] = None
