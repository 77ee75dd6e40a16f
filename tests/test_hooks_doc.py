"""Meta-test: every hook spec is documented in docs/hooks.md and exercised by a test, every
documented hook exists, and the documentation's examples are valid implementations of the specs.

Adding a hook spec to core/hookspecs.py without a `## name` section in docs/hooks.md, or without
a test naming it in some tests/test_*.py other than this file, fails here."""

import inspect
import re
import types
from pathlib import Path

import pluggy
import pytest

from peerpath import core
from peerpath.core import hookspecs

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
PROJECT = "peerpath"  # the name given to pluggy.HookspecMarker in core/hookspecs.py
SPECS = sorted(name for name, value in vars(hookspecs).items()
               if callable(value) and hasattr(value, f"{PROJECT}_spec"))


# --- the checks, as functions so that they can be shown to catch what they are for -------------


def sections(doc: str) -> dict:
    """`## heading` -> the text of its section (up to the next `## ` heading)."""
    parts = re.split(r"^## (.*)$", doc, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def headings(doc: str) -> list:
    return [heading.strip() for heading in re.findall(r"^## (.*)$", doc, re.MULTILINE)]


def undocumented(specs, doc: str) -> list:
    return [hook for hook in specs if hook not in headings(doc)]


def unknown_sections(specs, doc: str) -> list:
    return [heading for heading in headings(doc) if heading not in specs]


def test_sources() -> dict:
    """file name -> source of every test module but this one (conftest only declares hooks)."""
    here = Path(__file__).name
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(ROOT.glob("tests/test_*.py"))
            if path.name != here}


test_sources.__test__ = False  # a helper, not a test


def unexercised(specs, sources: dict) -> list:
    return [hook for hook in specs
            if not any(re.search(rf"\b{re.escape(hook)}\b", source) for source in sources.values())]


# --- the project as it is -------------------------------------------------------------------------


def test_the_hook_specs_are_found_as_pluggy_sees_them():
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    assert SPECS == sorted(name for name in vars(manager.hook) if not name.startswith("_"))
    assert {"register_programs", "validate_change", "peer_added", "observation_recorded"} <= set(SPECS)


@pytest.mark.parametrize("hook", SPECS)
def test_every_hook_spec_has_a_section_in_the_docs(hook):
    assert hook not in undocumented(SPECS, DOC), f"docs/hooks.md has no '## {hook}' section"


def test_every_documented_hook_exists_once():
    assert unknown_sections(SPECS, DOC) == [], "docs/hooks.md documents hooks core/hookspecs.py does not have"
    assert len(headings(DOC)) == len(set(headings(DOC))), "a hook is documented twice"


@pytest.mark.parametrize("hook", SPECS)
def test_every_hook_spec_is_exercised_by_a_test(hook):
    assert hook not in unexercised(SPECS, test_sources()), f"no test in tests/ exercises '{hook}'"


@pytest.mark.parametrize("hook", SPECS)
def test_each_section_gives_the_arguments_and_an_example(hook):
    text = sections(DOC)[hook]
    arguments = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert f"`{hook}({', '.join(arguments)})`" in text, f"'## {hook}' does not give the hook's arguments"
    assert re.search(rf"@hookimpl\s+def {hook}\(", text), f"'## {hook}' has no example implementing it"
    assert "return" in text.lower(), f"'## {hook}' does not say what the hook returns"
    assert "raises" in text, f"'## {hook}' does not say what happens when the hook raises"


@pytest.mark.parametrize("hook", [h for h in SPECS if not h.startswith(("register_", "validate_", "digest_"))])
def test_each_lifecycle_section_says_it_fires_after_the_commit(hook):
    assert "after" in sections(DOC)[hook] and "committed" in sections(DOC)[hook]


def test_the_rules_for_errors_are_documented():
    validation = sections(DOC)["validate_change"]
    for fragment in ("before anything is written", '"error"', '"warning"', "refused by plugin 'NAME'",
                     "Warning: plugin 'NAME'"):
        assert fragment in validation
    assert "(the change itself was saved)" in DOC
    assert "check_pending" in DOC


# --- the checks catch what they are for ---------------------------------------------------------


def test_the_checks_catch_a_new_hook_without_docs_or_tests():
    new = SPECS + ["peer_retired"]
    assert undocumented(new, DOC) == ["peer_retired"]
    assert unexercised(new, test_sources()) == ["peer_retired"]
    assert unexercised(new, {"test_x.py": "def test_it(): assert 'peer_retired'"}) == SPECS
    assert unknown_sections(SPECS, DOC + "\n## peer_retired\n\nGone.\n") == ["peer_retired"]
    assert unknown_sections(SPECS, DOC + "\n## Writing a plugin\n") == ["Writing a plugin"]


def test_the_checks_do_not_count_this_file_or_conftest():
    names = test_sources()
    assert Path(__file__).name not in names and "conftest.py" not in names
    assert names, "no test modules found"


# --- the examples -----------------------------------------------------------------------------------


def _examples():
    return re.findall(r"```python\n(.*?)```", DOC, re.DOTALL)


def test_the_docs_have_examples():
    assert len(_examples()) >= len(SPECS)


@pytest.mark.parametrize("index", range(len(_examples())))
def test_each_doc_example_is_a_valid_plugin_of_the_public_api(index):
    """Each example runs with only core's public names, and pluggy accepts its hooks: names and
    arguments exist in the specs (check_pending), as a real plugin's would have to."""
    namespace = {name: getattr(core, name) for name in core.__all__}
    exec(compile(_examples()[index], f"docs/hooks.md example {index}", "exec"), namespace)  # noqa: S102
    module = types.ModuleType(f"example_{index}")
    module.__dict__.update(namespace)
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(module)
    manager.check_pending()
