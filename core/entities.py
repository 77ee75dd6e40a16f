"""The things peerpath tracks: peers, program models and the records about them.

Entities are attrs classes that validate themselves and do no I/O. Converters accept both the
Python value and its stored JSON form (ISO dates, lists), so `core.serialize` can rebuild any
entity from a stored document.
"""

import datetime as dt
import math
from typing import Any, Iterable, Optional

import attrs

from .errors import ValidationError
from .safe_output import terminal_text, unsafe_characters

# "other": a value that fits none of the others (an import keeps the original text in the notes).
LIVED_EXPERIENCE = ("self", "family", "both", "other")
SECTORS = ("health", "mental health", "education", "criminal justice", "faith", "housing", "other")
SOURCES = (
    "graduate",
    "hospital talk",
    "community partner",
    "peer referral",
    "event",
    "web form",
    "other",
)
STAGES = ("prospect", "contacted", "applied", "screened", "accepted", "declined", "withdrawn")
LEADER_STATUSES = ("in training", "certified", "on hold", "inactive", "lapsed")
OFFERING_STATUSES = ("planned", "running", "completed", "cancelled")
ENDED_STATUSES = ("completed", "cancelled")
# How often an offering meets: the words programs use (NAMI Connection: weekly, every other week
# or monthly; Peer-to-Peer: weekly sessions; In Our Own Voice: talks when booked). No figure.
CADENCES = ("weekly", "biweekly", "monthly", "on request")


# --- converters and validators shared by every entity -------------------------------------


def parse_date(value) -> dt.date:
    """A date from a `date`, a `datetime` or an ISO `YYYY-MM-DD` string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(f"invalid date '{value}': use YYYY-MM-DD") from None


def shift_date(day: dt.date, days: int) -> dt.date:
    """`day` moved by `days` (either way), held within the calendar's range rather than overflowing."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return dt.date.max if days > 0 else dt.date.min


def id_order(record_id: str):
    """Sort key putting ids in the order they were issued (`R9999` before `R10000`)."""
    digits = "".join(ch for ch in record_id if ch.isdigit())
    return (len(digits), digits, record_id)


def record_order(record):
    """Records in date order; records of one day in the order they were stored."""
    return (record.on, id_order(record.id))


def optional_date(value) -> Optional[dt.date]:
    return None if value in (None, "") else parse_date(value)


def parse_timestamp(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"invalid timestamp '{value}'") from None


def clean_text(value) -> Optional[str]:
    """Strip text; blank becomes None."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def as_tuple(items: Iterable[Any]) -> tuple:
    """Any iterable as a tuple: the converter of tuple fields (attrs' `converter=as_tuple` would tell
    mypy that a field of `tuple[Any, ...]` takes only iterables of one unknown type)."""
    return tuple(items)


def text_tuple(value) -> tuple:
    """A tuple of non-blank strings from a list or a comma-separated string."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(item for item in (clean_text(v) for v in value) if item)


def one_of(choices, what):
    def check(instance, attribute, value):
        if value is not None and value not in choices:
            raise ValidationError(f"unknown {what} '{value}': choose from {', '.join(choices)}")

    return check


def not_blank(what):
    def check(instance, attribute, value):
        if not value:
            raise ValidationError(f"{what} must not be empty")

    return check


# Text limits, in characters: a name, a place or a contact detail is one line of at most
# LINE_LIMIT; free text (notes) may hold lines and tabs, up to TEXT_LIMIT. Checked when a value
# is written, never when stored data is read, so older data with longer or odd text still loads.
LINE_LIMIT = 200
TEXT_LIMIT = 10_000


def check_text(what: str, value, limit: int = LINE_LIMIT, multiline: bool = False) -> None:
    """Refuse text longer than `limit`, or holding a control, zero-width or bidi character (a
    newline or tab only if `multiline`), with one clear ValidationError."""
    if value is None:
        return
    if len(value) > limit:
        raise ValidationError(f"{what} is {len(value):,} characters long: at most {limit:,}")
    found = unsafe_characters(value.replace("\t", "") if multiline else value, allow_newlines=multiline)
    if found:
        shown = "".join(dict.fromkeys(terminal_text(char, keep_newlines=False) for char in found))
        raise ValidationError(f"{what} must not hold control, zero-width or bidi characters (found {shown})")


def line_text(what, limit=LINE_LIMIT):
    def check(instance, attribute, value):
        check_text(what, value, limit)

    return check


def free_text(what, limit=TEXT_LIMIT):
    def check(instance, attribute, value):
        check_text(what, value, limit, multiline=True)

    return check


def each_line_text(what):
    def check(instance, attribute, value):
        for item in value:
            check_text(what, item)

    return check


# Far beyond any real count or number of hours; keeps stored numbers exact in every JSON reader.
LARGEST_AMOUNT = 10 ** 9


def non_negative(instance, attribute, value):
    if value is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"{attribute.name} must be a finite number, not {value}")
    if value < 0:
        raise ValidationError(f"{attribute.name} must not be negative")
    if value > LARGEST_AMOUNT:
        raise ValidationError(f"{attribute.name} must be at most {LARGEST_AMOUNT:,}")


def _whole(what, value) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValidationError(f"{what} must be a whole number, not {value!r}")


def frozen_dict(value) -> dict:
    return dict(value or {})


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


# --- program side (declared by plugins) -------------------------------------------------------


@attrs.frozen
class Role:
    """A leader role within a program: facilitator, teacher, presenter, specialist."""

    key: str = attrs.field(validator=not_blank("role key"))
    title: str = ""
    pathway: Optional[str] = None


@attrs.frozen
class Step:
    """One requirement on a pathway; `kind` names a registered step kind, `params` configure it."""

    key: str = attrs.field(validator=not_blank("step key"))
    title: str
    kind: str
    params: dict = attrs.field(factory=dict, converter=frozen_dict)
    requires: tuple = attrs.field(default=(), converter=as_tuple)
    optional: bool = False


@attrs.frozen
class Pathway:
    """The ordered steps that lead to a certification, with its validity and renewal rule.

    When a certification lapses the leader becomes `lapse_status` ("lapsed", or "inactive" where
    the rule is a commitment rather than a credential) for `lapse_reason`; `reactivate` then asks
    for `reactivation` redone since the lapse (None: the renewal step again; no renewal: nothing).
    """

    key: str = attrs.field(validator=not_blank("pathway key"))
    title: str
    steps: tuple = attrs.field(converter=as_tuple)
    validity_days: Optional[int] = None
    renewal: Optional[Step] = None
    add_on_to: Optional[str] = None
    lapse_status: str = attrs.field(default="lapsed", validator=one_of(("lapsed", "inactive"), "lapse status"))
    lapse_reason: str = "certification lapsed"
    reactivation: Optional[Step] = None

    def step(self, key: str) -> Step:
        for step in self.steps:
            if step.key == key:
                return step
        raise ValidationError(
            f"pathway '{self.key}' has no step '{key}': choose from "
            + ", ".join(s.key for s in self.steps)
        )


@attrs.frozen
class ProgramModel:
    """A NAMI program model as a plugin declares it."""

    key: str = attrs.field(validator=not_blank("program key"))
    title: str
    roles: tuple = attrs.field(converter=as_tuple)
    pathways: tuple = attrs.field(default=(), converter=as_tuple)
    format: dict = attrs.field(factory=dict, converter=frozen_dict)
    leader_requirements: dict = attrs.field(factory=dict, converter=frozen_dict)
    description: str = ""
    # How the interval between a leader's observations follows their scores (core.fidelity,
    # ADAPTIVE_SETTINGS): each number a `PROGRAM.fidelity.KEY` setting.
    fidelity: dict = attrs.field(factory=dict, converter=frozen_dict)
    # Where each rule comes from: {setting key or PATHWAY.STEP: citation}, shown by `programs show`.
    sources: dict = attrs.field(factory=dict, converter=frozen_dict)

    def role(self, key: Optional[str]) -> Role:
        if key is None:
            return self.roles[0]
        for role in self.roles:
            if role.key == key:
                return role
        raise ValidationError(
            f"program '{self.key}' has no role '{key}': choose from "
            + ", ".join(r.key for r in self.roles)
        )

    def pathway(self, key: str) -> Pathway:
        for pathway in self.pathways:
            if pathway.key == key:
                return pathway
        raise ValidationError(f"program '{self.key}' has no pathway '{key}'")


@attrs.frozen
class ChecklistItem:
    """One fidelity item: yes/no or a 1-5 rating, possibly critical."""

    key: str = attrs.field(validator=not_blank("item key"))
    text: str
    type: str = attrs.field(default="yes_no", validator=one_of(("yes_no", "rating"), "item type"))
    anchors: dict = attrs.field(factory=dict, converter=frozen_dict)
    allow_insufficient: bool = False
    weight: float = attrs.field(default=1.0, validator=non_negative)
    critical: bool = False


@attrs.frozen
class Band:
    """A scoring band: observations at or above `min_percent` fall in it."""

    name: str
    min_percent: float


@attrs.frozen
class Checklist:
    """A versioned model-fidelity checklist for one program."""

    key: str = attrs.field(validator=not_blank("checklist key"))
    program: str
    title: str
    version: str
    items: tuple = attrs.field(converter=as_tuple)
    bands: tuple = attrs.field(converter=as_tuple)
    pass_band: Optional[str] = None
    # An earlier version kept so stored observations still read as recorded; new observations
    # of the program default to the checklist named here.
    superseded_by: Optional[str] = None

    def item(self, key: str) -> ChecklistItem:
        for item in self.items:
            if item.key == key:
                return item
        raise ValidationError(f"checklist '{self.key}' has no item '{key}'")


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
