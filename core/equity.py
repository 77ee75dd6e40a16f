"""Equity (`report equity`): leaders and prospects by community and by language, against the
communities and languages the affiliate says it serves, so that those without leaders show.

The affiliate lists them in the settings `equity.communities` and `equity.languages` (lists,
no default: peerpath cannot know whom an affiliate serves). A community or language served is
under-served when fewer than `equity.min_leaders` active leaders (peerpath's own default, 1: no
program publishes a figure) come from it or speak it; a community marked underserved by hand
(`peerpath communities mark`) is under-served too. Names are compared ignoring case, accents
and spacing (`cicero` is Cicero). Every other community or language seen on a peer is listed
as well, so nothing counted is hidden.

Prospects are peers still in the recruitment pipeline before acceptance (prospect, contacted,
applied, screened); in training are peers enrolled in a program and not yet active in any;
leaders are peers active (certified, not held, see core.retention) in at least one program on
the report's day (--to, default today).
"""

from collections import defaultdict

from .entities import Certification, Enrollment
from .errors import ValidationError
from .filters import PeerFilter, loose
from .reporting import ReportResult, Table, percent
from .retention import active_on

PROSPECT_STAGES = ("prospect", "contacted", "applied", "screened")
FIELDS = ("prospects", "in training", "leaders")


def _roles(tracker, day) -> dict:
    """{peer id: "leader" | "in training"} for every enrolled peer, as of `day`."""
    with tracker.reading():
        certifications = {c.enrollment_id: c for c in tracker.load_all("certifications", Certification)}
        enrollments = [e for e in tracker.load_all("enrollments", Enrollment) if e.program in tracker.catalog.programs]
    roles = {}
    for enrollment in enrollments:
        if enrollment.started > day:
            continue
        if active_on(certifications.get(enrollment.id), enrollment, day):
            roles[enrollment.peer_id] = "leader"
        else:
            roles.setdefault(enrollment.peer_id, "in training")
    return roles


def stage_on(peer, day):
    """The peer's recruitment stage on `day` (from their stage history), or None before it."""
    past = [change for change in peer.stage_history if change.on <= day]
    if past:
        return past[-1].stage
    return None if peer.stage_history else peer.stage


def _tally(names_of, peers, roles, served, marked, min_leaders, day) -> dict:
    """{name: {prospects, in training, leaders, served, underserved}} over the names served and
    those seen on peers."""
    rows: defaultdict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIELDS, 0))
    shown: dict = {}
    for name in served:
        shown.setdefault(loose(name), name)
        rows[loose(name)]
    for peer in peers:
        role = roles.get(peer.id) or ("prospects" if stage_on(peer, day) in PROSPECT_STAGES else None)
        if role == "leader":
            role = "leaders"
        for name in names_of(peer):
            shown.setdefault(loose(name), name)
            if role is not None:
                rows[loose(name)][role] += 1
    served_keys = {loose(name) for name in served}
    result = {}
    for key, counts in sorted(rows.items(), key=lambda item: shown[item[0]].lower()):
        is_served = key in served_keys
        short = is_served and min_leaders is not None and counts["leaders"] < min_leaders
        result[shown[key]] = {**counts, "served": is_served, "marked": key in marked,
                              "underserved": bool(short or key in marked)}
    return result


def equity(tracker, options) -> ReportResult:
    """Leaders, trainees and prospects by community and by language against those served."""
    if options["start"] is not None:
        raise ValidationError("equity counts the peers as of --to (default today): drop --from")
    day = options["end"]
    communities = tracker.core_setting("equity.communities") or []
    languages = tracker.core_setting("equity.languages") or []
    min_leaders = tracker.core_setting("equity.min_leaders")
    peers = tracker.peers(where=PeerFilter(until=day))  # those who had entered the pipeline by then
    roles = _roles(tracker, day)
    marked = {loose(name) for name in tracker.underserved()}
    by_community = _tally(lambda p: [p.community] if p.community else [], peers, roles, communities, marked,
                          min_leaders, day)
    by_language = _tally(lambda p: list(p.languages), peers, roles, languages, set(), min_leaders, day)
    leaders = sum(1 for role in roles.values() if role == "leader")
    tables = [_table("by community", "community", by_community, leaders, bool(communities)),
              _table("by language", "language", by_language, leaders, bool(languages))]
    unset = [key for key, value in (("equity.communities", communities), ("equity.languages", languages))
             if not value]
    if unset:
        tables.append(Table("settings to set", ["setting", "what it holds"],
                            [[key, "the " + key.split(".")[1] + " the affiliate serves, comma-separated"]
                             for key in unset]))
    figures = {"communities_served": list(communities), "languages_served": list(languages),
               "min_leaders": min_leaders, "leaders": leaders,
               "by_community": by_community, "by_language": by_language,
               "underserved_communities": [n for n, v in by_community.items() if v["underserved"]],
               "underserved_languages": [n for n, v in by_language.items() if v["underserved"]]}
    return ReportResult("equity", "Leaders and prospects against the communities served", tables, figures,
                        (None, day))


def _table(title, label, tally, leaders, listed) -> Table:
    rows = [[name, v["prospects"], v["in training"], v["leaders"], percent(v["leaders"], leaders),
             "yes" if v["served"] else ("" if listed else "not set"), "UNDER-SERVED" if v["underserved"] else ""]
            for name, v in tally.items()]
    return Table(title, [label, *FIELDS, "leaders %", "served", "under-served"], rows)
