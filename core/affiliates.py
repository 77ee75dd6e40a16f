"""The affiliates of one PostgreSQL database (issue 15, point 3): `peerpath affiliate add/list`.

A file database is one affiliate's; a PostgreSQL database holds many, each with a role
`peerpath_affiliate_<id>` (NOLOGIN) whose members, the affiliate's coordinators' login roles,
alone see and change its rows (row-level security, core/postgres.py). Adding one is the
database owner's work: it needs the right to make roles.
"""

import re

import attrs

from .errors import StoreError
from .storage import is_url
from .tracker import Tracker

_NOT_ID = re.compile(r"[^a-z0-9]+", re.ASCII)


@attrs.frozen
class Affiliate:
    """An affiliate of the database: its id, name and role, and whether the role connected is
    one of its coordinators (a member of that role)."""

    id: str
    name: str
    role: str
    member: bool


def _postgres_store(tracker):
    if not is_url(tracker.store.location):
        raise StoreError(f"{tracker.store.path} is a file database, which holds one affiliate: affiliates are "
                         "added to and listed in a PostgreSQL database (see docs/postgres.md)")
    return tracker.store


def affiliate_id(name: str) -> str:
    """An id made from a name: "NAMI Cook County" -> "nami_cook_county" (at most 40 characters)."""
    made = _NOT_ID.sub("_", name.lower()).strip("_")[:40].rstrip("_")
    return made if made[:1].isalpha() else f"a_{made}"[:40].rstrip("_")


def add_affiliate(tracker, name: str, affiliate=None) -> Affiliate:
    """Register the affiliate `name` (id `affiliate`, else made from the name) and create its
    database in the database (its settings and audit trail, the creation audited by the actor)."""
    store = _postgres_store(tracker)
    name = (name or "").strip()
    if not name:
        raise StoreError("an affiliate needs a name")
    wanted = affiliate or affiliate_id(name)
    url = store.add_affiliate(wanted, name)
    Tracker(db=url, actor=tracker.actor).init(affiliate=name)
    return next(found for found in list_affiliates(tracker) if found.id == wanted)


def list_affiliates(tracker) -> list:
    """Every affiliate of the database, by id."""
    return [Affiliate(*row) for row in _postgres_store(tracker).affiliates()]
