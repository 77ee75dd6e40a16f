"""The PostgreSQL backend (core/postgres.py) on the throwaway cluster: selected by --db or
PEERPATH_DB, the demo and the commands on it, its schema version, and errors in one line that
never shows the password."""

import psycopg
import pytest

from conftest import DEMO_TODAY, assert_refused, ok


def test_the_cluster_answers_on_loopback_with_a_password_only(postgres_cluster, pg_url):
    with psycopg.connect(pg_url) as connection:
        address, version = connection.execute("select inet_server_addr()::text, current_setting('server_version_num')").fetchone()
    assert address.startswith("127.0.0.1") and int(version) >= 150000
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(postgres_cluster.url(password=False), connect_timeout=5).close()


@pytest.mark.parametrize("where", ["--db", "PEERPATH_DB"])
def test_the_demo_runs_on_postgresql_and_never_shows_the_password(postgres_cluster, pg_url, run, monkeypatch, where):
    monkeypatch.setenv("PEERPATH_TODAY", DEMO_TODAY)
    if where == "PEERPATH_DB":
        monkeypatch.setenv("PEERPATH_DB", pg_url)
    db = ("--db", pg_url) if where == "--db" else ()
    built = ok(run(*db, "demo"))
    shown = pg_url.replace(f":{postgres_cluster.password}@", "@")
    assert f"Built a sample affiliate in {shown}" in built
    assert "P0027" in ok(run(*db, "peer", "list"))
    assert ok(run(*db, "verify")).startswith(f"{shown} is sound:")
    audit = ok(run(*db, "audit", "--json"))
    assert postgres_cluster.password not in built + audit
    with psycopg.connect(pg_url) as connection:
        stored = connection.execute("select count(*) from peerpath.peers").fetchone()[0]
        kinds = dict(connection.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'peerpath' and table_name = 'sessions'").fetchall())
    assert stored >= 27
    assert kinds["leaders"] == "ARRAY" and kinds["doc"] == "jsonb" and kinds["on_day"] == "date"


def test_the_password_may_come_from_pgpassword(postgres_cluster, pg_url, run, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", postgres_cluster.password)
    url = pg_url.replace(f":{postgres_cluster.password}@", "@")
    ok(run("--db", url, "init", "--affiliate", "NAMI Example"))
    assert "NAMI Example" in ok(run("--db", url, "audit"))


@pytest.mark.parametrize("case, fragment", [
    ("wrong password", "authentication failed"),
    ("no database", "the database does not exist"),
    ("server down", "the server does not answer"),
])
def test_connection_errors_are_one_line_without_the_password(postgres_cluster, pg_url, run, case, fragment):
    secret = postgres_cluster.password
    url = {"wrong password": pg_url.replace(secret, "not" + secret[3:]),
           "no database": pg_url.rsplit("/", 1)[0] + "/no_such_database",
           "server down": pg_url.replace(f":{postgres_cluster.port}/", ":1/")}[case]
    line = assert_refused(run("--db", url, "peer", "list"), "cannot use the database", fragment)
    assert secret not in line and secret[3:] not in line


def test_a_database_without_the_schema_is_refused_until_init_or_upgrade(pg_url, run):
    assert_refused(run("--db", pg_url, "peer", "list"), "no peerpath database at", "db upgrade")
    assert "Created the peerpath schema (version 2)" in ok(run("--db", pg_url, "db", "upgrade"))
    assert "is up to date (schema 2)" in ok(run("--db", pg_url, "db", "upgrade"))
    assert ok(run("--db", pg_url, "peer", "list")).split() == ["id", "name", "stage", "source", "sector", "community"]


def test_a_newer_schema_is_refused_and_left_untouched(pg_url, run):
    ok(run("--db", pg_url, "init"))
    with psycopg.connect(pg_url) as connection:
        connection.execute("update peerpath._schema_version set version = 99")
    for args in (("peer", "list"), ("peer", "add", "Ana"), ("db", "upgrade")):
        assert_refused(run("--db", pg_url, *args), "newer peerpath (schema 99")
    with psycopg.connect(pg_url) as connection:
        assert connection.execute("select count(*) from peerpath.peers").fetchone()[0] == 0
        assert connection.execute("select version from peerpath._schema_version").fetchone()[0] == 99


@pytest.mark.parametrize("args, fragment", [(("restore", "copy.json"), "db copy BACKUP URL --force"),
                                             (("recover",), "the server keeps its own")])
def test_file_only_commands_are_refused_on_postgresql_in_one_line(pg_url, run, tmp_path, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)
    ok(run("--db", pg_url, "init"))
    ok(run("--db", "copy.json", "init"))
    assert_refused(run("--db", pg_url, *args), "is a PostgreSQL database", fragment)


def test_a_backup_of_postgresql_is_a_file_database_that_verifies(pg_url, run, tmp_path, monkeypatch):
    monkeypatch.setenv("PEERPATH_TODAY", DEMO_TODAY)
    ok(run("--db", pg_url, "demo"))
    backup = tmp_path / "nightly.json"
    assert f"to {backup}:" in ok(run("--db", pg_url, "backup", backup))
    assert "is sound" in ok(run("--db", backup, "verify"))
    assert ok(run("--db", backup, "peer", "list", "--json")) == ok(run("--db", pg_url, "peer", "list", "--json"))
    assert_refused(run("--db", pg_url, "backup", backup), "already exists")


@pytest.mark.parametrize("tampering, fragment", [
    ("update peerpath._audit_log set line = replace(line, 'NAMI Example', 'NAMI Forged') where seq = 2",
     "event 2: it does not match the chain"),
    ("delete from peerpath._audit_log where seq = 2", "event 2: it is numbered 3"),
    ("delete from peerpath._audit_log where seq = (select max(seq) from peerpath._audit_log)", "holds 2 events"),
    ("update peerpath._audit_log set seq = seq + 10; update peerpath._audit_log set seq = 14 - seq",
     "event 1: it does not match the chain"),
    ("update peerpath.peers set doc = jsonb_set(doc, '{id}', '\"P0009\"')", "does not hold a document with its id"),
])
def test_verify_names_a_tampered_audit_log_or_table(pg_url, run, tampering, fragment):
    ok(run("--db", pg_url, "init", "--affiliate", "NAMI Example"))
    ok(run("--db", pg_url, "peer", "add", "Ana"))
    assert "3 audit event(s) in an unbroken chain" in ok(run("--db", pg_url, "verify"))
    with psycopg.connect(pg_url) as connection:
        connection.execute(tampering)
    assert_refused(run("--db", pg_url, "verify"), "does not verify", fragment)


@pytest.mark.parametrize("backend", ["files", "postgres"])
@pytest.mark.parametrize("command", ["backup", "restore"])
def test_a_url_is_never_taken_for_a_backup_file(postgres_cluster, pg_url, run, tmp_path, monkeypatch, backend,
                                                command):
    """(A URL read as a path would be a folder `postgresql:` named with the password.)"""
    monkeypatch.chdir(tmp_path)
    database = pg_url if backend == "postgres" else "affiliate.json"
    ok(run("--db", database, "init"))
    line = assert_refused(run("--db", database, command, pg_url.replace("peerpath_test", "other")), "db copy")
    assert not (tmp_path / "postgresql:").exists()
    assert postgres_cluster.password not in line


def test_without_psycopg_a_url_is_one_line_saying_what_to_install(tmp_path):
    import subprocess
    import sys

    (tmp_path / "psycopg.py").write_text("raise ModuleNotFoundError('No module named psycopg', name='psycopg')\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from peerpath.cli import cli; "
            "cli(['--db', 'postgresql://someone@127.0.0.1:1/x', 'peer', 'list'])")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == "Error: a PostgreSQL database needs psycopg: pip install 'peerpath[postgres]'\n"
