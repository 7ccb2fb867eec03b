"""Lighting changes are not expressions: the face's brightness over an interval.

A light switched on, a cloud, or a webcam's auto-exposure moves the whole
face's brightness, and optical flow sees that as motion.  An expression
moves skin but hardly changes the face's mean brightness: over the truth
intervals of the validation benchmarks the mean grey level of the aligned
crop never moved by more than 10 % of its onset value (MEs 0.087, macro-
expressions 0.096), while the lamp of ``changeLighting.wmv`` moves it by 32 %
and the exposure dip of ``default.wmv`` by 25 %.

The engine judges an interval on the crops still in the face's ring
(:func:`brightness_change`); a replay of recorded scores (calibration) on
the brightness recorded per frame (:func:`recorded_brightness_change`), with
the same rule (:func:`is_lighting_change`).
"""
from __future__ import annotations

import numpy as np

from ._results import SpottedInterval
from ._ringbuffer import FrameRing

__all__ = ["brightness_change", "crop_brightness", "is_lighting_change",
           "recorded_brightness_change"]


def crop_brightness(crops: np.ndarray) -> np.ndarray:
    """Mean grey level of each crop: ``(N, H, W) uint8`` -> ``(N,) float64``.

    The sum of whole grey levels is exact in float64, so a crop's value does
    not depend on which crops it is computed with.
    """
    return crops.reshape(len(crops), -1).mean(axis=1)


def _interval_positions(frames: np.ndarray, interval: SpottedInterval) -> np.ndarray | None:
    """Positions in ``frames`` (ascending) inside ``interval``; None when its onset frame is absent."""
    inside = np.flatnonzero((frames >= interval.onset_frame) & (frames <= interval.offset_frame))
    if inside.size == 0 or frames[inside[0]] != interval.onset_frame:
        return None
    return inside


def _change_from_onset(means: np.ndarray) -> float:
    """Largest distance of ``means`` from the first, as a fraction of it."""
    onset = float(means[0])
    return float(np.abs(means - onset).max() / max(onset, 1.0))


def brightness_change(ring: FrameRing, interval: SpottedInterval) -> float | None:
    """Largest change of the crop's mean brightness from the onset, as a fraction of it.

    Over the frames of ``interval`` still in ``ring``; None when the ring no
    longer holds the onset frame (nothing to compare with).
    """
    slots = ring.last_slots(len(ring))
    inside = _interval_positions(ring.frame_indices[slots], interval)
    if inside is None:
        return None
    return _change_from_onset(crop_brightness(ring.crops[slots[inside]]))


def recorded_brightness_change(frames: np.ndarray, brightness: np.ndarray,
                               interval: SpottedInterval) -> float | None:
    """:func:`brightness_change` from recorded values of one face.

    Args:
        frames: ``(N,)`` ascending frame indices at which the face was seen.
        brightness: ``(N,)`` its :func:`crop_brightness` at those frames.
        interval: an interval of that face.
    """
    inside = _interval_positions(frames, interval)
    return None if inside is None else _change_from_onset(brightness[inside])


def is_lighting_change(change: float | None, limit: float | None) -> bool:
    """Whether an interval whose brightness moved by ``change`` is not reported.

    ``limit`` is :attr:`~mer_edge.EngineOptions.max_brightness_change` (None:
    the check is off); ``change`` None (no onset frame to compare with) is
    reported.
    """
    return limit is not None and change is not None and change > limit
