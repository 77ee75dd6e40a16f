"""`peerpath demo`: a realistic sample affiliate, built through the public Tracker API."""

import datetime as dt
import random

from .errors import ValidationError

FIRST = ["Alex", "Maria", "Jamal", "Priya", "Sam", "Lena", "Tomas", "Grace", "Wei", "Keisha",
         "Omar", "Rosa", "Dev", "Hannah", "Luis", "Aisha", "Ben", "Carmen", "Noah", "Yuki",
         "Ines", "Marcus", "Fatima", "Eli", "Sofia", "Tariq", "June", "Diego", "Nadia", "Ray",
         "Mei", "Andre", "Olga", "Kwame", "Lucia", "Theo"]
LAST = ["Rivera", "Okafor", "Nguyen", "Patel", "Kowalski", "Haddad", "Johnson", "Santos",
        "Chen", "Williams", "Garcia", "Brooks", "Ito", "Mensah", "Lopez", "Fischer"]
COMMUNITIES = [("Cicero", "Cook"), ("Oak Park", "Cook"), ("Berwyn", "Cook"),
               ("Aurora", "Kane"), ("Joliet", "Will"), ("Waukegan", "Lake")]
SOURCES = [("graduate", "Peer-to-Peer class", None), ("graduate", "Connection group", None),
           ("hospital talk", "Loretto Hospital unit talk", "health"),
           ("community partner", "Cook County mental health court", "criminal justice"),
           ("community partner", "St. Mark's congregation", "faith"),
           ("community partner", "Triton College counseling", "education"),
           ("community partner", "Housing Forward", "housing"),
           ("community partner", "Pillars Community Health", "mental health"),
           ("peer referral", None, None), ("event", "Mental Health Month fair", None),
           ("web form", None, None)]
# How many sample peers reach each recruitment stage, and the path they took there.
PIPELINE = {"prospect": 7, "contacted": 6, "applied": 5, "screened": 4, "accepted": 10,
            "declined": 2, "withdrawn": 2}
PATH = ["prospect", "contacted", "applied", "screened", "accepted"]


def _stages_to(stage: str) -> list:
    if stage in PATH:
        return PATH[1:PATH.index(stage) + 1]
    return PATH[1:3] + [stage]


def build_demo(tracker, seed: int = 7) -> str:
    """Fill an empty (or earlier demo) database with a sample affiliate; return a summary."""
    tracker.init()
    with tracker.reading() as tx:
        if tx.all("peers") and not tx.meta.get("demo"):
            raise ValidationError(
                f"{tracker.store.path} already holds real peers; give the demo its own file "
                "with --db demo.json"
            )
        if tx.meta.get("demo"):
            return f"The demo affiliate is already in {tracker.store.path}.\n" + _next_steps()
    rng = random.Random(seed)
    start = tracker.today - dt.timedelta(days=400)
    rows, moves = [], []
    for index, (stage, count) in enumerate((s, c) for s, c in PIPELINE.items() for _ in range(c)):
        source, detail, sector = rng.choice(SOURCES)
        community, county = rng.choice(COMMUNITIES)
        first, last = FIRST[index % len(FIRST)], rng.choice(LAST)
        rows.append(dict(
            name=f"{first} {last}",
            email=f"{first.lower()}.{last.lower()}@example.org",
            phone=f"708-555-{1000 + index:04d}",
            languages=["English"] + (["Spanish"] if rng.random() < 0.3 else []),
            community=community, county=county,
            lived_experience=rng.choice(["self", "self", "family", "both"]),
            source=source, source_detail=detail, sector=sector,
            consent={"contact": True, "share_story": rng.random() < 0.5},
            on=start + dt.timedelta(days=rng.randint(0, 120)),
        ))
        moves.append(_stages_to(stage) if stage != "prospect" else [])
    with tracker.changing() as tx:
        tx.meta["demo"] = True
        peers = tracker.add_peers(rows)
        for peer, stages in zip(peers, moves):
            day = peer.stage_since()
            for stage in stages:
                day += dt.timedelta(days=rng.randint(5, 40))
                tracker.set_stage(peer.id, stage, on=min(day, tracker.today))
    return _summary(tracker) + _next_steps()


def _summary(tracker) -> str:
    peers = tracker.peers()
    by_stage = {stage: sum(p.stage == stage for p in peers) for stage in PIPELINE}
    lines = [f"Built a sample affiliate in {tracker.store.path}:",
             f"  {len(peers)} peers: " + ", ".join(f"{n} {s}" for s, n in by_stage.items())]
    return "\n".join(lines) + "\n"


def _next_steps() -> str:
    return (
        "Try next:\n"
        "  peerpath peer list --stage accepted\n"
        "  peerpath peer show P0001\n"
        "  peerpath audit --peer P0001\n"
        "  peerpath plugins list\n"
    )
