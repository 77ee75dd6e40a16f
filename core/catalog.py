"""What the enabled plugins provide: programs, step kinds, checklists and reports.

Plugins hand objects to a `register` callback; core checks their type and that keys are unique,
and applies the affiliate's configured overrides to program defaults. A plugin whose provider
hook fails is left out and reported; the others still load.
"""

from typing import Callable, Optional

import attrs

from .errors import PeerpathError, PluginError, ValidationError
from .program_model import Checklist, ProgramModel
from .values import as_tuple


@attrs.frozen
class StepKind:
    """How a kind of pathway step is recorded and judged.

    `check(step, record, context)` raises ValidationError for a record that cannot count (a
    missing hours value, a course finished too late): the record is refused. `progress(step,
    records, context)` returns a StepProgress for the step from its non-voided records.
    `dated` says the result may change with `context.today` alone, so the step is judged again
    on every read instead of taken from a stored summary; a kind is trusted to be independent of
    the date only when it says so (`dated=False`), as core's kinds do (their rolling windows are
    seen in the step's `window_days`).
    """

    name: str
    description: str
    check: Callable
    progress: Callable
    params: tuple = ()
    dated: bool = True


@attrs.frozen
class Report:
    """A named report: `build(tracker, options)` returns a ReportResult. A report that counts
    peers and honours `options["peers"]` (a PeerFilter) says so with `filters_peers`; the
    others refuse peer filters rather than ignore them. A report that groups its figures in
    more than one way lists the ways in `groupings` (`--by`, in `options["by"]`; the first is
    the default); the others refuse `--by`. A report that looks ahead gives its default number
    of days in `horizon` (`--horizon`, in `options["horizon"]`); the others refuse `--horizon`."""

    name: str
    description: str
    build: Callable
    filters_peers: bool = False
    groupings: tuple = attrs.field(default=(), converter=as_tuple)
    horizon: Optional[int] = None


@attrs.frozen
class Catalog:
    programs: dict
    step_kinds: dict
    checklists: dict
    reports: dict
    owners: dict
    problems: tuple
    flawed: dict = attrs.field(factory=dict)  # program key -> why it was left out at load

    def program(self, key: str) -> ProgramModel:
        if key in self.flawed and key not in self.programs:
            raise ValidationError(self.flawed[key])
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


def build_catalog(host, enabled, overrides: Optional[dict] = None, check_programs: bool = True) -> Catalog:
    """Ask every enabled plugin for its content; apply `overrides` (see core.config). A program
    whose definition is flawed is left out (see `_flawed_programs`) unless not `check_programs`."""
    from .config import apply_overrides

    found: dict[str, dict] = {attribute: {} for _, attribute, _, _ in _PROVIDERS}
    owners: dict = {}
    errors: list = []
    for hook, attribute, expected, key_name in _PROVIDERS:
        for plugin in sorted(enabled) if enabled is not None else [None]:
            collected: list = []
            host.call(hook, {plugin} if plugin else None, errors=errors,
                      register=_register_into(collected, expected))
            try:
                _merge(found[attribute], owners, collected, key_name, plugin, attribute)
            except ValidationError as error:
                errors.append(error)
    step_kinds = {name: _guarded(kind, owners[("step_kinds", name)]) for name, kind in found["step_kinds"].items()}
    flawed = _flawed_programs(found, owners, step_kinds, errors) if check_programs else {}
    programs = apply_overrides({key: program for key, program in found["programs"].items() if key not in flawed},
                               overrides or {})
    return Catalog(
        programs=programs,
        step_kinds=step_kinds,
        checklists=found["checklists"],
        reports=found["reports"],
        owners=owners,
        problems=tuple(str(error) for error in errors),
        flawed=flawed,
    )


def _flawed_programs(found, owners, step_kinds, errors) -> dict:
    """{key: message} for the programs whose definitions break the plugin contract: left out
    at load, so that using one is a clear refusal and never a traceback deep in the engine.
    Each problem is also one of the catalog's problems, in the words of `plugins check`."""
    from .contract import program_problems

    provisional = Catalog(programs=found["programs"], step_kinds=step_kinds, checklists=found["checklists"],
                          reports={}, owners=owners, problems=())
    flawed = {}
    for key, program in found["programs"].items():
        plugin = owners[("programs", key)]
        problems = program_problems(program, provisional)
        if problems:
            errors.extend(f"plugin '{plugin}': program '{key}': {problem}" for problem in problems)
            flawed[key] = (f"program '{key}' of plugin '{plugin}' is not loaded: {problems[0]}"
                           f"{f' (and {len(problems) - 1} more)' if len(problems) > 1 else ''}; "
                           f"see 'peerpath plugins check {plugin}'")
    return flawed


def _guarded(kind: StepKind, plugin) -> StepKind:
    """The step kind with its functions wrapped, so that a bug in a plugin's kind is reported
    as that plugin's failure (one line), while the refusals it means to make pass through."""
    from .progress import StepProgress  # imported when a catalog is built, not when plugins load

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
    what = attribute[:-1].replace('_', ' ')
    for key in keys:
        if key in target:
            raise ValidationError(f"plugin '{plugin}': {what} '{key}' is already registered by plugin "
                                  f"'{owners[(attribute, key)]}'; left out")
        if keys.count(key) > 1:
            raise ValidationError(f"plugin '{plugin}': {what} '{key}' is registered twice")
    for key, item in zip(keys, items):
        target[key] = item
        owners[(attribute, key)] = plugin
