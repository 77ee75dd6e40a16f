"""What every area of a Tracker shares, declared in one place: the database, who is acting, on
what date, and the transaction open now.

`Session` is the state; `Service` is the base of each area (peers, pathways, fidelity, reports,
config, transfer...): it receives the tracker that holds the session and reaches the other areas
through it, so every attribute an area uses is declared and typed here or on Tracker.
"""

import contextlib
import datetime as dt
import importlib
import types
from typing import TYPE_CHECKING, Any, Callable, Concatenate, Generic, Optional, ParamSpec, TypeVar, overload

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


ServiceType = TypeVar("ServiceType", bound=Service)


class Area(Generic[ServiceType]):
    """A field of `Tracker.services`: the area's service, its module imported and the service
    made on first use, so a command loads only the areas it runs (and what they import)."""

    def __init__(self, module: str, class_name: str) -> None:
        self.module, self.class_name = module, class_name
        self.field = ""

    def __set_name__(self, owner: type, field: str) -> None:
        self.field = field

    def service_class(self) -> type[ServiceType]:
        return getattr(importlib.import_module(f".{self.module}", __package__), self.class_name)

    @overload
    def __get__(self, services: None, owner: type) -> "Area[ServiceType]": ...

    @overload
    def __get__(self, services: object, owner: type) -> ServiceType: ...

    def __get__(self, services, owner):
        if services is None:
            return self
        service = self.service_class()(services.tracker)
        # No __set__: from now on the instance's own attribute answers, without this method.
        vars(services)[self.field] = service
        return service


class MethodNames:
    """Stands at run time for a service class that Tracker names only under TYPE_CHECKING:
    `Peers.new_peer` is then just the method's name, all `delegated` needs, so the class's
    module is imported when the area is first used rather than when Tracker is."""

    def __init__(self, class_name: str) -> None:
        self.class_name = class_name

    def __getattr__(self, method: str) -> types.SimpleNamespace:
        return types.SimpleNamespace(__name__=method, __qualname__=f"{self.class_name}.{method}")


Arguments = ParamSpec("Arguments")
Result = TypeVar("Result")


def delegated(area: str, method: Callable[Concatenate[Any, Arguments], Result]
              ) -> Callable[Concatenate["Tracker", Arguments], Result]:
    """A Tracker method that runs the method of the same name of the tracker's service `area`
    (a field of `Tracker.services`): Tracker's API stays one object while each area's code lives
    in its service, and mypy checks every call against the service method's own signature."""
    name = method.__name__

    def call(tracker: "Tracker", *args: Arguments.args, **kwargs: Arguments.kwargs) -> Result:
        return getattr(getattr(tracker.services, area), name)(*args, **kwargs)

    call.__name__, call.__qualname__ = name, f"Tracker.{name}"
    call.__doc__ = f"{method.__qualname__}, run by tracker.services.{area} (its docstring says what it does)."
    return call
