"""The throwaway PostgreSQL cluster that the PostgreSQL backend's tests will run on (issue 15)
starts here and in CI, listening on 127.0.0.1 only and asking for a password; until the backend
exists, a postgresql:// database is refused in one line that never shows the password."""

import psycopg
import pytest

from conftest import assert_refused


def test_the_cluster_answers_on_loopback_with_a_password_only(postgres_cluster, pg_url):
    with psycopg.connect(pg_url) as connection:
        address, version = connection.execute("select inet_server_addr()::text, current_setting('server_version_num')").fetchone()
    assert address.startswith("127.0.0.1") and int(version) >= 150000
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(postgres_cluster.url(password=False), connect_timeout=5).close()


@pytest.mark.parametrize("where", ["--db", "PEERPATH_DB"])
def test_a_postgresql_database_is_refused_in_one_line_without_its_password(postgres_cluster, pg_url, run,
                                                                            monkeypatch, where):
    if where == "--db":
        result = run("--db", pg_url, "peer", "list")
    else:
        monkeypatch.setenv("PEERPATH_DB", pg_url)
        result = run("peer", "list")
    assert_refused(result, "PostgreSQL databases are not supported yet")
    assert postgres_cluster.password not in result.output + result.stderr
