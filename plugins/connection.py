"""NAMI Connection Recovery Support Group: the facilitator pathway and group format.

Defaults follow NAMI Illinois practice (see DOMAIN.md); every number is an affiliate setting,
e.g. `peerpath config set connection.training.days 3` or `connection.leader.commitment_months 24`.
"""

from core import Pathway, ProgramModel, Role, Step, hookimpl

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
    format={"minutes": 90, "facilitators": 2, "frequency": "weekly, every other week or monthly",
            "audience_min_age": 18, "first_observation_within_days": 180,
            "observation_interval_days": 365},
    leader_requirements={"lived_experience": ("self", "both"), "min_age": 18,
                         "commitment_months": 12},
)


@hookimpl
def register_programs(register):
    register(PROGRAM)
