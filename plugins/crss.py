"""Illinois CRSS (Certified Recovery Support Specialist) and its endorsements.

Figures are the Illinois Certification Board's (DOMAIN.md). The CRSS-E and CRSS-YA add-on
requirements are not in our sources: their defaults are placeholders an affiliate should set
(`peerpath config show` lists them).
"""

from peerpath.core import Pathway, ProgramModel, Role, Step, hookimpl

CRSS_DOMAINS = ["Advocacy", "Professional Responsibility", "Mentoring", "Recovery Support"]

CRSS = Pathway(
    key="crss",
    title="Certified Recovery Support Specialist",
    steps=[
        Step("disclosure", "Statement of disclosure of lived experience", "attestation"),
        Step("education", "Education hours", "hours",
             {"total": 100, "domains": {**{d: 10 for d in CRSS_DOMAINS}, "Ethics": 6,
                                        "Core Functions": 0}}),
        Step("experience", "Supervised work experience", "hours",
             {"total": 2000, "min_share": 51, "window_days": None}),
        Step("supervision", "Documented supervision", "hours",
             {"total": 100, "domains": {d: 0 for d in CRSS_DOMAINS}}),
        Step("exam", "CRSS exam", "exam", {"pass_mark": 68, "max_score": 100},
             requires=["disclosure", "education"]),
    ],
    validity_days=730,
    renewal=Step("ceu", "Continuing education units", "hours",
                 {"total": 40, "domains": {"CRSS domains": 15, "Core functions": 25}}),
)

ENDORSEMENTS = [
    Pathway(
        key="crss_e",
        title="CRSS Employment endorsement (CRSS-E)",
        add_on_to="crss",
        steps=[Step("employment_education", "Employment-focused education", "hours",
                    {"total": 20}),
               Step("employment_experience", "Employment support experience", "hours",
                    {"total": 200})],
    ),
    Pathway(
        key="crss_ya",
        title="CRSS Young Adult endorsement (CRSS-YA)",
        add_on_to="crss",
        steps=[Step("young_adult_education", "Young-adult-focused education", "hours",
                    {"total": 20}),
               Step("young_adult_experience", "Work with young adults", "hours",
                    {"total": 200})],
    ),
]

PROGRAM = ProgramModel(
    key="crss",
    title="Illinois CRSS",
    description="State peer credential for recovery support specialists.",
    roles=[Role("specialist", "Recovery support specialist", pathway="crss"),
           Role("employment", "CRSS-E endorsement", pathway="crss_e"),
           Role("young_adult", "CRSS-YA endorsement", pathway="crss_ya")],
    pathways=[CRSS, *ENDORSEMENTS],
    format={"renewal_warning_days": 30},
    leader_requirements={"lived_experience": ("self", "both")},
)


@hookimpl
def register_programs(register):
    register(PROGRAM)
