"""`peer export` -> edit the file -> `peer import`: rows with an id change exactly the edited cells."""

import csv
import json

import pytest

from peerpath.core import Tracker
from test_import_export import MESSY, TODAY, affiliate, ok, peers, run, snapshot  # noqa: F401 (fixture)

ODD = ("Ana  Ruiz", "--email", "ana@localhost", "--phone", "x", "--language", "Farsi/Dari",
       "--language", "English", "--consent", "contact=yes", "--consent", "photos=no",
       "--source", "other", "--source-detail", "church picnic", "--sector", "faith",
       "--notes", "line one\nline two")


@pytest.fixture
def stored(affiliate):
    """P0001 with values the importer would not write itself (two spaces, a phone of no digits,
    a language with a slash, consents, the other source), then the 14 peers of the messy sheet."""
    ok("peer", "add", *ODD)
    ok("peer", "import", MESSY)
    return affiliate


def export(tmp_path, *options, name="peers.csv"):
    path = tmp_path / name
    ok("peer", "export", "--output", path, *options)
    return path


def read(path) -> list:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def write(path, rows) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def edited(path, line_of_id, **cells):
    """The export at `path` with `cells` changed in the row of one peer."""
    rows = read(path)
    for row in rows:
        if row["id"] == line_of_id:
            row.update(cells)
    write(path, rows)
    return path


def events() -> list:
    return json.loads(ok("audit", "--json", "--contact").stdout)


def without_updated(peer: dict) -> dict:
    return {key: value for key, value in peer.items() if key != "updated"}


@pytest.mark.parametrize("options", [(), ("--include-contact",)])
def test_export_then_import_without_edits_changes_nothing(stored, tmp_path, options):
    path = export(tmp_path, *options)
    before = snapshot(stored)
    result = ok("peer", "import", path)
    assert result.stdout.splitlines() == ["Imported 0 peer(s).", "0 changed, 15 unchanged."]
    assert snapshot(stored) == before  # not one byte written, no audit event


def test_dates_and_lists_re_typed_by_a_spreadsheet_are_unchanged(stored, tmp_path):
    """LibreOffice may save 2026-03-04 as 03/04/26; a list may come back with other separators."""
    rows = read(export(tmp_path, "--include-contact"))
    for row in rows:
        year, month, day = row["stage_since"].split("-")
        row["stage_since"] = f"{month}/{day}/{year[2:]}"
        row["languages"] = row["languages"].replace(", ", " ; ")
        row["consent"] = row["consent"].replace("; ", ",").replace("yes", "Yes")
        row["source"] = row["source"].upper()
    path = tmp_path / "retyped.csv"
    write(path, rows)
    before = snapshot(stored)
    assert "0 changed, 15 unchanged." in ok("peer", "import", path).stdout
    assert snapshot(stored) == before


def test_one_edited_cell_changes_exactly_that_field_and_is_audited(stored, tmp_path):
    path = edited(export(tmp_path), "P0004", community="North Chicago")  # Aisha Rahman, was Waukegan
    before, audit_before = peers(), events()
    result = ok("peer", "import", path)
    assert result.stdout.splitlines() == [
        "Imported 0 peer(s).", "1 changed, 14 unchanged.",
        "P0004 Aisha Rahman (line 5):", "  community: Waukegan -> North Chicago"]
    after = peers()
    assert after["P0004"]["community"] == "North Chicago"
    assert without_updated(after["P0004"]) == {**without_updated(before["P0004"]), "community": "North Chicago"}
    assert {k: v for k, v in after.items() if k != "P0004"} == {k: v for k, v in before.items() if k != "P0004"}
    [event] = events()[len(audit_before):]
    assert (event["action"], event["entity_id"], event["actor"]) == ("edit", "P0004", "coordinator")
    assert event["details"] == {"fields": ["community"],
                                "changes": {"community": {"old": "Waukegan", "new": "North Chicago"}}}


def test_an_export_without_contact_columns_never_wipes_them(stored, tmp_path):
    path = edited(export(tmp_path), "P0001", pronouns="she/her")
    ok("peer", "import", path)
    ana = peers()["P0001"]
    assert (ana["email"], ana["phone"], ana["notes"], ana["pronouns"]) == \
        ("ana@localhost", "x", "line one\nline two", "she/her")


def test_dry_run_lists_each_change_old_to_new_and_writes_nothing(stored, tmp_path):
    path = edited(export(tmp_path, "--include-contact"), "P0003", community="Berwyn", languages="English, Irish",
                  email="", phone="(clear)", stage="applied")
    path = edited(path, "P0001", consent="contact=no; photos=no")
    before = snapshot(stored)
    result = ok("peer", "import", path, "--dry-run")
    assert snapshot(stored) == before
    lines = result.stdout.splitlines()
    start = lines.index("Dry run: would import 0 peer(s) and change 2 (13 unchanged); nothing was written.")
    assert lines[start + 1:] == [
        "P0001 Ana  Ruiz (line 2):",
        "  consent: contact=yes; photos=no -> contact=no; photos=no",
        "P0003 James O'Neil (line 5):",
        "  languages: English -> English, Irish",
        "  community: Oak Park -> Berwyn",
        "  phone: 312-555-0102 -> (blank)",
        f"  stage: contacted -> applied (on {TODAY})",
    ]


def test_blank_leaves_a_field_clear_empties_it_and_a_new_stage_is_dated_today(stored, tmp_path):
    path = edited(export(tmp_path, "--include-contact"), "P0003", email="", phone="(clear)", notes="(CLEAR)",
                  stage="Applied", name="")
    ok("peer", "import", path)
    james = peers()["P0003"]
    assert (james["name"], james["email"], james["phone"], james["notes"], james["stage"]) == \
        ("James O'Neil", "jim.oneil@example.com", None, None, "applied")
    assert [(c["stage"], c["on"]) for c in james["stage_history"]] == [("contacted", "2026-03-04"),
                                                                        ("applied", TODAY)]
    changes = [e for e in events() if e["peer_id"] == "P0003"][-2:]
    assert [e["action"] for e in changes] == ["edit", "stage"]
    assert changes[0]["details"]["changes"]["phone"] == {"old": "312-555-0102", "new": None}
    stage_change = dict(changes[1]["details"])
    assert stage_change.pop("changes")["stage"] == {"old": "contacted", "new": "applied"}
    assert stage_change == {"from": "contacted", "to": "applied", "on": TODAY}


def test_new_rows_are_added_beside_updated_ones_in_one_write(stored, tmp_path):
    path = edited(export(tmp_path), "P0002", county="Lake")
    rows = read(path)
    write(path, rows + [{**{key: "" for key in rows[0]}, "name": "Zoe New", "stage": "contacted"}])
    generation = json.loads(stored.read_bytes())["generation"]
    result = ok("peer", "import", path)
    assert result.stdout.splitlines()[:2] == ["Imported 1 peer(s): P0016 to P0016.", "1 changed, 14 unchanged."]
    assert json.loads(stored.read_bytes())["generation"] == generation + 1
    assert peers()["P0016"]["name"] == "Zoe New" and peers()["P0002"]["county"] == "Lake"


def test_reimporting_the_edited_file_again_changes_nothing_more(stored, tmp_path):
    path = edited(export(tmp_path), "P0005", sector="Sports league")  # matches nothing: other
    ok("peer", "import", path)
    tom = peers()["P0005"]
    assert tom["sector"] == "other" and tom["notes"] == "T-shirt size: XL\nsector: Sports league"
    before = snapshot(stored)
    assert "0 changed, 15 unchanged." in ok("peer", "import", path).stdout
    assert snapshot(stored) == before


def test_a_name_cannot_be_cleared(stored, tmp_path):
    result = run("peer", "import", edited(export(tmp_path), "P0003", name="(clear)"))
    assert result.exit_code == 1 and result.stderr.splitlines()[0] == "line 4: name cannot be cleared"


def test_unknown_and_repeated_ids_stop_the_import(stored, tmp_path):
    rows = read(export(tmp_path))
    rows[1]["id"] = "P0999"
    rows[3]["id"] = "p0003"
    path = tmp_path / "ids.csv"
    write(path, rows)
    before = snapshot(stored)
    result = run("peer", "import", path)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "line 3: unknown peer id 'P0999' (to add the row as a new peer, empty its id cell; "
        "--map 'COLUMN=ignore' ignores a column of ids)",
        "line 3: warning: likely duplicate: same name and community as P0002 (Maria Lopez)",
        "line 5: peer P0003 is also on line 4",
        "line 5: warning: likely duplicate: same name and community as P0004 (Aisha Rahman)",
        "Error: 2 of 15 row(s) cannot be stored; nothing was imported (fix them in the sheet, "
        "or map a column with --map COLUMN=FIELD)",
    ]
    assert snapshot(stored) == before


def test_a_stage_date_before_the_current_stage_is_refused(stored, tmp_path):
    path = edited(export(tmp_path), "P0003", stage="applied", stage_since="2026-01-01")
    result = run("peer", "import", path)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == \
        "line 4: stage date 2026-01-01 is before P0003 entered 'contacted' on 2026-03-04"


def test_a_new_date_for_the_same_stage_is_a_warning_and_kept_as_recorded(stored, tmp_path):
    path = edited(export(tmp_path), "P0003", stage_since="2026-03-05")
    result = ok("peer", "import", path)
    assert "0 changed, 15 unchanged." in result.stdout
    assert "  line 4: stage date 2026-03-05 differs from the recorded 2026-03-04 but the stage is the same: " \
           "left as recorded (an import never rewrites the stage history)" in result.stdout.splitlines()


def test_the_round_trip_through_the_tracker_api(stored, tmp_path):
    path = edited(export(tmp_path), "P0006", name="Linda Park-Cho")
    tracker = Tracker(actor="api")
    plan = tracker.import_peers(path, dry_run=True)
    assert [(u.peer_id, u.changes) for u in plan.updates] == [("P0006", {"name": ("Linda Park", "Linda Park-Cho")})]
    result = tracker.import_peers(path)
    assert (result.added, len(result.updates), result.unchanged) == ((), 1, 14)
    assert tracker.peer("P0006").name == "Linda Park-Cho"
    assert tracker.audit("P0006")[-1].details["changes"] == {"name": {"old": "Linda Park", "new": "Linda Park-Cho"}}


# --- a graduate's offering (core.graduates, Peer.graduate_of) ---------------------------------------


def graduates_of(rows) -> dict:
    return {row["id"]: row["graduate_of"] for row in rows if row["graduate_of"]}


def test_the_offering_a_graduate_came_from_is_exported_and_survives_the_round_trip(demo_db, tmp_path):
    # the demo: P0004 graduated from the Maywood group (O0006), P0005 from the fall 2025 class (O0005)
    path = export(tmp_path)
    exported = graduates_of(read(path))
    assert (exported["P0004"], exported["P0005"]) == ("O0006", "O0005")
    assert exported == {p["id"]: p["graduate_of"] for p in json.loads(ok("peer", "list", "--json").stdout)
                        if p["graduate_of"]}
    assert graduates_of(json.loads(ok("peer", "export", "--format", "json").stdout)) == exported
    before = snapshot(demo_db)
    assert "0 changed, 36 unchanged." in ok("peer", "import", path).stdout
    assert snapshot(demo_db) == before
    # an edited cell moves the graduate to the other completed offering, audited old -> new
    ok("peer", "import", edited(path, "P0004", graduate_of="O0005"))
    assert Tracker().peer("P0004").graduate_of == "O0005"
    assert events()[-1]["details"]["changes"]["graduate_of"] == {"old": "O0006", "new": "O0005"}


@pytest.mark.parametrize("cells, fragment", [
    ({"graduate_of": "O0001"}, "line 5: O0001 is running, not completed"),
    ({"graduate_of": "O0099"}, "line 5: unknown offering 'O0099'"),
    ({"source": "web form"}, "line 5: P0004 graduated from O0006, so their source is 'graduate'"),
])
def test_a_graduate_cell_naming_no_completed_offering_is_refused_by_line(demo_db, tmp_path, cells, fragment):
    path = edited(export(tmp_path), "P0004", **cells)
    before = snapshot(demo_db)
    result = run("peer", "import", path)
    assert result.exit_code == 1 and fragment in result.stderr
    assert snapshot(demo_db) == before


def test_a_new_row_names_the_offering_its_graduate_came_from(demo_db, tmp_path):
    sheet = tmp_path / "graduates.csv"
    sheet.write_text("name,graduated from\nZed Ruiz,O0006\n")
    ok("peer", "import", sheet)
    [zed] = [p for p in Tracker().peers() if p.name == "Zed Ruiz"]
    assert (zed.graduate_of, zed.source) == ("O0006", "graduate")
    sheet.write_text("name,graduated from\nYan Li,O0002\n")
    refused = run("peer", "import", sheet)
    assert refused.exit_code == 1 and "line 2: O0002 is running, not completed" in refused.stderr
