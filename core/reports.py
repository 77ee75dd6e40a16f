"""The reports coordinators and state organizations ask for, registered like any plugin's.

Each report is `build(tracker, options) -> ReportResult`; options hold `start` and `end` dates
(the period; `end` defaults to today), `days` and `files` where a report uses them, and `peers`,
a PeerFilter (core.filters) of the peers counted, for the reports registered with
`filters_peers`. A peer is in the period when they entered the pipeline in it, the day a
filter's `since`/`until` bound too.
"""

import datetime as dt
import importlib
import json
from collections import Counter, defaultdict
from typing import Any

from .catalog import Report
from .entities import STAGES, Certification, Peer, SessionRecord, shift_date
from .values import ACTIVITY_GROUPINGS
from .errors import PeerpathError, PluginError, ValidationError
from .fidelity_scores import FIDELITY
from .recruitment import entered, stage_history_of, stage_of
from .retention import retention, retention_counts
from .reporting import DEFAULT_HORIZON, ReportResult, Table, median, merge_figures, percent, suppress_all
from .serialize import unreadable_refused
from .session import Service

PIPELINE = ("prospect", "contacted", "applied", "screened", "accepted")


def _in_period(day, options) -> bool:
    return (options["start"] is None or day >= options["start"]) and day <= options["end"]


def _cohort(tracker, options) -> list:
    """The stored documents (`Tracker.peer_documents`) of the peers the filter matches who
    entered the pipeline in the period: the reports count them without rebuilding them."""
    peers = tracker.peer_documents(where=options["peers"])
    with unreadable_refused(Peer, peers):
        return [p for p in peers if _in_period(entered(p), options)]


# --- funnel ------------------------------------------------------------------------------------


def funnel(tracker, options) -> ReportResult:
    """Counts per stage, conversion between stages, median days in each stage, by source and sector."""
    peers = _cohort(tracker, options)
    with unreadable_refused(Peer, peers):
        sector_of = tracker.recruited_sectors(peers)
        # Peers alike in stage, source, sector and the stages of their history, counted once a
        # kind (a state's 20,000 peers are a few hundred kinds), in the order the peers come.
        kinds = Counter((stage_of(p), p.get("source") or "unknown", sector_of[p["id"]] or "none",
                         tuple([change["stage"] for change in stage_history_of(p)])) for p in peers)
        durations = _days_in_stage(peers)
    current: Counter = Counter()
    reached: Counter = Counter()
    for (stage, _, _, history), count in kinds.items():
        current[stage] += count
        for passed in stages_reached(stage, history):
            reached[passed] += count
    by_source, by_sector = _by(kinds, 1), _by(kinds, 2)
    conversion = {f"{a}->{b}": percent(reached[b], reached[a]) for a, b in zip(PIPELINE, PIPELINE[1:])}
    figures = {
        "peers": len(peers),
        "by_stage": {stage: current[stage] for stage in STAGES},
        "reached": {stage: reached[stage] for stage in STAGES},
        "conversion_percent": conversion,
        "median_days_in_stage": {stage: median(durations[stage]) for stage in STAGES},
        "by_source": by_source,
        "by_sector": by_sector,
    }
    return ReportResult("funnel", "Recruitment funnel", [
        Table("stages", ["stage", "now", "ever reached", "median days in stage"],
              [[s, current[s], reached[s], median(durations[s])] for s in STAGES]),
        Table("conversion", ["from -> to", "percent"], list(conversion.items())),
        _breakdown("by source", "source", by_source),
        _breakdown("by sector", "sector", by_sector),
    ], figures, (options["start"], options["end"]))


def stages_reached(stage: str, history) -> set:
    """The stages a peer at `stage` whose history holds the stages `history` has been in: those
    and, as the pipeline is passed in order, every pipeline stage before the furthest one they
    reached (a peer recorded straight as accepted was screened too), so each conversion is a
    share of one cohort."""
    seen = {*history, stage}
    return seen.union(*([_PASSED[stage] for stage in seen if stage in _PASSED] or [PIPELINE[:1]]))


_PASSED = {stage: PIPELINE[:index + 1] for index, stage in enumerate(PIPELINE)}  # a stage, those up to it


def _days_in_stage(peers) -> defaultdict:
    """{stage: [days each stay in it lasted]}: from each of the peers' (stored documents') moves
    to the next stage."""
    durations = defaultdict(list)
    for history in [stage_history_of(peer) for peer in peers]:
        for this, following in zip(history, history[1:]):  # dates parsed only for a peer who moved on
            days = dt.date.fromisoformat(following["on"]) - dt.date.fromisoformat(this["on"])
            durations[this["stage"]].append(days.days)
    return durations


def _by(kinds, place) -> dict:
    """The funnel's `kinds` of peers ({(stage, source, sector, history): peers}) grouped by the
    part at `place` (1, source; 2, sector), each group's stages in the order the peers came."""
    groups: defaultdict[str, Counter] = defaultdict(Counter)
    for kind, count in kinds.items():
        groups[kind[place]][kind[0]] += count
    return {name: {"total": sum(c.values()), "accepted": c["accepted"],
                   "accepted_percent": percent(c["accepted"], sum(c.values())), **dict(c)}
            for name, c in sorted(groups.items())}


def _breakdown(title, label, groups) -> Table:
    return Table(title, [label, "peers", "accepted", "accepted %"],
                 [[name, g["total"], g["accepted"], g["accepted_percent"]] for name, g in groups.items()])


# --- leaders -----------------------------------------------------------------------------------


def leaders(tracker, options) -> ReportResult:
    """Leaders per program by status, new certifications, and retention over the period (as
    `report retention` counts it, core.retention)."""
    start = options["start"] or shift_date(options["end"], -365)
    end = options["end"]
    statuses = tracker.standings(where=options["peers"])
    kept = retention_counts(tracker, start, end, statuses)
    rows, figures = [], {}
    for program in tracker.catalog.programs:
        mine = [s for s in statuses if s.program.key == program]
        counts = Counter(s.status for s in mine)
        at_start, at_end = kept[program]["at_start"], kept[program]["at_end"]
        new = sum(1 for s in mine if s.certification and start < s.certification.granted <= end)
        retention_percent = percent(kept[program]["retained"], at_start)
        figures[program] = {**{k: counts[k] for k in ("certified", "in training", "on hold", "inactive", "lapsed")},
                            "new_certifications": new, "active_at_start": at_start,
                            "active_at_end": at_end, "retention_percent": retention_percent}
        rows.append([program, counts["certified"], counts["in training"], counts["on hold"],
                     counts["inactive"], counts["lapsed"], new, at_start, at_end, retention_percent])
    return ReportResult("leaders", "Leaders by program", [Table(
        "leaders", ["program", "certified", "in training", "on hold", "inactive", "lapsed",
                    "new", "active at start", "active at end", "retention %"], rows)],
        figures, (start, end))


# --- expiring ----------------------------------------------------------------------------------


def expiring(tracker, options) -> ReportResult:
    """Certifications lapsing within N days and what renewal each holder still lacks."""
    days = options["days"] if options["days"] is not None else tracker.core_setting("reports.expiring_days")
    found = tracker.leaders(expiring_within=days, where=options["peers"])
    rows, items = [], []
    for status in sorted(found, key=lambda s: s.certification.expires):
        renewal = status.renewal
        lacking = _lacking(renewal)
        items.append({"peer": status.peer.id, "name": status.peer.name, "program": status.program.key,
                      "pathway": status.pathway.key, "expires": status.certification.expires.isoformat(),
                      "days_left": (status.certification.expires - tracker.today).days,
                      "renewal": renewal.summary if renewal else None, "lacking": lacking})
        rows.append([status.peer.id, status.peer.name, status.pathway.key, items[-1]["expires"],
                     items[-1]["days_left"], renewal.summary if renewal else "no renewal rule"])
    return ReportResult("expiring", f"Certifications lapsing within {days} days", [
        Table("expiring", ["peer", "name", "pathway", "expires", "days left", "renewal so far"], rows),
    ], {"days": days, "expiring": items}, (tracker.today, shift_date(tracker.today, days)))


def _lacking(renewal) -> dict:
    """What is still missing of a renewal, from the step kind's figures."""
    if renewal is None or renewal.done:
        return {}
    figures = renewal.figures
    if "hours" in figures:
        return {"hours": max(0.0, figures["required"] - figures["hours"])}
    if "count" in figures:
        return {"count": max(0, figures["required"] - figures["count"])}
    return {"state": renewal.state}


# --- reach -------------------------------------------------------------------------------------


def reach(tracker, options) -> ReportResult:
    """Recruitment and outreach by sector and community; underserved communities highlighted.
    Peer filters choose the peers counted; a community or sector filter also the events."""
    peers = _cohort(tracker, options)
    sector_of = tracker.recruited_sectors(peers)
    underserved = tracker.underserved()
    events = [e for e in tracker.outreach_events(options["start"], options["end"])
              if options["peers"].matches_place(e.community, e.sector)]
    sectors: defaultdict[str, Counter] = defaultdict(Counter)
    communities: defaultdict[str, Counter] = defaultdict(Counter)
    with unreadable_refused(Peer, peers):
        for peer in peers:
            sector, community = sector_of[peer["id"]] or "none", peer.get("community") or "unknown"
            accepted = stage_of(peer) == "accepted"
            sectors[sector]["recruited"] += 1
            sectors[sector]["accepted"] += accepted
            communities[community]["recruited"] += 1
            communities[community]["accepted"] += accepted
    for event in events:
        sectors[event.sector or "none"]["events"] += 1
        sectors[event.sector or "none"]["reached"] += event.reached
        communities[event.community or "unknown"]["events"] += 1
        communities[event.community or "unknown"]["reached"] += event.reached
    fields = ("recruited", "accepted", "events", "reached")
    by_sector = {name: {f: c[f] for f in fields} for name, c in sorted(sectors.items())}
    by_community = {name: {**{f: c[f] for f in fields}, "underserved": name.lower() in underserved}
                    for name, c in sorted(communities.items())}
    return ReportResult("reach", "Recruitment and outreach reach", [
        Table("by sector", ["sector", *fields], [[n, *(v[f] for f in fields)] for n, v in by_sector.items()]),
        Table("by community", ["community", *fields, "underserved"],
              [[n, *(v[f] for f in fields), "UNDERSERVED" if v["underserved"] else ""]
               for n, v in by_community.items()]),
    ], {"by_sector": by_sector, "by_community": by_community}, (options["start"], options["end"]))


# --- rollup ------------------------------------------------------------------------------------


def rollup(tracker, options) -> ReportResult:
    """Figures with no personal data for the state organization; small counts suppressed.

    With files, merges several affiliates' rollups (JSON from `report rollup --json`) instead.
    """
    threshold = tracker.core_setting("rollup.suppress_below")
    if options["files"]:
        return _merged(options["files"], threshold)
    figures = _rollup_figures(tracker, options)
    with tracker.reading(missing_ok=True) as tx:
        affiliate = tx.meta.get("affiliate") or tracker.store.name
    return _rollup_result([affiliate], suppress_all(figures, threshold), threshold,
                          (options["start"], options["end"]))


def _rollup_figures(tracker, options) -> dict:
    peers = _cohort(tracker, options)
    sector_of = tracker.recruited_sectors(peers)
    with unreadable_refused(Peer, peers):  # (stage, sector) pairs in the order the peers come
        recruited = Counter((stage_of(p), sector_of[p["id"]] or "none") for p in peers)
    stages: Counter = Counter()
    sectors: Counter = Counter()
    for (stage, sector), count in recruited.items():
        stages[stage] += count
        sectors[sector] += count
    figures: dict[str, Any] = {
        "recruited_by_stage": {s: stages[s] for s in STAGES},
        "recruited_by_sector": dict(sectors),
        "leaders": {},
        "offerings": {},
        "sessions": {},
        "attendance": {},
    }
    statuses = tracker.standings()
    leaders = Counter((s.program.key, s.status) for s in statuses)
    new = Counter(s.program.key for s in statuses if s.certification and _in_period(s.certification.granted, options))
    with tracker.reading() as tx:
        # Counts of a few fields each: from the stored documents, without rebuilding them.
        offerings = Counter(document["program"] for document in tx.all("offerings"))
        sessions = tx.all("sessions")
        held: Counter = Counter()  # sessions of each program in the period
        attendance: Counter = Counter()
        with unreadable_refused(SessionRecord, sessions):
            for d in sessions:
                if _in_period(dt.date.fromisoformat(d["on"]), options):
                    held[d["program"]] += 1
                    attendance[d["program"]] += d.get("attendance") or 0
        enrolled = {document["peer_id"] for document in tx.all("enrollments")}
    for program in tracker.catalog.programs:
        figures["leaders"][program] = {
            **{k: leaders[program, k] for k in ("certified", "in training", "on hold", "inactive", "lapsed")},
            "new_certifications": new[program],
        }
        figures["offerings"][program] = offerings[program]
        figures["sessions"][program] = held[program]
        figures["attendance"][program] = attendance[program]
    reached: Counter = Counter()
    for event in tracker.outreach_events(options["start"], options["end"]):
        reached[event.sector or "none"] += event.reached
    figures["outreach_reached"] = dict(reached)
    figures["volunteers_enrolled"] = len(enrolled)
    return figures


def _rollup_result(affiliates, figures, threshold, period) -> ReportResult:
    figures = {"affiliates": affiliates, "suppressed_below": threshold, **figures}
    rows = []
    for section, values in figures.items():
        if isinstance(values, dict):
            for key, value in values.items():
                if isinstance(value, dict):
                    rows += [[section, f"{key} {sub}", cell] for sub, cell in value.items()]
                else:
                    rows.append([section, key, value])
        elif section != "affiliates":
            rows.append([section, "", values])
    title = "State rollup" if len(affiliates) > 1 else f"Rollup for {affiliates[0]}"
    return ReportResult("rollup", title, [Table("rollup", ["section", "figure", "value"], rows)],
                        figures, period)


def _merged(files, threshold) -> ReportResult:
    """Several affiliates' rollups of one period merged; the same affiliate twice (which would
    count it twice) or rollups of different periods are refused."""
    documents = [_read_rollup(path) for path in files]
    seen: dict = {}
    period = (documents[0]["from"], documents[0]["to"])
    for path, document in zip(files, documents):
        if (document["from"], document["to"]) != period:
            raise ValidationError(f"{path} covers {_period_text(document['from'], document['to'])} but {files[0]} "
                                  f"covers {_period_text(*period)}: merge rollups of one period")
        for name in document["figures"].get("affiliates", []):
            if name in seen:
                raise ValidationError(f"{path} counts '{name}' again (already in {seen[name]}): "
                                      "merge each affiliate once")
            seen[name] = path
    parts = [{k: v for k, v in d["figures"].items() if k not in ("affiliates", "suppressed_below")}
             for d in documents]
    dates = tuple(dt.date.fromisoformat(day) if day else None for day in period)
    return _rollup_result(list(seen), merge_figures(parts, threshold), threshold, dates)


def _read_rollup(path) -> dict:
    """A rollup written by `report rollup --json`: its figures, the affiliates and the period."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        if not isinstance(document["figures"]["affiliates"], list):
            raise TypeError("affiliates")
        for day in (document["from"], document["to"]):
            if day is not None:
                dt.date.fromisoformat(day)
    except OSError as error:
        raise ValidationError(f"cannot read {path}: {error.strerror}") from None
    except (ValueError, KeyError, TypeError):
        raise ValidationError(f"{path} is not a rollup from 'peerpath report rollup --json'") from None
    return document


def _period_text(start, end) -> str:
    return f"{start or 'the beginning'} to {end or 'today'}"


def _run_from(module: str, function: str):
    """The build function `function` of core.`module`, imported when the report runs: every
    command builds the catalog, which lists the reports, and most run none of them."""
    def build(tracker, options) -> ReportResult:
        return getattr(importlib.import_module(f".{module}", __package__), function)(tracker, options)

    build.__name__ = build.__qualname__ = function
    return build


REPORTS = (
    Report("funnel", "Counts per stage, conversion, median days in stage, by source and sector.", funnel,
           filters_peers=True),
    Report("leaders", "Leaders per program by status, new certifications, retention.", leaders,
           filters_peers=True),
    Report("capacity", "Offerings short of trained leaders; programs with no one in training; a forecast "
           "over --horizon days (90) of shortfalls and who can fill them.", _run_from("forecast", "capacity"),
           horizon=DEFAULT_HORIZON),
    Report("expiring", "Certifications lapsing within N days and renewal still lacking.", expiring,
           filters_peers=True),
    Report("reach", "Recruitment and outreach by sector and community (underserved marked).", reach,
           filters_peers=True),
    Report("rollup", "Figures without personal data for the state; --merge combines affiliates.", rollup),
    FIDELITY,
    Report("activity", "Volunteer hours, talks, speakers and stipends (--by peer, program, month or "
           "community); presenters short of their yearly presentations.", _run_from("activity", "activity_report"),
           groupings=ACTIVITY_GROUPINGS),
    Report("retention", "Per program: (leaders active at end - new) / active at start.", retention),
    Report("graduates", "Graduates of each program's completed offerings, and how many became leaders, "
           "of what.", _run_from("graduates", "graduates_report")),
    Report("equity", "Leaders and prospects by community and language against those served "
           "(equity.communities, equity.languages); under-served marked.", _run_from("equity", "equity")),
)


class Reports(Service):
    """Running registered reports (a Tracker service)."""

    def report(self, name, start=None, end=None, days=None, files=(), where=None, by=None,
               horizon=None) -> ReportResult:
        """Report `name` over the period `start`..`end` of the peers `where` (a PeerFilter) matches,
        grouped `by` one of the report's groupings, looking `horizon` days ahead."""
        report = self.tracker.catalog.report(name)
        if horizon is not None and report.horizon is None:
            ahead = sorted(r.name for r in self.tracker.catalog.reports.values() if r.horizon is not None)
            raise ValidationError(f"report '{name}' has no --horizon; the reports that do: {', '.join(ahead)}")
        if horizon is not None and not 0 <= horizon <= 36_500:
            raise ValidationError(f"--horizon must be from 0 to 36500 days, not {horizon}")
        if by is not None and not report.groupings:
            grouped = sorted(r.name for r in self.tracker.catalog.reports.values() if r.groupings)
            raise ValidationError(f"report '{name}' has no --by; the reports that do: {', '.join(grouped)}")
        if by is not None and by.strip().lower() not in report.groupings:
            raise ValidationError(f"--by must be one of {', '.join(report.groupings)}, not '{by}'")
        where = self.tracker.check_filter(where)
        if where.given() and not report.filters_peers:
            counting = sorted(r.name for r in self.tracker.catalog.reports.values() if r.filters_peers)
            raise ValidationError(f"report '{name}' does not filter peers (by {where.describe()}); "
                                  f"the reports that do: {', '.join(counting)}")
        start, end = self.tracker.read_date(start or None), self.tracker.read_date(end or None) or self.tracker.today
        if start is not None and start > end:
            raise ValidationError(f"--from {start} is after --to {end}")
        if days is not None and days < 0:
            raise ValidationError("--days must be 0 or more")
        if files and name != "rollup":
            raise ValidationError("only 'rollup' merges files")
        options = {"start": start, "end": end, "days": days, "files": list(files), "peers": where,
                   "horizon": horizon if horizon is not None else report.horizon,
                   "by": by.strip().lower() if by is not None else (report.groupings[0] if report.groupings else None)}
        try:
            return report.build(self.tracker, options)
        except PeerpathError:
            raise
        except Exception as error:  # a plugin's report must not crash the command
            raise PluginError(self.tracker.catalog.owners[("reports", name)], f"report '{name}'", error) from error
