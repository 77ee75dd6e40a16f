"""The order of the recruitment pipeline, for front ends that move a peer one stage on."""

from .reports import PIPELINE


def next_stage(stage: str):
    """The pipeline stage after `stage`, or None at its end or off it (declined, withdrawn)."""
    if stage not in PIPELINE or stage == PIPELINE[-1]:
        return None
    return PIPELINE[PIPELINE.index(stage) + 1]
