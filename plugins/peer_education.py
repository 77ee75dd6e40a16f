"""NAMI peer education: Peer-to-Peer teachers and In Our Own Voice presenters.

Every number is a plugin default the affiliate can override (`peerpath config set KEY VALUE`);
each cites its public source (the facts are gathered in DOMAIN.md), and `peerpath programs show
peer_to_peer` / `ioov` prints them with it.

Peer-to-Peer (NAMI national):
- order: affiliate interview -> fidelity agreement -> online course -> trainer interview ->
  training. The fidelity agreement is signed before online enrolment (help.nami.org, article 535).
- peer_to_peer.online_course.hours = 8 (a 6-8 hour online course) and lead_days = 14: finished
  at least 2 weeks before the training (NAMI national).
- peer_to_peer.training.days = 2: a 2-day teacher training (NAMI national).
- peer_to_peer.format.sessions = 8: eight weekly sessions (earlier 9-10 two-hour units).
- peer_to_peer.validity_days = 730 and renewal.min = 2: the teacher commits to co-teach at least
  2 courses in 24 months (NAMI Washington). Modelled as the renewal of the certification: a
  course counts once it is complete, its sessions reaching `format.sessions` or the offering
  marked completed, never for one session led. A teacher who falls short becomes inactive (did
  not meet commitment), never a dead end: `peerpath reactivate` once two courses are co-taught since.

Adaptive fidelity (core.fidelity), both programs: PROGRAM.fidelity.support_below_percent = 80,
the checklists' pass band ('good', 80%): a score below it (or a critical item missed) calls for
support. support_within_days, good_streak and good_interval_days are published nowhere for these
programs: affiliate settings with no default, changing nothing until set (the yearly interval
applies).

In Our Own Voice (NAMI national):
- ioov.training.days = 2: presenters are certified at the 2-day presenter training.
- ioov.format.presentations_per_year = 2: affiliates agree to use each certified presenter at
  least twice a calendar year. This is an activity expectation on the affiliate, not a
  certification step: the `presenter_use` report lists presenters used fewer times.
- the presentation has three sections since 2017 (What Happened, What Helps, What's Next): the
  `ioov_presentation_2017` checklist; the earlier five-segment checklist `ioov_presentation` is
  kept as an earlier version so observations recorded with it still read as they were scored.
"""

import datetime as dt

from peerpath.core import (Band, Checklist, ChecklistItem, Pathway, ProgramModel, Report, ReportResult, Role, Step,
                           Table, ValidationError, hookimpl)

NAMI = "NAMI national (nami.org)"

PEER_TO_PEER = Pathway(
    key="peer_to_peer",
    title="Peer-to-Peer teacher",
    steps=[
        Step("affiliate_interview", "Affiliate interview", "screening"),
        Step("fidelity_agreement", "Fidelity agreement signed (before online enrolment)", "attestation",
             requires=["affiliate_interview"]),
        Step("online_course", "Online course (6-8 h)", "course",
             {"hours": 8, "lead_days": 14, "before": "training"},
             requires=["fidelity_agreement"]),
        Step("trainer_interview", "Trainer interview", "screening", requires=["online_course"]),
        Step("training", "Teacher training", "training", {"days": 2},
             requires=["online_course", "trainer_interview"]),
    ],
    validity_days=730,
    renewal=Step("co_teach", "Co-teach courses", "count",
                 {"min": 2, "counts": "courses", "unit": "courses"}),
    # A commitment, not a credential: falling short makes the teacher inactive; co-teaching
    # two courses again (the renewal, counted from then) lets the affiliate reactivate them.
    lapse_status="inactive",
    lapse_reason="did not meet commitment",
)

IN_OUR_OWN_VOICE = Pathway(
    key="ioov",
    title="In Our Own Voice presenter",
    steps=[
        Step("fidelity_agreement", "Fidelity agreement signed", "attestation"),
        Step("training", "Presenter training (certified at the training)", "training", {"days": 2},
             requires=["fidelity_agreement"]),
        Step("observed", "New presenter: observed presentation meets fidelity", "observation",
             {"min_percent": 80}, requires=["training"],
             optional=True),
    ],
)

P2P_SOURCES = {
    "peer_to_peer.affiliate_interview": f"{NAMI}: affiliate interview first",
    "peer_to_peer.fidelity_agreement": "help.nami.org article 535: signed before online enrolment",
    "peer_to_peer.online_course": f"{NAMI}: online course, then trainer interview",
    "peer_to_peer.trainer_interview": f"{NAMI}: trainer interview after the online course",
    "peer_to_peer.online_course.hours": f"{NAMI}: a 6-8 hour online course",
    "peer_to_peer.online_course.lead_days": f"{NAMI}: finished at least 2 weeks before the training",
    "peer_to_peer.training.days": f"{NAMI}: a 2-day teacher training",
    "peer_to_peer.validity_days": "NAMI Washington: commitment over 24 months",
    "peer_to_peer.renewal.min": "NAMI Washington: co-teach at least 2 courses in 24 months",
    "peer_to_peer.format.sessions": f"{NAMI}: 8 weekly sessions (earlier 9-10 two-hour units)",
    "peer_to_peer.format.leaders_per_offering": f"{NAMI}: two trained leaders with lived experience",
    "peer_to_peer.format.first_observation_within_days": "peer-led programs: a new leader is observed during "
                                                         "their first program (no published figure)",
    "peer_to_peer.format.observation_interval_days": "peer-led programs: observed at least yearly",
    "peer_to_peer.fidelity.support_below_percent": "the p2p_class checklist's pass band ('good', 80%): a score "
                                                   "below it needs support",
    "peer_to_peer.leader.lived_experience": f"{NAMI}: teachers live with a mental health condition",
}

IOOV_SOURCES = {
    "ioov.fidelity_agreement": "NAMI: leaders sign the fidelity agreement before training",
    "ioov.training": f"{NAMI}: presenters are certified at the presenter training",
    "ioov.training.days": f"{NAMI}: a 2-day presenter training",
    "ioov.observed": "new-presenter track, not certification: observed once during the first program",
    "ioov.observed.min_percent": "the IOOV checklists' pass band ('good', 80%); either version counts",
    "ioov.validity_days": f"{NAMI}: no expiry in the public sources",
    "ioov.format.length": f"{NAMI}: a 60-90 minute talk with video",
    "ioov.format.leaders_per_offering": f"{NAMI}: two trained presenters living with mental illness",
    "ioov.format.presentations_per_year": f"{NAMI}: affiliates use each certified presenter at least twice a "
                                          "calendar year (an activity expectation: report presenter_use)",
    "ioov.format.first_observation_within_days": "peer-led programs: a new leader is observed during their "
                                                 "first program (no published figure)",
    "ioov.format.observation_interval_days": "peer-led programs: observed at least yearly",
    "ioov.fidelity.support_below_percent": "the IOOV checklists' pass band ('good', 80%): a score below it "
                                           "needs support",
    "ioov.leader.lived_experience": f"{NAMI}: presenters live with mental illness",
}

# No published figure for how soon after a weak observation, or how long after good ones.
ADAPTIVE = {"support_below_percent": 80, "support_within_days": None, "good_streak": None,
            "good_interval_days": None}

PROGRAMS = [
    ProgramModel(
        key="peer_to_peer",
        title="NAMI Peer-to-Peer",
        description="Eight-session class for adults living with a mental health condition.",
        roles=[Role("teacher", "Teacher", pathway="peer_to_peer")],
        pathways=[PEER_TO_PEER],
        format={"sessions": 8, "leaders_per_offering": 2,
                "first_observation_within_days": 90, "observation_interval_days": 365},
        leader_requirements={"lived_experience": ("self", "both")},
        fidelity=ADAPTIVE,
        sources=P2P_SOURCES,
    ),
    ProgramModel(
        key="ioov",
        title="NAMI In Our Own Voice",
        description="A 60-90 minute talk with video by two presenters living with mental illness.",
        roles=[Role("presenter", "Presenter", pathway="ioov")],
        pathways=[IN_OUR_OWN_VOICE],
        format={"length": "60-90 minutes", "leaders_per_offering": 2, "presentations_per_year": 2,
                "first_observation_within_days": 180, "observation_interval_days": 365},
        leader_requirements={"lived_experience": ("self", "both")},
        fidelity=ADAPTIVE,
        sources=IOOV_SOURCES,
    ),
]

BANDS = [Band("good", 80), Band("fair", 60), Band("not supported", 0)]


def _ioov_items(sections) -> list:
    """The items of an In Our Own Voice presentation checklist around its story sections."""
    return [
        ChecklistItem("two_presenters", "Two trained presenters", critical=True),
        ChecklistItem("video", "Program video segments shown", critical=True),
        *sections,
        ChecklistItem("questions", "Time left for audience questions"),
        ChecklistItem("length", "Within the 60-90 minute format"),
        ChecklistItem("no_endorsement", "No medical advice; no treatment endorsed", critical=True),
    ]


CHECKLISTS = [
    Checklist(
        key="p2p_class",
        program="peer_to_peer",
        title="Peer-to-Peer class session",
        version="2026.1",
        items=[
            ChecklistItem("two_teachers", "Two trained teachers present", critical=True),
            ChecklistItem("on_time", "Started and ended on time"),
            ChecklistItem("guidelines", "Class guidelines reviewed"),
            ChecklistItem("curriculum", "Curriculum taught as written, nothing rewritten", type="rating",
                          weight=2, critical=True, anchors={"1": "rewritten", "5": "as written"}),
            ChecklistItem("materials", "Participant materials used"),
            ChecklistItem("discussion", "Participants invited to share and discuss", type="rating",
                          allow_insufficient=True),
            ChecklistItem("self_disclosure", "Teachers' self-disclosure purposeful and brief", type="rating"),
            ChecklistItem("no_endorsement", "No medical advice; no treatment endorsed", critical=True),
        ],
        bands=BANDS,
        pass_band="good",
    ),
    Checklist(
        key="ioov_presentation_2017",
        program="ioov",
        title="In Our Own Voice presentation (three sections, since 2017)",
        version="2017.1",
        items=_ioov_items([
            ChecklistItem("what_happened", "What Happened: the presenter's story of their illness", type="rating"),
            ChecklistItem("what_helps", "What Helps: treatment, coping and support", type="rating"),
            ChecklistItem("whats_next", "What's Next: hopes, goals and recovery", type="rating"),
        ]),
        bands=BANDS,
        pass_band="good",
    ),
    Checklist(
        key="ioov_presentation",
        program="ioov",
        title="In Our Own Voice presentation (five segments, before 2017)",
        version="2026.1",
        items=_ioov_items([
            ChecklistItem("segments", "All segments covered (Dark Days, Acceptance, Treatment, Coping "
                          "Skills, Successes, Hopes and Dreams)", type="rating", weight=2),
            ChecklistItem("personal_story", "Personal stories tied to each segment", type="rating"),
        ]),
        bands=BANDS,
        pass_band="good",
        superseded_by="ioov_presentation_2017",
    ),
]


def presenter_use(tracker, options) -> ReportResult:
    """Certified In Our Own Voice presenters used fewer times than the affiliate agreed in the
    calendar year of --to (default today): presentations are sessions of IOOV offerings they led
    and talks recorded as activity of an IOOV offering, the same offering and day counted once."""
    if options["start"] is not None:
        raise ValidationError("presenter_use counts the calendar year of --to (default today): drop --from")
    year = options["end"].year
    needed = tracker.catalog.program("ioov").format.get("presentations_per_year")
    first_day = dt.date(year, 1, 1)
    # sessions of IOOV offerings led and talks naming one (`activity add --kind talk --offering`)
    presentations = tracker.presentations("ioov", first_day, options["end"])
    certified = [s for s in tracker.leaders(program="ioov") if s.status == "certified"]
    short = [] if needed is None else [
        {"peer": s.peer.id, "name": s.peer.name, "presentations": presentations[s.peer.id]}
        for s in certified if presentations[s.peer.id] < needed]
    title = f"used fewer than {needed} times in {year}" if needed is not None else \
        "ioov.format.presentations_per_year is not set"
    return ReportResult("presenter_use", "In Our Own Voice presenter use", [
        Table(title, ["peer", "name", "presentations"], [list(row.values()) for row in short]),
    ], {"year": year, "expected": needed, "presenters": len(certified), "short": short},
        (first_day, options["end"]))


@hookimpl
def register_programs(register):
    for program in PROGRAMS:
        register(program)


@hookimpl
def register_checklists(register):
    for checklist in CHECKLISTS:
        register(checklist)


@hookimpl
def register_reports(register):
    register(Report("presenter_use", "In Our Own Voice presenters used fewer than twice this calendar year "
                    "(ioov.format.presentations_per_year)", presenter_use))
