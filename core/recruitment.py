"""Outreach events, the communities an affiliate serves, and follow-ups due (a Tracker service)."""


import datetime as dt

from .entities import Outreach, parse_timestamp, shift_date
from .errors import ValidationError
from .session import Service

# Stages in which a person is waiting on the affiliate, and so needs a follow-up.
OPEN_STAGES = ("prospect", "contacted", "applied")


class Recruitment(Service):
    """Outreach, the sectors and communities recruited from, and follow-ups due (a Tracker service)."""

    def add_outreach(self, kind, on=None, sector=None, partner=None, community=None, reached=0, notes=None):
        with self.tracker.changing():
            outreach = Outreach(id=self.tracker.tx.next_id("X"), on=on or self.tracker.today, kind=kind, sector=sector,
                                partner=partner, community=community, reached=reached, notes=notes)
            self.tracker.check_not_future(outreach.on)
            self.tracker.store_new("outreach", outreach, "add", details={"kind": outreach.kind})
        return outreach

    def outreach_events(self, since=None, until=None) -> list:
        with self.tracker.reading():
            found = self.tracker.load_all("outreach", Outreach)
        return sorted((o for o in found if (since is None or o.on >= since) and (until is None or o.on <= until)),
                      key=lambda o: (o.on, o.id))

    def recruited_sectors(self, peers) -> dict:
        """{peer id: sector} for `peers` (stored documents, `peer_documents`): the peer's own
        sector, else the sector of the outreach event they came from (a peer recruited at a
        faith-sector event counts under faith)."""
        with self.tracker.reading():
            event_sector = {o.id: o.sector for o in self.tracker.load_all("outreach", Outreach)}
        return {peer["id"]: peer.get("sector") or event_sector.get(peer.get("outreach")) for peer in peers}

    # -- communities ---------------------------------------------------------------------------------

    def underserved(self) -> set:
        """Communities the affiliate has marked underserved (case-insensitive names)."""
        with self.tracker.reading(missing_ok=True) as tx:
            return {name.lower() for name in tx.meta.get("underserved", ())}

    def mark_underserved(self, community: str, underserved: bool = True) -> None:
        name = (community or "").strip()
        if not name:
            raise ValidationError("community name must not be empty")
        with self.tracker.changing() as tx:
            marked = [c for c in tx.meta.get("underserved", ()) if c.lower() != name.lower()]
            was = len(marked) < len(tx.meta.get("underserved", ()))
            if underserved:
                marked.append(name)
            tx.meta["underserved"] = sorted(marked)
            self.tracker.audit_event("underserved" if underserved else "served", "community", name,
                             details={"changes": {"underserved": {"old": was, "new": underserved}}})

    def communities(self) -> list:
        """(community, peers, underserved) for every community seen on a peer or outreach event."""
        underserved = self.underserved()
        counts: dict = {}
        for peer in self.tracker.peers():
            if peer.community:
                counts[peer.community] = counts.get(peer.community, 0) + 1
        for event in self.outreach_events():
            if event.community:
                counts.setdefault(event.community, 0)
        with self.tracker.reading(missing_ok=True) as tx:
            for name in tx.meta.get("underserved", ()):
                counts.setdefault(name, 0)
        return [(name, count, name.lower() in underserved) for name, count in sorted(counts.items())]

    # -- follow-ups ------------------------------------------------------------------------------------

    def followups(self, days=None) -> list:
        """People waiting on the affiliate whose stage has not moved for `days`
        (setting recruitment.followup_days)."""
        if days is None:
            days = self.tracker.core_setting("recruitment.followup_days")
        if days < 0:
            raise ValidationError("--days must be 0 or more")
        cutoff = shift_date(self.tracker.today, -days)
        due = []
        for peer in self.tracker.peers():
            if peer.stage not in OPEN_STAGES:
                continue
            touched = peer.stage_since() or peer.created.date()  # last move through the pipeline
            if touched <= cutoff:
                due.append((peer, touched, (self.tracker.today - touched).days))
        return sorted(due, key=lambda item: -item[2])

def stage_of(peer: dict) -> str:
    """The stage of a peer (a stored document): Peer's default when an older document has none,
    as rebuilding it gives."""
    return peer.get("stage", "prospect")


def stage_history_of(peer: dict) -> list:
    """The stage changes of a peer (a stored document): none when an older document has none."""
    return peer.get("stage_history") or []


def entered(peer: dict) -> dt.date:
    """The day a peer (a stored document, `peer_documents`) entered the pipeline: that of their
    first stage."""
    history = stage_history_of(peer)
    return dt.date.fromisoformat(history[0]["on"]) if history else parse_timestamp(peer.get("created")).date()
