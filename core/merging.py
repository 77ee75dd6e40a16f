"""`peer merge KEEP DUPLICATE`: one peer entered twice (a `peer import` duplicate) made one.

Everything that names the duplicate is rewritten to name the peer kept: enrolments, step
records, certifications and summaries (moved to KEEP's chunk), the leader lists of offerings,
sessions and observations, and earlier merges into the duplicate. KEEP's empty fields are filled
from the duplicate, never overwriting a value of KEEP's. The duplicate's own document leaves
the peers table for `merged_peers`, kept whole under its id, so ids stay stable, no listing or
report counts the peer twice, and every command given the old id says where it went.
"""

import dataclasses
import datetime as dt

import attrs

from .activity import Activity
from .entities import Certification, Enrollment, Observation, Offering, Peer, SessionRecord, StepRecord
from .errors import ValidationError
from .merged import MERGED, merged_into
from .peers import EDITABLE, ELIGIBILITY
from .pathways import _Facts
from .serialize import from_document, to_document
from .session import Service
from . import summaries

# Tables whose documents belong to one peer (`peer_id`), and tables listing peers as `leaders`.
PEER_TABLES = {"enrollments": Enrollment, "step_records": StepRecord, "certifications": Certification,
               "summaries": None, "activities": Activity}
LEADER_TABLES = {"offerings": Offering, "sessions": SessionRecord, "observations": Observation}


@dataclasses.dataclass
class MergeResult:
    """What a merge moved (or, in a dry run, would move): {table: [ids]}, the fields of KEEP
    filled from the duplicate, and how many earlier stage changes were added to KEEP's history."""

    keep: str
    duplicate: str
    moved: dict
    filled: list
    earlier_stages: int
    dry_run: bool = False


def _empty(value) -> bool:
    return value is None or value == () or value == {}


class Merging(Service):
    """Merging a duplicate peer into the one kept (a Tracker service)."""

    def merge_peers(self, keep_id: str, duplicate_id: str, dry_run: bool = False) -> MergeResult:
        """Move everything of `duplicate_id` onto `keep_id` in one change, audited as one `merge`
        event; with `dry_run`, only say what would move."""
        if keep_id == duplicate_id:
            raise ValidationError(f"cannot merge {keep_id} into itself: give two different peers")
        if dry_run:
            with self.tracker.reading():
                return dataclasses.replace(self._merge_plan(keep_id, duplicate_id)[0], dry_run=True)
        with self.tracker.changing() as tx:
            result, keep, duplicate = self._merge_plan(keep_id, duplicate_id)
            self._move_peer_documents(duplicate, keep)
            self._replace_leader(duplicate.id, keep.id)
            for document in [dict(d) for d in tx.search(MERGED, merged_into=duplicate.id)]:
                tx.replace(MERGED, {**document, "merged_into": keep.id})
            self._store_merged_peer(keep, duplicate, result)
            self._settle_merged(keep.id)
            self.tracker.audit_event("merge", "peers", duplicate.id, peer_id=keep.id, details={
                "into": keep.id, "filled": result.filled, "earlier_stages": result.earlier_stages,
                "moved": result.moved,
            })
        return result

    def _merge_plan(self, keep_id: str, duplicate_id: str):
        """(MergeResult, KEEP as it will be, the duplicate); refuses what cannot be merged."""
        keep = self.tracker.load("peers", Peer, keep_id, "peer")
        duplicate = self.tracker.load("peers", Peer, duplicate_id, "peer")
        self._check_enrollments(keep_id, duplicate_id)
        moved = {table: [d["id"] for d in self.tracker.tx.search(table, peer_id=duplicate_id)] for table in PEER_TABLES}
        for table in LEADER_TABLES:
            moved[table] = [d["id"] for d in self.tracker.tx.all(table) if duplicate_id in d.get("leaders", ())]
        moved["merged_peers"] = sorted(merged_into(self.tracker.tx, duplicate_id))
        filled = _filled_fields(keep, duplicate)
        earlier = _earlier_stages(keep, duplicate)
        merged = attrs.evolve(keep, stage_history=earlier + keep.stage_history, **filled)
        result = MergeResult(keep_id, duplicate_id, {t: ids for t, ids in moved.items() if ids},
                             sorted(filled), len(earlier))
        return result, merged, duplicate

    def _check_enrollments(self, keep_id: str, duplicate_id: str) -> None:
        kept = {(d["program"], d["role"]) for d in self.tracker.tx.search("enrollments", peer_id=keep_id)}
        for document in self.tracker.tx.search("enrollments", peer_id=duplicate_id):
            if (document["program"], document["role"]) in kept:
                raise ValidationError(
                    f"cannot merge {duplicate_id} into {keep_id}: both are enrolled in {document['program']} "
                    f"as {document['role']}; nothing was changed"
                )

    def _move_peer_documents(self, duplicate, keep) -> None:
        """Each document of the duplicate's, rewritten to KEEP (and so moved to KEEP's chunk);
        its summaries' heads with them (derived data, not named among what moved)."""
        for table, cls in {**PEER_TABLES, summaries.HEADS: None}.items():
            for document in list(self.tracker.tx.search(table, peer_id=duplicate.id)):
                after = {**document, "peer_id": keep.id, **({"name": keep.name} if cls is None else {})}
                if cls is not None:
                    self.tracker.validate("merge", from_document(cls, after), before=from_document(cls, document))
                self.tracker.tx.remove(table, document)
                self.tracker.tx.insert(table, after)

    def _replace_leader(self, duplicate_id: str, keep_id: str) -> None:
        for table, cls in LEADER_TABLES.items():
            for document in [d for d in self.tracker.tx.all(table) if duplicate_id in d.get("leaders", ())]:
                leaders = list(dict.fromkeys(keep_id if p == duplicate_id else p for p in document["leaders"]))
                after = {**document, "leaders": leaders}
                self.tracker.validate("merge", from_document(cls, after), before=from_document(cls, document))
                self.tracker.tx.replace(table, after)

    def _store_merged_peer(self, keep, duplicate, result) -> None:
        before = self.tracker.load("peers", Peer, keep.id, "peer")
        after = attrs.evolve(keep, updated=dt.datetime.now(dt.timezone.utc).replace(microsecond=0))
        self.tracker.validate("merge", after, before=before)
        self.tracker.tx.replace("peers", to_document(after))
        self.tracker.tx.remove("peers", to_document(duplicate))
        self.tracker.tx.insert(MERGED, {"id": duplicate.id, "merged_into": keep.id,
                                        "on": self.tracker.today.isoformat(), "actor": self.tracker.actor,
                                        "filled": result.filled, "peer": to_document(duplicate)})

    def _settle_merged(self, keep_id: str) -> None:
        """KEEP's certifications and stored progress, judged again on the records now together."""
        programs = self.tracker.catalog.programs
        facts = _Facts(self.tracker, [keep_id])
        for enrollment in self.tracker.load_all("enrollments", Enrollment, peer_id=keep_id):
            if enrollment.program in programs:
                program = programs[enrollment.program]
                self.tracker.services.pathways._settle_certification(
                    enrollment, program, program.pathway(enrollment.pathway), facts)


def _filled_fields(keep, duplicate) -> dict:
    """{field: value} of KEEP's empty fields the duplicate has; consents KEEP lacks are added."""
    filled = {}
    for field in EDITABLE + ELIGIBILITY:
        if field in ("name", "consent"):
            continue
        if _empty(getattr(keep, field)) and not _empty(getattr(duplicate, field)):
            filled[field] = getattr(duplicate, field)
    consent = {**duplicate.consent, **keep.consent}
    if consent != dict(keep.consent):
        filled["consent"] = consent
    return filled


def _earlier_stages(keep, duplicate) -> tuple:
    """The duplicate's stage changes dated before KEEP entered the pipeline: their history too."""
    first = keep.stage_history[0].on if keep.stage_history else None
    return tuple(change for change in duplicate.stage_history if first is None or change.on < first)
