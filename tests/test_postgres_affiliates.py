"""Many affiliates in one PostgreSQL database (issue 15, point 3), each tried with real login
roles of the throwaway cluster: a coordinator of affiliate A reads and changes A's rows only,
by peerpath or by SQL; both affiliates' writers at once lose nothing; the state's role reads
the roll-up view only; a schema 1 database keeps its rows as one affiliate."""

import json
import os
import secrets
import subprocess
import sys
import textwrap
import urllib.parse

import psycopg
import pytest

from conftest import DEMO_TODAY, assert_refused, ok
from peerpath.core import Tracker, chain
from peerpath.core.storage import open_store, with_affiliate
from peerpath.web.app import create_app

PASSWORD = "coordinators-own"


def login_url(admin_url: str, role: str, affiliate=None) -> str:
    """The URL of the database `admin_url` names, as the login role `role`."""
    parts = urllib.parse.urlsplit(admin_url)
    url = urllib.parse.urlunsplit(parts._replace(netloc=f"{role}:{PASSWORD}@{parts.hostname}:{parts.port}"))
    return with_affiliate(url, affiliate) if affiliate else url


def admin_sql(url: str, *statements) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


class Affiliates:
    """Two affiliates (A with two peers, B with three) in one database, a coordinator login for
    each and a state login; ids and role names are new for each test (roles are the cluster's)."""

    def __init__(self, pg_url, run):
        tag = secrets.token_hex(3)
        self.admin, self.a, self.b = pg_url, f"cook_{tag}", f"lake_{tag}"
        self.coord_a, self.coord_b, self.state = f"coord_a_{tag}", f"coord_b_{tag}", f"state_{tag}"
        ok(run("--db", pg_url, "affiliate", "add", "NAMI Cook", "--id", self.a))
        ok(run("--db", pg_url, "affiliate", "add", "NAMI Lake", "--id", self.b))
        for name in ("Ana Alvarez", "Ben Brook"):
            ok(run("--db", with_affiliate(pg_url, self.a), "peer", "add", name, "--email", "a@example.org"))
        for name in ("Cleo Lake", "Dan Lake", "Eve Lake"):
            ok(run("--db", with_affiliate(pg_url, self.b), "peer", "add", name, "--email", "b@example.org"))
        admin_sql(pg_url, *(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'"
                            for role in (self.coord_a, self.coord_b, self.state)),
                  f"GRANT peerpath_affiliate_{self.a} TO {self.coord_a}",
                  f"GRANT peerpath_affiliate_{self.b} TO {self.coord_b}",
                  f"GRANT peerpath_state TO {self.state}")

    def url(self, role, affiliate=None) -> str:
        return login_url(self.admin, role, affiliate)

    def names(self, run, affiliate) -> list:
        peers = json.loads(ok(run("--db", with_affiliate(self.admin, affiliate), "peer", "list", "--json")))
        return [peer["name"] for peer in peers]


@pytest.fixture
def two(pg_url, run, monkeypatch):
    monkeypatch.setenv("PEERPATH_TODAY", DEMO_TODAY)
    return Affiliates(pg_url, run)


def test_affiliate_add_and_list(two, run):
    listed = json.loads(ok(run("--db", two.admin, "affiliate", "list", "--json")))
    assert [(a["id"], a["name"], a["role"]) for a in listed] == [
        (two.a, "NAMI Cook", f"peerpath_affiliate_{two.a}"), (two.b, "NAMI Lake", f"peerpath_affiliate_{two.b}")]
    as_csv = ok(run("--db", two.admin, "affiliate", "list", "--csv")).splitlines()
    assert as_csv == ["id,name,role,member"] + [f"{a['id']},{a['name']},{a['role']},true" for a in listed]
    table = ok(run("--db", two.admin, "affiliate", "list")).splitlines()
    assert table[0].split() == ["id", "name", "role", "member"] and two.b in table[2]
    mine = json.loads(ok(run("--db", two.url(two.coord_a), "affiliate", "list", "--json")))
    assert {a["id"]: a["member"] for a in mine} == {two.a: True, two.b: False}
    assert_refused(run("--db", two.admin, "affiliate", "add", "Again", "--id", two.a), "already holds")
    assert_refused(run("--db", two.admin, "affiliate", "add", "Bad", "--id", "Not-An-Id"), "not an affiliate id")
    # Each affiliate's own trail records its creation by the actor, and verifies on its own.
    trail = json.loads(ok(run("--db", with_affiliate(two.admin, two.a), "audit", "--json")))
    assert [e["action"] for e in trail][:2] == ["create", "name"]
    assert "is sound" in ok(run("--db", two.url(two.coord_a), "verify"))


def test_the_owner_must_name_one_of_several_affiliates(two, run):
    assert_refused(run("--db", two.admin, "peer", "list"), "several affiliates", two.a, two.b, "?affiliate=ID")
    assert_refused(run("--db", with_affiliate(two.admin, "nowhere"), "peer", "list"), "no affiliate 'nowhere'")


def test_a_coordinator_reads_only_their_affiliate(two, run):
    a = two.url(two.coord_a)  # no affiliate named: the only one the role belongs to
    assert [p["name"] for p in json.loads(ok(run("--db", a, "peer", "list", "--json")))] == ["Ana Alvarez", "Ben Brook"]
    assert_refused(run("--db", a, "peer", "show", "P0003"), "P0003")  # only B holds a third peer
    assert ok(run("--db", a, "leaders", "--json")) == "[]\n"
    funnel = json.loads(ok(run("--db", a, "report", "funnel", "--json")))
    rollup = json.loads(ok(run("--db", a, "report", "rollup", "--json")))
    assert "Lake" not in json.dumps(funnel) and rollup["figures"]["affiliates"] == ["NAMI Cook"]
    trail = json.loads(ok(run("--db", a, "audit", "--json")))
    assert {e["entity_id"] for e in trail if e["entity"] == "peers"} == {"P0001", "P0002"}
    assert "Lake" not in json.dumps(trail)
    exported = ok(run("--db", a, "peer", "export", "--include-contact"))
    assert "Ana Alvarez" in exported and "Lake" not in exported and "b@example.org" not in exported


def test_a_coordinator_cannot_act_for_another_affiliate(two, run):
    switched = two.url(two.coord_a, two.b)
    for command in (("peer", "add", "Intruder"), ("peer", "list"), ("audit",), ("verify",)):
        assert_refused(run("--db", switched, *command), f"may not act for the affiliate '{two.b}'",
                       f"GRANT peerpath_affiliate_{two.b}")
    assert two.names(run, two.b) == ["Cleo Lake", "Dan Lake", "Eve Lake"]


def test_sql_of_a_coordinator_never_reaches_another_affiliate(two):
    with psycopg.connect(two.url(two.coord_a)) as connection:
        connection.execute("SET peerpath.affiliate = %s" % psycopg.sql.quote(two.b))
        assert connection.execute("SELECT count(*) FROM peerpath.peers").fetchone()[0] == 0
        assert connection.execute("SELECT count(*) FROM peerpath._audit_log").fetchone()[0] == 0
        assert connection.execute("UPDATE peerpath.peers SET doc = '{}'").rowcount == 0
        assert connection.execute("DELETE FROM peerpath.peers").rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            connection.execute("INSERT INTO peerpath.peers (id, num, doc) VALUES ('P0009', 9, '{}')")
        connection.rollback()
        connection.execute("SET peerpath.affiliate = %s" % psycopg.sql.quote(two.a))
        assert connection.execute("SELECT DISTINCT affiliate FROM peerpath.peers").fetchall() == [(two.a,)]
        assert connection.execute("DELETE FROM peerpath.peers WHERE affiliate = %s", (two.b,)).rowcount == 0
        assert connection.execute("UPDATE peerpath._meta SET doc = '{}' WHERE affiliate = %s", (two.b,)).rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            connection.execute("UPDATE peerpath.peers SET affiliate = %s", (two.b,))
    with psycopg.connect(two.admin) as connection:
        counts = dict(connection.execute("SELECT affiliate, count(*) FROM peerpath.peers GROUP BY 1").fetchall())
    assert counts == {two.a: 2, two.b: 3}


def test_a_table_a_coordinator_makes_first_is_kept_apart_too(two):
    """A plugin's table is made by the first command that stores in it, as its coordinator."""
    with open_store(two.url(two.coord_a)).write() as tx:
        tx.insert("plugin_notes", {"id": "N0001", "text": "Cook's"})
    with open_store(two.url(two.coord_b)).write() as tx:
        assert tx.all("plugin_notes") == []
        tx.insert("plugin_notes", {"id": "N0001", "text": "Lake's"})
    for role, text in ((two.coord_a, "Cook's"), (two.coord_b, "Lake's")):
        with open_store(two.url(role)).read() as tx:
            assert [note["text"] for note in tx.all("plugin_notes")] == [text]
    with psycopg.connect(two.url(two.coord_b)) as connection:
        connection.execute("SET peerpath.affiliate = %s" % psycopg.sql.quote(two.a))
        assert connection.execute("SELECT count(*) FROM peerpath.plugin_notes").fetchone()[0] == 0


WRITER = textwrap.dedent("""
    import sys
    from peerpath.core import Tracker
    tracker = Tracker(db=sys.argv[1], actor=sys.argv[2])
    for n in range(int(sys.argv[3])):
        tracker.add_peer(name=f"{sys.argv[2]} {n}")
""")


def test_both_affiliates_writers_at_once_lose_nothing(two, run):
    writers = [(two.coord_a, f"{two.coord_a}-{n}") for n in range(3)] + [(two.coord_b, f"{two.coord_b}-{n}")
                                                                         for n in range(3)]
    children = [subprocess.Popen([sys.executable, "-c", WRITER, two.url(role), actor, "5"],
                                 env={**os.environ, "PEERPATH_LOCK_TIMEOUT": "120"}) for role, actor in writers]
    assert [child.wait(timeout=180) for child in children] == [0] * 6
    for role, affiliate, before in ((two.coord_a, two.a, 2), (two.coord_b, two.b, 3)):
        names = two.names(run, affiliate)
        assert len(names) == len(set(names)) == before + 15
        assert sorted(n for n in names if n.startswith(role)) == sorted(
            f"{role}-{w} {n}" for w in range(3) for n in range(5))
        peers = json.loads(ok(run("--db", two.url(role), "peer", "list", "--json")))
        assert [p["id"] for p in peers] == [f"P{n:04d}" for n in range(1, before + 16)]
        assert "is sound" in ok(run("--db", two.url(role), "verify"))


def test_the_state_reads_roll_up_counts_only(two, run):
    with psycopg.connect(two.url(two.state)) as connection:
        rows = connection.execute("SELECT * FROM peerpath.rollup WHERE section = 'recruited_by_stage'").fetchall()
        columns = [column.name for column in connection.execute("SELECT * FROM peerpath.rollup").description]
        for table in ("peers", "_meta", "_audit_log", "users", "_counters"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                connection.execute(f"SELECT * FROM peerpath.{table}")
            connection.rollback()
    assert columns == ["affiliate", "name", "section", "figure", "value"]
    # Two and three prospects: below rollup.suppress_below (5), as `report rollup` shows them.
    assert sorted(rows) == [(two.a, "NAMI Cook", "recruited_by_stage", "prospect", "<5"),
                            (two.b, "NAMI Lake", "recruited_by_stage", "prospect", "<5")]
    ok(run("--db", with_affiliate(two.admin, two.b), "config", "set", "rollup.suppress_below", "3"))
    with psycopg.connect(two.url(two.state)) as connection:
        values = dict(connection.execute("SELECT affiliate, value FROM peerpath.rollup "
                                         "WHERE section = 'recruited_by_stage'").fetchall())
    assert values == {two.a: "<5", two.b: "3"}
    assert_refused(run("--db", two.url(two.state), "peer", "list"), "permission denied")


def test_verify_and_the_audit_chain_are_per_affiliate(two, run):
    with psycopg.connect(two.admin) as connection:
        connection.execute("DELETE FROM peerpath._audit_log WHERE affiliate = %s AND seq = 2", (two.b,))
    assert "is sound" in ok(run("--db", two.url(two.coord_a), "verify"))
    assert_refused(run("--db", two.url(two.coord_b), "verify"), "does not verify", "event 2: it is numbered 3")


def test_the_web_app_serves_the_affiliate_its_url_acts_for(two):
    for role, affiliate in ((two.coord_a, two.a), (two.coord_b, two.b)):
        tracker = Tracker(db=two.url(role))
        tracker.begin_command()
        tracker.add_user("coordinator", "coordinator", "correct horse battery")
        tracker.end_command()
    # The owner may act for both: the app serves the one its URL names, in every request.
    app = create_app(Tracker(db=with_affiliate(two.admin, two.a)), today=DEMO_TODAY)
    app.config["TESTING"] = True
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    page = client.get("/login")
    csrf = page.get_data(as_text=True).split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed = client.post("/login", data={"name": "coordinator", "password": "correct horse battery",
                                         "csrf_token": csrf})
    assert signed.status_code == 303
    assert client.get("/peers/P0002").status_code == 200
    missing = client.get("/peers/P0003")  # only B holds a P0003
    assert missing.status_code == 404 and "Lake" not in missing.get_data(as_text=True)
    assert "Lake" not in client.get("/peers").get_data(as_text=True)


def test_several_affiliate_files_copy_into_one_state_database(pg_url, run, tmp_path, monkeypatch):
    monkeypatch.setenv("PEERPATH_TODAY", DEMO_TODAY)
    cook, lake = tmp_path / "cook.json", tmp_path / "lake.json"
    ok(run("--db", cook, "demo"))
    ok(run("--db", lake, "init", "--affiliate", "NAMI Lake"))
    ok(run("--db", lake, "peer", "add", "Lena Lake", "--email", "lena@example.org"))
    for source, affiliate in ((cook, "cook"), (lake, "lake")):
        copied = ok(run("db", "copy", source, pg_url, "--affiliate", affiliate))
        assert f"?affiliate={affiliate}" in copied and copied.endswith("verified\n")
    for source, affiliate in ((cook, "cook"), (lake, "lake")):
        target = with_affiliate(pg_url, affiliate)
        for view in (("peer", "list", "--json", "--contact"), ("leaders", "--json"), ("report", "funnel", "--json")):
            assert json.loads(ok(run("--db", target, *view))) == json.loads(ok(run("--db", source, *view)))
        assert json.loads(ok(run("--db", target, "audit", "--json")))[:-1] == json.loads(
            ok(run("--db", source, "audit", "--json")))
        assert "is sound" in ok(run("--db", target, "verify"))
    assert_refused(run("db", "copy", lake, pg_url, "--affiliate", "lake"), "already holds", "--force")
    assert_refused(run("db", "copy", lake, tmp_path / "x.json", "--affiliate", "lake"), "is a file")
    with psycopg.connect(pg_url) as connection:
        names = connection.execute("SELECT DISTINCT affiliate, name FROM peerpath.rollup ORDER BY 1").fetchall()
    assert names == [("cook", "NAMI Metro Suburban (demo)"), ("lake", "NAMI Lake")]
    listed = json.loads(ok(run("--db", pg_url, "affiliate", "list", "--json")))
    assert [(a["id"], a["name"]) for a in listed] == [("cook", "NAMI Metro Suburban (demo)"), ("lake", "NAMI Lake")]


def test_an_owner_who_is_not_a_superuser_runs_it(postgres_cluster, run, monkeypatch):
    """As docs/postgres.md sets it up: the database's owner may create roles, no more."""
    monkeypatch.setenv("PEERPATH_TODAY", DEMO_TODAY)
    tag = secrets.token_hex(3)
    owner, database = f"owner_{tag}", f"state_{tag}"
    admin_sql(postgres_cluster.url(), f"CREATE ROLE {owner} LOGIN CREATEROLE PASSWORD '{PASSWORD}'",
              f"CREATE DATABASE {database} OWNER {owner}")
    url = login_url(postgres_cluster.url(database), owner)
    assert "Created the peerpath schema (version 2)" in ok(run("--db", url, "db", "upgrade"))
    ok(run("--db", url, "affiliate", "add", "NAMI Cook", "--id", f"cook_{tag}"))
    ok(run("--db", with_affiliate(url, f"cook_{tag}"), "peer", "add", "Ana Alvarez"))
    assert "Ana Alvarez" in ok(run("--db", with_affiliate(url, f"cook_{tag}"), "peer", "list"))
    assert ok(run("--db", with_affiliate(url, "main"), "peer", "list")).split()[:1] == ["id"]
    assert "is sound" in ok(run("--db", with_affiliate(url, f"cook_{tag}"), "verify"))


# Schema 1 as peerpath made it before affiliates, with one peer, its counter and its trail.
SCHEMA_1 = (
    "CREATE SCHEMA peerpath",
    "CREATE TABLE peerpath._schema_version (version integer NOT NULL)",
    "INSERT INTO peerpath._schema_version VALUES (1)",
    "CREATE TABLE peerpath._meta (one boolean PRIMARY KEY DEFAULT true CHECK (one), doc jsonb NOT NULL)",
    "CREATE TABLE peerpath._counters (prefix text PRIMARY KEY, value bigint NOT NULL)",
    "CREATE TABLE peerpath._audit_log (seq bigint PRIMARY KEY, line text NOT NULL)",
    "CREATE TABLE peerpath._audit_head (one boolean PRIMARY KEY DEFAULT true CHECK (one), "
    "head text NOT NULL, count bigint NOT NULL)",
    "CREATE TABLE peerpath.peers (id text PRIMARY KEY, num bigint NOT NULL, peer_id text, "
    "offering_id text, leaders text[], on_day date, doc jsonb NOT NULL)",
    "CREATE INDEX peers_by_num ON peerpath.peers (num)",
    "CREATE INDEX peers_by_peer ON peerpath.peers (peer_id)",
    """INSERT INTO peerpath._meta VALUES (true, '{"affiliate": "NAMI Old Town", "created": "2026-01-01"}')""",
    "INSERT INTO peerpath._counters VALUES ('P', 1)",
    """INSERT INTO peerpath.peers VALUES ('P0001', 1, null, null, null, null,
       '{"id": "P0001", "name": "Olga Old", "stage": "prospect", "added": "2026-01-01"}')""",
)


def test_a_schema_1_database_keeps_its_rows_as_one_affiliate(pg_url, run, monkeypatch):
    monkeypatch.setenv("PEERPATH_TODAY", DEMO_TODAY)
    event = {"at": "2026-01-01T00:00:00+00:00", "actor": "old", "action": "add", "entity": "peers",
             "entity_id": "P0001", "peer_id": "P0001", "details": {}}
    line = chain.seal(event, chain.GENESIS)
    admin_sql(pg_url, *SCHEMA_1, "INSERT INTO peerpath._audit_log VALUES (1, %s)" % psycopg.sql.quote(
        json.dumps(line)), "INSERT INTO peerpath._audit_head VALUES (true, %s, 1)" % psycopg.sql.quote(line["hash"]))
    assert_refused(run("--db", pg_url, "peer", "list"), "older schema 1", "db upgrade")
    assert "from schema 1 to 2" in ok(run("--db", pg_url, "db", "upgrade"))
    listed = json.loads(ok(run("--db", pg_url, "affiliate", "list", "--json")))
    assert [(a["id"], a["name"]) for a in listed] == [("main", "NAMI Old Town")]
    assert [p["name"] for p in json.loads(ok(run("--db", pg_url, "peer", "list", "--json")))] == ["Olga Old"]
    assert "is sound" in ok(run("--db", pg_url, "verify"))
    assert ok(run("--db", pg_url, "peer", "add", "New Person")).startswith("P0002")
    with psycopg.connect(pg_url) as connection:
        assert connection.execute("SELECT DISTINCT affiliate FROM peerpath.peers").fetchall() == [("main",)]
