"""The plugin developer kit: the Family-to-Family example installed by entry point and working
end to end with no change to core, its own test suite passing against the fixtures peerpath
ships, and `plugins check` catching each kind of defect in deliberately broken plugins."""

import configparser
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "peerpath-family-to-family"


def install_by_entry_point(site: Path, project: Path) -> None:
    """Make `project` importable with its `peerpath` entry points, exactly as pip records them:
    a dist-info folder holding METADATA and entry_points.txt, found by importlib.metadata."""
    config = configparser.ConfigParser()
    config.read(project / "setup.cfg")
    name, version = config["metadata"]["name"], config["metadata"]["version"]
    dist = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    entry_points = config["options.entry_points"]["peerpath"].strip().splitlines()
    (dist / "entry_points.txt").write_text("[peerpath]\n" + "\n".join(entry_points) + "\n")
    (site / f"{name}.pth").write_text(str(project) + "\n")  # as an editable install adds it to sys.path


WIDE = "300"  # COLUMNS: a terminal wide enough that `plugins list` rows are whole lines


@pytest.fixture
def f2f_env(tmp_path) -> dict:
    site = tmp_path / "site"
    site.mkdir()
    install_by_entry_point(site, EXAMPLE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERPATH_")}
    env.update({"PEERPATH_DB": str(tmp_path / "affiliate.json"), "PEERPATH_USER": "trainer",
                "PEERPATH_TODAY": "2026-06-01", "PYTHONPATH": os.pathsep.join([str(site), str(EXAMPLE)]),
                "COLUMNS": WIDE})
    return env


def peerpath(env, *args, code=0):
    # `site.addsitedir` reads the .pth file as pip's site-packages would; then the real CLI runs.
    program = ("import site, sys; folder = sys.argv.pop(1); folder and site.addsitedir(folder); "
               "sys.argv[0] = 'peerpath'; from peerpath.cli import cli; cli()")
    site_dir = env.get("PYTHONPATH", "").split(os.pathsep)[0]
    result = subprocess.run([sys.executable, "-c", program, site_dir, *map(str, args)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == code, result.stdout + result.stderr
    return result


def plain_env(tmp_path) -> dict:
    """peerpath with only its own plugins, on the database in tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERPATH_") and k != "PYTHONPATH"}
    env.update({"PEERPATH_DB": str(tmp_path / "db.json"), "PEERPATH_USER": "trainer",
                "PEERPATH_TODAY": "2026-06-01", "COLUMNS": WIDE})
    return env


def install_module(site: Path, module: str, source: str, plugin: str) -> None:
    """A one-module plugin package `module` declaring the entry point `plugin`, as pip installs it."""
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(source)
    dist = site / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[peerpath]\n{plugin} = {module}\n")


def test_the_example_is_listed_enabled_and_disabled_with_its_data_kept(f2f_env):
    peerpath(f2f_env, "init")
    [plugin] = [p for p in json.loads(peerpath(f2f_env, "plugins", "list", "--json").stdout)
                if p["name"] == "family_to_family"]
    assert (plugin["version"], plugin["source"], plugin["enabled"]) == ("1.0.0", "peerpath-family-to-family", True)
    assert (plugin["error"], plugin["problems"]) == (None, [])
    assert {"register_programs", "register_checklists", "register_reports", "register_commands",
            "certification_granted"} <= set(plugin["hooks"])
    [row] = [line.split() for line in peerpath(f2f_env, "plugins", "list").stdout.splitlines()
             if line.startswith("family_to_family ")]
    assert row[:4] == ["family_to_family", "1.0.0", "peerpath-family-to-family", "yes"]
    assert peerpath(f2f_env, "plugins", "check", "family_to_family").stdout.strip() == "family_to_family: ok"
    assert "family_to_family" in peerpath(f2f_env, "programs", "list").stdout
    peerpath(f2f_env, "peer", "add", "Mae", "--lived-experience", "family")
    peerpath(f2f_env, "enroll", "P0001", "family_to_family")
    peerpath(f2f_env, "record", "P0001", "family_to_family", "affiliate_interview", "--outcome", "passed")

    assert "Disabled family_to_family" in peerpath(f2f_env, "plugins", "disable", "family_to_family").stdout
    [plugin] = [p for p in json.loads(peerpath(f2f_env, "plugins", "list", "--json").stdout)
                if p["name"] == "family_to_family"]
    assert plugin["enabled"] is False
    assert "family_to_family" not in peerpath(f2f_env, "programs", "list").stdout
    assert "No such command 'f2f-ready'" in peerpath(f2f_env, "f2f-ready", code=2).stderr
    assert "unknown report 'f2f_classes'" in peerpath(f2f_env, "report", "f2f_classes", code=1).stderr
    refused = peerpath(f2f_env, "record", "P0001", "family_to_family", "fidelity_agreement", code=1)
    assert "unknown program 'family_to_family'" in refused.stderr
    assert peerpath(f2f_env, "progress", "P0001", "--json").stdout.strip() == "[]"

    assert "Enabled family_to_family" in peerpath(f2f_env, "plugins", "enable", "family_to_family").stdout
    [status] = json.loads(peerpath(f2f_env, "progress", "P0001", "--json").stdout)
    assert (status["program"], status["status"]) == ("family_to_family", "in training")
    steps = {s["step"]: s["state"] for s in status["steps"]}
    assert (steps["affiliate_interview"], steps["fidelity_agreement"]) == ("done", "missing")
    # Nothing was written while the plugin was off: the refused record left no trace.
    audit = peerpath(f2f_env, "audit", "--peer", "P0001").stdout
    assert audit.count(" record ") == 1 and "fidelity_agreement" not in audit


def test_a_teacher_is_walked_through_the_example_pathway(f2f_env, tmp_path):
    peerpath(f2f_env, "init")
    peerpath(f2f_env, "peer", "add", "Mae", "--lived-experience", "family")
    peerpath(f2f_env, "peer", "add", "Lou", "--lived-experience", "both", "--consent", "adult=yes")
    for peer in ("P0001", "P0002"):
        peerpath(f2f_env, "enroll", peer, "family_to_family", "--on", "2026-01-01")
        peerpath(f2f_env, "record", peer, "family_to_family", "affiliate_interview", "--outcome", "passed",
                 "--on", "2026-01-05")
        peerpath(f2f_env, "record", peer, "family_to_family", "fidelity_agreement", "--on", "2026-01-06")
    # Training before the fidelity agreement is refused in the example's pathway too.
    peerpath(f2f_env, "peer", "add", "Kim", "--lived-experience", "both", "--consent", "adult=yes")
    peerpath(f2f_env, "enroll", "P0003", "family_to_family", "--on", "2026-01-01")
    early = peerpath(f2f_env, "record", "P0003", "family_to_family", "training", "--on", "2026-01-09", code=1)
    assert "'training' needs 'fidelity_agreement' first" in early.stderr
    peerpath(f2f_env, "record", "P0001", "family_to_family", "training", "--on", "2026-01-09", "--until", "2026-01-10")
    [status] = json.loads(peerpath(f2f_env, "progress", "P0001", "--json").stdout)
    assert {s["step"]: s["summary"] for s in status["steps"]}["training"] == "2/3 days"
    for peer in ("P0001", "P0002"):
        peerpath(f2f_env, "record", peer, "family_to_family", "training", "--on", "2026-01-09", "--until", "2026-01-11")
    assert "P0001  Mae" in peerpath(f2f_env, "f2f-ready").stdout
    peerpath(f2f_env, "offering", "add", "family_to_family", "Spring class", "--leaders", "P0001,P0002")
    for week in range(8):
        peerpath(f2f_env, "session", "add", "O0001", "--on", f"2026-03-{week * 3 + 2:02d}")
    for peer in ("P0001", "P0002"):
        [status] = json.loads(peerpath(f2f_env, "progress", peer, "--json").stdout)
        assert (status["status"], status["certified_on"]) == ("certified", "2026-03-23")
        # The example's certification_granted hook left a note on the record, audited as a change.
        shown = json.loads(peerpath(f2f_env, "peer", "show", peer, "--json").stdout)
        assert shown["notes"] == "2026-03-23: certified Family-to-Family teacher, may lead classes"
        assert " edit " in peerpath(f2f_env, "audit", "--peer", peer).stdout
    assert peerpath(f2f_env, "f2f-ready").stdout == ""
    report = json.loads(peerpath(f2f_env, "report", "f2f_classes", "--json").stdout)
    assert report["figures"] == {"classes": 1, "sessions_held": 8}
    assert report["tables"][0]["rows"] == [["O0001", "Spring class", "P0001, P0002", 8, 8]]
    # Its defaults are affiliate settings: progress follows the value in force.
    peerpath(f2f_env, "config", "set", "family_to_family.co_teach.min", "16")
    [status] = json.loads(peerpath(f2f_env, "progress", "P0002", "--json").stdout)
    assert {s["step"]: s["summary"] for s in status["steps"]}["co_teach"] == "8/16 class sessions"


def test_the_examples_own_tests_pass_with_peerpaths_fixtures(f2f_env):
    site = f2f_env["PYTHONPATH"].split(os.pathsep)[0]
    program = ("import site, sys; site.addsitedir(sys.argv.pop(1)); import pytest; "
               "sys.exit(pytest.main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", program, site, "-q", "-p", "no:cacheprovider",
                             str(EXAMPLE / "tests")], env=f2f_env, capture_output=True, text=True,
                            timeout=300, cwd=EXAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


# --- deliberately broken plugins -----------------------------------------------------------------

GOOD_STEP = 'Step("training", "Training", "training", {"days": 1})'


def program_plugin(steps: str, extra: str = "", pathway_extra: str = "", program_extra: str = "") -> str:
    return f'''
from peerpath.core import Band, Checklist, ChecklistItem, Pathway, ProgramModel, Role, Step, hookimpl

@hookimpl
def register_programs(register):
    register(ProgramModel(key="broken_program", title="Broken", roles=[Role("leader", "Leader", pathway="bp")],
                          pathways=[Pathway(key="bp", title="BP", steps=[{steps}]{pathway_extra})]{program_extra}))
{extra}
'''


CHECKLIST = '''
@hookimpl
def register_checklists(register):
    register(Checklist(key="bp_check", program="broken_program", title="C", version="1",
                       items=[ChecklistItem("a", "A")], bands=[{bands}], pass_band="good"))
'''

# defect: (plugin source, fragments that one line of `plugins check broken` must all contain)
BROKEN = {
    "import_error": ("import no_such_module\n", "cannot load", "no_such_module"),
    "duplicate_step": (program_plugin(f"{GOOD_STEP}, {GOOD_STEP}"), "program 'broken_program'",
                       "step 'training' is declared twice"),
    "missing_prerequisite": (program_plugin('Step("a", "A", "attestation", requires=["nowhere"])'),
                             "pathway 'bp'", "step 'a' requires unknown step 'nowhere'"),
    "prerequisite_cycle": (program_plugin('Step("a", "A", "attestation", requires=["b"]), '
                                          'Step("b", "B", "attestation", requires=["a"])'),
                           "pathway 'bp'", "prerequisites form a cycle"),
    "unreachable_certification": (program_plugin('Step("a", "A", "attestation", optional=True)'),
                                  "pathway 'bp'", "certification is never reached"),
    "bands_with_a_gap": (program_plugin(GOOD_STEP, CHECKLIST.format(bands='Band("good", 80)')),
                         "checklist 'bp_check'", "lowest band must start at 0%"),
    "band_above_100": (program_plugin(GOOD_STEP, CHECKLIST.format(bands='Band("good", 120), Band("low", 0)')),
                       "checklist 'bp_check'", "band 'good' starts outside 0-100% (120)"),
    "pass_band_not_a_band": (program_plugin(GOOD_STEP, CHECKLIST.format(bands='Band("fine", 80), Band("low", 0)')),
                             "checklist 'bp_check'", "pass_band 'good' is not one of its bands"),
    "default_of_the_wrong_type": (program_plugin('Step("training", "Training", "training", {"days": "two"})'),
                                  "step 'training'", "parameter 'days' must be a number"),
    "fractional_days": (program_plugin('Step("training", "Training", "training", {"days": 2.5})'),
                        "step 'training'", "parameter 'days' must be a whole number, not 2.5"),
    "format_default_of_the_wrong_type": (program_plugin(GOOD_STEP, program_extra=', format={"sessions": {"n": 8}}'),
                                         "program 'broken_program'", "default 'sessions' must be a number"),
    "validity_of_the_wrong_type": (program_plugin(GOOD_STEP, pathway_extra=', validity_days="2 years"'),
                                   "pathway 'bp'", "validity_days must be a whole number"),
    "unknown_step_kind": (program_plugin('Step("a", "A", "telepathy")'), "step 'a'", "unknown step kind 'telepathy'"),
    "unknown_checklist": (program_plugin('Step("seen", "Seen", "observation", {"checklist": "nope", "min_percent": 80})'),
                          "step 'seen'", "parameter 'checklist' names unknown checklist 'nope'"),
    "provider_that_raises": ('from peerpath.core import hookimpl\n\n@hookimpl\ndef register_programs(register):\n'
                             '    raise RuntimeError("registry offline")\n', "register_programs", "registry offline"),
    "command_hook_that_raises": ('from peerpath.core import hookimpl\n\n@hookimpl\ndef register_commands(cli):\n'
                                 '    raise RuntimeError("no commands today")\n', "register_commands",
                                 "RuntimeError: no commands today"),
    "misspelled_hook": ('from peerpath.core import hookimpl\n\n@hookimpl\ndef register_programmes(register):\n    pass\n',
                        "cannot load", "register_programmes"),
}


def snapshot(folder: Path) -> dict:
    """Every stored byte of the database in `folder` (the lock file aside)."""
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and not path.name.endswith(".lock")}


@pytest.fixture(scope="module")
def stored_affiliate(tmp_path_factory) -> Path:
    """An affiliate's database, made before any broken plugin is installed."""
    folder = tmp_path_factory.mktemp("affiliate")
    env = plain_env(folder)
    peerpath(env, "init")
    assert peerpath(env, "peer", "add", "Ana", "--lived-experience", "self", "--consent", "adult=yes").stdout == "P0001\n"
    peerpath(env, "enroll", "P0001", "connection", "--on", "2026-03-01")
    peerpath(env, "record", "P0001", "connection", "application", "--on", "2026-03-01")
    return folder


@pytest.mark.parametrize("defect", sorted(BROKEN))
def test_plugins_check_names_each_defect_and_the_others_keep_working(tmp_path, stored_affiliate, defect):
    source, *fragments = BROKEN[defect]
    shutil.copytree(stored_affiliate, tmp_path / "affiliate")
    env = plain_env(tmp_path / "affiliate")
    stored = snapshot(tmp_path / "affiliate")
    site = tmp_path / "site"
    install_module(site, "broken_plugin", source, "broken")
    env["PYTHONPATH"] = str(site)

    checked = peerpath(env, "plugins", "check", "broken", code=1)
    assert checked.stdout.startswith("broken: "), checked.stdout
    problems = [line.strip() for line in checked.stdout.splitlines() if line.strip().startswith("plugin 'broken'")]
    assert problems, checked.stdout
    assert any(all(fragment in line for fragment in fragments) for line in problems), problems
    assert "Traceback" not in checked.stderr
    listed = peerpath(env, "plugins", "list").stdout.splitlines()
    [row] = [line for line in listed if line.startswith("broken ")]
    assert row.split()[:3] == ["broken", "0.1", "broken-plugin"]
    if "cannot load" in fragments:  # never loaded, so not enabled either
        assert row.split()[3:5] == ["no", "BROKEN:"] and fragments[-1] in row
    else:
        assert row.split()[3] == "yes" and row.endswith(f"{len(problems)} PROBLEM(S), see 'peerpath plugins check broken'")
    # The other plugins are listed as usual and still pass the contract: only `broken` fails.
    assert not [line for line in listed if "PROBLEM" in line or "BROKEN" in line if not line.startswith("broken ")]
    everything = peerpath(env, "plugins", "check", code=1).stdout.splitlines()
    assert {"connection: ok", "peer_education: ok", "crss: ok", "step_kinds: ok", "reports: ok"} <= set(everything)
    assert snapshot(tmp_path / "affiliate") == stored, "checking and listing must not write"

    # The built-in programs keep working on the stored data...
    peerpath(env, "record", "P0001", "connection", "interview", "--outcome", "passed", "--on", "2026-03-02")
    assert peerpath(env, "peer", "add", "Ben", "--lived-experience", "both", "--consent", "adult=yes").stdout == "P0002\n"
    # ...and what was written with the broken plugin installed reads back without it.
    del env["PYTHONPATH"]
    [status] = json.loads(peerpath(env, "progress", "P0001", "--json").stdout)
    steps = {s["step"]: s["state"] for s in status["steps"]}
    assert (steps["application"], steps["interview"]) == ("done", "done")


RAISING_LIFECYCLE = '''
from peerpath.core import hookimpl

@hookimpl
def step_recorded(record):
    raise RuntimeError(f"mailer down while announcing {record.id}")

@hookimpl
def certification_granted(certification):
    raise RuntimeError("mailer down")
'''


def test_a_lifecycle_hook_that_raises_is_named_and_the_change_is_kept(tmp_path):
    env = plain_env(tmp_path)
    site = tmp_path / "site"
    install_module(site, "noisy_plugin", RAISING_LIFECYCLE, "noisy")
    env["PYTHONPATH"] = str(site)
    # Nothing is wrong with it statically: the contract passes and the list shows its hooks.
    assert peerpath(env, "plugins", "check", "noisy").stdout.strip() == "noisy: ok"
    [row] = [line for line in peerpath(env, "plugins", "list").stdout.splitlines() if line.startswith("noisy ")]
    assert row.split()[:4] == ["noisy", "0.1", "noisy-plugin", "yes"]
    assert row.endswith("certification_granted, step_recorded")
    peerpath(env, "init")
    peerpath(env, "peer", "add", "Ana", "--lived-experience", "self", "--consent", "adult=yes")
    peerpath(env, "enroll", "P0001", "connection", "--on", "2026-03-01")
    result = peerpath(env, "record", "P0001", "connection", "application", "--on", "2026-03-01")
    assert result.stdout.startswith("R0001: recorded application for P0001")
    assert result.stderr.splitlines() == [
        "Warning: plugin 'noisy' failed in step_recorded: RuntimeError: mailer down while announcing R0001 "
        "(the change itself was saved)"]
    [status] = json.loads(peerpath(env, "progress", "P0001", "--json").stdout)
    assert {s["step"]: s["state"] for s in status["steps"]}["application"] == "done"
    assert peerpath(env, "audit", "--peer", "P0001").stdout.count(" record ") == 1
    # Disabled, its hooks are no longer called; the next record is quiet.
    peerpath(env, "plugins", "disable", "noisy")
    quiet = peerpath(env, "record", "P0001", "connection", "interview", "--outcome", "passed", "--on", "2026-03-02")
    assert quiet.stderr == ""


def test_the_tutorials_code_runs_against_the_public_api():
    import re

    from peerpath import core

    text = (ROOT / "docs" / "writing-plugins.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    assert len(blocks) >= 6
    namespace = {}
    for index, block in enumerate(blocks):
        assert "from peerpath.core." not in block.replace("from peerpath.core.testing", ""), "the tutorial uses only `peerpath.core`"
        exec(compile(block, f"docs/writing-plugins.md block {index}", "exec"), namespace)  # noqa: S102
    assert namespace["PROGRAM"].key == "family_to_family"
    assert set(core.__all__) >= {"Pathway", "ProgramModel", "Checklist", "Report", "ReportResult", "Table", "Tracker"}


def test_the_example_is_the_tutorials_code():
    """The example package holds the tutorial's program, checklist, report and command verbatim."""
    import re

    text = (ROOT / "docs" / "writing-plugins.md").read_text(encoding="utf-8")
    module = (EXAMPLE / "peerpath_family_to_family" / "__init__.py").read_text(encoding="utf-8")
    for name in ("PATHWAY = Pathway(", "CLASS_CHECKLIST = Checklist(", "def classes_report(", "def register_commands(",
                 "def certification_granted("):
        # From the line that starts the definition to the next line that starts at the margin.
        block = re.search(rf"^{re.escape(name)}.*?(?=^\S|\Z)", text, re.DOTALL | re.MULTILINE)
        assert block and block.group(0).strip() in module, name
