"""Apex refinement: the frame of largest displacement from the neutral onset.

The spotting score measures motion over a lag ``k``, so its peak can fall on
the rise *or* on the return of a movement.  Recognition needs the onset (a
neutral face) and the apex (the largest displacement from it).  For a closed
interval this module takes the stored frame ``k/2`` before the detected onset
as the neutral reference and picks as apex the frame, within the interval,
whose head-motion-compensated flow from that reference is largest (the
classic definition of the apex).  At most ``max_candidates`` frames are
compared, so the cost per event is bounded (~0.3 ms per candidate).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ._flow import FlowEstimator, roi_magnitudes
from ._results import SpottedInterval
from ._ringbuffer import FrameRing

__all__ = ["refine_apex"]


def refine_apex(ring: FrameRing, interval: SpottedInterval, flow: FlowEstimator, k_ms: float,
                max_candidates: int = 16) -> tuple[int, SpottedInterval]:
    """Return ``(reference_slot, interval with refined apex)``.

    The apex is left unchanged when the ring no longer holds the interval.
    """
    reference = ring.slot_at_or_before(interval.onset_ms - k_ms / 2)
    if reference is None:
        reference = ring.nearest_slot_of_frame(interval.onset_frame)
    order = ring.last_slots(len(ring))
    frames = ring.frame_indices[order]
    inside = order[(frames >= interval.onset_frame) & (frames <= interval.offset_frame)]
    if reference is None or inside.size == 0:
        return (reference if reference is not None else int(order[0])), interval
    if inside.size > max_candidates:
        inside = inside[np.linspace(0, inside.size - 1, max_candidates).round().astype(int)]
    base = ring.crops[reference]
    displacement = [float(roi_magnitudes(flow(base, ring.crops[slot])).max()) for slot in inside]
    apex = int(inside[int(np.argmax(displacement))])
    refined = replace(interval, apex_frame=int(ring.frame_indices[apex]),
                      apex_ms=float(ring.timestamps_ms[apex]))
    return reference, refined
