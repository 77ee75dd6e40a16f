"""Which peers a listing or report counts: the filters coordinators ask for (issue 11).

A `PeerFilter` holds any of community, sector, source, language, program, stage, since and
until; a peer must match every one given (AND), and an empty filter matches everyone.
Community and language are compared ignoring case, accents and runs of spaces ("cicero" finds
"Cicero", "espanol" finds "Español"). `program` is a program the peer has an enrolment in.
`since` and `until` bound, inclusively, the day the peer entered the pipeline (their first
stage), the day the reports' `--from`/`--to` period counts peers by.
"""

import datetime as dt
from typing import Optional

import attrs

from .entities import SECTORS, SOURCES, STAGES, clean_text, one_of, optional_date
from .errors import ValidationError
from .recruitment import entered, stage_of
from .session import Service
from .values import fold

FILTER_FIELDS = ("community", "sector", "source", "language", "program", "stage", "since", "until")


def loose(text) -> str:
    """Text as filters compare it: folded (core.values.fold), runs of spaces as one."""
    return " ".join(fold(text).split())


@attrs.frozen
class PeerFilter:
    community: Optional[str] = attrs.field(default=None, converter=clean_text)
    sector: Optional[str] = attrs.field(default=None, converter=clean_text, validator=one_of(SECTORS, "sector"))
    source: Optional[str] = attrs.field(default=None, converter=clean_text, validator=one_of(SOURCES, "source"))
    language: Optional[str] = attrs.field(default=None, converter=clean_text)
    program: Optional[str] = attrs.field(default=None, converter=clean_text)  # checked by the Tracker
    stage: Optional[str] = attrs.field(default=None, converter=clean_text, validator=one_of(STAGES, "stage"))
    since: Optional[dt.date] = attrs.field(default=None, converter=optional_date)
    until: Optional[dt.date] = attrs.field(default=None, converter=optional_date)

    def __attrs_post_init__(self):
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValidationError(f"--since {self.since} is after --until {self.until}")

    def given(self) -> dict:
        """The filters set, by name."""
        return {name: getattr(self, name) for name in FILTER_FIELDS if getattr(self, name) is not None}

    def describe(self) -> str:
        """The filters set, as a coordinator would read them: "community Cicero, stage accepted"."""
        return ", ".join(f"{name} {value}" for name, value in self.given().items())

    def matches_place(self, community, sector) -> bool:
        """Whether a community and sector (a peer's, or an outreach event's) pass the filter."""
        return ((self.community is None or loose(community) == loose(self.community))
                and (self.sector is None or sector == self.sector))

    def matches(self, peer: dict, programs=(), sector=None) -> bool:
        """Whether `peer` (a stored document, `peer_documents`), enrolled in `programs` and
        recruited in `sector` (default their own), passes every filter given."""
        return (self.matches_place(peer.get("community"), sector or peer.get("sector"))
                and (self.source is None or peer.get("source") == self.source)
                and (self.stage is None or stage_of(peer) == self.stage)
                and (self.language is None or loose(self.language) in {loose(x) for x in peer.get("languages") or ()})
                and (self.program is None or self.program in programs)
                and (self.since is None or entered(peer) >= self.since)
                and (self.until is None or entered(peer) <= self.until))


class Filters(Service):
    """Choosing peers with a PeerFilter (a Tracker service)."""

    def check_filter(self, where) -> PeerFilter:
        """`where` (a PeerFilter, or None for everyone) once its program is known to be enabled."""
        where = where if where is not None else PeerFilter()
        if where.program is not None:
            self.tracker.catalog.program(where.program)
        return where

    def select_peers(self, peers, where) -> list:
        """The peers of `peers` (stored documents) that `where` matches; inside `reading()`."""
        if not where.given():
            return list(peers)
        enrolled: dict = {}
        if where.program is not None:
            for enrollment in self.tracker.tx.all("enrollments"):  # two fields of each: no entities
                enrolled.setdefault(enrollment["peer_id"], set()).add(enrollment["program"])
        peers = list(peers)
        sector_of = self.tracker.recruited_sectors(peers) if where.sector is not None else {}
        return [peer for peer in peers
                if where.matches(peer, enrolled.get(peer["id"], ()), sector_of.get(peer["id"]))]
