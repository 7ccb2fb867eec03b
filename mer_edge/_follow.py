"""Following a movement the face has not come back from, to its return.

The spotting score measures motion over a lag ``k``, so a movement that
rises, holds and returns (a smile, a macro-expression) gives two bursts of
score with a quiet plateau between them.  The detector closes the rise as an
interval of its own, and its offset falls on the apex: the interval covers
only the first part of the movement, too little to match it.

When the detector closes an interval and the face is still displaced from
the interval's neutral reference by more than ``hold_ratio`` of its apex
displacement (:func:`mer_edge._apex.residual_displacement`) and by more than
:data:`NOISE_FLOOR_PX`, the :class:`DisplacementFollower` of its face holds
it instead of reporting it.  Every :data:`MEASURE_EVERY_MS` of the face's
later frames it measures the displacement from that reference again (one
flow each time) and releases the interval once the face is back, below
:data:`RELEASE_FRACTION` times ``hold_ratio`` of the largest displacement
seen or below the floor, or once it has lasted ``max_interval_ms``.  The released
interval runs from the detected onset to that frame, its apex is the frame of
largest displacement, and its kind follows from its new duration.  Intervals
the detector closes meanwhile, or that begin before a released interval's
offset (the return's own burst of score), are parts of the same movement and
are absorbed.  Each spotter lane of a face has its own follower; one that
reports a single kind (the main lane beside a macro spotter reports MEs)
drops the released intervals of the other kind, which the other lane reports.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ._apex import NOISE_FLOOR_PX, RefinedApex
from ._features import TIME_TOLERANCE_MS
from ._flow import FlowEstimator
from ._results import ExpressionKind, SpottedInterval
from ._ringbuffer import FrameRing
from ._spotting import SpottingParams

__all__ = ["DisplacementFollower", "MEASURE_EVERY_MS", "NOISE_FLOOR_PX", "RELEASE_FRACTION"]

#: The face is back when its displacement is below this fraction of the hold ratio times
#: the largest displacement seen (a hysteresis: held above ``r``, released below ``r / 2``).
RELEASE_FRACTION = 0.5
#: A held interval's displacement is measured again once this much of the face's time has passed
#: since the last measurement: every frame up to 10 fps, every other frame at 15 fps, every
#: third at 30 fps, every twentieth at 200 fps.  An offset is found to within that, and a
#: face held while it talks costs one flow every 100 ms instead of one a frame.
MEASURE_EVERY_MS = 100.0


@dataclass
class _Held:
    """One interval being followed."""

    interval: SpottedInterval
    reference_crop: np.ndarray
    reference_frame: int
    peak_displacement: float
    measured_ms: float  # when the displacement was last measured (the face's time)


class DisplacementFollower:
    """Holds one face's intervals that the face has not come back from; see the module.

    Args:
        hold_ratio: an interval is held when the face is still displaced by
            more than this fraction of its apex displacement as it closes.
        me_max_ms: longest micro-expression; a released interval is an ME up
            to this duration, else a MaE.
        max_interval_ms: an interval is released at this duration even if
            the face has not come back.
        kept_kind: the one kind of released interval reported (a spotter lane
            that reports one kind: an ME of the main lane followed into a MaE is
            the macro lane's to report); None reports both.
    """

    def __init__(self, hold_ratio: float, me_max_ms: float, max_interval_ms: float, *,
                 kept_kind: ExpressionKind | None = None) -> None:
        self._hold_ratio = hold_ratio
        self._kept_kind = kept_kind
        self._me_max_ms = me_max_ms
        self._max_interval_ms = max_interval_ms
        self._held: list[_Held] = []
        self._released_until_ms = -np.inf

    @classmethod
    def for_detection(cls, hold_ratio: float | None, params: SpottingParams, *,
                      kept_kind: ExpressionKind | None = None) -> "DisplacementFollower | None":
        """A face's follower for the intervals of detection ``params`` (its ME and interval
        limits); None when ``hold_ratio`` (``EngineOptions.follow_displaced``) is None."""
        if hold_ratio is None:
            return None
        return cls(hold_ratio, params.me_max_ms, params.max_interval_ms, kept_kind=kept_kind)

    def __bool__(self) -> bool:
        """Whether an interval is being followed."""
        return bool(self._held)

    def absorbs(self, interval: SpottedInterval) -> bool:
        """Whether ``interval`` is part of a movement held or just released (not reported)."""
        if any(held.interval.onset_ms <= interval.offset_ms for held in self._held):
            return True
        return interval.onset_ms <= self._released_until_ms

    def holds(self, ring: FrameRing, refined: RefinedApex, residual: float | None) -> bool:
        """Hold ``refined`` if the face is still displaced (``residual``, a fraction of its
        apex displacement, above the hold ratio); whether it was held."""
        if residual is None or residual <= self._hold_ratio:
            return False
        assert refined.apex_displacement is not None  # a residual needs one
        if residual * refined.apex_displacement <= NOISE_FLOOR_PX:
            return False
        self._held.append(_Held(refined.interval, ring.crops[refined.reference].copy(),
                                int(ring.frame_indices[refined.reference]),
                                refined.apex_displacement,
                                float(ring.timestamps_ms[ring.last_slots(1)[0]])))
        return True

    def step(self, ring: FrameRing, flow: FlowEstimator) -> list[RefinedApex]:
        """Follow the held intervals to ``ring``'s newest frame; those the face came back from."""
        if not self._held:
            return []
        newest = int(ring.last_slots(1)[0])
        now_ms = float(ring.timestamps_ms[newest])
        released, still = [], []
        for held in self._held:
            too_long = now_ms - held.interval.onset_ms >= self._max_interval_ms
            if now_ms - held.measured_ms < MEASURE_EVERY_MS - TIME_TOLERANCE_MS and not too_long:
                still.append(held)
                continue
            held.measured_ms = now_ms
            distance = flow.displacement(held.reference_crop, ring.crops[newest])
            if distance > held.peak_displacement:  # further than at the apex: the new apex
                held.peak_displacement = distance
                frame, stamp = int(ring.frame_indices[newest]), float(ring.timestamps_ms[newest])
                held.interval = replace(held.interval, apex_frame=frame, apex_ms=stamp,
                                        offset_frame=frame, offset_ms=stamp)
            back = distance <= max(RELEASE_FRACTION * self._hold_ratio * held.peak_displacement,
                                       NOISE_FLOOR_PX)
            if back or too_long:
                released.append(self._released(ring, held, newest))
            else:
                still.append(held)
        self._held = still
        return self._kept(released)

    def release_all(self, ring: FrameRing) -> list[RefinedApex]:
        """End of the face: every held interval, ending at ``ring``'s newest frame."""
        if not self._held or len(ring) == 0:
            self._held = []
            return []
        newest = int(ring.last_slots(1)[0])
        released = [self._released(ring, held, newest) for held in self._held]
        self._held = []
        return self._kept(released)

    def _kept(self, released: list[RefinedApex]) -> list[RefinedApex]:
        """The ``released`` intervals of the kind this follower reports."""
        if self._kept_kind is None:
            return released
        return [refined for refined in released if refined.interval.kind == self._kept_kind]

    def _released(self, ring: FrameRing, held: _Held, slot: int) -> RefinedApex:
        """``held`` ending at ``slot``: its kind from the new duration, its reference re-found."""
        offset_ms = float(ring.timestamps_ms[slot])
        kind = "ME" if offset_ms - held.interval.onset_ms <= self._me_max_ms else "MaE"
        interval = replace(held.interval, offset_frame=int(ring.frame_indices[slot]),
                           offset_ms=offset_ms, kind=kind)
        self._released_until_ms = max(self._released_until_ms, offset_ms)
        reference = ring.nearest_slot_of_frame(held.reference_frame)
        return RefinedApex(int(slot if reference is None else reference), interval,
                           held.peak_displacement)
