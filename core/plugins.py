"""Finding, loading and calling plugins.

Built-in program plugins live in `plugins/` and are declared in peerpath's own `setup.cfg` under
the `peerpath` entry-point group, so they load exactly like third-party plugins. `PEERPATH_LOAD_PLUGINS` (comma-separated
names, empty for none) restricts which of them load; `PEERPATH_TRACE_HOOKS=1` prints every hook
call to stderr. Core's own step kinds and reports are plugins too, always loaded and enabled.

Hooks are never called through `pm.hook` directly: `PluginHost.call` calls each enabled plugin in
turn so that a plugin that raises is reported by name instead of crashing the command.
"""

import importlib
import importlib.metadata
import os
import sys

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
    error: str = None
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
        self.sources[name] = PluginInfo(name, "", source)

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.sources.pop(name, None)

    # -- what is installed -----------------------------------------------------------------------

    def infos(self) -> list:
        """Every plugin found, loaded or broken, with its hooks."""
        result = []
        for name, info in self.sources.items():
            plugin = self.pm.get_plugin(name)
            hooks = ()
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
        """Call `hook_name` on each enabled plugin in pluggy's order; return (plugin, result) pairs
        for results that are not None.

        A plugin that raises becomes a PluginError naming it: raised, or appended to `errors`
        (when a list is given) so that the remaining plugins still run.
        """
        caller = getattr(self.pm.hook, hook_name)
        results = []
        for implementation in reversed(caller.get_hookimpls()):
            name = implementation.plugin_name
            if enabled is not None and name not in enabled:
                continue
            if _TRACE:
                print(f"peerpath: {hook_name} -> {name}", file=sys.stderr)
            arguments = {arg: kwargs[arg] for arg in implementation.argnames}
            try:
                result = implementation.function(**arguments)
            except Exception as error:
                failure = error if isinstance(error, PluginError) else PluginError(name, hook_name, error)
                if errors is None:
                    raise failure from error
                errors.append(failure)
                continue
            if result is not None:
                results.append((name, result))
        return results


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
