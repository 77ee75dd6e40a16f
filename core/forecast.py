"""`report capacity`: offerings short of leaders now, and a forecast over the next `--horizon`
days (default 90) of who will still lead them, when each falls short, and who can fill it.

For each offering still planned or running, the leaders its model needs (the program's
`leaders_per_offering`) are compared with its leaders who are certified and active (not on hold,
inactive or lapsed) and stay so through the days it runs within the horizon: a certification
that expires in it (a credential not renewed, or a commitment such as Peer-to-Peer's courses in
24 months not met) ends that leader's days. The first day the active leaders drop below the need
is the offering's shortfall date (for a planned offering, at the earliest its first day).

Who can fill a shortfall, in the order a coordinator would ask:
- other certified leaders of the program, active through the horizon, not leading it;
- trainees of the program expected to certify: those whose only required step missing is the
  training, by the last day of the next training of the program still to come (core.trainings:
  one they are on the roster of, else the first with a seat), in time when that is on or before
  the shortfall date; trainees still missing other steps are listed with what they miss;
- leaders of the program on hold, inactive or lapsed, with what making them active asks;
- peers furthest along the recruitment pipeline not enrolled in any program (speaking the
  offering's language when it has one), the first few;
- then recruitment: how many peers to recruit (the shortfall less the trainees expected in
  time), speaking the offering's language when it has one, and where: the source, sector and
  community that gave the most of the program's last leaders (`recent` of them), and each
  source's yield (peers who came from it, and how many became leaders of the program).
"""

import datetime as dt
from collections import Counter, defaultdict

import attrs

from .entities import shift_date
from .filters import loose
from .reporting import DEFAULT_HORIZON, ReportResult, Table, percent
from .trainings import Trainings

RECENT_LEADERS = 5  # "gave 3 of your last 5 leaders"
INACTIVE = ("on hold", "inactive", "lapsed")


def capacity(tracker, options) -> ReportResult:
    """Offerings short of certified, active leaders now; programs with no one in training; and
    the forecast over the horizon (see the module's docstring)."""
    today = tracker.today
    horizon = options.get("horizon")
    horizon = DEFAULT_HORIZON if horizon is None else horizon
    until = shift_date(today, horizon)
    statuses = tracker.leaders()
    programs = tracker.catalog.programs
    by_program = defaultdict(list)
    for status in statuses:
        by_program[status.program.key].append(status)
    certified = {(s.peer.id, s.program.key): s for s in statuses if s.status == "certified"}
    offerings = [o for o in tracker.offerings() if o.open_on(today)]
    short = []
    for offering in offerings:
        needed = _needed(programs[offering.program])
        trained = [p for p in offering.leaders if (p, offering.program) in certified]
        if len(trained) < needed:
            short.append({"offering": offering.id, "name": offering.name, "program": offering.program,
                          "needed": needed, "trained_active": len(trained)})
    in_training = Counter(s.program.key for s in statuses if s.status == "in training")
    empty = [key for key in programs if not in_training[key]]

    peers = {p.id: p for p in tracker.peers()}
    ahead = _Ahead(today=today, until=until, certified=certified, by_program=by_program,
                   planned=[t for t in Trainings(tracker).trainings() if not t.closed and t.on >= today],
                   peers=peers, sectors=tracker.recruited_sectors(tracker.peer_documents()),
                   enrolled={s.peer.id for s in statuses})
    forecast = [_forecast(offering, programs[offering.program], ahead) for offering in offerings]
    tables = [
        Table("offerings short of leaders", ["offering", "name", "program", "needed", "trained and active"],
              [list(s.values()) for s in short]),
        Table("programs with no leader in training", ["program"], [[key] for key in empty]),
        Table(f"forecast to {until} ({horizon} days)",
              ["offering", "name", "program", "status", "from", "needed", "active now", "active through",
               "short", "short from"],
              [[f["offering"], f["name"], f["program"], f["status"], f["from"], f["needed"], f["active_now"],
                f["active_through"], f["short"], f["short_from"] or ""] for f in forecast]),
        Table("leaders lapsing within the horizon", ["offering", "peer", "name", "active until", "why"],
              [[f["offering"], x["peer"], x["name"], x["until"], x["why"]] for f in forecast for x in f["lapsing"]]),
        Table("who can fill a shortfall", ["offering", "who", "peer", "name", "when or what"],
              [[f["offering"], c["kind"], c["peer"], c["name"], c["note"]] for f in forecast for c in f["fill"]]),
        Table("where to recruit", ["offering", "program", "recruit", "suggestion"],
              [[f["offering"], f["program"], f["recruit"]["peers"], f["recruit"]["text"]]
               for f in forecast if f["recruit"]]),
        Table("recruitment yield", ["program", "source", "sector", "community", "peers", "leaders", "yield %"],
              [[key, y["source"], y["sector"], y["community"], y["peers"], y["leaders"], y["yield_percent"]]
               for key in sorted({f["program"] for f in forecast if f["short"]})
               for y in ahead.yields(key)]),
    ]
    figures = {"short_offerings": short, "no_leader_in_training": empty,
               "in_training": {key: in_training[key] for key in programs},
               "horizon_days": horizon, "until": until.isoformat(), "forecast": forecast}
    return ReportResult("capacity", "Leader capacity", tables, figures, (None, options["end"]))


def _needed(program) -> int:
    return int(program.format.get("leaders_per_offering", 1))


def _active_until(status):
    """The last day a certified leader is active, as their certification stands (None: no end)."""
    return status.certification.expires if status.certification is not None else None


@attrs.define
class _Ahead:
    """What every offering's forecast reads: the dates, the program's leaders, the trainings
    still to come, the peers and where they came from; each program's source yield worked out
    once, when a forecast first asks for it."""

    today: dt.date
    until: dt.date
    certified: dict  # {(peer id, program key): certified LeaderStatus}
    by_program: dict  # {program key: [LeaderStatus]}
    planned: list  # trainings still to come
    peers: dict  # {peer id: Peer}
    sectors: dict  # {peer id: the sector of the outreach event they came from}
    enrolled: set  # ids of the peers enrolled in any program
    _yields: dict = attrs.field(factory=dict)
    _prospects: dict = attrs.field(factory=dict)
    _fillers: dict = attrs.field(factory=dict)

    def yields(self, program_key) -> list:
        if program_key not in self._yields:
            self._yields[program_key] = source_yield(self.by_program[program_key], self.peers, self.sectors)
        return self._yields[program_key]

    def fillers(self, program, short_from, last) -> list:
        """Who could fill a shortfall of `program` from `short_from` to `last` (`_fillers`),
        worked out once for the offerings short over the same days."""
        key = (program.key, short_from, last)
        if key not in self._fillers:
            self._fillers[key] = _fillers(program, self.by_program[program.key], self.planned, short_from, last)
        return self._fillers[key]

    def prospects(self, language) -> list:
        """The first to ask to train (see `_prospects`) for an offering in `language` (None: any)."""
        if language not in self._prospects:
            self._prospects[language] = _prospects(language, self.enrolled, self.peers)
        return self._prospects[language]


def _forecast(offering, program, ahead: _Ahead) -> dict:
    needed = _needed(program)
    first = max(ahead.today, offering.started or ahead.today)
    last = min(ahead.until, offering.ended or ahead.until)
    mine = [ahead.certified[(p, offering.program)] for p in offering.leaders
            if (p, offering.program) in ahead.certified]
    ends = {s.peer.id: _active_until(s) for s in mine}
    lapsing = [{"peer": s.peer.id, "name": s.peer.name, "until": ends[s.peer.id].isoformat(),
                "why": f"{s.pathway.lapse_reason} unless renewed"
                       + (f" (renewal so far: {s.renewal.summary})" if s.renewal and s.renewal.summary else "")}
               for s in mine if ends[s.peer.id] is not None and ends[s.peer.id] < last]
    short, short_from, through = 0, None, len(mine)
    if first <= last:
        days = sorted({first} | {shift_date(end, 1) for end in ends.values() if end is not None and first < shift_date(end, 1) <= last})
        for day in days:
            active = sum(1 for end in ends.values() if end is None or end >= day)
            if active < needed and short_from is None:
                short_from = day
            short = max(short, needed - active)
        through = sum(1 for end in ends.values() if end is None or end >= last)
    result = {"offering": offering.id, "name": offering.name, "program": offering.program, "status": offering.status,
              "from": first.isoformat(), "to": last.isoformat(), "cadence": offering.cadence,
              "language": offering.language, "needed": needed, "active_now": len(mine), "active_through": through,
              "short": short, "short_from": short_from.isoformat() if short_from else None,
              "lapsing": lapsing, "fill": [], "recruit": None}
    if short:
        result["fill"] = [c for c in ahead.fillers(program, short_from, last)
                          if not (c["kind"] == "leader" and c["peer"] in offering.leaders)] \
            + ahead.prospects(offering.language)
        expected = sum(1 for c in result["fill"] if c["kind"] == "trainee" and c["in_time"])
        result["recruit"] = _recruit(offering, program, max(0, short - expected), ahead)
    return result


def _fillers(program, statuses, planned, short_from, last) -> list:
    """Who could fill a shortfall of the program's offering (see the module's docstring); its own
    leaders among them are for the caller to leave out."""
    found = []
    for status in statuses:
        end = _active_until(status)
        if status.status == "certified":
            if end is None or end >= last:
                found.append(_candidate("leader", status, "certified, active through the horizon"))
        elif status.status == "in training":
            found.append(_trainee(status, program, planned, short_from))
        elif status.status in INACTIVE:
            found.append(_candidate(status.status, status, _to_reactivate(status)))
    order = {"leader": 0, "trainee": 1, "on hold": 2, "inactive": 2, "lapsed": 2}
    return sorted(found, key=lambda c: (order[c["kind"]], not c["in_time"], c["expected"] or "9999", c["peer"]))


IN_PIPELINE = ("accepted", "screened", "applied", "contacted", "prospect")  # furthest first
PROSPECTS_LISTED = 3


def _prospects(language, enrolled, peers) -> list:
    """The peers furthest along the recruitment pipeline not enrolled in any program (speaking
    `language`, an offering's, when given): the first to ask to train for it."""
    found = [p for p in peers.values() if p.stage in IN_PIPELINE and p.id not in enrolled and not p.erased
             and (not language or any(loose(x) == loose(language) for x in p.languages))]
    found.sort(key=lambda p: (IN_PIPELINE.index(p.stage), p.id))
    speaks = f", speaks {language}" if language else ""
    return [{"kind": "prospect", "peer": p.id, "name": p.name, "note": f"{p.stage}{speaks}, in no program yet",
             "expected": None, "in_time": False} for p in found[:PROSPECTS_LISTED]]


def _candidate(kind, status, note, expected=None, in_time=False) -> dict:
    return {"kind": kind, "peer": status.peer.id, "name": status.peer.name, "note": note,
            "expected": expected, "in_time": in_time}


def _trainee(status, program, planned, short_from) -> dict:
    missing = [s.step for s in status.steps if not s.step.optional and not s.progress.done]
    training_steps = [s for s in missing if s.kind == "training"]
    others = [s.key for s in missing if s.kind != "training"]
    trainings = [t for t in planned if t.program == program.key]
    training = next((t for t in trainings if status.peer.id in t.roster), None) or \
        next((t for t in trainings if t.seats_left is None or t.seats_left > 0), None)
    if not training_steps:
        return _candidate("trainee", status, f"missing: {', '.join(others) or 'nothing'}")
    if training is None:
        need = f"missing: {', '.join(others + [s.key for s in training_steps])}"
        return _candidate("trainee", status, f"{need}; no {program.key} training planned "
                                             f"(peerpath training add {program.key} --on DATE)")
    day = training.until or training.on
    if others:
        return _candidate("trainee", status, f"if {', '.join(others)} done before {training.id} on {training.on}: "
                                             f"certified {day}")
    in_time = short_from is not None and day <= short_from
    when = "in time" if in_time else "after the shortfall begins"
    return _candidate("trainee", status, f"expected certified {day} at {training.id} ({when})",
                      expected=day.isoformat(), in_time=in_time)


def _to_reactivate(status) -> str:
    program, peer = status.program.key, status.peer.id
    if status.status == "on hold" or (status.status == "inactive" and status.enrollment.hold == "inactive"):
        return f"{status.status} by hand: peerpath status {peer} {program} active"
    rule = status.pathway.reactivation or status.pathway.renewal
    redo = f"redo '{rule.key}' ({rule.title}), then " if rule is not None else ""
    return f"{status.status} ({status.reason or status.pathway.lapse_reason}): {redo}peerpath reactivate {peer} {program}"


def _recruit(offering, program, count, ahead: _Ahead):
    """How many to recruit and where, or None when trainees expected in time fill the shortfall."""
    if count == 0:
        return None
    who = f"{offering.language}-speaking peer" if offering.language else "peer"
    text = f"recruit {count} {who}{'s' if count > 1 else ''} for {program.title}"
    best = recent_sources(ahead.by_program[program.key], ahead.peers, ahead.sectors, language=offering.language)
    if best:
        text += f"; {best['text']}"
    yields = ahead.yields(program.key)
    if yields:
        top = yields[0]
        text += (f"; best yield: {top['source']}" + (f" in {top['community']}" if top["community"] else "")
                 + f", {top['leaders']} leader(s) of {top['peers']} peer(s)")
    return {"peers": count, "language": offering.language, "recent": best, "text": text}


def _leaders_of(statuses) -> list:
    """The program's leaders ever certified (whatever their status now), latest first."""
    led = [s for s in statuses if s.certification is not None]
    return sorted(led, key=lambda s: (s.certification.granted, s.peer.id), reverse=True)


def _origin(peer, sectors) -> tuple[str, str, str]:
    return (peer.source or "unknown", sectors.get(peer.id) or "", peer.community or "")


def recent_sources(statuses, peers, sectors, language=None, recent=RECENT_LEADERS):
    """Where the program's last `recent` leaders came from: the source, sector and community
    that gave the most of them ("hospital talk (health) in Cicero gave 3 of your last 5
    leaders"); with `language`, of the leaders who speak it when there are any."""
    leaders = [s for s in _leaders_of(statuses) if s.peer.id in peers]
    if language:
        speaking = [s for s in leaders if any(loose(x) == loose(language) for x in peers[s.peer.id].languages)]
        leaders = speaking or leaders
        language = language if speaking else None
    last = leaders[:recent]
    if not last:
        return None
    counts = Counter(_origin(peers[s.peer.id], sectors) for s in last)
    (source, sector, community), n = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0]
    where = source + (f" ({sector})" if sector else "") + (f" in {community}" if community else "")
    who = f"{language}-speaking leaders" if language else "leaders"
    return {"source": source, "sector": sector or None, "community": community or None, "leaders": n,
            "of": len(last), "text": f"{where} gave {n} of your last {len(last)} {who}"}


def source_yield(statuses, peers, sectors) -> list:
    """Per source, sector and community: the peers who came from it and how many became
    leaders of the program (certified, whatever their status now), most leaders first."""
    leaders = {s.peer.id for s in _leaders_of(statuses)}
    groups: defaultdict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for peer in peers.values():
        if peer.erased:
            continue
        group = groups[_origin(peer, sectors)]
        group[0] += 1
        group[1] += peer.id in leaders
    rows = [{"source": s, "sector": sector or None, "community": c or None, "peers": n, "leaders": led,
             "yield_percent": percent(led, n)} for (s, sector, c), (n, led) in groups.items()]
    return sorted((r for r in rows if r["leaders"]),
                  key=lambda r: (-r["leaders"], -(r["yield_percent"] or 0), r["source"], r["community"] or ""))
