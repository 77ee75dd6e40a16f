"""peerpath core: the public API for the CLI and for program plugins.

Plugins import only from here (`from peerpath.core import hookimpl, ProgramModel, Pathway, Step, ...`);
everything else in `peerpath.core.*` is private and may change.
"""

from .catalog import Catalog, Report, StepKind
from .digest import DigestItem
from .entities import (
    LEADER_STATUSES,
    LIVED_EXPERIENCE,
    OFFERING_STATUSES,
    SECTORS,
    SOURCES,
    STAGES,
    Band,
    Certification,
    Change,
    Checklist,
    ChecklistItem,
    Enrollment,
    Event,
    Observation,
    Offering,
    Outreach,
    Pathway,
    Peer,
    Problem,
    ProgramModel,
    Role,
    SessionRecord,
    StageChange,
    StatusChange,
    Step,
    StepRecord,
    parse_date,
    shift_date,
)
from .errors import PeerpathError, PluginError, StoreError, ValidationError
from .filters import PeerFilter
from .hookspecs import hookimpl
from .plugins import ENTRY_POINT_GROUP, PluginHost, PluginInfo, get_host
from .progress import DONE, FAILED, MISSING, PARTIAL, StepContext, StepProgress
from .reporting import ReportResult, Table
from .serialize import from_document, to_document
from .tracker import Tracker

__all__ = [
    "Band", "Catalog", "Certification", "Change", "Checklist", "ChecklistItem", "DigestItem", "DONE", "ENTRY_POINT_GROUP",
    "Enrollment", "Event", "FAILED", "LEADER_STATUSES", "LIVED_EXPERIENCE", "MISSING", "OFFERING_STATUSES",
    "Observation", "Offering", "Outreach", "PARTIAL", "Pathway", "Peer", "PeerFilter", "PeerpathError", "PluginError", "PluginHost", "PluginInfo",
    "Problem", "ProgramModel", "Report", "ReportResult", "Role", "SECTORS", "SOURCES", "STAGES",
    "SessionRecord", "StageChange", "StatusChange", "Step", "StepContext", "StepKind", "StepProgress", "StepRecord",
    "StoreError", "Table", "Tracker", "ValidationError", "from_document", "get_host", "hookimpl",
    "parse_date", "shift_date", "to_document",
]
