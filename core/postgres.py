"""The PostgreSQL backend (issue 15): one database a state organisation's coordinators share.

Imported only when a database location is a postgresql:// URL (core/storage.py), so a file
database never loads psycopg. Everything lives in the PostgreSQL schema `peerpath`:

    _schema_version   the layout's version (SCHEMA_VERSION); `peerpath db upgrade` creates it
    _affiliates       the affiliates the database holds: id, name and the role of its coordinators
    _meta             one jsonb row per affiliate: its settings (Transaction.meta)
    _counters         {prefix: last number} behind next_id, per affiliate
    _audit_log        each affiliate's audit trail: each line's exact JSON text, numbered in order,
    _audit_head       sealed by core/chain.py; the head row names the last hash and the count, as a
                      file store's manifest does, so verify finds a line removed from the end
    <table>           one table per table core names, all of one shape (DATA_TABLE): `id`, `num`
                      (the id's number, for order), the fields core searches by as typed, indexed
                      columns (peer_id, offering_id, leaders with a GIN index for `containing`,
                      on_day), the whole document as `doc jsonb`, and `affiliate`
    rollup            the state's view: counts per affiliate, small ones suppressed, no names

Many affiliates, one database (schema 2): every row carries its `affiliate`, and keys are
(affiliate, id). Row-level security, forced even on the tables' owner, lets a connection see and
change only the rows of the affiliate it acts for (the setting `peerpath.affiliate`), and only if
its role is a member of that affiliate's role `peerpath_affiliate_<id>`. Which affiliate a
connection acts for: `?affiliate=ID` in the URL (peerpath reads and strips it), else
PEERPATH_AFFILIATE, else the only affiliate the role belongs to. Every query also names the
affiliate, so a superuser (whom PostgreSQL exempts from row security) sees one affiliate too.

Every command is one database transaction on one connection. Writers of one affiliate serialise
on `pg_advisory_xact_lock` of that affiliate under READ COMMITTED, so each sees what the one
before committed and two writers never lose each other's changes; writers of other affiliates do
not wait for them (they share the schema's lock, which `db upgrade` takes alone). Readers see one
REPEATABLE READ snapshot and take no lock. A read's own changes (a what-if works in a read transaction) are rolled back, never
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
from .storage import Check, backup_path, with_affiliate, without_affiliate

SCHEMA = "peerpath"
# Version 1: one affiliate, the tables the module docstring lists; 2: many affiliates, row security.
SCHEMA_VERSION = 2
# The key of the advisory lock on the schema: every writer holds it shared, `db upgrade` alone.
WRITE_LOCK = zlib.crc32(b"peerpath write lock")
# Roles of the whole cluster: coordinators' table rights (each affiliate's role is a member), the
# owner of the state's roll-up view, and the state's readers of it.
COORDINATORS, ROLLUP_OWNER, STATE = "peerpath_coordinator", "peerpath_rollup", "peerpath_state"
AFFILIATE_ROLE = "peerpath_affiliate_"
# The affiliate a database made before there were many holds, after `db upgrade` (unless named).
FIRST_AFFILIATE = "main"
AFFILIATE_ID = re.compile(r"[a-z][a-z0-9_]{0,39}", re.ASCII)
_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}", re.ASCII)
_NOT_DIGITS = re.compile(r"\D+", re.ASCII)
_ACTING = "current_setting('peerpath.affiliate', true)"

# The layout of schema 2, column for column as MIGRATIONS leaves a schema 1 (`affiliate` last).
SCHEMA_SQL = (
    "CREATE SCHEMA IF NOT EXISTS peerpath",
    "CREATE TABLE peerpath._schema_version (version integer NOT NULL)",
    "CREATE TABLE peerpath._meta (doc jsonb NOT NULL, affiliate text PRIMARY KEY DEFAULT " + _ACTING + ")",
    "CREATE TABLE peerpath._counters (prefix text NOT NULL, value bigint NOT NULL, "
    "affiliate text NOT NULL DEFAULT " + _ACTING + ", PRIMARY KEY (affiliate, prefix))",
    "CREATE TABLE peerpath._audit_log (seq bigint NOT NULL, line text NOT NULL, "
    "affiliate text NOT NULL DEFAULT " + _ACTING + ", PRIMARY KEY (affiliate, seq))",
    "CREATE TABLE peerpath._audit_head (head text NOT NULL, count bigint NOT NULL, "
    "affiliate text PRIMARY KEY DEFAULT " + _ACTING + ")",
)
AFFILIATES_SQL = (
    "CREATE TABLE peerpath._affiliates (id text PRIMARY KEY, name text NOT NULL, role text NOT NULL)",
    # An affiliate's name in _affiliates follows the one its settings hold (`init --affiliate`, a
    # copied file's): the trigger runs as the schema's owner, for the _meta row a coordinator may write.
    "CREATE FUNCTION peerpath._named() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
    "SET search_path = pg_catalog AS $$ BEGIN UPDATE peerpath._affiliates SET name = NEW.doc->>'affiliate' "
    "WHERE id = NEW.affiliate AND NEW.doc->>'affiliate' <> name; RETURN NEW; END $$",
    "CREATE TRIGGER named AFTER INSERT OR UPDATE ON peerpath._meta FOR EACH ROW EXECUTE FUNCTION peerpath._named()",
)
DATA_TABLE = (
    "CREATE TABLE IF NOT EXISTS {table} (id text NOT NULL, num bigint NOT NULL, peer_id text, "
    "offering_id text, leaders text[], on_day date, doc jsonb NOT NULL, "
    "affiliate text NOT NULL DEFAULT " + _ACTING + ", PRIMARY KEY (affiliate, id))",
    "CREATE INDEX IF NOT EXISTS {num} ON {table} (affiliate, num)",
    "CREATE INDEX IF NOT EXISTS {peer} ON {table} (affiliate, peer_id)",
    "CREATE INDEX IF NOT EXISTS {offering} ON {table} (affiliate, offering_id)",
    "CREATE INDEX IF NOT EXISTS {leaders} ON {table} USING gin (leaders)",
    "CREATE INDEX IF NOT EXISTS {day} ON {table} (affiliate, on_day)",
)
# Row security of every table but _schema_version and _affiliates (which name no person): a row
# is seen and written only by a connection acting for its affiliate whose role is a member of the
# affiliate's; the roll-up view's owner reads every row (the view shows only counts).
ROW_SECURITY = (
    "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
    "CREATE POLICY acting_affiliate ON {table} USING ({acts}) WITH CHECK ({acts})",
    "CREATE POLICY rollup_reads ON {table} FOR SELECT TO " + ROLLUP_OWNER + " USING (true)",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO " + COORDINATORS,
)
# (The membership is asked once per query, as a sub-select of the setting, not once per row.)
ACTS_FOR = (f"affiliate = {_ACTING} AND (SELECT pg_has_role(current_user, '{AFFILIATE_ROLE}' || {_ACTING}, 'MEMBER'))")
# The tables core keeps, made with the schema (so that a database's owner can grant them to the
# coordinators' roles at once); a table of another name (a plugin's) is made when first written.
CORE_TABLES = ("peers", "enrollments", "step_records", "certifications", "summaries", "summary_heads", "offerings",
               "sessions", "observations", "outreach", "activities", "trainings", "users", "sent_messages",
               "merged_peers")
# The typed columns `search` asks the server about; a text value of any other field is asked by
# jsonb containment (`doc @> {"stage": "accepted"}`, exact for text). Each match is checked in full in Python.
SEARCHED = ("id", "peer_id", "offering_id")
# A table read whole keeps what a change inserts into it; more rows than this at once (a db copy,
# an import) are read again from the server if asked for, rather than kept twice in memory.
BULK = 1000
# What the state sees of each affiliate (`peerpath.rollup`): counts by (section, figure), with
# `report rollup`'s suppression (a count from 1 to below the affiliate's rollup.suppress_below
# shows as "<N"). No names, no contact details, no ids.
ROLLUP_COUNTS = (
    "SELECT affiliate, 'recruited_by_stage' AS section, doc->>'stage' AS figure, count(*) AS n "
    "FROM peerpath.peers GROUP BY 1, 2, 3",
    "SELECT affiliate, 'certifications', doc->>'program', count(*) FROM peerpath.certifications GROUP BY 1, 2, 3",
    "SELECT affiliate, 'offerings', doc->>'program', count(*) FROM peerpath.offerings GROUP BY 1, 2, 3",
    "SELECT affiliate, 'sessions', doc->>'program', count(*) FROM peerpath.sessions GROUP BY 1, 2, 3",
    "SELECT affiliate, 'attendance', doc->>'program', coalesce(sum((doc->>'attendance')::bigint), 0) "
    "FROM peerpath.sessions GROUP BY 1, 2, 3",
    "SELECT affiliate, 'volunteers_enrolled', '', count(DISTINCT peer_id) FROM peerpath.enrollments GROUP BY 1, 2, 3",
)
ROLLUP_VIEW = (
    "CREATE VIEW peerpath.rollup AS WITH counts AS ({counts}), "
    "threshold AS (SELECT affiliate, doc->>'affiliate' AS name, "
    "coalesce((doc->'config'->>'rollup.suppress_below')::bigint, {default}) AS below FROM peerpath._meta) "
    "SELECT c.affiliate, t.name, c.section, c.figure, "
    "CASE WHEN c.n > 0 AND c.n < t.below THEN '<' || t.below ELSE c.n::text END AS value "
    "FROM counts c JOIN threshold t USING (affiliate)"
)


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


def _composed(statements, **names) -> sql.Composed:
    return sql.SQL("; ").join(sql.SQL(statement).format(**names) for statement in statements)


def _create_tables(connection, names) -> None:
    """Tables of core's documents (DATA_TABLE), with their indexes and row security, in one round trip."""
    statements = []
    for name in names:
        if not _TABLE_NAME.fullmatch(name):
            raise StoreError(f"cannot store a table named {name!r}: use letters, digits and _")
        indexes = {key: sql.Identifier(f"{name}_by_{key}") for key in ("num", "peer", "offering", "leaders", "day")}
        statements += [_composed(DATA_TABLE, table=sql.Identifier(SCHEMA, name), **indexes)]
    connection.execute(sql.SQL("; ").join(statements))
    _secure(connection, names)


def _secure(connection, names) -> None:
    """Row security (ROW_SECURITY) on the tables `names` of the schema."""
    connection.execute(sql.SQL("; ").join(
        _composed(ROW_SECURITY, table=sql.Identifier(SCHEMA, name), acts=sql.SQL(ACTS_FOR)) for name in names))


def _ensure_role(connection, role: str) -> None:
    """A NOLOGIN role of the cluster (roles are shared by its databases), made unless it exists."""
    connection.execute(sql.SQL(
        "DO $$ BEGIN CREATE ROLE {} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    ).format(sql.Identifier(role)))


def _create_shared(connection) -> None:
    """What every affiliate shares: the roles, the grants on the schema, the state's roll-up view."""
    from .config import CORE_SETTINGS  # only a new schema needs the default (a command opening one need not load it)

    connection.execute("; ".join(AFFILIATES_SQL))
    private = ("_meta", "_counters", "_audit_log", "_audit_head")
    tables = sql.SQL(", ").join(sql.Identifier(SCHEMA, name) for name in (*private, *CORE_TABLES))
    view = ROLLUP_VIEW.format(counts=" UNION ALL ".join(ROLLUP_COUNTS),
                              default=CORE_SETTINGS["rollup.suppress_below"])
    connection.execute(sql.SQL("; ").join([
        sql.SQL(f"GRANT USAGE, CREATE ON SCHEMA peerpath TO {COORDINATORS}"),
        sql.SQL(f"GRANT SELECT ON peerpath._schema_version, peerpath._affiliates TO {COORDINATORS}"),
        sql.SQL(f"GRANT USAGE ON SCHEMA peerpath TO {STATE}"),
        sql.SQL(f"GRANT USAGE, CREATE ON SCHEMA peerpath TO {ROLLUP_OWNER}"),  # an owner of a view there must
        sql.SQL("GRANT SELECT ON {} TO " + ROLLUP_OWNER).format(tables),
        sql.SQL(view),
        sql.SQL(f"ALTER VIEW peerpath.rollup OWNER TO {ROLLUP_OWNER}"),
        sql.SQL(f"GRANT SELECT ON peerpath.rollup TO {STATE}"),
    ]))


def _create_roles(connection) -> None:
    for role in (COORDINATORS, ROLLUP_OWNER, STATE):
        _ensure_role(connection, role)
    _join(connection, ROLLUP_OWNER)  # to give it the roll-up view


def _join(connection, role: str) -> None:
    """Make the role connected a member of `role` (a superuser already is one of every role)."""
    if not connection.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", (role,)).fetchone()[0]:
        connection.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))


def _create_schema(connection) -> None:
    _create_roles(connection)
    connection.execute("; ".join(SCHEMA_SQL))
    connection.execute("INSERT INTO peerpath._schema_version VALUES (%s)", (SCHEMA_VERSION,))
    _create_tables(connection, CORE_TABLES)
    _secure(connection, ("_meta", "_counters", "_audit_log", "_audit_head"))
    _create_shared(connection)


def _data_tables(connection) -> list:
    return [row[0] for row in connection.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename NOT LIKE '\\_%%'", (SCHEMA,))]


def _to_version_2(connection) -> None:
    """Schema 1 to 2: every row becomes the affiliate the connection acts for (`affiliate`, last,
    its default filling the rows there are), keys and indexes lead with it, row security on."""
    column = "ALTER TABLE {table} ADD COLUMN affiliate text NOT NULL DEFAULT " + _ACTING
    _create_roles(connection)
    names = _data_tables(connection)
    for name in names:
        table = sql.Identifier(SCHEMA, name)
        indexes = [sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(SCHEMA, f"{name}_by_{key}"))
                   for key in ("num", "peer", "offering", "day")]
        connection.execute(sql.SQL("; ").join([
            sql.SQL(column).format(table=table), *indexes,
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}, ADD PRIMARY KEY (affiliate, id)").format(
                table, sql.Identifier(f"{name}_pkey"))]))
    # The indexes anew, any core table missing, and row security on them all.
    _create_tables(connection, sorted(set(names) | set(CORE_TABLES)))
    keyed = {"_meta": None, "_audit_head": None, "_counters": "prefix", "_audit_log": "seq"}
    for name, key in keyed.items():
        table = sql.Identifier(SCHEMA, name)
        key_change = ("ALTER TABLE {table} DROP COLUMN one, ADD PRIMARY KEY (affiliate)" if key is None else
                      "ALTER TABLE {table} DROP CONSTRAINT {pkey}, ADD PRIMARY KEY (affiliate, {key})")
        connection.execute(_composed((column, key_change), table=table, pkey=sql.Identifier(f"{name}_pkey"),
                                     key=sql.Identifier(key or "affiliate")))
    _secure(connection, keyed)
    _create_shared(connection)


# Steps that upgrade an older layout in place: {old version: the step to the next}.
MIGRATIONS = {1: _to_version_2}


class Transaction:
    """One database transaction; what it reads whole is kept for its length, changes go to the
    server at once and are committed (a writer's) or rolled back when the block ends."""

    def __init__(self, store: "PostgresStore", connection, writable: bool, affiliate: str, present: bool = True):
        self.store = store
        self.writable = writable
        self.affiliate = affiliate  # every query names it (a superuser is exempt from row security)
        self._connection = connection
        self._present = present
        self._tables = set(_data_tables(connection)) if present else set()
        self._loaded: dict[str, dict] = {}  # {table: {id: document}} of the tables read whole
        self._copyable: dict[str, bool] = {}  # {table: whether COPY may write it}, asked when first needed
        meta = self._column("SELECT doc FROM peerpath._meta WHERE affiliate = %s", (affiliate,)) if present else []
        self.meta = meta[0] if meta else {}
        self._meta_stored = bool(meta)  # a writer stores the row of an affiliate registered but not written
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
        """The documents of this affiliate in `name` matching `where` (`AND ...`), in id order."""
        if name not in self._tables:
            return []
        query = sql.SQL("SELECT doc FROM {} WHERE affiliate = %s {} ORDER BY num, id").format(self._table(name), where)
        return self._column(query, (self.affiliate, *params))

    def _whole(self, name: str) -> dict:
        """{id: document} of every row of `name`, read once per transaction."""
        if name not in self._loaded:
            self._loaded[name] = {document.get("id"): document for document in self._documents(name)}
        return self._loaded[name]

    # -- tables -----------------------------------------------------------------------------------

    def insert(self, name: str, document: dict) -> None:
        self.insert_many(name, [document])

    def insert_many(self, name: str, documents, checked: bool = True) -> None:  # `checked` unused: every write checks the rows it loads
        documents = list(documents)
        if not documents:
            return
        self._ensure_table(name)
        try:
            self._insert(name, "id, num, peer_id, offering_id, leaders, on_day, doc, affiliate",
                         ((*_row(document), self.affiliate) for document in documents), several=len(documents) > 1)
        except psycopg.errors.UniqueViolation as error:
            raise StoreError(f"{self.store.path} is corrupt: its id counters give an id that {name} already "
                             f"holds ({error.diag.message_detail}); it was left untouched") from None
        if len(documents) > BULK:
            self._loaded.pop(name, None)  # read again from the server, which holds them, when asked
        elif name in self._loaded:
            self._loaded[name].update((document["id"], dict(document)) for document in documents)

    def _insert(self, table: str, columns: str, rows: Iterable[tuple], several: bool) -> None:
        """Rows into the schema's `table` (its `columns`, comma-separated): by COPY, streamed, when
        there are several and row security lets COPY in (it does for a superuser or a BYPASSRLS
        role, as a state's `db copy` may be; for others PostgreSQL refuses COPY into a table with
        row security), 1.6 x as fast as INSERTs of 50,000 step records; else by INSERTs, pipelined."""
        into = sql.SQL("{} ({})").format(self._table(table), sql.SQL(columns))
        if several and self._copy_allowed(table):
            with self._connection.cursor() as cursor, cursor.copy(sql.SQL("COPY {} FROM STDIN").format(into)) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        values = sql.SQL(", ").join(sql.Placeholder() * len(columns.split(",")))
        with self._connection.cursor() as cursor:
            cursor.executemany(sql.SQL("INSERT INTO {} VALUES ({})").format(into, values), rows)

    def _copy_allowed(self, table: str) -> bool:
        if table not in self._copyable:
            quoted = self._table(table).as_string(self._connection)
            self._copyable[table] = not self._column("SELECT row_security_active(%s::regclass)", (quoted,))[0]
        return self._copyable[table]

    def table_names(self) -> list:
        return sorted(self._tables)

    def all(self, name: str) -> list:
        return list(self._whole(name).values())

    def get(self, name: str, record_id: str, **shard):
        if name in self._loaded:
            found = self._loaded[name].get(record_id)
        else:
            found = next(iter(self._documents(name, sql.SQL("AND id = %s"), (record_id,))), None)
        return dict(found) if found is not None else None

    def search(self, name: str, **equal) -> list:
        """Documents whose fields equal the given values: the typed columns and the text values
        narrow the rows on the server (SEARCHED), and each is matched in full here (a missing
        field equals None)."""
        asked = [key for key in SEARCHED if isinstance(equal.get(key), str)]
        texts = {key: value for key, value in equal.items()
                 if key not in SEARCHED and isinstance(value, str) and "\x00" not in value}
        candidates: Iterable[dict]
        if name in self._loaded or not (asked or texts):
            candidates = self._whole(name).values()
        else:
            conditions: list[sql.Composable] = [sql.SQL("{} = %s").format(sql.Identifier(key)) for key in asked]
            conditions += [sql.SQL("doc @> %s")] if texts else []
            where = sql.SQL("AND ") + sql.SQL(" AND ").join(conditions)
            params = [equal[key] for key in asked] + ([Jsonb(texts, dumps=_dumps)] if texts else [])
            candidates = self._documents(name, where, params)
        return [doc for doc in candidates if all(doc.get(key) == value for key, value in equal.items())]

    def containing(self, name: str, field: str, value) -> list:
        candidates: Iterable[dict]
        if field == "leaders" and isinstance(value, str) and name not in self._loaded:
            candidates = self._documents(name, sql.SQL("AND leaders @> ARRAY[%s]::text[]"), (value,))
        else:
            candidates = self._whole(name).values()
        return [doc for doc in candidates if value in (doc.get(field) or ())]

    def replace(self, name: str, document: dict) -> None:
        document = dict(document)
        updated = 0
        if name in self._tables:
            query = sql.SQL("UPDATE {} SET num = %s, peer_id = %s, offering_id = %s, leaders = %s, on_day = %s, "
                            "doc = %s WHERE affiliate = %s AND id = %s").format(self._table(name))
            record_id, *columns = _row(document)
            updated = self._execute(query, (*columns, self.affiliate, record_id)).rowcount
        if not updated:
            raise StoreError(f"no {name} record '{document['id']}' to update")
        if name in self._loaded:
            self._loaded[name][document["id"]] = document

    def remove(self, name: str, document: dict) -> None:
        removed = 0
        if name in self._tables:
            removed = self._execute(sql.SQL("DELETE FROM {} WHERE affiliate = %s AND id = %s").format(
                self._table(name)), (self.affiliate, document["id"])).rowcount
        if not removed:
            raise StoreError(f"no {name} record '{document['id']}' to remove")
        if name in self._loaded:
            self._loaded[name].pop(document["id"], None)

    def next_id(self, prefix: str) -> str:
        number = self._execute(
            "INSERT INTO peerpath._counters VALUES (%s, 1, %s) ON CONFLICT (affiliate, prefix) "
            "DO UPDATE SET value = peerpath._counters.value + 1 RETURNING value", (prefix, self.affiliate)).fetchone()[0]
        return f"{prefix}{number:04d}"

    def counters(self) -> dict:
        """{prefix: the last number next_id gave} (what `db copy` carries over)."""
        return dict(self._execute("SELECT prefix, value FROM peerpath._counters WHERE affiliate = %s",
                                  (self.affiliate,)).fetchall()) if self._present else {}

    def set_counters(self, counters: dict) -> None:
        """Make next_id carry on from `counters` ({prefix: number}), as in the database copied here."""
        self._execute("DELETE FROM peerpath._counters WHERE affiliate = %s", (self.affiliate,))
        with self._connection.cursor() as cursor:
            cursor.executemany("INSERT INTO peerpath._counters VALUES (%s, %s, %s)",
                               [(prefix, value, self.affiliate) for prefix, value in counters.items()])

    # -- the audit log --------------------------------------------------------------------------

    def append_event(self, document: dict) -> None:
        self._new_events.append(document)

    def events(self) -> list:
        return [chain.unsealed(line) for line in self.log_lines()] + list(self._new_events)

    def log_lines(self) -> list:
        return list(self._stored_lines() if self._log_rewrite is None else self._log_rewrite)

    def _stored_lines(self) -> list:
        if self._lines is None:
            texts = self._column("SELECT line FROM peerpath._audit_log WHERE affiliate = %s ORDER BY seq",
                                 (self.affiliate,)) if self._present else []
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
            self._execute("DELETE FROM peerpath._audit_log WHERE affiliate = %s", (self.affiliate,))
            lines, head, count = list(self._log_rewrite), self._log_head, 0
        else:
            found = self._execute("SELECT head, count FROM peerpath._audit_head WHERE affiliate = %s",
                                  (self.affiliate,)).fetchone()
            (head, count), lines = found or (chain.GENESIS, 0), []
        for event in self._new_events:
            lines.append(chain.seal(event, head))
            head = lines[-1]["hash"]
        if lines:
            self._insert("_audit_log", "seq, line, affiliate",
                         ((count + number, _dumps(line), self.affiliate) for number, line in enumerate(lines, 1)),
                         several=len(lines) > 1)
        self._execute("INSERT INTO peerpath._audit_head VALUES (%s, %s, %s) ON CONFLICT (affiliate) "
                      "DO UPDATE SET head = excluded.head, count = excluded.count",
                      (head, count + len(lines), self.affiliate))

    # -- verify -------------------------------------------------------------------------------------

    def check(self) -> Check:
        found = Check()
        for name in sorted(self._tables):
            found.tables += 1
            rows = self._execute(sql.SQL("SELECT id, doc FROM {} WHERE affiliate = %s ORDER BY num, id").format(
                self._table(name)), (self.affiliate,))
            problem = ""
            for record_id, doc in rows:  # each row made a document in turn, not the table's at once
                found.rows += 1
                problem = problem or self._row_problem(name, record_id, doc)
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
        rows = self._execute("SELECT seq, line FROM peerpath._audit_log WHERE affiliate = %s ORDER BY seq",
                             (self.affiliate,))
        found.events = rows.rowcount
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
        stored_head, count = self._execute("SELECT head, count FROM peerpath._audit_head WHERE affiliate = %s",
                                           (self.affiliate,)).fetchone() or (chain.GENESIS, 0)
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
        if self.meta != self._meta_before or not self._meta_stored:
            self._execute("INSERT INTO peerpath._meta VALUES (%s, %s) ON CONFLICT (affiliate) "
                          "DO UPDATE SET doc = excluded.doc", (Jsonb(self.meta, dumps=_dumps), self.affiliate))
        self._write_log()
        self._connection.commit()


def check_affiliate_id(affiliate: str) -> str:
    if not AFFILIATE_ID.fullmatch(affiliate or ""):
        raise ValidationError(f"'{affiliate}' is not an affiliate id: use up to 40 lower-case letters, digits "
                              "and _, starting with a letter")
    return affiliate


class PostgresStore:
    """A peerpath database in PostgreSQL at `url`, acting for one affiliate (`?affiliate=ID` in
    the URL, else PEERPATH_AFFILIATE, else the only one the role belongs to); `path` is the URL as
    shown (no password), `name` the database's name."""

    def __init__(self, url: str, row_checks=None):
        self.location = url  # as given, naming the affiliate: what a new Tracker (the web app's) opens
        self._dsn, named = without_affiliate(url)
        self.asked_affiliate = named or os.environ.get("PEERPATH_AFFILIATE") or None
        self.path = shown_url(url)
        self.name = urllib.parse.urlsplit(url).path.lstrip("/") or "postgres"
        self.row_checks = dict(row_checks or {})
        self.affiliate: Optional[str] = None  # the affiliate acted for, once a connection has found it

    # -- connections ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connected(self, writing: bool):
        """One connection and its one transaction: a writer's is committed by the caller, anything
        left open is rolled back; every psycopg error becomes one line naming the database."""
        try:
            connection = psycopg.connect(self._dsn, connect_timeout=10)
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
    def _lock(connection, alone: bool = False) -> None:
        """The schema's write lock: shared by writers (each also locks its affiliate), or `alone`."""
        timeout = os.environ.get("PEERPATH_LOCK_TIMEOUT", "30")
        try:
            milliseconds = int(float(timeout) * 1000)
        except ValueError:
            raise StoreError("PEERPATH_LOCK_TIMEOUT must be a number of seconds") from None
        connection.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(max(milliseconds, 1))))
        lock = "pg_advisory_xact_lock" if alone else "pg_advisory_xact_lock_shared"
        connection.execute(f"SELECT {lock}(%s)", (WRITE_LOCK,))

    @staticmethod
    def _lock_affiliate(connection, affiliate: str) -> None:
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(f"peerpath write lock {affiliate}".encode()),))

    # -- affiliates ----------------------------------------------------------------------------------

    def _act(self, connection, affiliate: str) -> str:
        connection.execute("SELECT set_config('peerpath.affiliate', %s, false)", (affiliate,))
        self.affiliate = affiliate
        return affiliate

    def _acting(self, connection, register: bool = False):
        """The affiliate this connection acts for (set as `peerpath.affiliate`); one the URL or
        PEERPATH_AFFILIATE names is registered if `register` (by an owner who may make roles)
        and missing. A role that may not act for it, or for no or several affiliates, is refused."""
        asked = check_affiliate_id(self.asked_affiliate) if self.asked_affiliate else None
        rows = connection.execute("SELECT id, pg_has_role(current_user, role, 'MEMBER') FROM peerpath._affiliates "
                                  "ORDER BY id").fetchall()
        member = {affiliate: may for affiliate, may in rows}
        user = connection.execute("SELECT current_user").fetchone()[0]
        if asked is None and not member and register:
            asked = FIRST_AFFILIATE
        if asked is not None:
            if asked not in member and register:
                self.register(connection, asked, asked)
            elif asked not in member:
                raise StoreError(f"{self.path} holds no affiliate '{asked}' (see 'peerpath affiliate list')")
            elif not member[asked]:
                raise StoreError(f"the role {user} may not act for the affiliate '{asked}' of {self.path}: its "
                                 f"owner can GRANT {AFFILIATE_ROLE}{asked} TO {user}")
            return self._act(connection, asked)
        mine = [affiliate for affiliate, may in member.items() if may]
        if len(mine) == 1:
            return self._act(connection, mine[0])
        if not mine:
            raise StoreError(f"the role {user} acts for no affiliate of {self.path}: its owner can GRANT "
                             f"{AFFILIATE_ROLE}<id> TO {user} (see 'peerpath affiliate list')")
        raise StoreError(f"the role {user} may act for several affiliates of {self.path} ({', '.join(mine)}): name "
                         "one with ?affiliate=ID in the URL or PEERPATH_AFFILIATE")

    def register(self, connection, affiliate: str, name: str) -> None:
        """A new affiliate: its role (NOLOGIN, with the coordinators' table rights), of which the
        role registering it becomes a member, and its row in _affiliates."""
        role = AFFILIATE_ROLE + check_affiliate_id(affiliate)
        _ensure_role(connection, role)
        connection.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(COORDINATORS), sql.Identifier(role)))
        _join(connection, role)
        connection.execute("INSERT INTO peerpath._affiliates VALUES (%s, %s, %s)", (affiliate, name, role))

    def add_affiliate(self, affiliate: str, name: str) -> str:
        """Register a new affiliate (refused if the id is taken); the URL acting for it."""
        with self._connected(writing=True) as connection:
            self._lock(connection, alone=True)
            if self._checked_version(connection, missing_ok=True) is None:
                _create_schema(connection)
            if connection.execute("SELECT 1 FROM peerpath._affiliates WHERE id = %s", (affiliate,)).fetchone():
                raise StoreError(f"{self.path} already holds the affiliate '{affiliate}'")
            self.register(connection, affiliate, name)
            connection.commit()
        return with_affiliate(self.location, affiliate)

    def affiliates(self) -> list:
        """[(id, name, role, whether this connection's role is a member of it)] of the database."""
        with self._connected(writing=False) as connection:
            self._checked_version(connection)
            return connection.execute("SELECT id, name, role, pg_has_role(current_user, role, 'MEMBER') "
                                      "FROM peerpath._affiliates ORDER BY id").fetchall()

    # -- the Storage interface -----------------------------------------------------------------

    def exists(self) -> bool:
        """Whether the database holds the affiliate acted for (one the URL names but the database
        does not hold is not there yet: `init` makes it)."""
        with self._connected(writing=False) as connection:
            version = self._version(connection)
            if version is None or version < SCHEMA_VERSION:
                return version is not None
            if self.asked_affiliate and not connection.execute(
                    "SELECT 1 FROM peerpath._affiliates WHERE id = %s", (self.asked_affiliate,)).fetchone():
                return False
            affiliate = self._acting(connection)
            return connection.execute("SELECT 1 FROM peerpath._meta WHERE affiliate = %s", (affiliate,)).fetchone() \
                is not None

    @contextlib.contextmanager
    def read(self, missing_ok: bool = False):
        with self._connected(writing=False) as connection:
            present = self._checked_version(connection, missing_ok) is not None
            affiliate = self._acting(connection) if present else self._act(connection, FIRST_AFFILIATE)
            transaction = Transaction(self, connection, writable=False, affiliate=affiliate, present=present)
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
            self._lock(connection, alone=self._version(connection) is None)
            if self._checked_version(connection, missing_ok=create) is None:
                _create_schema(connection)
            affiliate = self._acting(connection, register=create)
            self._lock_affiliate(connection, affiliate)
            transaction = Transaction(self, connection, writable=True, affiliate=affiliate)
            try:
                yield transaction
            except UnreadableDocument as error:
                raise transaction.unreadable(error) from None
            transaction._commit()

    def upgrade(self) -> tuple:
        """Create the schema, or bring an older one to SCHEMA_VERSION; (version before, after).
        A newer schema than this peerpath knows is refused, untouched."""
        with self._connected(writing=True) as connection:
            self._lock(connection, alone=True)
            before = version = self._version(connection)
            if version is not None and version > SCHEMA_VERSION:
                self._checked_version(connection)
            # A new schema is made for, and an older one's rows become, the affiliate named, else FIRST_AFFILIATE.
            affiliate = self._act(connection, check_affiliate_id(self.asked_affiliate or FIRST_AFFILIATE))
            if version is None:
                _create_schema(connection)
                self.register(connection, affiliate, affiliate)
            while version is not None and version < SCHEMA_VERSION:
                MIGRATIONS[version](connection)
                version += 1
                connection.execute("UPDATE peerpath._schema_version SET version = %s", (version,))
            if before is not None and before < 2:
                name = connection.execute("SELECT doc->>'affiliate' FROM peerpath._meta").fetchone()
                self.register(connection, affiliate, (name and name[0]) or affiliate)
            connection.commit()
        return before, SCHEMA_VERSION

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
