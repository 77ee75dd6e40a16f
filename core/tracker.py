"""Tracker: everything peerpath does to one affiliate database, as one object.

Each area lives in its own module as a mixin; `core.base.TrackerBase` holds what they share
(transactions, plugins, validation, audit).
"""

import attrs

from .activity import Activities
from .base import TrackerBase
from .config import ConfigOps
from .dates import DateOps
from .digest import build_digest
from .erasure import ErasureOps
from .fidelity import FidelityOps
from .ical import calendar_events, to_ical
from .merging import MergeOps
from .filters import FilterOps
from .pathways import PathwayOps
from .peers import PeerOps
from .recruitment import RecruitmentOps
from .reports import ReportOps
from .safekeeping import SafekeepingOps
from .trainings import Trainings
from .transfer import TransferOps
from .users import Users


def _mailing():
    """core.mailing, imported once mail is used: smtplib, ssl and email would cost every other
    command's start-up."""
    from . import mailing

    return mailing


@attrs.frozen
class Sweep:
    """What `sweep` did: the certifications that lapsed and the prospects erased."""

    lapsed: list
    erased: list


class Tracker(PeerOps, MergeOps, RecruitmentOps, PathwayOps, FidelityOps, ReportOps, ConfigOps, TransferOps,
              DateOps, FilterOps, ErasureOps, SafekeepingOps, TrackerBase):
    """One database, the plugins enabled for it, the acting user and the date it answers for."""

    def digest(self, role: str = "coordinator", peer_id=None) -> list:
        """What `role` should act on, most urgent first (see core.digest); only `peer_id`'s items
        when given."""
        return build_digest(self, role, peer_id)

    def plan_messages(self) -> list:
        """The digests `send_digests` would send now (see core.mailing)."""
        return _mailing().plan_messages(self)

    def check_mail_settings(self) -> None:
        """Refuse, naming the setting, when no mail server or sender is set."""
        _mailing().mail_settings(self)

    def send_digests(self):
        """E-mail each person their new reminders and log what the server accepted (core.mailing)."""
        return _mailing().send_digests(self)

    def sent_log(self) -> list:
        return _mailing().sent_log(self)

    def add_training(self, program_key, on, until=None, trainers=(), location=None, capacity=None):
        """Plan a training event of a program (see core.trainings)."""
        return Trainings(self).add_training(program_key, on, until, trainers, location, capacity)

    def trainings(self) -> list:
        return Trainings(self).trainings()

    def roster_peers(self, path) -> list:
        """[(where, peer id)] of the peers a roster CSV names (see core.trainings.read_roster)."""
        return Trainings(self).roster_peers(path)

    def training(self, training_id: str):
        """One training event, or a ValidationError naming the unknown id."""
        return Trainings(self).training(training_id)

    def enroll_in_training(self, training_id, peer_ids=(), roster=None):
        """Add peers enrolled in the training's program to its roster, all or none; `roster`, a
        CSV file of peer ids or names (see core.trainings.read_roster), adds those it names."""
        return Trainings(self).enroll_in_training(training_id, peer_ids, roster)

    def close_training(self, training_id, passed=(), not_passed=(), partial=()):
        """Record every trainee's training step with their result, in one change."""
        return Trainings(self).close_training(training_id, passed, not_passed, partial)

    def add_activity(self, peer_id, kind, hours, on=None, offering_id=None, outreach_id=None, stipend=None,
                     share=None, pending=False):
        """Record a peer's volunteer activity: a talk, a session, outreach, admin or other work
        (see core.activity); `pending` when a leader logs their own, to count once approved."""
        return Activities(self).add_activity(peer_id, kind, hours, on, offering_id, outreach_id, stipend, share,
                                             pending)

    def approve_activity(self, activity_id):
        """Approve a leader's own pending activity, so it counts."""
        return Activities(self).approve_activity(activity_id)

    def activities(self, peer_id=None, start=None, end=None, status="approved") -> list:
        """Volunteer activity in date order; only `peer_id`'s when given; approved (counting)
        ones unless `status` says pending, or None for all."""
        return Activities(self).activities(peer_id, start, end, status)

    def presentations(self, program_key, start, end):
        """{peer id: presentations of `program_key` from `start` to `end`} (see core.activity)."""
        return Activities(self).presentations(program_key, start, end)

    def calendar(self, peer_id=None) -> str:
        """The dates that matter (expiries, observations due, offerings and sessions) as an
        iCalendar file's text (see core.ical); only `peer_id`'s when given."""
        return to_ical(calendar_events(self, peer_id), self.today)

    def add_user(self, name: str, role: str, password: str, peer_id=None):
        """A web app user with a role (see core.users), a leader with their own peer record; the
        password is stored only as a hash."""
        return Users(self).add(name, role, password, peer_id)

    def users(self) -> list:
        return Users(self).list()

    def user(self, name: str):
        """The User named `name` as stored now, or None."""
        return Users(self).get(name)

    def remove_user(self, name: str) -> None:
        Users(self).remove(name)

    def set_password(self, name: str, password: str) -> None:
        Users(self).set_password(name, password)

    def authenticate(self, name: str, password: str):
        """The User if the password is theirs, else None."""
        return Users(self).authenticate(name, password)

    def new_feed(self, name: str) -> str:
        """A new calendar feed secret for a user, revoking the one before."""
        return Users(self).new_feed(name)

    def revoke_feed(self, name: str) -> None:
        Users(self).revoke_feed(name)

    def feed_user(self, token: str):
        """The User a calendar feed secret belongs to, or None."""
        return Users(self).feed_user(token)

    def sweep(self) -> Sweep:
        """The daily sweep as one change: record every certification lapsed by today, erase the
        prospects kept longer than privacy.retain_prospects_days, then refresh stored progress."""
        with self.changing():
            lapsed = self.sweep_lapses()
            erased = self.sweep_retention()
            self.refresh_summaries()
        return Sweep(lapsed=lapsed, erased=erased)

