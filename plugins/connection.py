"""NAMI Connection Recovery Support Group: the facilitator pathway and group format.

Every number is a plugin default the affiliate can override (`peerpath config set KEY VALUE`);
each cites its public source (the facts are gathered in DOMAIN.md), and `peerpath programs show
connection` prints them with it:

- connection.training.days = 3: NAMI national and NAMI Virginia describe facilitator training as
  a 3-day event (some states hold it in 2); facilitators are certified on attending and
  graduating from it, so the training is the last step of the certification.
- connection.leader.min_age = 18: NAMI national: facilitators are adults 18+ with lived
  experience, "comfortable in their own recovery" (checked at enrolment).
- connection.leader.nami_membership = no: no public source requires it; an affiliate that does
  sets it to yes (checked at enrolment against the peer's membership dates).
- connection.format.leaders_per_offering = 2: NAMI national: two trained facilitators.
- New-leader (probation) track, not certification: co-facilitating with a trained partner
  (connection.co_facilitation.min = 1 session: the affiliate pipeline places a new leader with a
  co-leader; how many sessions is the affiliate's choice) and a first observation meeting
  fidelity (connection.observed_session.min_percent = 80, the checklist's "good" band). Until
  both are done the leader is listed by `fidelity due` as a new leader.
- connection.format.first_observation_within_days = 180 and observation_interval_days = 365:
  peer-led programs observe each new leader once during their first program, then at least
  yearly; 180 days stands for "during the first program" (no published figure).

- Adaptive fidelity (core.fidelity): connection.fidelity.support_below_percent = 80, the
  checklist's pass band ('good', 80%): a score below it (or a critical item missed) calls for
  support. How soon to observe again then (fidelity.support_within_days), and how many good
  observations in a row (fidelity.good_streak) earn a longer interval (fidelity.good_interval_days),
  nobody publishes for NAMI Connection: affiliate settings with no default, which change nothing
  until set (the yearly interval applies). IPS-25 reviews "twice a year until good fidelity,
  then yearly", a cadence an affiliate may choose to copy; it is not a NAMI figure.

The commitment (1 year in Illinois, 2 in Washington) differs by state and is not tracked here.
"""

from peerpath.core import Band, Checklist, ChecklistItem, Pathway, ProgramModel, Role, Step, hookimpl

NAMI = "NAMI national (nami.org, NAMI Connection)"

PATHWAY = Pathway(
    key="connection",
    title="Connection facilitator",
    steps=[
        Step("application", "Application received", "attestation"),
        Step("reference", "Reference check", "screening", requires=["application"]),
        Step("interview", "Screening interview", "screening", requires=["application"]),
        Step("fidelity_agreement", "Fidelity agreement signed", "attestation",
             requires=["interview", "reference"]),
        Step("training", "State facilitator training (certified on graduating)", "training", {"days": 3},
             requires=["fidelity_agreement"]),
        Step("co_facilitation", "New leader: co-facilitated with a trained partner", "count",
             {"min": 1, "counts": "sessions", "unit": "sessions"}, requires=["training"], optional=True),
        Step("observed_session", "New leader: first observation meets fidelity", "observation",
             {"min_percent": 80, "checklist": "connection_meeting"}, requires=["training"], optional=True),
    ],
)

SOURCES = {
    "connection.application": f"{NAMI}: application and reference, screening interview, state training",
    "connection.reference": f"{NAMI}: application and reference",
    "connection.interview": f"{NAMI}: screening interview",
    "connection.fidelity_agreement": "NAMI: leaders sign the fidelity agreement before training",
    "connection.training": f"{NAMI}; NAMI Virginia: certified on attending and graduating from the training",
    "connection.training.days": "NAMI national; NAMI Virginia: a 3-day event (some states hold 2 days)",
    "connection.co_facilitation": "new-leader track, not certification: placement with a co-leader",
    "connection.co_facilitation.min": "affiliate pipeline: placed with a co-leader (sessions: the affiliate's choice)",
    "connection.observed_session": "new-leader track, not certification: observed once during the first program",
    "connection.observed_session.min_percent": "the connection_meeting checklist's pass band ('good', 80%)",
    "connection.validity_days": f"{NAMI}: no expiry in the public sources",
    "connection.format.length": NAMI,
    "connection.format.frequency": NAMI,
    "connection.format.audience": NAMI,
    "connection.format.leaders_per_offering": f"{NAMI}: two trained facilitators",
    "connection.format.first_observation_within_days": "peer-led programs: a new leader is observed during "
                                                       "their first program (no published figure)",
    "connection.format.observation_interval_days": "peer-led programs: observed at least yearly",
    "connection.fidelity.support_below_percent": "the connection_meeting checklist's pass band ('good', 80%): "
                                                 "a score below it needs support",
    "connection.leader.lived_experience": f"{NAMI}: facilitators live with a mental health condition",
    "connection.leader.min_age": f"{NAMI}: facilitators are 18+",
    "connection.leader.nami_membership": "no public source requires it: set yes if the affiliate does",
}

PROGRAM = ProgramModel(
    key="connection",
    title="NAMI Connection Recovery Support Group",
    description="Free, confidential peer support group for adults living with a mental health "
                "condition; not therapy.",
    roles=[Role("facilitator", "Facilitator", pathway="connection")],
    pathways=[PATHWAY],
    format={"length": "90 minutes", "audience": "adults 18+", "leaders_per_offering": 2,
            "frequency": "weekly, every other week or monthly",
            "first_observation_within_days": 180, "observation_interval_days": 365},
    leader_requirements={"lived_experience": ("self", "both"), "min_age": 18, "nami_membership": False},
    # No published figure for how soon after a weak observation, or how long after good ones:
    # None, changing nothing until the affiliate sets them (core.fidelity).
    fidelity={"support_below_percent": 80, "support_within_days": None, "good_streak": None,
              "good_interval_days": None},
    sources=SOURCES,
)

# Items follow the Connection model's meeting flow: the four structures (Structured Agenda, Group
# Guidelines, Principles of Support, Emotional Stages) and three group processes used as written.
MEETING_CHECKLIST = Checklist(
    key="connection_meeting",
    program="connection",
    title="NAMI Connection group meeting",
    version="2026.2",
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
        ChecklistItem("emotional_stages", "Emotional Stages used as written to understand where members are"),
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
