"""Model inputs built from aligned crops and flow, one code path for all.

The engine and the training code (``export/``) both build model inputs
here, so a model sees at run time exactly what it saw in training.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from ._flow import FlowEstimator
from ._modelmeta import InputSpec

__all__ = ["frame_channels", "recognition_clip", "sample_positions", "scored_time", "window_times",
           "newest_at_or_before", "positions_at_or_before", "TIME_TOLERANCE_MS"]

#: Timestamps closer than this are the same instant (float rounding).
TIME_TOLERANCE_MS = 1e-3


def frame_channels(spec: InputSpec, crop: np.ndarray, flow: np.ndarray | None) -> np.ndarray:
    """Channels ``(C, S, S) float32`` of one time step.

    Args:
        spec: the model's input specification.
        crop: ``(CROP_SIZE, CROP_SIZE) uint8`` aligned grey crop.
        flow: ``(CROP_SIZE, CROP_SIZE, 2) float32`` flow in crop pixels, or
            None when there is no earlier frame yet (flow channels are zero).
    """
    size = spec.size
    out = np.zeros((len(spec.channels), size, size), dtype=np.float32)
    small_flow = None
    for index, name in enumerate(spec.channels):
        if name == "gray":
            small = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
            out[index] = (small.astype(np.float32) / 255.0 - spec.gray_mean) / spec.gray_std
        elif flow is None:
            continue
        elif name == "flow_mag":
            magnitude = cv2.magnitude(flow[..., 0], flow[..., 1])
            out[index] = cv2.resize(magnitude, (size, size), interpolation=cv2.INTER_AREA)
            out[index] *= spec.flow_scale
        else:
            if small_flow is None:
                small_flow = cv2.resize(flow, (size, size), interpolation=cv2.INTER_AREA)
            out[index] = small_flow[..., 0 if name == "flow_x" else 1] * spec.flow_scale
    return out


def window_times(end_ms: float, frames: int, fps: float) -> np.ndarray:
    """Times ``(frames,)`` of a spotting window ending at ``end_ms``, oldest first.

    Steps are ``1000 / fps`` apart: the frame rate the spotter was trained at,
    so a 15 or 200 fps camera gives the model the time span it learned.  The
    engine and the training code both pick, for each time, the newest frame
    at or before it.
    """
    return end_ms - (1000.0 / fps) * np.arange(frames - 1, -1, -1, dtype=np.float64)


def newest_at_or_before(stamps_ms: np.ndarray, times_ms: np.ndarray | float) -> np.ndarray:
    """For each time, the index of the newest of ``stamps_ms`` (ascending) at or before it.

    A time earlier than every stamp gets the first (oldest) index.  A stamp
    within ``TIME_TOLERANCE_MS`` after a time counts as at it, so float
    rounding never decides the frame: ``i * 1000 / 30`` and ``(i / 30) * 1000``
    pick the same one.  The engine (over its frame ring) and the training
    code (over a video's timestamps) both pick frames with it.
    """
    positions = positions_at_or_before(stamps_ms, times_ms)
    return np.clip(positions, 0, max(len(stamps_ms) - 1, 0))


def positions_at_or_before(stamps_ms: np.ndarray, times_ms: np.ndarray | float) -> np.ndarray:
    """As :func:`newest_at_or_before`, but -1 for a time earlier than every stamp."""
    return np.searchsorted(stamps_ms, np.asarray(times_ms) + TIME_TOLERANCE_MS, side="right") - 1


def scored_time(end_ms: float | np.ndarray, lag_ms: float) -> float | np.ndarray:
    """Latest time of the frame a look-ahead spotter's window ending at ``end_ms`` scores.

    The score belongs to the newest frame at or before the returned time
    (:func:`newest_at_or_before`, whose tolerance absorbs float rounding:
    ``124 * 1000 / 15 - 200`` finds the frame at ``121 * 1000 / 15``).  The
    engine and the training code both use it.
    """
    return end_ms - lag_ms


def sample_positions(onset: int, apex: int, frames: int) -> np.ndarray:
    """``frames`` frame indices spread evenly from onset to apex (inclusive)."""
    if frames == 1:
        return np.array([apex], dtype=np.int64)
    return np.rint(np.linspace(onset, apex, frames)).astype(np.int64)


def recognition_clip(spec: InputSpec, crops: Sequence[np.ndarray], flow: FlowEstimator) -> np.ndarray:
    """Recognition input ``(T, C, S, S)`` from crops sampled onset -> apex.

    ``crops[0]`` is the onset frame.  With ``T == 1`` the single step is the
    apex (last crop) with the flow onset -> apex.
    """
    onset = crops[0]
    chosen = crops[-1:] if spec.frames == 1 else crops
    needs_flow = any(c.startswith("flow") for c in spec.channels)
    steps = [frame_channels(spec, crop, flow(onset, crop) if needs_flow else None) for crop in chosen]
    return np.stack(steps)
