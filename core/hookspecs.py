"""Every hook a peerpath plugin can implement. Hooks are always called with keyword arguments,
and an implementation may accept any subset of a spec's arguments."""

import pluggy

hookspec = pluggy.HookspecMarker("peerpath")
hookimpl = pluggy.HookimplMarker("peerpath")


# --- providers: plugins add content through a `register` callback that core validates ---------


@hookspec
def register_programs(register):
    """Register program models: call register(ProgramModel) for each."""


@hookspec
def register_step_kinds(register):
    """Register pathway step kinds: call register(StepKind) for each."""


@hookspec
def register_checklists(register):
    """Register fidelity checklists: call register(Checklist) for each."""


@hookspec
def register_reports(register):
    """Register reports: call register(Report) for each."""


@hookspec
def register_commands(cli):
    """Add click commands or groups to the peerpath CLI group `cli`."""


# --- validation: before a change is stored -----------------------------------------------------


@hookspec
def validate_change(change, tracker):
    """Inspect a Change before it is stored; return Problem(s) to veto (error) or warn."""


@hookspec
def digest_items(tracker, role, peer_id):
    """Return DigestItem(s) for `role`'s digest (`peer_id`: only that peer's), or None."""


# --- lifecycle events: fired by core after a change is stored ----------------------------------


@hookspec
def peer_added(peer, tracker):
    """A new Peer was stored."""


@hookspec
def peer_stage_changed(peer, old_stage, new_stage, tracker):
    """A Peer moved to another recruitment stage."""


@hookspec
def enrollment_started(enrollment, peer, tracker):
    """A Peer was enrolled in a program role."""


@hookspec
def step_recorded(record, enrollment, tracker):
    """A StepRecord was stored for an Enrollment."""


@hookspec
def certification_granted(certification, enrollment, tracker):
    """A leader completed every required step and was certified."""


@hookspec
def certification_lapsed(certification, enrollment, tracker):
    """A Certification passed its expiry without renewal."""


@hookspec
def session_recorded(session, offering, tracker):
    """A SessionRecord of a group or class was stored."""


@hookspec
def observation_recorded(observation, offering, tracker):
    """A scored fidelity Observation was stored."""
