"""Finding, loading and calling plugins.

Built-in program plugins live in `plugins/` and are declared in peerpath's own `setup.cfg` under
the `peerpath` entry-point group, so they load exactly like third-party plugins. `PEERPATH_LOAD_PLUGINS` (comma-separated
names, empty for none) restricts which of them load; `PEERPATH_TRACE_HOOKS=1` prints every hook
call to stderr. Core's own step kinds and reports are plugins too, always loaded and enabled.

Hooks are called through pluggy's hook callers (`PluginHost.call`: `pm.hook.NAME`, or a subset
caller without the plugins a database disabled), so hook wrappers and `tryfirst`/`trylast` work as
pluggy documents. Each plugin's implementations are guarded when it registers: one that raises is
reported by name (a PluginError) instead of crashing the command, or, where the caller collects
errors, noted while the other plugins still run. (A hook wrapper's own exceptions are pluggy's.)
"""

import contextvars
import functools
import importlib
import importlib.metadata
import os
import sys
from typing import Any, Optional

import attrs
import pluggy

from . import hookspecs
from .errors import PluginError

ENTRY_POINT_GROUP = "peerpath"
CORE_PLUGINS = ("peerpath.core.step_kinds", "peerpath.core.reports")


@attrs.frozen
class PluginInfo:
    """What `peerpath plugins list` shows about one plugin."""

    name: str
    version: str
    source: str
    hooks: tuple = ()
    error: Optional[str] = None
    core: bool = False


def _peerpath_version() -> str:
    try:
        return importlib.metadata.version("peerpath")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _entry_point_info(entry_point) -> PluginInfo:
    distribution = entry_point.dist
    if distribution is None:
        return PluginInfo(entry_point.name, "unknown", entry_point.value)
    name = distribution.metadata["Name"]
    source = "built-in" if name == "peerpath" else name
    return PluginInfo(entry_point.name, distribution.version, source)


def _short_name(module_name: str) -> str:
    return module_name.rsplit(".", 1)[-1]


class PluginHost:
    """The pluggy manager plus what peerpath knows about each plugin (source, version, errors)."""

    def __init__(self):
        self.pm = pluggy.PluginManager("peerpath")
        self.pm.add_hookspecs(hookspecs)
        self.sources = {}
        self.broken = {}
        self._loaded = False

    # -- loading ---------------------------------------------------------------------------------

    def load(self) -> "PluginHost":
        """Load core, built-in and installed plugins once; later calls do nothing."""
        if self._loaded:
            return self
        self._loaded = True
        wanted = _wanted_plugins()
        for module_name in CORE_PLUGINS:
            self._add(_short_name(module_name), lambda m=module_name: importlib.import_module(m),
                      PluginInfo(_short_name(module_name), _peerpath_version(), "core", core=True))
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if wanted is None or entry_point.name in wanted:
                self._add(entry_point.name, entry_point.load, _entry_point_info(entry_point))
        return self

    def _add(self, name, loader, info: PluginInfo) -> None:
        if self.pm.has_plugin(name) or name in self.broken:
            return
        try:
            self.pm.register(loader(), name=name)
            self.pm.check_pending()  # a misspelled hook fails loudly, blamed on this plugin
            self._guard(name)
        except Exception as error:  # any import or registration failure disables only this plugin
            if self.pm.has_plugin(name):
                self.pm.unregister(name=name)
            self.broken[name] = f"{type(error).__name__}: {error}"
        self.sources[name] = info

    def register(self, plugin, name: str, source: str = "test") -> None:
        """Register an in-process plugin object (tests, embedding); a bad one is not kept."""
        self.pm.register(plugin, name=name)
        try:
            self.pm.check_pending()
        except Exception:
            self.pm.unregister(name=name)  # else every later check_pending would fail on it
            raise
        self._guard(name)
        self.sources[name] = PluginInfo(name, "", source)

    def _guard(self, name: str) -> None:
        """Make each of plugin `name`'s hook implementations (not its wrappers) answer for itself."""
        for caller in self.pm.get_hookcallers(self.pm.get_plugin(name)) or ():
            for implementation in caller.get_hookimpls():
                if implementation.plugin_name == name and not (implementation.hookwrapper or implementation.wrapper):
                    # pluggy declares `function` Final; wrapped in place, each caller keeps its order.
                    guarded = _guarded(name, caller.name, implementation.function)
                    implementation.function = guarded  # type: ignore[misc]

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.sources.pop(name, None)

    # -- what is installed -----------------------------------------------------------------------

    def infos(self) -> list:
        """Every plugin found, loaded or broken, with its hooks."""
        result = []
        for name, info in self.sources.items():
            plugin = self.pm.get_plugin(name)
            hooks: tuple = ()
            if plugin is not None:
                hooks = tuple(sorted(c.name for c in self.pm.get_hookcallers(plugin) or ()))
            result.append(attrs.evolve(info, hooks=hooks, error=self.broken.get(name)))
        return sorted(result, key=lambda info: (not info.core, info.name))

    def names(self) -> set:
        return {name for name, plugin in self.pm.list_name_plugin() if plugin is not None}

    def core_names(self) -> set:
        return {name for name, info in self.sources.items() if info.core}

    # -- calling ---------------------------------------------------------------------------------

    def call(self, hook_name: str, enabled, errors=None, **kwargs) -> list:
        """Call `hook_name` through pluggy on the plugins in `enabled` (None: all); return
        (plugin, result) pairs for the results that are not None, in pluggy's order (a result a
        hook wrapper put in is named "a hook wrapper").

        A plugin that raises becomes a PluginError naming it: raised, or appended to `errors`
        (when a list is given) so that the remaining plugins still run.
        """
        caller = getattr(self.pm.hook, hook_name)
        if enabled is not None:
            left_out = [plugin for name, plugin in self.pm.list_name_plugin() if name not in enabled]
            caller = self.pm.subset_hook_caller(hook_name, remove_plugins=left_out) if left_out else caller
        wanted = set(caller.spec.argnames) if caller.spec else set(kwargs)
        answered: dict = {}
        token = _CALL.set((errors, answered))
        try:
            results = caller(**{key: value for key, value in kwargs.items() if key in wanted})
        finally:
            _CALL.reset(token)
        return [(answered.get(id(result), "a hook wrapper"), result) for result in results]


def _guarded(name: str, hook_name: str, function):
    """`function` (plugin `name`'s implementation of `hook_name`) reporting failures by name and
    noting whose each result is (see PluginHost.call)."""

    @functools.wraps(function)
    def implementation(*args, **kwargs):
        errors, answered = _CALL.get() or (None, None)  # None: called outside PluginHost.call
        if _TRACE:
            print(f"peerpath: {hook_name} -> {name}", file=sys.stderr)
        try:
            result = function(*args, **kwargs)
        except Exception as error:
            failure = error if isinstance(error, PluginError) else PluginError(name, hook_name, error)
            if errors is None:
                raise failure from error
            errors.append(failure)
            return None
        if answered is not None:
            answered[id(result)] = name
        return result

    return implementation


# The errors list and result owners of the hook call in progress (hooks may call hooks).
_CALL: contextvars.ContextVar[Optional[tuple[Any, dict]]] = contextvars.ContextVar("peerpath_hook_call",
                                                                                  default=None)
_host = None
_TRACE = bool(os.environ.get("PEERPATH_TRACE_HOOKS"))


def get_host() -> PluginHost:
    """The process-wide plugin host, loaded on first use."""
    global _host
    if _host is None:
        _host = PluginHost()
    return _host.load()


def _wanted_plugins():
    value = os.environ.get("PEERPATH_LOAD_PLUGINS")
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}
