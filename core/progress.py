"""What a step kind reports about one step of one leader, and what it may look at to decide."""

import datetime as dt
from typing import Any, Callable, Optional

import attrs

from .values import shift_date

DONE, PARTIAL, MISSING, FAILED = "done", "partial", "missing", "failed"


@attrs.define  # not frozen: built by the thousand when listing leaders, and frozen init is slower
class StepProgress:
    """A step's state (done / partial / missing / failed), a short human summary such as
    '64/100 h; Advocacy 4/10', the date it was completed, and figures for JSON output."""

    state: str
    summary: str = ""
    completed_on: Optional[dt.date] = None
    figures: dict = attrs.field(factory=dict)

    @property
    def done(self) -> bool:
        return self.state == DONE


@attrs.frozen
class StepContext:
    """Read-only facts a step kind may use besides the step's own records.

    `records_for(step_key)` gives the leader's live records of another step of the pathway;
    `sessions_led()` the SessionRecords of this program the leader led; `observations()` the
    fidelity Observations of this program that name the leader. When a renewal step is judged,
    sessions and observations are only those of the current cycle (from the grant or the last
    renewal), like its records, and `cycle_start` is that day (else None). `format` is the
    program's format (affiliate overrides applied), `offering(id)` a stored Offering (or None)
    and `offering_session_days(id)` the dates of all its sessions, whoever led them.
    """

    today: dt.date
    peer_id: str
    program: str
    records_for: Callable[[str], list]
    sessions_led: Callable[[], list]
    observations: Callable[[], list]
    format: dict = attrs.field(factory=dict)
    offering: Callable[[str], Optional[Any]] = lambda offering_id: None
    offering_session_days: Callable[[str], list] = lambda offering_id: []
    cycle_start: Optional[dt.date] = None

    def since(self, window_days) -> Optional[dt.date]:
        """The first day inside a rolling window ending today, or None for no window."""
        if window_days in (None, 0):
            return None
        return shift_date(self.today, 1 - int(window_days))
