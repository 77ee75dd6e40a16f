"""The step kinds core provides, registered through the same hook third-party plugins use.

Each kind has `check(step, record, context)`, which refuses a record that cannot be right, and
`progress(step, records, context)`, which judges the step from its live records. Parameters
(pass marks, hours, windows, lead times) always come from the step, i.e. from the plugin's
defaults or the affiliate's overrides; nothing here is a program fact.
"""

import datetime as dt

from .catalog import StepKind
from .errors import OVERRIDE_HINT, OverridableError, ValidationError
from .progress import DONE, FAILED, MISSING, PARTIAL, StepProgress
from .values import shift_date

PASSED, NOT_PASSED = "passed", "not passed"
OUTCOMES = {"passed": PASSED, "pass": PASSED, "yes": PASSED,
            "not passed": NOT_PASSED, "not-passed": NOT_PASSED, "failed": NOT_PASSED,
            "fail": NOT_PASSED, "no": NOT_PASSED, "incomplete": NOT_PASSED}


def _fmt(number) -> str:
    return f"{number:g}"


NO_DEFAULT = "affiliate setting, no default"


def unset_progress(step, *params):
    """Missing, for a step whose figure nobody publishes and the affiliate has not set yet (the
    plugin declares it None): it grants nothing until set. None when every figure is set."""
    unset = [param for param in params if param in step.params and step.params[param] is None]
    if not unset:
        return None
    return StepProgress(MISSING, f"{', '.join(unset)} not set ({NO_DEFAULT}): counts nothing until set")


def _within(records, since):
    return [r for r in records if since is None or r.on >= since]


# --- attestation: a signed statement or agreement ------------------------------------------------


def _no_check(step, record, context):
    """Any dated record counts."""


def _attestation_progress(step, records, context):
    if not records:
        return StepProgress(MISSING, "not signed")
    return StepProgress(DONE, f"signed {records[0].on}", completed_on=records[0].on)


# --- screening: interview or reference check with an outcome ---------------------------------


def normalise_outcome(outcome, what="a screening") -> str:
    value = OUTCOMES.get((outcome or "").strip().lower())
    if value is None:
        raise ValidationError(f"{what} needs --outcome passed or --outcome 'not passed'")
    return value


def _screening_check(step, record, context):
    normalise_outcome(record.outcome)


def _screening_progress(step, records, context):
    if not records:
        return StepProgress(MISSING, "not done")
    latest = records[-1]
    if normalise_outcome(latest.outcome) == PASSED:
        return StepProgress(DONE, f"passed {latest.on}", completed_on=latest.on)
    return StepProgress(FAILED, f"not passed {latest.on}")


# --- training: attended on one or more days, unless the trainer says it was not passed ----------


def _days(record):
    last = record.until or record.on
    return {record.on + dt.timedelta(days=n) for n in range((last - record.on).days + 1)}


def _not_passed(record) -> bool:
    return record.outcome is not None and normalise_outcome(record.outcome) == NOT_PASSED


def _training_check(step, record, context):
    if record.until is not None and record.until < record.on:
        raise ValidationError(f"--until {record.until} is before --on {record.on}")
    if record.outcome is not None:
        normalise_outcome(record.outcome, "a training's result")


def _training_progress(step, records, context):
    """Attending is not graduating: a training not passed completes nothing, and only days
    attended after the last one not passed (a new attempt) count."""
    unset = unset_progress(step, "days")
    if unset is not None:
        return unset
    needed = int(step.params.get("days", 1))
    failed_on = max(((r.until or r.on) for r in records if _not_passed(r)), default=None)
    attempt = [r for r in records if not _not_passed(r) and (failed_on is None or r.on > failed_on)]
    attended = sorted(set().union(*(_days(r) for r in attempt))) if attempt else []
    figures = {"days": len(attended), "required": needed}
    if len(attended) >= needed:
        return StepProgress(DONE, f"{len(attended)}/{needed} days", attended[needed - 1], figures)
    if failed_on is not None and not attended:
        return StepProgress(FAILED, f"not passed {failed_on}", figures=figures)
    if attended:
        return StepProgress(PARTIAL, f"{len(attended)}/{needed} days", figures=figures)
    return StepProgress(MISSING, f"0/{needed} days", figures=figures)


# --- course: an online prerequisite, possibly due some days before another step -----------------


def course_deadline(step, context):
    """The last day the course may be finished, if the step it must precede has started."""
    before, lead = step.params.get("before"), step.params.get("lead_days")
    if not before or lead is None:
        return None
    later = context.records_for(before)
    if not later:
        return None
    return shift_date(min(r.on for r in later), -int(lead))


def _course_check(step, record, context):
    deadline = course_deadline(step, context)
    if deadline is not None and record.on > deadline:
        raise OverridableError(f"{_too_late(step, record.on, deadline)}; {OVERRIDE_HINT}")


def _too_late(step, finished, deadline) -> str:
    return (f"'{step.key}' finished {finished} is too late: it must be finished at least "
            f"{step.params['lead_days']} days before '{step.params['before']}' (by {deadline})")


def _course_progress(step, records, context):
    if not records:
        hours = step.params.get("hours")
        return StepProgress(MISSING, f"not completed (a course of about {hours} h)" if hours else "not completed")
    finished = records[0].on
    deadline = course_deadline(step, context)
    if deadline is not None and finished > deadline:
        return StepProgress(FAILED, _too_late(step, finished, deadline))
    return StepProgress(DONE, f"completed {finished}", completed_on=finished)


# --- hours: accumulated, with per-domain minimums and an optional window --------------------------


def _domains(step) -> dict:
    return dict(step.params.get("domains") or {})


def canonical_domain(step, domain):
    """The step's own spelling of `domain` (case-insensitive), or a ValidationError."""
    domains = _domains(step)
    if not domains:
        return domain
    if domain is None:
        raise ValidationError(f"'{step.key}' hours need --domain: one of {', '.join(domains)}")
    for name in domains:
        if name.lower() == domain.strip().lower():
            return name
    raise ValidationError(f"unknown domain '{domain}' for '{step.key}': choose from {', '.join(domains)}")


def _hours_check(step, record, context):
    if not record.hours:
        raise ValidationError(f"'{step.key}' needs --hours (more than 0)")
    canonical_domain(step, record.domain)
    min_share = step.params.get("min_share")
    if min_share is not None:
        if record.score is None:
            raise ValidationError(
                f"'{step.key}' needs --score: the percentage of the role that is recovery support"
            )
        if record.score < min_share:
            raise ValidationError(
                f"'{step.key}' hours count only in a role at least {_fmt(min_share)}% recovery "
                f"support; this one is {_fmt(record.score)}%"
            )


def _hours_progress(step, records, context):
    unset = unset_progress(step, "total")
    if unset is not None:
        return unset
    counted = _within(records, context.since(step.params.get("window_days")))
    total_needed = float(step.params.get("total", 0))
    total = sum(r.hours or 0 for r in counted)
    by_domain = {name: 0.0 for name in _domains(step)}
    for record in counted:
        if record.domain:
            key = canonical_domain(step, record.domain)
            by_domain[key] = by_domain.get(key, 0.0) + (record.hours or 0)
    short = [(name, by_domain[name], float(minimum)) for name, minimum in _domains(step).items()
             if minimum and by_domain[name] < float(minimum)]
    parts = [f"{_fmt(total)}/{_fmt(total_needed)} h"]
    parts += [f"{name} {_fmt(have)}/{_fmt(need)}" for name, have, need in short]
    parts += [f"{name} none" for name in _uncovered(step, by_domain)]
    figures = {"hours": total, "required": total_needed, "domains": by_domain}
    completed = _date_reaching(counted, step)
    if completed is not None:
        return StepProgress(DONE, parts[0], completed, figures)
    span = step.params.get("min_span_days")
    if span and counted and len(parts) == 1:  # every hour is in, but not kept up long enough yet
        parts.append(f"maintained {(counted[-1].on - counted[0].on).days}/{span} days")
    return StepProgress(PARTIAL if total else MISSING, "; ".join(parts), figures=figures)


def _uncovered(step, by_domain) -> list:
    """With `every_domain`, the domains that have no hours yet (each must be covered)."""
    if not step.params.get("every_domain"):
        return []
    return [name for name in _domains(step) if not by_domain.get(name)]


def _date_reaching(records, step):
    """The date of the record with which every hour requirement was first met: the total, the
    domain minimums, every domain covered (`every_domain`) and, with `min_span_days`, hours
    kept up at least that many days since the first record."""
    needed = float(step.params.get("total", 0))
    minimums = {name: float(m) for name, m in _domains(step).items() if m}
    span = int(step.params.get("min_span_days") or 0)
    total = 0.0
    by_domain: dict = {}
    first = None
    for record in sorted(records, key=lambda r: r.on):
        first = first or record.on
        total += record.hours or 0
        if record.domain:
            key = canonical_domain(step, record.domain)
            by_domain[key] = by_domain.get(key, 0.0) + (record.hours or 0)
        if total >= needed and all(by_domain.get(n, 0) >= m for n, m in minimums.items()) \
                and not _uncovered(step, by_domain) and (record.on - first).days >= span:
            return record.on
    return None


# --- count: sessions, courses or events led, optionally within a window ---------------------------


def _count_progress(step, records, context):
    unset = unset_progress(step, "min")
    if unset is not None:
        return unset
    needed = int(step.params.get("min", 1))
    since = context.since(step.params.get("window_days"))
    dates = [r.on for r in _within(records, since)]
    counts = step.params.get("counts", "records")
    sessions = [s for s in context.sessions_led() if since is None or s.on >= since]
    if counts == "sessions":
        dates += [s.on for s in sessions]
    elif counts == "offerings":
        first_led: dict = {}
        for session in sorted(sessions, key=lambda s: s.on):
            first_led.setdefault(session.offering_id, session.on)
        dates += list(first_led.values())
    elif counts == "courses":
        dates += _courses_completed(sessions, max([d for d in (since, context.cycle_start) if d], default=None),
                                    context)
    dates.sort()
    unit = step.params.get("unit", counts)
    figures = {"count": len(dates), "required": needed}
    summary = f"{len(dates)}/{needed} {unit}"
    if len(dates) >= needed:
        return StepProgress(DONE, summary, dates[needed - 1], figures)
    return StepProgress(PARTIAL if dates else MISSING, summary, figures=figures)


def _courses_completed(sessions, since, context) -> list:
    """The day each course the leader taught sessions of was complete: when its sessions reached
    the program's `format.sessions`, or the day it was marked completed, whichever came first;
    never one session led. Only days from `since` count (a course counts in one cycle)."""
    needed = context.format.get("sessions")
    days = []
    for offering_id in sorted({s.offering_id for s in sessions}):
        held = context.offering_session_days(offering_id)
        offering = context.offering(offering_id)
        complete = [held[int(needed) - 1]] if needed and len(held) >= int(needed) else []
        if offering is not None and offering.status == "completed" and offering.ended is not None:
            complete.append(offering.ended)
        if complete and (since is None or min(complete) >= since):
            days.append(min(complete))
    return days


# --- exam: a score against a pass mark ----------------------------------------------------------


def _exam_check(step, record, context):
    if record.score is None:
        raise ValidationError(f"'{step.key}' needs --score")
    top = step.params.get("max_score", 100)
    if record.score > top:
        raise ValidationError(f"score {_fmt(record.score)} is above the maximum of {_fmt(top)}")


def _exam_progress(step, records, context):
    unset = unset_progress(step, "pass_mark")
    if unset is not None:
        return unset
    pass_mark = step.params.get("pass_mark", 0)
    if not records:
        return StepProgress(MISSING, f"not taken (pass mark {_fmt(pass_mark)})")
    for record in records:
        if record.score >= pass_mark:
            return StepProgress(DONE, f"passed {record.on} with {_fmt(record.score)}",
                                record.on, {"score": record.score, "pass_mark": pass_mark})
    best = max(r.score for r in records)
    return StepProgress(FAILED, f"failed: best score {_fmt(best)}, pass mark {_fmt(pass_mark)}",
                        figures={"score": best, "pass_mark": pass_mark})


# --- observation: a fidelity observation at or above a threshold ---------------------------------


def _observation_check(step, record, context):
    if record.score is None or record.score > 100:
        raise ValidationError(f"'{step.key}' needs --score: the observation's percentage (0-100)")


def _observation_progress(step, records, context):
    unset = unset_progress(step, "min_percent")
    if unset is not None:
        return unset
    threshold = float(step.params.get("min_percent", 0))
    checklist = step.params.get("checklist")
    scored = [(r.on, r.score, ()) for r in records]
    scored += [(o.on, o.percent, o.critical_failed) for o in context.observations()
               if checklist is None or o.checklist == checklist]
    scored.sort(key=lambda item: item[0])
    for on, percent, critical in scored:
        if percent >= threshold and not critical:
            return StepProgress(DONE, f"observed {on}: {_fmt(round(percent, 1))}%", on)
    if scored:
        on, percent, critical = scored[-1]
        why = f"critical item(s) missed: {', '.join(critical)}" if critical else \
            f"{_fmt(round(percent, 1))}% < {_fmt(threshold)}%"
        return StepProgress(FAILED, f"observed {on}: {why}")
    return StepProgress(MISSING, f"not observed (needs {_fmt(threshold)}%)")


KINDS = (
    StepKind("attestation", "A signed agreement or statement.", _no_check,
             _attestation_progress, dated=False),
    StepKind("screening", "An interview or reference check: --outcome passed / not passed.",
             _screening_check, _screening_progress, dated=False),
    StepKind("training", "A training attended on dates (--on, --until), with --trainer; "
             "--outcome 'not passed' when the leader did not graduate.",
             _training_check, _training_progress, ("days",), dated=False),
    StepKind("course", "An online course (of about `hours`), optionally finished lead_days before "
             "another step.",
             _course_check, _course_progress, ("before", "lead_days", "hours"), dated=False),
    StepKind("hours", "Hours (--hours, --domain) toward a total and per-domain minimums, optionally "
             "covering every domain and kept up over min_span_days.",
             _hours_check, _hours_progress,
             ("total", "domains", "window_days", "min_share", "min_span_days", "every_domain"), dated=False),
    StepKind("count", "Sessions, offerings or courses led (a course counts once complete: its sessions "
             "reach the program's format.sessions, or it is marked completed), optionally within a window.",
             _no_check, _count_progress, ("min", "window_days", "counts", "unit"), dated=False),
    StepKind("exam", "An exam score (--score) against a pass mark.", _exam_check,
             _exam_progress, ("pass_mark", "max_score"), dated=False),
    StepKind("observation", "A fidelity observation at or above min_percent.",
             _observation_check, _observation_progress, ("min_percent", "checklist"), dated=False),
)
