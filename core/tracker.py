"""Tracker: everything peerpath does to one affiliate database, as one object.

Each area lives in its own module as a service (`core.session.Service`) that receives the
tracker; `core.session.Session` declares the state they share and `core.base.TrackerBase` the
operations on it (transactions, plugins, validation, audit). Tracker's methods of each area are
thin delegations to its service (`delegated`), so callers see one object; a service is made,
and its module imported, when a command first uses its area (`Services`).
"""

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from .base import TrackerBase, today_given
from .session import Area, MethodNames, delegated

# Each area's module is imported when a command first uses the area (see Services), so Tracker
# names the service classes only for mypy, which checks every delegation against them.
if TYPE_CHECKING:
    from .activity import Activities
    from .config import Config
    from .dates import Dates
    from .erasure import Erasure
    from .fidelity import Fidelity
    from .filters import Filters
    from .merging import Merging
    from .pathways import Pathways
    from .peers import Peers
    from .recruitment import Recruitment
    from .reports import Reports
    from .safekeeping import Safekeeping
    from .trainings import Trainings
    from .transfer import Transfer
    from .users import Users
else:
    Peers, Merging, Recruitment, Pathways, Fidelity, Reports, Config, Transfer, Dates, Filters, Erasure, \
        Safekeeping = map(MethodNames, ["Peers", "Merging", "Recruitment", "Pathways", "Fidelity", "Reports",
                                        "Config", "Transfer", "Dates", "Filters", "Erasure", "Safekeeping"])


def _mailing():
    """core.mailing, imported once mail is used: smtplib, ssl and email would cost every other
    command's start-up."""
    from . import mailing

    return mailing


class Services:
    """A tracker's service of each area, each working on the tracker's session; made, and its
    module imported, when first used."""

    peers: "Area[Peers]" = Area("peers", "Peers")
    merging: "Area[Merging]" = Area("merging", "Merging")
    recruitment: "Area[Recruitment]" = Area("recruitment", "Recruitment")
    pathways: "Area[Pathways]" = Area("pathways", "Pathways")
    fidelity: "Area[Fidelity]" = Area("fidelity", "Fidelity")
    reports: "Area[Reports]" = Area("reports", "Reports")
    config: "Area[Config]" = Area("config", "Config")
    transfer: "Area[Transfer]" = Area("transfer", "Transfer")
    dates: "Area[Dates]" = Area("dates", "Dates")
    filters: "Area[Filters]" = Area("filters", "Filters")
    erasure: "Area[Erasure]" = Area("erasure", "Erasure")
    safekeeping: "Area[Safekeeping]" = Area("safekeeping", "Safekeeping")

    def __init__(self, tracker: "Tracker") -> None:
        self.tracker = tracker

    @classmethod
    def areas(cls) -> dict[str, Area]:
        """{field: Area} of every area."""
        return {field: area for field, area in vars(cls).items() if isinstance(area, Area)}


@attrs.frozen
class Sweep:
    """What `sweep` did: the certifications that lapsed and the prospects erased."""

    lapsed: list
    erased: list


class Tracker(TrackerBase):
    """One database, the plugins enabled for it, the acting user and the date it answers for."""

    # Re-judge only the steps a setting changed, taking the others from the stored summaries;
    # False judges every step from the records, as before (tests/test_incremental.py compares the two).
    rejudge_from_summaries = True

    def __init__(self, db=None, actor=None, today=None, host=None):
        self.services = Services(self)
        super().__init__(db, actor, host)
        # In any form a date option takes, read in the affiliate's order (core.dates).
        self.today = self.read_date(today_given(today)) or dt.date.today()

    # -- peers (Peers) --
    new_peer = delegated("peers", Peers.new_peer)
    add_peer = delegated("peers", Peers.add_peer)
    add_peers = delegated("peers", Peers.add_peers)
    peer = delegated("peers", Peers.peer)
    peers = delegated("peers", Peers.peers)
    peer_documents = delegated("peers", Peers.peer_documents)
    edit_peer = delegated("peers", Peers.edit_peer)
    set_stage = delegated("peers", Peers.set_stage)

    # -- merging duplicates (Merging) --
    merge_peers = delegated("merging", Merging.merge_peers)

    # -- recruitment (Recruitment) --
    add_outreach = delegated("recruitment", Recruitment.add_outreach)
    outreach_events = delegated("recruitment", Recruitment.outreach_events)
    recruited_sectors = delegated("recruitment", Recruitment.recruited_sectors)
    underserved = delegated("recruitment", Recruitment.underserved)
    mark_underserved = delegated("recruitment", Recruitment.mark_underserved)
    communities = delegated("recruitment", Recruitment.communities)
    followups = delegated("recruitment", Recruitment.followups)

    # -- pathways and certification (Pathways) --
    enroll = delegated("pathways", Pathways.enroll)
    enrollment_of = delegated("pathways", Pathways.enrollment_of)
    record_step = delegated("pathways", Pathways.record_step)
    void_record = delegated("pathways", Pathways.void_record)
    set_leader_status = delegated("pathways", Pathways.set_leader_status)
    reactivate = delegated("pathways", Pathways.reactivate)
    settle_leaders = delegated("pathways", Pathways.settle_leaders)
    rules_in_force = delegated("pathways", Pathways.rules_in_force)
    rejudge = delegated("pathways", Pathways.rejudge)
    sweep_lapses = delegated("pathways", Pathways.sweep_lapses)
    progress = delegated("pathways", Pathways.progress)
    leaders = delegated("pathways", Pathways.leaders)
    standings = delegated("pathways", Pathways.standings)
    refresh_summaries = delegated("pathways", Pathways.refresh_summaries)

    # -- offerings, sessions and observations (Fidelity) --
    add_offering = delegated("fidelity", Fidelity.add_offering)
    edit_offering = delegated("fidelity", Fidelity.edit_offering)
    close_offering = delegated("fidelity", Fidelity.close_offering)
    offerings = delegated("fidelity", Fidelity.offerings)
    offering = delegated("fidelity", Fidelity.offering)
    add_session = delegated("fidelity", Fidelity.add_session)
    sessions = delegated("fidelity", Fidelity.sessions)
    observe = delegated("fidelity", Fidelity.observe)
    observations = delegated("fidelity", Fidelity.observations)
    fidelity_report = delegated("fidelity", Fidelity.fidelity_report)
    fidelity_due = delegated("fidelity", Fidelity.fidelity_due)
    observation_schedule = delegated("fidelity", Fidelity.observation_schedule)

    # -- reports (Reports) --
    report = delegated("reports", Reports.report)

    # -- settings (Config) --
    settings = delegated("config", Config.settings)
    rule_sources = delegated("config", Config.rule_sources)
    core_setting = delegated("config", Config.core_setting)
    set_setting = delegated("config", Config.set_setting)
    what_if = delegated("config", Config.what_if)
    report_what_if = delegated("config", Config.report_what_if)
    unset_setting = delegated("config", Config.unset_setting)
    _scratch = delegated("config", Config._scratch)
    _outlook = delegated("config", Config._outlook)

    # -- import and export (Transfer) --
    import_peers = delegated("transfer", Transfer.import_peers)
    write_file = delegated("transfer", Transfer.write_file)
    value_map = delegated("transfer", Transfer.value_map)
    export_peers = delegated("transfer", Transfer.export_peers)

    # -- dates (Dates) --
    date_order = delegated("dates", Dates.date_order)
    read_date = delegated("dates", Dates.read_date)

    # -- peer filters (Filters) --
    check_filter = delegated("filters", Filters.check_filter)
    select_peers = delegated("filters", Filters.select_peers)

    # -- erasure (Erasure) --
    erase_peer = delegated("erasure", Erasure.erase_peer)
    sweep_retention = delegated("erasure", Erasure.sweep_retention)

    # -- backup, verify and restore (Safekeeping) --
    verify = delegated("safekeeping", Safekeeping.verify)
    backup = delegated("safekeeping", Safekeeping.backup)
    restore = delegated("safekeeping", Safekeeping.restore)

    # -- areas whose services Tracker makes on each call --

    def _trainings(self) -> "Trainings":
        from .trainings import Trainings

        return Trainings(self)

    def _activities(self) -> "Activities":
        from .activity import Activities

        return Activities(self)

    def _users(self) -> "Users":
        from .users import Users

        return Users(self)

    def digest(self, role: str = "coordinator", peer_id=None) -> list:
        """What `role` should act on, most urgent first (see core.digest); only `peer_id`'s items
        when given."""
        from .digest import build_digest

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
        return self._trainings().add_training(program_key, on, until, trainers, location, capacity)

    def trainings(self) -> list:
        return self._trainings().trainings()

    def roster_peers(self, path) -> list:
        """[(where, peer id)] of the peers a roster CSV names (see core.trainings.read_roster)."""
        return self._trainings().roster_peers(path)

    def training(self, training_id: str):
        """One training event, or a ValidationError naming the unknown id."""
        return self._trainings().training(training_id)

    def enroll_in_training(self, training_id, peer_ids=(), roster=None):
        """Add peers enrolled in the training's program to its roster, all or none; `roster`, a
        CSV file of peer ids or names (see core.trainings.read_roster), adds those it names."""
        return self._trainings().enroll_in_training(training_id, peer_ids, roster)

    def close_training(self, training_id, passed=(), not_passed=(), partial=()):
        """Record every trainee's training step with their result, in one change."""
        return self._trainings().close_training(training_id, passed, not_passed, partial)

    def add_activity(self, peer_id, kind, hours, on=None, offering_id=None, outreach_id=None, stipend=None,
                     share=None, pending=False):
        """Record a peer's volunteer activity: a talk, a session, outreach, admin or other work
        (see core.activity); `pending` when a leader logs their own, to count once approved."""
        return self._activities().add_activity(peer_id, kind, hours, on, offering_id, outreach_id, stipend, share,
                                             pending)

    def approve_activity(self, activity_id):
        """Approve a leader's own pending activity, so it counts."""
        return self._activities().approve_activity(activity_id)

    def activities(self, peer_id=None, start=None, end=None, status="approved") -> list:
        """Volunteer activity in date order; only `peer_id`'s when given; approved (counting)
        ones unless `status` says pending, or None for all."""
        return self._activities().activities(peer_id, start, end, status)

    def presentations(self, program_key, start, end):
        """{peer id: presentations of `program_key` from `start` to `end`} (see core.activity)."""
        return self._activities().presentations(program_key, start, end)

    def calendar(self, peer_id=None) -> str:
        """The dates that matter (expiries, observations due, offerings and sessions) as an
        iCalendar file's text (see core.ical); only `peer_id`'s when given."""
        from .ical import calendar_events, to_ical

        return to_ical(calendar_events(self, peer_id), self.today)

    def add_user(self, name: str, role: str, password: str, peer_id=None):
        """A web app user with a role (see core.users), a leader with their own peer record; the
        password is stored only as a hash."""
        return self._users().add(name, role, password, peer_id)

    def users(self) -> list:
        return self._users().list()

    def user(self, name: str):
        """The User named `name` as stored now, or None."""
        return self._users().get(name)

    def remove_user(self, name: str) -> None:
        self._users().remove(name)

    def set_password(self, name: str, password: str) -> None:
        self._users().set_password(name, password)

    def authenticate(self, name: str, password: str):
        """The User if the password is theirs, else None."""
        return self._users().authenticate(name, password)

    def new_feed(self, name: str) -> str:
        """A new calendar feed secret for a user, revoking the one before."""
        return self._users().new_feed(name)

    def revoke_feed(self, name: str) -> None:
        self._users().revoke_feed(name)

    def feed_user(self, token: str):
        """The User a calendar feed secret belongs to, or None."""
        return self._users().feed_user(token)

    def sweep(self) -> Sweep:
        """The daily sweep as one change: record every certification lapsed by today, erase the
        prospects kept longer than privacy.retain_prospects_days, then refresh stored progress."""
        with self.changing():
            lapsed = self.sweep_lapses()
            erased = self.sweep_retention()
            self.refresh_summaries()
        return Sweep(lapsed=lapsed, erased=erased)

