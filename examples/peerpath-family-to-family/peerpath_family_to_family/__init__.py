"""NAMI Family-to-Family for peerpath: family-member teachers, the eight-session class and its
fidelity checklist, a report of classes, a command listing teachers ready to be paired, and a
note on each newly certified teacher's record.

Every number below is a default an affiliate can change, e.g.
`peerpath config set family_to_family.training.days 2`.
"""

import json

import click

from peerpath.core import (Band, Checklist, ChecklistItem, DigestItem, Pathway, ProgramModel, Report, ReportResult, Role, Step,
                  Table, Tracker, hookimpl)

PATHWAY = Pathway(
    key="family_to_family",
    title="Family-to-Family teacher",
    steps=[
        Step("affiliate_interview", "Affiliate interview", "screening"),
        Step("fidelity_agreement", "Fidelity agreement signed", "attestation", requires=["affiliate_interview"]),
        # The 2.5-day intensive runs Friday evening to Sunday: three days attended.
        Step("training", "Intensive teacher training (2.5 days)", "training", {"days": 3},
             requires=["fidelity_agreement"]),
        Step("co_teach", "Co-taught a full class", "count",
             {"min": 8, "counts": "sessions", "unit": "class sessions"}, requires=["training"]),
        Step("observed_class", "Observed class session meets fidelity", "observation",
             {"min_percent": 80, "checklist": "f2f_class"}, requires=["training"], optional=True),
    ],
)

PROGRAM = ProgramModel(
    key="family_to_family",
    title="NAMI Family-to-Family",
    description="Eight-session class for family members, partners and friends of adults living "
                "with a mental health condition, taught by trained family members.",
    roles=[Role("teacher", "Teacher", pathway="family_to_family")],
    pathways=[PATHWAY],
    format={"sessions": 8, "leaders_per_offering": 2,
            "first_observation_within_days": 90, "observation_interval_days": 365},
    leader_requirements={"lived_experience": ("family", "both")},
)

CLASS_CHECKLIST = Checklist(
    key="f2f_class",
    program="family_to_family",
    title="Family-to-Family class session",
    version="1.0",
    items=[
        ChecklistItem("two_teachers", "Two trained family-member teachers present", critical=True),
        ChecklistItem("on_time", "Started and ended on time (2.5 hours)"),
        ChecklistItem("confidentiality", "Confidentiality statement made", critical=True),
        ChecklistItem("curriculum", "Session taught from the teacher manual as written", type="rating",
                      weight=2, critical=True, anchors={"1": "improvised", "5": "every section as written"}),
        ChecklistItem("family_story", "Teachers shared their own family experience"),
        ChecklistItem("participation", "Every participant invited to take part", type="rating",
                      allow_insufficient=True, anchors={"1": "lecture only", "5": "everyone took part"}),
        ChecklistItem("no_advice", "No medical advice; no treatment endorsed", critical=True),
    ],
    bands=[Band("good", 80), Band("fair", 60), Band("not supported", 0)],
    pass_band="good",
)


@hookimpl
def register_programs(register):
    register(PROGRAM)


@hookimpl
def register_checklists(register):
    register(CLASS_CHECKLIST)


def classes_report(tracker, options):
    """Each class with its teachers and how many of its eight sessions have been held."""
    planned = tracker.overrides().get("family_to_family.format.sessions", PROGRAM.format["sessions"])
    rows = []
    for offering in tracker.offerings("family_to_family"):
        held = [s for s in tracker.sessions(offering.id)
                if (options["start"] is None or s.on >= options["start"]) and s.on <= options["end"]]
        rows.append([offering.id, offering.name, ", ".join(offering.leaders), len(held), planned])
    figures = {"classes": len(rows), "sessions_held": sum(row[3] for row in rows)}
    return ReportResult("f2f_classes", "Family-to-Family classes",
                        [Table("Classes", ["offering", "name", "teachers", "sessions held", "of"], rows)],
                        figures, (options["start"], options["end"]))


@hookimpl
def register_reports(register):
    register(Report("f2f_classes", "Family-to-Family classes and sessions held", classes_report))


@hookimpl
def register_commands(cli):
    @cli.command(name="f2f-ready")
    @click.option("--json", "as_json", is_flag=True, help="Output JSON.")
    def f2f_ready(as_json):
        """Trained Family-to-Family teachers still to co-teach a full class: pair them up.

        Examples:

        \b
          peerpath f2f-ready
          peerpath f2f-ready --json
        """
        tracker = click.get_current_context().find_object(Tracker)
        ready = [s for s in tracker.leaders(program="family_to_family")
                 if _done(s, "training") and not _done(s, "co_teach")]
        if as_json:
            click.echo(json.dumps([{"peer": s.peer.id, "name": s.peer.name} for s in ready]))
            return
        for status in ready:
            click.echo(f"{status.peer.id}  {status.peer.name}")


@hookimpl
def digest_items(tracker, role, peer_id):
    """Remind trainers and coordinators (and the teacher) of trained teachers still to co-teach a
    full class: pairing them up is what certifies them."""
    if role not in ("coordinator", "trainer", "leader"):
        return None
    return [DigestItem("Family-to-Family", 0, f"{s.peer.id} {s.peer.name}: trained, still to co-teach a full "
                       "class: pair them with a class", peer=s.peer.id, key=f"f2f-ready:{s.peer.id}")
            for s in tracker.leaders(program="family_to_family")
            if _done(s, "training") and not _done(s, "co_teach") and peer_id in (None, s.peer.id)]


def _done(status, step_key: str) -> bool:
    return any(state.step.key == step_key and state.progress.done for state in status.steps)


@hookimpl
def certification_granted(certification, tracker):
    """Note on the new teacher's record, for the coordinator, that they may now lead classes."""
    if certification.program != "family_to_family":
        return
    peer = tracker.peer(certification.peer_id)
    note = f"{certification.granted}: certified Family-to-Family teacher, may lead classes"
    tracker.edit_peer(peer.id, notes="\n".join(filter(None, [peer.notes, note])))
