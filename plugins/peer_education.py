"""NAMI peer education: Peer-to-Peer teachers and In Our Own Voice presenters.

The Peer-to-Peer commitment (co-teach two courses in 24 months, NAMI Washington; DOMAIN.md) is
modelled as the renewal of the teacher's certification: a course counts once it is complete, its
sessions reaching `format.sessions` (8, NAMI's current class) or the offering marked completed,
never for one session led. A teacher who falls short becomes inactive (did not meet commitment),
never a dead end: `peerpath reactivate` once two courses are co-taught since.
"""

from peerpath.core import Band, Checklist, ChecklistItem, Pathway, ProgramModel, Role, Step, hookimpl

PEER_TO_PEER = Pathway(
    key="peer_to_peer",
    title="Peer-to-Peer teacher",
    steps=[
        Step("affiliate_interview", "Affiliate interview", "screening"),
        Step("online_course", "Online course (6-8 h)", "course",
             {"hours": 8, "lead_days": 14, "before": "training"},
             requires=["affiliate_interview"]),
        Step("trainer_interview", "Trainer interview", "screening", requires=["online_course"]),
        Step("fidelity_agreement", "Fidelity agreement signed", "attestation",
             requires=["trainer_interview"]),
        Step("training", "Teacher training", "training", {"days": 2},
             requires=["online_course", "fidelity_agreement"]),
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
        Step("training", "Presenter training", "training", {"days": 2},
             requires=["fidelity_agreement"]),
        Step("presentations", "Presentations given", "count",
             {"min": 2, "counts": "sessions", "unit": "presentations"}, requires=["training"]),
        Step("observed", "Observed presentation meets fidelity", "observation",
             {"min_percent": 80, "checklist": "ioov_presentation"}, requires=["training"],
             optional=True),
    ],
)

PROGRAMS = [
    ProgramModel(
        key="peer_to_peer",
        title="NAMI Peer-to-Peer",
        description="Eight-session class for adults living with a mental health condition.",
        roles=[Role("teacher", "Teacher", pathway="peer_to_peer")],
        pathways=[PEER_TO_PEER],
        format={"sessions": 8, "session_minutes": 120, "leaders_per_offering": 2,
                "first_observation_within_days": 90, "observation_interval_days": 365},
        leader_requirements={"lived_experience": ("self", "both")},
    ),
    ProgramModel(
        key="ioov",
        title="NAMI In Our Own Voice",
        description="A 60-90 minute talk with video by two presenters living with mental illness.",
        roles=[Role("presenter", "Presenter", pathway="ioov")],
        pathways=[IN_OUR_OWN_VOICE],
        format={"minutes": 90, "leaders_per_offering": 2, "first_observation_within_days": 180,
                "observation_interval_days": 365},
        leader_requirements={"lived_experience": ("self", "both")},
    ),
]

BANDS = [Band("good", 80), Band("fair", 60), Band("not supported", 0)]

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
        key="ioov_presentation",
        program="ioov",
        title="In Our Own Voice presentation",
        version="2026.1",
        items=[
            ChecklistItem("two_presenters", "Two trained presenters", critical=True),
            ChecklistItem("video", "Program video segments shown", critical=True),
            ChecklistItem("segments", "All segments covered (Dark Days, Acceptance, Treatment, Coping "
                          "Skills, Successes, Hopes and Dreams)", type="rating", weight=2),
            ChecklistItem("personal_story", "Personal stories tied to each segment", type="rating"),
            ChecklistItem("questions", "Time left for audience questions"),
            ChecklistItem("length", "Within the 60-90 minute format"),
            ChecklistItem("no_endorsement", "No medical advice; no treatment endorsed", critical=True),
        ],
        bands=BANDS,
        pass_band="good",
    ),
]


@hookimpl
def register_programs(register):
    for program in PROGRAMS:
        register(program)


@hookimpl
def register_checklists(register):
    for checklist in CHECKLISTS:
        register(checklist)
