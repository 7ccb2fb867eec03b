"""Naming the intervals the detectors close: the refined apex, then the recognizer.

The apex of a closed interval is re-estimated on the stored crops
(:func:`mer_edge._apex.refine_apex`), then frames sampled from the neutral
reference to that apex go to the recognition model as the clip it was trained
on (crops and flow, :func:`mer_edge._features.recognition_clip`).  Without a
recognizer the intervals are still reported, labelled ``"unknown"``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ._apex import refine_apex
from ._errors import ModelError
from ._features import recognition_clip, sample_positions
from ._flow import FlowEstimator
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
    """

    def __init__(self, spot_flow: FlowEstimator, k_ms: float, recognizer: Model | None,
                 timer: StageTimer) -> None:
        self._spot_flow = spot_flow
        self._k_ms = k_ms
        self._recognizer = recognizer
        # The recognizer gets flow computed the way it was trained (its metadata says how).
        self._flow = FlowEstimator.for_input(recognizer.info.input) if recognizer is not None else None
        self._timer = timer

    def __call__(self, ring: FrameRing, intervals: Sequence[SpottedInterval]) -> list[MicroExpression]:
        """The events of ``intervals``, whose frames ``ring`` holds."""
        if not intervals:
            return []
        if self._recognizer is None or self._flow is None:
            refined = [refine_apex(ring, interval, self._spot_flow, self._k_ms)[1]
                       for interval in intervals]
            return [MicroExpression(interval, "unknown", {}) for interval in refined]
        with self._timer.stage("classify"):
            clips, refined = [], []
            for interval in intervals:
                reference, interval = refine_apex(ring, interval, self._flow, self._k_ms)
                refined.append(interval)
                clips.append(self._clip(ring, reference, interval))
            probabilities = np.asarray(self._recognizer(np.stack(clips)), dtype=np.float64)
        return self._events(refined, probabilities)

    def _clip(self, ring: FrameRing, reference: int, interval: SpottedInterval) -> np.ndarray:
        """The recognizer's input: frames from the neutral ``reference`` slot to the apex."""
        assert self._recognizer is not None and self._flow is not None
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
