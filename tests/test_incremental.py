"""Incremental summaries: `config set` re-judges only the steps a setting changes (the others'
progress is taken from the summaries that held under the old rules, and the records of an
enrolment are read only where a changed step has any), and `sweep` reads only the
certifications due to lapse. What is skipped must be provably unchanged, so these tests run
randomised settings changes and sweeps on the demo database and on a generated one (bench's
make_dataset), side by side with the previous way (`rejudge_from_summaries = False`: every step
of every affected enrolment judged from the records), and compare what is stored row by row:
summaries, certifications, enrolments and the audit trail; then they compare the stored
summaries with a full rebuild from the records.
"""

import datetime as dt
import importlib.util
import random
import shutil
from pathlib import Path

import pytest

from peerpath.core import Tracker
from peerpath.core import summaries

from conftest import DEMO_TODAY

REPO = Path(__file__).resolve().parents[1]


def _make_dataset():
    spec = importlib.util.spec_from_file_location("make_dataset", REPO / "bench" / "make_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A small generated affiliate (300 peers, CRSS hours logs, sessions and observations)."""
    path = tmp_path_factory.mktemp("generated") / "affiliate.json"
    _make_dataset().build(str(path), 300, 3_000, 80, 40, seed=3)
    return path


def copy_of(source: Path, folder: Path) -> Path:
    folder.mkdir()
    target = folder / source.name
    shutil.copy2(source, target)
    shutil.copytree(source.with_name(source.name + ".d"), target.with_name(target.name + ".d"))
    return target


def a_tracker(db: Path, today: dt.date, incremental: bool) -> Tracker:
    tracker = Tracker(db=str(db), actor="tester", today=today)
    tracker.rejudge_from_summaries = incremental
    return tracker


def stored(db: Path, today: dt.date) -> dict:
    """What a setting or a sweep can change, table by table, as stored: summaries without the day
    they were computed (an untouched summary keeps its own), certifications, enrolments, and the
    audit trail without its timestamps."""
    tracker = Tracker(db=str(db), actor="tester", today=today)
    with tracker.reading() as tx:
        tables = {name: sorted((dict(doc) for doc in tx.all(name)), key=lambda doc: doc["id"])
                  for name in ("certifications", "enrollments")}
        tables["summaries"] = sorted(({k: v for k, v in doc.items() if k != "as_of"} for doc in tx.all(summaries.TABLE)),
                                     key=lambda doc: doc["id"])
    tables["events"] = [(e.actor, e.action, e.entity, e.entity_id, e.peer_id, e.details) for e in tracker.audit()]
    return tables


def rebuilt_summaries(db: Path, scratch: Path, today: dt.date) -> dict:
    """{enrollment id: summary without as_of} as a full rebuild from the records makes them: every
    stored summary removed, then each enrolment's computed again (`refresh_summaries`)."""
    copy = copy_of(db, scratch)
    tracker = Tracker(db=str(copy), actor="tester", today=today)
    with tracker.changing() as tx:
        for document in list(tx.all(summaries.TABLE)):
            tx.remove(summaries.TABLE, document)
        assert tracker.refresh_summaries() == len(tx.all("enrollments"))
    return {doc["id"]: doc for doc in stored(copy, today)["summaries"]}


def settings_to_try(tracker: Tracker) -> list:
    """(key, value text) for program settings: whole numbers halved, raised or set to none
    where none means no limit, yes/no flipped."""
    choices = []
    for key, default, _ in tracker.settings():
        if key.split(".")[0] not in {p.key for program in tracker.catalog.programs.values() for p in program.pathways} \
                | set(tracker.catalog.programs):
            continue
        if isinstance(default, bool):
            choices += [(key, "no" if default else "yes")]
        elif isinstance(default, int) and default > 1:
            raised = min(default + default // 2, 100) if key.endswith(("_percent", "min_share")) else default * 3 // 2
            choices += [(key, str(max(1, default // 2))), (key, str(raised))]
        elif default is None or key.endswith(("window_days", "validity_days")):
            choices += [(key, "none"), (key, "30"), (key, "400")]
    return choices


def steps(rng, choices, today, count):
    """A random program of operations: settings changed or unset and sweeps on later days."""
    done = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.25:
            today += dt.timedelta(days=rng.choice([1, 30, 200, 500]))
            done.append(("sweep", today, None))
        elif roll < 0.35 and any(op == "set" for op, _, _ in done):
            key = rng.choice([args[0] for op, _, args in done if op == "set"])
            done.append(("unset", today, (key,)))
        else:
            done.append(("set", today, rng.choice(choices)))
    return done


def apply(tracker: Tracker, operation, args) -> None:
    tracker.begin_command()
    try:
        if operation == "sweep":
            tracker.sweep()
        elif operation == "set":
            tracker.set_setting(*args)
        elif args[0] in tracker.overrides():
            tracker.unset_setting(*args)
    finally:
        tracker.end_command()


def foresee(tracker: Tracker, args):
    """What `config set --dry-run` and `report leaders --what-if` say setting `args` changes;
    with `args` None, what the setting made has changed: the same two answers, as stored."""
    if args is not None:
        before = tracker._outlook()
        changes = {(c.peer, c.program, c.role, c.what, c.before, c.after) for c in tracker.what_if(*args).changes}
        report = tracker.report_what_if([f"{args[0]}={args[1]}"], "leaders")
        return changes, before, (report.tables, report.figures)
    report = tracker.report("leaders")
    return None, tracker._outlook(), (report.tables, report.figures)


def usable_today(db: Path, today: dt.date) -> set:
    """The enrolments whose stored summary a listing takes as it is today."""
    tracker = Tracker(db=str(db), actor="tester", today=today)
    programs = tracker.catalog.programs
    checker = summaries.Checker(today, tracker.catalog.step_kinds)
    with tracker.reading() as tx:
        kept = {doc["id"]: doc for doc in tx.all(summaries.TABLE)}
        return {e["id"] for e in tx.all("enrollments") if e["program"] in programs
                and checker.usable(kept.get(e["id"]), programs[e["program"]], programs[e["program"]].pathway(e["pathway"]))}


def check_same_as_before_and_as_rebuilt(source: Path, start: dt.date, tmp_path: Path, seed: int, count: int):
    incremental, previous = copy_of(source, tmp_path / "incremental"), copy_of(source, tmp_path / "previous")
    rng = random.Random(seed)
    choices = settings_to_try(Tracker(db=str(incremental), actor="tester", today=start))
    for number, (operation, today, args) in enumerate(steps(rng, choices, start, count)):
        foreseen = foresee(a_tracker(incremental, today, True), args) if operation == "set" else None
        apply(a_tracker(incremental, today, True), operation, args)
        apply(a_tracker(previous, today, False), operation, args)
        if foreseen is not None:
            changes, outlook, report = foreseen
            _, outlook_now, report_now = foresee(a_tracker(incremental, today, True), None)
            assert changes == {(k[0], k[2], k[3], k[4], outlook.get(k), outlook_now.get(k))
                               for k in set(outlook) | set(outlook_now) if outlook.get(k) != outlook_now.get(k)}
            assert report == report_now, f"report leaders --what-if {args}"
        now, before = stored(incremental, today), stored(previous, today)
        for table in now:
            assert now[table] == before[table], f"{table} differ after {operation} {args} on {today}"
        rebuilt = rebuilt_summaries(incremental, tmp_path / f"rebuilt{number}", today)
        held = usable_today(incremental, today)
        if operation == "sweep":
            assert held == set(rebuilt), "a sweep leaves every summary good for its day"
        mine = {doc["id"]: doc for doc in now["summaries"]}
        for enrollment_id in held:
            assert mine[enrollment_id] == rebuilt[enrollment_id], f"{enrollment_id} after {operation} {args}"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_settings_and_sweeps_on_the_demo_match_a_full_rejudgement(demo_folder, tmp_path, seed):
    check_same_as_before_and_as_rebuilt(demo_folder / "affiliate.json", dt.date.fromisoformat(DEMO_TODAY),
                                        tmp_path, seed, count=8)


@pytest.mark.parametrize("seed", [4, 5])
def test_settings_and_sweeps_on_a_generated_database_match_a_full_rejudgement(generated, tmp_path, seed):
    check_same_as_before_and_as_rebuilt(generated, _make_dataset().TODAY, tmp_path, seed, count=6)


def test_a_pass_mark_reads_no_records_of_enrolments_without_an_exam(generated, tmp_path):
    """crss.exam.pass_mark: the generated CRSS leaders have hours logs but no exam, so their
    summaries are rewritten (the exam's line names the pass mark) without one step record being
    read; no other program's enrolment is re-judged."""
    db = copy_of(generated, tmp_path / "db")
    tracker = a_tracker(db, _make_dataset().TODAY, True)
    before = stored(db, tracker.today)
    read = []
    with tracker.changing() as tx:  # the command's one transaction, which set_setting shares
        for method in ("all", "search", "get"):
            tx.__dict__[method] = _noting(read, getattr(tx, method))
        tracker.set_setting("crss.exam.pass_mark", "70")
    assert "step_records" not in read and "summaries" in read
    after = stored(db, tracker.today)
    rewritten = [doc for doc in after["summaries"] if doc not in before["summaries"]]
    crss = {e["id"] for e in after["enrollments"] if e["program"] == "crss"}
    assert {doc["id"] for doc in rewritten} == crss
    for doc in rewritten:
        assert next(row for row in doc["steps"] if row[0] == "exam")[2] == "not taken (pass mark 70)"
    # The generated certifications were stored without an exam: revoked, as before.
    previous = copy_of(generated, tmp_path / "previous")
    apply(a_tracker(previous, tracker.today, False), "set", ("crss.exam.pass_mark", "70"))
    assert after == stored(previous, tracker.today)


def _noting(read: list, method):
    def noted(name, *args, **equal):
        read.append(name)
        return method(name, *args, **equal)

    return noted
