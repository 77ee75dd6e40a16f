"""The digest (`peerpath digest`): what needs doing, for one role, most urgent first.

Every item comes from an answer core already gives (the same rules as `leaders`, `fidelity due`,
`followups` and `report capacity`), plus what program plugins add through the `digest_items`
hook. Urgency is the number of days left before the thing is late (negative: late by that many
days), so items of every kind sort together.

Who sees what:
- a coordinator: everything in the affiliate (offerings short of leaders by the capacity
  forecast, over its horizon);
- a trainer: lapsing credentials, observations due, trainees stalled on a step, trainings with
  seats left;
- a leader (`--for PEER`): only that leader's own items.
"""

from typing import Optional

import attrs

from .errors import ValidationError
from .values import parse_date

ROLES = ("coordinator", "trainer", "leader")
KINDS = {  # kind -> (heading, roles that see it)
    "lapsing": ("Credentials lapsing soon", ("coordinator", "trainer", "leader")),
    "observation": ("Observations due", ("coordinator", "trainer", "leader")),
    "stalled": ("Trainees stalled on a step", ("coordinator", "trainer", "leader")),
    "no contact": ("Prospects with no contact", ("coordinator",)),
    "short": ("Offerings short of leaders", ("coordinator",)),
    "seats": ("Trainings with seats left", ("coordinator", "trainer")),
}


@attrs.frozen
class DigestItem:
    """One thing to do: its kind (a KINDS key, or a plugin's own), the days left before it is
    late (negative: overdue), the peer it is about (if any) and what to say."""

    kind: str
    days_left: int
    text: str
    peer: Optional[str] = None
    source: str = "core"
    key: Optional[str] = None  # what makes it the same reminder another day (default: its text)

    @property
    def identity(self) -> str:
        """The same for the same reminder on another day: a sent reminder is not sent again
        within mail.resend_days (core.mailing)."""
        return self.key or f"{self.source}|{self.kind}|{self.peer}|{self.text}"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "days_left": self.days_left, "peer": self.peer, "text": self.text,
                "source": self.source, "key": self.identity}


def digest_heading(kind: str) -> str:
    return KINDS[kind][0] if kind in KINDS else kind


def build_digest(tracker, role: str = "coordinator", peer_id: Optional[str] = None) -> list:
    """The items `role` should act on as of `tracker.today`, most urgent first; only `peer_id`'s
    when given (a leader's digest needs it)."""
    if role not in ROLES:
        raise ValidationError(f"unknown role '{role}': choose from {', '.join(ROLES)}")
    if role == "leader" and peer_id is None:
        raise ValidationError("a leader's digest is for one leader: give --for PEER")
    with tracker.reading():
        if peer_id is not None:
            tracker.peer(peer_id)  # refuses an unknown peer by name
        items = [item for kind, (_, roles) in KINDS.items() if role in roles for item in _GATHER[kind](tracker)]
        items += _plugin_items(tracker, role, peer_id)
    if peer_id is not None:
        items = [item for item in items if item.peer == peer_id]
    return sorted(items, key=lambda item: (item.days_left, item.kind, item.peer or ""))


def _lapsing(tracker) -> list:
    days = tracker.core_setting("reports.expiring_days")
    items = []
    for status in tracker.leaders(expiring_within=days):
        left = (status.certification.expires - tracker.today).days
        lacks = f"; renewal {status.renewal.summary}" if status.renewal and not status.renewal.done else ""
        items.append(DigestItem("lapsing", left, f"{status.peer.id} {status.peer.name}: {status.pathway.title} "
                                f"expires {status.certification.expires} (in {left} days){lacks}", status.peer.id,
                                key=f"lapsing:{status.certification.id}:{status.certification.expires}"))
    return items


def _observations(tracker) -> list:
    return [DigestItem("observation", -due["overdue_days"],
                       f"{due['peer']}: {due['program']} observation due {due['due']} ({due['reason']})", due["peer"],
                       key=f"observation:{due['peer']}:{due['program']}:{due['due']}")
            for due in tracker.fidelity_due()]


def _stalled(tracker) -> list:
    days = tracker.core_setting("digest.stalled_days")
    items = []
    for status in tracker.leaders(status="in training"):
        if status.last_activity is None or not status.next_steps:
            continue
        idle = (tracker.today - status.last_activity).days
        if idle >= days:
            items.append(DigestItem("stalled", days - idle, f"{status.peer.id} {status.peer.name}: "
                                    f"{status.pathway.title}, nothing recorded for {idle} days; next: "
                                    f"{', '.join(status.next_steps)}", status.peer.id,
                                    key=f"stalled:{status.enrollment.id}:{status.last_activity}"))
    return items


def _no_contact(tracker) -> list:
    days = tracker.core_setting("recruitment.followup_days")
    return [DigestItem("no contact", days - waiting, f"{peer.id} {peer.name}: {peer.stage} since {touched}, "
                       f"{waiting} days without contact", peer.id, key=f"no contact:{peer.id}:{touched}")
            for peer, touched, waiting in tracker.followups()]


def _short(tracker) -> list:
    """Offerings the capacity forecast finds short of leaders within its horizon (`report
    capacity`'s own, 90 days), due on the day the shortfall begins: short today is due today, a
    leader whose credential lapses next month leaves the offering due then; with who to ask first."""
    items = []
    for offering in tracker.report("capacity").figures["forecast"]:
        if not offering["short"]:
            continue
        begins = parse_date(offering["short_from"])
        when = "now" if begins <= tracker.today else f"from {begins}"
        first = next((c for c in offering["fill"] if c["kind"] != "prospect"), None)
        ask = f"; ask {first['peer']} {first['name']} ({first['kind']})" if first else ""
        items.append(DigestItem("short", (begins - tracker.today).days,
                                f"{offering['offering']} {offering['name']} ({offering['program']}): short "
                                f"{offering['short']} of {offering['needed']} leaders {when}, "
                                f"{offering['active_now']} trained and active today{ask}",
                                key=f"short:{offering['offering']}:{begins}"))
    return items


def _seats(tracker) -> list:
    """Trainings still to come (not closed, first day today or later) with seats to fill, due on
    their first day; a training that has begun, or one without a number of seats, is left out."""
    items, programs = [], tracker.catalog.programs
    for training in tracker.trainings():
        if training.program not in programs or training.closed or training.on < tracker.today \
                or not training.seats_left:
            continue
        days = f"{training.on} to {training.until}" if training.until and training.until != training.on \
            else f"{training.on}"
        by = f" ({', '.join(training.trainers)})" if training.trainers else ""
        items.append(DigestItem("seats", (training.on - tracker.today).days,
                                f"{training.id} {training.program} training {days}{by}: {training.seats_left} "
                                f"of {training.capacity} seat(s) left", key=f"seats:{training.id}:{training.seats_left}"))
    return items


_GATHER = {"lapsing": _lapsing, "observation": _observations, "stalled": _stalled, "no contact": _no_contact,
           "short": _short, "seats": _seats}


def _plugin_items(tracker, role, peer_id) -> list:
    """What the enabled plugins add (`digest_items`); a plugin that fails or returns anything but
    DigestItems is named in a warning and the digest goes on without it."""
    errors: list = []
    items: list = []
    for plugin, answer in tracker.host.call("digest_items", tracker.enabled_plugins(), errors=errors,
                                            tracker=tracker, role=role, peer_id=peer_id):
        answers = answer if isinstance(answer, (list, tuple)) else [answer]
        if all(isinstance(item, DigestItem) for item in answers):
            items += [attrs.evolve(item, source=plugin) for item in answers]
        else:
            tracker.warnings.append(f"plugin '{plugin}': digest_items must return DigestItems; left out")
    tracker.warnings.extend(str(error) for error in errors)
    return items
