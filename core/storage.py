"""The storage interface: what the tracker and core ask of a database, whatever keeps it.

`core.store.Store` (TinyDB files, the embedded default) and `core.postgres.PostgresStore` (one
shared PostgreSQL database, issue 15) implement it. `open_store` picks one from the database's
location: a `postgresql://` (or `postgres://`) URL selects PostgreSQL, anything else is a file
path. How a backend lays its data out (the file store's chunks and indexes, PostgreSQL's
tables) is its own business: core names tables and fields only.

The backend module of PostgreSQL is imported only when a URL names it, so a file database never
loads psycopg, and only core/store.py imports tinydb.
"""

import dataclasses
import os
import urllib.parse
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

    # checked=False: documents from elsewhere (a copy's) that no write has checked row by row.
    def insert_many(self, name: str, documents: Iterable[dict], checked: bool = True) -> None: ...

    def table_names(self) -> list: ...  # the tables holding documents

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
    def check(self) -> "Check": ...

    # -- what `db copy` carries over besides tables, meta and the log --
    def counters(self) -> dict: ...  # {prefix: the last number next_id gave}

    def set_counters(self, counters: dict) -> None: ...


@dataclasses.dataclass
class Check:
    """What `verify` found: problems (any makes the database unsound), notes, and how much it read."""

    problems: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)
    tables: int = 0
    rows: int = 0
    events: int = 0


@runtime_checkable
class Storage(Protocol):
    """A database: where it is (`path`, as shown to people: a file path, or a URL without its
    password; `location`, what opens it again, password included; `name`, a short name such as
    the file's stem) and its transactions."""

    path: Any

    @property
    def location(self) -> Any: ...

    @property
    def name(self) -> str: ...

    def exists(self) -> bool: ...

    def read(self, missing_ok: bool = False) -> ContextManager[Transaction]: ...

    def write(self, create: bool = False, recover: bool = False, restore=None,
              force: bool = False) -> ContextManager[Transaction]: ...

    def backup(self, target) -> dict: ...

    def like(self, location, reference_problems=None) -> "Storage":
        """Another database at `location` of this one's kind and layout (a backup, a restore's
        source); `reference_problems`, transaction -> ["what is wrong", ...], what a restore checks."""
        ...

    def upgrade(self) -> tuple: ...  # (schema version before, after)


def is_url(location) -> bool:
    """Whether a database location is a PostgreSQL URL rather than a file path."""
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def without_affiliate(url: str) -> tuple:
    """(the URL without its `affiliate` parameter, which libpq does not know; that parameter or None)."""
    parts = urllib.parse.urlsplit(url)
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    named = [value for key, value in pairs if key == "affiliate"]
    query = urllib.parse.urlencode([(key, value) for key, value in pairs if key != "affiliate"])
    return urllib.parse.urlunsplit(parts._replace(query=query)), (named[-1] if named else None)


def with_affiliate(url: str, affiliate: str) -> str:
    """The URL acting for `affiliate`."""
    bare, _ = without_affiliate(url)
    parts = urllib.parse.urlsplit(bare)
    query = "&".join(filter(None, [parts.query, urllib.parse.urlencode({"affiliate": affiliate})]))
    return urllib.parse.urlunsplit(parts._replace(query=query))


def backup_path(location) -> Path:
    """`location` as the path of a backup (a file database); a URL is refused, never read as a
    path (it would name a folder `postgresql:`, with the password in its name)."""
    if is_url(str(location)):
        from .errors import StoreError

        raise StoreError("a backup is a file database: give it a path; copy a database to or from "
                         "PostgreSQL with 'peerpath db copy SOURCE TARGET'")
    return Path(location)


def default_location():
    """`PEERPATH_DB` (a file path or a postgresql:// URL), else `peerpath.json` in the user's data
    directory (XDG)."""
    given = os.environ.get("PEERPATH_DB")
    if given and is_url(given):
        return given
    if given:
        return Path(given).expanduser()
    return data_folder() / "peerpath.json"


def data_folder() -> Path:
    """peerpath's folder in the user's data directory (XDG)."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "peerpath"


def _postgres():
    """core.postgres, or one line saying what to install when psycopg is missing."""
    try:
        from . import postgres
    except ModuleNotFoundError as error:
        if error.name != "psycopg" and not str(error.name).startswith("psycopg."):
            raise
        from .errors import StoreError

        raise StoreError("a PostgreSQL database needs psycopg: pip install 'peerpath[postgres]'") from None
    return postgres


def open_store(location=None, row_checks=None) -> Storage:
    """The database at `location` (default: `default_location()`); `row_checks` ({table: row ->
    problem or ""}) are what a file store checks of each row a write loads."""
    location = location or default_location()
    if is_url(str(location)):
        return _postgres().PostgresStore(str(location), row_checks=row_checks)
    from .store import Store

    return Store.sharded(location, row_checks=row_checks)
