"""Lighting changes are not expressions: the face's brightness over an interval.

A light switched on, a cloud, or a webcam's auto-exposure moves the whole
face's brightness, and optical flow sees that as motion.  An expression
moves skin but hardly changes the face's mean brightness: over the truth
intervals of the validation benchmarks the mean grey level of the aligned
crop never moved by more than 10 % of its onset value (MEs 0.087, macro-
expressions 0.096), while the lamp of ``changeLighting.wmv`` moves it by 32 %
and the exposure dip of ``default.wmv`` by 25 %.
"""
from __future__ import annotations

import numpy as np

from ._results import SpottedInterval
from ._ringbuffer import FrameRing

__all__ = ["brightness_change"]


def brightness_change(ring: FrameRing, interval: SpottedInterval) -> float | None:
    """Largest change of the crop's mean brightness from the onset, as a fraction of it.

    Over the frames of ``interval`` still in ``ring``; None when the ring no
    longer holds the onset frame (nothing to compare with).
    """
    slots = ring.last_slots(len(ring))
    frames = ring.frame_indices[slots]
    inside = slots[(frames >= interval.onset_frame) & (frames <= interval.offset_frame)]
    if inside.size == 0 or ring.frame_indices[inside[0]] != interval.onset_frame:
        return None
    means = ring.crops[inside].reshape(inside.size, -1).mean(axis=1)
    onset = float(means[0])
    return float(np.abs(means - onset).max() / max(onset, 1.0))
