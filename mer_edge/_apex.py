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

The detector times a movement by its score, and on a noisy face (a grainy
camera, heavy compression) the noise can hold the score of a brief movement
above threshold well after the face is back, so that an ME lasts, by its
score, longer than an ME may.  :func:`return_to_rest` finds when the face
really came back: the first frame after the apex whose displacement from the
neutral reference is within :data:`NOISE_FLOOR_PX`, after it was beyond it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ._features import TIME_TOLERANCE_MS
from ._flow import FlowEstimator
from ._results import SpottedInterval
from ._ringbuffer import FrameRing

__all__ = ["NOISE_FLOOR_PX", "RefinedApex", "refine_apex", "residual_displacement",
           "return_to_rest"]

#: Displacements up to this (largest regional mean flow, crop pixels: 0.55 % of the eye
#: distance) are not told from a still face: landmark jitter and sensor noise reach it on
#: some faces, so a weak ME's residual below it is noise, not a movement that stays
#: (chosen on the still-face validation benches, docs/benchmarks.md "Session 13").
NOISE_FLOOR_PX = 0.3


def _displacement(ring: FrameRing, reference: int, slot: int, flow: FlowEstimator) -> float:
    """:meth:`FlowEstimator.displacement` from the ``reference`` slot's crop to ``slot``'s."""
    return flow.displacement(ring.crops[reference], ring.crops[slot])


@dataclass(frozen=True)
class RefinedApex:
    """An interval whose apex :func:`refine_apex` re-estimated, with what it measured.

    Attributes:
        reference: the ring slot of the neutral reference frame.
        interval: the interval with the refined apex (unchanged when the ring
            no longer held it).
        apex_displacement: the largest regional flow magnitude from the
            reference to the apex; None when the apex was left unchanged.
    """

    reference: int
    interval: SpottedInterval
    apex_displacement: float | None


def _neutral_reference(ring: FrameRing, interval: SpottedInterval, k_ms: float) -> int | None:
    """The ring slot of ``interval``'s neutral reference: the stored frame ``k_ms / 2``
    before its onset, else the onset's (None when the ring holds neither)."""
    reference = ring.slot_at_or_before(interval.onset_ms - k_ms / 2)
    if reference is None:
        reference = ring.nearest_slot_of_frame(interval.onset_frame)
    return reference


def _spread(slots: np.ndarray, max_candidates: int) -> np.ndarray:
    """At most ``max_candidates`` of ``slots``, evenly spread and in order."""
    if slots.size <= max_candidates:
        return slots
    return slots[np.linspace(0, slots.size - 1, max_candidates).round().astype(int)]


def refine_apex(ring: FrameRing, interval: SpottedInterval, flow: FlowEstimator, k_ms: float,
                max_candidates: int = 16) -> RefinedApex:
    """Re-estimate ``interval``'s apex on ``ring``'s crops, from the neutral reference.

    The apex is left unchanged when the ring no longer holds the interval.
    """
    reference = _neutral_reference(ring, interval, k_ms)
    order = ring.last_slots(len(ring))
    frames = ring.frame_indices[order]
    inside = order[(frames >= interval.onset_frame) & (frames <= interval.offset_frame)]
    if reference is None or inside.size == 0:
        return RefinedApex(reference if reference is not None else int(order[0]), interval, None)
    inside = _spread(inside, max_candidates)
    displacement = [_displacement(ring, reference, int(slot), flow) for slot in inside]
    best = int(np.argmax(displacement))
    apex = int(inside[best])
    refined = replace(interval, apex_frame=int(ring.frame_indices[apex]),
                      apex_ms=float(ring.timestamps_ms[apex]))
    return RefinedApex(reference, refined, displacement[best])


def residual_displacement(ring: FrameRing, refined: RefinedApex, flow: FlowEstimator) -> float | None:
    """How far the newest face in ``ring`` still is from ``refined``'s neutral reference.

    As a fraction of the displacement at the refined apex (``flow`` must be
    the one :func:`refine_apex` measured it with): near 0 when the face is
    back at rest, 1 or more when it is as displaced as at the apex or
    further.  None when the apex was not refined (the ring no longer held
    the interval), or did not move from the reference (nothing to compare
    with).
    """
    if refined.apex_displacement is None or refined.apex_displacement <= 0.0:
        return None
    newest = int(ring.last_slots(1)[0])
    return _displacement(ring, refined.reference, newest, flow) / refined.apex_displacement


def return_to_rest(ring: FrameRing, interval: SpottedInterval, flow: FlowEstimator, k_ms: float,
                   until_ms: float, max_candidates: int = 16) -> int | None:
    """The ring slot of the first frame from ``interval``'s apex up to ``until_ms`` at which
    the face is back at rest: its displacement from the neutral reference (the one
    :func:`refine_apex` takes) is within :data:`NOISE_FLOOR_PX`, after it was beyond it.

    None when the face did not move beyond the floor, or was not back by
    ``until_ms``, or the ring no longer holds those frames.  At most
    ``max_candidates`` frames, evenly spread, are measured (one flow each).
    """
    reference = _neutral_reference(ring, interval, k_ms)
    order = ring.last_slots(len(ring))
    frames, stamps = ring.frame_indices[order], ring.timestamps_ms[order]
    after = order[(frames >= interval.apex_frame) & (stamps <= until_ms + TIME_TOLERANCE_MS)]
    if reference is None or after.size == 0:
        return None
    moved = False
    for slot in _spread(after, max_candidates):
        if _displacement(ring, reference, int(slot), flow) > NOISE_FLOOR_PX:
            moved = True
        elif moved:
            return int(slot)
    return None
