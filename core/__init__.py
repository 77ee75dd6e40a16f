"""peerpath core: the public API for the CLI and for program plugins.

Plugins import only from here (`from peerpath.core import hookimpl, ProgramModel, Pathway, Step, ...`);
everything else in `peerpath.core.*` is private and may change.

The names load lazily (PEP 562): `from peerpath.core import Pathway` imports only the module that
defines Pathway, so a command, or `peerpath --help`, pays only for the modules it uses (each attrs
class costs its generated methods at import).
"""

import importlib

# Each public name and the private module (and its name there) it comes from.
_SOURCES = {
    **{name: ("catalog", name) for name in ("Catalog", "Report", "StepKind")},
    **{name: ("digest", name) for name in ("DigestItem", "digest_heading")},
    **{name: ("entities", name) for name in (
        "Certification", "Change", "Enrollment", "Event", "Observation", "Offering", "Outreach", "Peer", "Problem",
        "SessionRecord", "StageChange", "StatusChange", "StepRecord")},
    **{name: ("program_model", name) for name in (
        "Band", "Checklist", "ChecklistItem", "Pathway", "ProgramModel", "Role", "Step")},
    **{name: ("values", name) for name in (
        "ACTIVITY_KINDS", "CADENCES", "LEADER_STATUSES", "LIVED_EXPERIENCE", "OFFERING_STATUSES", "SECTORS",
        "SOURCES", "STAGES", "parse_date", "shift_date")},
    "ROLES": ("values", "USER_ROLES"),
    **{name: ("errors", name) for name in ("NotFound", "PeerpathError", "PluginError", "StoreError", "ValidationError")},
    "PeerFilter": ("filters", "PeerFilter"),
    "hookimpl": ("hookspecs", "hookimpl"),
    **{name: ("plugins", name) for name in ("ENTRY_POINT_GROUP", "PluginHost", "PluginInfo", "get_host")},
    **{name: ("pipeline", name) for name in ("PIPELINE", "next_stage")},
    **{name: ("progress", name) for name in ("DONE", "FAILED", "MISSING", "PARTIAL", "StepContext", "StepProgress")},
    **{name: ("reporting", name) for name in ("ReportResult", "Table")},
    "records_csv": ("safe_output", "records_csv"),
    **{name: ("serialize", name) for name in ("from_document", "to_document")},
    "Tracker": ("tracker", "Tracker"),
    **{name: ("users", name) for name in ("MIN_PASSWORD", "PERMISSIONS", "User", "permits", "session_secret")},
}

__all__ = sorted(_SOURCES)


def __getattr__(name: str):
    """Import the module behind a public name on first use, and keep the name here after it."""
    try:
        module, attribute = _SOURCES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
