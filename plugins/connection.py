"""NAMI Connection Recovery Support Group: the facilitator pathway and group format.

Defaults follow NAMI Illinois practice (see DOMAIN.md); every number is an affiliate setting,
e.g. `peerpath config set connection.training.days 3` or `connection.leader.commitment_months 24`.
"""

from peerpath.core import Band, Checklist, ChecklistItem, Pathway, ProgramModel, Role, Step, hookimpl

PATHWAY = Pathway(
    key="connection",
    title="Connection facilitator",
    steps=[
        Step("application", "Application received", "attestation"),
        Step("reference", "Reference check", "screening", requires=["application"]),
        Step("interview", "Screening interview", "screening", requires=["application"]),
        Step("fidelity_agreement", "Fidelity agreement signed", "attestation",
             requires=["interview", "reference"]),
        Step("training", "State facilitator training", "training", {"days": 2},
             requires=["fidelity_agreement"]),
        Step("co_facilitation", "Co-facilitated with a trained partner", "count",
             {"min": 4, "counts": "sessions", "unit": "sessions"}, requires=["training"]),
        Step("observed_session", "Observed session meets fidelity", "observation",
             {"min_percent": 80, "checklist": "connection_meeting"}, requires=["training"]),
    ],
)

PROGRAM = ProgramModel(
    key="connection",
    title="NAMI Connection Recovery Support Group",
    description="Free, confidential peer support group for adults living with a mental health "
                "condition; not therapy.",
    roles=[Role("facilitator", "Facilitator", pathway="connection")],
    pathways=[PATHWAY],
    format={"minutes": 90, "leaders_per_offering": 2, "frequency": "weekly, every other week or monthly",
            "audience_min_age": 18, "first_observation_within_days": 180,
            "observation_interval_days": 365},
    leader_requirements={"lived_experience": ("self", "both"), "min_age": 18,
                         "commitment_months": 12},
)

# Items follow the Connection model's meeting flow: the four structures (Structured Agenda, Group
# Guidelines, Principles of Support, Emotional Stages) and three group processes used as written.
MEETING_CHECKLIST = Checklist(
    key="connection_meeting",
    program="connection",
    title="NAMI Connection group meeting",
    version="2026.1",
    items=[
        ChecklistItem("on_time", "Started and ended on time", critical=False),
        ChecklistItem("two_facilitators", "Two trained facilitators present", critical=True),
        ChecklistItem("welcome", "Welcome and introductions, 18+ notice, newcomers greeted"),
        ChecklistItem("guidelines", "Group Guidelines read aloud and agreed (raised hands)", critical=True),
        ChecklistItem("principles", "The 12 Principles of Support read aloud", critical=True),
        ChecklistItem("confidentiality", "Confidentiality statement made", critical=True),
        ChecklistItem("check_in", "Check-in kept time-limited", type="rating",
                      anchors={"1": "no limit, check-in took the meeting", "5": "every check-in brief"}),
        ChecklistItem("agenda", "Structured agenda followed", type="rating",
                      anchors={"1": "no agenda", "5": "every part in order"}),
        ChecklistItem("processes", "Group processes (Hot Potatoes, Group Wisdom, Problem Solving) used as written",
                      type="rating", weight=2, allow_insufficient=True,
                      anchors={"1": "improvised", "5": "as written"}),
        ChecklistItem("no_endorsement", "No medical advice; no medication or therapy endorsed", critical=True),
    ],
    bands=[Band("good", 80), Band("fair", 60), Band("not supported", 0)],
    pass_band="good",
)


@hookimpl
def register_programs(register):
    register(PROGRAM)


@hookimpl
def register_checklists(register):
    register(MEETING_CHECKLIST)
