"""Graduates of offerings as a recruitment source (`offering close --graduates`, `report
graduates`).

Most NAMI leaders are former participants: people who took a class or attended a group. When a
class or group is closed as completed, the coordinator records how many completed it (a count:
most graduates are never named here) and names those who consent to be contacted: a peer id
links a peer already known, a name adds a prospect who consented to contact. Either way the
peer's source is "graduate" and `graduate_of` is the offering, so the funnel (`report funnel
--source graduate`) counts them and `report graduates` follows them: how many graduates of
each program's offerings became leaders, and of which programs. Every change goes through the
tracker's write path (store_new, store_changed) in the close's one change.
"""

import re
from collections import Counter, defaultdict
from typing import Any

import attrs

from .entities import ENDED_STATUSES, Offering, Peer, _whole, id_order
from .errors import ValidationError
from .filters import PeerFilter
from .reporting import ReportResult, Table, percent

PEER_ID = re.compile(r"P\d+")


def check_graduate_source(tracker, offering_id, fields, before=None) -> None:
    """Refuse a `graduate_of` that is not a completed offering, or a source other than graduate
    for a graduate; set the source to graduate when none is given (`fields` is changed)."""
    offering_id = fields.get("graduate_of") or (before.graduate_of if before is not None else None)
    if fields.get("graduate_of"):
        offering = tracker.load("offerings", Offering, offering_id, "offering")
        if offering.status != "completed":
            raise ValidationError(f"{offering.id} is {offering.status}, not completed: only a completed "
                                  "offering has graduates (peerpath offering close)")
    source = fields.get("source", before.source if before is not None else None)
    if source in (None, "graduate"):
        fields["source"] = "graduate"
        return
    who = before.id if before is not None else "a graduate"
    raise ValidationError(f"{who} graduated from {offering_id}, so their source is 'graduate', not '{source}'")


def close_with_graduates(tracker, offering_id, on, cancelled, graduates, named) -> Offering:
    """Close an offering (see Fidelity.close_offering); returns the closed offering."""
    with tracker.changing():
        offering = tracker.offering(offering_id)
        if offering.status in ENDED_STATUSES:
            raise ValidationError(f"{offering_id} is already {offering.status} ({offering.ended})")
        day = tracker.read_date(on) or tracker.today
        tracker.check_not_future(day)
        named = _named(named)
        changes = {"status": "cancelled" if cancelled else "completed", "ended": day}
        if graduates is not None or named:
            if cancelled:
                raise ValidationError("a cancelled offering has no graduates: leave out --graduates and --graduate")
            count = len(named) if graduates is None else graduates
            _whole("--graduates", count)
            if count < 0:
                raise ValidationError("--graduates must not be negative")
            if count < len(named):
                raise ValidationError(f"--graduates {count} is fewer than the {len(named)} graduates named")
            changes["graduates"] = count
        closed = tracker.edit_offering(offering_id, **changes)
        for item in named:
            _add_graduate(tracker, closed, item, day)
    return closed


def _named(named) -> list:
    if isinstance(named, str):  # one graduate given on its own
        named = [named]
    items = [" ".join(str(item).split()) for item in (named or ())]
    items = [item for item in items if item]
    repeated = [item for item, n in Counter(items).items() if n > 1]
    if repeated:
        raise ValidationError(f"graduate '{repeated[0]}' is named twice")
    return items


def _add_graduate(tracker, offering, item, day) -> Peer:
    """Link peer `item` (an id) to the offering, or add a prospect named `item` who graduated."""
    if not PEER_ID.fullmatch(item):
        return tracker.add_peer(name=item, source="graduate", source_detail=offering.name, graduate_of=offering.id,
                                consent={"contact": True}, on=day)
    before = tracker.load("peers", Peer, item, "peer")
    if before.erased:
        raise ValidationError(f"{item} was erased: a graduate must be someone who can be contacted")
    if before.graduate_of:
        raise ValidationError(f"{item} is already a graduate of {before.graduate_of}")
    if before.source not in (None, "graduate"):
        raise ValidationError(f"{item} came from '{before.source}', not as a graduate: "
                              f"peerpath peer edit {item} --source graduate first if they did")
    after = attrs.evolve(before, graduate_of=offering.id, source="graduate",
                         source_detail=before.source_detail or offering.name)
    tracker.store_changed("peers", before, after, "graduate", peer_id=item, details={"offering": offering.id})
    return after


# --- report graduates ------------------------------------------------------------------------------


UNLINKED = "(no offering recorded)"


def graduates_report(tracker, options) -> ReportResult:
    """Per program: the completed offerings that ended in the period, their graduates (the
    counts recorded), those named, and how many of them became leaders, and of what."""
    start, end = options["start"], options["end"]
    programs = tracker.catalog.programs
    offerings = {o.id: o for o in tracker.offerings() if o.status == "completed" and o.ended
                 and (start is None or o.ended >= start) and o.ended <= end}
    peers = tracker.peers()
    # Graduates of no offering named, counted by when they entered the pipeline.
    unlinked = {p["id"] for p in tracker.peer_documents(where=PeerFilter(source="graduate", since=start, until=end))}
    statuses = defaultdict(list)
    for status in tracker.leaders():
        statuses[status.peer.id].append(status)
    groups: defaultdict[str, dict[str, Any]] = defaultdict(lambda: {
        "offerings": 0, "graduates": 0, "named": 0, "enrolled": 0, "leaders": 0, "leader_of": Counter()})
    for offering in offerings.values():
        group = groups[offering.program]
        group["offerings"] += 1
        group["graduates"] += offering.graduates or 0
    leaders = []
    for peer in peers:
        if peer.graduate_of in offerings:
            key = offerings[peer.graduate_of].program
        elif peer.id in unlinked and not peer.graduate_of:
            key = UNLINKED
        else:
            continue
        group = groups[key]
        group["named"] += 1
        mine = statuses.get(peer.id, [])
        group["enrolled"] += bool(mine)
        led = [s for s in mine if s.certification is not None]
        group["leaders"] += bool(led)
        for status in led:
            group["leader_of"][status.program.key] += 1
        if led:
            leaders.append({"peer": peer.id, "name": peer.name, "offering": peer.graduate_of, "from": key,
                            "leader_of": {s.program.key: s.status for s in led}})
    order = [key for key in programs if key in groups] + [key for key in groups if key not in programs]
    figures = {key: {**{k: v for k, v in groups[key].items() if k != "leader_of"},
                     "leaders_percent_of_named": percent(groups[key]["leaders"], groups[key]["named"]),
                     "leader_of": dict(sorted(groups[key]["leader_of"].items()))} for key in order}
    rows = [[key, g["offerings"], g["graduates"], g["named"], g["enrolled"], g["leaders"],
             g["leaders_percent_of_named"], _leader_of(g["leader_of"])] for key, g in figures.items()]
    leaders.sort(key=lambda item: id_order(item["peer"]))
    return ReportResult("graduates", "Graduates who became leaders", [
        Table("graduates by program", ["graduated from", "offerings", "graduates", "named", "enrolled",
                                       "leaders", "leaders % of named", "leaders of"], rows),
        Table("graduates who became leaders", ["peer", "name", "graduated from", "offering", "leader of"],
              [[g["peer"], g["name"], g["from"], g["offering"] or "", _leader_of(g["leader_of"])] for g in leaders]),
    ], {"programs": figures, "leaders": leaders}, (start, end))


def _leader_of(counts) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items()))
