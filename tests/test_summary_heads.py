"""Each stored summary's head (`summaries.HEADS`), which the leaders table is listed from: after
every kind of write it is the head of its summary, the listing from heads shows what the listing
from whole summaries shows, and a database from before heads is listed (and swept) as before."""

import json

import pytest

from conftest import certify_teacher, crss_walk, ok
from peerpath.core import Tracker
from peerpath.core import summaries

pytestmark = pytest.mark.both_backends  # each test on a file and on PostgreSQL (conftest.py)


def stored(db) -> tuple[dict, dict]:
    """({enrolment id: summary}, {enrolment id: head}) as stored."""
    with Tracker(db).reading() as tx:
        return ({d["id"]: dict(d) for d in tx.all(summaries.TABLE)},
                {d["id"]: dict(d) for d in tx.all(summaries.HEADS)})


def listed(db, steps) -> list:
    """What the leaders table shows of each leader, listed with or without the steps."""
    return [(s.peer, s.enrollment.id, s.status, s.certification, s.done_count, s.next_steps, s.renewal,
             s.last_activity) for s in Tracker(db).leaders(steps=steps)]


def assert_heads_kept(db, run) -> None:
    full, heads = stored(db)
    assert heads == {key: summaries.head(document) for key, document in full.items()}
    assert listed(db, steps=False) == listed(db, steps=True)
    ok(run("verify"))


@pytest.fixture
def leaders(initialised, run, monkeypatch):
    """P0001 a certified Peer-to-Peer teacher, P0002 a CRSS specialist, P0003 in training."""
    monkeypatch.setenv("PEERPATH_TODAY", "2026-06-01")
    for name in ("Ana Ruiz", "Bo Chen", "Cy Diaz"):
        ok(run("peer", "add", name, "--lived-experience", "self", "--consent", "adult=yes"))
    certify_teacher(run, "P0001")
    crss_walk(run, "P0002")
    ok(run("enroll", "P0003", "connection", "--on", "2026-01-01"))
    return run


def test_every_kind_of_write_keeps_each_head_that_of_its_summary(leaders, db, tmp_path):
    run = leaders
    assert_heads_kept(db, run)
    ok(run("record", "P0003", "connection", "application", "--on", "2026-01-02"))
    assert_heads_kept(db, run)
    ok(run("config", "set", "crss.exam.pass_mark", "90"))
    assert_heads_kept(db, run)
    ok(run("--today", "2028-06-01", "sweep"))
    assert_heads_kept(db, run)
    ok(run("peer", "edit", "P0003", "--name", "Cy Díaz"))
    assert_heads_kept(db, run)
    assert stored(db)[1]["E0003"]["name"] == "Cy Díaz"
    ok(run("peer", "add", "Cy Diaz", "--lived-experience", "self", "--on", "2026-01-01"))
    ok(run("peer", "merge", "P0003", "P0004"))
    ok(run("peer", "add", "Di Ng", "--lived-experience", "self", "--on", "2026-01-01"))
    ok(run("enroll", "P0005", "peer_to_peer", "--on", "2026-01-01"))
    ok(run("peer", "merge", "P0003", "P0005"))
    assert_heads_kept(db, run)
    ok(run("peer", "erase", "P0002"))
    assert_heads_kept(db, run)
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("name,lived experience\nEd Park,self\n")
    ok(run("peer", "import", str(sheet)))
    ok(run("enroll", "P0006", "ioov", "--on", "2026-01-01"))
    assert_heads_kept(db, run)
    copy = tmp_path / "copy.json"
    ok(run("db", "copy", str(db), str(copy)))
    assert stored(copy) == stored(db)


def test_a_void_keeps_the_head(leaders, db):
    run = leaders
    steps = json.loads(ok(run("leaders", "--json")))
    assert steps and all("steps" in row for row in steps)
    out = ok(run("record", "P0003", "connection", "application", "--on", "2026-01-02"))
    ok(run("void", out.split(":")[0], "--reason", "entered twice"))
    assert_heads_kept(db, run)


def test_a_database_from_before_heads_is_listed_from_its_summaries_and_swept_into_heads(leaders, db):
    run = leaders
    table, as_json = ok(run("leaders")), ok(run("leaders", "--json"))
    tracker = Tracker(db)
    with tracker.changing() as tx:
        for document in list(tx.all(summaries.HEADS)):
            tx.remove(summaries.HEADS, document)
    assert stored(db)[1] == {}
    assert (ok(run("leaders")), ok(run("leaders", "--json"))) == (table, as_json)
    ok(run("verify"))
    ok(run("record", "P0003", "connection", "application", "--on", "2026-01-02"))  # one head written
    assert list(stored(db)[1]) == ["E0003"]
    assert listed(db, steps=False) == listed(db, steps=True)
    ok(run("sweep"))  # gives every summary its head
    assert_heads_kept(db, run)


def test_verify_names_a_head_that_disagrees_with_its_summary(leaders, db, run):
    tracker = Tracker(db)
    with tracker.changing() as tx:
        head = dict(tx.get(summaries.HEADS, "E0003", peer_id="P0003"))
        tx.replace(summaries.HEADS, {**head, "done": head["done"] + 1})
    result = run("verify")
    assert result.exit_code != 0
    assert "summary_heads: E0003 does not match its summary" in result.output


@pytest.mark.files_only("a table file edited by hand: reads do not check rows, so what a listing reads must")
@pytest.mark.parametrize("table, listing, field", [(summaries.HEADS, ("leaders",), "next"),
                                                    (summaries.TABLE, ("leaders", "--json"), "renewal")])
def test_a_damaged_summary_or_head_is_refused_in_one_line_by_the_listing_that_reads_it(leaders, db, table,
                                                                                        listing, field):
    run = leaders
    (chunk,) = db.parent.glob(f"{db.name}.d/{table}~0.*.json")
    stored_file = json.loads(chunk.read_text())
    del stored_file[f"{table}~0"]["3"][field]  # E0003's row lost a field
    chunk.write_text(json.dumps(stored_file))
    result = run(*listing)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error: {table}: E0003 is damaged: its field '{field}' is missing; run peerpath verify\n"
    assert "Traceback" not in result.output
    assert run("verify").exit_code != 0
