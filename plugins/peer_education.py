"""NAMI peer education: Peer-to-Peer teachers and In Our Own Voice presenters.

The Peer-to-Peer commitment (co-teach two courses in 24 months) is modelled as the renewal of
the teacher's certification, so a teacher who stops teaching shows as lapsed, not silently active.
"""

from core import Pathway, ProgramModel, Role, Step, hookimpl

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
                 {"min": 2, "counts": "offerings", "unit": "courses"}),
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
    ],
)

PROGRAMS = [
    ProgramModel(
        key="peer_to_peer",
        title="NAMI Peer-to-Peer",
        description="Eight-session class for adults living with a mental health condition.",
        roles=[Role("teacher", "Teacher", pathway="peer_to_peer")],
        pathways=[PEER_TO_PEER],
        format={"sessions": 8, "session_minutes": 120, "leaders": 2,
                "first_observation_within_days": 90, "observation_interval_days": 365},
        leader_requirements={"lived_experience": ("self", "both")},
    ),
    ProgramModel(
        key="ioov",
        title="NAMI In Our Own Voice",
        description="A 60-90 minute talk with video by two presenters living with mental illness.",
        roles=[Role("presenter", "Presenter", pathway="ioov")],
        pathways=[IN_OUR_OWN_VOICE],
        format={"minutes": 90, "presenters": 2, "first_observation_within_days": 180,
                "observation_interval_days": 365},
        leader_requirements={"lived_experience": ("self", "both")},
    ),
]


@hookimpl
def register_programs(register):
    for program in PROGRAMS:
        register(program)
