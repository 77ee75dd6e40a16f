"""Plugins as the engine loads them (issue 12, defect 12): a date-dependent step kind is judged
again on every read, a program key is owned by one plugin, a flawed program is refused at load."""

import json

import pytest

from conftest import assert_refused, ok
from peerpath.core import Pathway, ProgramModel, Role, Step, StepProgress, hookimpl
from peerpath.core.catalog import StepKind
from peerpath.core.progress import DONE, MISSING
from peerpath.core.testing import registered_plugin


def _program(key, steps, title="Test program"):
    return ProgramModel(key=key, title=title, roles=[Role("leader", "Leader", pathway=key)],
                        pathways=[Pathway(key, title, steps=steps)])


class ProgramPlugin:
    def __init__(self, *programs, kinds=()):
        self.programs, self.kinds = programs, kinds

    @hookimpl
    def register_programs(self, register):
        for program in self.programs:
            register(program)

    @hookimpl
    def register_step_kinds(self, register):
        for kind in self.kinds:
            register(kind)


def _seasonal(step, records, context):
    """Done only in the months of the season: a result that depends on the date alone."""
    if records and context.today.month >= 6:
        return StepProgress(DONE, "in season", completed_on=records[0].on)
    return StepProgress(MISSING, "out of season")


SEASONAL = StepKind("seasonal", "Counts in summer only.", lambda *a: None, _seasonal, dated=True)


def test_a_date_dependent_step_kind_is_judged_again_on_each_read(initialised, run):
    program = _program("seasons", [Step("summer", "Summer step", "seasonal")])
    with registered_plugin(ProgramPlugin(program, kinds=[SEASONAL]), "seasons-test"):
        ok(run("peer", "add", "Ana", "--lived-experience", "self"))
        ok(run("--today", "2026-03-01", "enroll", "P0001", "seasons", "--on", "2026-02-01"))
        ok(run("--today", "2026-03-01", "record", "P0001", "seasons", "summer", "--on", "2026-02-02"))
        [listed] = json.loads(ok(run("--today", "2026-07-01", "leaders", "--json")))
        assert listed["steps"][0]["summary"] == "in season"
        [fresh] = json.loads(ok(run("--today", "2026-07-01", "progress", "P0001", "--json")))
        assert listed == fresh


class OwnPlugin:
    @hookimpl
    def register_programs(self, register):
        register(_program("connection", [Step("a", "A", "attestation")], title="Another Connection"))


def test_a_program_key_another_plugin_owns_is_refused_naming_both(initialised, run):
    with registered_plugin(OwnPlugin(), "copycat"):
        checked = run("plugins", "check", "copycat")
        assert "plugin 'copycat': program 'connection' is already registered by plugin 'connection'; " \
               "left out" in checked.stdout
        shown = json.loads(ok(run("programs", "show", "connection", "--json")))
        assert shown["title"] == "NAMI Connection Recovery Support Group"


@pytest.mark.parametrize("steps, problem", [
    ([Step("a", "A", "attestation", requires=["nowhere"])], "step 'a' requires unknown step 'nowhere'"),
    ([Step("t", "Training", "training", {"days": "two"})], "parameter 'days' must be a number"),
    ([Step("a", "A", "telepathy")], "unknown step kind 'telepathy'"),
])
def test_a_flawed_program_is_refused_at_load_with_a_clear_error(initialised, run, steps, problem):
    with registered_plugin(ProgramPlugin(_program("flawed", steps)), "flawed-test"):
        ok(run("peer", "add", "Ana", "--lived-experience", "self"))
        checked = run("plugins", "check", "flawed-test")
        assert checked.exit_code == 1 and problem in checked.stdout
        assert_refused(run("enroll", "P0001", "flawed"), "program 'flawed' of plugin 'flawed-test' is not loaded",
                       problem, "peerpath plugins check flawed-test")
        assert "flawed" not in [p["key"] for p in json.loads(ok(run("programs", "list", "--json")))]
