"""Peers and the recruitment pipeline."""

import datetime as dt

import attrs

from . import summaries
from .entities import STAGES, Peer, StageChange, id_order, optional_date
from .errors import ValidationError
from .serialize import from_document, unreadable_refused
from .session import Service

EDITABLE = (
    "name", "email", "phone", "pronouns", "languages", "community", "county",
    "lived_experience", "source", "source_detail", "sector", "outreach", "consent", "notes",
)
# Leader eligibility (a program's min_age and nami_membership requirements): set with `peer add`
# and `peer edit`, kept out of spreadsheet import and export like other sensitive details.
ELIGIBILITY = ("birth_date", "member_until")
# The completed offering a peer graduated from (core.graduates): checked to exist and be completed.
GRADUATION = ("graduate_of",)

# Personal contact details, and notes (which hold the extra columns of imported sheets): left
# out of listings, exports and the audit trail's output unless asked for.
CONTACT_FIELDS = ("email", "phone", "notes")
HIDDEN = "(hidden)"


def without_contact(document: dict) -> dict:
    """A peer's document (`to_document`) without its contact fields."""
    return {key: value for key, value in document.items() if key not in CONTACT_FIELDS}


def event_without_contact(document: dict) -> dict:
    """An audit event's document with every contact value in its details shown as "(hidden)":
    an edit's old and new email, phone or notes, at any depth. Which fields changed stays."""
    return {**document, "details": _hide_contact(document.get("details") or {})}


def _hide_contact(value):
    if isinstance(value, dict):
        return {key: HIDDEN if key in CONTACT_FIELDS and item not in (None, "") else _hide_contact(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_hide_contact(item) for item in value]
    return value


def _now():
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


class Peers(Service):
    """Adding, finding, editing and staging peers (a Tracker service)."""

    def new_peer(self, on=None, **fields) -> Peer:
        """A Peer with a fresh id, not yet stored; must be called inside `changing()`.

        `on` is the date the peer entered their first stage (default today).
        """
        unknown = set(fields) - set(EDITABLE + ELIGIBILITY + GRADUATION) - {"stage"}
        if unknown:
            raise ValidationError(f"unknown peer field(s): {', '.join(sorted(unknown))}")
        stage = fields.pop("stage", None) or "prospect"
        self._check_outreach(fields.get("outreach"))
        self._check_graduate_of(fields)
        history = [StageChange(stage=stage, on=on or self.tracker.today, actor=self.tracker.actor)]
        self.tracker.check_not_future(history[0].on, optional_date(fields.get("birth_date")))
        return Peer(id=self.tracker.tx.next_id("P"), stage=stage, stage_history=history, **fields)

    def _check_outreach(self, outreach_id) -> None:
        if outreach_id and self.tracker.tx.get("outreach", outreach_id) is None:
            raise ValidationError(f"unknown outreach event '{outreach_id}'")

    def _check_graduate_of(self, fields, before=None) -> None:
        """A peer who graduated from an offering came from it: the offering must exist and be
        completed, and the peer's source is "graduate" (set to it when not given)."""
        offering_id = fields.get("graduate_of")
        if not offering_id and not (before is not None and before.graduate_of and "source" in fields):
            return
        from .graduates import check_graduate_source

        check_graduate_source(self.tracker, offering_id, fields, before)

    def add_peer(self, **fields) -> Peer:
        """Store a new peer and return it."""
        with self.tracker.changing():
            peer = self.new_peer(**fields)
            self.tracker.store_new("peers", peer, "add", peer_id=peer.id)
            self.tracker.fire("peer_added", peer=peer)
        return peer

    def add_peers(self, rows) -> list:
        """Store many peers in one write; all or nothing."""
        with self.tracker.changing():
            peers = [self.new_peer(**row) for row in rows]
            self.tracker.store_many("peers", peers, "add", peer_id_of=lambda peer: peer.id)
            for peer in peers:
                self.tracker.fire("peer_added", peer=peer)
        return peers

    def peer(self, peer_id: str) -> Peer:
        with self.tracker.reading():
            return self.tracker.load("peers", Peer, peer_id, "peer")

    def peers(self, stage=None, where=None) -> list:
        """The peers at `stage` (default any) that `where`, a PeerFilter (core.filters), matches."""
        with self.tracker.reading():
            return [from_document(Peer, document) for document in self.peer_documents(stage, where)]

    def peer_documents(self, stage=None, where=None) -> list:
        """`peers`, as their stored documents (shared with the transaction: do not modify them):
        what the counting reports read, and what the filters choose from, so that only the
        peers a command shows are rebuilt (rebuilding a state's 20,000 took a third of
        `report funnel`)."""
        if stage is not None and stage not in STAGES:
            raise ValidationError(f"unknown stage '{stage}': choose from {', '.join(STAGES)}")
        where = self.tracker.check_filter(where)
        stage = stage or where.stage
        with self.tracker.reading() as tx:
            stored = tx.search("peers", stage=stage) if stage else tx.all("peers")
            with unreadable_refused(Peer, stored):
                found = self.tracker.select_peers(stored, where)
                return sorted(found, key=lambda peer: id_order(peer["id"]))

    def edit_peer(self, peer_id: str, **changes) -> Peer:
        unknown = set(changes) - set(EDITABLE + ELIGIBILITY + GRADUATION)
        if unknown:
            raise ValidationError(f"cannot edit field(s): {', '.join(sorted(unknown))}")
        if not changes:
            raise ValidationError("nothing to change: give at least one field")
        with self.tracker.changing():
            before = self.tracker.load("peers", Peer, peer_id, "peer")
            self._check_outreach(changes.get("outreach"))
            self._check_graduate_of(changes, before)
            self.tracker.check_not_future(optional_date(changes.get("birth_date")))
            after = attrs.evolve(before, updated=_now(), **changes)
            changed = sorted(k for k in changes if getattr(before, k) != getattr(after, k))
            self.tracker.store_changed("peers", before, after, "edit", peer_id=peer_id, details={"fields": changed})
            if "name" in changed:
                summaries.rename(self.tracker.tx, peer_id, after.name)
        return after

    def set_stage(self, peer_id: str, stage: str, on=None) -> Peer:
        """Move a peer to a recruitment stage, recording the date."""
        if stage not in STAGES:
            raise ValidationError(f"unknown stage '{stage}': choose from {', '.join(STAGES)}")
        with self.tracker.changing():
            before = self.tracker.load("peers", Peer, peer_id, "peer")
            if before.stage == stage:
                raise ValidationError(f"peer '{peer_id}' is already at stage '{stage}'")
            change = StageChange(stage=stage, on=on or self.tracker.today, actor=self.tracker.actor)
            self.tracker.check_not_future(change.on)
            since = before.stage_since()
            if since is not None and change.on < since:
                raise ValidationError(
                    f"{change.on} is before {peer_id} entered '{before.stage}' on {since}"
                )
            after = attrs.evolve(before, stage=stage, updated=_now(),
                                 stage_history=before.stage_history + (change,))
            self.tracker.store_changed("peers", before, after, "stage", peer_id=peer_id,
                               details={"from": before.stage, "to": stage, "on": change.on.isoformat()})
            self.tracker.fire("peer_stage_changed", peer=after, old_stage=before.stage, new_stage=stage)
        return after
