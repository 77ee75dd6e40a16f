"""The plugin developer kit: the Family-to-Family example installed by entry point and working
end to end with no change to core, its own test suite passing against the fixtures peerpath
ships, and `plugins check` catching each kind of defect in deliberately broken plugins."""

import configparser
import json
import os
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


@pytest.fixture
def f2f_env(tmp_path) -> dict:
    site = tmp_path / "site"
    site.mkdir()
    install_by_entry_point(site, EXAMPLE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERPATH_")}
    env.update({"PEERPATH_DB": str(tmp_path / "affiliate.json"), "PEERPATH_USER": "trainer",
                "PEERPATH_TODAY": "2026-06-01", "PYTHONPATH": os.pathsep.join([str(site), str(EXAMPLE)])})
    return env


def peerpath(env, *args, code=0):
    # `site.addsitedir` reads the .pth file as pip's site-packages would; then the real CLI runs.
    program = ("import site, sys; site.addsitedir(sys.argv.pop(1)); sys.argv[0] = 'peerpath'; "
               "from cli import cli; cli()")
    result = subprocess.run([sys.executable, "-c", program, env["PYTHONPATH"].split(os.pathsep)[0],
                             *map(str, args)], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == code, result.stderr
    return result


def test_the_example_is_listed_enabled_and_disabled_with_its_data_kept(f2f_env):
    peerpath(f2f_env, "init")
    [plugin] = [p for p in json.loads(peerpath(f2f_env, "plugins", "list", "--json").stdout)
                if p["name"] == "family_to_family"]
    assert (plugin["version"], plugin["enabled"]) == ("1.0.0", True)
    assert "peerpath-family-to-family" in plugin["source"]
    assert {"register_programs", "register_checklists", "register_reports", "register_commands",
            "certification_granted"} <= set(plugin["hooks"])
    assert peerpath(f2f_env, "plugins", "check", "family_to_family").stdout.strip() == "family_to_family: ok"
    peerpath(f2f_env, "peer", "add", "Mae", "--lived-experience", "family")
    peerpath(f2f_env, "enroll", "P0001", "family_to_family")
    peerpath(f2f_env, "plugins", "disable", "family_to_family")
    assert "family_to_family" not in peerpath(f2f_env, "programs", "list").stdout
    assert "No such command 'f2f-ready'" in peerpath(f2f_env, "f2f-ready", code=2).stderr
    peerpath(f2f_env, "plugins", "enable", "family_to_family")
    [status] = json.loads(peerpath(f2f_env, "progress", "P0001", "--json").stdout)
    assert (status["program"], status["status"]) == ("family_to_family", "in training")


def test_a_teacher_is_walked_through_the_example_pathway(f2f_env, tmp_path):
    peerpath(f2f_env, "init")
    peerpath(f2f_env, "peer", "add", "Mae", "--lived-experience", "family")
    peerpath(f2f_env, "peer", "add", "Lou", "--lived-experience", "both")
    for peer in ("P0001", "P0002"):
        peerpath(f2f_env, "enroll", peer, "family_to_family", "--on", "2026-01-01")
        peerpath(f2f_env, "record", peer, "family_to_family", "affiliate_interview", "--outcome", "passed",
                 "--on", "2026-01-05")
        peerpath(f2f_env, "record", peer, "family_to_family", "teacher_agreement", "--on", "2026-01-06")
        peerpath(f2f_env, "record", peer, "family_to_family", "training", "--on", "2026-01-10", "--until", "2026-01-11")
    assert "P0001  Mae" in peerpath(f2f_env, "f2f-ready").stdout
    peerpath(f2f_env, "offering", "add", "family_to_family", "Spring class", "--leaders", "P0001,P0002")
    for week in range(8):
        last = peerpath(f2f_env, "session", "add", "O0001", "--on", f"2026-03-{week * 3 + 2:02d}")
    assert "P0002 is now a certified Family-to-Family teacher" in last.stderr
    [status] = json.loads(peerpath(f2f_env, "progress", "P0002", "--json").stdout)
    assert status["status"] == "certified"
    report = json.loads(peerpath(f2f_env, "report", "f2f_classes", "--json").stdout)
    assert report["figures"] == {"classes": 1, "sessions_held": 8}
    peerpath(f2f_env, "config", "set", "family_to_family.training.days", "3")
    [status] = json.loads(peerpath(f2f_env, "progress", "P0002", "--json").stdout)
    assert {s["step"]: s["summary"] for s in status["steps"]}["training"] == "2/3 days"


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


def program_plugin(steps: str, extra: str = "", pathway_extra: str = "") -> str:
    return f'''
from core import Band, Checklist, ChecklistItem, Pathway, ProgramModel, Role, Step, hookimpl

@hookimpl
def register_programs(register):
    register(ProgramModel(key="broken_program", title="Broken", roles=[Role("leader", "Leader", pathway="bp")],
                          pathways=[Pathway(key="bp", title="BP", steps=[{steps}]{pathway_extra})]))
{extra}
'''


CHECKLIST = '''
@hookimpl
def register_checklists(register):
    register(Checklist(key="bp_check", program="broken_program", title="C", version="1",
                       items=[ChecklistItem("a", "A")], bands=[{bands}]))
'''

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
    "default_of_the_wrong_type": (program_plugin('Step("training", "Training", "training", {"days": "two"})'),
                                  "step 'training'", "parameter 'days' must be a number"),
    "validity_of_the_wrong_type": (program_plugin(GOOD_STEP, pathway_extra=', validity_days="2 years"'),
                                   "pathway 'bp'", "validity_days must be a whole number"),
    "unknown_step_kind": (program_plugin('Step("a", "A", "telepathy")'), "step 'a'", "unknown step kind 'telepathy'"),
    "provider_that_raises": ('from core import hookimpl\n\n@hookimpl\ndef register_programs(register):\n'
                             '    raise RuntimeError("registry offline")\n', "register_programs", "registry offline"),
    "misspelled_hook": ('from core import hookimpl\n\n@hookimpl\ndef register_programmes(register):\n    pass\n',
                        "cannot load", "register_programmes"),
}


@pytest.mark.parametrize("defect", sorted(BROKEN))
def test_plugins_check_names_each_defect_and_the_others_keep_working(tmp_path, defect):
    source, *fragments = BROKEN[defect]
    site = tmp_path / "site"
    site.mkdir()
    (site / "broken_plugin.py").write_text(source)
    dist = site / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[peerpath]\nbroken = broken_plugin\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEERPATH_")}
    env.update({"PEERPATH_DB": str(tmp_path / "db.json"), "PYTHONPATH": str(site)})

    checked = peerpath(env, "plugins", "check", "broken", code=1)
    problems = [line.strip() for line in checked.stdout.splitlines() if line.strip().startswith("plugin 'broken'")]
    assert problems, checked.stdout
    assert any(all(fragment in line for fragment in fragments) for line in problems), problems
    assert "Traceback" not in checked.stderr
    [row] = [line for line in peerpath(env, "plugins", "list").stdout.splitlines() if line.startswith("broken ")]
    assert "BROKEN: " in row or "1 PROBLEM(S), see 'peerpath plugins check broken'" in row
    # The other plugins and the data are untouched.
    peerpath(env, "init")
    assert peerpath(env, "peer", "add", "Ana", "--lived-experience", "self").stdout == "P0001\n"
    peerpath(env, "enroll", "P0001", "connection")
    assert "connection" in peerpath(env, "programs", "list").stdout
    assert peerpath(env, "plugins", "check", "connection").stdout.strip() == "connection: ok"


def test_the_tutorials_code_runs_against_the_public_api():
    import re

    import core

    text = (ROOT / "docs" / "writing-plugins.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    assert len(blocks) >= 6
    namespace = {}
    for index, block in enumerate(blocks):
        assert "from core." not in block.replace("from core.testing", ""), "the tutorial uses only `core`"
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
