"""`peerpath demo`: a realistic sample affiliate, built through the public Tracker API."""

import datetime as dt
import random
import secrets

from .errors import ValidationError
from .users import ROLES

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
            lived_experience=rng.choice(["self", "both"] if stage == "accepted" else ["self", "family", "both"]),
            source=source, source_detail=detail, sector=sector,
            # adult: "18+ confirmed", which Connection facilitators need at enrolment
            consent={"contact": True, "share_story": rng.random() < 0.5, "adult": True},
            on=start + dt.timedelta(days=rng.randint(0, 120)),
        ))
        moves.append(_stages_to(stage) if stage != "prospect" else [])
    with tracker.changing() as tx:
        tx.meta["demo"] = True
        tx.meta.setdefault("affiliate", "NAMI Metro Suburban (demo)")
        events = _outreach(tracker, start)
        for row in rows:
            row["outreach"] = next((e.id for e in events if e.sector and e.sector == row["sector"]), None)
        peers = tracker.add_peers(rows)
        for peer, stages in zip(peers, moves):
            day = peer.stage_since()
            for stage in stages:
                day += dt.timedelta(days=rng.randint(5, 40))
                tracker.set_stage(peer.id, stage, on=min(day, tracker.today))
        leaders = [p.id for p, m in zip(peers, moves) if m[-1:] == ["accepted"]]
        _train_leaders(tracker, leaders)
        _graduates_and_plans(tracker, peers, leaders)
        _planned_training(tracker, leaders)
        # Whom the affiliate serves (report equity): Maywood and Polish speakers have no leader yet.
        tracker.set_setting("equity.communities", ", ".join([c for c, _ in COMMUNITIES] + ["Maywood"]))
        tracker.set_setting("equity.languages", "English, Spanish, Polish")
        tracker.sweep_lapses()
        password = _add_web_users(tracker, leader=_leader_logs_own_hours(tracker))
    return _summary(tracker) + _web_users(password) + _next_steps()


def _add_web_users(tracker, leader: str) -> str:
    """One web app user per role, named after it, sharing a password made for this demo; the
    leader signs in as peer `leader`."""
    password = secrets.token_urlsafe(12)
    for role in ROLES:
        tracker.add_user(role, role, password, peer_id=leader if role == "leader" else None)
    return password


def _leader_logs_own_hours(tracker) -> str:
    """A Connection facilitator logged an hour of admin work in the web app: it waits for the
    coordinator's approval. Returns the facilitator's peer id."""
    facilitator = next(s.peer.id for s in tracker.leaders(program="connection") if s.status == "certified")
    tracker.add_activity(facilitator, "admin", 1, on=tracker.today - dt.timedelta(days=3), pending=True)
    return facilitator


def _web_users(password: str) -> str:
    return ("Web app: `peerpath serve`, then sign in at http://127.0.0.1:8000/ as "
            f"{', '.join(ROLES[:-1])} or {ROLES[-1]}\n  with the password {password} (shown once: "
            "`peerpath user password NAME` sets another)\n")


OUTREACH = [
    ("hospital talk", 10, "health", "Loretto Hospital psychiatric unit", "Cicero", 14),
    ("partner visit", 25, "criminal justice", "Cook County mental health court", "Cicero", 9),
    ("congregation talk", 40, "faith", "St. Mark's congregation", "Waukegan", 35),
    ("resource fair", 60, "education", "Triton College counseling", "Berwyn", 80),
    ("partner visit", 75, "housing", "Housing Forward", "Aurora", 12),
    ("hospital talk", 95, "mental health", "Pillars Community Health", "Joliet", 18),
]


def _outreach(tracker, start) -> list:
    """A season of outreach, with Waukegan marked as an underserved community."""
    tracker.mark_underserved("Waukegan")
    return [tracker.add_outreach(kind, on=start + dt.timedelta(days=days), sector=sector,
                                 partner=partner, community=community, reached=reached)
            for kind, days, sector, partner, community, reached in OUTREACH]


# Each plan: (program, steps as (step, days before today, record values)). The leaders land at
# different points: certified, mid-way, stuck, expiring soon and lapsed. Connection facilitators
# are certified on graduating from the 3-day training; co-facilitating and a first observation
# follow as their new-leader track.
CONNECTION_TRAINED = [
    ("application", 420, {}), ("reference", 410, {"outcome": "passed"}),
    ("interview", 405, {"outcome": "passed"}), ("fidelity_agreement", 400, {}),
    ("training", 380, {"until": 378, "trainer": "NAMI Illinois state trainers"}),
]
# The fidelity agreement is signed before online enrolment (help.nami.org article 535).
P2P_TRAINED = [
    ("affiliate_interview", 330, {"outcome": "passed"}), ("fidelity_agreement", 325, {}),
    ("online_course", 320, {}), ("trainer_interview", 300, {"outcome": "passed"}),
    ("training", 290, {"until": 289, "trainer": "NAMI Illinois state trainers"}),
]
IOOV_TRAINED = [("fidelity_agreement", 200, {}), ("training", 190, {"until": 189})]
CRSS_DOMAINS = ["Advocacy", "Professional Responsibility", "Mentoring", "Recovery Support"]


def _crss_complete(start: int) -> list:
    """Every CRSS step, the exam `start - 20` days ago; supervision kept up for over a year
    across the four performance domains, then the complete application approved."""
    supervision = [("supervision", start + days, {"hours": 25, "domain": d})
                   for days, d in zip((400, 250, 100, -11), CRSS_DOMAINS)]
    steps = supervision[:3] + [("disclosure", start, {}), ("diploma", start, {}), ("code_of_ethics", start, {})]
    steps += [("education", start - 5, {"hours": 10, "domain": d}) for d in CRSS_DOMAINS]
    steps += [("education", start - 6, {"hours": 6, "domain": "Ethics"}),
              ("education", start - 7, {"hours": 54, "domain": "Core Functions"}),
              ("experience", start - 10, {"hours": 2000, "score": 75}),
              supervision[3], ("application", start - 15, {}),
              ("exam", start - 20, {"score": 81})]
    return steps


PLANS = [
    [("connection", CONNECTION_TRAINED), ("crss", _crss_complete(840))],
    [("connection", CONNECTION_TRAINED)],
    [("connection", CONNECTION_TRAINED[:-1] + [("training", 40, {"until": 39})])],
    [("connection", [("application", 90, {}), ("reference", 80, {"outcome": "passed"}),
                     ("interview", 75, {"outcome": "not passed"})])],
    [("peer_to_peer", P2P_TRAINED), ("crss", _crss_complete(740))],
    [("peer_to_peer", P2P_TRAINED)],
    [("peer_to_peer", P2P_TRAINED[:3])],
    [("ioov", IOOV_TRAINED)],
    [("ioov", IOOV_TRAINED)],
    [("crss", [("disclosure", 120, {}), ("education", 100, {"hours": 60, "domain": "Core Functions"}),
               ("education", 60, {"hours": 4, "domain": "Advocacy"})])],
]

CONNECTION_ANSWERS = {"on_time": "yes", "two_facilitators": "yes", "welcome": "yes", "guidelines": "yes",
                      "principles": "yes", "confidentiality": "yes", "check_in": 4, "agenda": 5,
                      "processes": 5, "emotional_stages": "yes", "no_endorsement": "yes"}
DRIFTED_ANSWERS = {**CONNECTION_ANSWERS, "on_time": "no", "check_in": 2, "agenda": 3, "processes": 3}
IOOV_ANSWERS = {"two_presenters": "yes", "video": "yes", "what_happened": 5, "what_helps": 4, "whats_next": 5,
                "questions": "yes", "length": "yes", "no_endorsement": "yes"}


def _train_leaders(tracker, leaders: list) -> None:
    """Enrol the accepted peers and record their steps, groups, classes and observations."""
    today = tracker.today

    def ago(days):
        return today - dt.timedelta(days=days)

    for peer_id, plan in zip(leaders, PLANS):
        for program, steps in plan:
            tracker.enroll(peer_id, program, on=ago(steps[0][1] + 5))
            for step, days, values in steps:
                values = dict(values)
                if "until" in values:
                    values["until"] = ago(values["until"])
                tracker.record_step(peer_id, program, step, on=ago(days), **values)
    a = leaders
    group = tracker.add_offering("connection", "Oak Park Tuesday group", leaders=[a[0], a[1]],
                                 schedule="Tuesdays 6:30pm, weekly", location="Oak Park library",
                                 started=ago(300), cadence="weekly")
    for week in range(12):
        tracker.add_session(group.id, ago(300 - 7 * week), attendance=6 + week % 4)
    tracker.observe(group.id, "connection_meeting", "State trainer", CONNECTION_ANSWERS, on=ago(250))
    tracker.observe(group.id, "connection_meeting", "State trainer", DRIFTED_ANSWERS, on=ago(20))
    newer = tracker.add_offering("connection", "Cicero Thursday group", leaders=[a[0], a[2]],
                                 schedule="Thursdays 7pm, every other week", started=ago(30),
                                 cadence="biweekly")
    tracker.add_session(newer.id, ago(30), attendance=5)
    course = tracker.add_offering("peer_to_peer", "Berwyn Peer-to-Peer class", leaders=[a[4], a[5]],
                                  schedule="Saturdays 10am, 8 weeks", started=ago(200), cadence="weekly")
    for week in range(8):
        tracker.add_session(course.id, ago(200 - 7 * week), attendance=9)
    talks = tracker.add_offering("ioov", "In Our Own Voice talks", leaders=[a[7], a[8]], cadence="on request")
    tracker.add_session(talks.id, ago(150), attendance=40)
    tracker.add_session(talks.id, ago(90), leaders=[a[7]], attendance=25)  # a[8] presented once this year
    tracker.observe(talks.id, None, "Program coordinator", IOOV_ANSWERS, on=ago(90), leaders=[a[7]])
    _activity(tracker, a, {"group": group.id, "course": course.id, "talks": talks.id}, ago)


# Classes and groups that ended before the sample peers came, whose graduates became peers (the
# sample's graduates, by the class or group they name), and a planned class in Spanish:
# (program, name, first and last day as days ago, graduates counted, what graduates name).
PAST_OFFERINGS = [
    ("peer_to_peer", "Oak Park Peer-to-Peer class, fall 2025", 466, 410, 12, "Peer-to-Peer class"),
    ("connection", "Maywood Monday group", 700, 420, 15, "Connection group"),
]


def _graduates_and_plans(tracker, peers, leaders) -> None:
    """The past offerings closed with their graduates (report graduates), and a Peer-to-Peer
    class planned in Spanish whose second teacher is still in training (report capacity)."""
    today = tracker.today
    for program, name, first, last, count, detail in PAST_OFFERINGS:
        past = tracker.add_offering(program, name, started=today - dt.timedelta(days=first), cadence="weekly")
        named = [p.id for p in peers if p.source == "graduate" and p.source_detail == detail]
        tracker.close_offering(past.id, on=today - dt.timedelta(days=last), graduates=count, graduate=named)
    tracker.add_offering("peer_to_peer", "Cicero Peer-to-Peer class in Spanish", leaders=[leaders[5], leaders[6]],
                         schedule="Saturdays 10am, 8 weeks", cadence="weekly", language="Spanish",
                         location="Cicero public library", status="planned",
                         started=today + dt.timedelta(days=40), ended=today + dt.timedelta(days=89))


def _planned_training(tracker, leaders) -> None:
    """A Connection facilitator training in two weeks with two trainees on its roster and seats
    left (training list, the digest's seats, report capacity's next planned training): one missing
    only the training, one who must pass the interview again first."""
    today = tracker.today
    training = tracker.add_training("connection", on=today + dt.timedelta(days=11),
                                    until=today + dt.timedelta(days=13), trainers=["NAMI Illinois state trainers"],
                                    location="Oak Park library", capacity=12)
    tracker.enroll_in_training(training.id, [leaders[2], leaders[3]])


# Volunteer activity: (leader index, kind, days ago, hours, offering, outreach event, stipend).
# The talks of the same offering and day as a session are the same presentation (counted once):
# a[7] presents three times this year, a[8] once, short of In Our Own Voice's two.
ACTIVITY = [
    (0, "session", 300, 2, "group", None, None), (1, "session", 293, 2, "group", None, None),
    (4, "session", 200, 2.5, "course", None, None), (5, "session", 200, 2.5, "course", None, None),
    (4, "outreach", 360, 3, None, "X0003", None), (5, "admin", 60, 1.5, None, None, None),
    (7, "talk", 150, 2, "talks", None, 50), (8, "talk", 150, 2, "talks", None, 50),
    (7, "talk", 90, 2, "talks", None, 50), (7, "talk", 40, 2.5, "talks", "X0006", 50),
    (2, "outreach", 20, 2, None, "X0001", None),
]


def _activity(tracker, leaders, offerings, ago) -> None:
    for index, kind, days, hours, offering, outreach, stipend in ACTIVITY:
        tracker.add_activity(leaders[index], kind, hours, on=ago(days), offering_id=offerings.get(offering),
                             outreach_id=outreach, stipend=stipend)


def _summary(tracker) -> str:
    peers = tracker.peers()
    by_stage = {stage: sum(p.stage == stage for p in peers) for stage in PIPELINE}
    leaders = tracker.leaders()
    by_status: dict = {}
    for status in leaders:
        by_status[status.status] = by_status.get(status.status, 0) + 1
    lines = [f"Built a sample affiliate in {tracker.store.path}:",
             f"  {len(peers)} peers: " + ", ".join(f"{n} {s}" for s, n in by_stage.items()),
             f"  {len(leaders)} leader records: " + ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())),
             f"  {len(tracker.offerings())} groups and classes, {len(tracker.observations())} fidelity observations",
             "  trainings planned: " + ", ".join(
                 f"{t.id} {t.program} on {t.on}, {len(t.roster)} enrolled, {t.seats_left} seats left"
                 for t in tracker.trainings())]
    return "\n".join(lines) + "\n"


def _next_steps() -> str:
    return (
        "Try next:\n"
        "  peerpath peer list --stage accepted\n"
        "  peerpath leaders\n"
        "  peerpath leaders --expiring-within 60\n"
        "  peerpath progress P0027\n"
        "  peerpath fidelity due\n"
        "  peerpath fidelity report --program connection\n"
        "  peerpath report presenter_use     (In Our Own Voice presenters used fewer than twice)\n"
        "  peerpath report activity --by program   (volunteer hours, talks and stipends)\n"
        "  peerpath report equity            (leaders against the communities served)\n"
        "  peerpath report capacity          (offerings short of leaders, the next 90 days)\n"
        "  peerpath report graduates         (graduates who became leaders, and of what)\n"
        "  peerpath training list            (a planned training, its roster and seats left)\n"
        "  peerpath reports                  (then e.g. peerpath report funnel)\n"
        "  peerpath programs show crss\n"
        "  peerpath audit --peer P0027\n"
    )
