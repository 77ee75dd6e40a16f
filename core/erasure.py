"""Erasing a peer's identity while keeping the statistics (a Tracker service).

`peer erase` blanks the fields that say who a peer is and redacts those values in the audit
trail: each such value in the log is replaced by its digest (core/chain.py), so the trail
keeps every event, loses the values, and its hash chain still verifies. The erasure itself is
an event listing which events and values it redacted. Stages, dates, enrolments, records and
counts stay, so reports do not change.
"""

import datetime as dt
import re

import attrs

from . import chain, summaries
from .entities import Peer
from .errors import ValidationError
from .merged import MERGED
from .serialize import from_document, to_document
from .session import Service

# What says who a peer is: their name, how to reach them, and free text.
IDENTITY_FIELDS = ("name", "email", "phone", "notes", "source_detail")
ERASED_NAME = "(erased)"
RETENTION_SETTING = "privacy.retain_prospects_days"


class Erasure(Service):
    """Erasing a peer's identity, on request or once kept too long (a Tracker service)."""

    def erase_peer(self, peer_id: str) -> Peer:
        """Erase the identity of peer `peer_id` (see the module's docstring); returns the peer."""
        with self.tracker.changing():
            peer = self.tracker.load("peers", Peer, peer_id, "peer")
            if peer.erased:
                raise ValidationError(f"peer '{peer_id}' was already erased on {peer.erased}")
            return self._erase([peer], reason="request")[0]

    def sweep_retention(self) -> list:
        """Erase prospects who never went further and entered that stage longer ago than the
        setting privacy.retain_prospects_days (nothing while it is unset); the peers erased."""
        days = self.tracker.core_setting(RETENTION_SETTING)
        if days is None:
            return []
        cutoff = self.tracker.today - dt.timedelta(days=days)
        with self.tracker.changing():
            due = [peer for peer in self.tracker.load_all("peers", Peer, stage="prospect")
                   if not peer.erased and all(change.stage == "prospect" for change in peer.stage_history)
                   and (peer.stage_since() or self.tracker.today) < cutoff]
            return self._erase(sorted(due, key=lambda peer: peer.id), reason=f"{RETENTION_SETTING} = {days}")

    def _erase(self, peers: list, reason: str) -> list:
        """Erase `peers` in the current change (and the duplicates `peer merge` folded into them):
        their records, then the log in one rewrite."""
        if not peers:
            return []
        erased, subjects = [], {}
        for peer in peers:
            after = self._without_identity(peer)
            self.tracker.validate("erase", after, before=peer)
            self.tracker.tx.replace("peers", to_document(after))
            summaries.rename(self.tracker.tx, peer.id, ERASED_NAME)
            erased.append(after)
            people = [peer] + self._erase_merged(peer.id)
            identifying = _identifying(people)
            subjects.update({person.id: (peer.id, identifying) for person in people})
        redacted = self._redact_log(subjects)
        for peer in peers:
            self.tracker.audit_event("erase", "peers", peer.id, peer_id=peer.id, details={
                "fields": [field for field in IDENTITY_FIELDS if getattr(peer, field)],
                "reason": reason, "redacted": redacted.get(peer.id, []),
            })
        return erased

    def _without_identity(self, peer: Peer) -> Peer:
        return attrs.evolve(peer, name=ERASED_NAME, email=None, phone=None, notes=None, source_detail=None,
                            erased=self.tracker.today, updated=dt.datetime.now(dt.timezone.utc).replace(microsecond=0))

    def _erase_merged(self, peer_id: str) -> list:
        """Erase the kept copies of the peers merged into `peer_id`; those peers as they were."""
        merged = []
        for document in [dict(d) for d in self.tracker.tx.search(MERGED, merged_into=peer_id)]:
            duplicate = from_document(Peer, document["peer"])
            self.tracker.tx.replace(MERGED, {**document, "peer": to_document(self._without_identity(duplicate))})
            merged.append(duplicate)
        return merged

    def _redact_log(self, subjects: dict) -> dict:
        """Redact identities in the events about each subject ({peer id: (erased peer's id, test)});
        {erased peer's id: [{"event": number, "values": [paths]}]}."""
        lines = self.tracker.tx.log_lines()
        redacted: dict = {}
        for number, line in enumerate(lines, 1):
            about = line.get("peer_id") if line.get("peer_id") in subjects else line.get("entity_id")
            if about not in subjects or not chain.is_sealed(line):
                continue
            erased_id, identifying = subjects[about]
            lines[number - 1], paths = chain.redact(line, identifying)
            if paths:
                redacted.setdefault(erased_id, []).append({"event": number, "values": paths})
        self.tracker.tx.rewrite_log(lines)
        return redacted


def _identifying(people: list):
    """Whether a leaf of an event about one of `people` (a peer and those merged into them)
    identifies them: an identity field's value, or a value naming a name, email or phone of
    theirs as a whole word."""
    known = sorted({getattr(person, field) for person in people for field in ("name", "email", "phone")
                    if getattr(person, field)}, key=len, reverse=True)
    mention = re.compile("|".join(rf"(?<!\w){re.escape(text)}(?!\w)" for text in known), re.IGNORECASE)

    def identifying(path, value) -> bool:
        return path[0] == "details" and (
            any(part in IDENTITY_FIELDS for part in path[1:])
            or bool(known and mention.search(str(value)))
        )

    return identifying
