"""`peer import` of messy spreadsheets and `peer export`, through the CLI."""

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from peerpath.cli import cli
from peerpath.core.importer import parse_sheet_date, sniff_delimiter
from conftest import snapshot  # noqa: F401 (test_import_round_trip imports it from here too)

FIXTURES = Path(__file__).parent / "fixtures"
MESSY = FIXTURES / "messy_peers.csv"
BAD = FIXTURES / "bad_rows.csv"
TODAY = "2026-06-30"


@pytest.fixture
def affiliate(tmp_path, monkeypatch):
    """An empty database in tmp_path, dated TODAY."""
    path = tmp_path / "affiliate.json"
    monkeypatch.setenv("PEERPATH_DB", str(path))
    monkeypatch.setenv("PEERPATH_USER", "coordinator")
    monkeypatch.setenv("PEERPATH_TODAY", TODAY)
    result = run("init")
    assert result.exit_code == 0, result.stderr
    return path


def run(*args):
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def ok(*args):
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    return result


def peers() -> dict:
    return {p["id"]: p for p in json.loads(ok("peer", "list", "--json", "--contact").stdout)}


@pytest.fixture
def existing(affiliate):
    """One peer already stored, whom the messy sheet repeats (line 2)."""
    ok("peer", "add", "Maria Lopez", "--email", "maria.lopez@example.org", "--phone", "312 555 9999",
       "--community", "Cicero")
    return affiliate


# name: (email, phone, pronouns, languages, community, county, lived_experience, source,
#        source_detail, sector, stage, stage since, notes)
EXPECTED = {
    "P0002": ("Maria Lopez", "MARIA.LOPEZ@Example.org", "(312) 555-0101", "she/her", ["Spanish", "English"],
              "Cicero", "Cook", "self", "hospital talk", "Lutheran General", "mental health",
              "prospect", "2026-03-04", "T-shirt size: M"),
    "P0003": ("James O'Neil", "jim.oneil@example.com", "312-555-0102", "he/him", ["English"], "Oak Park",
              "Cook", "family", "peer referral", None, None, "contacted", "2026-03-04",
              "prefers evenings\nT-shirt size: L"),
    "P0004": ("Aisha Rahman", None, "773.555.0103", None, ["English", "Arabic"], "Waukegan", "Lake",
              "both", "community partner", "Masjid Al-Huda", "faith", "applied", "2026-03-15", None),
    "P0005": ("Tom Nguyen", "tom.nguyen@example.net", None, None, ["Vietnamese"], "Evanston", "Cook",
              "self", "event", None, "education", "screened", "2026-04-04", "T-shirt size: XL"),
    "P0006": ("Linda Park", "lpark@example.org", None, None, ["Korean", "English"], "Skokie", "Cook",
              "family", "web form", None, None, "prospect", "2026-05-02", "T-shirt size: S"),
    "P0007": ("Jim O'Neil", "JIM.ONEIL@example.com", None, None, ["English"], "Oak Park", "Cook", None,
              "event", None, None, "prospect", "2026-05-10", None),
    "P0008": ("Rosa Díaz", None, "+1 (312) 555-0102", None, ["Spanish"], "Berwyn", "Cook", "self",
              "community partner", "Drug court", "criminal justice", "prospect", "2026-01-20",
              "T-shirt size: M"),
    "P0009": ("Dev Patel", "dev.patel@example.com", "224 555 0110", None, ["Gujarati", "English"],
              "Schaumburg", "Cook", "self", "graduate", "Peer-to-Peer", None, "accepted", "2026-02-28",
              None),
    "P0010": ("Grace Kim", "grace.kim@example.org", None, None, [], None, None, None, None, None, None,
              "prospect", TODAY, None),
    "P0011": ("Sam Taylor", "sam.t@example.org", "847-555-0112", "they/them", ["English"], "Waukegan",
              "Lake", "self", "hospital talk", None, "health", "declined", "2026-04-01",
              "T-shirt size: M"),
    "P0012": ("tom nguyen", None, None, None, [], "EVANSTON", "Cook", None, "event", None, None,
              "prospect", "2026-06-01", None),
    "P0013": ("Chris Johnson", "chris.j@example.org", "(847) 555-0114", None, ["English"], "Zion", "Lake",
              "both", "web form", None, "housing", "withdrawn", "2026-03-20", "T-shirt size: 2XL"),
    "P0014": ("Fatima Haddad", None, None, None, ["Arabic", "French"], "Waukegan", "Lake", "family",
              "peer referral", None, None, "applied", "2026-03-20", None),
    "P0015": ("Robert Brown", "rbrown@example.com", "312.555.0116", None, [], "Cicero", "Cook", None,
              "event", None, None, "contacted", "2026-05-05", "T-shirt size: L"),
}
FIELDS = ("name", "email", "phone", "pronouns", "languages", "community", "county", "lived_experience",
          "source", "source_detail", "sector", "stage")

DUPLICATES = [
    "  line 2: Maria Lopez: same email as P0001 (Maria Lopez); "
    "same name and community as P0001 (Maria Lopez)",
    "  line 8: Jim O'Neil: same email as line 3 (James O'Neil)",
    "  line 9: Rosa Díaz: same phone as line 3 (James O'Neil)",
    "  line 13: tom nguyen: same name and community as line 5 (Tom Nguyen)",
]


def test_messy_sheet_gives_exactly_the_expected_peers(existing):
    result = ok("peer", "import", MESSY)
    assert "Imported 14 peer(s): P0002 to P0015." in result.stdout
    assert "Kept in notes: T-shirt size" in result.stdout
    stored = peers()
    assert sorted(stored) == ["P0001"] + sorted(EXPECTED)
    for peer_id, expected in EXPECTED.items():
        peer = stored[peer_id]
        assert tuple(peer[f] for f in FIELDS) == expected[:12], peer_id
        assert [(c["stage"], c["on"], c["actor"]) for c in peer["stage_history"]] == [
            (expected[11], expected[12], "coordinator")], peer_id
        assert peer["notes"] == expected[13], peer_id


def test_import_is_one_write_with_audit_and_hooks(existing):
    from peerpath.core import get_host, hookimpl

    class Recorder:
        added = []

        @hookimpl
        def peer_added(self, peer, tracker):
            self.added.append(peer.id)

    generation = json.loads(existing.read_bytes())["generation"]
    get_host().register(Recorder(), name="import-recorder")
    try:
        ok("peer", "import", MESSY)
    finally:
        get_host().unregister("import-recorder")
    assert json.loads(existing.read_bytes())["generation"] == generation + 1
    assert Recorder.added == sorted(EXPECTED)
    events = json.loads(ok("audit", "--json").stdout)
    added = [e["entity_id"] for e in events if e["action"] == "add" and e["entity"] == "peers"]
    assert added == ["P0001"] + sorted(EXPECTED)


def test_duplicates_are_flagged_by_line_and_still_imported(existing):
    result = ok("peer", "import", MESSY)
    lines = result.stdout.splitlines()
    assert "4 likely duplicate(s) (imported anyway; --skip-duplicates leaves them out):" in lines
    assert lines[-4:] == DUPLICATES
    assert len(peers()) == 15


def test_skip_duplicates_leaves_flagged_rows_out(existing):
    result = ok("peer", "import", MESSY, "--skip-duplicates")
    assert "Imported 10 peer(s): P0002 to P0011." in result.stdout
    assert "4 likely duplicate(s) (left out):" in result.stdout
    names = sorted(p["name"] for p in peers().values())
    assert names == sorted(["Maria Lopez", "James O'Neil", "Aisha Rahman", "Tom Nguyen", "Linda Park",
                            "Dev Patel", "Grace Kim", "Sam Taylor", "Chris Johnson", "Fatima Haddad",
                            "Robert Brown"])


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(existing):
    before = snapshot(existing)
    result = run("peer", "import", BAD)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "line 3: no name",
        "line 4: unreadable date '31/31/2026': use e.g. 2026-03-04, 3/4/2026 or 4 Mar 2026",
        "line 5: invalid email 'cy at example.org'",
        "line 6: warning: unknown sector 'Sports': kept as other, the text in the notes; "
        "map it with --map-value 'sector:Sports=VALUE'",
        "Error: 3 of 6 row(s) cannot be stored; nothing was imported (fix them in the sheet, "
        "or map a column with --map COLUMN=FIELD)",
    ]
    assert snapshot(existing) == before
    assert list(peers()) == ["P0001"]


def test_dry_run_shows_the_plan_and_writes_nothing(existing):
    before = snapshot(existing)
    result = ok("peer", "import", MESSY, "--dry-run")
    assert snapshot(existing) == before
    assert list(peers()) == ["P0001"]
    out = result.stdout
    assert "Dry run: would import 14 peer(s); nothing was written." in out
    assert "Columns: First -> first_name; Last -> last_name;" in out
    assert "Date added -> date; Comments -> notes" in out
    assert any(line.split() == ["11", "Grace", "Kim", "prospect", TODAY] for line in out.splitlines())
    assert out.splitlines()[-4:] == DUPLICATES


def test_dry_run_with_bad_rows_fails_the_same_way(existing):
    before = snapshot(existing)
    result = run("peer", "import", BAD, "--dry-run")
    assert result.exit_code == 1 and "line 3: no name" in result.stderr
    assert snapshot(existing) == before


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_map_overrides_and_ignores_columns(affiliate, tmp_path):
    sheet = write(tmp_path, "map.csv",
                  "Full Name,Where from,Cell,SSN,Emergency contact\n"
                  "Ana Ruiz,Cicero,312 555 0199,123-45-6789,Luis 312 555 0100\n")
    ok("peer", "import", sheet, "--map", "where FROM=community", "--map", "SSN=ignore",
       "--map", "Emergency contact=notes")
    peer = peers()["P0001"]
    assert (peer["name"], peer["community"], peer["phone"]) == ("Ana Ruiz", "Cicero", "312 555 0199")
    assert peer["notes"] == "Luis 312 555 0100"
    assert "6789" not in json.dumps(peer)


def test_map_refusals_are_one_error_line(affiliate, tmp_path):
    sheet = write(tmp_path, "map.csv", "Full Name,Where from\nAna Ruiz,Cicero\n")
    for args, fragment in [
        (("--map", "Where from=town"), "unknown field 'town'"),
        (("--map", "Nowhere=community"), "no column 'Nowhere'"),
        (("--map", "community"), "use COLUMN=FIELD"),
    ]:
        result = run("peer", "import", sheet, *args)
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
        assert fragment in result.stderr
    assert peers() == {}


def test_sheet_without_a_name_column_is_refused(affiliate, tmp_path):
    sheet = write(tmp_path, "noname.csv", "Who,Email\nAna,ana@example.org\n")
    result = run("peer", "import", sheet)
    assert result.exit_code == 1 and "no name column" in result.stderr
    ok("peer", "import", sheet, "--map", "Who=name")
    assert peers()["P0001"]["name"] == "Ana"


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"])
def test_encodings_and_delimiters(affiliate, tmp_path, delimiter, encoding):
    text = delimiter.join(["Name", "Community", "Date"]) + "\r\n" + \
        delimiter.join(["José Núñez", "Berwyn", "4 Mar 2026"]) + "\r\n"
    ok("peer", "import", write(tmp_path, "sheet.csv", text, encoding))
    peer = peers()["P0001"]
    assert (peer["name"], peer["community"], peer["stage_history"][0]["on"]) == \
        ("José Núñez", "Berwyn", "2026-03-04")


def test_line_numbers_count_lines_of_multi_line_cells(affiliate, tmp_path):
    sheet = write(tmp_path, "multi.csv", 'Name,Notes,Date\nAna,"line one\nline two",2026-01-01\n'
                                         'Bo,,yesterday\n')
    result = run("peer", "import", sheet)
    assert result.stderr.splitlines()[0].startswith("line 4: unreadable date 'yesterday'")


def test_dates_after_today_and_extra_cells_are_refused(affiliate, tmp_path):
    sheet = write(tmp_path, "late.csv", "Name,Date\nAna,2026-07-01\nBo,2026-01-01,oops\nCy,2026-01-01,,\n")
    result = run("peer", "import", sheet)
    assert result.stderr.splitlines()[:2] == [
        "line 2: date '2026-07-01' is after today (2026-06-30)",
        "line 3: 3 cells but the header names 2 columns (a value with an unquoted delimiter?)",
    ]
    assert "2 of 3 row(s)" in result.stderr


def test_missing_or_empty_file_is_one_error_line(affiliate, tmp_path):
    for path, fragment in [(tmp_path / "nope.csv", "cannot read"),
                           (write(tmp_path, "empty.csv", ""), "is empty"),
                           (write(tmp_path, "header.csv", "Name,Email\n"), "no rows to import"),
                           (write(tmp_path, "book.xlsx", "PK\x03\x04..."), "save the sheet as CSV")]:
        result = run("peer", "import", path)
        assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.stderr
        assert fragment in result.stderr


def test_same_name_without_community_is_flagged(affiliate, tmp_path):
    ok("peer", "add", "Grace Kim")
    result = ok("peer", "import", write(tmp_path, "kim.csv", "Name,Town\ngrace  KIM,\nGrace Kim,Zion\n"))
    assert result.stdout.splitlines()[-1] == "  line 2: grace KIM: same name (no community) as P0001 (Grace Kim)"
    assert "line 3" not in result.stdout


def test_long_import_is_one_write(affiliate, tmp_path):
    rows = "".join(f"Person {i},p{i}@example.org,1/{i % 28 + 1}/2026\n" for i in range(250))
    generation = json.loads(affiliate.read_bytes())["generation"]
    result = ok("peer", "import", write(tmp_path, "long.csv", "Name,Email,Date\n" + rows))
    assert "Imported 250 peer(s): P0001 to P0250." in result.stdout
    assert json.loads(affiliate.read_bytes())["generation"] == generation + 1


@pytest.mark.parametrize("text, day", [
    ("2026-03-04", dt.date(2026, 3, 4)), ("3/4/2026", dt.date(2026, 3, 4)),
    ("03/04/26", dt.date(2026, 3, 4)), ("4 Mar 2026", dt.date(2026, 3, 4)),
    ("March 4, 2026", dt.date(2026, 3, 4)), ("Mar. 4, 2026", dt.date(2026, 3, 4)),
    ("04-Mar-2026", dt.date(2026, 3, 4)), ("2026/03/04", dt.date(2026, 3, 4)),
    ("3/4/2026 14:05", dt.date(2026, 3, 4)), ("2026-03-04T09:00:00", dt.date(2026, 3, 4)),
])
def test_date_formats(text, day):
    assert parse_sheet_date(text) == day


def test_delimiter_sniffing():
    assert sniff_delimiter("Name;E-mail;Phone #") == ";"
    assert sniff_delimiter("Name\tE-mail") == "\t"
    assert sniff_delimiter("Name") == ","


# --- export ---------------------------------------------------------------------------------------

PHONES = ["5550101", "5550102", "5550103", "5550110", "5550112", "5550114", "5550116", "5559999"]
COLUMNS = ["id", "name", "pronouns", "languages", "community", "county", "lived_experience", "source",
           "source_detail", "sector", "graduate_of", "consent", "stage", "stage_since", "created"]


@pytest.fixture
def imported(existing):
    ok("peer", "import", MESSY)
    return existing


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_without_contact_has_no_email_phone_or_notes(imported, fmt):
    out = ok("peer", "export", "--format", fmt).stdout
    assert "@" not in out
    for phone in PHONES:
        assert phone not in digits(out)
    assert "T-shirt" not in out and "evenings" not in out


def test_csv_export_columns_and_values(imported):
    out = ok("peer", "export").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == COLUMNS
    assert len(rows) == 15
    aisha = rows[3]
    assert (aisha["id"], aisha["name"], aisha["languages"], aisha["sector"], aisha["stage"],
            aisha["stage_since"]) == ("P0004", "Aisha Rahman", "English, Arabic", "faith", "applied",
                                      "2026-03-15")


def test_export_with_contact_includes_email_phone_and_notes(imported):
    out = ok("peer", "export", "--include-contact").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == COLUMNS + ["email", "phone", "notes"]
    assert rows[1]["email"] == "MARIA.LOPEZ@Example.org" and rows[1]["phone"] == "(312) 555-0101"
    assert rows[2]["notes"] == "prefers evenings\nT-shirt size: L"
    for phone in PHONES:
        assert phone in digits(out)


def test_json_export_parses(imported):
    records = json.loads(ok("peer", "export", "--format", "json", "--include-contact").stdout)
    assert [r["id"] for r in records] == ["P0001"] + sorted(EXPECTED)
    rosa = records[7]
    assert rosa["name"] == "Rosa Díaz" and rosa["languages"] == ["Spanish"]
    assert rosa["phone"] == "+1 (312) 555-0102" and rosa["stage_since"] == "2026-01-20"
    assert list(json.loads(ok("peer", "export", "--format", "json").stdout)[0]) == COLUMNS


def test_export_to_a_private_file_round_trips(imported, tmp_path, monkeypatch):
    out = tmp_path / "peers.csv"
    result = ok("peer", "export", "--include-contact", "--output", out)
    assert result.stdout == ""
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    monkeypatch.setenv("PEERPATH_DB", str(tmp_path / "other.json"))
    ok("init")
    result = run("peer", "import", out)  # the ids are of the other database's peers
    assert result.exit_code == 1 and "line 2: unknown peer id 'P0001'" in result.stderr
    result = ok("peer", "import", out, "--map", "id=ignore")
    assert "Kept in notes" not in result.stdout  # nor is the export's `created`
    again = peers()
    assert len(again) == 15
    assert again["P0008"]["sector"] == "criminal justice"
    assert again["P0008"]["notes"] == "T-shirt size: M"
