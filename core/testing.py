"""Test helpers for peerpath and its plugins, installed as a pytest plugin (`-p peerpath`).

Fixtures:
    peerpath_db   a fresh, initialised database in tmp_path; PEERPATH_DB and PEERPATH_USER set
    tracker       a Tracker on that database
    peerpath      run a CLI command in-process: peerpath("peer", "add", "Ana") -> click Result
Helpers:
    assert_plugin_valid(name)   fail with every contract problem of an installed plugin
    registered_plugin(obj, name)  context manager: register an in-process plugin, then remove it
"""

import contextlib

import pytest

from .contract import check_plugin
from .plugins import get_host
from .tracker import Tracker


def assert_plugin_valid(name: str) -> None:
    """Fail with one line per problem if the plugin's programs, pathways or checklists break the contract."""
    problems = check_plugin(get_host(), name)
    assert not problems, "\n".join(problems)


@contextlib.contextmanager
def registered_plugin(plugin, name: str):
    host = get_host()
    host.register(plugin, name=name)
    try:
        yield plugin
    finally:
        host.unregister(name)


@pytest.fixture
def peerpath_db(tmp_path, monkeypatch):
    path = tmp_path / "peerpath.json"
    monkeypatch.setenv("PEERPATH_DB", str(path))
    monkeypatch.setenv("PEERPATH_USER", "test-user")
    monkeypatch.delenv("PEERPATH_TODAY", raising=False)
    Tracker(db=path).init()
    return path


@pytest.fixture
def tracker(peerpath_db):
    return Tracker(db=peerpath_db)


@pytest.fixture
def peerpath(peerpath_db):
    from click.testing import CliRunner

    from peerpath.cli import cli

    def run(*args, input=None):
        return CliRunner().invoke(cli, [str(a) for a in args], input=input)

    return run
