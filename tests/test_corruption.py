"""Every file of a database damaged in every way a disk, a crash or a hand edit damages it, then
every kind of read and write command run against it: never a traceback, every refusal one
`Error:` line naming the damaged file, and a write never carries the damage on."""

import json
import shutil
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from conftest import certify_teacher, snapshot
from peerpath.cli import cli
from peerpath.core.store import table_problem

pytestmark = pytest.mark.files_only("damaged files of the file store")

TODAY = "2026-06-01"
READS = [
    ("peer", "list"), ("peer", "show", "P0001"), ("leaders",), ("progress", "P0001"), ("audit",),
    ("report", "funnel"), ("report", "rollup"), ("fidelity", "due"), ("outreach", "list"), ("verify",),
]
WRITES = [
    ("peer", "add", "New Peer", "--outreach", "X0001", "--on", "2026-05-01"),
    ("record", "P0002", "peer_to_peer", "affiliate_interview", "--outcome", "passed", "--on", "2026-05-02"),
    ("config", "set", "crss.exam.pass_mark", "70"),
    ("sweep",),
    ("peer", "merge", "P0003", "P0002"),
]


def _invoke(db: Path, args):
    env = {"PEERPATH_DB": str(db), "PEERPATH_TODAY": TODAY, "PEERPATH_USER": "tester",
           "PEERPATH_LOAD_PLUGINS": None, "COLUMNS": None}
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    """A small database with a row in every table: peers (one merged into another), enrolments in
    training and certified, step records, a certification, an offering with a session, an
    outreach event."""
    db = tmp_path_factory.mktemp("original") / "affiliate.json"

    def run(*args):
        result = _invoke(db, [str(arg) for arg in args])
        assert result.exit_code == 0, (args, result.stderr)
        return result

    run("init", "--affiliate", "NAMI Test County")
    run("outreach", "add", "hospital talk", "--on", "2025-11-01", "--community", "Cicero")
    run("peer", "add", "Ana Ruiz", "--lived-experience", "self", "--outreach", "X0001", "--on", "2025-12-01")
    run("peer", "add", "Bo Chen", "--lived-experience", "both", "--language", "Cantonese", "--on", "2025-12-01")
    run("peer", "add", "Cy Moss", "--lived-experience", "self", "--on", "2025-12-02")
    run("peer", "stage", "P0001", "contacted", "--on", "2025-12-05")
    certify_teacher(run, "P0001")
    run("enroll", "P0002", "peer_to_peer", "--on", "2026-01-01")
    run("offering", "add", "peer_to_peer", "Spring class", "--leaders", "P0001", "--started", "2026-03-03")
    run("session", "add", "O0001", "--on", "2026-03-03", "--attendance", "9")
    run("peer", "add", "Cy Moss", "--on", "2025-12-03")
    run("peer", "merge", "P0003", "P0004")
    return db


FILES = ["manifest", "peers~0", "enrollments~0", "step_records~0", "certifications~0", "summaries~0", "summary_heads~0",
         "offerings~0", "sessions~0", "outreach", "merged_peers", "events"]


def _table_damage(rows: dict, how: str) -> dict:
    first_key = next(iter(rows))
    if how == "wrong types":  # every field but those the store itself reads (ids, peers named)
        return {key: {field: value if field in ("id", "peer_id", "leaders") else 7 for field, value in row.items()}
                for key, row in rows.items()}
    if how == "wrong id types":
        return {key: {**row, "id": int(key)} for key, row in rows.items()}
    # duplicated ids: another row carrying the first row's id
    return {**rows, str(int(max(rows, key=int)) + 1): dict(rows[first_key])}


def _log_damage(data: bytes, how: str) -> bytes:
    lines = data.splitlines(keepends=True)
    if how == "wrong shape":
        return b"[1, 2]\n" + b"".join(lines[1:])
    if how == "wrong types":
        return b"".join(orjson.dumps({key: 7 for key in orjson.loads(line)}) + b"\n" for line in lines)
    return lines[0] + b"".join(lines)  # duplicated ids: the first event twice


def _manifest_damage(manifest: dict, how: str) -> dict:
    if how == "wrong types":
        return {**manifest, "generation": "7", "tables": {name: 7 for name in manifest["tables"]}}
    if how == "wrong id types":
        return {**manifest, "meta": {**manifest["meta"], "counters": {"P": "many"}}}
    raise AssertionError(how)


DAMAGES = ["truncated", "emptied", "wrong shape", "wrong types", "wrong id types", "bad UTF-8",
           "NUL-padded", "NUL-filled", "missing", "duplicated ids"]


def damage(path: Path, kind: str, how: str, table: str = None) -> None:
    """Damage the file at `path` (the manifest, a table file or the log) one way."""
    data = path.read_bytes()
    if how == "missing":
        path.unlink()
        return
    if how == "truncated":
        damaged = data[: len(data) // 2]
    elif how == "emptied":
        damaged = b""
    elif how == "bad UTF-8":
        middle = data.index(b'"', len(data) // 2) + 1  # inside a string
        damaged = data[:middle] + b"\xff\xfe" + data[middle:]
    elif how == "NUL-padded":
        damaged = data + b"\0" * 512
    elif how == "NUL-filled":
        damaged = b"\0" * len(data)
    elif kind == "events":
        damaged = _log_damage(data, how)
    elif how == "wrong shape":
        damaged = b"[]" if kind == "manifest" else orjson.dumps({table: list(orjson.loads(data)[table].values())})
    elif kind == "manifest" and how == "duplicated ids":  # a table given twice, to two files
        damaged = data.replace(b'"tables": {', b'"tables": {\n  "peers~0": "peers~0.1.json",', 1)
    elif kind == "manifest":
        damaged = json.dumps(_manifest_damage(json.loads(data), how)).encode()
    else:
        damaged = orjson.dumps({table: _table_damage(orjson.loads(data)[table], how)})
    path.write_bytes(damaged)


def _damaged_copy(original: Path, tmp_path: Path, kind: str, how: str):
    """A copy of the database with one file damaged; (db, the damaged file's name and path)."""
    shutil.copytree(original.parent, tmp_path / "db")
    db = tmp_path / "db" / original.name
    manifest = json.loads(db.read_bytes())
    folder = db.with_name(db.name + ".d")
    if kind == "manifest":
        path = db
    elif kind == "events":
        path = folder / manifest["events"]["file"]
    else:
        path = folder / manifest["tables"][kind]
    damage(path, kind, how, table=kind)
    return db, path


def _check_no_traceback(result, args) -> None:
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert "Traceback" not in output, (args, output)


def _check_refusal_names(result, args, path: Path) -> None:
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], (args, result.stderr)
    assert path.name in errors[0], (args, errors[0])


def _check_not_carried(db: Path, path: Path, before: bytes, kind: str, original_manifest: bytes) -> None:
    """After a successful write: the damaged file is as it was, no file the new manifest names is
    damaged, and the log's committed start is unchanged."""
    manifest = json.loads(db.read_bytes())
    folder = db.with_name(db.name + ".d")
    after = path.read_bytes() if path.exists() else None
    if kind == "events" and after != before:
        # Appended to after its committed bytes (an uncommitted tail, such as NULs, is dropped).
        committed = json.loads(original_manifest)["events"]["bytes"]
        assert after[:committed] == before[:committed] and b"\0" not in after[committed:]
    else:
        assert after == before, "the damaged file was changed"
    for table, filename in manifest["tables"].items():
        if kind == table:
            assert folder / filename == path, f"a new generation of the damaged table {table}"
        else:
            assert table_problem(table, orjson.loads((folder / filename).read_bytes())) == ""


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("kind", FILES)
def test_damaged_file_is_refused_by_name_and_never_carried_on(original, tmp_path, kind, how):
    db, path = _damaged_copy(original, tmp_path, kind, how)
    before = path.read_bytes() if path.exists() else None
    for args in READS:
        result = _invoke(db, args)
        _check_no_traceback(result, args)
        if result.exit_code != 0:
            _check_refusal_names(result, args, path)
    for number, args in enumerate(WRITES):
        db, path = _damaged_copy(original, tmp_path / f"write{number}", kind, how)
        stored = snapshot(db)
        result = _invoke(db, args)
        _check_no_traceback(result, args)
        if result.exit_code != 0:
            _check_refusal_names(result, args, path)
            assert snapshot(db) == stored, (args, "a refused write changed the database")
        else:
            _check_not_carried(db, path, before, kind, original.read_bytes())


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("kind", FILES)
def test_verify_fails_naming_every_damaged_file(original, tmp_path, kind, how):
    db, path = _damaged_copy(original, tmp_path, kind, how)
    result = _invoke(db, ("verify",))
    _check_no_traceback(result, "verify")
    if (kind, how) == ("events", "NUL-padded"):  # bytes after the committed end: a commit that never finished
        assert result.exit_code == 0 and "after the audit log's committed end" in result.stdout
    else:
        assert result.exit_code != 0 and path.name in result.stderr, result.stderr


@pytest.mark.parametrize("kind, write", [("peers~0", WRITES[0]), ("step_records~0", WRITES[1]),
                                         ("summaries~0", WRITES[3]), ("sessions~0", WRITES[4])])
def test_a_copy_of_a_damaged_row_is_refused_and_never_written_on(original, tmp_path, kind, write):
    """db copy reads its source as a read does, without a write's row checks: a damaged row must
    not reach a copy whose manifest passes its file as checked (checksums) for writes to carry on."""
    db, _ = _damaged_copy(original, tmp_path, kind, "wrong types")
    target = tmp_path / "copy.json"
    result = _invoke(db, ("db", "copy", str(db), str(target)))
    _check_no_traceback(result, "db copy")
    assert result.exit_code != 0 and "does not verify" in result.stderr, result.stderr
    stored = snapshot(target)
    result = _invoke(target, write)
    assert result.exit_code != 0 and "is corrupt" in result.stderr, "a write carried the copied damaged row on"
    assert snapshot(target) == stored


def test_an_id_counter_behind_the_stored_ids_is_refused_naming_the_manifest(original, tmp_path):
    """A manifest put back from an older copy: its counters would give a new peer a taken id."""
    shutil.copytree(original.parent, tmp_path / "db")
    db = tmp_path / "db" / original.name
    manifest = json.loads(db.read_bytes())
    manifest["meta"]["counters"]["P"] = 1
    db.write_text(json.dumps(manifest))
    stored = snapshot(db)
    result = _invoke(db, ("peer", "add", "New Peer"))
    _check_no_traceback(result, "peer add")
    assert result.exit_code != 0
    _check_refusal_names(result, "peer add", db)
    assert "P0002" in result.stderr and snapshot(db) == stored
