"""The PostgreSQL backend (issue 15): one database a state organisation's coordinators share.

Imported only when a database location is a postgresql:// URL (core/storage.py), so a file
database never loads psycopg. Everything lives in the PostgreSQL schema `peerpath`:

    _schema_version   the layout's version (SCHEMA_VERSION); `peerpath db upgrade` creates it
    _meta             one jsonb row: the affiliate's settings (Transaction.meta)
    _counters         {prefix: last number} behind next_id
    _audit_log        the audit trail: each line's exact JSON text, numbered in order, sealed by
    _audit_head       core/chain.py; the head row names the last hash and the count, as a file
                      store's manifest does, so verify finds a line removed from the end
    <table>           one table per table core names, all of one shape (DATA_TABLE): `id` (the
                      key), `num` (the id's number, for order), the fields core searches by as
                      typed, indexed columns (peer_id, offering_id, leaders with a GIN index for
                      `containing`, on_day), and the whole document as `doc jsonb`

Every command is one database transaction on one connection. Writers serialise on
`pg_advisory_xact_lock` under READ COMMITTED, so each sees what the one before committed and
two writers never lose each other's changes; readers see one REPEATABLE READ snapshot and take
no lock. A read's own changes (a what-if works in a read transaction) are rolled back, never
committed, as a file store's are never written. A killed client's transaction is rolled back
by the server: nothing of it is stored.

The password comes from the URL, PGPASSWORD or ~/.pgpass (libpq reads them); what peerpath
shows of a database (`path`) is its URL without the password.
"""

import contextlib
import copy
import datetime as dt
import os
import re
import urllib.parse
import zlib
from typing import Iterable, Optional

import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb, set_json_loads

from . import chain
from .errors import StoreError, UnreadableDocument, ValidationError
from .storage import Check, backup_path

SCHEMA = "peerpath"
# Version 1: the tables the module docstring lists.
SCHEMA_VERSION = 1
# Steps that upgrade an older layout in place: {old_version: [SQL statements]} (none yet).
MIGRATIONS: dict[int, list[str]] = {}
# The key of the advisory lock every writer of a database holds for its whole transaction.
WRITE_LOCK = zlib.crc32(b"peerpath write lock")
_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}", re.ASCII)
_NOT_DIGITS = re.compile(r"\D+", re.ASCII)

SCHEMA_SQL = (
    "CREATE SCHEMA IF NOT EXISTS peerpath",
    "CREATE TABLE peerpath._schema_version (version integer NOT NULL)",
    "CREATE TABLE peerpath._meta (one boolean PRIMARY KEY DEFAULT true CHECK (one), doc jsonb NOT NULL)",
    "CREATE TABLE peerpath._counters (prefix text PRIMARY KEY, value bigint NOT NULL)",
    "CREATE TABLE peerpath._audit_log (seq bigint PRIMARY KEY, line text NOT NULL)",
    "CREATE TABLE peerpath._audit_head (one boolean PRIMARY KEY DEFAULT true CHECK (one), "
    "head text NOT NULL, count bigint NOT NULL)",
)
DATA_TABLE = (
    "CREATE TABLE IF NOT EXISTS {table} (id text PRIMARY KEY, num bigint NOT NULL, peer_id text, "
    "offering_id text, leaders text[], on_day date, doc jsonb NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {num} ON {table} (num)",
    "CREATE INDEX IF NOT EXISTS {peer} ON {table} (peer_id)",
    "CREATE INDEX IF NOT EXISTS {offering} ON {table} (offering_id)",
    "CREATE INDEX IF NOT EXISTS {leaders} ON {table} USING gin (leaders)",
    "CREATE INDEX IF NOT EXISTS {day} ON {table} (on_day)",
)
# The tables core keeps, made with the schema (so that a database's owner can grant them to the
# coordinators' roles at once); a table of another name (a plugin's) is made when first written.
CORE_TABLES = ("peers", "enrollments", "step_records", "certifications", "summaries", "offerings", "sessions",
               "observations", "outreach", "activities", "trainings", "users", "sent_messages", "merged_peers")
# The typed columns `search` can ask the server about (the rest of a match is checked in Python).
SEARCHED = ("id", "peer_id", "offering_id")


def shown_url(url: str) -> str:
    """The URL without its password (in the address or as a `password=` parameter)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}@{host}"
    query = urllib.parse.urlencode([(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "password"])
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _reason(error: psycopg.Error) -> str:
    """What went wrong, in words a coordinator can act on, from libpq's message."""
    text = str(error)
    if "password authentication failed" in text or "no password supplied" in text:
        return "authentication failed (check the password in the URL, PGPASSWORD or ~/.pgpass)"
    if re.search(r'database ".*" does not exist', text):
        return "the database does not exist (create it with createdb, then run 'peerpath db upgrade')"
    if "Connection refused" in text or "could not connect" in text or "timeout expired" in text:
        return "the server does not answer (is PostgreSQL running there?)"
    if isinstance(error, psycopg.errors.LockNotAvailable):
        return "another peerpath process is writing to it; try again when it has finished"
    return " ".join(text.split()) or type(error).__name__


def _number(record_id) -> int:
    """The number in an id such as "P0042" (42), as the file store orders by it; else 0."""
    digits = _NOT_DIGITS.sub("", str(record_id or ""))
    return int(digits) if digits and len(digits) <= 18 else 0


def _day(value):
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _text(value):
    return value if isinstance(value, str) else None


def _dumps(value) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError as error:  # text that is not UTF-8, an integer beyond 64 bits
        raise ValidationError(f"cannot store a value: {error}") from None


def _row(document: dict) -> tuple:
    """The typed columns and the document, as stored."""
    leaders = document.get("leaders")
    leaders = [value for value in leaders if isinstance(value, str)] if isinstance(leaders, list) else None
    return (document["id"], _number(document["id"]), _text(document.get("peer_id")),
            _text(document.get("offering_id")), leaders, _day(document.get("on")), Jsonb(document, dumps=_dumps))


def _create_tables(connection, names) -> None:
    """Tables of core's documents (DATA_TABLE), with their indexes, in one round trip."""
    statements = []
    for name in names:
        if not _TABLE_NAME.fullmatch(name):
            raise StoreError(f"cannot store a table named {name!r}: use letters, digits and _")
        indexes = {key: sql.Identifier(f"{name}_by_{key}") for key in ("num", "peer", "offering", "leaders", "day")}
        statements += [sql.SQL(statement).format(table=sql.Identifier(SCHEMA, name), **indexes)
                       for statement in DATA_TABLE]
    connection.execute(sql.SQL("; ").join(statements))


class Transaction:
    """One database transaction; what it reads whole is kept for its length, changes go to the
    server at once and are committed (a writer's) or rolled back when the block ends."""

    def __init__(self, store: "PostgresStore", connection, writable: bool, present: bool = True):
        self.store = store
        self.writable = writable
        self._connection = connection
        self._present = present
        self._tables = set(self._column(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename NOT LIKE '\\_%%'", (SCHEMA,)
        )) if present else set()
        self._loaded: dict[str, dict] = {}  # {table: {id: document}} of the tables read whole
        meta = self._column("SELECT doc FROM peerpath._meta") if present else []
        self.meta = meta[0] if meta else {}
        self._meta_before = copy.deepcopy(self.meta)
        self._lines: Optional[list] = None  # the stored audit lines, once read
        self._log_rewrite = None
        self._log_head = None
        self._new_events: list[dict] = []

    # -- SQL ------------------------------------------------------------------------------------

    def _execute(self, query, params=()):
        return self._connection.execute(query, params)

    def _column(self, query, params=()) -> list:
        return [row[0] for row in self._execute(query, params).fetchall()]

    @staticmethod
    def _table(name: str):
        return sql.Identifier(SCHEMA, name)

    def _ensure_table(self, name: str) -> None:
        if name not in self._tables:
            _create_tables(self._connection, [name])
            self._tables.add(name)

    def _documents(self, name: str, where=sql.SQL(""), params=()) -> list:
        if name not in self._tables:
            return []
        query = sql.SQL("SELECT doc FROM {} {} ORDER BY num, id").format(self._table(name), where)
        return self._column(query, params)

    def _whole(self, name: str) -> dict:
        """{id: document} of every row of `name`, read once per transaction."""
        if name not in self._loaded:
            self._loaded[name] = {document.get("id"): document for document in self._documents(name)}
        return self._loaded[name]

    # -- tables -----------------------------------------------------------------------------------

    def insert(self, name: str, document: dict) -> None:
        self.insert_many(name, [document])

    def insert_many(self, name: str, documents) -> None:
        documents = [dict(document) for document in documents]
        if not documents:
            return
        self._ensure_table(name)
        query = sql.SQL("INSERT INTO {} (id, num, peer_id, offering_id, leaders, on_day, doc) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s)").format(self._table(name))
        try:
            with self._connection.cursor() as cursor:
                cursor.executemany(query, [_row(document) for document in documents])
        except psycopg.errors.UniqueViolation as error:
            raise StoreError(f"{self.store.path} is corrupt: its id counters give an id that {name} already "
                             f"holds ({error.diag.message_detail}); it was left untouched") from None
        if name in self._loaded:
            self._loaded[name].update((document["id"], document) for document in documents)

    def table_names(self) -> list:
        return sorted(self._tables)

    def all(self, name: str) -> list:
        return list(self._whole(name).values())

    def get(self, name: str, record_id: str, **shard):
        if name in self._loaded:
            found = self._loaded[name].get(record_id)
        else:
            found = next(iter(self._documents(name, sql.SQL("WHERE id = %s"), (record_id,))), None)
        return dict(found) if found is not None else None

    def search(self, name: str, **equal) -> list:
        """Documents whose fields equal the given values: the typed columns narrow the rows on
        the server, and each is matched in full here (a missing field equals None)."""
        asked = [key for key in SEARCHED if isinstance(equal.get(key), str)]
        if name in self._loaded or not asked:
            candidates: Iterable = self._whole(name).values()
        else:
            where = sql.SQL("WHERE ") + sql.SQL(" AND ").join(
                sql.SQL("{} = %s").format(sql.Identifier(key)) for key in asked)
            candidates = self._documents(name, where, [equal[key] for key in asked])
        return [doc for doc in candidates if all(doc.get(key) == value for key, value in equal.items())]

    def containing(self, name: str, field: str, value) -> list:
        if field == "leaders" and isinstance(value, str) and name not in self._loaded:
            candidates: Iterable = self._documents(name, sql.SQL("WHERE leaders @> ARRAY[%s]::text[]"), (value,))
        else:
            candidates = self._whole(name).values()
        return [doc for doc in candidates if value in (doc.get(field) or ())]

    def replace(self, name: str, document: dict) -> None:
        document = dict(document)
        updated = 0
        if name in self._tables:
            query = sql.SQL("UPDATE {} SET num = %s, peer_id = %s, offering_id = %s, leaders = %s, on_day = %s, "
                            "doc = %s WHERE id = %s").format(self._table(name))
            record_id, *columns = _row(document)
            updated = self._execute(query, (*columns, record_id)).rowcount
        if not updated:
            raise StoreError(f"no {name} record '{document['id']}' to update")
        if name in self._loaded:
            self._loaded[name][document["id"]] = document

    def remove(self, name: str, document: dict) -> None:
        removed = 0
        if name in self._tables:
            removed = self._execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(self._table(name)),
                                    (document["id"],)).rowcount
        if not removed:
            raise StoreError(f"no {name} record '{document['id']}' to remove")
        if name in self._loaded:
            self._loaded[name].pop(document["id"], None)

    def next_id(self, prefix: str) -> str:
        number = self._execute(
            "INSERT INTO peerpath._counters VALUES (%s, 1) ON CONFLICT (prefix) "
            "DO UPDATE SET value = peerpath._counters.value + 1 RETURNING value", (prefix,)).fetchone()[0]
        return f"{prefix}{number:04d}"

    def counters(self) -> dict:
        """{prefix: the last number next_id gave} (what `db copy` carries over)."""
        return dict(self._execute("SELECT prefix, value FROM peerpath._counters").fetchall()) if self._present else {}

    def set_counters(self, counters: dict) -> None:
        """Make next_id carry on from `counters` ({prefix: number}), as in the database copied here."""
        self._execute("DELETE FROM peerpath._counters")
        with self._connection.cursor() as cursor:
            cursor.executemany("INSERT INTO peerpath._counters VALUES (%s, %s)", list(counters.items()))

    # -- the audit log --------------------------------------------------------------------------

    def append_event(self, document: dict) -> None:
        self._new_events.append(document)

    def events(self) -> list:
        return [chain.unsealed(line) for line in self.log_lines()] + list(self._new_events)

    def log_lines(self) -> list:
        return list(self._stored_lines() if self._log_rewrite is None else self._log_rewrite)

    def _stored_lines(self) -> list:
        if self._lines is None:
            texts = self._column("SELECT line FROM peerpath._audit_log ORDER BY seq") if self._present else []
            self._lines = [orjson.loads(text) for text in texts]
        return self._lines

    def rewrite_log(self, lines: list) -> None:
        try:
            self._log_rewrite, self._log_head = chain.sealed_in_order(lines)
        except chain.BrokenChain as error:
            raise StoreError(f"the audit log of {self.store.path} is damaged: {error}; nothing was changed") from None

    def _write_log(self) -> None:
        if self._log_rewrite is None and not self._new_events:
            return
        if self._log_rewrite is not None:
            self._execute("DELETE FROM peerpath._audit_log")
            lines, head, count = list(self._log_rewrite), self._log_head, 0
        else:
            found = self._execute("SELECT head, count FROM peerpath._audit_head").fetchone()
            (head, count), lines = found or (chain.GENESIS, 0), []
        for event in self._new_events:
            lines.append(chain.seal(event, head))
            head = lines[-1]["hash"]
        with self._connection.cursor() as cursor:
            cursor.executemany("INSERT INTO peerpath._audit_log VALUES (%s, %s)",
                               [(count + number, _dumps(line)) for number, line in enumerate(lines, 1)])
        self._execute("INSERT INTO peerpath._audit_head VALUES (true, %s, %s) ON CONFLICT (one) "
                      "DO UPDATE SET head = excluded.head, count = excluded.count", (head, count + len(lines)))

    # -- verify -------------------------------------------------------------------------------------

    def check(self) -> Check:
        found = Check()
        for name in sorted(self._tables):
            found.tables += 1
            rows = self._execute(sql.SQL("SELECT id, doc FROM {} ORDER BY num, id").format(self._table(name))).fetchall()
            found.rows += len(rows)
            problem = next(filter(None, (self._row_problem(name, record_id, doc) for record_id, doc in rows)), "")
            if problem:
                found.problems.append(f"{self.store.path}: table {name}: {problem}")
        if self._present:
            self._check_log(found)
        return found

    def _row_problem(self, name: str, record_id: str, document) -> str:
        if not isinstance(document, dict) or document.get("id") != record_id:
            return f"row {record_id!r} does not hold a document with its id"
        check = self.store.row_checks.get(name)
        problem = check(document) if check else ""
        return f"row {record_id!r}: {problem}" if problem else ""

    def _check_log(self, found: Check) -> None:
        where = f"the audit log of {self.store.path}"
        head = chain.GENESIS
        rows = self._execute("SELECT seq, line FROM peerpath._audit_log ORDER BY seq").fetchall()
        found.events = len(rows)
        for number, (seq, text) in enumerate(rows, 1):
            try:
                line = orjson.loads(text)
            except ValueError:
                line = None
            problem = ("it is not a JSON object" if not isinstance(line, dict) else chain.chain_problem(line, head)) \
                if seq == number else f"it is numbered {seq} (a line is missing before it)"
            if problem:
                found.problems.append(f"{where}: event {number}: {problem}")
                return
            head = line["hash"]
        stored_head, count = self._execute("SELECT head, count FROM peerpath._audit_head").fetchone() \
            or (chain.GENESIS, 0)
        if count != found.events:
            found.problems.append(f"{where} holds {found.events} events, its head row commits {count}")
        elif head != stored_head:
            found.problems.append(f"{where} does not end at the chain head recorded (events were removed from its end?)")

    def unreadable(self, error: UnreadableDocument) -> StoreError:
        for name, rows in self._loaded.items():
            if any(row is error.document or row == error.document for row in rows.values()):
                return StoreError(f"{self.store.path}: table {name} is corrupt: {error}; it was left untouched")
        return StoreError(f"{self.store.path} is corrupt: {error}; it was left untouched")

    # -- commit --------------------------------------------------------------------------------------

    def _commit(self) -> None:
        if self.meta != self._meta_before:
            self._execute("INSERT INTO peerpath._meta VALUES (true, %s) ON CONFLICT (one) DO UPDATE SET doc = excluded.doc",
                          (Jsonb(self.meta, dumps=_dumps),))
        self._write_log()
        self._connection.commit()


class PostgresStore:
    """A peerpath database in PostgreSQL at `url`; `path` is the URL as shown (no password),
    `name` the database's name."""

    def __init__(self, url: str, row_checks=None):
        self.location = url
        self.path = shown_url(url)
        self.name = urllib.parse.urlsplit(url).path.lstrip("/") or "postgres"
        self.row_checks = dict(row_checks or {})

    # -- connections ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connected(self, writing: bool):
        """One connection and its one transaction: a writer's is committed by the caller, anything
        left open is rolled back; every psycopg error becomes one line naming the database."""
        try:
            connection = psycopg.connect(self.location, connect_timeout=10)
        except psycopg.Error as error:
            raise self._error(error) from None
        set_json_loads(orjson.loads, connection)
        try:
            connection.isolation_level = (psycopg.IsolationLevel.READ_COMMITTED if writing
                                          else psycopg.IsolationLevel.REPEATABLE_READ)
            yield connection
        except psycopg.DataError as error:  # a value the server cannot store (a NUL in a text)
            raise ValidationError(f"cannot store a value: {' '.join(str(error).split())}") from None
        except psycopg.Error as error:
            raise self._error(error) from None
        finally:
            with contextlib.suppress(psycopg.Error):
                connection.rollback()
            connection.close()

    def _error(self, error: psycopg.Error) -> StoreError:
        text = _reason(error)
        password = urllib.parse.urlsplit(self.location).password
        if password:
            text = text.replace(password, "***")
        return StoreError(f"cannot use the database {self.path}: {text}")

    @staticmethod
    def _version(connection):
        """The schema version stored, or None when the database holds no peerpath schema."""
        if connection.execute("SELECT to_regclass('peerpath._schema_version')").fetchone()[0] is None:
            return None
        row = connection.execute("SELECT version FROM peerpath._schema_version").fetchone()
        return row[0] if row else None

    def _checked_version(self, connection, missing_ok=False):
        version = self._version(connection)
        if version is None and not missing_ok:
            raise self._missing()
        if version is not None and version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer peerpath (schema {version}, this one knows up "
                             f"to {SCHEMA_VERSION}); upgrade peerpath. The database was left untouched")
        if version is not None and version < SCHEMA_VERSION:
            raise StoreError(f"{self.path} has the older schema {version}: run 'peerpath db upgrade'")
        return version

    def _missing(self) -> StoreError:
        return StoreError(f"no peerpath database at {self.path}: run 'peerpath init' or 'peerpath db upgrade'")

    @staticmethod
    def _lock(connection) -> None:
        timeout = os.environ.get("PEERPATH_LOCK_TIMEOUT", "30")
        try:
            milliseconds = int(float(timeout) * 1000)
        except ValueError:
            raise StoreError("PEERPATH_LOCK_TIMEOUT must be a number of seconds") from None
        connection.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(max(milliseconds, 1))))
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))

    # -- the Storage interface -----------------------------------------------------------------

    def exists(self) -> bool:
        with self._connected(writing=False) as connection:
            return self._version(connection) is not None

    @contextlib.contextmanager
    def read(self, missing_ok: bool = False):
        with self._connected(writing=False) as connection:
            present = self._checked_version(connection, missing_ok) is not None
            transaction = Transaction(self, connection, writable=False, present=present)
            try:
                yield transaction
            except UnreadableDocument as error:
                raise transaction.unreadable(error) from None

    @contextlib.contextmanager
    def write(self, create: bool = False, recover: bool = False, restore=None, force: bool = False):
        if recover:
            raise StoreError(f"{self.path} is a PostgreSQL database: 'peerpath recover' rebuilds a file "
                             "database's lost manifest, and the server keeps its own")
        if restore is not None:
            raise StoreError(f"{self.path} is a PostgreSQL database: restore a backup into it with "
                             "'peerpath db copy BACKUP URL --force'")
        with self._connected(writing=True) as connection:
            self._lock(connection)
            if self._checked_version(connection, missing_ok=create) is None:
                self._create_schema(connection)
            transaction = Transaction(self, connection, writable=True)
            try:
                yield transaction
            except UnreadableDocument as error:
                raise transaction.unreadable(error) from None
            transaction._commit()

    def upgrade(self) -> tuple:
        """Create the schema, or bring an older one to SCHEMA_VERSION; (version before, after).
        A newer schema than this peerpath knows is refused, untouched."""
        with self._connected(writing=True) as connection:
            self._lock(connection)
            before = version = self._version(connection)
            if version is not None and version > SCHEMA_VERSION:
                self._checked_version(connection)
            if version is None:
                self._create_schema(connection)
            while version is not None and version < SCHEMA_VERSION:
                for statement in MIGRATIONS[version]:
                    connection.execute(statement)
                version += 1
                connection.execute("UPDATE peerpath._schema_version SET version = %s", (version,))
            connection.commit()
        return before, SCHEMA_VERSION

    @staticmethod
    def _create_schema(connection) -> None:
        connection.execute("; ".join(SCHEMA_SQL))
        connection.execute("INSERT INTO peerpath._schema_version VALUES (%s)", (SCHEMA_VERSION,))
        _create_tables(connection, CORE_TABLES)

    def like(self, path, reference_problems=None):
        """The file database at `path`: what a backup of this one is."""
        from .store import Store

        return Store.sharded(backup_path(path), row_checks=self.row_checks, reference_problems=reference_problems)

    def backup(self, target) -> dict:
        """Copy one snapshot of this database into the new file database `target` (a Store); its
        manifest. (pg_dump is the server's own way, see docs/postgres.md.)"""
        from .copying import copy_into

        if target.exists() or target.holds_data():
            raise StoreError(f"{target.path} already exists: a backup never overwrites; choose a new name")
        with self.read() as source, target.write(create=True) as copy:
            copy_into(source, copy)
        return copy.manifest
