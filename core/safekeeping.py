"""Backups, restores and `verify`: copies of the database that can be trusted (a Tracker service).

The files and the hash chain are checked by the store (`Transaction.check`); here we add what
only the data model knows: every id a record points at names a record that exists.
"""

from .errors import StoreError, ValidationError
from .session import Service
from .storage import Check
from . import summaries

# (table, field holding one id or a list of ids, table the ids must be in).
REFERENCES = (
    ("enrollments", "peer_id", "peers"),
    ("step_records", "peer_id", "peers"),
    ("step_records", "enrollment_id", "enrollments"),
    ("certifications", "peer_id", "peers"),
    ("certifications", "enrollment_id", "enrollments"),
    ("summaries", "peer_id", "peers"),
    ("summary_heads", "peer_id", "peers"),
    ("offerings", "leaders", "peers"),
    ("sessions", "offering_id", "offerings"),
    ("sessions", "leaders", "peers"),
    ("observations", "offering_id", "offerings"),
    ("observations", "leaders", "peers"),
    ("peers", "outreach", "outreach"),
    ("activities", "peer_id", "peers"),
    ("activities", "offering_id", "offerings"),
    ("activities", "outreach_id", "outreach"),
)


class Safekeeping(Service):
    """`peerpath backup`, `verify` and `restore`."""

    def verify(self) -> Check:
        """Check the manifest, every table, the references between records and the audit
        chain; a damaged manifest is a problem reported, not an error raised."""
        try:
            with self.tracker.reading() as tx:
                found = tx.check()
                if not found.problems:
                    found.problems.extend(dangling_references(tx) + summaries.head_problems(tx))
        except StoreError as error:
            found = Check(problems=[str(error)])
        return found

    def backup(self, path) -> dict:
        """Write a consistent copy of the database to the new database `path`; its manifest."""
        target = self.tracker.store.like(path)
        if target.path == self.tracker.store.path:
            raise ValidationError("a backup needs a path other than the database's own")
        return self.tracker.store.backup(target)

    def restore(self, backup, force: bool = False) -> None:
        """Replace this database (which must not exist, unless `force`) by the backup at `backup`,
        once it verifies; the restore is the first new event of the restored audit trail."""
        # checked as the restore reads it
        source = self.tracker.store.like(backup, reference_problems=dangling_references)
        if source.path == self.tracker.store.path:
            raise ValidationError("cannot restore a database onto itself")
        if not source.exists():
            raise ValidationError(f"no backup at {source.path}")
        with self.tracker.changing(restore=source, force=force) as tx:
            self.tracker.audit_event("restore", "database", str(self.tracker.store.path), details={
                "from": str(source.path), "generation": tx.manifest["generation"],
            })


def dangling_references(tx) -> list:
    """'sessions S0003 names offerings O0009, which does not exist' for every broken reference."""
    problems, ids = [], {}
    for table, field, target in REFERENCES:
        if target not in ids:
            ids[target] = {document["id"] for document in tx.all(target)}
        for document in tx.all(table):
            value = document.get(field)
            for wanted in value if isinstance(value, list) else [value]:
                if wanted is not None and wanted not in ids[target]:
                    problems.append(f"{table} {document['id']} names {target} {wanted} in '{field}', "
                                    "which does not exist")
    return problems
