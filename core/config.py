"""Affiliate overrides of plugin defaults, stored per database.

Every number a program plugin declares can be overridden under a dotted key:

    PATHWAY.STEP.PARAM        e.g. crss.exam.pass_mark, peer_to_peer.online_course.lead_days
    PATHWAY.validity_days     e.g. crss.validity_days
    PATHWAY.renewal.PARAM     e.g. crss.renewal.hours
    PROGRAM.format.KEY        e.g. connection.format.observation_interval_days
    PROGRAM.leader.KEY        e.g. connection.leader.min_age
    PROGRAM.fidelity.KEY      e.g. connection.fidelity.support_within_days

plus the few settings of core's own reports and lists (CORE_SETTINGS).
"""

import contextlib
import math
from typing import Any, Optional

import attrs

from .dates import DATE_ORDERS, MONTH_FIRST, ORDER_SETTING
from .entities import check_text
from .errors import ValidationError
from .session import Service
from .step_kinds import NO_DEFAULT


# Defaults of core's reports, lists and date reading; program facts never belong here (they are
# plugin defaults).
CORE_SETTINGS = {
    ORDER_SETTING: MONTH_FIRST,
    "recruitment.followup_days": 14,
    # A trainee with nothing recorded for this many days shows in the digest as stalled.
    "digest.stalled_days": 60,
    "reports.expiring_days": 60,
    "rollup.suppress_below": 5,
    # Days a prospect who never went further is kept before `sweep` erases them; None: kept.
    "privacy.retain_prospects_days": None,
    # Sending digests (`digest --send`, core.mailing): the SMTP server, how to reach it, who the
    # mail is from and who gets the coordinator's and trainer's digests. No server: nothing is sent.
    "mail.host": None,
    "mail.port": None,  # None: the port of mail.security, 587 (starttls), 465 (ssl) or 25 (none)
    "mail.security": "starttls",
    # The certificate bundle (PEM) the server's certificate must verify against, e.g. a private
    # CA's; None: the system's trusted authorities. Verification is never turned off.
    "mail.ca_file": None,
    "mail.user": None,
    "mail.password_file": None,  # or PEERPATH_SMTP_PASSWORD; the password is never stored here
    "mail.sender": None,
    "mail.coordinator_to": None,
    "mail.trainer_to": None,
    "mail.resend_days": 7,  # the same reminder is not sent to the same person again within these days
    # `report equity`: the communities and languages the affiliate serves (lists; nobody but the
    # affiliate knows them, so no default), and the fewest active leaders from a community (or
    # speaking a language) served below which it shows as under-served (peerpath's own figure).
    "equity.communities": None,
    "equity.languages": None,
    "equity.min_leaders": 1,
}
# Core settings that take one of a few words rather than a number.
CORE_CHOICES = {ORDER_SETTING: DATE_ORDERS, "mail.security": ("starttls", "ssl", "none")}
# Core settings that are one line of text (a host name, an address, a path).
CORE_TEXT = {"mail.host", "mail.user", "mail.password_file", "mail.ca_file", "mail.sender", "mail.coordinator_to",
             "mail.trainer_to"}
# Core settings whose numbers have bounds of their own (smallest, largest).
CORE_BOUNDS = {"mail.port": (1, 65_535)}
# Core settings that are a list of names, set as one comma-separated text ("Cicero, Maywood").
CORE_LISTS = {"equity.communities", "equity.languages"}


# Bounds that keep every date computed from a setting inside the calendar and every amount sane.
LONGEST_DAYS = 36_500
LARGEST_AMOUNT = 1_000_000
# Step parameters counting what a step needs (training days, sessions led): zero would leave the
# step without a day on which it was completed.
AT_LEAST_ONE = {"days", "min", "good_streak"}


def _scalar(value) -> bool:
    """An overridable default: a number or yes/no, or None for an optional number of days
    (text defaults name other steps, checklists or units: they are structure, not settings)."""
    return value is None or isinstance(value, (bool, int, float))


def _step_settings(prefix, step):
    for param, value in step.params.items():
        if _scalar(value):
            yield f"{prefix}.{param}", value
        elif isinstance(value, dict):
            for sub, subvalue in value.items():
                yield f"{prefix}.{param}.{sub}", subvalue


def defaults(programs: dict) -> dict:
    """Every overridable setting: core's, then the given programs' (values as given)."""
    settings = dict(CORE_SETTINGS)
    for program in programs.values():
        settings.update(program_settings(program))
    return settings


def program_settings(program) -> dict:
    """The overridable settings of one program, {key: value as given}."""
    settings = {}
    for key, value in program.format.items():
        if _scalar(value):
            settings[f"{program.key}.format.{key}"] = value
    for key, value in program.leader_requirements.items():
        if _scalar(value):
            settings[f"{program.key}.leader.{key}"] = value
    for key, value in program.fidelity.items():
        if _scalar(value):
            settings[f"{program.key}.fidelity.{key}"] = value
    for pathway in program.pathways:
        settings[f"{pathway.key}.validity_days"] = pathway.validity_days
        for step in pathway.steps:
            settings.update(_step_settings(f"{pathway.key}.{step.key}", step))
        if pathway.renewal is not None:
            settings.update(_step_settings(f"{pathway.key}.renewal", pathway.renewal))
    return settings


# Settings for which None is a plain "no limit" (no expiry, no window), never a missing figure.
NO_LIMIT = ("validity_days", "window_days")


def _unset(key: str, value) -> bool:
    return value is None and key.rsplit(".", 1)[-1] not in NO_LIMIT


def uncited_unset(program) -> list:
    """The settings of `program` a plugin leaves without a default and without a citation:
    figures nobody publishes, which grant nothing until the affiliate sets them."""
    return [key for key, value in program_settings(program).items()
            if _unset(key, value) and key not in program.sources]


def rule_sources(program, declared, overrides: dict) -> dict:
    """{key: where the rule comes from} for every setting of `program` and every rule its plugin
    cites (`ProgramModel.sources`, e.g. PATHWAY.STEP): the citation, what the affiliate set, or
    NO_DEFAULT. `declared` is the program with its plugin defaults."""
    found = {}
    for key, default in program_settings(declared).items():
        cited = program.sources.get(key)
        if key in overrides:
            found[key] = f"set by the affiliate (plugin default {_shown(default)}" + (f": {cited})" if cited else ")")
        elif cited:
            found[key] = cited
        elif _unset(key, default) and ".fidelity." in key:
            found[key] = f"{NO_DEFAULT}: changes nothing until set (the observation interval applies)"
        elif _unset(key, default):
            found[key] = f"{NO_DEFAULT}: grants nothing until set"
        elif default is None:
            found[key] = "no limit (plugin default)"
        else:
            found[key] = "plugin default, no source given"
    return {**program.sources, **found}


def coerce(key: str, text: str, current):
    """Parse `text` as the type of the default `current`."""
    if key in CORE_CHOICES:
        return _choice(key, text)
    if key in CORE_TEXT:
        check_text(key, text)
        return text.strip() or None
    if key in CORE_LISTS:
        return _names(key, text)
    try:
        if isinstance(current, bool):
            if text.lower() in ("true", "yes", "1"):
                return True
            if text.lower() in ("false", "no", "0"):
                return False
            raise ValueError
        if isinstance(current, int):
            return int(text)
        if isinstance(current, float):
            return float(text)
        if text.strip().lower() in ("", "none", "null"):
            return None  # a setting without a default is an optional whole number
        return int(text)
    except ValueError:
        kind = {bool: "yes or no", float: "a number"}.get(type(current), "a whole number")
        raise ValidationError(f"{key} must be {kind}, not '{text}'") from None


def _names(key: str, text: str):
    """A comma-separated list of names, each one line of text, repeats left out; None if empty."""
    check_text(key, text, limit=10_000)
    if text.strip().lower() in ("", "none"):
        return None
    names, seen = [], set()
    for name in (" ".join(part.split()) for part in text.split(",")):
        if not name:
            raise ValidationError(f"{key} has an empty name in '{text}': separate names with one comma")
        check_text(f"a name in {key}", name)
        if name.lower() not in seen:
            seen.add(name.lower())
            names.append(name)
    return names


def _choice(key: str, text: str) -> str:
    word = text.strip().lower()
    if word not in CORE_CHOICES[key]:
        raise ValidationError(f"{key} must be one of {', '.join(CORE_CHOICES[key])}, not '{text}'")
    return word


def check_range(key: str, value) -> None:
    """Refuse a number no real affiliate means: negative, not finite, or beyond the bounds."""
    if value is None or isinstance(value, (bool, str, list)):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"{key} must be a finite number, not '{value}'")
    smallest = 1 if key.rsplit(".", 1)[-1] in AT_LEAST_ONE else 0
    largest = LONGEST_DAYS if key.endswith("days") else 100 if key.endswith("_percent") else LARGEST_AMOUNT
    smallest, largest = CORE_BOUNDS.get(key, (smallest, largest))
    if not smallest <= value <= largest:
        raise ValidationError(f"{key} must be between {smallest} and {largest:,}, not {value}")


def check_setting(programs: dict, key: str, text: str):
    """The typed value for `key`, or a ValidationError naming the problem."""
    known = defaults(programs)
    if key not in known:
        close = [k for k in known if k.split(".")[0] == key.split(".")[0]]
        hint = f"; settings of '{key.split('.')[0]}': {', '.join(sorted(close))}" if close else ""
        raise ValidationError(f"unknown setting '{key}'{hint}")
    value = coerce(key, text, known[key])
    check_range(key, value)
    return value


def _override_params(step, prefix: str, overrides: dict):
    params = dict(step.params)
    for param, value in step.params.items():
        key = f"{prefix}.{param}"
        if key in overrides:
            params[param] = overrides[key]
        elif isinstance(value, dict):
            params[param] = {
                sub: overrides.get(f"{key}.{sub}", subvalue) for sub, subvalue in value.items()
            }
    return attrs.evolve(step, params=params)


def _override_pathway(pathway, overrides: dict):
    steps = [_override_params(step, f"{pathway.key}.{step.key}", overrides) for step in pathway.steps]
    renewal = pathway.renewal
    if renewal is not None:
        renewal = _override_params(renewal, f"{pathway.key}.renewal", overrides)
    return attrs.evolve(
        pathway,
        steps=steps,
        renewal=renewal,
        validity_days=overrides.get(f"{pathway.key}.validity_days", pathway.validity_days),
    )


def apply_overrides(programs: dict, overrides: dict) -> dict:
    """Programs with the affiliate's overrides in force."""
    if not overrides:
        return dict(programs)
    result = {}
    for key, program in programs.items():
        result[key] = attrs.evolve(
            program,
            format={k: overrides.get(f"{key}.format.{k}", v) for k, v in program.format.items()},
            leader_requirements={
                k: overrides.get(f"{key}.leader.{k}", v) for k, v in program.leader_requirements.items()
            },
            fidelity={k: overrides.get(f"{key}.fidelity.{k}", v) for k, v in program.fidelity.items()},
            pathways=[_override_pathway(pathway, overrides) for pathway in program.pathways],
        )
    return result


@attrs.frozen
class Outcome:
    """One thing a setting would change: a leader's status, expiry or observation due date
    (`role` is empty for an observation, which is per program); None where there is none."""

    peer: str
    name: str
    program: str
    role: str
    what: str
    before: Optional[str]
    after: Optional[str]


@attrs.frozen
class WhatIf:
    """What setting `key` to `value` would change (`Tracker.what_if`); nothing is written."""

    key: str
    value: object
    changes: tuple


class Config(Service):
    """`peerpath config`: the affiliate's overrides, kept in the database (a Tracker service)."""

    def settings(self) -> list:
        """(key, plugin default, value in force) for every overridable setting."""
        overrides = self.tracker.overrides()
        return [(key, value, overrides.get(key, value))
                for key, value in sorted(defaults(self._programs_as_declared()).items())]

    def _programs_as_declared(self) -> dict:
        """The enabled programs with the plugins' own defaults (no overrides applied)."""
        from .catalog import build_catalog

        return build_catalog(self.tracker.host, self.tracker.enabled_plugins(), None).programs

    def rule_sources(self, program_key: str) -> dict:
        """Where each rule of an enabled program comes from (see `rule_sources`)."""
        program = self.tracker.catalog.program(program_key)
        return rule_sources(program, self._programs_as_declared()[program.key], self.tracker.overrides())

    def core_setting(self, key: str):
        return self.tracker.overrides().get(key, CORE_SETTINGS[key])

    def set_setting(self, key: str, text: str):
        """Override a setting; the enrolments whose pathway it changes are re-judged in the same change."""
        with self.tracker.changing() as tx:  # first: the plugins enabled are read under the change's own lock
            return self._put_setting(tx, key, text)

    def _put_setting(self, tx, key: str, text: str):
        value = check_setting(self._programs_as_declared(), key, text)  # typed by the default
        rules = self.tracker.rules_in_force()
        config = dict(tx.meta.get("config", {}))
        before = self._in_force(key, config)
        config[key] = value
        tx.meta["config"] = config
        self.tracker.audit_event("configure", "config", key,
                         details={"value": value, "changes": {key: {"old": before, "new": value}}})
        self.tracker.rejudge(rules, _changed(key, before, value))
        return value

    def what_if(self, key: str, text: str) -> "WhatIf":
        """What `set_setting(key, text)` would change, without writing anything: every leader's
        status and expiry and every observation due date, before and after the setting is applied
        and the enrolments re-judged exactly as `set_setting` does, in a read-only transaction
        whose changes stay in memory and are thrown away (no commit, no lifecycle hook)."""
        with self._scratch() as tx:
            before = self._outlook()
            value = self._put_setting(tx, key, text)
            after = self._outlook()
        changes = [Outcome(*k, before=before.get(k), after=after.get(k))
                   for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
        return WhatIf(key=key, value=value, changes=tuple(changes))

    def report_what_if(self, assignments, name, **options):
        """Report `name` (`Tracker.report`'s options) as if each of `assignments`, KEY=VALUE
        texts, were set: the settings applied, and the enrolments re-judged, exactly as
        `set_setting` does, in a read-only transaction whose changes stay in memory and are
        thrown away. The result's `what_if` holds the values assumed."""
        settings = parse_assignments(assignments)
        if options.get("files"):
            raise ValidationError("--what-if asks about this database, not rollup files: drop --merge or --what-if")
        with self._scratch() as tx:
            values = {key: self._put_setting(tx, key, text) for key, text in settings.items()}
            result = self.tracker.report(name, **options)
        return attrs.evolve(result, what_if=values)

    @contextlib.contextmanager
    def _scratch(self):
        """A read-only transaction of the tracker's own to change in memory: it is never committed,
        and the lifecycle hooks its changes queue are dropped."""
        self.tracker.release()  # a command's earlier read: the scratch copy must be a private one
        session = self.tracker.session
        if session.tx is not None:
            raise RuntimeError("a what-if cannot run inside another transaction")
        pending, session.pending = session.pending, []
        session.scratching = True
        try:
            with session.store.read() as tx:
                session.tx = tx
                yield tx
        finally:
            session.tx, session.pending, session.scratching = None, pending, False

    def _outlook(self) -> dict[tuple[str, str, str, str, str], Any]:
        """{(peer, name, program, role, what): value} for what a setting can move: each leader's
        status and certification expiry, and each observation due date."""
        found = {}
        for status in self.tracker.leaders():
            where = (status.peer.id, status.peer.name, status.program.key, status.enrollment.role)
            found[(*where, "status")] = status.status
            expires = status.certification.expires if status.certification else None
            found[(*where, "expires")] = expires.isoformat() if expires else None
        names = {}
        for due in self.tracker.observation_schedule():
            if due["peer"] not in names:
                names[due["peer"]] = self.tracker.peer(due["peer"]).name
            found[(due["peer"], names[due["peer"]], due["program"], "", "observation due")] = due["due"]
        return found

    def unset_setting(self, key: str) -> None:
        """Go back to the plugin default; affected enrolments are re-judged in the same change."""
        with self.tracker.changing() as tx:
            config = dict(tx.meta.get("config", {}))
            if key not in config:
                raise ValidationError(f"'{key}' is not overridden")
            rules = self.tracker.rules_in_force()
            before = config.pop(key)
            tx.meta["config"] = config
            after = self._in_force(key, config)
            self.tracker.audit_event("unconfigure", "config", key,
                                     details={"changes": {key: {"old": before, "new": after}}})
            self.tracker.rejudge(rules, _changed(key, before, after))

    def _in_force(self, key: str, config: dict):
        if key in config:
            return config[key]
        return defaults(self._programs_as_declared()).get(key)


def parse_assignments(items) -> dict:
    """{KEY: VALUE text} from `KEY=VALUE` strings (`report --what-if`), each key once."""
    settings = {}
    for item in items:
        key, equals, text = str(item).partition("=")
        key = key.strip()
        if not equals or not key:
            raise ValidationError(f"--what-if '{item}': use KEY=VALUE, e.g. --what-if peer_to_peer.validity_days=365")
        if key in settings:
            raise ValidationError(f"--what-if gives {key} twice")
        settings[key] = text.strip()
    if not settings:
        raise ValidationError("--what-if needs KEY=VALUE")
    return settings


def _changed(key: str, before, after) -> str:
    """Why re-judged transitions happened, for the audit trail."""
    return f"setting {key} changed {_shown(before)} -> {_shown(after)}"


def _shown(value) -> str:
    return "none" if value is None else str(value)
