"""Sessions and observations are chunked by offering and found per leader through an index
(issue 14, point 5): one-peer answers through the index equal a full scan, only the chunks the
index names are read, older whole-table databases are chunked by their first write, and a damaged
index is named by `verify` and made again by `recover`."""

import json

import pytest

from peerpath.core import Tracker
from peerpath.core.store import SCHEMA_VERSION, Store

from conftest import manifest, ok, snapshot

pytestmark = pytest.mark.files_only("the file store's stored indexes of chunks")

LED = ("sessions", "observations")


def folder_of(db):
    return db.with_name(db.name + ".d")


def leaders_of(transaction, table):
    return sorted({peer for doc in transaction.all(table) for peer in doc["leaders"]})


def test_one_leaders_sessions_and_observations_through_the_index_equal_a_full_scan(demo_db):
    with Tracker(demo_db).store.read() as tx:
        for table in LED:
            leaders = leaders_of(tx, table)
            assert len(leaders) >= 3, f"the demo should have several leaders of {table}"
            for peer in leaders + ["P0001", "P9999"]:
                expected = sorted(doc["id"] for doc in tx.all(table) if peer in doc["leaders"])
                assert sorted(doc["id"] for doc in tx.containing(table, "leaders", peer)) == expected


def test_a_leaders_sessions_are_read_from_the_chunks_the_index_names_and_no_others(tmp_path):
    store = Store(tmp_path / "db.json", shards={"sessions": ("offering_id", 100)}, indexes={"sessions": "leaders"})
    offerings = {"O0001": ["P0001", "P0002"], "O0150": ["P0002"], "O0350": ["P0001"]}
    with store.write(create=True) as tx:
        tx.insert_many("sessions", [{"id": f"S{n:04d}", "offering_id": offering, "leaders": leaders}
                                    for n, (offering, leaders) in enumerate(offerings.items(), 1)])
    with store.read() as tx:
        found = tx.containing("sessions", "leaders", "P0001")
        assert sorted(doc["offering_id"] for doc in found) == ["O0001", "O0350"]
        read = {name for name in tx._tables._loaded if name.startswith("sessions~")}
        assert read == {"sessions~0", "sessions~3"}  # not sessions~1, which holds O0150
    with store.write() as tx:  # a replace that adds a leader is indexed in the same commit
        tx.replace("sessions", {"id": "S0002", "offering_id": "O0150", "leaders": ["P0002", "P0001"]})
    with store.read() as tx:
        assert sorted(doc["id"] for doc in tx.containing("sessions", "leaders", "P0001")) == ["S0001", "S0002", "S0003"]
        assert tx.index_problems() == []


def downgrade_to_whole_tables(db):
    """Make `db` look as schema 2 wrote it: offerings, sessions and observations whole, no indexes."""
    document, folder = manifest(db), folder_of(db)
    for table in ("offerings", *LED):
        rows = {}
        for name in [name for name in document["tables"] if name.startswith(f"{table}~")]:
            rows.update(json.loads((folder / document["tables"].pop(name)).read_bytes())[name])
        (folder / f"{table}.1.json").write_text(json.dumps({table: rows}))
        document["tables"][table] = f"{table}.1.json"
    for name in [name for name in document["tables"] if "_by_" in name]:
        (folder / document["tables"].pop(name)).unlink()
    document["schema"] = 2
    db.write_text(json.dumps(document))


def test_a_database_of_whole_tables_answers_the_same_and_is_chunked_by_its_first_write(demo_db, run):
    questions = [("progress", "P0023", "--json"), ("leaders", "--json"), ("fidelity", "due", "--json")]
    answers = [ok(run(*question)) for question in questions]
    downgrade_to_whole_tables(demo_db)
    before = snapshot(demo_db)
    assert [ok(run(*question)) for question in questions] == answers
    assert "unbroken chain" in ok(run("verify"))
    assert snapshot(demo_db) == before  # reading an older layout never writes
    ok(run("peer", "edit", "P0023", "--notes", "call after 5"))
    upgraded = manifest(demo_db)
    assert upgraded["schema"] == SCHEMA_VERSION
    assert not {"offerings", *LED} & set(upgraded["tables"])
    assert {"sessions_by_leaders~0", "observations_by_leaders~0", "sessions~0", "offerings~0"} <= set(upgraded["tables"])
    files = {path.name for path in folder_of(demo_db).iterdir()}
    assert files == set(upgraded["tables"].values()) | {upgraded["events"]["file"]}
    assert [ok(run(*question)) for question in questions] == answers
    assert "unbroken chain" in ok(run("verify"))


def test_an_index_that_misses_a_session_is_named_by_verify_and_made_again_by_recover(demo_db, run):
    answer = ok(run("progress", "P0023", "--json"))
    name = manifest(demo_db)["tables"]["sessions_by_leaders~0"]
    path = folder_of(demo_db) / name
    index = json.loads(path.read_bytes())
    del index["sessions_by_leaders~0"]["23"]
    path.write_text(json.dumps(index))
    result = run("verify")
    assert result.exit_code != 0
    assert f"{name} is corrupt: it does not list P0023 under O0001, O0002 of sessions" in result.stderr
    demo_db.unlink()  # recover rebuilds the manifest and, from the tables, every index
    ok(run("recover"))
    assert "unbroken chain" in ok(run("verify"))
    assert ok(run("progress", "P0023", "--json")) == answer
