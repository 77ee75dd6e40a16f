"""The program model as a plugin declares it: roles, pathways of steps, fidelity checklists and
their scoring bands. Apart from the records in core.entities so that loading the plugins that
declare programs (as `peerpath --help` does, to list their commands) creates only these classes.
"""

from typing import Optional

import attrs

from .errors import ValidationError
from .values import as_tuple, frozen_dict, non_negative, not_blank, one_of

# The keys a program's `fidelity` settings may hold (PROGRAM.fidelity.KEY), as core.fidelity's
# docstring describes them; here, so that checking a program (core.contract) needs no fidelity.
ADAPTIVE_SETTINGS = ("support_below_percent", "support_within_days", "good_streak", "good_interval_days")


@attrs.frozen
class Role:
    """A leader role within a program: facilitator, teacher, presenter, specialist."""

    key: str = attrs.field(validator=not_blank("role key"))
    title: str = ""
    pathway: Optional[str] = None


@attrs.frozen
class Step:
    """One requirement on a pathway; `kind` names a registered step kind, `params` configure it."""

    key: str = attrs.field(validator=not_blank("step key"))
    title: str
    kind: str
    params: dict = attrs.field(factory=dict, converter=frozen_dict)
    requires: tuple = attrs.field(default=(), converter=as_tuple)
    optional: bool = False


@attrs.frozen
class Pathway:
    """The ordered steps that lead to a certification, with its validity and renewal rule.

    When a certification lapses the leader becomes `lapse_status` ("lapsed", or "inactive" where
    the rule is a commitment rather than a credential) for `lapse_reason`; `reactivate` then asks
    for `reactivation` redone since the lapse (None: the renewal step again; no renewal: nothing).
    """

    key: str = attrs.field(validator=not_blank("pathway key"))
    title: str
    steps: tuple = attrs.field(converter=as_tuple)
    validity_days: Optional[int] = None
    renewal: Optional[Step] = None
    add_on_to: Optional[str] = None
    lapse_status: str = attrs.field(default="lapsed", validator=one_of(("lapsed", "inactive"), "lapse status"))
    lapse_reason: str = "certification lapsed"
    reactivation: Optional[Step] = None

    def step(self, key: str) -> Step:
        return _named(self.steps, key, f"pathway '{self.key}' has no step")


def _named(things, key: str, missing: str):
    """The one of `things` whose key is `key`, else a ValidationError: "<missing> 'key': choose from ..."."""
    for thing in things:
        if thing.key == key:
            return thing
    raise ValidationError(f"{missing} '{key}': choose from " + ", ".join(t.key for t in things))


@attrs.frozen
class ProgramModel:
    """A NAMI program model as a plugin declares it."""

    key: str = attrs.field(validator=not_blank("program key"))
    title: str
    roles: tuple = attrs.field(converter=as_tuple)
    pathways: tuple = attrs.field(default=(), converter=as_tuple)
    format: dict = attrs.field(factory=dict, converter=frozen_dict)
    leader_requirements: dict = attrs.field(factory=dict, converter=frozen_dict)
    description: str = ""
    # How the interval between a leader's observations follows their scores (core.fidelity,
    # ADAPTIVE_SETTINGS above): each number a `PROGRAM.fidelity.KEY` setting.
    fidelity: dict = attrs.field(factory=dict, converter=frozen_dict)
    # Where each rule comes from: {setting key or PATHWAY.STEP: citation}, shown by `programs show`.
    sources: dict = attrs.field(factory=dict, converter=frozen_dict)

    def role(self, key: Optional[str]) -> Role:
        if key is None:
            return self.roles[0]
        return _named(self.roles, key, f"program '{self.key}' has no role")

    def pathway(self, key: str) -> Pathway:
        for pathway in self.pathways:
            if pathway.key == key:
                return pathway
        raise ValidationError(f"program '{self.key}' has no pathway '{key}'")


@attrs.frozen
class ChecklistItem:
    """One fidelity item: yes/no or a 1-5 rating, possibly critical."""

    key: str = attrs.field(validator=not_blank("item key"))
    text: str
    type: str = attrs.field(default="yes_no", validator=one_of(("yes_no", "rating"), "item type"))
    anchors: dict = attrs.field(factory=dict, converter=frozen_dict)
    allow_insufficient: bool = False
    weight: float = attrs.field(default=1.0, validator=non_negative)
    critical: bool = False


@attrs.frozen
class Band:
    """A scoring band: observations at or above `min_percent` fall in it."""

    name: str
    min_percent: float


@attrs.frozen
class Checklist:
    """A versioned model-fidelity checklist for one program."""

    key: str = attrs.field(validator=not_blank("checklist key"))
    program: str
    title: str
    version: str
    items: tuple = attrs.field(converter=as_tuple)
    bands: tuple = attrs.field(converter=as_tuple)
    pass_band: Optional[str] = None
    # An earlier version kept so stored observations still read as recorded; new observations
    # of the program default to the checklist named here.
    superseded_by: Optional[str] = None

    def item(self, key: str) -> ChecklistItem:
        for item in self.items:
            if item.key == key:
                return item
        raise ValidationError(f"checklist '{self.key}' has no item '{key}'")
