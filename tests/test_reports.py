"""Report figures on a small dataset whose every number was worked out by hand."""

import csv
import io
import json

import pytest
from click.testing import CliRunner

from peerpath.cli import cli
from peerpath.core import Pathway, ProgramModel, Role, Step, Tracker, hookimpl
from peerpath.core.filters import PeerFilter
from peerpath.core.reporting import merge_cells
from peerpath.core.testing import registered_plugin

pytestmark = pytest.mark.both_backends  # each test on a file and on PostgreSQL (conftest.py)

TODAY = "2026-06-30"


class MiniProgram:
    """A one-step program so that report figures do not depend on the built-in pathways."""

    PROGRAM = ProgramModel(
        key="mini",
        title="Mini program",
        roles=[Role("leader", "Leader", pathway="mini")],
        pathways=[Pathway("mini", "Mini leader", steps=[Step("agreement", "Agreement", "attestation")],
                          validity_days=365,
                          renewal=Step("ceu", "CEUs", "hours", {"total": 10}))],
        format={"leaders_per_offering": 2},
    )

    @hookimpl
    def register_programs(self, register):
        register(self.PROGRAM)


@pytest.fixture
def affiliate(tmp_path, monkeypatch):
    db = tmp_path / "affiliate.json"
    monkeypatch.setenv("PEERPATH_DB", str(db))
    monkeypatch.setenv("PEERPATH_TODAY", TODAY)
    with registered_plugin(MiniProgram(), "mini-test"):
        tracker = Tracker(db=db, actor="tester")
        tracker.init(affiliate="NAMI Test County")
        build(tracker)
        yield tracker


def peer(tracker, name, on, moves, **fields):
    added = tracker.add_peer(name=name, on=on, **fields)
    for stage, day in moves:
        tracker.set_stage(added.id, stage, on=day)
    return added.id


def build(t):
    x1 = t.add_outreach("hospital talk", on="2026-02-10", sector="health", community="Waukegan", reached=20)
    t.add_outreach("fair", on="2025-12-01", sector="education", community="Cicero", reached=50)
    t.mark_underserved("Waukegan")
    ids = {}
    ids["A"] = peer(t, "Ann", "2026-01-10", [("contacted", "2026-01-20"), ("applied", "2026-02-01"),
                                           ("screened", "2026-02-11"), ("accepted", "2026-03-01")],
                    source="graduate", community="Cicero", email="ann@example.org", phone="708-555-0101")
    ids["B"] = peer(t, "Bo", "2026-01-15", [("contacted", "2026-01-25"), ("declined", "2026-02-04")],
                    source="hospital talk", sector="health", community="Waukegan", outreach=x1.id)
    ids["C"] = peer(t, "Cy", "2026-02-01", [], source="community partner", sector="faith", community="Waukegan")
    ids["D"] = peer(t, "Di", "2026-02-01", [("contacted", "2026-02-11")], source="community partner",
                    sector="faith", community="Cicero")
    ids["E"] = peer(t, "Ed", "2025-06-01", [], source="event", community="Aurora")
    # Leaders of the mini program: A lapsed, D certified this year, F expiring soon, C in training.
    for key, enrolled, signed in (("A", "2025-01-01", "2025-03-01"), ("D", "2026-02-12", "2026-02-15"),
                                  ("E", "2025-07-01", "2025-08-01"), ("C", "2026-06-01", None)):
        t.enroll(ids[key], "mini", on=enrolled)
        if signed:
            t.record_step(ids[key], "mini", "agreement", on=signed)
    t.record_step(ids["E"], "mini", "ceu", on="2026-05-01", hours=4)
    t.add_offering("mini", "Short-handed group", leaders=[ids["D"], ids["C"]])
    t.add_offering("mini", "Full group", leaders=[ids["D"], ids["E"]])
    t.ids = ids


def test_funnel_counts_conversion_and_median_days(affiliate):
    figures = affiliate.report("funnel", start="2026-01-01").figures
    assert figures["peers"] == 4  # Ed joined before the period
    assert figures["by_stage"] == {"prospect": 1, "contacted": 1, "applied": 0, "screened": 0,
                                   "accepted": 1, "declined": 1, "withdrawn": 0}
    assert figures["reached"]["contacted"] == 3
    assert figures["conversion_percent"] == {"prospect->contacted": 75.0, "contacted->applied": 33.3,
                                             "applied->screened": 100.0, "screened->accepted": 100.0}
    assert figures["median_days_in_stage"]["prospect"] == 10.0
    assert figures["median_days_in_stage"]["contacted"] == 11.0  # Ann 12 days, Bo 10 days
    assert figures["median_days_in_stage"]["screened"] == 18.0
    assert figures["by_source"]["graduate"]["accepted_percent"] == 100.0
    assert figures["by_source"]["community partner"]["total"] == 2
    assert figures["by_sector"]["faith"] == {"total": 2, "accepted": 0, "accepted_percent": 0.0,
                                             "prospect": 1, "contacted": 1}


def test_leaders_report_retention(affiliate):
    mini = affiliate.report("leaders", start="2026-01-01").figures["mini"]
    assert mini["certified"] == 2 and mini["in training"] == 1 and mini["lapsed"] == 1
    assert mini["new_certifications"] == 1  # Di, 2026-02-15
    assert mini["active_at_start"] == 2  # Ann (until 2026-03-01) and Ed
    assert mini["active_at_end"] == 2  # Di and Ed
    assert mini["retention_percent"] == 50.0  # (2 - 1) / 2


def test_capacity_lists_short_offerings(affiliate):
    figures = affiliate.report("capacity").figures
    short = [s["name"] for s in figures["short_offerings"]]
    assert short == ["Short-handed group"]
    assert figures["short_offerings"][0]["trained_active"] == 1
    assert "mini" not in figures["no_leader_in_training"]
    assert "connection" in figures["no_leader_in_training"]


def test_expiring_shows_renewal_still_lacking(affiliate):
    figures = affiliate.report("expiring", days=60).figures
    assert [(e["peer"], e["expires"], e["days_left"]) for e in figures["expiring"]] == \
        [(affiliate.ids["E"], "2026-08-01", 32)]
    assert figures["expiring"][0]["lacking"] == {"hours": 6.0}
    assert affiliate.report("expiring", days=31).figures["expiring"] == []


def test_reach_by_sector_and_community_marks_underserved(affiliate):
    figures = affiliate.report("reach", start="2026-01-01").figures
    assert figures["by_sector"]["health"] == {"recruited": 1, "accepted": 0, "events": 1, "reached": 20}
    assert figures["by_sector"]["faith"] == {"recruited": 2, "accepted": 0, "events": 0, "reached": 0}
    assert figures["by_community"]["Waukegan"] == {"recruited": 2, "accepted": 0, "events": 1,
                                                   "reached": 20, "underserved": True}
    assert figures["by_community"]["Cicero"]["underserved"] is False
    assert "education" not in figures["by_sector"]  # the fair was before the period


def test_rollup_suppresses_small_counts_and_holds_no_personal_data(affiliate):
    result = affiliate.report("rollup", start="2026-01-01")
    figures = result.figures
    assert figures["affiliates"] == ["NAMI Test County"]
    assert figures["recruited_by_stage"]["prospect"] == "<5"
    assert figures["recruited_by_stage"]["applied"] == 0
    assert figures["leaders"]["mini"]["certified"] == "<5"
    text = json.dumps(result.to_dict())
    for private in ("Ann", "ann@example.org", "708-555-0101", affiliate.ids["A"]):
        assert private not in text


def test_rollup_threshold_is_a_setting(affiliate):
    affiliate.set_setting("rollup.suppress_below", "2")
    figures = affiliate.report("rollup", start="2026-01-01").figures
    assert figures["recruited_by_stage"]["prospect"] == "<2"
    assert figures["recruited_by_sector"]["faith"] == 2
    assert figures["suppressed_below"] == 2


def test_merge_cells_gives_ranges_for_suppressed_parts():
    assert merge_cells([3, 4], 5) == 7
    assert merge_cells(["<5", 7], 5) == "8-11"
    assert merge_cells(["<5", "<5"], 5) == "2-8"
    assert merge_cells([0, "<5"], 5) == "<5"
    assert merge_cells(["8-11", 2], 5) == "10-13"


def test_rollup_merge_of_two_affiliates_through_the_cli(affiliate, tmp_path):
    runner = CliRunner()
    first = runner.invoke(cli, ["report", "rollup", "--from", "2026-01-01", "--json"])
    assert first.exit_code == 0, first.stderr
    a = tmp_path / "a.json"
    a.write_text(first.stdout)
    second_db = tmp_path / "second.json"
    other = Tracker(db=second_db, today=TODAY)
    other.init(affiliate="NAMI Other")
    other.add_peers([{"name": f"Peer {n}", "on": "2026-03-01"} for n in range(7)])
    second = runner.invoke(cli, ["--db", str(second_db), "report", "rollup", "--from", "2026-01-01", "--json"])
    b = tmp_path / "b.json"
    b.write_text(second.stdout)
    merged = runner.invoke(cli, ["report", "rollup", "--merge", str(a), str(b), "--json"])
    assert merged.exit_code == 0, merged.stderr
    figures = json.loads(merged.stdout)["figures"]
    assert figures["affiliates"] == ["NAMI Test County", "NAMI Other"]
    assert figures["recruited_by_stage"]["prospect"] == "8-11"  # "<5" + 7
    assert figures["recruited_by_stage"]["applied"] == 0


def test_report_cli_csv_and_bad_input(affiliate, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["report", "funnel", "--csv"])
    assert result.exit_code == 0
    rows = list(csv.reader(io.StringIO(result.stdout)))
    # One header row: the table's title, then the columns of every table in turn.
    assert rows[0][:5] == ["table", "stage", "now", "ever reached", "median days in stage"]
    assert "from -> to" in rows[0] and rows[0].count("table") == 1
    assert all(len(row) == len(rows[0]) for row in rows)
    for args, message in ((["report", "nope"], "unknown report 'nope'"),
                          (["report", "funnel", "--from", "2026-02-30"], "unreadable date"),
                          (["report", "funnel", "--from", "2026-06-01", "--to", "2026-01-01"], "is after"),
                          (["report", "rollup", "--merge", str(tmp_path / "missing.json")], "cannot read")):
        failed = runner.invoke(cli, args)
        assert failed.exit_code != 0
        assert message in failed.stderr
        assert len(failed.stderr.strip().splitlines()) == 1


def test_followups_after_configured_days(affiliate):
    due = {p.name: days for p, _, days in affiliate.followups()}
    # Cy (prospect since 2026-02-01), Di (contacted since 2026-02-11), Ed (prospect since 2025-06-01)
    assert due == {"Ed": 394, "Cy": 149, "Di": 139}
    assert [p.name for p, _, _ in affiliate.followups(days=145)] == ["Ed", "Cy"]
    affiliate.set_setting("recruitment.followup_days", "200")
    assert [p.name for p, _, _ in affiliate.followups()] == ["Ed"]


# --- issue 12, defects 8-10: funnel by cohort, sector from the outreach event, merge refusals --------


def test_funnel_conversion_counts_a_peer_who_skipped_stages_as_passing_through_them(affiliate):
    # Gil is recorded straight as accepted: he was screened too, so screened -> accepted stays 100 %.
    peer(affiliate, "Gil", "2026-03-01", [("accepted", "2026-03-05")])
    peer(affiliate, "Hal", "2026-03-01", [("accepted", "2026-03-06")])
    figures = affiliate.report("funnel", start="2026-01-01").figures
    assert figures["reached"]["screened"] == 3 and figures["reached"]["accepted"] == 3
    assert figures["reached"]["prospect"] == 6
    assert figures["conversion_percent"] == {"prospect->contacted": 83.3, "contacted->applied": 60.0,
                                             "applied->screened": 100.0, "screened->accepted": 100.0}
    assert all(0 <= value <= 100 for value in figures["conversion_percent"].values())


def test_a_peer_recruited_at_an_event_counts_under_its_sector(affiliate):
    event = affiliate.add_outreach("congregation visit", on="2026-03-01", sector="faith", community="Cicero")
    recruited = peer(affiliate, "Ivy", "2026-03-02", [], outreach=event.id)
    by_sector = affiliate.report("funnel", start="2026-01-01").figures["by_sector"]
    assert (by_sector["faith"]["total"], by_sector["none"]["total"]) == (3, 1)  # Ivy with Cy and Di; Ann
    assert affiliate.report("reach", start="2026-01-01").figures["by_sector"]["faith"]["recruited"] == 3
    affiliate.set_setting("rollup.suppress_below", "1")
    assert affiliate.report("rollup", start="2026-01-01").figures["recruited_by_sector"] == \
        {"health": 1, "faith": 3, "none": 1}
    assert recruited in [p.id for p in affiliate.peers(where=PeerFilter(sector="faith"))]


def _rollup_file(runner, tmp_path, name, *args):
    result = runner.invoke(cli, ["report", "rollup", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    path = tmp_path / name
    path.write_text(result.stdout)
    return str(path)


def test_rollup_merge_refuses_an_affiliate_twice(affiliate, tmp_path):
    runner = CliRunner()
    first = _rollup_file(runner, tmp_path, "a.json", "--from", "2026-01-01")
    again = _rollup_file(runner, tmp_path, "a-again.json", "--from", "2026-01-01")
    for files in ([first, first], [first, again]):
        failed = runner.invoke(cli, ["report", "rollup", "--merge", *files])
        assert failed.exit_code != 0
        assert failed.stderr.strip().splitlines() == [
            f"Error: {files[1]} counts 'NAMI Test County' again (already in {first}): merge each affiliate once"]


def test_rollup_merge_refuses_files_of_different_periods(affiliate, tmp_path):
    runner = CliRunner()
    year = _rollup_file(runner, tmp_path, "year.json", "--from", "2026-01-01")
    other = Tracker(db=tmp_path / "other.json", today=TODAY)
    other.init(affiliate="NAMI Other")
    result = runner.invoke(cli, ["--db", str(tmp_path / "other.json"), "report", "rollup", "--from", "2026-04-01",
                                 "--json"])
    quarter = tmp_path / "quarter.json"
    quarter.write_text(result.stdout)
    failed = runner.invoke(cli, ["report", "rollup", "--merge", year, str(quarter)])
    assert failed.exit_code != 0
    assert failed.stderr.strip().splitlines() == [
        f"Error: {quarter} covers 2026-04-01 to {TODAY} but {year} covers 2026-01-01 to {TODAY}: "
        "merge rollups of one period"]


# --- issue 12, defect 11: capacity counts offerings still running, by the leaders' statuses ----------


def test_capacity_leaves_out_offerings_that_ended_and_counts_only_active_certified_leaders(affiliate):
    short, full = [o.id for o in affiliate.offerings()]
    affiliate.close_offering(short, on="2026-06-01")
    assert affiliate.report("capacity").figures["short_offerings"] == []
    affiliate.set_leader_status(affiliate.ids["E"], "mini", "on hold")  # Ed co-leads the full group
    assert [s["offering"] for s in affiliate.report("capacity").figures["short_offerings"]] == [full]
    affiliate.edit_offering(full, ended="2026-06-29")  # past its end date, not yet closed
    assert affiliate.report("capacity").figures["short_offerings"] == []


def test_offerings_take_an_end_date_and_a_status_through_the_cli(affiliate):
    runner = CliRunner()
    [first, _] = [o.id for o in affiliate.offerings()]
    closed = runner.invoke(cli, ["offering", "close", first, "--on", "2026-06-20", "--cancelled"])
    assert closed.exit_code == 0 and closed.stdout == f"{first} is cancelled (2026-06-20)\n"
    listed = json.loads(runner.invoke(cli, ["offering", "list", "--json"]).stdout)
    assert [(o["status"], o["ended"]) for o in listed] == [("cancelled", "2026-06-20"), ("running", None)]
    for args, message in ((["offering", "close", first], "is already cancelled"),
                          (["offering", "close", "O0002", "--on", "2026-07-01"], "is in the future"),
                          (["offering", "edit", "O0002", "--status", "completed"], "needs its end date"),
                          (["offering", "edit", "O0002", "--started", "2026-05-01", "--ended", "2026-04-01"],
                           "end date 2026-04-01 is before the start 2026-05-01"),
                          (["offering", "edit", "O0002", "--status", "paused"], "Invalid value")):
        failed = runner.invoke(cli, args)
        assert failed.exit_code != 0 and message in failed.stderr, (args, failed.stderr)
        assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr


def test_offerings_stored_before_status_existed_read_as_running(affiliate):
    with affiliate.changing() as tx:  # as an older peerpath stored them
        for document in list(tx.all("offerings")):
            tx.replace("offerings", {k: v for k, v in document.items() if k not in ("status", "ended")})
    assert [(o.status, o.ended) for o in affiliate.offerings()] == [("running", None), ("running", None)]
    assert [s["name"] for s in affiliate.report("capacity").figures["short_offerings"]] == ["Short-handed group"]
