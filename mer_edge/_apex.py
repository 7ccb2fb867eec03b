"""Apex refinement: the frame of largest displacement from the neutral onset.

The spotting score measures motion over a lag ``k``, so its peak can fall on
the rise *or* on the return of a movement.  Recognition needs the onset (a
neutral face) and the apex (the largest displacement from it).  For a closed
interval this module takes the stored frame ``k/2`` before the detected onset
as the neutral reference and picks as apex the frame, within the interval,
whose head-motion-compensated flow from that reference is largest (the
classic definition of the apex).  At most ``max_candidates`` frames are
compared, so the cost per event is bounded (~0.3 ms per candidate).

A micro-expression is brief: by the time the detector closes it, the face is
back near that neutral reference.  :func:`residual_displacement` measures how
far it still is, which tells a real ME from the first rise of a longer
movement (a smile that stays, a macro-expression's onset).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ._flow import FlowEstimator, roi_magnitudes
from ._results import SpottedInterval
from ._ringbuffer import FrameRing

__all__ = ["refine_apex", "residual_displacement"]


def _displacement(ring: FrameRing, reference: int, slot: int, flow: FlowEstimator) -> float:
    """Largest regional flow magnitude from the ``reference`` slot's crop to ``slot``'s."""
    return float(roi_magnitudes(flow(ring.crops[reference], ring.crops[slot])).max())


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
    displacement = [_displacement(ring, reference, int(slot), flow) for slot in inside]
    apex = int(inside[int(np.argmax(displacement))])
    refined = replace(interval, apex_frame=int(ring.frame_indices[apex]),
                      apex_ms=float(ring.timestamps_ms[apex]))
    return reference, refined


def residual_displacement(ring: FrameRing, reference: int, interval: SpottedInterval,
                          flow: FlowEstimator) -> float | None:
    """How far the newest face in ``ring`` still is from the neutral ``reference`` slot.

    As a fraction of the displacement at ``interval``'s apex (refined by
    :func:`refine_apex` with the same ``reference`` and ``flow``): near 0
    when the face is back at rest, 1 or more when it is as displaced as at
    the apex or further.  None when the ring no longer holds the apex frame,
    or the apex did not move from the reference (nothing to compare with).
    """
    apex = ring.nearest_slot_of_frame(interval.apex_frame)
    if apex is None or int(ring.frame_indices[apex]) != interval.apex_frame:
        return None
    at_apex = _displacement(ring, reference, apex, flow)
    if at_apex <= 0.0:
        return None
    newest = int(ring.last_slots(1)[0])
    return _displacement(ring, reference, newest, flow) / at_apex
