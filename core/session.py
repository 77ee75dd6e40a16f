"""What every area of a Tracker shares, declared in one place: the database, who is acting, on
what date, and the transaction open now.

`Session` is the state; `Service` is the base of each area (peers, pathways, fidelity, reports,
config, transfer...): it receives the tracker that holds the session and reaches the other areas
through it, so every attribute an area uses is declared and typed here or on Tracker.
"""

import contextlib
import datetime as dt
import functools
from typing import TYPE_CHECKING, Any, Callable, Concatenate, Optional, ParamSpec, TypeVar

import attrs

from .plugins import PluginHost
from .storage import Storage, Transaction

if TYPE_CHECKING:
    from .tracker import Tracker


@attrs.define
class Session:
    """One Tracker's state. `tx` is the transaction open now (None outside `reading()` and
    `changing()`); `pending`, the lifecycle hooks a change fires once committed (None outside a
    change); `command`, the exit stack of a command's one transaction (see begin_command)."""

    store: Storage
    actor: str
    host: PluginHost
    today: dt.date = attrs.field(factory=dt.date.today)
    warnings: list[str] = attrs.field(factory=list)
    date_notes: list[str] = attrs.field(factory=list)  # how dates that read two ways were read (core.dates)
    tx: Optional[Transaction] = None
    pending: Optional[list[tuple[str, dict[str, Any]]]] = None
    command: Optional[contextlib.ExitStack] = None
    catalogs: dict = attrs.field(factory=dict)  # {(enabled plugins, overrides): Catalog}, one entry
    scratching: bool = False  # inside a what-if's scratch transaction (Config._scratch)


class Service:
    """One area of a Tracker, working on the tracker's session through the tracker."""

    def __init__(self, tracker: "Tracker") -> None:
        self.tracker = tracker


Arguments = ParamSpec("Arguments")
Result = TypeVar("Result")


def delegated(area: str, method: Callable[Concatenate[Any, Arguments], Result]
              ) -> Callable[Concatenate["Tracker", Arguments], Result]:
    """A Tracker method that runs `method` of the tracker's service `area` (a field of
    `Tracker.services`): Tracker's API stays one object while each area's code lives in its
    service, and mypy checks every call against the service method's own signature."""

    @functools.wraps(method)
    def call(tracker: "Tracker", *args: Arguments.args, **kwargs: Arguments.kwargs) -> Result:
        return method(getattr(tracker.services, area), *args, **kwargs)

    return call
