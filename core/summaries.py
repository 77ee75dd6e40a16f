"""Stored progress summaries, so that listing every leader does not re-read every step record.

Whenever the engine settles an enrolment (after a record, void, session or observation) it
stores the step states it computed. A summary is trusted for a later "today" only if the
pathway it was computed for is unchanged (same fingerprint: steps, parameters and affiliate
overrides) and none of its steps depends on the date (no rolling `window_days`, no step kind
that is `dated`), or it was computed today; otherwise
the engine recomputes from the records, as it always does for a single peer.
"""

import datetime as dt
import hashlib
import json

import attrs

from .entities import Pathway
from .errors import StoreError
from .progress import DONE, StepProgress
from .serialize import to_document

TABLE = "summaries"
# Each summary's head: what a listing of every leader shows (status inputs, done and next steps,
# renewal, name), without the step rows that make up most of a summary; kept by `store` and
# `rename` beside the summary, in the same change. An enrolment without one (a database from
# before heads) is listed from its summary.
HEADS = "summary_heads"


def fingerprint(pathway, program_format) -> str:
    """A short hash of the rules a pathway's progress follows: its steps and parameters and the
    program's format (a step kind may read it, e.g. `format.sessions` for a course)."""
    text = json.dumps([to_document(pathway), dict(program_format)], sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


@attrs.frozen
class Rules:
    """The rules one pathway followed at some moment: what a setting is compared against."""

    fingerprint: str
    pathway: Pathway
    format: dict


def rules(pathway, program_format) -> Rules:
    return Rules(fingerprint(pathway, program_format), pathway, dict(program_format))


def steps_kept(before: Rules, after: Rules) -> frozenset:
    """The keys of the steps a change of rules left alone: same kind, same parameters, and the
    program's format unchanged (a kind may read it). A step kind judges a step from its own
    parameters, the leader's records and the context only, so a kept step's progress is what
    it was; whichever steps a setting names (crss.exam.pass_mark: the exam) are judged again."""
    if before.format != after.format:
        return frozenset()
    old = {step.key: step for step in before.pathway.steps}
    return frozenset(step.key for step in after.pathway.steps
                     if step.key in old and (old[step.key].kind, old[step.key].params) == (step.kind, step.params))


def date_dependent(pathway, step_kinds) -> bool:
    """Whether the pathway's progress can change with the date alone: a rolling window, or a step
    of a kind that says its result depends on the date (or does not say it does not)."""
    steps = list(pathway.steps) + ([pathway.renewal] if pathway.renewal else [])
    return any(step.params.get("window_days") or getattr(step_kinds.get(step.kind), "dated", True)
               for step in steps)


def _progress_document(progress: StepProgress) -> dict:
    return {"state": progress.state, "summary": progress.summary,
            "completed_on": progress.completed_on.isoformat() if progress.completed_on else None,
            "figures": progress.figures}


def _progress(document) -> StepProgress:
    completed = document["completed_on"]
    return StepProgress(document["state"], document["summary"],
                        dt.date.fromisoformat(completed) if completed else None, document["figures"])


# Steps are stored as rows, [step, state, summary, completed_on] plus {"figures", "blocked_by"}
# only where not empty: a state holds tens of thousands of summaries and a listing reads them all.
LAYOUT = 2


def _step_row(state) -> list:
    progress = state.progress
    row = [state.step.key, progress.state, progress.summary,
           progress.completed_on.isoformat() if progress.completed_on else None]
    extra = {key: value for key, value in (("figures", progress.figures), ("blocked_by", list(state.blocked_by)))
             if value}
    return row + [extra] if extra else row


def summary_document(enrollment, name, program, pathway, states, renewal, last_activity, today,
                     print_=None, recorded=None) -> dict:
    """The stored summary; `print_`, the pathway's fingerprint when the caller knows it already;
    `recorded`, {step: day of its latest live record}, which tells a re-judgement after a
    setting which enrolments have no record of the steps it changed, so need none read."""
    return {
        "id": enrollment.id,
        "peer_id": enrollment.peer_id,
        "layout": LAYOUT,
        "name": name,  # the peer's, for listings; kept current by `rename`
        "as_of": today.isoformat(),
        "fingerprint": print_ or fingerprint(pathway, program.format),
        "steps": [_step_row(state) for state in states],
        "renewal": _progress_document(renewal) if renewal else None,
        "last_activity": last_activity.isoformat() if last_activity else None,
        **({"records": recorded} if recorded is not None else {}),
    }


# The JSON types of a stored summary's fields (what `summary_document` writes).
_FIELD_TYPES = {"peer_id": (str,), "layout": (int,), "name": (str, type(None)), "as_of": (str,),
                "fingerprint": (str,), "steps": (list,), "renewal": (dict, type(None)),
                "last_activity": (str, type(None)), "records": (dict,)}


# Those of a head's (what `head` writes).
_HEAD_FIELD_TYPES = {**{field: types for field, types in _FIELD_TYPES.items() if field not in ("steps", "records")},
                     "done": (int,), "of": (int,), "next": (list,)}


def row_problem(document, field_types=_FIELD_TYPES) -> str:
    """What makes a stored summary (or with `_HEAD_FIELD_TYPES`, a head) unfit to be written back
    (a field of the wrong type), or ""."""
    for field, allowed in field_types.items():
        if field in document and type(document[field]) not in allowed:
            return f"its {field} is {type(document[field]).__name__}"
    return ""


class Checker:
    """Decides which stored summaries can be trusted, fingerprinting each pathway once."""

    def __init__(self, today, step_kinds):
        self.today = today.isoformat()
        self.step_kinds = step_kinds
        self._pathways = {}

    def usable(self, document, program, pathway) -> bool:
        if pathway.key not in self._pathways:
            self._pathways[pathway.key] = (fingerprint(pathway, program.format),
                                           date_dependent(pathway, self.step_kinds))
        return self._holds(document, *self._pathways[pathway.key])

    def held_under(self, document, before: Rules) -> bool:
        """Whether a stored summary was right under the rules `before` (a setting's old value)."""
        key = ("before", before.pathway.key)
        if key not in self._pathways:
            self._pathways[key] = (before.fingerprint, date_dependent(before.pathway, self.step_kinds))
        return self._holds(document, *self._pathways[key])

    def _holds(self, document, print_, dated) -> bool:
        if document is None or document.get("layout") != LAYOUT or document["fingerprint"] != print_:
            return False
        return not dated or document["as_of"] == self.today


def head(document) -> dict:
    """The head of a stored summary (see HEADS): its fields but the step rows and records, and
    how many steps are done, of how many, and the next ones."""
    rows = document["steps"]
    return {"id": document["id"], "peer_id": document["peer_id"], "layout": document["layout"],
            "name": document["name"], "as_of": document["as_of"], "fingerprint": document["fingerprint"],
            "done": _done_count(rows), "of": len(rows), "next": _next_keys(rows),
            "renewal": document["renewal"], "last_activity": document["last_activity"]}


def store(tx, document, stored) -> None:
    """Write a summary (`stored`: the one it replaces, or None) and its head."""
    if stored is None:
        tx.insert(TABLE, document)
    else:
        tx.replace(TABLE, document)
    write_head(tx, head(document))


def write_head(tx, document) -> None:
    if tx.get(HEADS, document["id"], peer_id=document["peer_id"]) is None:
        tx.insert(HEADS, document)
    else:
        tx.replace(HEADS, document)


def add_missing_heads(tx, documents) -> None:
    """Give each current summary of `documents` that has no head its head (`sweep`, on a
    database from before heads)."""
    heads = {document["id"] for document in tx.all(HEADS)}
    for document in documents:
        if document["id"] not in heads and document.get("layout") == LAYOUT:
            tx.insert(HEADS, head(document))


def rename(tx, peer_id: str, name: str) -> None:
    """Keep the peer's name in their summaries current (inside the change that renames them)."""
    for document in list(tx.search(TABLE, peer_id=peer_id)):
        renamed = {**document, "name": name}
        tx.replace(TABLE, renamed)
        if renamed.get("layout") == LAYOUT:  # an older summary has no head: it is recomputed
            write_head(tx, head(renamed))


def head_row_problem(document) -> str:
    return row_problem(document, _HEAD_FIELD_TYPES)


def head_problems(tx) -> list:
    """Each stored head that is not the head of its enrolment's summary (`verify`); a summary
    without a head is not one (a database from before heads: listed from the summary)."""
    full = {document["id"]: document for document in tx.all(TABLE)}
    problems = []
    for document in tx.all(HEADS):
        summary = full.get(document["id"])
        if summary is None:
            problems.append(f"{HEADS}: {document['id']} has no summary")
        elif summary.get("layout") != LAYOUT or head(summary) != document:
            problems.append(f"{HEADS}: {document['id']} does not match its summary in {TABLE}")
    return problems


def restore(document, pathway, state_class):
    """(step states, as StoredSteps, or CountedSteps from a head; renewal progress, last
    activity) from a stored summary or its head. A damaged one is refused in one line: reads do
    not check rows (writes do), and its fields are read here without rebuilding an entity."""
    try:
        renewal = _progress(document["renewal"]) if document["renewal"] else None
        last = document["last_activity"]
        steps = StoredSteps(document["steps"], pathway, state_class) if "steps" in document else \
            CountedSteps(document["done"], document["of"], document["next"])
        return steps, renewal, dt.date.fromisoformat(last) if last else None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        table, check = (TABLE, row_problem) if "steps" in document else (HEADS, head_row_problem)
        missing = f"its field {error.args[0]!r} is missing" if isinstance(error, KeyError) else f"unreadable ({error})"
        raise StoreError(f"{table}: {document.get('id')} is damaged: {check(document) or missing}; "
                         "run peerpath verify") from None


def _done_count(rows) -> int:
    return sum(row[1] == DONE for row in rows)


def _next_keys(rows) -> list:
    """The steps not done and not blocked by another, in the pathway's order."""
    return [row[0] for row in rows if row[1] != DONE and not (len(row) > 4 and row[4].get("blocked_by"))]


class CountedSteps:
    """A head's steps: how many are done, of how many, and the next ones; the states themselves
    are not at hand (a listing asked without them: Pathways.leaders(steps=False))."""

    __slots__ = ("done", "of", "next")

    def __init__(self, done: int, of: int, next_keys: list):
        self.done, self.of, self.next = done, of, next_keys

    def __eq__(self, other) -> bool:
        return isinstance(other, CountedSteps) and (self.done, self.of, self.next) == (other.done, other.of, other.next)

    __hash__ = None  # type: ignore[assignment]  # like StoredSteps

    def states(self) -> tuple:
        raise LookupError("this leader was listed without their steps: list with steps=True")

    def done_count(self) -> int:
        return self.done

    def next_keys(self) -> list:
        return list(self.next)

    def __len__(self) -> int:
        return self.of


class StoredSteps:
    """A stored summary's step states, rebuilt on first use: listing every leader of a state
    mostly shows each one's status and how many steps are done, and rebuilding every step of
    every leader took most of such a listing."""

    __slots__ = ("_rows", "_pathway", "_state_class", "_states")

    def __init__(self, rows: list, pathway, state_class):
        self._rows, self._pathway, self._state_class = rows, pathway, state_class
        self._states: tuple | None = None

    def states(self) -> tuple:
        if self._states is None:
            steps = {step.key: step for step in self._pathway.steps}
            self._states = tuple(_restore_step(row, steps, self._state_class) for row in self._rows)
        return self._states

    def done_count(self) -> int:
        return _done_count(self._rows)

    def next_keys(self) -> list:
        return _next_keys(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __eq__(self, other) -> bool:  # as the states: a PathwayStatus equals one computed from the records
        return self.states() == (other.states() if isinstance(other, StoredSteps) else other)

    __hash__ = None  # type: ignore[assignment]  # like the tuple of (unhashable) states it stands for


def _restore_step(row, steps, state_class):
    extra = row[4] if len(row) > 4 else {}
    return state_class(steps[row[0]], _row_progress(row), tuple(extra.get("blocked_by", ())))


def _row_progress(row) -> StepProgress:
    _, state, summary, completed = row[:4]
    extra = row[4] if len(row) > 4 else {}
    return StepProgress(state, summary, dt.date.fromisoformat(completed) if completed else None,
                        extra.get("figures", {}))


def step_progress(document, keys) -> dict:
    """{step key: StepProgress} a stored summary holds for the steps `keys`."""
    return {row[0]: _row_progress(row) for row in document["steps"] if row[0] in keys}
