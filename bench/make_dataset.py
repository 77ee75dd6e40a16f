"""Build a deterministic peerpath database of a given size through peerpath's own API.

    python bench/make_dataset.py --size affiliate --seed 1 /tmp/affiliate.json
    python bench/make_dataset.py --size state --seed 1 /tmp/state.json
    python bench/make_dataset.py --size affiliate --scale 0.1 /tmp/small.json   # a quick try

Sizes (peers / step records / sessions / observations), with enrolments, certifications,
offerings, outreach events and audit events in proportion:

    affiliate    2,000 /    20,000 /    500 /    200
    state       20,000 /   200,000 /  5,000 /  2,000
    national   200,000 / 2,000,000 / 50,000 / 20,000

Everything goes through `core.Tracker` (validation, plugin hooks, audit trail), written in
batches of a few thousand peers per transaction so that memory stays bounded at national size.
"""

import argparse
import datetime as dt
import operator
import random
import sys
import time
from pathlib import Path

from peerpath.core import (SECTORS, SOURCES, STAGES, Certification, Enrollment, Observation,
                           Offering, Outreach, SessionRecord, StepRecord, Tracker)

SIZES = {
    "affiliate": (2_000, 20_000, 500, 200),
    "state": (20_000, 200_000, 5_000, 2_000),
    "national": (200_000, 2_000_000, 50_000, 20_000),
}
TODAY = dt.date(2026, 11, 22)
PEER_ID = operator.attrgetter("peer_id")  # so `peerpath audit --peer` finds each record
PEERS_PER_BATCH = 5_000
ENROLLED_SHARE = 0.375  # every other peer with lived experience of their own (3 in 4 have)
COMMUNITIES = [f"Community {n}" for n in range(60)]
LANGUAGES = ["English", "Spanish", "Polish", "Arabic", "Tagalog", "Korean"]
CRSS_DOMAINS = ["Advocacy", "Professional Responsibility", "Mentoring", "Recovery Support", "Ethics",
                "Core Functions"]
# (program, role, the steps recorded in order with how to fill each record)
PATHWAYS = [
    ("connection", "facilitator", [("application", {}), ("reference", {"outcome": "passed"}),
                                   ("interview", {"outcome": "passed"}), ("fidelity_agreement", {}),
                                   ("training", {"days": 3})]),
    ("peer_to_peer", "teacher", [("affiliate_interview", {"outcome": "passed"}), ("fidelity_agreement", {}),
                                 ("online_course", {}), ("trainer_interview", {"outcome": "passed"}),
                                 ("training", {"days": 2})]),
    ("ioov", "presenter", [("fidelity_agreement", {}), ("training", {"days": 2})]),
    ("crss", "specialist", [("disclosure", {}), ("education", {"hours": True}),
                            ("supervision", {"hours": True}), ("experience", {"hours": True})]),
]


def day(rng, earliest=60, latest=1_400) -> dt.date:
    return TODAY - dt.timedelta(days=rng.randint(earliest, latest))


def peer_rows(rng, count: int) -> list:
    rows = []
    for _ in range(count):
        number = rng.randint(1, 10 ** 6)
        rows.append({
            "name": f"Peer {number} {rng.choice('ABCDEFGHJKLMNPRSTVW')}.",
            "email": f"peer{number}@example.org" if rng.random() < 0.7 else None,
            "phone": f"555-{rng.randint(0, 9999):04d}" if rng.random() < 0.6 else None,
            "languages": rng.sample(LANGUAGES, rng.randint(1, 2)),
            "community": rng.choice(COMMUNITIES),
            "county": f"County {rng.randint(1, 30)}",
            "lived_experience": rng.choice(["self", "self", "both", "family"]),
            "source": rng.choice(SOURCES),
            "sector": rng.choice(SECTORS),
            "stage": rng.choices(STAGES, weights=[30, 20, 15, 10, 15, 5, 5])[0],
            "on": day(rng),
        })
    return rows


def enrol(tracker, rng, peer, crss_records: int):
    """An enrolment of `peer` with its step records: one per step, except the CRSS hours steps,
    which take many small records (as real logs of education and supervision hours do)."""
    program, role, steps = rng.choice(PATHWAYS)
    started = day(rng, 200, 1_400)
    enrollment = Enrollment(id=tracker.tx.next_id("E"), peer_id=peer.id, program=program, role=role,
                            pathway=program, started=started)
    records, on = [], started
    hours_steps = sum(1 for _, fill in steps if fill.get("hours"))
    for step, fill in steps:
        repeats = max(1, (crss_records - 1) // hours_steps) if fill.get("hours") else 1
        for _ in range(repeats):
            on = min(on + dt.timedelta(days=rng.randint(0, 3 if fill.get("hours") else 20)), TODAY)
            values = {"outcome": fill.get("outcome")}
            if fill.get("days"):
                values["until"] = min(on + dt.timedelta(days=1), TODAY)
            if fill.get("hours"):
                values["hours"] = rng.choice([2, 3, 4, 6, 8])
                if step != "experience":
                    values["domain"] = rng.choice(CRSS_DOMAINS if step == "education" else CRSS_DOMAINS[:4])
            records.append(StepRecord(id=tracker.tx.next_id("R"), enrollment_id=enrollment.id, peer_id=peer.id,
                                      program=program, pathway=program, step=step, on=on,
                                      **{k: v for k, v in values.items() if v is not None}))
    return enrollment, records


def build(path: str, peers: int, records: int, sessions: int, observations: int, seed: int) -> dict:
    rng = random.Random(seed)
    tracker = Tracker(db=path, actor="bench", today=TODAY)
    tracker.init(affiliate=f"Bench affiliate (seed {seed})")
    counts = dict.fromkeys(["peers", "enrollments", "step_records", "certifications", "offerings", "sessions",
                            "observations", "outreach"], 0)
    leaders = {}  # program -> peer ids enrolled in it
    enrolled = max(1, peers * ENROLLED_SHARE)
    # Three in four enrolments make about four records; the CRSS quarter makes up the rest.
    crss_records = max(4, (records - enrolled * 0.75 * 4) / (enrolled * 0.25))
    for start in range(0, peers, PEERS_PER_BATCH):
        batch = min(PEERS_PER_BATCH, peers - start)
        with tracker.changing():
            outreach = [Outreach(id=tracker.tx.next_id("X"), on=day(rng), kind=rng.choice(["hospital talk", "fair",
                                 "partner visit"]), sector=rng.choice(SECTORS), community=rng.choice(COMMUNITIES),
                                 reached=rng.randint(5, 120)) for _ in range(batch // 20)]
            tracker.store_many("outreach", outreach, "add")
            added = tracker.add_peers(peer_rows(rng, batch))
            enrollments, step_records, certifications = [], [], []
            for peer in [p for p in added if p.lived_experience != "family"][::2]:  # leaders live it
                enrollment, its_records = enrol(tracker, rng, peer, int(crss_records + rng.random()))
                enrollments.append(enrollment)
                step_records += its_records
                leaders.setdefault(enrollment.program, []).append(peer.id)
                if rng.random() < 0.4:
                    granted = max(r.on for r in its_records)
                    certifications.append(Certification(
                        id=tracker.tx.next_id("C"), enrollment_id=enrollment.id, peer_id=peer.id,
                        program=enrollment.program, pathway=enrollment.pathway, granted=granted,
                        expires=granted + dt.timedelta(days=730) if enrollment.program in ("crss", "peer_to_peer")
                        else None, cycle_start=granted))
            tracker.store_many("enrollments", enrollments, "enroll", peer_id_of=PEER_ID)
            tracker.store_many("step_records", step_records, "record", peer_id_of=PEER_ID)
            tracker.store_many("certifications", certifications, "certify", peer_id_of=PEER_ID)
        counts["outreach"] += len(outreach)
        counts["peers"] += len(added)
        counts["enrollments"] += len(enrollments)
        counts["step_records"] += len(step_records)
        counts["certifications"] += len(certifications)
    counts.update(add_offerings(tracker, rng, leaders, sessions, observations))
    tracker.refresh_summaries()
    return counts


def add_offerings(tracker, rng, leaders: dict, sessions: int, observations: int) -> dict:
    checklists = {c.program: c for c in tracker.catalog.checklists.values()}
    programs = [p for p in ("connection", "peer_to_peer", "ioov") if len(leaders.get(p, ())) >= 2]
    offerings, session_records, observed = [], [], []
    with tracker.changing():
        for number in range(max(1, sessions // 10)):
            program = programs[number % len(programs)]
            offerings.append(Offering(id=tracker.tx.next_id("O"), program=program, name=f"{program} group {number}",
                                      leaders=rng.sample(leaders[program], 2), started=day(rng, 30, 700),
                                      location=rng.choice(COMMUNITIES)))
        for number in range(sessions):
            offering = offerings[number % len(offerings)]
            session_records.append(SessionRecord(id=tracker.tx.next_id("S"), offering_id=offering.id,
                                                 program=offering.program, on=day(rng, 1, 700),
                                                 leaders=offering.leaders, attendance=rng.randint(0, 14)))
        for number in range(observations):
            offering = offerings[number % len(offerings)]
            checklist = checklists[offering.program]
            answers = {item.key: ("yes" if rng.random() < 0.85 else "no") if item.type == "yes_no"
                       else rng.randint(2, 5) for item in checklist.items}
            result = score(checklist, answers)
            observed.append(Observation(
                id=tracker.tx.next_id("F"), offering_id=offering.id, program=offering.program,
                checklist=checklist.key, checklist_version=checklist.version, observer="Bench observer",
                on=day(rng, 1, 700), leaders=offering.leaders, answers=answers, score=result.score,
                max_score=result.max_score, percent=result.percent, band=result.band,
                critical_failed=result.critical_failed, passed=result.passed))
        tracker.store_many("offerings", offerings, "add")
        tracker.store_many("sessions", session_records, "add")
        tracker.store_many("observations", observed, "observe")
    return {"offerings": len(offerings), "sessions": len(session_records), "observations": len(observed)}


def score(checklist, answers):
    from peerpath.core.fidelity import score as fidelity_score  # the engine's own scoring, as `observe` uses

    return fidelity_score(checklist, answers)


def disk_size(path: str) -> int:
    db = Path(path)
    folder = db.with_name(db.name + ".d")
    return db.stat().st_size + sum(f.stat().st_size for f in folder.iterdir())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="database file to create (must not exist)")
    parser.add_argument("--size", choices=sorted(SIZES), default="affiliate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every count (quick tries)")
    args = parser.parse_args(argv)
    if Path(args.path).exists():
        parser.error(f"{args.path} exists; give a new path")
    sizes = [max(10, int(n * args.scale)) for n in SIZES[args.size]]
    began = time.perf_counter()
    counts = build(args.path, *sizes, seed=args.seed)
    seconds = time.perf_counter() - began
    print(f"{args.size} x{args.scale:g} seed {args.seed}: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    print(f"built in {seconds:.1f} s; {disk_size(args.path) / 1e6:.1f} MB on disk at {args.path}")


if __name__ == "__main__":
    main()
