"""`peerpath db copy SOURCE TARGET` both ways between files and PostgreSQL (issue 15, point 5):
every row, setting, id counter and audit event carried over, the chain unbroken, the copy
recorded, and a target that holds anything refused unless --force."""

import json
import subprocess
import sys

from conftest import DEMO_TODAY, assert_refused, ok

# What a coordinator sees, which must read the same on the copy.
VIEWS = (("peer", "list", "--json", "--contact"), ("leaders", "--json"), ("offering", "list", "--json"),
         ("report", "funnel", "--json"), ("config", "show", "--json"))


def views(run, db) -> dict:
    """(Parsed: PostgreSQL's jsonb keeps an object's keys in an order of its own.)"""
    return {view: json.loads(ok(run("--db", db, *view))) for view in VIEWS}


def events(run, db) -> list:
    return json.loads(ok(run("--db", db, "audit", "--json")))


def test_files_to_postgresql_and_back_keep_everything(run, pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("PEERPATH_TODAY", DEMO_TODAY)
    source, back = tmp_path / "affiliate.json", tmp_path / "back.json"
    ok(run("--db", source, "demo"))
    ok(run("--db", source, "config", "set", "rollup.suppress_below", "3"))
    copied = ok(run("db", "copy", source, pg_url))
    shown = pg_url.rsplit("@", 1)[1]
    assert copied.startswith(f"Copied {source} to postgresql://") and shown in copied and copied.endswith("verified\n")
    assert views(run, pg_url) == views(run, source)
    trail = events(run, pg_url)
    assert trail[:-1] == events(run, source)
    assert trail[-1]["action"] == "copy" and trail[-1]["details"]["from"] == str(source)
    assert "is sound" in ok(run("--db", pg_url, "verify"))
    # Ids carry on after the largest copied, on the copy as on the original.
    assert ok(run("--db", pg_url, "peer", "add", "New Person")) == ok(run("--db", source, "peer", "add", "New Person"))

    ok(run("db", "copy", pg_url, back))
    assert views(run, back) == views(run, pg_url)
    assert events(run, back)[:-1] == events(run, pg_url)
    assert "is sound" in ok(run("--db", back, "verify"))


def test_a_target_that_holds_a_database_is_refused_unless_forced(run, pg_url, tmp_path):
    source, other = tmp_path / "affiliate.json", tmp_path / "other.json"
    ok(run("--db", source, "init", "--affiliate", "NAMI Source"))
    ok(run("--db", source, "peer", "add", "Ana"))
    ok(run("--db", other, "init", "--affiliate", "NAMI Other"))
    ok(run("--db", other, "peer", "add", "Bo"))
    ok(run("--db", other, "peer", "add", "Cy"))
    ok(run("db", "copy", other, pg_url))
    for target in (pg_url, other):
        before = ok(run("--db", target, "peer", "list", "--json"))
        assert_refused(run("db", "copy", source, target), "already holds a database", "--force")
        assert ok(run("--db", target, "peer", "list", "--json")) == before and "Bo" in before
        ok(run("db", "copy", source, target, "--force"))
        assert [p["name"] for p in json.loads(ok(run("--db", target, "peer", "list", "--json")))] == ["Ana"]
        assert "is sound" in ok(run("--db", target, "verify"))
        assert ok(run("--db", target, "peer", "add", "Dee")) == "P0002\n"  # ids carry on as in the source


def test_a_missing_source_or_the_same_database_is_one_line(run, pg_url, tmp_path):
    assert_refused(run("db", "copy", tmp_path / "none.json", pg_url), "no peerpath database at")
    ok(run("--db", pg_url, "init"))
    assert_refused(run("db", "copy", pg_url, pg_url), "a target other than its source")


def test_a_file_database_never_loads_psycopg(tmp_path):
    code = ("import sys; from click.testing import CliRunner; from peerpath.cli import cli; "
            f"r = CliRunner().invoke(cli, ['--db', {str(tmp_path / 'a.json')!r}, 'demo']); "
            "assert r.exit_code == 0, r.output; print('psycopg' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
