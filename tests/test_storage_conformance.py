"""One conformance suite for the storage interface (core/storage.py), run on every backend: the
TinyDB files (in tmp_path) and PostgreSQL (a fresh database on the throwaway cluster).

What core relies on: documents in and out by id, search, containing, replace, remove, ids that
never repeat, settings, the audit trail sealed in a chain that verifies, a change that is all
or nothing, a read whose changes are never stored, 8 writer processes that lose nothing, and a
writer killed mid-change that leaves nothing of it.
"""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from peerpath.core import chain
from peerpath.core.errors import StoreError
from peerpath.core.storage import open_store

CHILD_TIMEOUT = 120


@pytest.fixture(params=["files", "postgres"])
def location(request, tmp_path) -> str:
    if request.param == "files":
        return str(tmp_path / "conformance.json")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(location):
    return open_store(location)


def event(action, entity_id, **details) -> dict:
    return {"at": "2026-01-01T00:00:00+00:00", "actor": "tester", "action": action, "entity": "peers",
            "entity_id": entity_id, "peer_id": None, "details": details}


def session(number, offering, leaders, on="2026-03-01") -> dict:
    return {"id": f"S{number:04d}", "offering_id": offering, "leaders": leaders, "on": on}


def test_documents_in_and_out(store):
    with store.write(create=True) as tx:
        tx.insert("peers", {"id": "P0001", "name": "Ana", "stage": "prospect"})
        tx.insert_many("peers", [{"id": f"P{n:04d}", "name": f"Peer {n}", "stage": "active"} for n in range(2, 1203)])
        tx.insert_many("sessions", [session(1, "O0001", ["P0001", "P0002"]), session(2, "O0002", ["P0002"]),
                                    session(3, "O0001", ["P0003"], on="2026-04-01")])
        assert tx.get("peers", "P0001")["name"] == "Ana"  # a change reads what it wrote
    with store.read() as tx:
        assert tx.get("peers", "P0001") == {"id": "P0001", "name": "Ana", "stage": "prospect"}
        assert tx.get("peers", "P1202")["name"] == "Peer 1202"
        assert tx.get("peers", "P9999") is None and tx.get("nothing_here", "P0001") is None
        assert len(tx.all("peers")) == 1202 and tx.all("nothing_here") == []
        assert [d["id"] for d in tx.search("peers", stage="prospect")] == ["P0001"]
        assert len(tx.search("peers", stage="active")) == 1201
        assert sorted(d["id"] for d in tx.search("sessions", offering_id="O0001")) == ["S0001", "S0003"]
        assert [d["id"] for d in tx.search("sessions", offering_id="O0001", on="2026-04-01")] == ["S0003"]
        assert tx.search("sessions", offering_id="O0001", missing=None) == tx.search("sessions", offering_id="O0001")
        assert sorted(d["id"] for d in tx.containing("sessions", "leaders", "P0002")) == ["S0001", "S0002"]
        assert tx.containing("sessions", "leaders", "P0404") == []
        assert "peers" in tx.table_names() and "sessions" in tx.table_names()


def test_a_table_read_whole_shows_what_the_change_inserts_next(store):
    """A few rows or many (PostgreSQL reads a bulk insert back from the server, see BULK)."""
    with store.write(create=True) as tx:
        assert tx.all("peers") == []
        tx.insert("peers", {"id": "P0001", "stage": "active"})
        assert tx.all("peers") == [{"id": "P0001", "stage": "active"}]
        tx.insert_many("peers", [{"id": f"P{n:04d}", "stage": "active"} for n in range(2, 1503)])
        assert len(tx.all("peers")) == 1502 and tx.get("peers", "P1502") == {"id": "P1502", "stage": "active"}
        assert len(tx.search("peers", stage="active")) == 1502
    with store.read() as tx:
        assert len(tx.all("peers")) == 1502


def test_search_matches_text_exactly(store):
    """A text value found by search is that text: not a list holding it, a number written the
    same, another case or a longer text (PostgreSQL asks the server for it, see SEARCHED)."""
    documents = [{"id": "P0001", "stage": "active"}, {"id": "P0002", "stage": ["active"]},
                 {"id": "P0003", "stage": "Active"}, {"id": "P0004", "stage": "active", "county": "5"},
                 {"id": "P0005", "stage": "active", "county": 5}, {"id": "P0006", "stage": "active x"},
                 {"id": "P0007", "stage": {"active": "active"}}, {"id": "P0008"}]
    with store.write(create=True) as tx:
        tx.insert_many("peers", documents)
        assert [d["id"] for d in tx.search("peers", stage="active")] == ["P0001", "P0004", "P0005"]
    with store.read() as tx:
        assert [d["id"] for d in tx.search("peers", stage="active")] == ["P0001", "P0004", "P0005"]
        assert [d["id"] for d in tx.search("peers", stage="active", county="5")] == ["P0004"]
        assert [d["id"] for d in tx.search("peers", county=5)] == ["P0005"]
        assert [d["id"] for d in tx.search("peers", stage=None)] == ["P0008"]
        assert tx.search("peers", stage="active\x00") == [] and tx.search("nothing_here", stage="active") == []


def test_replace_and_remove(store):
    with store.write(create=True) as tx:
        tx.insert_many("sessions", [session(1, "O0001", ["P0001"]), session(2, "O0001", ["P0002"])])
    with store.write() as tx:
        tx.replace("sessions", session(1, "O0001", ["P0009"]))
        tx.remove("sessions", session(2, "O0001", ["P0002"]))
        with pytest.raises(StoreError, match="no sessions record 'S0404' to update"):
            tx.replace("sessions", session(404, "O0001", []))
    with store.write() as tx:
        with pytest.raises(StoreError, match="no sessions record 'S0002' to remove"):
            tx.remove("sessions", session(2, "O0001", ["P0002"]))
    with store.read() as tx:
        assert tx.all("sessions") == [session(1, "O0001", ["P0009"])]
        assert tx.containing("sessions", "leaders", "P0001") == []
        assert [d["id"] for d in tx.containing("sessions", "leaders", "P0009")] == ["S0001"]


def test_ids_never_repeat_and_settings_are_kept(store):
    with store.write(create=True) as tx:
        first = [tx.next_id("P"), tx.next_id("P"), tx.next_id("E")]
        tx.meta["affiliate"] = "NAMI Conformance"
        tx.meta["config"] = {"peer_to_peer.validity_days": 365}
    with store.write() as tx:
        assert tx.next_id("P") == "P0003"
        assert tx.meta == {**tx.meta, "affiliate": "NAMI Conformance", "config": {"peer_to_peer.validity_days": 365}}
        assert tx.counters()["P"] == 3
        tx.set_counters({"P": 40, "E": 1})
    with store.read() as tx:
        assert tx.meta["affiliate"] == "NAMI Conformance"
    with store.write() as tx:
        assert tx.next_id("P") == "P0041"
    assert first == ["P0001", "P0002", "E0001"]


def test_the_audit_trail_is_sealed_in_order_and_verifies(store):
    with store.write(create=True) as tx:
        tx.append_event(event("add", "P0001", note="first"))
        tx.append_event(event("add", "P0002"))
        assert [e["entity_id"] for e in tx.events()] == ["P0001", "P0002"]  # before the commit too
    with store.write() as tx:
        tx.append_event(event("edit", "P0001", changes={"name": {"old": "Ana", "new": "Ana B"}}))
    with store.read() as tx:
        lines = tx.log_lines()
        assert [e["action"] for e in tx.events()] == ["add", "add", "edit"]
        assert tx.events()[2]["details"] == {"changes": {"name": {"old": "Ana", "new": "Ana B"}}}
        found = tx.check()
    head = chain.GENESIS
    for line in lines:
        assert chain.chain_problem(line, head) == ""
        head = line["hash"]
    assert found.problems == [] and found.events == 3


def test_a_rewritten_log_keeps_the_chain_and_refuses_an_edited_line(store):
    with store.write(create=True) as tx:
        for n in range(1, 4):
            tx.append_event(event("add", f"P{n:04d}", name=f"Person {n}"))
    with store.write() as tx:
        lines = tx.log_lines()
        redacted, paths = chain.redact(lines[1], lambda path, value: path == ("details", "name"))
        assert paths == ["details.name"]
        tx.rewrite_log([lines[0], redacted, lines[2]])
        tx.append_event(event("erase", "P0002"))
    with store.write() as tx:
        edited = [dict(line) for line in tx.log_lines()]
        edited[0]["actor"] = "someone else"
        with pytest.raises(StoreError, match="event 1"):
            tx.rewrite_log(edited)
    with store.read() as tx:
        assert [e["details"].get("name") for e in tx.events()] == [
            "Person 1", {"$redacted": redacted["details"]["name"]["$redacted"]}, "Person 3", None]
        assert tx.check().problems == []


def test_a_change_that_fails_stores_nothing(store):
    with store.write(create=True) as tx:
        tx.insert("peers", {"id": "P0001", "name": "Ana"})
        tx.next_id("P")
    with pytest.raises(RuntimeError):
        with store.write() as tx:
            tx.insert_many("peers", [{"id": "P0002", "name": "Bo"}, {"id": "P0003", "name": "Cy"}])
            tx.replace("peers", {"id": "P0001", "name": "changed"})
            tx.next_id("P")
            tx.meta["affiliate"] = "half-done"
            tx.append_event(event("add", "P0002"))
            raise RuntimeError("stopped half-way")
    with store.write() as tx:
        assert tx.all("peers") == [{"id": "P0001", "name": "Ana"}]
        assert "affiliate" not in tx.meta and tx.events() == []
        assert tx.next_id("P") == "P0002"


def test_what_a_read_changes_is_never_stored(store):
    with store.write(create=True) as tx:
        tx.insert("peers", {"id": "P0001", "name": "Ana"})
    with store.read() as tx:
        assert tx.writable is False
        tx.insert("peers", {"id": "P0002", "name": "Bo"})
        tx.meta["affiliate"] = "scratch"
        tx.append_event(event("add", "P0002"))
        assert tx.get("peers", "P0002")["name"] == "Bo"  # a what-if sees its own changes
    with store.read() as tx:
        assert [d["id"] for d in tx.all("peers")] == ["P0001"]
        assert "affiliate" not in tx.meta and tx.events() == []


def test_a_missing_database_is_refused_unless_created(store):
    assert not store.exists()
    with pytest.raises(StoreError, match="no peerpath database at"):
        with store.read():
            pass
    with store.read(missing_ok=True) as tx:
        assert tx.all("peers") == [] and tx.meta == {} and tx.events() == []
    with store.write(create=True):
        pass
    assert store.exists()


WRITER = textwrap.dedent("""
    import sys
    from peerpath.core.storage import open_store
    location, child, writes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = open_store(location)
    for n in range(writes):
        with store.write() as tx:
            peer_id = tx.next_id("P")
            tx.insert("peers", {"id": peer_id, "writer": child, "n": n})
            tx.append_event({"action": "add", "entity": "peers", "entity_id": peer_id, "actor": child})
""")


def test_eight_writer_processes_lose_nothing(store, location):
    with store.write(create=True):
        pass
    env = {**os.environ, "PEERPATH_LOCK_TIMEOUT": "120"}
    children = [subprocess.Popen([sys.executable, "-c", WRITER, location, f"w{child}", "10"], env=env)
                for child in range(8)]
    assert [child.wait(timeout=CHILD_TIMEOUT) for child in children] == [0] * 8
    with store.read() as tx:
        peers = tx.all("peers")
        events = tx.events()
        found = tx.check()
    assert len(peers) == 80 and len({p["id"] for p in peers}) == 80
    assert sorted((p["writer"], p["n"]) for p in peers) == sorted((f"w{c}", n) for c in range(8) for n in range(10))
    assert sorted(e["entity_id"] for e in events) == sorted(p["id"] for p in peers)
    assert found.problems == [] and found.events == 80


KILLED = textwrap.dedent("""
    import sys, time
    from peerpath.core.storage import open_store
    store = open_store(sys.argv[1])
    with store.write() as tx:
        tx.insert_many("peers", [{"id": f"P{n:04d}", "name": "half"} for n in range(2, 500)])
        tx.replace("peers", {"id": "P0001", "name": "half"})
        tx.meta["affiliate"] = "half"
        tx.append_event({"action": "add", "entity": "peers", "entity_id": "P0002", "actor": "killed"})
        print("inside", flush=True)
        time.sleep(300)
""")


def test_a_writer_killed_mid_change_leaves_nothing_of_it(store, location):
    with store.write(create=True) as tx:
        tx.insert("peers", {"id": "P0001", "name": "Ana"})
    child = subprocess.Popen([sys.executable, "-c", KILLED, location], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "inside\n"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=CHILD_TIMEOUT)
    with store.write() as tx:  # the next writer is not held up by the dead one
        assert tx.all("peers") == [{"id": "P0001", "name": "Ana"}]
        assert "affiliate" not in tx.meta and tx.events() == []
        tx.insert("peers", {"id": "P0002", "name": "Bo"})
    with store.read() as tx:
        assert [d["id"] for d in tx.all("peers")] == ["P0001", "P0002"] and tx.check().problems == []
