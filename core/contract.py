"""Contract checks for what a plugin registers: the same rules core relies on at run time.

`check_plugin(host, name)` returns one line per problem, naming the plugin and the object:
unique keys, prerequisites that exist and have no cycles, a reachable certification, known
step kinds with parameters of the right type, bands that cover 0-100%, defaults of the right type,
observation steps naming a registered checklist, and a `register_commands` hook that runs.
"""

from numbers import Number

import click

from .catalog import build_catalog
from .config import AT_LEAST_ONE, uncited_unset
from .program_model import ADAPTIVE_SETTINGS

NUMBER_PARAMS = {"days", "lead_days", "total", "min", "window_days", "pass_mark", "max_score",
                 "min_percent", "min_share", "hours", "min_span_days"}
# Core's step kinds count these in whole days or whole things: 2.5 would be read as 2.
WHOLE_PARAMS = {"days", "lead_days", "min", "window_days", "min_span_days"}
PERCENT_PARAMS = {"min_percent", "min_share"}
COUNTS = ("records", "sessions", "offerings", "courses")


def check_plugin(host, name: str) -> list:
    """Problems with plugin `name`, checked against the step kinds of every loaded plugin."""
    if name in host.broken:
        return [f"plugin '{name}': cannot load: {host.broken[name]}"]
    if name not in host.names():
        raise KeyError(name)
    everything = build_catalog(host, host.names(), None)
    own = _own_catalog(host, name)
    problems = list(own.problems)
    # Seen only with the other plugins loaded: a key another plugin registered first.
    problems += [p for p in everything.problems if p.startswith(f"plugin '{name}': ") and "already registered" in p]
    for program in own.programs.values():
        problems += [f"plugin '{name}': program '{program.key}': {p}" for p in program_problems(program, everything)]
    for checklist in own.checklists.values():
        problems += [f"plugin '{name}': checklist '{checklist.key}': {p}"
                     for p in _check_checklist(checklist, everything)]
    return list(dict.fromkeys(problems)) + _check_commands(host, name)


def unset_figures(host, name: str) -> list:
    """Notes, not problems: each setting plugin `name` leaves without a default (a figure nobody
    publishes), which grants nothing until the affiliate sets it."""
    if name in host.broken:
        return []
    own = _own_catalog(host, name)
    return [f"{key} is an affiliate setting with no default: it "
            + ("changes nothing" if ".fidelity." in key else "grants nothing")
            + f" until set (peerpath config set {key} VALUE)"
            for program in own.programs.values() for key in uncited_unset(program)]


def _own_catalog(host, name: str):
    """Plugin `name`'s own definitions, not yet judged: alone they lack core's step kinds."""
    return build_catalog(host, {name}, None, check_programs=False)


def _check_commands(host, name: str) -> list:
    """Run the plugin's `register_commands` against a scratch group: one that raises is named."""
    errors: list = []
    host.call("register_commands", {name}, errors=errors, cli=click.Group("peerpath"))
    return [f"plugin '{name}': register_commands: {error.error.__class__.__name__}: {error.error}"
            for error in errors]


def _duplicates(keys) -> list:
    seen, repeated = set(), []
    for key in keys:
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    return repeated


def program_problems(program, catalog) -> list:
    """The contract problems of one program, judged against `catalog`'s step kinds and checklists."""
    problems = [f"role '{key}' is declared twice" for key in _duplicates(r.key for r in program.roles)]
    problems += [f"pathway '{key}' is declared twice" for key in _duplicates(p.key for p in program.pathways)]
    if not program.roles:
        problems.append("has no roles")
    pathway_keys = {p.key for p in program.pathways}
    for role in program.roles:
        if role.pathway and role.pathway not in pathway_keys:
            problems.append(f"role '{role.key}' names unknown pathway '{role.pathway}'")
    for key, value in {**program.format, **program.leader_requirements, **program.fidelity}.items():
        if not _plain_value(value):
            problems.append(f"default '{key}' must be a number, text, yes/no or a list of text")
    for key, value in program.fidelity.items():
        if key not in ADAPTIVE_SETTINGS:
            problems.append(f"fidelity setting '{key}' is not one core reads (known: {', '.join(ADAPTIVE_SETTINGS)})")
        elif value is not None and not _non_negative(value):
            problems.append(f"fidelity setting '{key}' must be a number of 0 or more, or None, not {value!r}")
    for pathway in program.pathways:
        problems += [f"pathway '{pathway.key}': {p}" for p in _check_pathway(pathway, pathway_keys, catalog)]
    return problems


def _plain_value(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(isinstance(v, str) for v in value)
    return value is None or isinstance(value, (str, bool, Number))


def _check_pathway(pathway, pathway_keys, catalog) -> list:
    steps = {s.key: s for s in pathway.steps}
    problems = [f"step '{key}' is declared twice" for key in _duplicates(s.key for s in pathway.steps)]
    if not [s for s in pathway.steps if not s.optional]:
        problems.append("has no required step, so certification is never reached")
    if pathway.add_on_to and pathway.add_on_to not in pathway_keys:
        problems.append(f"is an add-on to unknown pathway '{pathway.add_on_to}'")
    if pathway.validity_days is not None and not _non_negative_int(pathway.validity_days):
        problems.append("validity_days must be a whole number of days")
    if pathway.renewal is not None and not pathway.validity_days:
        problems.append("has a renewal step but no validity_days")
    for step in list(pathway.steps) + ([pathway.renewal] if pathway.renewal else []):
        for requirement in step.requires:
            if requirement not in steps:
                problems.append(f"step '{step.key}' requires unknown step '{requirement}'")
        problems += [f"step '{step.key}': {p}" for p in _check_step(step, steps, catalog)]
    cycle = _cycle(steps)
    if cycle:
        problems.append("prerequisites form a cycle: " + " -> ".join(cycle))
    return problems


def _check_step(step, steps, catalog) -> list:
    kind = catalog.step_kinds.get(step.kind)
    if kind is None:
        return [f"unknown step kind '{step.kind}' (known: {', '.join(sorted(catalog.step_kinds))})"]
    problems = []
    for param, value in step.params.items():
        if param not in kind.params:
            takes = ", ".join(kind.params) or "none"
            problems.append(f"'{step.kind}' steps take no parameter '{param}' (they take: {takes})")
        elif param in NUMBER_PARAMS and value is not None and not _non_negative(value):
            problems.append(f"parameter '{param}' must be a number of 0 or more, not {value!r}")
        elif param == "domains" and not (isinstance(value, dict) and all(_non_negative(v) for v in value.values())):
            problems.append("parameter 'domains' must map each domain to its minimum hours")
        elif param == "before" and value not in steps:
            problems.append(f"parameter 'before' names unknown step '{value}'")
    if catalog.owners.get(("step_kinds", step.kind)) == "step_kinds":
        problems += _check_core_kind_params(step, catalog)
    return problems


def _check_core_kind_params(step, catalog) -> list:
    """What core's own step kinds need of their parameters beyond being numbers."""
    problems = []
    params = step.params
    for param in sorted(WHOLE_PARAMS & set(params)):
        value = params[param]
        if value is None or not _non_negative(value):
            continue  # reported above
        if value != int(value):
            problems.append(f"parameter '{param}' must be a whole number, not {value!r}")
        elif param in AT_LEAST_ONE and value < 1:
            problems.append(f"parameter '{param}' must be at least 1, not {value!r}")
    for param in sorted(PERCENT_PARAMS & set(params)):
        if _non_negative(params[param]) and params[param] > 100:
            problems.append(f"parameter '{param}' is a percentage and cannot exceed 100, not {params[param]!r}")
    if step.kind == "count" and "counts" in params and params["counts"] not in COUNTS:
        problems.append(f"parameter 'counts' must be one of {', '.join(COUNTS)}, not {params['counts']!r}")
    if step.kind == "count" and "unit" in params and not isinstance(params["unit"], str):
        problems.append(f"parameter 'unit' must be text, not {params['unit']!r}")
    if step.kind == "exam" and _non_negative(params.get("pass_mark")) and _non_negative(params.get("max_score")) \
            and params["pass_mark"] > params["max_score"]:
        problems.append(f"pass_mark {params['pass_mark']!r} is above max_score {params['max_score']!r}")
    if step.kind == "observation" and params.get("checklist") is not None:
        if params["checklist"] not in catalog.checklists:
            problems.append(f"parameter 'checklist' names unknown checklist '{params['checklist']}'")
    return problems


def _non_negative(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def _non_negative_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _cycle(steps: dict):
    """A list of step keys forming a prerequisite cycle, or None."""
    state: dict = {}

    def visit(key, trail):
        if state.get(key) == "open":
            return trail[trail.index(key):] + [key]
        if state.get(key) == "done" or key not in steps:
            return None
        state[key] = "open"
        for requirement in steps[key].requires:
            found = visit(requirement, trail + [key])
            if found:
                return found
        state[key] = "done"
        return None

    for key in steps:
        found = visit(key, [])
        if found:
            return found
    return None


def _check_checklist(checklist, catalog) -> list:
    problems = [f"item '{key}' is declared twice" for key in _duplicates(i.key for i in checklist.items)]
    if checklist.program not in catalog.programs and checklist.program not in catalog.flawed:
        problems.append(f"is for unknown program '{checklist.program}'")
    if not checklist.items:
        problems.append("has no items")
    if not checklist.version:
        problems.append("has no version")
    bands = sorted(checklist.bands, key=lambda b: b.min_percent)
    if not bands or bands[0].min_percent != 0:
        problems.append("bands must cover the whole score range: the lowest band must start at 0%")
    problems += [f"band '{b.name}' starts outside 0-100% ({b.min_percent})"
                 for b in bands if not 0 <= b.min_percent <= 100]
    problems += [f"band '{name}' is declared twice" for name in _duplicates(b.name for b in bands)]
    newer = catalog.checklists.get(checklist.superseded_by) if checklist.superseded_by else None
    if checklist.superseded_by and (newer is None or newer.program != checklist.program):
        problems.append(f"superseded_by names no checklist of {checklist.program}: '{checklist.superseded_by}'")
    if checklist.pass_band and checklist.pass_band not in {b.name for b in bands}:
        problems.append(f"pass_band '{checklist.pass_band}' is not one of its bands")
    for item in checklist.items:
        bad = [k for k in item.anchors if str(k) not in {"1", "2", "3", "4", "5"}]
        if item.type == "rating" and bad:
            problems.append(f"item '{item.key}' has anchors outside 1-5: {', '.join(map(str, bad))}")
        if item.type == "yes_no" and item.anchors:
            problems.append(f"item '{item.key}' is yes/no but has rating anchors")
    return problems
