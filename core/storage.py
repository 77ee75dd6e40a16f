"""The storage interface: what the tracker and core ask of a database, whatever keeps it.

`core.store.Store` (TinyDB files, the embedded default) implements it; a PostgreSQL backend
(`core.postgres`, issue 15) is planned and not written yet. `open_store` picks one from the database's location: a `postgresql://` URL
selects PostgreSQL, anything else is a file path. How a backend lays its data out (the file
store's chunks and indexes, PostgreSQL's tables) is its own business: core names tables and
fields only.

The backend module of PostgreSQL is imported only when a URL names it, so a file database never
loads psycopg, and only core/store.py imports tinydb.
"""

import os
from pathlib import Path
from typing import Any, ContextManager, Iterable, Optional, Protocol, runtime_checkable

URL_SCHEMES = ("postgresql://", "postgres://")


@runtime_checkable
class Transaction(Protocol):
    """One consistent view of the database; a writable one is committed as a whole when its
    block ends, or not at all. Documents are plain dicts carrying their own text `id`; those a
    read returns are shared with the transaction (`get` returns a copy): do not modify them."""

    writable: bool
    # The affiliate's settings (name, config overrides, disabled plugins, value maps...), a dict
    # changed in place and committed with the rest.
    meta: dict

    def insert(self, name: str, document: dict) -> None: ...

    def insert_many(self, name: str, documents: Iterable[dict]) -> None: ...

    def all(self, name: str) -> list: ...

    def get(self, name: str, record_id: str, **shard) -> Optional[dict]: ...

    def search(self, name: str, **equal) -> list: ...

    def containing(self, name: str, field: str, value) -> list: ...

    def replace(self, name: str, document: dict) -> None: ...

    def remove(self, name: str, document: dict) -> None: ...

    def next_id(self, prefix: str) -> str: ...

    # -- the audit log (sealed by core/chain.py) --
    def append_event(self, document: dict) -> None: ...

    def events(self) -> list: ...

    def log_lines(self) -> list: ...

    def rewrite_log(self, lines: list) -> None: ...

    # -- verify --
    def check(self) -> Any: ...  # a core.store.Check


@runtime_checkable
class Storage(Protocol):
    """A database: where it is (`path`, as shown to people: a file path, or a URL without its
    password) and its transactions."""

    path: Any

    def exists(self) -> bool: ...

    def read(self, missing_ok: bool = False) -> ContextManager[Transaction]: ...

    def write(self, create: bool = False, recover: bool = False, restore=None,
              force: bool = False) -> ContextManager[Transaction]: ...

    def backup(self, target) -> dict: ...

    def like(self, location, reference_problems=None) -> "Storage":
        """Another database at `location` of this one's kind and layout (a backup, a restore's
        source); `reference_problems`, transaction -> ["what is wrong", ...], what a restore checks."""
        ...


def is_url(location) -> bool:
    """Whether a database location is a PostgreSQL URL rather than a file path."""
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def default_location():
    """`PEERPATH_DB` (a file path or a postgresql:// URL), else `peerpath.json` in the user's data
    directory (XDG)."""
    given = os.environ.get("PEERPATH_DB")
    if given and is_url(given):
        return given
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "peerpath" / "peerpath.json"


def open_store(location=None, row_checks=None) -> Storage:
    """The database at `location` (default: `default_location()`); `row_checks` ({table: row ->
    problem or ""}) are what a file store checks of each row a write loads."""
    location = location or default_location()
    if is_url(str(location)):
        from .errors import StoreError

        raise StoreError("PostgreSQL databases are not supported yet (issue 15); give a file path")
    from .store import Store

    return Store.sharded(location, row_checks=row_checks)
