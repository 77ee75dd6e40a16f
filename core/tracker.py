"""Tracker: everything peerpath does to one affiliate database, as one object.

Each area lives in its own module as a mixin; `core.base.TrackerBase` holds what they share
(transactions, plugins, validation, audit).
"""

from .base import TrackerBase
from .config import ConfigOps
from .dates import DateOps
from .fidelity import FidelityOps
from .merging import MergeOps
from .filters import FilterOps
from .pathways import PathwayOps
from .peers import PeerOps
from .recruitment import RecruitmentOps
from .reports import ReportOps
from .transfer import TransferOps


class Tracker(PeerOps, MergeOps, RecruitmentOps, PathwayOps, FidelityOps, ReportOps, ConfigOps, TransferOps,
              DateOps, FilterOps, TrackerBase):
    """One database, the plugins enabled for it, the acting user and the date it answers for."""

    def sweep(self) -> list:
        """The daily sweep as one change: record every certification lapsed by today, then refresh
        stored progress; returns the certifications that lapsed."""
        with self.changing():
            lapsed = self.sweep_lapses()
            self.refresh_summaries()
        return lapsed
