"""Finding, loading and calling plugins.

Built-in program plugins live in `plugins/` and are declared in peerpath's own `setup.cfg` under
the `peerpath` entry-point group, so they load exactly like third-party plugins. `PEERPATH_LOAD_PLUGINS` (comma-separated
names, empty for none) restricts which of them load; `PEERPATH_TRACE_HOOKS=1` prints every hook
call to stderr. Core's own step kinds and reports are plugins too, always loaded and enabled
(core/builtin_plugins.py: their modules are imported when the catalog is built).

Hooks are called through pluggy's hook callers (`PluginHost.call`: `pm.hook.NAME`, or a subset
caller without the plugins a database disabled), so hook wrappers and `tryfirst`/`trylast` work as
pluggy documents. Each plugin's implementations are guarded when it registers: one that raises is
reported by name (a PluginError) instead of crashing the command, or, where the caller collects
errors, noted while the other plugins still run. (A hook wrapper's own exceptions are pluggy's.)
"""

import contextvars
import functools
import importlib
import importlib.machinery
import os
import re
import sys
from typing import Any, Optional

import attrs
import pluggy

from . import builtin_plugins, hookspecs
from .errors import PluginError

ENTRY_POINT_GROUP = "peerpath"
# Core's own plugins, by name: their classes in core/builtin_plugins.py.
CORE_PLUGINS = {"step_kinds": "StepKinds", "reports": "Reports"}


@attrs.frozen
class PluginInfo:
    """What `peerpath plugins list` shows about one plugin."""

    name: str
    version: str
    source: str
    hooks: tuple = ()
    error: Optional[str] = None
    core: bool = False


@functools.cache
def _peerpath_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("peerpath")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _core_info(name: str) -> PluginInfo:
    return PluginInfo(name, _peerpath_version(), "core", core=True)


def _entry_point_info(entry_point) -> PluginInfo:
    distribution = entry_point.dist
    if distribution is None:
        return PluginInfo(entry_point.name, "unknown", entry_point.value)
    name = distribution.metadata["Name"]
    source = "built-in" if name == "peerpath" else name
    return PluginInfo(entry_point.name, distribution.version, source)


# --- finding entry points ----------------------------------------------------------------------
#
# importlib.metadata costs every start-up ~12 ms before it reads a file (it imports email, zipfile
# and csv to parse what plugins never need here), more than the rest of plugin loading. Where it
# would look only in sys.path's folders, which is always so for pip, pipx and editable installs,
# peerpath reads the entry_points.txt files itself, as importlib.metadata does; anything else on
# the path (a zip archive, an .egg, a finder of distributions of its own) is left to
# importlib.metadata. tests/test_plugins.py checks that both find the same.

# The syntax of an entry point's value (importlib.metadata.EntryPoint.pattern).
_ENTRY_POINT_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")


class FoundEntryPoint:
    """An entry point read from a distribution folder's entry_points.txt; `load` and `dist` as
    importlib.metadata.EntryPoint's."""

    def __init__(self, name: str, value: str, folder: str):
        self.name, self.value, self.folder = name, value, folder

    def load(self):
        match = _ENTRY_POINT_VALUE.match(self.value)
        if match is None:
            raise ValueError(f"entry point '{self.name}' names no module: {self.value!r}")
        target = importlib.import_module(match["module"])
        return functools.reduce(getattr, filter(None, (match["attr"] or "").split(".")), target)

    @property
    def dist(self):
        import importlib.metadata
        import pathlib

        return importlib.metadata.PathDistribution(pathlib.Path(self.folder))


def entry_points(group: str) -> list:
    """The entry points of `group` that importlib.metadata.entry_points(group=group) gives, in its
    order: sys.path in order, each distribution name found first wins."""
    if not _only_folders_hold_distributions():
        import importlib.metadata

        return list(importlib.metadata.entry_points(group=group))
    found, seen = [], set()
    for entry in sys.path:
        for name, folder in _distribution_folders(entry):
            if name not in seen:
                seen.add(name)
                found += [FoundEntryPoint(key, value, folder) for key, value in _section(folder, group)]
    return found


def _only_folders_hold_distributions() -> bool:
    finders = [finder for finder in sys.meta_path if hasattr(finder, "find_distributions")]
    if finders != [importlib.machinery.PathFinder]:
        return False
    return not any(os.path.isfile(entry) or entry.lower().endswith(".egg") for entry in sys.path)


def _distribution_folders(entry: str):
    """(normalised name, folder) of each distribution's metadata in folder `entry`, in the order
    importlib.metadata's Lookup gives them: grouped by name, names in listing order."""
    try:
        children = os.listdir(entry or ".")
    except OSError:
        return []
    by_name: dict[str, list[str]] = {}
    for child in children:
        low = child.lower()
        if low.endswith((".dist-info", ".egg-info")):
            name = re.sub(r"[-_.]+", "_", low.rpartition(".")[0].partition("-")[0])
            by_name.setdefault(name, []).append(os.path.join(entry, child))
    return [(name, folder) for name, folders in by_name.items() for folder in folders]


def _section(folder: str, group: str) -> list:
    """The (name, value) pairs of section `group` of `folder`'s entry_points.txt, read as
    importlib.metadata reads it (blank lines and # comments skipped, spaces stripped)."""
    try:
        with open(os.path.join(folder, "entry_points.txt"), encoding="utf-8") as file:
            text = file.read()
    except OSError:
        return []
    pairs, section = [], None
    for line in filter(None, map(str.strip, text.splitlines())):
        if line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
        elif section == group and "=" in line:
            name, value = line.split("=", 1)
            pairs.append((name.strip(), value.strip()))
    return pairs


class PluginHost:
    """The pluggy manager plus what peerpath knows about each plugin (source, version, errors)."""

    def __init__(self):
        self.pm = pluggy.PluginManager("peerpath")
        self.pm.add_hookspecs(hookspecs)
        # name -> a function giving its PluginInfo, asked only by `infos`: reading the version
        # from a distribution's metadata costs more than loading the plugin.
        self.sources = {}
        self._core = set()
        self.broken = {}
        self._loaded = False

    # -- loading ---------------------------------------------------------------------------------

    def load(self) -> "PluginHost":
        """Load core, built-in and installed plugins once; later calls do nothing."""
        if self._loaded:
            return self
        self._loaded = True
        wanted = _wanted_plugins()
        for name, class_name in CORE_PLUGINS.items():
            self._core.add(name)
            self._add(name, getattr(builtin_plugins, class_name), functools.partial(_core_info, name))
        for entry_point in entry_points(ENTRY_POINT_GROUP):
            if wanted is None or entry_point.name in wanted:
                self._add(entry_point.name, entry_point.load, functools.partial(_entry_point_info, entry_point))
        return self

    def _add(self, name, loader, describe) -> None:
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
        self.sources[name] = describe

    def register(self, plugin, name: str, source: str = "test") -> None:
        """Register an in-process plugin object (tests, embedding); a bad one is not kept."""
        self.pm.register(plugin, name=name)
        try:
            self.pm.check_pending()
        except Exception:
            self.pm.unregister(name=name)  # else every later check_pending would fail on it
            raise
        self._guard(name)
        self.sources[name] = functools.partial(PluginInfo, name, "", source)

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
        for name, describe in self.sources.items():
            info = describe()
            plugin = self.pm.get_plugin(name)
            hooks: tuple = ()
            if plugin is not None:
                hooks = tuple(sorted(c.name for c in self.pm.get_hookcallers(plugin) or ()))
            result.append(attrs.evolve(info, hooks=hooks, error=self.broken.get(name)))
        return sorted(result, key=lambda info: (not info.core, info.name))

    def names(self) -> set:
        return {name for name, plugin in self.pm.list_name_plugin() if plugin is not None}

    def core_names(self) -> set:
        return self._core & set(self.sources)

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
