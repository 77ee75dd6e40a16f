"""`peer import` of messy values: synonyms, the affiliate's value map, `other` with the original
text, every problem of every row in one pass, and likely duplicates."""

import json

import attrs
import pytest

from peerpath.core import Tracker
from peerpath.core.importer import name_key
from test_import_export import affiliate, ok, peers, run, snapshot, write  # noqa: F401 (fixture)

pytestmark = pytest.mark.both_backends  # each test on a file and on PostgreSQL (conftest.py)

HEADER = "Name,E-mail,Date added,How did you hear about us,Partner sector,Lived experience,Status\n"


def sheet(tmp_path, *rows, name="sheet.csv"):
    return write(tmp_path, name, HEADER + "".join(row + "\n" for row in rows))


def by_name() -> dict:
    return {peer["name"]: peer for peer in peers().values()}


def test_built_in_synonyms_match_messy_values(affiliate, tmp_path):
    path = sheet(tmp_path, "Ann,,,Peer-to-Peer graduate,church partner,,",
                 "Bo,,,NAMI class graduate,Faith-based,Family member,Interested",
                 "Cy,,,Church partner,,,")
    result = ok("peer", "import", path)
    assert "warning" not in result.stdout
    stored = by_name()
    assert (stored["Ann"]["source"], stored["Ann"]["sector"]) == ("graduate", "faith")
    assert (stored["Bo"]["source"], stored["Bo"]["lived_experience"], stored["Bo"]["stage"]) == \
        ("graduate", "family", "prospect")
    assert stored["Cy"]["source"] == "community partner"


def test_values_matching_nothing_are_kept_as_other_with_their_text(affiliate, tmp_path):
    path = write(tmp_path, "odd.csv", "Name,How did you hear,Referred by,Partner sector,Lived experience,Status\n"
                                      "Ann,Church picnic,St. Mark's,Sports league,Ally,Onboarding\n"
                                      "Bo,Billboard,,,,\n")
    result = ok("peer", "import", path)
    assert result.stdout.splitlines()[1:] == [
        "5 warning(s):",
        "  line 2: unknown source 'Church picnic': kept as other, the text in source_detail; "
        "map it with --map-value 'source:Church picnic=VALUE'",
        "  line 2: unknown sector 'Sports league': kept as other, the text in the notes; "
        "map it with --map-value 'sector:Sports league=VALUE'",
        "  line 2: unknown lived experience 'Ally': kept as other, the text in the notes; "
        "map it with --map-value 'lived_experience:Ally=VALUE'",
        "  line 2: unknown stage 'Onboarding': stage left as it is (a new peer starts as prospect), "
        "the text kept in the notes; map it with --map-value 'stage:Onboarding=VALUE'",
        "  line 3: unknown source 'Billboard': kept as other, the text in source_detail; "
        "map it with --map-value 'source:Billboard=VALUE'",
    ]
    ann, bo = by_name()["Ann"], by_name()["Bo"]
    assert (ann["source"], ann["source_detail"], ann["sector"], ann["lived_experience"], ann["stage"]) == \
        ("other", "Church picnic: St. Mark's", "other", "other", "prospect")
    assert ann["notes"] == "Partner sector: Sports league\nLived experience: Ally\nStatus: Onboarding"
    assert (bo["source"], bo["source_detail"], bo["notes"]) == ("other", "Billboard", None)


def test_map_value_applies_and_is_remembered_for_the_next_import(affiliate, tmp_path):
    ok("peer", "import", sheet(tmp_path, "Ann,,,Church picnic,Sports league,,"),
       "--map-value", 'source:"church picnic"=event', "--map-value", "sector:Sports league=health")
    assert (by_name()["Ann"]["source"], by_name()["Ann"]["sector"], by_name()["Ann"]["notes"]) == \
        ("event", "health", None)
    maps = [e for e in json.loads(ok("audit", "--json").stdout) if e["action"] == "map"]
    assert [e["details"] for e in maps] == [{"field": "sector", "text": "sports league", "value": "health"},
                                            {"field": "source", "text": "church picnic", "value": "event"}]
    result = ok("peer", "import", sheet(tmp_path, "Bo,,,CHURCH  PICNIC,sports-league,,", name="next.csv"))
    assert "warning" not in result.stdout
    assert (by_name()["Bo"]["source"], by_name()["Bo"]["sector"]) == ("event", "health")
    assert Tracker().value_map() == {"sector": {"sports league": "health"}, "source": {"church picnic": "event"}}


def test_a_dry_run_writes_the_unmatched_values_for_value_map_to_read_back(affiliate, tmp_path):
    path = sheet(tmp_path, "Ann,,,Church picnic,Sports league,,", "Bo,,,Church picnic,,,")
    mapping = tmp_path / "values.csv"
    result = ok("peer", "import", path, "--dry-run", "--write-value-map", mapping)
    assert "Wrote 2 unmatched value(s)" in result.stderr
    assert mapping.read_text(encoding="utf-8-sig").splitlines() == [
        "field,text,value,choices",
        'source,Church picnic,,"graduate, hospital talk, community partner, peer referral, event, web form, other"',
        'sector,Sports league,,"health, mental health, education, criminal justice, faith, housing, other"',
    ]
    mapping.write_text(mapping.read_text(encoding="utf-8-sig").replace("Church picnic,,", "Church picnic,event,"))
    result = ok("peer", "import", path, "--value-map", mapping)
    assert [p["source"] for p in peers().values()] == ["event", "event"]
    assert by_name()["Ann"]["sector"] == "other"  # its value was left blank in the file
    assert "1 warning(s):" in result.stdout


@pytest.mark.parametrize("args, fragment", [
    (("--map-value", "sector=faith"), "use FIELD:TEXT=VALUE"),
    (("--map-value", "colour:red=faith"), "unknown field 'colour'"),
    (("--map-value", "sector:church=heaven"), "'heaven' is not a sector: choose from health,"),
    (("--map-value", "sector:=faith"), "no text to map"),
    (("--write-value-map", "out.csv"), "--write-value-map needs --dry-run"),
    (("--value-map", "missing.csv"), "cannot read missing.csv"),
])
def test_bad_value_maps_are_one_error_line(affiliate, tmp_path, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)
    before = snapshot(affiliate)
    result = run("peer", "import", sheet(tmp_path, "Ann,,,,,,"), *args)
    assert result.exit_code in (1, 2) and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("Error: ") and fragment in result.stderr
    assert snapshot(affiliate) == before


def test_a_value_map_file_with_a_bad_line_names_it(affiliate, tmp_path):
    mapping = write(tmp_path, "values.csv", "field,text,value\nsector,church,faith\nsource,x,nowhere\n")
    result = run("peer", "import", sheet(tmp_path, "Ann,,,,,,"), "--value-map", mapping)
    assert result.exit_code == 1
    assert f"{mapping} line 3: 'nowhere' is not a source" in result.stderr
    assert run("peer", "import", sheet(tmp_path, "Ann,,,,,,"), "--value-map",
               write(tmp_path, "bad.csv", "a,b\n")).stderr.endswith("must be field,text,value "
                                                                    "(as --write-value-map writes it)\n")


def test_every_problem_of_every_row_is_listed_in_one_pass_and_nothing_is_stored(affiliate, tmp_path):
    ok("peer", "add", "María López", "--email", "maria@example.org")
    before = snapshot(affiliate)
    path = sheet(tmp_path,
                 "Ann Good,ann at example.org,31/31/2026,Billboard,,,",  # bad email, bad date, unmatched
                 '"Lopez, Maria",MARIA@example.org,2026-01-02,,,,',      # a likely duplicate
                 "Bo,bo@example.org,2026-01-03,,Sports,,",                # unmatched only
                 ",cy@example.org,someday,,,,")                           # no name, bad date
    result = run("peer", "import", path)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "line 2: invalid email 'ann at example.org'",
        "line 2: unreadable date '31/31/2026': use e.g. 2026-03-04, 3/4/2026 or 4 Mar 2026",
        "line 2: warning: unknown source 'Billboard': kept as other, the text in source_detail; "
        "map it with --map-value 'source:Billboard=VALUE'",
        "line 3: warning: likely duplicate: same email as P0001 (María López); "
        "same name (no community) as P0001 (María López)",
        "line 4: warning: unknown sector 'Sports': kept as other, the text in the notes; "
        "map it with --map-value 'sector:Sports=VALUE'",
        "line 5: no name",
        "line 5: unreadable date 'someday': use e.g. 2026-03-04, 3/4/2026 or 4 Mar 2026",
        "Error: 2 of 4 row(s) cannot be stored; nothing was imported (fix them in the sheet, "
        "or map a column with --map COLUMN=FIELD)",
    ]
    assert snapshot(affiliate) == before


def test_a_dry_run_with_problems_still_writes_the_value_map(affiliate, tmp_path):
    mapping = tmp_path / "values.csv"
    result = run("peer", "import", sheet(tmp_path, "Ann,bad,,Billboard,,,"), "--dry-run", "--write-value-map",
                 mapping)
    assert result.exit_code == 1 and "line 2: invalid email 'bad'" in result.stderr
    assert "source,Billboard," in mapping.read_text(encoding="utf-8-sig")


@pytest.mark.parametrize("stored, row", [
    ("Maria Lopez", '"Lopez, Maria"'),
    ("María López", "maria lopez"),
    ("Maria  Lopez", "MARIA LOPEZ "),
    ("Jean-Luc Picard", "Picard Jean Luc"),
    ("Maria Lopez", "\u041caria Lopez"),           # a Cyrillic М
    ("Maria Lopez", "M\u0430ri\u0430 L\u043epez"),  # Cyrillic а and о
    ("Olga Petrova", "\u039flga \u03a1etrova"),     # a Greek Ο and Ρ
])
def test_likely_duplicates_ignore_case_spacing_accents_word_order_and_look_alikes(affiliate, tmp_path, stored, row):
    ok("peer", "add", stored, "--community", "Cicero")
    result = ok("peer", "import", write(tmp_path, "dup.csv", f"Name,Town\n{row},CICERO\n"))
    assert result.stdout.splitlines()[-1].endswith(f"same name and community as P0001 ({stored})")


def test_likely_duplicates_by_email_and_phone_digits(affiliate, tmp_path):
    ok("peer", "add", "Ann Smith", "--email", "Ann@Example.org", "--phone", "+1 (312) 555-0101")
    result = ok("peer", "import", write(tmp_path, "dup.csv", "Name,Email,Phone\nAnnie S,ann@example.ORG,\n"
                                                             "A. Smith,,312.555.0101\n"))
    assert result.stdout.splitlines()[-2:] == ["  line 2: Annie S: same email as P0001 (Ann Smith)",
                                               "  line 3: A. Smith: same phone as P0001 (Ann Smith)"]


def test_name_key_folds_words_in_any_order():
    assert name_key("Lopez, María") == name_key("maria   LOPEZ") == "lopez maria"
    assert name_key("Ann Lee") != name_key("Ann Leeds")


def test_likely_duplicates_catch_look_alike_emails_and_communities(affiliate, tmp_path):
    ok("peer", "add", "Ann Smith", "--email", "ann@example.org", "--community", "Cicero")
    result = ok("peer", "import", write(tmp_path, "dup.csv", "Name,Email,Town\n"
                                                             "Annie S,\u0430nn@ex\u0430mple.org,\n"
                                                             "Ann Smith,,\u0421icero\n"))
    assert result.stdout.splitlines()[-2:] == ["  line 2: Annie S: same email as P0001 (Ann Smith)",
                                               "  line 3: Ann Smith: same name and community as P0001 (Ann Smith)"]


def test_likely_duplicates_ignore_zero_width_characters_of_stored_names(affiliate, tmp_path):
    """Names stored before zero-width characters were refused still match their visible text."""
    with attrs.validators.disabled():
        Tracker().add_peer(name="Ma\u200bria Lo\u2060pez\ufeff", community="Ci\u200dcero")
    result = ok("peer", "import", write(tmp_path, "dup.csv", "Name,Town\nMaria Lopez,Cicero\n"))
    assert result.stdout.splitlines()[-1].startswith("  line 2: Maria Lopez: same name and community as P0001")


def test_a_name_with_a_zero_width_character_is_refused_on_import(affiliate, tmp_path):
    result = run("peer", "import", write(tmp_path, "zw.csv", "Name\nMa\u200bria\n"))
    assert result.exit_code == 1 and "line 2: name must not hold control, zero-width or bidi" in result.stderr
