"""Illinois CRSS (Certified Recovery Support Specialist) and its endorsements.

Every number is a plugin default the affiliate can override (`peerpath config set KEY VALUE`);
each cites the Illinois Certification Board (ICB, with IDHS; DOMAIN.md gathers the facts), and
`peerpath programs show crss` prints them with it:

- crss.education.total = 100 clock hours, at least 10 in each CRSS domain (Advocacy,
  Professional Responsibility, Mentoring, Recovery Support) and 6 in ethics (ICB).
- crss.experience.total = 2,000 hours of supervised paid, volunteer or internship work in a role
  at least 51% recovery support (min_share = 51; ICB). window_days = none: the ICB sets no
  window (one college adds "within the last four years").
- crss.supervision.total = 100 documented hours covering the performance domains (every_domain)
  from an experience maintained for at least one year (min_span_days = 365; ICB).
- the exam comes after the complete application is approved: disclosure, education,
  experience, supervision, high-school diploma or GED and the signed code of ethics (ICB).
- crss.exam.pass_mark = 68 of max_score = 100 (100 questions, 2 hours; ICB).
- crss.validity_days = 730 and renewal.total = 40 CEUs (15 in CRSS domains, 25 core
  functions; ICB). The board warns at least 30 days before expiry; `reports.expiring_days`
  (60) gives the affiliate more notice.
- crss.format.activity_counts_as_experience = no: the experience may be volunteer work (ICB:
  "supervised paid, volunteer or internship work" at least 51% recovery support), but whether
  the affiliate's volunteer activity is that work is the affiliate's call, so it is off. Set to
  yes, each `peerpath activity add` of a peer enrolled in CRSS from then on is also recorded as
  `experience` hours, with --share as the role's recovery-support share, under the same rules.
- CRSS-E and CRSS-YA: education, experience and supervised practical experience, with no
  figures in public sources. Their hours have no default: an endorsement grants nothing until
  the affiliate sets them (`peerpath plugins check crss` lists them).

The digest (`digest_items`) reminds each CRSS holder whose credential expires within the
affiliate's warning window, `reports.expiring_days` (core's setting, 60; the board itself warns at
least 30 days before expiry, ICB), and whose continuing education is short: "CEUs short by 12 h
(CRSS domains 7 h, Core functions 5 h), renewal in 45 days". The hours needed are the renewal
step's settings in force, crss.renewal.total (40 CEUs, 1 CEU = 1 clock hour) and
crss.renewal.domains.* (15 in CRSS domains, 25 in core functions; ICB), counted within the
current cycle as `progress` counts them; the plugin adds no figure of its own. Coordinators and
trainers see every holder's reminder, a leader (`digest --role leader --for PEER`) their own.
"""

from peerpath.core import DigestItem, Pathway, ProgramModel, Role, Step, hookimpl

ICB = "Illinois Certification Board (CRSS)"
CRSS_DOMAINS = ["Advocacy", "Professional Responsibility", "Mentoring", "Recovery Support"]
APPLICATION = ["disclosure", "education", "experience", "supervision", "diploma", "code_of_ethics"]

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
             {"total": 100, "domains": {d: 0 for d in CRSS_DOMAINS}, "every_domain": True,
              "min_span_days": 365}),
        Step("diploma", "High-school diploma or GED", "attestation"),
        Step("code_of_ethics", "Code of ethics signed", "attestation"),
        Step("application", "Complete application approved by the board", "attestation", requires=APPLICATION),
        Step("exam", "CRSS exam", "exam", {"pass_mark": 68, "max_score": 100}, requires=["application"]),
    ],
    validity_days=730,
    renewal=Step("ceu", "Continuing education units", "hours",
                 {"total": 40, "domains": {"CRSS domains": 15, "Core functions": 25}}),
)


def _endorsement(key, title, focus, label) -> Pathway:
    """A CRSS endorsement: its hours are figures nobody publishes (no default)."""
    return Pathway(
        key=key,
        title=title,
        add_on_to="crss",
        steps=[Step(f"{focus}_education", f"{label}-focused education", "hours", {"total": None}),
               Step(f"{focus}_experience", f"{label} experience", "hours", {"total": None}),
               Step(f"{focus}_practice", "Supervised practical experience", "hours", {"total": None})],
    )


ENDORSEMENTS = [
    _endorsement("crss_e", "CRSS Employment endorsement (CRSS-E)", "employment", "Employment"),
    _endorsement("crss_ya", "CRSS Young Adult endorsement (CRSS-YA)", "young_adult", "Young-adult"),
]

SOURCES = {
    "crss.disclosure": f"{ICB}: signed statement of disclosure of lived experience",
    "crss.education.total": f"{ICB}: 100 clock hours",
    **{f"crss.education.domains.{d}": f"{ICB}: at least 10 hours in each CRSS domain" for d in CRSS_DOMAINS},
    "crss.education.domains.Ethics": f"{ICB}: 6 hours of ethics",
    "crss.education.domains.Core Functions": f"{ICB}: core functions make up the rest of the 100 hours",
    "crss.experience.total": f"{ICB}: 2,000 hours of supervised paid, volunteer or internship work",
    "crss.experience.min_share": f"{ICB}: in a role at least 51% recovery support",
    "crss.experience.window_days": f"{ICB}: no window (one college adds 'within the last four years')",
    "crss.supervision.total": f"{ICB}: 100 hours of documented supervision",
    **{f"crss.supervision.domains.{d}": f"{ICB}: supervision covers the performance domains" for d in CRSS_DOMAINS},
    "crss.supervision.every_domain": f"{ICB}: supervision covers the performance domains",
    "crss.supervision.min_span_days": f"{ICB}: from an experience maintained for at least 1 year",
    "crss.diploma": f"{ICB}: high-school diploma or GED",
    "crss.code_of_ethics": f"{ICB}: signed code of ethics",
    "crss.application": f"{ICB}: the exam comes after the complete application is approved",
    "crss.exam.pass_mark": f"{ICB}: pass mark 68",
    "crss.exam.max_score": f"{ICB}: scored 0-100 (100 questions, 2 hours)",
    "crss.validity_days": f"{ICB}: renewal every 2 years",
    "crss.renewal.total": f"{ICB}: 40 CEUs (1 CEU = 1 clock hour)",
    "crss.renewal.domains.CRSS domains": f"{ICB}: 15 CEUs in CRSS domains, recovery or the peer role",
    "crss.renewal.domains.Core functions": f"{ICB}: 25 CEUs in core functions",
    "crss_e.validity_days": "stands with the CRSS credential",
    "crss_ya.validity_days": "stands with the CRSS credential",
    "crss.leader.lived_experience": f"{ICB}: disclosure of lived experience",
    "crss.format.activity_counts_as_experience": f"{ICB}: experience is supervised paid, volunteer or internship "
                                                 "work at least 51% recovery support; whether volunteer activity "
                                                 "recorded here is that work is the affiliate's call (off)",
}

PROGRAM = ProgramModel(
    key="crss",
    title="Illinois CRSS",
    description="State peer credential for recovery support specialists.",
    roles=[Role("specialist", "Recovery support specialist", pathway="crss"),
           Role("employment", "CRSS-E endorsement", pathway="crss_e"),
           Role("young_adult", "CRSS-YA endorsement", pathway="crss_ya")],
    pathways=[CRSS, *ENDORSEMENTS],
    # `activity add` also records the hours as this step when the affiliate turns it on (core.activity)
    format={"activity_counts_as_experience": False, "activity_step": "experience"},
    leader_requirements={"lived_experience": ("self", "both")},
    sources=SOURCES,
)


@hookimpl
def register_programs(register):
    register(PROGRAM)


@hookimpl
def digest_items(tracker, role, peer_id):
    """CEUs still short of the renewal for CRSS credentials expiring within reports.expiring_days
    (see the module's docstring); nothing for a credential whose renewal is complete."""
    window = tracker.core_setting("reports.expiring_days")
    items = []
    for status in tracker.leaders(program=PROGRAM.key, expiring_within=window):
        renewal, step = status.renewal, status.pathway.renewal
        if step is None or renewal is None or renewal.done or peer_id not in (None, status.peer.id):
            continue
        short, by_domain = ceus_short(step, renewal.figures)
        if short <= 0:
            continue
        left = (status.certification.expires - tracker.today).days
        when = "renewal due today" if left == 0 else f"renewal in {left} day{'s' if left != 1 else ''}"
        domains = f" ({', '.join(f'{name} {_hours(hours)} h' for name, hours in by_domain)})" if by_domain else ""
        items.append(DigestItem("CRSS continuing education", left,
                                f"{status.peer.id} {status.peer.name}: CEUs short by {_hours(short)} h{domains}, {when}",
                                peer=status.peer.id,
                                key=f"crss-ceu:{status.certification.id}:{status.certification.expires}:{_hours(short)}"))
    return items


def ceus_short(step, figures) -> tuple:
    """(hours still needed, [(domain, hours short)]) of a renewal step's progress figures: the
    larger of what the total lacks and what the domain minimums lack together (hours beyond a
    domain's minimum count towards the total, never towards another domain)."""
    have = float(figures.get("hours", 0))
    needed = float(figures.get("required", step.params.get("total") or 0))
    minimums = step.params.get("domains") or {}
    by_domain = [(name, float(minimum) - float(figures.get("domains", {}).get(name, 0)))
                 for name, minimum in minimums.items() if minimum]
    by_domain = [(name, lacking) for name, lacking in by_domain if lacking > 0]
    return max(needed - have, sum(lacking for _, lacking in by_domain)), by_domain


def _hours(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"
