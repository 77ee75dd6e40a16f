"""Leader retention (`report retention`): of the leaders active when the period began, the share
still active when it ended, per program.

Retention is reported the way volunteer programs usually report it: (leaders active at the end -
leaders new during the period) / leaders active at the start. A leader is new when they are
active at the end and were not at the start (certified during the period, or back from a hold
or a lapse), so "active at the end - new" is exactly the leaders of the start still there, and
no retention exceeds 100 %.

A leader is active on a day when their certification was granted by then and had not lapsed or
expired, and their status history does not have them on hold, inactive or lapsed that day.
"""

from collections import Counter

from .entities import shift_date
from .reporting import ReportResult, Table, percent

NOT_ACTIVE = ("on hold", "inactive", "lapsed", "in training")


def active_on(certification, enrollment, day) -> bool:
    """Whether the leader of `enrollment` was active (certified, not held) on `day`."""
    if certification is None or certification.granted > day:
        return False
    if certification.lapsed_on is not None and certification.lapsed_on <= day:
        return False
    if certification.expires is not None and certification.expires < day:
        return False
    if not enrollment.history:  # stored before status histories: only today's hold is known
        return not enrollment.hold
    past = [change for change in enrollment.history if change.on <= day]
    return not past or past[-1].status not in NOT_ACTIVE


def retention_counts(tracker, start, end, standings=None) -> dict:
    """{program: Counter(at_start, at_end, new, retained)} of the enabled programs; of the
    leaders of `standings` (tracker.standings(), by default everyone's) only, when given."""
    counts = {program: Counter(at_start=0, at_end=0, new=0, retained=0) for program in tracker.catalog.programs}
    for standing in tracker.standings() if standings is None else standings:
        enrollment, certification = standing.enrollment, standing.certification
        at_start = active_on(certification, enrollment, start)
        at_end = active_on(certification, enrollment, end)
        count = counts[enrollment.program]
        count["at_start"] += at_start
        count["at_end"] += at_end
        count["new"] += at_end and not at_start
        count["retained"] += at_end and at_start
    return counts


def retention(tracker, options) -> ReportResult:
    """Per program: leaders active at the start and at the end of the period, new during it, and
    retention = (active at end - new) / active at start; the period defaults to the last year."""
    start = options["start"] or shift_date(options["end"], -365)
    end = options["end"]
    counts = retention_counts(tracker, start, end)
    total: Counter = sum(counts.values(), Counter())
    figures, rows = {}, []
    for program, count in [*counts.items(), ("all programs", total)]:
        figures[program] = {"active_at_start": count["at_start"], "active_at_end": count["at_end"],
                            "new": count["new"], "retained": count["at_end"] - count["new"],
                            "left": count["at_start"] - count["retained"],
                            "retention_percent": percent(count["at_end"] - count["new"], count["at_start"])}
        f = figures[program]
        rows.append([program, f["active_at_start"], f["active_at_end"], f["new"], f["left"], f["retention_percent"]])
    return ReportResult("retention", "Leader retention", [
        Table("retention", ["program", "active at start", "active at end", "new", "left", "retention %"], rows),
    ], figures, (start, end))
