"""Plugins seen from the outside: lifecycle events, validation vetoes, failing plugins,
enabling and disabling, PEERPATH_LOAD_PLUGINS and `plugins list`."""

import json
import subprocess
import os
import sys

import pytest

from peerpath import core
from peerpath.core import Peer, Problem, Tracker, hookimpl

from conftest import assert_refused, certify_teacher, LIFECYCLE_HOOKS, ok, snapshot

TODAY = "2026-03-01"

MEETING_ANSWERS = {"on_time": "yes", "two_facilitators": "yes", "welcome": "yes", "guidelines": "yes",
                   "principles": "yes", "confidentiality": "yes", "check_in": 5, "agenda": 5,
                   "processes": 5, "emotional_stages": "yes", "no_endorsement": "yes"}


@pytest.fixture
def dated(monkeypatch):
    monkeypatch.setenv("PEERPATH_TODAY", TODAY)


def test_every_lifecycle_event_fires_once_with_its_arguments(initialised, run, recording_plugin, dated, tmp_path):
    ok(run("peer", "add", "Ana", "--lived-experience", "self", "--consent", "adult=yes"))
    ok(run("peer", "add", "Bo", "--lived-experience", "both", "--consent", "adult=yes"))
    ok(run("peer", "stage", "P0001", "contacted"))
    certify_teacher(run)
    ok(run("enroll", "P0001", "connection", "--on", "2026-02-01"))
    ok(run("enroll", "P0002", "connection", "--on", "2026-02-01"))
    ok(run("offering", "add", "connection", "Tuesday group", "--leaders", "P0001,P0002"))
    ok(run("session", "add", "O0001", "--on", "2026-02-10"))
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(MEETING_ANSWERS))
    ok(run("observe", "O0001", "--checklist", "connection_meeting", "--observer", "Pat",
           "--on", "2026-02-10", "--answers", answers))
    ok(run("--today", "2028-03-01", "sweep"))

    plugin = recording_plugin
    assert [c["peer"].name for c in plugin.hooks("peer_added")] == ["Ana", "Bo"]
    [stage] = plugin.hooks("peer_stage_changed")
    assert (stage["peer"].id, stage["old_stage"], stage["new_stage"]) == ("P0001", "prospect", "contacted")
    assert [(c["peer"].id, c["enrollment"].program) for c in plugin.hooks("enrollment_started")] == [
        ("P0001", "peer_to_peer"), ("P0001", "connection"), ("P0002", "connection")]
    assert [c["record"].step for c in plugin.hooks("step_recorded")] == [
        "affiliate_interview", "fidelity_agreement", "online_course", "trainer_interview", "training"]
    [granted] = plugin.hooks("certification_granted")
    assert (granted["certification"].pathway, str(granted["certification"].expires)) == ("peer_to_peer", "2028-02-02")
    [session] = plugin.hooks("session_recorded")
    assert (session["session"].offering_id, session["offering"].name) == ("O0001", "Tuesday group")
    [observation] = plugin.hooks("observation_recorded")
    assert (observation["observation"].percent, observation["observation"].band) == (100.0, "good")
    [lapsed] = plugin.hooks("certification_lapsed")
    assert str(lapsed["certification"].lapsed_on) == "2028-02-03"
    assert {hook for hook, _ in plugin.calls} >= set(LIFECYCLE_HOOKS)


def test_events_fire_after_the_change_is_stored(initialised, run, db):
    seen = []

    class Checker:
        @hookimpl
        def peer_added(self, peer):
            seen.append(Tracker(db=str(db)).peer(peer.id).name)  # a fresh reader finds it committed

    core.get_host().register(Checker(), name="checker")
    try:
        ok(run("peer", "add", "Ana"))
    finally:
        core.get_host().unregister("checker")
    assert seen == ["Ana"]


def test_certification_is_granted_once_however_often_progress_is_asked(initialised, run, recording_plugin, dated):
    ok(run("peer", "add", "Ana", "--lived-experience", "self", "--consent", "adult=yes"))
    certify_teacher(run)
    for _ in range(3):
        ok(run("progress", "P0001"))
        ok(run("leaders"))
    ok(run("record", "P0001", "peer_to_peer", "fidelity_agreement", "--on", "2026-02-20"))
    ok(run("sweep"))
    assert len(recording_plugin.hooks("certification_granted")) == 1
    assert recording_plugin.hooks("certification_lapsed") == []


def test_a_veto_refuses_the_change_and_stores_nothing(initialised, run, recording_plugin, db):
    recording_plugin.validate = lambda change: Problem("no test names") if change.entity.name == "Test" else None
    before = snapshot(db)
    assert_refused(run("peer", "add", "Test"), "refused by plugin 'test-plugin'", "no test names")
    assert snapshot(db) == before
    assert recording_plugin.hooks("peer_added") == []


def test_a_warning_lets_the_change_through_and_is_shown(initialised, run, recording_plugin):
    recording_plugin.validate = lambda change: [Problem("no email yet", level="warning")]
    result = run("peer", "add", "Ana")
    assert ok(result) == "P0001\n"
    assert "Warning: plugin 'test-plugin': no email yet" in result.stderr
    assert [p["name"] for p in json.loads(ok(run("peer", "list", "--json")))] == ["Ana"]


def test_a_validator_that_raises_refuses_naming_the_plugin(initialised, run, recording_plugin, db):
    def explode(change):
        raise RuntimeError("validator bug")

    recording_plugin.validate = explode
    before = snapshot(db)
    assert_refused(run("peer", "add", "Ana"), "test-plugin", "validator bug")
    assert snapshot(db) == before


def test_a_validator_returning_junk_refuses_naming_the_plugin(initialised, run, recording_plugin, db):
    recording_plugin.validate = lambda change: "looks odd"
    assert_refused(run("peer", "add", "Ana"), "test-plugin", "validate_change")


def test_a_failing_event_hook_is_named_and_the_change_is_kept(initialised, run, recording_plugin):
    recording_plugin.fail_on = "peer_added"
    result = run("peer", "add", "Ana")
    assert result.exit_code == 0
    assert result.stdout == "P0001\n"
    assert "Traceback" not in result.stderr
    assert "plugin 'test-plugin' failed in peer_added" in result.stderr
    assert "the change itself was saved" in result.stderr
    peers = json.loads(ok(run("peer", "list", "--json")))
    assert [p["id"] for p in peers] == ["P0001"]
    assert len(recording_plugin.hooks("peer_added")) == 1


def test_disabled_plugins_get_no_events(initialised, run, recording_plugin):
    ok(run("plugins", "disable", "test-plugin"))
    ok(run("peer", "add", "Ana"))
    assert recording_plugin.calls == []
    ok(run("plugins", "enable", "test-plugin"))
    ok(run("peer", "add", "Bo"))
    assert [c["peer"].name for c in recording_plugin.hooks("peer_added")] == ["Bo"]


def test_plugins_list_shows_name_version_source_enabled_and_hooks(initialised, run):
    listed = {p["name"]: p for p in json.loads(ok(run("plugins", "list", "--json")))}
    assert {"connection", "peer_education", "crss"} <= set(listed)
    crss = listed["crss"]
    assert crss["enabled"] is True
    assert crss["version"] and crss["source"]
    assert "register_programs" in crss["hooks"]
    table = ok(run("plugins", "list"))
    assert "crss" in table and "register_programs" in table


def test_a_disabled_program_disappears_and_comes_back_with_its_data(initialised, run, dated):
    ok(run("peer", "add", "Ana", "--lived-experience", "self", "--consent", "adult=yes"))
    ok(run("enroll", "P0001", "crss", "--on", "2026-01-01"))
    ok(run("record", "P0001", "crss", "disclosure", "--on", "2026-01-02"))
    ok(run("plugins", "disable", "crss"))
    assert "crss" not in ok(run("programs", "list"))
    assert ok(run("progress", "P0001")) == "P0001 is not enrolled in any enabled program\n"
    assert json.loads(ok(run("leaders", "--json"))) == []
    assert_refused(run("record", "P0001", "crss", "disclosure"), "unknown program 'crss'")
    ok(run("plugins", "enable", "crss"))
    [status] = json.loads(ok(run("progress", "P0001", "--json")))
    assert status["program"] == "crss"
    assert {s["step"]: s["state"] for s in status["steps"]}["disclosure"] == "done"


def test_core_plugins_cannot_be_disabled_and_unknown_ones_are_named(initialised, run, db):
    before = snapshot(db)
    assert_refused(run("plugins", "disable", "core.step_kinds"), "core")
    assert_refused(run("plugins", "enable", "nonesuch"), "unknown plugin 'nonesuch'")
    assert snapshot(db) == before


def _run_cli(env, *args):
    return subprocess.run([sys.executable, "-c", "from peerpath.cli import cli; cli()", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_peerpath_load_plugins_restricts_what_loads(tmp_path, monkeypatch):
    env = {**os.environ, "PEERPATH_DB": str(tmp_path / "db.json"), "PEERPATH_LOAD_PLUGINS": "connection"}
    result = _run_cli(env, "plugins", "list", "--json")
    assert result.returncode == 0, result.stderr
    names = {p["name"] for p in json.loads(result.stdout)}
    assert "connection" in names
    assert not {"crss", "peer_education"} & names
    env["PEERPATH_LOAD_PLUGINS"] = ""
    result = _run_cli(env, "programs", "list")
    assert result.returncode == 0, result.stderr
    assert "connection" not in result.stdout


def test_a_misspelled_hook_fails_loudly_and_is_not_kept():
    class Misspelled:
        @hookimpl
        def peer_addded(self, peer):
            pass

    host = core.get_host()
    with pytest.raises(Exception, match="peer_addded"):
        host.register(Misspelled(), name="misspelled")
    assert not host.pm.has_plugin("misspelled")


def test_a_plugin_that_cannot_import_is_listed_as_broken_and_the_others_work(tmp_path):
    package = tmp_path / "site"
    (package / "broken_plugin").mkdir(parents=True)
    (package / "broken_plugin" / "__init__.py").write_text("import no_such_module\n")
    dist = package / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[peerpath]\nbroken = broken_plugin\n")
    env = {**os.environ, "PEERPATH_DB": str(tmp_path / "db.json"),
           "PYTHONPATH": os.pathsep.join([str(package), os.environ.get("PYTHONPATH", "")])}
    env.pop("PEERPATH_LOAD_PLUGINS", None)
    listed = _run_cli(env, "plugins", "list")
    assert listed.returncode == 0, listed.stderr
    assert "broken" in listed.stdout + listed.stderr
    assert "no_such_module" in listed.stdout + listed.stderr
    assert "Traceback" not in listed.stderr
    assert _run_cli(env, "init").returncode == 0
    added = _run_cli(env, "peer", "add", "Ana")
    assert added.returncode == 0, added.stderr
    assert added.stdout == "P0001\n"
    checked = _run_cli(env, "plugins", "check", "broken")
    assert checked.returncode == 1
    assert "plugin 'broken': cannot load" in checked.stdout + checked.stderr


def test_trace_hooks_prints_each_call(tmp_path):
    env = {**os.environ, "PEERPATH_DB": str(tmp_path / "db.json"), "PEERPATH_TRACE_HOOKS": "1"}
    result = _run_cli(env, "programs", "list")
    assert result.returncode == 0, result.stderr
    assert "peerpath: register_programs -> connection" in result.stderr


def test_validate_change_sees_the_entity_and_what_it_replaces(initialised, run, recording_plugin):
    ok(run("peer", "add", "Ana"))
    ok(run("peer", "edit", "P0001", "--community", "Eastside"))
    changes = [c["change"] for c in recording_plugin.hooks("validate_change")]
    edit = [c for c in changes if c.action == "edit"][-1]
    assert isinstance(edit.entity, Peer) and edit.entity.community == "Eastside"
    assert edit.before.community is None
    assert edit.actor == "tester"


# --- a third-party plugin using every provider hook, installed by entry point in a subprocess ---

ETS_PLUGIN = '''
import click
from peerpath.core import (DONE, MISSING, Band, Checklist, ChecklistItem, Pathway, ProgramModel, Report,
                  ReportResult, Role, Step, StepKind, StepProgress, Table, Tracker, ValidationError, hookimpl)


def check(step, record, context):
    if not record.evidence:
        raise ValidationError(f"'{step.key}' needs --evidence (the background check reference)")


def progress(step, records, context):
    if records:
        return StepProgress(DONE, f"cleared {records[-1].on}", records[-1].on)
    return StepProgress(MISSING, "not cleared")


@hookimpl
def register_step_kinds(register):
    register(StepKind("background_check", "A cleared background check", check, progress))


@hookimpl
def register_programs(register):
    register(ProgramModel(key="ets", title="Ending the Silence", roles=[Role("presenter", "Presenter", pathway="ets")],
                          pathways=[Pathway(key="ets", title="ETS presenter", steps=[
                              Step("background", "Background check", "background_check"),
                              Step("training", "Presenter training", "training", {"days": 1}, requires=["background"]),
                          ])]))


@hookimpl
def register_checklists(register):
    register(Checklist(key="ets_presentation", program="ets", title="ETS presentation", version="1",
                       items=[ChecklistItem("two_presenters", "Two presenters", critical=True)],
                       bands=[Band("good", 80), Band("not supported", 0)], pass_band="good"))


def build(tracker, options):
    leaders = [s for s in tracker.leaders(program="ets") if s.status == "certified"]
    return ReportResult("ets_presenters", "Certified ETS presenters",
                        [Table("Presenters", ["peer", "name"], [[s.peer.id, s.peer.name] for s in leaders])],
                        {"presenters": len(leaders)})


@hookimpl
def register_reports(register):
    register(Report("ets_presenters", "Certified presenters", build))


@hookimpl
def register_commands(cli):
    @cli.command(name="ets-count")
    def ets_count():
        """Count certified ETS presenters."""
        tracker = click.get_current_context().find_object(Tracker)
        click.echo(sum(s.status == "certified" for s in tracker.leaders(program="ets")))
'''


def install_plugin(tmp_path, entry_name: str, module: str, source: str) -> dict:
    """Install `source` as module `module` with a `peerpath` entry point, as pip would (a
    dist-info folder with entry_points.txt on sys.path); return the environment to run with."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(source)
    dist = site / f"{module}-1.2.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.2\n")
    (dist / "entry_points.txt").write_text(f"[peerpath]\n{entry_name} = {module}\n")
    env = {**os.environ, "PEERPATH_DB": str(tmp_path / "db.json"), "PEERPATH_TODAY": "2026-03-01",
           "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    env.pop("PEERPATH_LOAD_PLUGINS", None)
    return env


def test_a_plugin_using_every_provider_hook_works_end_to_end(tmp_path):
    env = install_plugin(tmp_path, "ets", "peerpath_ets", ETS_PLUGIN)

    def cli_ok(*args):
        result = _run_cli(env, *args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    cli_ok("init")
    [ets] = [p for p in json.loads(cli_ok("plugins", "list", "--json")) if p["name"] == "ets"]
    assert ets["version"] == "1.2" and ets["enabled"] is True
    assert {"register_step_kinds", "register_programs", "register_checklists", "register_reports",
            "register_commands"} <= set(ets["hooks"])
    assert "ets: ok" in cli_ok("plugins", "check", "ets")
    assert "background_check" in cli_ok("programs", "show", "ets")
    assert "ets_presentation" in cli_ok("checklists", "list")
    cli_ok("peer", "add", "Ana", "--lived-experience", "self", "--consent", "adult=yes")
    cli_ok("enroll", "P0001", "ets")
    refused = _run_cli(env, "record", "P0001", "ets", "background")
    assert refused.returncode == 1
    assert refused.stderr.strip() == "Error: 'background' needs --evidence (the background check reference)"
    cli_ok("record", "P0001", "ets", "background", "--evidence", "BC-1", "--on", "2026-02-01")
    cli_ok("record", "P0001", "ets", "training", "--on", "2026-02-02")
    assert json.loads(cli_ok("report", "ets_presenters", "--json"))["figures"] == {"presenters": 1}
    assert cli_ok("ets-count") == "1\n"
    assert cli_ok("ets-count", "-h").startswith("Usage: ")  # -h reaches the commands plugins add
    cli_ok("plugins", "disable", "ets")
    hidden = _run_cli(env, "ets-count")
    assert hidden.returncode == 2 and "No such command 'ets-count'" in hidden.stderr
    assert "ets_presenters" not in cli_ok("reports")
    cli_ok("plugins", "enable", "ets")
    assert cli_ok("ets-count") == "1\n"


class BuggyStepKindPlugin:
    """A program whose own step kind has a bug in `check` or in `progress` (in-process)."""

    def __init__(self, broken):
        self.broken = broken

    @hookimpl
    def register_step_kinds(self, register):
        def check(step, record, context):
            if self.broken == "check":
                return record.no_such_field

        def progress(step, records, context):
            return None if self.broken == "progress" else core.StepProgress(core.MISSING, "not yet")

        register(core.StepKind("buggy", "A kind with a bug", check, progress))

    @hookimpl
    def register_programs(self, register):
        register(core.ProgramModel(key="buggy_program", title="Buggy", roles=[core.Role("leader", "Leader", pathway="bp")],
                                   pathways=[core.Pathway(key="bp", title="BP", steps=[core.Step("s", "S", "buggy")])]))


@pytest.mark.parametrize("broken, command, message", [
    ("progress", ("enroll", "P0001", "buggy_program"), "(progress): TypeError: must return a StepProgress, not NoneType"),
    ("check", ("record", "P0001", "buggy_program", "s"), "(check): AttributeError"),
])
def test_a_bug_in_a_plugins_step_kind_is_one_line_naming_it_and_stores_nothing(initialised, run, db, broken,
                                                                                 command, message):
    ok(run("peer", "add", "Ana"))
    host = core.get_host()
    plugin = BuggyStepKindPlugin(broken=None)
    host.register(plugin, name="buggy")
    try:
        if command[0] == "record":
            ok(run("enroll", "P0001", "buggy_program"))
        plugin.broken = broken
        before = snapshot(db)
        assert_refused(run(*command), "plugin 'buggy' failed in step kind 'buggy'", message)
        assert snapshot(db) == before
    finally:
        host.unregister("buggy")


# --- every lifecycle event, command by command: fired once, after the commit, or not at all ------

# (command, the lifecycle hooks it must fire, in order). The answers file is written by the test.
STEPS = [
    (("peer", "add", "Ana", "--lived-experience", "self", "--consent", "adult=yes"), ["peer_added"]),
    (("peer", "add", "Bo", "--lived-experience", "both", "--consent", "adult=yes"), ["peer_added"]),
    (("peer", "edit", "P0001", "--community", "Eastside"), []),
    (("peer", "stage", "P0001", "contacted"), ["peer_stage_changed"]),
    (("enroll", "P0001", "peer_to_peer", "--on", "2026-01-01"), ["enrollment_started"]),
    (("record", "P0001", "peer_to_peer", "affiliate_interview", "--outcome", "passed", "--on", "2026-01-05"),
     ["step_recorded"]),
    (("record", "P0001", "peer_to_peer", "fidelity_agreement", "--on", "2026-01-06"), ["step_recorded"]),
    (("record", "P0001", "peer_to_peer", "online_course", "--on", "2026-01-10"), ["step_recorded"]),
    (("record", "P0001", "peer_to_peer", "trainer_interview", "--outcome", "passed", "--on", "2026-01-20"),
     ["step_recorded"]),
    (("record", "P0001", "peer_to_peer", "training", "--on", "2026-02-01", "--until", "2026-02-02"),
     ["step_recorded", "certification_granted"]),
    (("progress", "P0001"), []),
    (("leaders",), []),
    (("sweep",), []),
    (("enroll", "P0001", "connection", "--on", "2026-02-01"), ["enrollment_started"]),
    (("enroll", "P0002", "connection", "--on", "2026-02-01"), ["enrollment_started"]),
    (("offering", "add", "connection", "Tuesday group", "--leaders", "P0001,P0002"), []),
    (("session", "add", "O0001", "--on", "2026-02-10", "--attendance", "6"), ["session_recorded"]),
    (("observe", "O0001", "--checklist", "connection_meeting", "--observer", "Pat", "--on", "2026-02-10",
      "--answers", "{answers}"), ["observation_recorded"]),
    (("--today", "2028-03-01", "sweep"), ["certification_lapsed"]),
    (("--today", "2028-03-01", "sweep"), []),
    (("--today", "2028-03-01", "progress", "P0001"), []),
]

# What the scenario stores, as (action, table) audit events: each change exactly once.
STORED = {("create", "database"): 1, ("add", "peers"): 2, ("edit", "peers"): 1, ("stage", "peers"): 1,
          ("enroll", "enrollments"): 3, ("record", "step_records"): 5, ("certify", "certifications"): 1,
          ("add", "offerings"): 1, ("add", "sessions"): 1, ("observe", "observations"): 1,
          ("lapse", "certifications"): 1}


def _steps(tmp_path):
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps(MEETING_ANSWERS))
    return [(tuple(str(answers) if a == "{answers}" else a for a in args), hooks) for args, hooks in STEPS]


def _stored_events(run) -> dict:
    counts = {}
    for event in json.loads(ok(run("audit", "--json"))):
        key = (event["action"], event["entity"])
        counts[key] = counts.get(key, 0) + 1
    return counts


class CommitChecker:
    """Inside each lifecycle hook, open the database afresh (another Tracker, as another process
    would) and note whether the event's entity is already stored as the hook describes it."""

    def __init__(self, db):
        self.db = str(db)
        self.seen = []

    def _stored(self, table, record_id):
        with Tracker(db=self.db).reading() as tx:
            return tx.get(table, record_id)

    def _note(self, hook, table, record_id, check=lambda document: True):
        document = self._stored(table, record_id)
        self.seen.append((hook, record_id, document is not None and check(document)))

    @hookimpl
    def peer_added(self, peer):
        self._note("peer_added", "peers", peer.id, lambda d: d["name"] == peer.name)

    @hookimpl
    def peer_stage_changed(self, peer, new_stage):
        self._note("peer_stage_changed", "peers", peer.id, lambda d: d["stage"] == new_stage)

    @hookimpl
    def enrollment_started(self, enrollment):
        self._note("enrollment_started", "enrollments", enrollment.id)

    @hookimpl
    def step_recorded(self, record):
        self._note("step_recorded", "step_records", record.id, lambda d: d["step"] == record.step)

    @hookimpl
    def certification_granted(self, certification):
        self._note("certification_granted", "certifications", certification.id)

    @hookimpl
    def certification_lapsed(self, certification):
        self._note("certification_lapsed", "certifications", certification.id,
                   lambda d: d["lapsed_on"] == certification.lapsed_on.isoformat())

    @hookimpl
    def session_recorded(self, session):
        self._note("session_recorded", "sessions", session.id)

    @hookimpl
    def observation_recorded(self, observation):
        self._note("observation_recorded", "observations", observation.id)


def test_each_command_fires_exactly_its_lifecycle_hooks_once_after_the_commit(
        initialised, run, db, recording_plugin, dated, tmp_path):
    checker = CommitChecker(db)
    core.get_host().register(checker, name="commit-checker")
    try:
        for args, expected in _steps(tmp_path):
            recording_plugin.calls.clear()
            checker.seen.clear()
            result = run(*args)
            assert result.exit_code == 0, (args, result.stderr)
            assert "Warning" not in result.stderr, result.stderr
            fired = [hook for hook, _ in recording_plugin.calls if hook != "validate_change"]
            assert fired == expected, args
            assert [hook for hook, _, _ in checker.seen] == expected, args
            assert all(stored for _, _, stored in checker.seen), (args, checker.seen)
    finally:
        core.get_host().unregister("commit-checker")
    assert _stored_events(run) == STORED


def test_lifecycle_hooks_get_the_documented_arguments(initialised, run, recording_plugin, dated, tmp_path):
    by_command = {}
    for args, expected in _steps(tmp_path):
        recording_plugin.calls.clear()
        ok(run(*args))
        for hook, kwargs in recording_plugin.calls:
            by_command.setdefault(hook, []).append(kwargs)
    [ana, bo] = by_command["peer_added"]
    assert (ana["peer"].id, ana["peer"].name, ana["peer"].stage, bo["peer"].id) == ("P0001", "Ana", "prospect", "P0002")
    assert ana["tracker"].actor == "tester" and str(ana["tracker"].today) == TODAY
    [stage] = by_command["peer_stage_changed"]
    assert (stage["peer"].stage, stage["peer"].community) == ("contacted", "Eastside")  # the peer as stored now
    first, second, third = by_command["enrollment_started"]
    assert (first["enrollment"].peer_id, first["enrollment"].pathway, first["peer"].name) == ("P0001", "peer_to_peer", "Ana")
    assert (third["enrollment"].program, third["peer"].id) == ("connection", "P0002")
    records = by_command["step_recorded"]
    assert all(r["enrollment"].id == first["enrollment"].id == r["record"].enrollment_id for r in records)
    assert str(records[-1]["record"].until) == "2026-02-02"
    [granted] = by_command["certification_granted"]
    assert granted["enrollment"].id == granted["certification"].enrollment_id == first["enrollment"].id
    assert (str(granted["certification"].granted), granted["certification"].lapsed_on) == ("2026-02-02", None)
    [session] = by_command["session_recorded"]
    assert (session["session"].attendance, session["session"].leaders, session["offering"].id) == (6, ("P0001", "P0002"), "O0001")
    [observation] = by_command["observation_recorded"]
    assert (observation["observation"].checklist, observation["observation"].observer) == ("connection_meeting", "Pat")
    assert observation["offering"].program == "connection"
    [lapsed] = by_command["certification_lapsed"]
    assert lapsed["certification"].id == granted["certification"].id
    assert lapsed["enrollment"].id == first["enrollment"].id


@pytest.mark.parametrize("hook", LIFECYCLE_HOOKS)
def test_a_lifecycle_hook_that_raises_is_named_and_the_data_is_stored_once(
        initialised, run, recording_plugin, dated, tmp_path, hook):
    recording_plugin.fail_on = hook
    warning = f"Warning: plugin 'test-plugin' failed in {hook}: RuntimeError: {hook} exploded (the change itself was saved)"
    for args, expected in _steps(tmp_path):
        result = run(*args)
        assert result.exit_code == 0, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert result.stderr.splitlines() == ([warning] if hook in expected else []), args
    assert len(recording_plugin.hooks(hook)) == sum(hooks.count(hook) for _, hooks in STEPS)
    assert _stored_events(run) == STORED
    assert [p["id"] for p in json.loads(ok(run("peer", "list", "--json")))] == ["P0001", "P0002"]
    statuses = {s["program"]: s for s in json.loads(ok(run("--today", "2026-03-01", "progress", "P0001", "--json")))}
    assert {s["step"]: s["state"] for s in statuses["peer_to_peer"]["steps"]}["training"] == "done"


def test_a_hook_failing_for_one_plugin_does_not_stop_the_others(initialised, run, recording_plugin):
    seen = []

    class Other:
        @hookimpl
        def peer_added(self, peer):
            seen.append(peer.id)

    recording_plugin.fail_on = "peer_added"
    core.get_host().register(Other(), name="other")
    try:
        result = run("peer", "add", "Ana")
    finally:
        core.get_host().unregister("other")
    assert result.exit_code == 0 and result.stdout == "P0001\n"
    assert seen == ["P0001"]
    assert "plugin 'test-plugin' failed in peer_added" in result.stderr and "other" not in result.stderr


# --- validate_change: what it sees, vetoes of whole changes, warnings ---------------------------


def test_a_veto_of_the_certification_refuses_the_step_record_too(initialised, run, recording_plugin, db, dated):
    ok(run("peer", "add", "Ana", "--lived-experience", "self", "--consent", "adult=yes"))
    recording_plugin.validate = lambda change: Problem("certify by hand") if change.action == "certify" else None
    for args, _ in STEPS[4:9]:  # enrolled, and every step but the training recorded
        ok(run(*args))
    before = snapshot(db)  # the training completes the pathway: refusing the grant refuses the record
    assert_refused(run("record", "P0001", "peer_to_peer", "training", "--on", "2026-02-01", "--until", "2026-02-02"),
                   "refused by plugin 'test-plugin': certify by hand")
    assert snapshot(db) == before
    assert recording_plugin.hooks("certification_granted") == []
    assert len(recording_plugin.hooks("step_recorded")) == 4


def test_validate_change_is_asked_before_storing_with_action_and_actor(initialised, run, recording_plugin, dated, db):
    seen = []

    def look(change):
        seen.append((change.action, type(change.entity).__name__, change.actor))
        assert snapshot(db) == before  # nothing of this change is written yet

    recording_plugin.validate = look
    before = snapshot(db)
    ok(run("--as", "coordinator Kim", "peer", "add", "Ana", "--lived-experience", "self", "--consent", "adult=yes"))
    before = snapshot(db)
    ok(run("peer", "stage", "P0001", "contacted"))
    before = snapshot(db)
    ok(run("enroll", "P0001", "peer_to_peer", "--on", "2026-01-01"))
    assert seen == [("add", "Peer", "coordinator Kim"), ("stage", "Peer", "tester"),
                    ("enroll", "Enrollment", "tester")]


def test_a_warning_on_a_change_that_is_then_refused_is_not_shown(initialised, run, recording_plugin, db, dated):
    """A refused change stores nothing, so the refusal is the one line printed."""
    ok(run("peer", "add", "Ana", "--lived-experience", "self", "--consent", "adult=yes"))
    for args, _ in STEPS[4:9]:  # enrolled, and every step but the training recorded
        ok(run(*args))

    def answer(change):
        if change.action == "record":
            return Problem("recorded without a trainer", level="warning")
        if change.action == "certify":
            return Problem("certify by hand")
        return None

    recording_plugin.validate = answer
    before = snapshot(db)
    assert_refused(run("record", "P0001", "peer_to_peer", "training", "--on", "2026-02-01", "--until", "2026-02-02"),
                   "certify by hand")
    assert snapshot(db) == before


def test_several_problems_from_one_plugin(initialised, run, recording_plugin, db):
    recording_plugin.validate = lambda change: [Problem("first", level="warning"), Problem("second", level="warning")]
    result = run("peer", "add", "Ana")
    assert ok(result) == "P0001\n"
    assert result.stderr.splitlines() == ["Warning: plugin 'test-plugin': first", "Warning: plugin 'test-plugin': second"]
    recording_plugin.validate = lambda change: [Problem("fine", level="warning"), Problem("but no")]
    before = snapshot(db)
    assert_refused(run("peer", "add", "Bo"), "refused by plugin 'test-plugin': but no")
    assert snapshot(db) == before


# --- plugins list / enable / disable / loading ----------------------------------------------------


def test_plugins_list_json_and_table_columns(initialised, run, recording_plugin):
    rows = json.loads(ok(run("plugins", "list", "--json")))
    for row in rows:
        assert {"name", "version", "source", "enabled", "hooks"} <= set(row)
        assert isinstance(row["enabled"], bool) and isinstance(row["hooks"], list)
    listed = {row["name"]: row for row in rows}
    assert (listed["step_kinds"]["source"], listed["step_kinds"]["hooks"]) == ("core", ["register_step_kinds"])
    assert listed["connection"]["source"] == "built-in"
    assert set(listed["test-plugin"]["hooks"]) == {"validate_change", *LIFECYCLE_HOOKS}
    assert listed["test-plugin"]["source"] == "test"
    ok(run("plugins", "disable", "connection"))
    listed = {row["name"]: row for row in json.loads(ok(run("plugins", "list", "--json")))}
    assert listed["connection"]["enabled"] is False and listed["crss"]["enabled"] is True
    table = ok(run("plugins", "list")).splitlines()
    assert table[0].split() == ["name", "version", "source", "enabled", "hooks"]
    [connection] = [line for line in table if line.startswith("connection ")]
    assert connection.split()[:4] == ["connection", listed["connection"]["version"], "built-in", "no"]


def test_disabling_hides_checklists_settings_and_enrolments_and_keeps_the_records(initialised, run, db, dated):
    ok(run("peer", "add", "Ana", "--lived-experience", "self", "--consent", "adult=yes"))
    ok(run("enroll", "P0001", "connection", "--on", "2026-01-01"))
    ok(run("offering", "add", "connection", "Tuesday group", "--leaders", "P0001"))
    assert "connection_meeting" in ok(run("checklists", "list"))
    ok(run("plugins", "disable", "connection"))
    assert "connection" not in ok(run("programs", "list"))
    assert "connection_meeting" not in ok(run("checklists", "list"))
    assert not [s for s in json.loads(ok(run("config", "show", "--json"))) if s["key"].startswith("connection.")]
    assert_refused(run("enroll", "P0001", "connection"), "connection")
    assert json.loads(ok(run("leaders", "--json"))) == []
    with Tracker(db=db).store.read() as tx:
        assert [e["program"] for e in tx.all("enrollments")] == ["connection"]  # the records stay stored
    assert [e["action"] for e in json.loads(ok(run("audit", "--json")))][-1] == "disable"
    ok(run("plugins", "enable", "connection"))
    assert "connection_meeting" in ok(run("checklists", "list"))
    [status] = json.loads(ok(run("progress", "P0001", "--json")))
    assert status["program"] == "connection"


def test_enable_and_disable_are_idempotent_and_recorded_once(initialised, run, db):
    ok(run("plugins", "disable", "crss"))
    before = snapshot(db)
    ok(run("plugins", "disable", "crss"))
    assert snapshot(db) == before
    ok(run("plugins", "enable", "crss"))
    ok(run("plugins", "enable", "crss"))
    actions = [(e["action"], e["entity_id"]) for e in json.loads(ok(run("audit", "--json")))
               if e["entity"] == "plugin"]
    assert actions == [("disable", "crss"), ("enable", "crss")]


def test_load_plugins_with_a_list_loads_those_and_always_core(tmp_path):
    env = {**os.environ, "PEERPATH_DB": str(tmp_path / "db.json"), "PEERPATH_LOAD_PLUGINS": " crss , connection "}
    result = _run_cli(env, "plugins", "list", "--json")
    assert result.returncode == 0, result.stderr
    assert {p["name"] for p in json.loads(result.stdout)} == {"reports", "step_kinds", "crss", "connection"}
    env["PEERPATH_LOAD_PLUGINS"] = ""
    result = _run_cli(env, "plugins", "list", "--json")
    assert {p["name"] for p in json.loads(result.stdout)} == {"reports", "step_kinds"}


MISSPELLED_PLUGIN = '''
from peerpath.core import hookimpl


@hookimpl
def peer_addded(peer, tracker):
    pass
'''


def test_an_installed_plugin_with_a_misspelled_hook_is_broken_by_name_and_the_rest_work(tmp_path):
    env = install_plugin(tmp_path, "typo", "peerpath_typo", MISSPELLED_PLUGIN)
    listed = _run_cli(env, "plugins", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert "peer_addded" in rows["typo"]["error"]
    assert rows["typo"]["hooks"] == []
    assert rows["connection"]["error"] is None
    table = _run_cli({**env, "COLUMNS": "300"}, "plugins", "list")  # wide enough for the error on one line
    [line] = [line for line in table.stdout.splitlines() if line.startswith("typo ")]
    assert "BROKEN" in line and "peer_addded" in line
    checked = _run_cli(env, "plugins", "check", "typo")
    assert checked.returncode == 1 and "Traceback" not in checked.stderr
    assert "typo" in checked.stdout + checked.stderr
    assert _run_cli(env, "init").returncode == 0
    added = _run_cli(env, "peer", "add", "Ana")
    assert (added.returncode, added.stdout) == (0, "P0001\n")


def test_a_misspelled_argument_fails_loudly_too():
    class WrongArgument:
        @hookimpl
        def peer_added(self, peer, trackr):
            pass

    host = core.get_host()
    with pytest.raises(Exception, match="trackr"):
        host.register(WrongArgument(), name="wrong-argument")
    assert not host.pm.has_plugin("wrong-argument")
    host.pm.check_pending()  # and it leaves nothing behind that would fail the next plugin


# --- hooks go through pluggy: wrappers, tryfirst and trylast ----------------------------------------


@pytest.fixture
def registered():
    """Register in-process plugins for one test: registered(plugin, name)."""
    names = []

    def register(plugin, name):
        core.get_host().register(plugin, name=name)
        names.append(name)

    yield register
    for name in names:
        core.get_host().unregister(name)


def test_lifecycle_hooks_honour_tryfirst_trylast_and_wrappers(initialised, run, registered):
    calls = []

    class Last:
        @hookimpl(trylast=True)
        def peer_added(self, peer):
            calls.append("last")

    class First:
        @hookimpl(tryfirst=True)
        def peer_added(self, peer):
            calls.append("first")

    class Around:
        @hookimpl(wrapper=True)
        def peer_added(self, peer, tracker):
            calls.append(f"before {peer.id}")
            result = yield
            calls.append(f"after {peer.id}")
            return result

    # Registered last-first: pluggy's order would otherwise be the reverse of registration.
    registered(First(), "first"), registered(Last(), "last"), registered(Around(), "around")
    ok(run("peer", "add", "Ana"))
    assert calls == ["before P0001", "first", "last", "after P0001"]


def test_a_hook_wrapper_can_change_what_validate_change_answers(initialised, run, registered):
    class Warner:
        @hookimpl
        def validate_change(self, change):
            return [Problem("no email yet", level="warning")]

    class Quiet:
        @hookimpl(wrapper=True)
        def validate_change(self, change):
            answers = yield
            return [answer for answer in answers if not all(p.level == "warning" for p in answer)]

    registered(Warner(), "warner")
    assert "Warning: plugin 'warner': no email yet" in run("peer", "add", "Ana").stderr
    registered(Quiet(), "quiet")
    result = run("peer", "add", "Bo")
    assert ok(result) == "P0002\n" and "Warning" not in result.stderr


def test_a_disabled_plugin_is_left_out_of_the_hook_call_even_as_a_wrapper(initialised, run, registered):
    calls = []

    class Around:
        @hookimpl(wrapper=True)
        def peer_added(self, peer):
            calls.append(peer.id)
            return (yield)

    registered(Around(), "around")
    ok(run("plugins", "disable", "around"))
    ok(run("peer", "add", "Ana"))
    ok(run("plugins", "enable", "around"))
    ok(run("peer", "add", "Bo"))
    assert calls == ["P0002"]
