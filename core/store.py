"""The database: TinyDB tables kept in files that are written atomically under a lock.

This is the only module that imports tinydb. A database is a small *manifest* file (the path the
user names) plus a folder beside it, `<name>.d/`, holding human-readable TinyDB JSON files, one
per table or per chunk of a large table, and an append-only JSON-lines audit log:

    affiliate.json              {"format": "peerpath", "schema": 1, "generation": 7,
                                 "tables": {"peers~0": "peers~0.7.json", "sessions": ...},
                                 "events": {"file": "events.jsonl", "bytes": 5120, "count": 40},
                                 "meta": {...}}
    affiliate.json.d/peers~0.7.json
    affiliate.json.d/events.jsonl

Why this shape: TinyDB rewrites a whole file per write, so one file per table (and per chunk of
the tables that grow with the number of peers) means a command rewrites only what it changed,
and loads only what it reads. A write transaction writes every changed table to a new
generation file, fsyncs it, and then replaces the manifest with `os.replace`: that single rename
is the commit, so a crash at any moment leaves either the old or the new database, never a mix.
The audit log only grows; the manifest records how many of its bytes are committed, and a writer
trims any uncommitted tail left by a crash.

Writers hold an exclusive `flock` on `<name>.lock` for the whole read-modify-write, so concurrent
processes never lose each other's updates; readers hold a shared lock while they load.
"""

import contextlib
import errno
import fcntl
import json
import os
import re
import time
from collections.abc import MutableMapping
from pathlib import Path

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document

from .errors import StoreError, ValidationError

FORMAT = "peerpath"
SCHEMA_VERSION = 1
EVENTS_FILE = "events.jsonl"
# Migrations upgrade the manifest and tables of an older schema in place: {old_version: function}.
# Each takes a write Transaction and leaves it at old_version + 1.
MIGRATIONS = {}

__all__ = ["Store", "Transaction", "default_db_path", "FORMAT", "SCHEMA_VERSION"]


def default_db_path() -> Path:
    """`PEERPATH_DB`, else `peerpath.json` in the user's data directory (XDG)."""
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
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        _write_synced(fd, data)
    finally:
        os.close(fd)


def _write_synced(fd: int, data: bytes) -> None:
    """Write all of `data` at the file offset and force it to disk."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
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

    def __init__(self, store: "Store", manifest: dict, writable: bool):
        self.store = store
        self.manifest = manifest
        self.writable = writable
        self.meta = manifest.setdefault("meta", {})
        self._tables = _Tables(self)
        self._db = TinyDB(storage=_TableStorage, tables=self._tables)
        self._db.default_table_name = "_unused"
        self._new_events = []

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
            document = orjson.loads(path.read_bytes())
            return document[name]
        except FileNotFoundError:
            raise StoreError(f"{path} is missing: the database {self.store.path} is damaged") from None
        except (ValueError, KeyError, TypeError):
            raise StoreError(f"{path} is corrupt: not a peerpath table file") from None
        except OSError as error:
            raise _os_error(path, "read", error) from None

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

    def insert_many(self, name: str, documents) -> None:
        """Insert documents that carry their own `id`, one table write per chunk touched."""
        by_chunk = {}
        for document in documents:
            chunk = self._chunk(name, document) if name in self.store.shards else name
            by_chunk.setdefault(chunk, []).append(Document(document, doc_id=_number(document["id"])))
        for chunk, batch in by_chunk.items():
            self.table(chunk).insert_multiple(batch)

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
        return [
            doc
            for chunk in self._chunks(name, **equal)
            for doc in self._tables[chunk].values()
            if all(doc.get(key) == value for key, value in equal.items())
        ]

    def replace(self, name: str, document: dict) -> None:
        """Replace the stored document with the same `id`."""
        chunk = self._chunk(name, document) if name in self.store.shards else name
        updated = self.table(chunk).update(_replace_with(document), doc_ids=[_number(document["id"])])
        if not updated:
            raise StoreError(f"no {name} record '{document['id']}' to update")

    def next_id(self, prefix: str) -> str:
        """A new id such as `P0042`, unique within this database."""
        counters = self.meta.setdefault("counters", {})
        counters[prefix] = counters.get(prefix, 0) + 1
        return f"{prefix}{counters[prefix]:04d}"

    # -- audit log ----------------------------------------------------------------------------

    def append_event(self, document: dict) -> None:
        self._new_events.append(document)

    def events(self) -> list:
        """Committed audit events, oldest first, then any added in this transaction."""
        info = self.manifest.get("events")
        committed = []
        if info:
            path = self.store.folder / info["file"]
            try:
                with open(path, "rb") as handle:
                    data = handle.read(info["bytes"])
            except OSError as error:
                raise _os_error(path, "read", error) from None
            try:
                committed = [orjson.loads(line) for line in data.splitlines() if line]
            except ValueError:
                raise StoreError(f"{path} is corrupt: not a peerpath audit log") from None
        return committed + list(self._new_events)

    # -- commit -------------------------------------------------------------------------------

    @property
    def changed(self) -> bool:
        return bool(self._tables.dirty or self._new_events or self.meta != self._meta_before)

    def _commit(self) -> None:
        folder = self.store.folder
        manifest = self.manifest
        generation = manifest.get("generation", 0) + 1
        events_before = manifest.get("events")
        temporary = self.store.path.with_name(self.store.path.name + ".tmp")
        # Encode everything first: a value that cannot be stored is refused before any file is touched.
        encoded = {name: _dump({name: self._tables[name]}) for name in sorted(self._tables.dirty)}
        written = []
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            for name, data in encoded.items():
                filename = f"{name}.{generation}.json"
                written.append(folder / filename)
                _write_private(folder / filename, data)
                manifest["tables"][name] = filename
            if self._new_events:
                manifest["events"] = self._append_events(folder, events_before)
            manifest["generation"] = generation
            _fsync_dir(folder)
            written.append(temporary)
            _write_private(temporary, json.dumps(manifest, indent=1, ensure_ascii=False).encode())
            os.replace(temporary, self.store.path)
        except BaseException:  # a full disk, an interrupt: whatever stopped us, the old manifest rules
            self._discard(written, events_before)
            raise
        _fsync_dir(self.store.path.parent)
        self.store._remove_unreferenced(manifest)

    def _discard(self, written: list, events_before) -> None:
        """Remove what a commit that failed before its manifest was replaced had written."""
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        if self._new_events:
            with contextlib.suppress(OSError):
                if events_before:
                    os.truncate(self.store.folder / events_before["file"], events_before["bytes"])
                else:
                    (self.store.folder / EVENTS_FILE).unlink()

    def _append_events(self, folder: Path, info) -> dict:
        info = dict(info or {"file": EVENTS_FILE, "bytes": 0, "count": 0})
        path = folder / info["file"]
        data = b"".join(_dump(event) + b"\n" for event in self._new_events)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.ftruncate(fd, info["bytes"])  # drop a tail left by a write that never committed
            os.lseek(fd, info["bytes"], os.SEEK_SET)
            _write_synced(fd, data)
        finally:
            os.close(fd)
        info["bytes"] += len(data)
        info["count"] += len(self._new_events)
        return info


_NOT_DIGITS = re.compile(r"\D+", re.ASCII)  # ASCII digits only: int() would take "²" or "٣" and fail


def _number(record_id) -> int:
    """The number in an id such as "P0042" (42); ids without one (or with an absurdly long one,
    which no stored id has) count as 0."""
    digits = _NOT_DIGITS.sub("", str(record_id or ""))
    return int(digits) if digits and len(digits) <= 18 else 0


def _replace_with(document):
    def transform(doc):
        doc.clear()
        doc.update(document)

    return transform


class Store:
    """A peerpath database at `path`; `shards` maps a table to (shard field, ids per chunk)."""

    def __init__(self, path, shards=None):
        self.path = Path(path).expanduser()
        self.shards = dict(shards or {})
        self.folder = self.path.with_name(self.path.name + ".d")
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def exists(self) -> bool:
        return self.path.exists()

    @contextlib.contextmanager
    def read(self, missing_ok: bool = False):
        """A read-only view; a missing database is an error unless `missing_ok`."""
        if not self.path.exists():
            if not missing_ok:
                raise StoreError(
                    f"no peerpath database at {self.path}: run 'peerpath init' or 'peerpath demo'"
                )
            yield Transaction(self, _new_manifest(), writable=False)
            return
        with self._locked(fcntl.LOCK_SH):
            transaction = Transaction(self, self._read_manifest(), writable=False)
            self._migrate(transaction)  # an older file is upgraded in memory; the next write saves it
            yield transaction

    @contextlib.contextmanager
    def write(self, create: bool = False):
        """A read-modify-write under the exclusive lock, committed atomically when the block ends.

        An exception inside the block discards every change.
        """
        if not create and not self.path.exists():
            raise StoreError(
                f"no peerpath database at {self.path}: run 'peerpath init' or 'peerpath demo'"
            )
        with self._locked(fcntl.LOCK_EX):
            manifest = self._read_manifest() if self.path.exists() else _new_manifest()
            transaction = Transaction(self, manifest, writable=True)
            transaction._meta_before = json.loads(json.dumps(transaction.meta))
            self._migrate(transaction)
            yield transaction
            if transaction.changed or not self.path.exists() or transaction.migrated:
                try:
                    transaction._commit()
                except OSError as error:
                    raise _os_error(self.path, "write", error) from None

    # -- internals ------------------------------------------------------------------------------

    def _read_manifest(self) -> dict:
        try:
            raw = self.path.read_bytes()
        except OSError as error:
            raise _os_error(self.path, "read", error) from None
        try:
            manifest = json.loads(raw)
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
        return manifest

    def _migrate(self, transaction: Transaction) -> None:
        transaction.migrated = False
        while transaction.manifest["schema"] < SCHEMA_VERSION:
            version = transaction.manifest["schema"]
            if version not in MIGRATIONS:
                raise StoreError(f"{self.path}: no migration from schema {version}")
            MIGRATIONS[version](transaction)
            transaction.manifest["schema"] = version + 1
            transaction.migrated = True

    @contextlib.contextmanager
    def _locked(self, mode):
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            if mode == fcntl.LOCK_SH:
                # A database in a read-only folder can still be read; no writer can race us there.
                yield
                return
            raise _os_error(self.lock_path, "open the lock", error) from None
        try:
            self._acquire(fd, mode)
            if mode == fcntl.LOCK_EX:
                os.ftruncate(fd, 0)
                os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)  # closing releases the flock

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
        """Delete table files of older generations; only called under the exclusive lock."""
        keep = set(manifest["tables"].values()) | {EVENTS_FILE}
        for path in self.folder.iterdir():
            if path.name not in keep:
                with contextlib.suppress(OSError):
                    path.unlink()


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
