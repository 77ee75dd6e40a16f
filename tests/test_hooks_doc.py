"""Meta-test: every hook spec is documented in docs/hooks.md, exercised by a test, and every
documented hook exists; the documentation's examples run against core's public API."""

import re
from pathlib import Path

import pytest

import core
from core import hookspecs

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
SPECS = sorted(name for name, value in vars(hookspecs).items()
               if callable(value) and hasattr(value, "peerpath_spec"))


def _test_sources() -> str:
    """Every test module but this one (conftest's recording plugin only names hooks)."""
    here = Path(__file__).name
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(ROOT.glob("tests/test_*.py"))
                     if path.name != here)


def test_the_hook_specs_are_found():
    assert {"register_programs", "validate_change", "peer_added", "observation_recorded"} <= set(SPECS)


@pytest.mark.parametrize("hook", SPECS)
def test_every_hook_spec_has_a_section_in_the_docs(hook):
    assert re.search(rf"^## {hook}$", DOC, re.MULTILINE), f"docs/hooks.md has no '## {hook}' section"


def test_every_documented_hook_exists():
    documented = re.findall(r"^## (\w+)$", DOC, re.MULTILINE)
    assert sorted(documented) == SPECS


@pytest.mark.parametrize("hook", SPECS)
def test_every_hook_spec_is_exercised_by_a_test(hook):
    # A test names the hook as a hook implementation, a fixture query or a CLI-level expectation.
    sources = _test_sources()
    assert re.search(rf"\b{hook}\b", sources), f"no test in tests/ exercises '{hook}'"


def _examples():
    return re.findall(r"```python\n(.*?)```", DOC, re.DOTALL)


def test_the_docs_have_examples():
    assert len(_examples()) >= len(SPECS)


@pytest.mark.parametrize("index", range(len(_examples())))
def test_each_doc_example_runs_against_the_public_api(index):
    namespace = {name: getattr(core, name) for name in core.__all__}
    exec(compile(_examples()[index], f"docs/hooks.md example {index}", "exec"), namespace)  # noqa: S102
