"""The base of Tracker: one affiliate database, the plugins enabled for it, who is acting and on what date.

Every change goes through `Tracker.changing()`: one locked read-modify-write, in which each
stored entity is first shown to the `validate_change` hooks and recorded in the audit trail;
lifecycle hooks fire only after the commit, so a plugin can never see a change that was lost.
"""

import contextlib
import datetime as dt
import functools
import json
import os
from typing import Optional

from . import merged, summaries
from .catalog import build_catalog
from .entities import Certification, Change, Enrollment, Event, Observation, Offering, Outreach, Peer, Problem
from .entities import SessionRecord, StepRecord, check_text
from .errors import NotFound, PluginError, ValidationError
from .merged import merged_into, merged_record, merged_refusal
from .plugins import PluginHost, get_host
from .serialize import from_document, shape_problem, to_document
from .session import Session
from .storage import Storage, Transaction, open_store


def _activity_problem(row) -> str:
    from .activity import Activity  # imported by a write that loads activities, not by every command

    return shape_problem(Activity, row)


# What a write checks of every row of these tables it loads, so as never to carry a damaged one on.
ROW_CHECKS = {table: functools.partial(shape_problem, cls) for table, cls in {
    "peers": Peer, "enrollments": Enrollment, "step_records": StepRecord, "certifications": Certification,
    "offerings": Offering, "sessions": SessionRecord, "observations": Observation, "outreach": Outreach,
}.items()} | {summaries.TABLE: summaries.row_problem, summaries.HEADS: summaries.head_row_problem,
              merged.MERGED: merged.row_problem,
              "activities": _activity_problem}


def resolve_actor(actor=None) -> str:
    """`--as`, else PEERPATH_USER, else the OS user; one line of text (see `check_text`)."""
    if actor:
        check_text("--as", actor)
        return actor
    if os.environ.get("PEERPATH_USER"):
        check_text("PEERPATH_USER", os.environ["PEERPATH_USER"])
        return os.environ["PEERPATH_USER"]
    import getpass  # only here: PEERPATH_USER or --as usually say who it is

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def today_given(today=None):
    """`--today`, else PEERPATH_TODAY (None: the real date); every date-dependent answer uses it."""
    return today or os.environ.get("PEERPATH_TODAY") or None


class TrackerBase:
    """Transactions, plugins, validation and the audit trail, on the tracker's `Session`."""

    def __init__(self, db=None, actor=None, host=None):
        self.session = Session(store=open_store(db, row_checks=ROW_CHECKS), actor=resolve_actor(actor),
                               host=host or get_host())

    # The session's state that callers of Tracker read (and, for the date and actor, set).
    @property
    def store(self) -> Storage:
        return self.session.store

    @property
    def host(self) -> PluginHost:
        return self.session.host

    @property
    def warnings(self) -> list[str]:
        return self.session.warnings

    @property
    def date_notes(self) -> list[str]:
        return self.session.date_notes

    @property
    def actor(self) -> str:
        return self.session.actor

    @actor.setter
    def actor(self, actor: str) -> None:
        self.session.actor = actor

    @property
    def today(self) -> dt.date:
        return self.session.today

    @today.setter
    def today(self, today: dt.date) -> None:
        self.session.today = today

    # -- transactions ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self, missing_ok: bool = False):
        """A consistent read-only view for the length of the block (inside a command: of the
        command, see begin_command)."""
        if self.session.tx is not None:
            yield self.session.tx
            return
        # exists() is asked only when the database may be missing: on PostgreSQL it is a connection of its own.
        if self.session.command is not None and (not missing_ok or self.store.exists()):
            self.session.tx = self.session.command.enter_context(self._read())
            yield self.session.tx
            return
        with self._read(missing_ok) as tx:
            yield tx

    @contextlib.contextmanager
    def _read(self, missing_ok: bool = False):
        with self.store.read(missing_ok=missing_ok) as tx:
            self.session.tx = tx
            try:
                yield tx
            finally:
                self.session.tx = None

    @contextlib.contextmanager
    def changing(self, create: bool = False, recover: bool = False, restore=None, force: bool = False):
        """One atomic change; lifecycle hooks fire after it is committed (`restore`, a Store:
        the change starts from that backup's data, see Store.write). Inside a command (see
        begin_command) the change is the command's, committed when the command ends."""
        if self.session.tx is not None and self.session.tx.writable:
            yield self.session.tx
            return
        if self.session.scratching:
            raise RuntimeError("a what-if writes nothing: no change can start inside it")
        if self.session.command is not None:
            self.release()  # a read came first: the change reads everything again, under its own lock
            self.session.tx = self.session.command.enter_context(self._change(create, recover, restore, force))
            yield self.session.tx
            return
        with self._change(create, recover, restore, force) as tx:
            yield tx

    @contextlib.contextmanager
    def _change(self, create, recover, restore, force):
        self.session.pending = []
        shown = len(self.warnings)
        try:
            with self.store.write(create=create, recover=recover, restore=restore, force=force) as tx:
                self.session.tx = tx
                yield tx
                # Asked while the change is still open: the hooks below need no read of their own.
                enabled = self.enabled_plugins() if self.session.pending else set()
        except BaseException:
            del self.warnings[shown:]  # validation warnings about a change that was not stored
            raise
        finally:
            self.session.tx = None
            pending, self.session.pending = self.session.pending, None
        for hook, kwargs in pending:
            self._notify(hook, enabled, **kwargs)

    # -- one command, one transaction --------------------------------------------------------------

    def begin_command(self) -> None:
        """From now until end_command, every reading() and changing() shares one transaction, so
        a command takes the lock once, parses the manifest once and reads each table at most
        once. The first of them opens it; it stays open until the command ends (a read that a
        change follows is given up for the change's exclusive lock)."""
        self.session.command = contextlib.ExitStack()

    def end_command(self, error: Optional[BaseException] = None) -> None:
        """Commit the command's change (or, after `error`, discard it), then fire its hooks."""
        stack, self.session.command = self.session.command, None
        if stack is None:
            return
        if error is None:
            stack.close()
        else:  # the error goes on to whoever reports it
            stack.__exit__(type(error), error, error.__traceback__)

    def release(self) -> None:
        """Give up the command's read-only transaction, e.g. before waiting for a person to
        answer (a read lock held while someone types would hold up every writer)."""
        if self.session.command is not None and self.session.tx is not None and not self.session.tx.writable:
            stack, self.session.command = self.session.command, contextlib.ExitStack()
            stack.close()

    def _notify(self, hook: str, enabled, **kwargs) -> None:
        errors: list = []
        self.host.call(hook, enabled, errors=errors, tracker=self, **kwargs)
        self.warnings.extend(f"{error} (the change itself was saved)" for error in errors)

    def fire(self, hook: str, **kwargs) -> None:
        """Queue a lifecycle hook for after the current change commits."""
        if self.session.pending is None:
            raise RuntimeError("no open change: a lifecycle hook fires only inside tracker.changing()")
        self.session.pending.append((hook, kwargs))

    @property
    def tx(self) -> Transaction:
        if self.session.tx is None:
            raise RuntimeError("no open transaction: use tracker.reading() or tracker.changing()")
        return self.session.tx

    # -- plugins and catalog ---------------------------------------------------------------------

    def enabled_plugins(self) -> set:
        """Loaded plugins not disabled in this database (core plugins are always enabled)."""
        with self.reading(missing_ok=True) as tx:
            disabled = set(tx.meta.get("disabled_plugins", ()))
        return (self.host.names() - disabled) | self.host.core_names()

    def set_plugin_enabled(self, name: str, enabled: bool) -> None:
        known = {info.name: info for info in self.host.infos()}
        if name not in known:
            raise ValidationError(
                f"unknown plugin '{name}': installed are {', '.join(sorted(known)) or 'none'}"
            )
        if known[name].core:
            raise ValidationError(f"'{name}' is part of peerpath's core and cannot be disabled")
        with self.changing() as tx:
            disabled = set(tx.meta.get("disabled_plugins", ()))
            was_enabled = name not in disabled
            if was_enabled == enabled:
                return
            (disabled.discard if enabled else disabled.add)(name)
            tx.meta["disabled_plugins"] = sorted(disabled)
            self.audit_event("enable" if enabled else "disable", "plugin", name,
                             details={"changes": {"enabled": {"old": was_enabled, "new": enabled}}})

    def overrides(self) -> dict:
        with self.reading(missing_ok=True) as tx:
            return dict(tx.meta.get("config", {}))

    @property
    def catalog(self):
        """Programs, step kinds, checklists and reports of the enabled plugins, overrides applied."""
        enabled = self.enabled_plugins()
        overrides = self.overrides()
        cache_key = (frozenset(enabled), json.dumps(overrides, sort_keys=True))
        if cache_key not in self.session.catalogs:
            self.session.catalogs = {cache_key: build_catalog(self.host, enabled, overrides)}
        return self.session.catalogs[cache_key]

    def plugin_problems(self) -> tuple:
        return self.catalog.problems

    # -- dates -----------------------------------------------------------------------------------

    def check_not_future(self, *days) -> None:
        """Refuse a date after today: what has not happened yet is planned (offerings, trainings),
        not a fact to record."""
        for day in days:
            if day is not None and day > self.today:
                raise ValidationError(f"{day} is in the future (today is {self.today})")

    # -- storing entities ------------------------------------------------------------------------

    def validate(self, action: str, entity, before=None) -> None:
        """Ask `validate_change` hooks; an error Problem (or a failing hook) refuses the change."""
        change = Change(action=action, entity=entity, before=before, actor=self.actor)
        answers = self.host.call(
            "validate_change", self.enabled_plugins(), change=change, tracker=self
        )
        for plugin, answer in answers:
            for problem in answer if isinstance(answer, (list, tuple)) else [answer]:
                if not isinstance(problem, Problem):
                    raise PluginError(plugin, "validate_change", TypeError("must return Problem"))
                if problem.level == "error":
                    raise ValidationError(f"refused by plugin '{plugin}': {problem.message}")
                self.warnings.append(f"plugin '{plugin}': {problem.message}")

    def store_new(self, table: str, entity, action: str, peer_id=None, details=None) -> None:
        """Validate, insert and audit a new entity inside the current change."""
        self.validate(action, entity)
        self.tx.insert(table, to_document(entity))
        self.audit_event(action, table, entity.id, peer_id=peer_id, details=details)

    def store_many(self, table: str, entities, action: str, peer_id_of=None) -> None:
        """Validate, insert and audit many entities with one table write."""
        for entity in entities:
            self.validate(action, entity)
        self.tx.insert_many(table, [to_document(entity) for entity in entities])
        for entity in entities:
            peer_id = peer_id_of(entity) if peer_id_of else None
            self.audit_event(action, table, entity.id, peer_id=peer_id)

    def store_changed(self, table: str, before, after, action: str, peer_id=None, details=None):
        """Validate, replace and audit a changed entity; the event records the old and new value
        of every field that changed (`changes`), so no edit loses what was there."""
        self.validate(action, after, before=before)
        document = to_document(after)
        self.tx.replace(table, document)
        self.audit_event(action, table, after.id, peer_id=peer_id,
                         details={"changes": changes_between(to_document(before), document), **(details or {})})

    def store_removed(self, table: str, entity, action: str, peer_id=None, details=None) -> None:
        """Validate, remove and audit a stored entity (e.g. a certification the rules no longer grant);
        the event records every field's old value."""
        self.validate(action, entity, before=entity)
        document = to_document(entity)
        self.tx.remove(table, document)
        self.audit_event(action, table, entity.id, peer_id=peer_id,
                         details={"changes": changes_between(document, {}), **(details or {})})

    def load(self, table: str, cls, record_id: str, what: str):
        """The entity `record_id` of `table`, or a NotFound naming the unknown id."""
        document = self.tx.get(table, record_id)
        if document is None:
            refusal = merged_refusal(self.tx, record_id) if table == "peers" else None
            raise NotFound(refusal or f"unknown {what} '{record_id}'")
        return from_document(cls, document)

    def load_all(self, table: str, cls, **equal) -> list:
        documents = self.tx.search(table, **equal) if equal else self.tx.all(table)
        return [from_document(cls, document) for document in documents]

    def audit_event(self, action, entity, entity_id=None, peer_id=None, details=None) -> None:
        event = Event(
            at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0),
            actor=self.actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            peer_id=peer_id,
            details=details or {},
        )
        self.tx.append_event(to_document(event))

    def audit(self, peer_id=None) -> list:
        """The audit trail, oldest first; only events about `peer_id` when given."""
        with self.reading() as tx:
            if peer_id is not None and tx.get("peers", peer_id) is None and merged_record(tx, peer_id) is None:
                raise ValidationError(f"unknown peer '{peer_id}'")
            events = [from_document(Event, doc) for doc in tx.events()]
            # A peer's history includes that of the peers merged into it; a merged peer's, its merge.
            peer_ids = {peer_id} | merged_into(tx, peer_id) if peer_id is not None else set()
        if peer_id is not None:
            events = [event for event in events if event.peer_id in peer_ids
                      or (event.action == "merge" and event.entity_id == peer_id)]
        return events

    # -- database lifecycle ----------------------------------------------------------------------

    def init(self, affiliate=None) -> bool:
        """Create the database if it does not exist (naming the affiliate); True if created."""
        created = not self.store.exists()
        if not created and affiliate is None:
            with self.reading():
                return False  # opening it checks that it is a readable peerpath database
        with self.changing(create=True) as tx:
            if created:
                tx.meta["created"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
                self.audit_event("create", "database", str(self.store.path))
            if affiliate is not None and affiliate.strip() and tx.meta.get("affiliate") != affiliate.strip():
                tx.meta["affiliate"] = affiliate.strip()
                self.audit_event("name", "database", affiliate.strip())
        return created

    def recover(self):
        """Rebuild a lost manifest from the database's folder (tables, audit log, the settings the
        audit trail recorded); a `Recovery` says what was found and what was skipped."""
        with self.changing(recover=True) as tx:
            recovery = tx.recovery
            events = tx.events()
            recovery.settings = _replay_settings(tx.meta, events)
            self.audit_event("recover", "database", str(self.store.path), details={
                "tables": len(recovery.tables), "generation": recovery.generation,
                "events": recovery.events, "skipped": list(recovery.skipped),
            })
        return recovery


# Bookkeeping that changes with every edit, not worth an old and a new value in each event.
UNAUDITED_FIELDS = {"updated"}


def changes_between(old: dict, new: dict) -> dict:
    """{field: {"old": value, "new": value}} of the fields that differ between two documents."""
    return {field: {"old": old.get(field), "new": new.get(field)}
            for field in sorted(set(old) | set(new))
            if field not in UNAUDITED_FIELDS and old.get(field) != new.get(field)}


# How each audited change of a setting kept in the manifest is replayed onto recovered settings.
def _set_created(meta, event):
    meta["created"] = event["at"]


def _set_affiliate(meta, event):
    meta["affiliate"] = event["entity_id"]


def _set_override(meta, event):
    meta.setdefault("config", {})[event["entity_id"]] = event["details"]["value"]


def _drop_override(meta, event):
    meta.setdefault("config", {}).pop(event["entity_id"], None)


def _set_plugin(meta, event):
    disabled = set(meta.get("disabled_plugins", ())) - {event["entity_id"]}
    meta["disabled_plugins"] = sorted(disabled | ({event["entity_id"]} if event["action"] == "disable" else set()))


def _set_underserved(meta, event):
    name = event["entity_id"]
    marked = [c for c in meta.get("underserved", ()) if c.lower() != name.lower()]
    meta["underserved"] = sorted(marked + ([name] if event["action"] == "underserved" else []))


def _set_value_mapping(meta, event):
    details = event["details"]
    meta.setdefault("value_map", {}).setdefault(details["field"], {})[details["text"]] = details["value"]


SETTING_EVENTS = {
    ("create", "database"): ("created", _set_created),
    ("name", "database"): ("affiliate", _set_affiliate),
    ("configure", "config"): ("config", _set_override),
    ("unconfigure", "config"): ("config", _drop_override),
    ("enable", "plugin"): ("disabled_plugins", _set_plugin),
    ("disable", "plugin"): ("disabled_plugins", _set_plugin),
    ("underserved", "community"): ("underserved", _set_underserved),
    ("served", "community"): ("underserved", _set_underserved),
    ("map", "value map"): ("value_map", _set_value_mapping),  # peer import's remembered values
}


def _replay_settings(meta: dict, events) -> list:
    """Rebuild in `meta` the settings the audit trail recorded; the names of those it set."""
    restored = []
    for event in events:
        setting, apply = SETTING_EVENTS.get((event.get("action"), event.get("entity")), (None, None))
        if apply is None:
            continue
        try:
            apply(meta, event)
        except (KeyError, TypeError, AttributeError):
            continue  # an event of an unexpected shape is skipped, not a failed recovery
        if setting not in restored:
            restored.append(setting)
    return restored
