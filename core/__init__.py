"""peerpath core: the public API for the CLI and for program plugins.

Plugins import only from here (`from peerpath.core import hookimpl, ProgramModel, Pathway, Step, ...`);
everything else in `peerpath.core.*` is private and may change.
"""

from .activity import KINDS as ACTIVITY_KINDS
from .catalog import Catalog, Report, StepKind
from .digest import DigestItem, digest_heading
from .entities import (
    CADENCES,
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
from .errors import NotFound, PeerpathError, PluginError, StoreError, ValidationError
from .filters import PeerFilter
from .hookspecs import hookimpl
from .plugins import ENTRY_POINT_GROUP, PluginHost, PluginInfo, get_host
from .pipeline import PIPELINE, next_stage
from .progress import DONE, FAILED, MISSING, PARTIAL, StepContext, StepProgress
from .reporting import ReportResult, Table
from .safe_output import records_csv
from .serialize import from_document, to_document
from .tracker import Tracker
from .users import MIN_PASSWORD, PERMISSIONS, ROLES, User, permits, session_secret

__all__ = [
    "Band", "CADENCES", "Catalog", "Certification", "Change", "Checklist", "ChecklistItem", "DigestItem", "DONE", "ENTRY_POINT_GROUP",
    "Enrollment", "Event", "FAILED", "LEADER_STATUSES", "LIVED_EXPERIENCE", "MISSING", "OFFERING_STATUSES",
    "Observation", "Offering", "Outreach", "PARTIAL", "Pathway", "Peer", "PeerFilter", "PeerpathError", "PluginError", "PluginHost", "PluginInfo",
    "Problem", "ProgramModel", "Report", "ReportResult", "Role", "SECTORS", "SOURCES", "STAGES",
    "SessionRecord", "StageChange", "StatusChange", "Step", "StepContext", "StepKind", "StepProgress", "StepRecord",
    "StoreError", "Table", "Tracker", "ValidationError", "from_document", "get_host", "hookimpl",
    "parse_date", "shift_date", "to_document",
    "ACTIVITY_KINDS", "MIN_PASSWORD", "NotFound", "digest_heading", "PERMISSIONS", "PIPELINE", "ROLES", "User", "next_stage", "permits", "records_csv",
    "session_secret",
]
