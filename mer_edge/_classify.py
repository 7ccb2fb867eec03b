"""Naming the intervals the detectors close: the refined apex, then the recognizer.

The apex of a closed interval is re-estimated on the stored crops
(:func:`mer_edge._apex.refine_apex`).  An ME after which the face has not
gone back towards its neutral reference (the first rise of a longer movement)
is dropped here (:func:`mer_edge._apex.residual_displacement`,
``EngineOptions.max_me_residual``), unless the face's
:class:`~mer_edge._follow.DisplacementFollower` holds it and follows the
movement to its return (``EngineOptions.follow_displaced``): it is named
then, as a longer interval.  Then frames sampled from the neutral
reference to the apex go to the recognition model as the clip it was trained
on (crops and flow, :func:`mer_edge._features.recognition_clip`).  Without a
recognizer the intervals are still reported, labelled ``"unknown"``.

Before that, :meth:`IntervalClassifier.ended_at_rest` lets a MaE whose face
came back to rest within an ME's duration of its onset
(:func:`mer_edge._apex.return_to_rest`) end there, as an ME
(``EngineOptions.me_ends_at_rest``).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from ._apex import RefinedApex, refine_apex, residual_displacement, return_to_rest
from ._errors import ModelError
from ._features import recognition_clip, sample_positions
from ._flow import FlowEstimator
from ._follow import DisplacementFollower
from ._models import Model
from ._results import MicroExpression, SpottedInterval
from ._ringbuffer import FrameRing
from ._telemetry import StageTimer

__all__ = ["IntervalClassifier"]


class IntervalClassifier:
    """Turns one face's closed intervals into :class:`MicroExpression` events.

    Args:
        spot_flow: the spotter's flow, which re-estimates the apex when there
            is no recognizer.
        k_ms: the spotter's motion lag; the neutral reference is ``k_ms / 2``
            before an onset.
        recognizer: the recognition model, or None (spotting only).
        timer: receives the ``classify`` stage's time.
        max_me_residual: an ME is dropped when, as it is closed, the face is
            still displaced from its neutral reference by more than this
            fraction of its apex displacement (None: every ME is kept).

    Attributes:
        me_still_displaced: MEs dropped that way so far.
        followed_to_return: intervals held by a follower so far (each is
            reported once the face comes back).
    """

    def __init__(self, spot_flow: FlowEstimator, k_ms: float, recognizer: Model | None,
                 timer: StageTimer, max_me_residual: float | None = None) -> None:
        self._k_ms = k_ms
        self._recognizer = recognizer
        # The recognizer gets flow computed the way it was trained (its metadata says how);
        # without one, the apex is refined on the spotter's flow.
        self._flow = spot_flow if recognizer is None else FlowEstimator.for_input(recognizer.info.input)
        self._timer = timer
        self._max_me_residual = max_me_residual
        self.me_still_displaced = 0
        self.followed_to_return = 0

    def __call__(self, ring: FrameRing, intervals: Sequence[SpottedInterval],
                 follower: DisplacementFollower | None = None) -> list[MicroExpression]:
        """The events of ``intervals``, whose frames ``ring`` holds.

        With a ``follower`` (the face's), intervals the face has not come back
        from are held by it (reported by :meth:`follow` later), and intervals
        that belong to a movement it holds are absorbed.
        """
        if not intervals:
            return []
        with self._timer.stage("classify"):
            kept = []
            for interval in intervals:
                if follower is not None and follower.absorbs(interval):
                    continue
                refined = refine_apex(ring, interval, self._flow, self._k_ms)
                residual = self._residual(ring, refined, follower)
                if follower is not None and follower.holds(ring, refined, residual):
                    self.followed_to_return += 1
                    continue
                if self._still_displaced(refined, residual):
                    self.me_still_displaced += 1
                else:
                    kept.append(refined)
            return self._named(ring, kept)

    def ended_at_rest(self, ring: FrameRing, interval: SpottedInterval,
                      me_max_ms: float) -> SpottedInterval:
        """``interval``, a MaE, as an ME ending where the face came back to rest, when that
        is at most ``me_max_ms`` after its onset (:func:`~mer_edge._apex.return_to_rest`);
        else unchanged."""
        with self._timer.stage("classify"):
            rest = return_to_rest(ring, interval, self._flow, self._k_ms,
                                  interval.onset_ms + me_max_ms)
        if rest is None:
            return interval
        return replace(interval, offset_frame=int(ring.frame_indices[rest]),
                       offset_ms=float(ring.timestamps_ms[rest]), kind="ME")

    def follow(self, ring: FrameRing, follower: DisplacementFollower, *,
               end: bool = False) -> list[MicroExpression]:
        """The events of the intervals ``follower`` releases at ``ring``'s newest frame
        (``end``: all of them, the face's stream ended)."""
        if not follower:
            return []
        with self._timer.stage("classify"):
            released = follower.release_all(ring) if end else follower.step(ring, self._flow)
            return self._named(ring, released)

    def _residual(self, ring: FrameRing, refined: RefinedApex,
                  follower: DisplacementFollower | None) -> float | None:
        """``refined``'s residual displacement, when a check needs it (else None)."""
        if follower is None and (self._max_me_residual is None or refined.interval.kind != "ME"):
            return None
        return residual_displacement(ring, refined, self._flow)

    def _still_displaced(self, refined: RefinedApex, residual: float | None) -> bool:
        """Whether ``refined`` is an ME that the face has not come back from."""
        if self._max_me_residual is None or refined.interval.kind != "ME":
            return False
        return residual is not None and residual > self._max_me_residual

    def _named(self, ring: FrameRing, kept: list[RefinedApex]) -> list[MicroExpression]:
        """``kept`` with the recognizer's classes (``"unknown"`` without one)."""
        if self._recognizer is None or not kept:
            return [MicroExpression(refined.interval, "unknown", {}) for refined in kept]
        clips = [self._clip(ring, refined.reference, refined.interval) for refined in kept]
        probabilities = np.asarray(self._recognizer(np.stack(clips)), dtype=np.float64)
        return self._events([refined.interval for refined in kept], probabilities)

    def _clip(self, ring: FrameRing, reference: int, interval: SpottedInterval) -> np.ndarray:
        """The recognizer's input: frames from the neutral ``reference`` slot to the apex."""
        assert self._recognizer is not None
        spec = self._recognizer.info.input
        start = int(ring.frame_indices[reference])
        positions = sample_positions(start, interval.apex_frame, max(spec.frames, 2))
        slots = [reference] + [ring.nearest_slot_of_frame(int(p)) for p in positions[1:]]
        return recognition_clip(spec, [ring.crops[s] for s in slots], self._flow)

    def _events(self, intervals: list[SpottedInterval], probabilities: np.ndarray
                ) -> list[MicroExpression]:
        assert self._recognizer is not None
        names = self._recognizer.info.class_names
        if probabilities.shape != (len(intervals), len(names)):
            raise ModelError(f"{self._recognizer.info.name}: output shape {probabilities.shape}, "
                             f"expected ({len(intervals)}, {len(names)})")
        events = []
        for interval, row in zip(intervals, probabilities):
            row = row / row.sum()
            probs = {name: float(p) for name, p in zip(names, row)}
            events.append(MicroExpression(interval, names[int(np.argmax(row))], probs))
        return events
