"""`peerpath db copy`: a whole database from one backend to another (files -> PostgreSQL to grow
up, PostgreSQL -> files to keep a copy or to leave), or between two of a kind.

The copy is one read of the source and one change of the target: every table's documents, the
settings, the id counters and the audit log line for line (each line's seal verified, so the
chain goes on unbroken), then one `copy` event of the target's own saying by whom and from
where. Afterwards both are read again: the target must hold the same ids in every table and
the source's audit lines, and verify.
"""

import copy

import attrs

from . import chain
from .errors import StoreError, ValidationError
from .storage import is_url, with_affiliate
from .tracker import Tracker


@attrs.frozen
class Copied:
    """What `db copy` copied: where from and to (as shown), tables, rows and audit events."""

    source: str
    target: str
    tables: int
    rows: int
    events: int


def copy_database(source, target, actor=None, force: bool = False, affiliate=None) -> Copied:
    """Copy the database at `source` into `target` (a path or a URL, created if need be), which
    must be empty unless `force` (then what it held is replaced); verified after. `affiliate`:
    the affiliate of a PostgreSQL target to copy into (made if new), so that several affiliates'
    files become one state database."""
    if affiliate is not None:
        if not is_url(target):
            raise ValidationError(f"--affiliate names an affiliate of a PostgreSQL target; {target} is a file")
        target = with_affiliate(str(target), affiliate)
    reader, writer = Tracker(db=source, actor=actor), Tracker(db=target, actor=actor)
    if str(reader.store.path) == str(writer.store.path):
        raise StoreError("db copy needs a target other than its source")
    with reader.reading() as source_tx, writer.changing(create=True) as target_tx:
        _clear(target_tx, writer.store.path, force)
        tables, lines = copy_into(source_tx, target_tx)
        copied = Copied(source=str(reader.store.path), target=str(writer.store.path), tables=len(tables),
                        rows=sum(map(len, tables.values())), events=len(lines))
        writer.audit_event("copy", "database", copied.target, details={
            "from": copied.source, "tables": copied.tables, "rows": copied.rows, "events": copied.events})
    _verify(writer, copied, tables, lines)
    return copied


def copy_into(source_tx, target_tx) -> tuple:
    """Copy every table, the settings, the id counters and the audit log of one open database
    into another (empty) one; ({table: ids copied}, the audit lines copied)."""
    tables = {}
    for name in source_tx.table_names():
        documents = source_tx.all(name)
        target_tx.insert_many(name, documents, checked=False)  # read without a write's row checks
        tables[name] = {document["id"] for document in documents}
    target_tx.meta.clear()
    target_tx.meta.update(copy.deepcopy({k: v for k, v in source_tx.meta.items() if k != "counters"}))
    target_tx.set_counters(source_tx.counters())
    lines = source_tx.log_lines()
    target_tx.rewrite_log(lines)
    return tables, lines


def _clear(tx, where, force: bool) -> None:
    """Empty the target (with `force`), or refuse one that holds anything."""
    held = [name for name in tx.table_names() if tx.all(name)]
    if not (held or tx.log_lines()):
        return
    if not force:
        raise StoreError(f"{where} already holds a database; nothing was copied: add --force to replace it")
    for name in held:
        for document in list(tx.all(name)):
            tx.remove(name, document)


def _verify(writer, copied: Copied, ids: dict, lines: list) -> None:
    """Refuse (after the commit, saying so) a target that does not hold what was read from the
    source: `ids` ({table: ids}) and the audit `lines`."""
    with writer.reading() as tx:
        for name, wanted in ids.items():
            if {d["id"] for d in tx.all(name)} != wanted:
                raise StoreError(f"the copy in {copied.target} does not hold the rows of {name} that "
                                 f"{copied.source} holds")
        stored = tx.log_lines()
        if [chain.unsealed(line) for line in stored[:-1]] != [chain.unsealed(line) for line in lines]:
            raise StoreError(f"the copy in {copied.target} does not hold the audit trail of {copied.source}")
        problems = tx.check().problems
        if problems:
            raise StoreError(f"the copy in {copied.target} does not verify: {problems[0]}")
