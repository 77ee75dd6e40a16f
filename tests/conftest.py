"""Shared fixtures: a private database per test, the CLI runner, a recording test plugin.

Backends: every test's database (the autouse `db` fixture) is a file in tmp_path, unless
- its module is marked `both_backends`: then each of its tests runs twice, on a file and on a
  fresh PostgreSQL database of the throwaway cluster (tests/postgres.py), in the same run;
- the run asks for PostgreSQL (`pytest --backend postgres`, or PEERPATH_TEST_BACKEND=postgres):
  then every test runs on PostgreSQL, except those marked `files_only` (about files by nature).
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from peerpath import core
from peerpath.cli import cli
from peerpath.core import hookimpl

# Every lifecycle hook core fires after a change is stored (see core/hookspecs.py).
LIFECYCLE_HOOKS = (
    "peer_added", "peer_stage_changed", "enrollment_started", "step_recorded",
    "certification_granted", "certification_lapsed", "session_recorded", "observation_recorded",
)


BACKENDS = ("files", "postgres")


def pytest_addoption(parser):
    parser.addoption("--backend", choices=BACKENDS, default=os.environ.get("PEERPATH_TEST_BACKEND") or "files",
                     help="the database of every test not marked files_only [env PEERPATH_TEST_BACKEND]; "
                          "modules marked both_backends run on both whatever this says")


def pytest_configure(config):
    config.addinivalue_line("markers", "both_backends: run each test of the module on a file database and on "
                                       "PostgreSQL (the db fixture is parametrised)")
    config.addinivalue_line("markers", "files_only(why): about the file store by nature (file modes, torn "
                                       "writes, recover, backup files); never run on PostgreSQL")


def pytest_generate_tests(metafunc):
    """Parametrise `db` by backend where a test runs on PostgreSQL (see the module docstring)."""
    if "db" not in metafunc.fixturenames or metafunc.definition.get_closest_marker("files_only"):
        return
    if metafunc.config.getoption("backend") == "postgres":
        metafunc.parametrize("db", ["postgres"], indirect=True)
    elif metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("db", BACKENDS, indirect=True)


def backend_of(request) -> str:
    return getattr(request, "param", "files")


@pytest.fixture(autouse=True)
def db(request, tmp_path, monkeypatch):
    """The database of this test: PEERPATH_DB points at it (it is not created here): a file
    path, or the URL of a new, empty PostgreSQL database."""
    location = tmp_path / "affiliate.json"
    if backend_of(request) == "postgres":
        location = request.getfixturevalue("pg_url")
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # where its web app keeps its key
    monkeypatch.setenv("PEERPATH_DB", str(location))
    monkeypatch.setenv("PEERPATH_USER", "tester")
    for name in ("PEERPATH_TODAY", "PEERPATH_LOAD_PLUGINS", "PEERPATH_LOCK_TIMEOUT", "PEERPATH_TRACE_HOOKS"):
        monkeypatch.delenv(name, raising=False)
    return location


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throwaway PostgreSQL cluster for the session (tests/postgres.py); if it cannot start,
    each test that needs it fails saying why (never a skip)."""
    from postgres import Cluster, ClusterError

    try:
        cluster = Cluster()
        cluster.start()
    except (ClusterError, OSError, subprocess.SubprocessError) as error:
        pytest.fail(f"PostgreSQL could not start: {error}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(postgres_cluster) -> str:
    """The URL (with its password) of a new, empty PostgreSQL database of this test."""
    return postgres_cluster.new_database()


@pytest.fixture
def run():
    """Run the CLI in-process: run("peer", "add", "Ana") -> click Result (stdout, stderr separate)."""

    def invoke(*args, input=None):
        return CliRunner().invoke(cli, [str(arg) for arg in args], input=input)

    return invoke


DEMO_TODAY = "2026-12-01"  # the demo is built relative to today: pinned, its ids and dates never vary


def demo_env(db: Path) -> dict:
    """The environment of a CLI run (CliRunner env=) on database `db` as of DEMO_TODAY."""
    return {"PEERPATH_DB": str(db), "PEERPATH_TODAY": DEMO_TODAY, "PEERPATH_USER": "coordinator",
            "PEERPATH_LOAD_PLUGINS": None, "COLUMNS": None}


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory) -> Path:
    """A folder holding `affiliate.json`, the demo database, built once: copy it to change it."""
    folder = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(cli, ["demo"], env=demo_env(folder / "affiliate.json"))
    assert result.exit_code == 0, result.stderr
    return folder


@pytest.fixture
def demo_db(demo_folder, db, tmp_path, monkeypatch):
    """A copy of the demo database, in use (PEERPATH_DB) as of DEMO_TODAY (on PostgreSQL, the
    demo built afresh in the test's database)."""
    monkeypatch.setenv("PEERPATH_TODAY", DEMO_TODAY)
    if isinstance(db, str):
        result = CliRunner().invoke(cli, ["demo"], env=demo_env(db))
        assert result.exit_code == 0, result.stderr
        return db
    shutil.copytree(demo_folder, tmp_path / "demo")
    db = tmp_path / "demo" / "affiliate.json"
    monkeypatch.setenv("PEERPATH_DB", str(db))
    return db


@pytest.fixture
def initialised(db, run) -> Path:
    """An initialised, empty database."""
    result = run("init")
    assert result.exit_code == 0, result.stderr
    return db


def snapshot(db) -> dict:
    """Every byte of the database: the manifest, any temporary manifest and the `<db>.d/` folder.

    The `<db>.lock` file is left out: it only holds the pid of the last writer. Of a PostgreSQL
    database (a URL): every row of every table of its `peerpath` schema.
    """
    if isinstance(db, str):
        return postgres_snapshot(db)
    files = {}
    for path in sorted(db.parent.iterdir()):
        if path.name.startswith(db.name) and path.is_file() and path.name != db.name + ".lock":
            files[path.name] = path.read_bytes()
    folder = db.with_name(db.name + ".d")
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            files[f"{folder.name}/{path.name}"] = path.read_bytes()
    return files


def postgres_snapshot(url: str) -> dict:
    import psycopg

    with psycopg.connect(url) as connection:
        tables = [row[0] for row in connection.execute(
            "select tablename from pg_tables where schemaname = 'peerpath' order by tablename")]
        return {table: connection.execute(f'select * from peerpath."{table}" order by 1').fetchall()
                for table in tables}


def ok(result) -> str:
    """A success: exit 0 and no exception; its stdout."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 0, result.stderr
    return result.stdout


ENGINE_TODAY = "2026-06-01"  # the pathway tests' dates are written against this today


@pytest.fixture
def on_engine_today(monkeypatch):
    monkeypatch.setenv("PEERPATH_TODAY", ENGINE_TODAY)


@pytest.fixture
def peers(initialised, run):
    """P0001 Ana (lived experience: self) and P0002 Bo (both), each confirmed 18+."""
    ok(run("peer", "add", "Ana", "--lived-experience", "self", "--consent", "adult=yes"))
    ok(run("peer", "add", "Bo", "--lived-experience", "both", "--consent", "adult=yes"))
    return initialised


def certify_teacher(run, peer="P0001") -> str:
    """Walk a Peer-to-Peer teacher to certification (granted 2026-02-02, valid 730 days)."""
    ok(run("enroll", peer, "peer_to_peer", "--on", "2026-01-01"))
    ok(run("record", peer, "peer_to_peer", "affiliate_interview", "--outcome", "passed", "--on", "2026-01-05"))
    ok(run("record", peer, "peer_to_peer", "fidelity_agreement", "--on", "2026-01-06"))
    ok(run("record", peer, "peer_to_peer", "online_course", "--on", "2026-01-10"))
    ok(run("record", peer, "peer_to_peer", "trainer_interview", "--outcome", "passed", "--on", "2026-01-20"))
    return ok(run("record", peer, "peer_to_peer", "training", "--on", "2026-02-01", "--until", "2026-02-02"))


# Supervision covering the four performance domains, kept up for a year before YEAR-03-01.
CRSS_SUPERVISION = (("Advocacy", -1, "03-01"), ("Professional Responsibility", -1, "09-01"),
                    ("Mentoring", 0, "01-15"), ("Recovery Support", 0, "03-01"))


def crss_walk(run, peer="P0001", year=2024, score=75) -> str:
    """Walk a CRSS specialist through every step, the exam (`score`, pass mark 68) on YEAR-04-01."""
    ok(run("enroll", peer, "crss", "--on", f"{year}-01-01"))
    for step in ("disclosure", "diploma", "code_of_ethics"):
        ok(run("record", peer, "crss", step, "--on", f"{year}-01-02"))
    for domain, hours in (("Advocacy", 30), ("Professional Responsibility", 20), ("Mentoring", 20),
                          ("Recovery Support", 20), ("Ethics", 10)):
        ok(run("record", peer, "crss", "education", "--hours", hours, "--domain", domain, "--on", f"{year}-02-01"))
    ok(run("record", peer, "crss", "experience", "--hours", 2000, "--score", 60, "--on", f"{year}-03-01"))
    for domain, years, day in CRSS_SUPERVISION:
        ok(run("record", peer, "crss", "supervision", "--hours", 25, "--domain", domain, "--on", f"{year + years}-{day}"))
    ok(run("record", peer, "crss", "application", "--on", f"{year}-03-15"))
    return ok(run("record", peer, "crss", "exam", "--score", score, "--on", f"{year}-04-01"))


def manifest(db: Path) -> dict:
    return json.loads(db.read_bytes())


def assert_refused(result, *fragments, code=None):
    """A refusal: non-zero exit, nothing on stdout, exactly one `Error:` line naming the fragments."""
    assert result.exit_code != 0, result.stdout
    if code is not None:
        assert result.exit_code == code
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


class RecordingPlugin:
    """An in-process plugin that records every lifecycle hook call and can veto changes.

    Set `validate` to a function(change) to answer `validate_change`; set `fail_on` to a hook
    name to make that lifecycle hook raise after recording the call.
    """

    def __init__(self):
        self.calls = []
        self.validate = None
        self.fail_on = None

    def _record(self, hook, **kwargs):
        self.calls.append((hook, kwargs))
        if self.fail_on == hook:
            raise RuntimeError(f"{hook} exploded")

    def hooks(self, name):
        return [kwargs for hook, kwargs in self.calls if hook == name]

    @hookimpl
    def validate_change(self, change, tracker):
        self.calls.append(("validate_change", {"change": change}))
        if self.validate is not None:
            return self.validate(change)
        return None

    @hookimpl
    def peer_added(self, peer, tracker):
        self._record("peer_added", peer=peer, tracker=tracker)

    @hookimpl
    def peer_stage_changed(self, peer, old_stage, new_stage, tracker):
        self._record("peer_stage_changed", peer=peer, old_stage=old_stage, new_stage=new_stage)

    @hookimpl
    def enrollment_started(self, enrollment, peer, tracker):
        self._record("enrollment_started", enrollment=enrollment, peer=peer)

    @hookimpl
    def step_recorded(self, record, enrollment, tracker):
        self._record("step_recorded", record=record, enrollment=enrollment)

    @hookimpl
    def certification_granted(self, certification, enrollment, tracker):
        self._record("certification_granted", certification=certification, enrollment=enrollment)

    @hookimpl
    def certification_lapsed(self, certification, enrollment, tracker):
        self._record("certification_lapsed", certification=certification, enrollment=enrollment)

    @hookimpl
    def session_recorded(self, session, offering, tracker):
        self._record("session_recorded", session=session, offering=offering)

    @hookimpl
    def observation_recorded(self, observation, offering, tracker):
        self._record("observation_recorded", observation=observation, offering=offering)


@pytest.fixture
def recording_plugin():
    """A RecordingPlugin registered as "test-plugin" for the length of the test."""
    plugin = RecordingPlugin()
    host = core.get_host()
    host.register(plugin, name="test-plugin")
    try:
        yield plugin
    finally:
        host.unregister("test-plugin")
    assert not host.pm.has_plugin("test-plugin")
