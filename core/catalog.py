"""What the enabled plugins provide: programs, step kinds, checklists and reports.

Plugins hand objects to a `register` callback; core checks their type and that keys are unique,
and applies the affiliate's configured overrides to program defaults. A plugin whose provider
hook fails is left out and reported; the others still load.
"""

from typing import Callable, Optional

import attrs

from .entities import Checklist, ProgramModel
from .errors import PeerpathError, PluginError, ValidationError
from .progress import StepProgress


@attrs.frozen
class StepKind:
    """How a kind of pathway step is recorded and judged.

    `check(step, record, context)` raises ValidationError for a record that cannot count (a
    missing hours value, a course finished too late): the record is refused. `progress(step,
    records, context)` returns a StepProgress for the step from its non-voided records.
    """

    name: str
    description: str
    check: Callable
    progress: Callable
    params: tuple = ()


@attrs.frozen
class Report:
    """A named report: `build(tracker, options)` returns a ReportResult. A report that counts
    peers and honours `options["peers"]` (a PeerFilter) says so with `filters_peers`; the
    others refuse peer filters rather than ignore them."""

    name: str
    description: str
    build: Callable
    filters_peers: bool = False


@attrs.frozen
class Catalog:
    programs: dict
    step_kinds: dict
    checklists: dict
    reports: dict
    owners: dict
    problems: tuple

    def program(self, key: str) -> ProgramModel:
        return _lookup("program", self.programs, key)

    def checklist(self, key: str) -> Checklist:
        return _lookup("checklist", self.checklists, key)

    def current_checklist(self, program_key: str) -> Checklist:
        """The checklist new observations of a program use: its one not superseded by another."""
        current = sorted(key for key, checklist in self.checklists.items()
                         if checklist.program == program_key and checklist.superseded_by is None)
        if len(current) != 1:
            raise ValidationError(f"{program_key} has {'no checklist' if not current else 'several checklists'}"
                                  + (f" ({', '.join(current)})" if current else "") + ": give --checklist")
        return self.checklists[current[0]]

    def report(self, name: str) -> Report:
        return _lookup("report", self.reports, name)

    def step_kind(self, name: str) -> StepKind:
        return _lookup("step kind", self.step_kinds, name)

    def pathways(self):
        """(program, pathway) for every pathway of every enabled program."""
        for program in self.programs.values():
            for pathway in program.pathways:
                yield program, pathway

    def find_pathway(self, key: str):
        for program, pathway in self.pathways():
            if pathway.key == key:
                return program, pathway
        raise ValidationError(f"unknown pathway '{key}'")


def _lookup(what: str, known: dict, key: str):
    """known[key], or a ValidationError listing what there is."""
    try:
        return known[key]
    except KeyError:
        choices = ", ".join(sorted(known)) or "none enabled"
        raise ValidationError(f"unknown {what} '{key}': choose from {choices}") from None


_PROVIDERS = (
    ("register_step_kinds", "step_kinds", StepKind, "name"),
    ("register_programs", "programs", ProgramModel, "key"),
    ("register_checklists", "checklists", Checklist, "key"),
    ("register_reports", "reports", Report, "name"),
)


def build_catalog(host, enabled, overrides: Optional[dict] = None) -> Catalog:
    """Ask every enabled plugin for its content; apply `overrides` (see core.config)."""
    from .config import apply_overrides

    found = {attribute: {} for _, attribute, _, _ in _PROVIDERS}
    owners = {}
    errors = []
    for hook, attribute, expected, key_name in _PROVIDERS:
        for plugin in sorted(enabled) if enabled is not None else [None]:
            collected = []
            host.call(hook, {plugin} if plugin else None, errors=errors,
                      register=_register_into(collected, expected))
            try:
                _merge(found[attribute], owners, collected, key_name, plugin, attribute)
            except ValidationError as error:
                errors.append(error)
    programs = apply_overrides(found["programs"], overrides or {})
    step_kinds = {name: _guarded(kind, owners[("step_kinds", name)]) for name, kind in found["step_kinds"].items()}
    return Catalog(
        programs=programs,
        step_kinds=step_kinds,
        checklists=found["checklists"],
        reports=found["reports"],
        owners=owners,
        problems=tuple(str(error) for error in errors),
    )


def _guarded(kind: StepKind, plugin) -> StepKind:
    """The step kind with its functions wrapped, so that a bug in a plugin's kind is reported
    as that plugin's failure (one line), while the refusals it means to make pass through."""

    def guard(function, what, returns=None):
        def call(*args):
            try:
                result = function(*args)
                if returns is not None and not isinstance(result, returns):
                    raise TypeError(f"must return a {returns.__name__}, not {type(result).__name__}")
                return result
            except PeerpathError:
                raise
            except Exception as error:
                raise PluginError(plugin, f"step kind '{kind.name}' ({what})", error) from error

        return call

    return attrs.evolve(kind, check=guard(kind.check, "check"),
                        progress=guard(kind.progress, "progress", returns=StepProgress))


def _register_into(collected: list, expected):
    def register(item):
        if not isinstance(item, expected):
            raise ValidationError(f"expected a {expected.__name__}, got {type(item).__name__}")
        collected.append(item)

    return register


def _merge(target: dict, owners: dict, items: list, key_name: str, plugin, attribute) -> None:
    keys = [getattr(item, key_name) for item in items]
    for key in keys:
        if key in target or keys.count(key) > 1:
            raise ValidationError(
                f"plugin '{plugin}': {attribute[:-1].replace('_', ' ')} '{key}' is registered twice"
            )
    for key, item in zip(keys, items):
        target[key] = item
        owners[(attribute, key)] = plugin
