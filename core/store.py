"""The database: TinyDB tables kept in files that are written atomically under a lock.

This is the only module that imports tinydb. A database is a small *manifest* file (the path the
user names) plus a folder beside it, `<name>.d/`, holding human-readable TinyDB JSON files, one
per table or per chunk of a large table, and an append-only JSON-lines audit log:

    affiliate.json              {"format": "peerpath", "schema": 2, "generation": 7,
                                 "tables": {"peers~0": "peers~0.7.json", "sessions": ...},
                                 "events": {"file": "events.jsonl", "bytes": 5120, "count": 40,
                                            "head": "<hash of the last event>"},
                                 "checksums": {"peers~0.7.json": 1234567890, ...},
                                 "meta": {...}}
    affiliate.json.d/peers~0.7.json
    affiliate.json.d/events.jsonl

Why this shape: TinyDB rewrites a whole file per write, so one file per table (and per chunk of
the tables that grow with the number of peers) means a command rewrites only what it changed,
and loads only what it reads. A write transaction writes every changed table to a new
generation file, fsyncs it, and then replaces the manifest with `os.replace`: that single rename
is the commit, so a crash at any moment leaves either the old or the new database, never a mix.
The audit log only grows; the manifest records how many of its bytes are committed and the hash
that ends its chain (core/chain.py), and a writer trims any uncommitted tail left by a crash but
refuses a log that is shorter or ends elsewhere. Rewriting the log whole (the schema 1 migration,
an erasure, a restore) writes a new `events.<generation>.jsonl`, committed by the manifest too.

Writers hold an exclusive `flock` on `<name>.lock` for the whole read-modify-write, so concurrent
processes never lose each other's updates; readers hold a shared lock while they load.

The manifest is the only truth about which files are live: the names it gives must be peerpath's
own (`<table>.<generation>.json`, `events[.<generation>].jsonl`), cleanup deletes nothing else, and a missing
manifest beside a folder that holds data is never replaced by a new, empty database: `recover`
rebuilds it from the newest complete generation of each table and the complete audit lines.
"""

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import re
import time
import zlib
from collections.abc import MutableMapping
from pathlib import Path
from typing import Callable, Optional

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document

from . import chain
from .errors import StoreError, UnreadableDocument, ValidationError
from .storage import Check, backup_path

FORMAT = "peerpath"
# Schema 2: the audit log is a hash chain (core/chain.py) whose head the manifest records.
# Schema 3: every table the store shards is kept in chunks (offerings, sessions and observations
# were whole tables before), and each declared index is stored (see Transaction.containing).
SCHEMA_VERSION = 3
EVENTS_FILE = "events.jsonl"
CHECKSUMS = "checksums"  # the manifest's {table file: crc32 of the bytes its commit wrote}
# The only files peerpath writes in a database's folder: `<table>.<generation>.json` (a table is
# `name` or a chunk `name~N`) and the audit log. Names read from a manifest must match, and only
# table files of this shape are ever deleted: anything else in the folder is the user's.
_TABLE_NAME = re.compile(r"[A-Za-z0-9_]+(?:~[0-9]+)?", re.ASCII)
_TABLE_FILE = re.compile(r"(?P<table>[A-Za-z0-9_]+(?:~[0-9]+)?)\.(?P<generation>[0-9]{1,18})\.json", re.ASCII)
# A log that was rewritten whole (chained by the migration, redacted by an erasure, restored from
# a backup) is a new file of that commit's generation, so the manifest's rename still commits it.
_LOG_FILE = re.compile(r"events(?:\.(?P<generation>[0-9]{1,18}))?\.jsonl", re.ASCII)
_RECORD_ID = re.compile(r"(?P<prefix>[A-Za-z]+)(?P<number>[0-9]{1,18})", re.ASCII)
# What recovery could not use is renamed with this suffix, so no commit deletes it.
SET_ASIDE = ".unreadable"
# Migrations upgrade the manifest and tables of an older schema in place: {old_version: function}.
# Each takes a Transaction and leaves it at old_version + 1 (defined after Transaction).

__all__ = ["Check", "Recovery", "Store", "Transaction", "default_db_path", "FORMAT", "SCHEMA_VERSION",
           "SHARDS", "INDEXES"]

# The file layout's policy (the tracker names tables only, see core/storage.py): large tables are
# split by peer so that a command about one peer reads one chunk of each. Sessions and
# observations name several leaders, so they are split by offering instead, and an index per
# leader (INDEXES) names the offerings whose chunks hold what that leader led.
SHARDS = {
    "peers": ("id", 500),
    "enrollments": ("peer_id", 500),
    "step_records": ("peer_id", 500),
    "certifications": ("peer_id", 500),
    "summaries": ("peer_id", 500),
    "summary_heads": ("peer_id", 500),
    "offerings": ("id", 500),
    "sessions": ("offering_id", 100),
    "observations": ("offering_id", 100),
}
# {table: list field}: Transaction.containing(table, field, peer_id) reads only the chunks the
# index names (kept in tables sessions_by_leaders~N and observations_by_leaders~N).
INDEXES = {"sessions": "leaders", "observations": "leaders"}


def _generation(pattern: re.Pattern, name: str) -> int:
    """The generation in the name of a table or log file (one `pattern` matched already)."""
    match = pattern.fullmatch(name)
    if match is None:
        raise ValueError(f"{name} is not named as {pattern.pattern}")
    return int(match["generation"] or 0)


def default_db_path() -> Path:
    """`PEERPATH_DB`, else `peerpath.json` in the user's data directory (XDG); a file path (see
    core.storage.default_location, which also takes a postgresql:// URL)."""
    if os.environ.get("PEERPATH_DB"):
        return Path(os.environ["PEERPATH_DB"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "peerpath" / "peerpath.json"


def _lock_timeout() -> float:
    try:
        return float(os.environ.get("PEERPATH_LOCK_TIMEOUT", "30"))
    except ValueError:
        raise StoreError("PEERPATH_LOCK_TIMEOUT must be a number of seconds") from None


def _write_private(path: Path, data: bytes) -> None:
    """Write a new file readable by its owner only and force it to disk."""
    _write_all_private([path], [data])


def _write_all_private(paths: list, contents) -> None:
    """New files readable by their owner only, each written, then all forced to disk together.
    A change at state size rewrites a hundred chunks; one fsync after another was a fifth of its
    time, while fsyncs waiting in parallel share the disk's flushes (fsync releases the GIL)."""
    fds = []
    try:
        for path, data in zip(paths, contents):
            fds.append(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            os.fchmod(fds[-1], 0o600)
            _write_all(fds[-1], data)
        if len(fds) < 3:
            for fd in fds:
                os.fsync(fd)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(os.fsync, fds))
    finally:
        for fd in fds:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _write_synced(fd: int, data: bytes) -> None:
    """Write all of `data` at the file offset and force it to disk."""
    _write_all(fd, data)
    os.fsync(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _dump(data) -> bytes:
    try:
        return orjson.dumps(data)
    except TypeError as error:  # text that is not UTF-8, an integer beyond 64 bits
        raise ValidationError(f"cannot store a value: {error}") from None


def _os_error(path, action, error: OSError) -> StoreError:
    if error.errno == errno.ENOSPC:
        reason = "the disk is full"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "permission denied"
    else:
        reason = error.strerror or str(error)
    return StoreError(f"cannot {action} {path}: {reason}; nothing was changed")


class _Tables(MutableMapping):
    """The `{table: {doc_id: doc}}` mapping TinyDB reads, loading each table file on first use."""

    def __init__(self, transaction):
        self._transaction = transaction
        self._loaded = {}
        self.dirty = set()

    def __getitem__(self, name):
        if name not in self._loaded:
            self._loaded[name] = self._transaction._load_table(name)
        return self._loaded[name]

    def __setitem__(self, name, value):
        self._loaded[name] = value
        self.dirty.add(name)

    def __delitem__(self, name):
        self[name] = {}

    def __iter__(self):
        return iter(set(self._transaction.manifest["tables"]) | set(self._loaded))

    def __len__(self):
        return len(set(self._transaction.manifest["tables"]) | set(self._loaded))


class _TableStorage(Storage):
    """TinyDB storage over a transaction's lazily loaded tables; nothing touches disk here."""

    def __init__(self, tables: _Tables):
        self._tables = tables

    def read(self):
        return self._tables

    def write(self, data):
        # TinyDB hands back the mapping it read, already updated through `_Tables.__setitem__`.
        pass

    def close(self):
        pass


class Transaction:
    """A consistent view of the database; changes are kept in memory until the commit."""

    migrated: bool  # whether opening it brought the stored schema up to date (Store._migrate)
    schema_before: int  # the stored schema's version as opened (Store._migrate; `db upgrade` says it)
    _meta_before: dict  # a write's `meta` as it began, to tell whether it changed (Store.write)

    def __init__(self, store: "Store", manifest: dict, writable: bool):
        self.store = store
        self.manifest = manifest
        self.writable = writable
        self.meta = manifest.setdefault("meta", {})
        self._tables = _Tables(self)
        self._db = TinyDB(storage=_TableStorage, tables=self._tables)
        self._db.default_table_name = "_unused"
        self._new_events: list = []
        self._created_log = False
        self._log_rewrite = None  # the whole log's lines, when this commit rewrites it
        self.log_unsealed = False  # a log from before the hash chain (schema 1), not yet sealed
        self._appended = False  # whether this commit has begun changing the audit log
        self._checked: dict = {}  # {table file: crc32} of those whose rows this write checked
        self._unchecked: set = set()  # tables given rows no write checked (a copy's): not noted as checked
        self.recovery = None

    # -- tables -------------------------------------------------------------------------------
    #
    # A sharded table is kept as chunks, `name~N`, each its own TinyDB table and file: chunk N
    # holds the documents whose shard field (e.g. peer_id "P0042") has a number in
    # [N * size, (N + 1) * size). Within a table a document's TinyDB doc_id is the number of its
    # own id, so looking one up by id is a dictionary lookup, not a scan.

    def table(self, name: str):
        """The TinyDB table (or chunk) `name`, created on first insert."""
        return self._db.table(name, cache_size=0)

    def _load_table(self, name: str) -> dict:
        filename = self.manifest["tables"].get(name)
        if filename is None:
            return {}
        path = self.store.folder / filename
        try:
            data = path.read_bytes()
            document = orjson.loads(data)
        except FileNotFoundError:
            raise StoreError(f"{path} is missing: the database {self.store.path} is damaged") from None
        except ValueError:
            raise StoreError(f"{path} is corrupt: not a peerpath table file") from None
        except OSError as error:
            raise _os_error(path, "read", error) from None
        crc = zlib.crc32(data) if self.writable else None
        problem = table_problem(name, document) or (
            self.writable and not self._checked_before(filename, crc) and self._row_problem(name, document[name]))
        if problem:
            # Refused, not repaired: a write must never carry a damaged table into a new generation.
            raise StoreError(f"{path} is corrupt: {problem}; it was left untouched")
        if self.writable:
            self._checked[filename] = crc
        return document[name]

    def _checked_before(self, filename: str, crc) -> bool:
        """Whether the file holds the very bytes a commit wrote or an earlier write checked (their
        crc32 in the manifest): its rows were checked then, and a write need not check each again
        (a fifth of a state-wide re-judgement). A file changed since is checked row by row."""
        checksums = self.manifest.get(CHECKSUMS)
        return isinstance(checksums, dict) and checksums.get(filename) == crc

    def _row_problem(self, name: str, rows: dict) -> str:
        """The first row under another row's number (a repeated id) or whose fields have the wrong
        types, or "": a write never works from, nor carries on, a row that is not what peerpath
        stored. (Reads skip this check, for speed: a field they cannot use is refused when its
        document is rebuilt, naming the file.)"""
        misplaced = next((key for key, row in rows.items() if key != _key_of(row["id"])), None)
        if misplaced is not None:
            return f"row {misplaced!r} holds {rows[misplaced]['id']!r}, which is not its number (a repeated id?)"
        check = self.store.row_checks.get(name.partition("~")[0])
        if check is not None:
            for key, row in rows.items():
                problem = check(row)
                if problem:
                    return f"row {key!r} ({row['id']}): {problem}"
        return ""

    def _drop_table(self, name: str) -> None:
        """Take table `name` out of this view (its file, no longer named by the manifest, is
        deleted once the commit is done)."""
        self.manifest["tables"].pop(name, None)
        self._tables._loaded.pop(name, None)
        self._tables.dirty.discard(name)

    def _chunk(self, name: str, document: dict) -> str:
        field, size = self.store.shards[name]
        return f"{name}~{_number(document.get(field)) // size}"

    def _chunks(self, name: str, **equal) -> list:
        """The table names holding `name`: its chunks (only the one `equal` pins down), or itself."""
        if name not in self.store.shards:
            return [name]
        field, _ = self.store.shards[name]
        if field in equal:
            return [self._chunk(name, equal)]
        prefix = f"{name}~"
        return sorted({t for t in self._tables if t.startswith(prefix)})

    def insert(self, name: str, document: dict) -> None:
        self.insert_many(name, [document])

    def insert_many(self, name: str, documents, checked: bool = True) -> None:
        """Insert documents that carry their own `id`, one table write per chunk touched;
        `checked`: whether they were checked (made by peerpath, or loaded by a write)."""
        by_chunk: dict = {}
        documents = list(documents)
        for document in documents:
            chunk = self._chunk(name, document) if name in self.store.shards else name
            by_chunk.setdefault(chunk, []).append(Document(document, doc_id=_number(document["id"])))
        for chunk, batch in by_chunk.items():
            taken = [doc["id"] for doc in batch if str(doc.doc_id) in self._tables[chunk]]
            if taken:
                raise StoreError(
                    f"{self.store.path} is corrupt: its id counters give {taken[0]}, which {name} already "
                    "holds; it was left untouched"
                )
            self.table(chunk).insert_multiple(batch)
            if not checked:
                self._unchecked.add(chunk)
        self._index(name, documents)

    def table_names(self) -> list:
        """The tables core stored (each chunked table once; the indexes, derived, left out)."""
        indexes = {index_name(table, field) for table, field in self.store.indexes.items()}
        return sorted({name.partition("~")[0] for name in self._tables} - indexes)

    def all(self, name: str) -> list:
        """Every document of `name` (shared with the transaction: do not modify)."""
        return [doc for chunk in self._chunks(name) for doc in self._tables[chunk].values()]

    def get(self, name: str, record_id: str, **shard):
        """The document with `id` == record_id (pass the shard field if known, to read one chunk)."""
        if name in self.store.shards and self.store.shards[name][0] == "id":
            shard = {"id": record_id}
        key = str(_number(record_id))
        for chunk in self._chunks(name, **shard):
            document = self._tables[chunk].get(key)
            if document is not None and document.get("id") == record_id:
                return dict(document)
        return None

    def search(self, name: str, **equal) -> list:
        """Documents of `name` whose fields equal the given values (do not modify them)."""
        rows = [row for chunk in self._chunks(name, **equal) for row in self._tables[chunk].values()]
        for key, value in equal.items():  # a field at a time: a chunk's thousands of rows, one test each
            rows = [row for row in rows if row.get(key) == value]
        return rows

    # replace and remove change the chunk's rows themselves: TinyDB's update and remove rebuild the
    # whole table's dictionary twice per call, which made a change of a few thousand documents at
    # state size quadratic (a third of a `config set`).

    def replace(self, name: str, document: dict) -> None:
        """Replace the stored document with the same `id`."""
        rows, key = self._rows_holding(name, document, "update")
        stored = rows[key]
        stored.clear()  # in place, as TinyDB's update did: what this transaction read shows the change
        stored.update(document)
        self._index(name, [document])

    def remove(self, name: str, document: dict) -> None:
        """Remove the stored document with the same `id` (the audit trail keeps what it was)."""
        rows, key = self._rows_holding(name, document, "remove")
        del rows[key]

    def _rows_holding(self, name: str, document: dict, action: str):
        """(the rows of the chunk holding `document`'s id, its key there), the chunk marked
        changed; a StoreError naming the id when there is none to `action`."""
        chunk = self._chunk(name, document) if name in self.store.shards else name
        rows, key = self._tables[chunk], str(_number(document["id"]))
        if key not in rows:
            raise StoreError(f"no {name} record '{document['id']}' to {action}")
        self._tables.dirty.add(chunk)
        return rows, key

    # -- indexes ------------------------------------------------------------------------------
    #
    # An index (Store.indexes: {table: list field}) says, for each value of a sharded table's list
    # field (the peers in `leaders`), the shard keys (offering ids) of the documents holding it,
    # so that `containing` reads only those chunks. It is kept by insert and replace in the same
    # transaction, and so committed with the table by the same rename. It may list a key whose
    # documents no longer hold the value (after a remove, or a merge that replaced a leader):
    # that costs a chunk read, never an answer, as `containing` filters what it reads; what it must
    # never do is miss one, which `check` verifies and recovery and restores rebuild.

    def containing(self, name: str, field: str, value) -> list:
        """Documents of `name` whose list `field` holds `value` (do not modify them): through
        the table's index when it has one, reading only the chunks that hold them."""
        if self.store.indexes.get(name) == field and _RECORD_ID.fullmatch(str(value)):
            shard_field = self.store.shards[name][0]
            row = self.get(index_name(name, field), value)
            chunks = sorted({self._chunk(name, {shard_field: key}) for key in (row["keys"] if row else ())})
        else:
            chunks = self._chunks(name)
        return [doc for chunk in chunks for doc in self._tables[chunk].values() if value in (doc.get(field) or ())]

    def _index(self, name: str, documents) -> None:
        """Note in `name`'s index the shard key of each document under each value of its field."""
        field = self.store.indexes.get(name)
        if field is None:
            return
        index, wanted = index_name(name, field), self._index_entries(name, field, documents)
        for value, keys in wanted.items():
            row = self.get(index, value)
            if row is None:
                self.insert(index, {"id": value, "keys": sorted(keys, key=str)})
            elif not keys <= set(row["keys"]):
                self.replace(index, {"id": value, "keys": sorted(keys | set(row["keys"]), key=str)})

    def _index_entries(self, name: str, field: str, documents) -> dict:
        """{value: {shard keys}} of `documents` (values that are not ids, which no index row can
        hold, are left out: `containing` reads every chunk for them)."""
        shard_field = self.store.shards[name][0]
        found: dict = {}
        for document in documents:
            values = document.get(field) or ()
            for value in values if isinstance(values, list) else ():
                if isinstance(value, str) and _RECORD_ID.fullmatch(value):
                    found.setdefault(value, set()).add(document.get(shard_field))
        return found

    def rebuild_indexes(self) -> None:
        """Store every index anew from its table (after a recovery, a restore or a migration);
        chunks that come out the same are left as they are."""
        for name, field in self.store.indexes.items():
            index = index_name(name, field)
            rows: dict = {}
            for value, keys in self._index_entries(name, field, self.all(name)).items():
                chunk = self._chunk(index, {"id": value})
                rows.setdefault(chunk, {})[_key_of(value)] = {"id": value, "keys": sorted(keys, key=str)}
            for chunk in set(self._chunks(index)) | set(rows):
                if self._tables[chunk] != rows.get(chunk, {}):
                    self._tables[chunk] = rows.get(chunk, {})

    def index_problems(self) -> list:
        """A problem for each index chunk that misses a document of its table (one-peer answers
        would leave that document out)."""
        problems = []
        for name, field in self.store.indexes.items():
            index = index_name(name, field)
            for value, keys in sorted(self._index_entries(name, field, self.all(name)).items()):
                row = self.get(index, value)
                missing = keys - set(row["keys"] if row and isinstance(row.get("keys"), list) else ())
                if missing:
                    chunk = self._chunk(index, {"id": value})
                    where = self.store.folder / self.manifest["tables"].get(chunk, f"{chunk}.json")
                    problems.append(f"{where} is corrupt: it does not list {value} under "
                                    f"{', '.join(sorted(map(str, missing)))} of {name}")
        return problems

    def next_id(self, prefix: str) -> str:
        """A new id such as `P0042`, unique within this database."""
        counters = self.meta.setdefault("counters", {})
        counters[prefix] = counters.get(prefix, 0) + 1
        return f"{prefix}{counters[prefix]:04d}"

    def counters(self) -> dict:
        """{prefix: the last number next_id gave} (kept in the manifest's settings)."""
        return dict(self.meta.get("counters", {}))

    def set_counters(self, counters: dict) -> None:
        """Make next_id carry on from `counters` ({prefix: number}), as in the database copied here."""
        self.meta["counters"] = dict(counters)

    # -- audit log ----------------------------------------------------------------------------

    def append_event(self, document: dict) -> None:
        self._new_events.append(document)

    def events(self) -> list:
        """Committed audit events, oldest first, then any added in this transaction."""
        return [chain.unsealed(line) for line in self.log_lines()] + list(self._new_events)

    def log_lines(self) -> list:
        """The stored lines of the log as this transaction will commit them (before its new events)."""
        return self.raw_events() if self._log_rewrite is None else list(self._log_rewrite)

    def raw_events(self) -> list:
        """The committed lines of the audit log as stored, seals included."""
        info = self.manifest.get("events")
        if not info:
            return []
        path = self.store.folder / info["file"]
        try:
            with open(path, "rb") as handle:
                data = handle.read(info["bytes"])
        except OSError as error:
            raise _os_error(path, "read", error) from None
        if len(data) < info["bytes"]:
            raise _damaged_log(path, f"it holds {len(data)} of the {info['bytes']} bytes the manifest commits")
        try:
            lines = [orjson.loads(line) for line in data.splitlines() if line]
        except ValueError:
            raise StoreError(f"{path} is corrupt: not a peerpath audit log; it was left untouched") from None
        if not all(type(line) is dict for line in lines):
            raise StoreError(f"{path} is corrupt: not a peerpath audit log; it was left untouched")
        return lines

    def rewrite_log(self, lines: list, source: Optional[Path] = None) -> None:
        """Have the commit write the audit log anew as `lines` (stored lines, read from `source`,
        default this log; any without a seal are sealed in order); the sealed ones must still
        verify, so history is never re-sealed."""
        info = self.manifest.get("events")
        source = source or self.store.folder / (info["file"] if info else EVENTS_FILE)
        self._log_rewrite, self._log_head = _checked_chain(lines, source)

    # -- checks and restores --------------------------------------------------------------------

    def check(self) -> "Check":
        """What is wrong with this view's tables and audit log (and harmless notes about them)."""
        found = Check()
        for name in sorted(self.manifest["tables"]):
            try:
                rows = self._tables[name]
            except StoreError as error:
                found.problems.append(str(error))
                continue
            found.rows += len(rows)
            found.tables += 1
            # A write checked the rows as it loaded them; a read did not, and verify must.
            problem = not self.writable and self._row_problem(name, rows)
            if problem:
                found.problems.append(f"{self.store.folder / self.manifest['tables'][name]} is corrupt: {problem}")
        if not found.problems:  # an index is checked against tables that could all be read
            found.problems += self.index_problems()
        info = self.manifest.get("events")
        if info:
            self._check_log(info, found)
        return found

    def _check_log(self, info: dict, found: "Check") -> None:
        path = self.store.folder / info["file"]
        try:
            data = path.read_bytes()
        except OSError as error:
            found.problems.append(f"the audit log {path} cannot be read: {error.strerror or error}")
            return
        if len(data) < info["bytes"]:
            found.problems.append(f"the audit log {path} is truncated: it holds {len(data)} of the "
                                  f"{info['bytes']} bytes the manifest commits")
            return
        if len(data) > info["bytes"]:
            found.notes.append(f"{len(data) - info['bytes']} byte(s) after the audit log's committed end "
                               "(a commit that never finished) are ignored")
        head = chain.GENESIS
        lines = data[:info["bytes"]].splitlines()
        found.events = len(lines)
        for number, raw in enumerate(lines, 1):
            try:
                line = orjson.loads(raw)
            except ValueError:
                line = None
            if self.log_unsealed and isinstance(line, dict) and not chain.is_sealed(line):
                continue  # a log from before the chain: the next change seals it (schema 1 -> 2)
            problem = "it is not a JSON object" if not isinstance(line, dict) else chain.chain_problem(line, head)
            if problem:
                found.problems.append(f"the audit log {path}: event {number}: {problem}")
                return
            head = line["hash"]
        if self.log_unsealed:
            found.notes.append("the audit log predates the hash chain: the next change seals it")
            return
        if found.events != info["count"]:
            found.problems.append(f"the audit log {path} holds {found.events} events, the manifest commits {info['count']}")
        elif head != info.get("head", chain.GENESIS):
            found.problems.append(f"the audit log {path} does not end at the chain head the manifest "
                                  "recorded (events were removed from its end?)")

    def take_from(self, source: "Transaction") -> None:
        """Make this transaction replace the whole database by `source`'s (a verified backup)."""
        for name in list(source._tables):  # with the chunks a migration of the backup made in memory
            self._tables[name] = source._tables[name]
        self.meta.clear()
        self.meta.update(json.loads(json.dumps(source.meta)))
        lines = source._log_rewrite if source._log_rewrite is not None else source.raw_events()
        self.rewrite_log(lines, source.store.folder / source.manifest["events"]["file"]
                         if source.manifest.get("events") else None)

    def unreadable(self, error: UnreadableDocument) -> StoreError:
        """The refusal of a stored document that cannot be rebuilt, naming the file that holds it."""
        for name, rows in self._tables._loaded.items():
            if any(row is error.document or row == error.document for row in rows.values()):
                filename = self.manifest["tables"].get(name)
                if filename:
                    return StoreError(f"{self.store.folder / filename} is corrupt: {error}; it was left untouched")
        info = self.manifest.get("events")
        if info and error.document in self.events():
            return StoreError(f"{self.store.folder / info['file']} is corrupt: {error}; it was left untouched")
        return StoreError(f"{self.store.path} is corrupt: {error}; it was left untouched")

    # -- commit -------------------------------------------------------------------------------

    @property
    def changed(self) -> bool:
        return bool(self._tables.dirty or self._new_events or self._log_rewrite is not None
                    or self.meta != self._meta_before)

    def _commit(self) -> None:
        folder = self.store.folder
        manifest = self.manifest
        generation = manifest.get("generation", 0) + 1
        events_before = manifest.get("events")
        temporary = self.store.path.with_name(self.store.path.name + ".tmp")
        # Encode everything first: a value that cannot be stored is refused before any file is touched.
        for name in self._tables.dirty:
            if not _TABLE_NAME.fullmatch(name):
                raise StoreError(f"cannot store a table named {name!r}: use letters, digits and _")
        encoded = {name: _dump({name: self._tables[name]}) for name in sorted(self._tables.dirty)}
        log_data, log_info = self._encoded_log(events_before, generation)
        written = []
        try:
            _make_private_dirs(folder)
            for name in encoded:
                manifest["tables"][name] = f"{name}.{generation}.json"
                written.append(folder / manifest["tables"][name])
            _write_all_private(written, encoded.values())
            _note_checksums(manifest, {**self._checked,
                                       **{manifest["tables"][name]: zlib.crc32(data) for name, data in encoded.items()
                                          if name not in self._unchecked}})
            if self._log_rewrite is not None:
                written.append(folder / log_info["file"])
                _write_private(folder / log_info["file"], log_data)
                manifest["events"] = log_info
            elif self._new_events:
                manifest["events"] = self._append_events(folder, events_before, log_data, log_info)
            manifest["generation"] = generation
            _fsync_dir(folder)
            written.append(temporary)
            _write_private(temporary, json.dumps(manifest, indent=1, ensure_ascii=False).encode())
            os.replace(temporary, self.store.path)
        except BaseException:  # a full disk, an interrupt: whatever stopped us, the old manifest rules
            self._discard(written, events_before)
            raise
        # Committed: what follows only tidies up, and must never end in "nothing was changed".
        with contextlib.suppress(OSError):
            _fsync_dir(self.store.path.parent)
            self.store._remove_unreferenced(manifest)

    def _discard(self, written: list, events_before) -> None:
        """Remove what a commit that failed before its manifest was replaced had written."""
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        if self._appended:
            with contextlib.suppress(OSError):
                if events_before:
                    os.truncate(self.store.folder / events_before["file"], events_before["bytes"])
                elif self._created_log:
                    (self.store.folder / EVENTS_FILE).unlink()

    def _encoded_log(self, info, generation: int):
        """(bytes to write, the manifest's new log entry): the new events sealed after the
        chain's head, or, when the log is rewritten, every line re-checked and sealed anew."""
        if self._log_rewrite is None:
            info = dict(info) if info else {"file": EVENTS_FILE, "bytes": 0, "count": 0, "head": chain.GENESIS}
            lines, head = [], info.get("head", chain.GENESIS)
        else:
            lines, head = list(self._log_rewrite), self._log_head
            info = {"file": f"events.{generation}.jsonl", "bytes": 0, "count": 0}
        for event in self._new_events:
            lines.append(chain.seal(event, head))
            head = lines[-1]["hash"]
        data = b"".join(_dump(line) + b"\n" for line in lines)
        existing = info["bytes"] if self._log_rewrite is None else 0
        return data, {**info, "bytes": existing + len(data), "count": info["count"] + len(lines), "head": head}

    def _append_events(self, folder: Path, info, data: bytes, new_info: dict) -> dict:
        if info:
            path = folder / info["file"]
            fd = self._open_log(path, info["bytes"])
            try:
                _check_log_end(fd, path, info)
            except BaseException:
                os.close(fd)
                raise
        else:
            fd = self._create_log(folder / EVENTS_FILE)
        self._appended = True
        try:
            os.ftruncate(fd, info["bytes"] if info else 0)  # drop a tail left by a write that never committed
            os.lseek(fd, info["bytes"] if info else 0, os.SEEK_SET)
            _write_synced(fd, data)
        finally:
            os.close(fd)
        return new_info

    def _open_log(self, path: Path, committed: int) -> int:
        """The audit log open for appending after its `committed` bytes, which must be there and
        end with a whole line: a shorter log, or one whose end was zeroed, is refused, never padded."""
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            raise StoreError(f"{path} is missing: the database {self.store.path} is damaged; nothing was changed") from None
        if committed and os.pread(fd, 1, committed - 1) != b"\n":
            os.close(fd)
            raise StoreError(f"{path} is corrupt: it ends before its last committed event; it was left untouched")
        return fd

    def _create_log(self, path: Path) -> int:
        """A new, private audit log; one already there is a log this manifest does not describe,
        which is never truncated or replaced."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise StoreError(
                f"{path} is an audit log that {self.store.path} does not describe; it was left "
                "untouched and nothing was changed"
            ) from None
        self._created_log = True
        os.fchmod(fd, 0o600)
        return fd


def _start_the_chain(transaction: Transaction) -> None:
    """Schema 1 -> 2: seal every line of an audit log written before the hash chain, in order,
    so the whole trail verifies from then on (the lines themselves are kept as they were), and
    store every peer with the field `erased`. A read leaves both for the first write: it would
    hash the whole log and load every peer, and older peers load without `erased` anyway."""
    transaction.log_unsealed = True
    if not transaction.writable:
        return
    if transaction.manifest.get("events"):
        transaction.rewrite_log(transaction.raw_events())
    # Peers gained `erased` (peer erase); stored in full, they load without the slow path.
    for chunk in [name for name in transaction.manifest["tables"] if name.split("~")[0] == "peers"]:
        rows = transaction._tables[chunk]
        if any("erased" not in row for row in rows.values()):
            transaction._tables[chunk] = {key: {"erased": None, **row} for key, row in rows.items()}


def _chunk_whole_tables(transaction: Transaction) -> None:
    """Schema 2 -> 3: each table the store now shards but kept whole (offerings, sessions,
    observations) is moved into its chunks, and the indexes are built. A read does it in memory
    (what it costs is the whole tables' read the older layout needed anyway); the first write
    commits it, and the whole tables' files go once the manifest no longer names them."""
    for name in [name for name in transaction.manifest["tables"] if name in transaction.store.shards]:
        rows = transaction._tables[name]
        transaction._drop_table(name)
        by_chunk: dict = {}
        for key, row in rows.items():
            by_chunk.setdefault(transaction._chunk(name, row), {})[key] = row
        for chunk, moved in by_chunk.items():
            # A chunk may already hold a row (a recovered folder holding both layouts): it is newer.
            transaction._tables[chunk] = {**moved, **transaction._tables[chunk]}
    transaction.rebuild_indexes()


MIGRATIONS = {1: _start_the_chain, 2: _chunk_whole_tables}


def index_name(table: str, field: str) -> str:
    """The table holding the index of `table` by `field`, e.g. sessions_by_leaders."""
    return f"{table}_by_{field}"


def _index_row_problem(row: dict) -> str:
    return "" if type(row.get("keys")) is list else "its keys are not a list"


def _damaged_log(path: Path, problem: str) -> StoreError:
    return StoreError(
        f"the audit log {path} is damaged: {problem}; nothing was changed: run 'peerpath verify', "
        "then 'peerpath restore' from a backup"
    )


def _check_log_end(fd: int, path: Path, info: dict) -> None:
    """Refuse to append to a log shorter than its manifest says or whose last committed line is
    not the chain head the manifest recorded (appending would pad or fork it for good)."""
    size = os.fstat(fd).st_size
    if size < info["bytes"]:
        raise _damaged_log(path, f"it holds {size} of the {info['bytes']} bytes the manifest commits")
    if "head" not in info or info["count"] == 0:
        return
    last = _last_line(fd, info["bytes"])
    try:
        head = orjson.loads(last).get("hash")
    except (ValueError, AttributeError):
        head = None
    if head != info["head"]:
        raise _damaged_log(path, "its last committed event is not the one the manifest's chain head names")


def _last_line(fd: int, end: int) -> bytes:
    """The last line of the first `end` bytes of the file open as `fd` (which end with a newline)."""
    start, chunk = end - 1, 65536
    data = b""
    while start > 0:
        begin = max(0, start - chunk)
        data = os.pread(fd, start - begin, begin) + data
        start = begin
        if b"\n" in data:
            break
    return data.rsplit(b"\n", 1)[-1]


def _checked_chain(lines: list, path: Path):
    """(the lines, each sealed line verified and each unsealed one sealed in turn, the head)."""
    try:
        return chain.sealed_in_order(lines)
    except chain.BrokenChain as error:
        raise _damaged_log(path, str(error)) from None


def table_problem(name: str, document) -> str:
    """What is wrong with `document` as the file of table `name` (a TinyDB JSON file of one
    table, `{name: {"<doc id>": {"id": "P0042", ...}}}`), or "" if nothing is."""
    if not isinstance(document, dict):
        return f"it holds {_json_kind(document)}, not an object"
    if set(document) != {name}:
        return f"it should hold the table '{name}' only, not {', '.join(map(repr, sorted(document))) or 'nothing'}"
    rows = document[name]
    if not isinstance(rows, dict):
        return f"its table '{name}' is {_json_kind(rows)}, not an object of rows"
    # A quick pass first: a large table is checked on every load, and nearly always fine.
    # `leaders` is read straight from the documents of offerings, sessions and observations.
    if all(key.isdecimal() and type(row) is dict and type(row.get("id")) is str
           and type(row.get("leaders", [])) is list for key, row in rows.items()):
        return ""
    for key, row in rows.items():
        if not key.isdecimal():
            return f"row {key!r} is not numbered"
        if not isinstance(row, dict):
            return f"row {key!r} is {_json_kind(row)}, not an object"
        if not isinstance(row.get("id"), str):
            return f"row {key!r} has the id {row.get('id')!r}, not a text id"
        if not isinstance(row.get("leaders", []), list):
            return f"row {key!r} ({row['id']}) has leaders that are {_json_kind(row['leaders'])}, not a list"
    return ""


def _json_kind(value) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    kinds = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}
    return kinds.get(type(value), type(value).__name__)


_NOT_DIGITS = re.compile(r"\D+", re.ASCII)  # ASCII digits only: int() would take "²" or "٣" and fail


def _number(record_id) -> int:
    """The number in an id such as "P0042" (42); ids without one (or with an absurdly long one,
    which no stored id has) count as 0."""
    if type(record_id) is str:  # letters then digits, as peerpath's ids are: no pattern needed
        digits = record_id.lstrip(_LETTERS)
        if digits.isascii() and digits.isdigit() and len(digits) <= 18:
            return int(digits)
    digits = _NOT_DIGITS.sub("", str(record_id or ""))
    return int(digits) if digits and len(digits) <= 18 else 0


def _key_of(record_id: str) -> str:
    """The row key of a stored id ("P0042": "42"): it is asked of every row of each table a write loads."""
    return str(_number(record_id))


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclasses.dataclass
class Recovery:
    """What `peerpath recover` found: {table: (file, rows)} of the generation used for each table,
    the database's generation, how many audit events, what was skipped and why, and the settings
    rebuilt from the audit trail."""

    tables: dict = dataclasses.field(default_factory=dict)
    generation: int = 0
    events: int = 0
    skipped: list = dataclasses.field(default_factory=list)
    settings: list = dataclasses.field(default_factory=list)


class Store:
    """A peerpath database at `path`; `shards` maps a table to (shard field, ids per chunk),
    `row_checks` a table to what each of its rows must be when a write loads it.

    A path that is a symbolic link is resolved once, here: commits replace the target's manifest
    (the link stays a link), and the folder and the lock are the target's neighbours.
    """

    def __init__(self, path, shards=None, row_checks=None, reference_problems=None, indexes=None):
        path = Path(path).expanduser()
        self.path = Path(os.path.realpath(path)) if path.is_symlink() else path
        self.shards = dict(shards or {})
        # {table: list field}: an index of the chunks holding each value of the field (see
        # Transaction.containing); the table must be sharded, the index is, by the value's number.
        self.indexes = {name: field for name, field in (indexes or {}).items() if name in self.shards}
        for name, field in self.indexes.items():
            self.shards.setdefault(index_name(name, field), ("id", 500))
        # {table: row -> problem or ""}: what every row of a table a write loads must be, so that
        # a row of the wrong shape is refused by name rather than used or carried on.
        self.row_checks = dict(row_checks or {})
        # transaction -> ["what is wrong", ...]: the references between records a restore checks.
        self.reference_problems: Callable[[Transaction], list] = reference_problems or (lambda transaction: [])
        self.folder = self.path.with_name(self.path.name + ".d")
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    @classmethod
    def sharded(cls, path, row_checks=None, reference_problems=None) -> "Store":
        """The database at `path` in peerpath's layout: SHARDS' chunks and INDEXES' indexes (whose
        rows are checked as the tables' are)."""
        row_checks = dict(row_checks or {}) | {index_name(table, field): _index_row_problem
                                               for table, field in INDEXES.items()}
        return cls(path, shards=SHARDS, row_checks=row_checks, reference_problems=reference_problems,
                   indexes=INDEXES)

    def like(self, location, reference_problems=None) -> "Store":
        """Another database at `location` of this one's layout and row checks (a backup, a restore's source)."""
        return Store(backup_path(location), shards=self.shards, row_checks=self.row_checks, reference_problems=reference_problems,
                     indexes=self.indexes)

    @property
    def location(self) -> Path:
        return self.path

    @property
    def name(self) -> str:
        return self.path.stem

    def exists(self) -> bool:
        return self.path.exists()

    def holds_data(self) -> bool:
        """Whether the database's folder exists and is not empty."""
        try:
            with os.scandir(self.folder) as entries:
                return any(True for _ in entries)
        except FileNotFoundError:
            return False
        except NotADirectoryError:
            return True
        except OSError as error:
            raise _os_error(self.folder, "read", error) from None

    @contextlib.contextmanager
    def read(self, missing_ok: bool = False):
        """A read-only view; a missing database is an error unless `missing_ok`."""
        if not self.path.exists():
            if not missing_ok:
                raise self._missing()
            yield Transaction(self, _new_manifest(), writable=False)
            return
        with self._locked(fcntl.LOCK_SH):
            transaction = Transaction(self, self._read_manifest(), writable=False)
            self._migrate(transaction)  # an older file is upgraded in memory; the next write saves it
            try:
                yield transaction
            except UnreadableDocument as error:
                raise transaction.unreadable(error) from None

    def backup(self, target: "Store") -> dict:
        """Copy one committed generation (its tables, the audit log up to it, the manifest last)
        to the new database `target`, under the shared lock: writers wait, readers carry on."""
        if target.path.exists() or target.holds_data():
            raise StoreError(f"{target.path} already exists: a backup never overwrites; choose a new name")
        if not self.path.exists():
            raise self._missing()
        with self._locked(fcntl.LOCK_SH):
            manifest = self._read_manifest()
            written = []
            try:
                _make_private_dirs(target.folder)
                for name in sorted(manifest["tables"].values()):
                    written.append(target.folder / name)
                    _write_private(target.folder / name, (self.folder / name).read_bytes())
                if manifest.get("events"):
                    name = manifest["events"]["file"]
                    with open(self.folder / name, "rb") as log:
                        written.append(target.folder / name)
                        _write_private(target.folder / name, log.read(manifest["events"]["bytes"]))
                _fsync_dir(target.folder)
                _write_private(target.path, json.dumps(manifest, indent=1, ensure_ascii=False).encode())
                _fsync_dir(target.path.parent)
            except OSError as error:
                for path in written + [target.path]:
                    with contextlib.suppress(OSError):
                        path.unlink()
                with contextlib.suppress(OSError):
                    target.folder.rmdir()
                raise _os_error(target.path, "write the backup", error) from None
        return manifest

    def upgrade(self) -> tuple:
        """(schema before, after): a write migrates an older file and commits it."""
        with self.write() as transaction:
            return transaction.schema_before, SCHEMA_VERSION

    @contextlib.contextmanager
    def write(self, create: bool = False, recover: bool = False, restore: Optional["Store"] = None,
              force: bool = False):
        """A read-modify-write under the exclusive lock, committed atomically when the block ends.

        `create` makes a new database; `recover` rebuilds a lost manifest from the folder (the
        transaction's `recovery` says what was found); `restore` replaces the database (a new
        one, or with `force` the existing one) by the backup at that Store, which must verify.
        An exception inside the block discards every change.
        """
        if not (create or recover or restore) and not self.path.exists():
            raise self._missing()
        with self._locked(fcntl.LOCK_EX):
            recovery = None
            if recover:
                manifest, recovery = self._recovered_manifest()
            elif restore is not None:
                manifest = self._replaced_manifest(force)
            else:
                manifest = self._manifest_or_new()
            transaction = Transaction(self, manifest, writable=True)
            transaction.recovery = recovery
            transaction._meta_before = json.loads(json.dumps(transaction.meta))
            self._migrate(transaction)
            if restore is not None:
                with restore.read() as source:
                    self._check_backup(restore, source)
                    transaction.take_from(source)
            if recover or restore is not None:
                transaction.rebuild_indexes()  # derived data: made again from the tables used
            try:
                yield transaction
            except UnreadableDocument as error:
                raise transaction.unreadable(error) from None
            if transaction.changed or not self.path.exists() or transaction.migrated:
                try:
                    transaction._commit()
                except OSError as error:
                    raise _os_error(self.path, "write", error) from None

    # -- internals ------------------------------------------------------------------------------

    def _replaced_manifest(self, force: bool) -> dict:
        """A new manifest for a restore, of a generation beyond every file already in the folder."""
        if (self.path.exists() or self.holds_data()) and not force:
            raise StoreError(f"{self.path} already holds a database; nothing was changed: "
                             "add --force to replace it by the backup")
        manifest = _new_manifest()
        generations = [_generation(_TABLE_FILE, path.name)
                       for files in self._table_files().values() for path in files]
        log = self._newest_log()
        if log is not None:
            generations.append(_generation(_LOG_FILE, log.name))
        manifest["generation"] = max(generations, default=0)
        return manifest

    @staticmethod
    def _check_backup(backup: "Store", source: Transaction) -> None:
        problems = source.check().problems or backup.reference_problems(source)
        if problems:
            raise StoreError(f"the backup {backup.path} does not verify ({problems[0]}); nothing was changed")

    def _missing(self) -> StoreError:
        if self.holds_data():
            return StoreError(
                f"no manifest {self.path}, but its folder {self.folder} holds data: "
                "run 'peerpath recover' to rebuild the manifest from it"
            )
        return StoreError(f"no peerpath database at {self.path}: run 'peerpath init' or 'peerpath demo'")

    def _manifest_or_new(self) -> dict:
        if self.path.exists():
            return self._read_manifest()
        if self.holds_data():
            # Starting afresh here would delete the tables and truncate the audit log of the folder.
            raise StoreError(
                f"{self.folder} already holds data but its manifest {self.path} is missing; nothing "
                "was changed: run 'peerpath recover' to rebuild the manifest from it"
            )
        return _new_manifest()

    def _read_manifest(self) -> dict:
        try:
            raw = self.path.read_bytes()
        except OSError as error:
            raise _os_error(self.path, "read", error) from None
        try:
            manifest = json.loads(raw, object_pairs_hook=_unique_keys)
        except ValueError:
            raise StoreError(f"{self.path} is corrupt or not a peerpath database; it was left untouched") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise StoreError(f"{self.path} is not a peerpath database; it was left untouched")
        schema = manifest.get("schema")
        if not isinstance(schema, int) or schema > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer peerpath (schema {schema}, this one reads "
                f"up to {SCHEMA_VERSION}); upgrade peerpath. The file was left untouched"
            )
        if not isinstance(manifest.get("tables"), dict):
            raise StoreError(f"{self.path} is corrupt: its table list is missing; it was left untouched")
        problem = _manifest_problem(manifest)
        if problem:
            raise StoreError(f"{self.path} is corrupt: {problem}; it was left untouched")
        return manifest

    def _recovered_manifest(self):
        """A manifest rebuilt from the newest complete generation of each table and the complete
        lines of the audit log, and the Recovery saying what was used; only under the exclusive lock.

        What cannot be used but might hold data (an unfinished newer generation, an incomplete
        tail of the log) is set aside under a name no commit deletes.
        """
        if self.path.exists():
            raise StoreError(
                f"{self.path} exists: 'peerpath recover' only rebuilds a missing manifest; nothing was changed"
            )
        candidates = self._table_files()
        log = self._newest_log()
        if not candidates and log is None:
            raise StoreError(f"nothing to recover in {self.folder}: it holds no peerpath table files or audit log")
        manifest, recovery = _new_manifest(), Recovery()
        counters: dict = {}
        for table, files in sorted(candidates.items()):
            for path in files:
                rows, problem = _read_table_file(table, path)
                if not problem:
                    manifest["tables"][table] = path.name
                    recovery.tables[table] = (path.name, len(rows))
                    _count_ids(rows, counters)
                    break
                recovery.skipped.append(f"{path.name}: {problem}; kept as {self._set_aside(path).name}")
        recovery.generation = max(
            (_generation(_TABLE_FILE, path.name) for files in candidates.values() for path in files),
            default=0,
        )
        manifest["generation"] = recovery.generation
        manifest["meta"]["counters"] = dict(sorted(counters.items()))
        if any(table in self.shards for table in manifest["tables"]):
            manifest["schema"] = 2  # tables of the layout before chunks: the migration chunks them
        if log is not None:
            manifest["events"] = self._recovered_log(log, recovery)
            if "head" not in manifest["events"]:
                manifest["schema"] = 1  # a log from before the chain: the migration seals it
        self._make_private(manifest)
        return manifest, recovery

    def _table_files(self) -> dict:
        """{table: [its files, newest generation first]} of peerpath's table files in the folder."""
        found: dict = {}
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return found
        except OSError as error:
            raise _os_error(self.folder, "read", error) from None
        for name in names:
            match = _TABLE_FILE.fullmatch(name)
            if match:
                found.setdefault(match["table"], []).append((int(match["generation"]), self.folder / name))
        return {table: [path for _, path in sorted(files, reverse=True)] for table, files in found.items()}

    def _newest_log(self):
        """The audit log of the newest generation in the folder (a rewrite supersedes older ones)."""
        try:
            names = [name for name in os.listdir(self.folder) if _LOG_FILE.fullmatch(name)]
        except FileNotFoundError:
            return None
        except OSError as error:
            raise _os_error(self.folder, "read", error) from None
        if not names:
            return None
        return self.folder / max(names, key=lambda name: _generation(_LOG_FILE, name))

    def _recovered_log(self, log: Path, recovery: Recovery) -> dict:
        try:
            data = log.read_bytes()
        except OSError as error:
            raise _os_error(log, "read", error) from None
        count, size, last = _complete_events(data)
        tail = data[size:]
        if tail:
            kept = self._free_name(log)
            try:
                _write_private(kept, tail)
            except OSError as error:
                raise _os_error(kept, "write", error) from None
            recovery.skipped.append(
                f"{log.name}: {len(tail)} byte(s) after event {count} are incomplete; kept as {kept.name}"
            )
        recovery.events = count
        info = {"file": log.name, "bytes": size, "count": count}
        if last is None or chain.is_sealed(last):  # the chain's head is the last complete line's hash
            info["head"] = last["hash"] if last else chain.GENESIS
        return info

    def _set_aside(self, path: Path) -> Path:
        kept = self._free_name(path)
        try:
            os.replace(path, kept)
            os.chmod(kept, 0o600)  # it may hold peers' data like any table file
        except OSError as error:
            raise _os_error(path, "set aside", error) from None
        return kept

    @staticmethod
    def _free_name(path: Path) -> Path:
        """`<name>.unreadable` beside `path` (numbered if taken): a name no commit ever deletes."""
        kept, number = path.with_name(path.name + SET_ASIDE), 1
        while kept.exists():
            number += 1
            kept = path.with_name(f"{path.name}{SET_ASIDE}.{number}")
        return kept

    def _make_private(self, manifest: dict) -> None:
        """A recovered database is as private as a new one: its folder 0700, its files 0600."""
        names = list(manifest["tables"].values()) + ([manifest["events"]["file"]] if manifest.get("events") else [])
        try:
            os.chmod(self.folder, 0o700)
            for name in names:
                os.chmod(self.folder / name, 0o600)
        except OSError as error:
            raise _os_error(self.folder, "make private", error) from None

    def _migrate(self, transaction: Transaction) -> None:
        transaction.migrated = False
        transaction.schema_before = transaction.manifest["schema"]
        while transaction.manifest["schema"] < SCHEMA_VERSION:
            version = transaction.manifest["schema"]
            if version not in MIGRATIONS:
                raise StoreError(f"{self.path}: no migration from schema {version}")
            MIGRATIONS[version](transaction)
            transaction.manifest["schema"] = version + 1
            transaction.migrated = True

    @contextlib.contextmanager
    def _locked(self, mode):
        writing = mode == fcntl.LOCK_EX
        if writing:
            try:
                _make_private_dirs(self.path.parent)
            except OSError as error:
                raise _os_error(self.path.parent, "create the folder", error) from None
        try:
            fd = self._open_lock()
        except OSError as error:
            if not writing:
                # A database in a read-only folder can still be read; no writer can race us there.
                yield
                return
            raise _os_error(self.lock_path, "open the lock", error) from None
        try:
            self._acquire(fd, mode)
            if writing:
                try:
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, str(os.getpid()).encode(), 0)
                except OSError as error:  # a full disk before anything else was written
                    raise _os_error(self.path, "write", error) from None
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def _open_lock(self) -> int:
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return os.open(self.lock_path, os.O_RDWR)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
        except OSError:
            os.close(fd)
            raise
        return fd

    def _acquire(self, fd, mode) -> None:
        deadline = time.monotonic() + _lock_timeout()
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holders = _lock_holders(fd) or [os.pread(fd, 32, 0).decode(errors="replace").strip()]
                    raise StoreError(
                        f"{self.path} is locked by another peerpath process "
                        f"(pid {', '.join(h for h in holders if h) or 'unknown'}); "
                        "try again when it has finished"
                    ) from None
                time.sleep(0.01)

    def _remove_unreferenced(self, manifest: dict) -> None:
        """Delete peerpath's own table files that the manifest no longer names: older generations
        and what a commit that never finished left. Any other file in the folder is the user's and
        stays. Only called under the exclusive lock."""
        # A log the manifest does not name is superseded only if it names another one.
        log = manifest.get("events")
        keep = set(manifest["tables"].values()) | {log["file"] if log else EVENTS_FILE}
        for path in self.folder.iterdir():
            match = _TABLE_FILE.fullmatch(path.name) or (log and _LOG_FILE.fullmatch(path.name))
            if match and path.name not in keep and int(match["generation"] or 0) <= manifest["generation"]:
                with contextlib.suppress(OSError):
                    path.unlink()


def _note_checksums(manifest: dict, written: dict) -> None:
    """Keep in the manifest the checksum of each table file it names whose rows were checked:
    `written` ({file: crc32}, by this commit or checked by its write) and those of before (see
    Transaction._checked_before)."""
    before = manifest.get(CHECKSUMS)
    kept = before if isinstance(before, dict) else {}
    live = set(manifest["tables"].values())
    manifest[CHECKSUMS] = {filename: crc for filename, crc in sorted({**kept, **written}.items())
                           if filename in live and isinstance(crc, int)}


def _manifest_problem(manifest: dict) -> str:
    """What makes a manifest unsafe to follow (a file name outside peerpath's own, a bad count), or ""."""
    for table, filename in manifest["tables"].items():
        match = _TABLE_FILE.fullmatch(filename) if isinstance(filename, str) else None
        if match is None or match["table"] != table:
            return f"it names {filename!r} as the file of table {table!r}, which is not a peerpath table file name"
    events = manifest.get("events")
    if events is not None and not (
        isinstance(events, dict) and isinstance(events.get("file"), str) and _LOG_FILE.fullmatch(events["file"])
        and _is_count(events.get("bytes")) and _is_count(events.get("count"))
        and isinstance(events.get("head", ""), str)
    ):
        return f"its audit log entry {events!r} is not peerpath's"
    if not _is_count(manifest.get("generation", 0)):
        return "its generation is not a whole number"
    meta = manifest.get("meta", {})
    if not isinstance(meta, dict):
        return "its settings are not an object"
    counters = meta.get("counters", {})
    if not (isinstance(counters, dict) and all(isinstance(k, str) and _is_count(v) for k, v in counters.items())):
        return "its id counters are not whole numbers"
    return ""


def _unique_keys(pairs) -> dict:
    """A JSON object of the manifest; a key given twice (which JSON readers settle silently, each its
    own way) makes the manifest corrupt."""
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key is repeated")
    return dict(pairs)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _make_private_dirs(folder: Path) -> None:
    """Create `folder` and its missing parents, each 0700 whatever the umask; folders that already
    exist are not ours to change."""
    missing = []
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:  # another process made it first
            continue
        os.chmod(path, 0o700)


def _read_table_file(table: str, path: Path):
    """(rows, "") of a complete table file, or (None, why it cannot be used)."""
    try:
        document = orjson.loads(path.read_bytes())
    except ValueError:
        return None, "not valid JSON (a commit that never finished?)"
    except OSError as error:
        return None, f"cannot be read ({error.strerror or error})"
    problem = table_problem(table, document)
    return (None, problem) if problem else (document[table], "")


def _count_ids(rows: dict, counters: dict) -> None:
    """Raise `counters` ({prefix: largest number}) to cover the ids of `rows` ("P0042": P, 42)."""
    for row in rows.values():
        match = _RECORD_ID.fullmatch(row["id"])
        if match:
            prefix, number = match["prefix"], int(match["number"])
            counters[prefix] = max(counters.get(prefix, 0), number)


def _complete_events(data: bytes):
    """(events, bytes, the last event) of the longest start of an audit log made of whole
    JSON-object lines."""
    count = size = 0
    last = None
    while True:
        end = data.find(b"\n", size)
        if end < 0:
            return count, size, last
        line = data[size:end]
        if line:
            try:
                event = orjson.loads(line)
            except ValueError:
                return count, size, last
            if not isinstance(event, dict):
                return count, size, last
            count += 1
            last = event
        size = end + 1


def _lock_holders(fd) -> list:
    """Pids holding a lock on the file open as `fd`, from the kernel's table (Linux), if readable.

    The pid written in the lock file names the last writer only; a stuck reader is found here.
    """
    info = os.fstat(fd)
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as table:
            lines = table.read().splitlines()
    except OSError:
        return []
    holders = []
    for line in lines:
        fields = line.split()
        # "1: FLOCK ADVISORY WRITE 4242 fd:01:1234 0 EOF"; waiting requests are marked "->".
        if len(fields) >= 6 and fields[1] != "->" and fields[5] == device and fields[4] not in holders:
            holders.append(fields[4])
    return holders


def _new_manifest() -> dict:
    return {"format": FORMAT, "schema": SCHEMA_VERSION, "generation": 0, "tables": {}, "meta": {}}
