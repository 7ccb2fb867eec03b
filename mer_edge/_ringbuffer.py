"""A preallocated, bounded per-track frame buffer indexed by timestamp.

Holds the last ``capacity`` aligned crops of one face with their landmarks,
frame indices and timestamps, plus the per-frame model features the spotter
consumes (and, for an engine with a macro spotter, that spotter's own).  Nothing is allocated per frame; when the measured frame rate
needs more room than the buffer was created with, it grows once.
"""
from __future__ import annotations

import math

import numpy as np

from ._errors import InputError
from ._features import newest_at_or_before, positions_at_or_before
from ._timestamps import IMPLAUSIBLE_GAPS, MAX_FPS

__all__ = ["FrameRing", "frames_over_horizon"]


def frames_over_horizon(horizon_ms: float, fps: float) -> int:
    """Ring slots that hold ``horizon_ms`` of frames at ``fps``.

    Never fewer than :data:`~mer_edge._timestamps.IMPLAUSIBLE_GAPS`: a stream
    in seconds is refused before any ring fills (and would grow).
    """
    return max(IMPLAUSIBLE_GAPS, int(math.ceil(horizon_ms / 1000.0 * fps)))


class FrameRing:
    """Ring buffer of aligned frames for one track.

    Args:
        capacity: frames kept.
        crop_shape: ``(H, W)`` of the grey crops.
        landmark_count: landmarks per frame.
        feature_shape: shape of the per-frame spotting feature (``(C, S, S)``).
        second_feature_shape: shape of a second spotter's per-frame feature,
            kept in :attr:`second_features`; None keeps none.
    """

    def __init__(self, capacity: int, crop_shape: tuple[int, int], landmark_count: int,
                 feature_shape: tuple[int, ...],
                 second_feature_shape: tuple[int, ...] | None = None) -> None:
        if capacity < 2:
            raise InputError(f"ring capacity must be >= 2, got {capacity}")
        self.capacity = capacity
        self.crops = np.zeros((capacity, *crop_shape), dtype=np.uint8)
        self.landmarks = np.zeros((capacity, landmark_count, 2), dtype=np.float32)
        self.features = np.zeros((capacity, *feature_shape), dtype=np.float32)
        self.second_features: np.ndarray | None = (
            None if second_feature_shape is None
            else np.zeros((capacity, *second_feature_shape), dtype=np.float32))
        self.timestamps_ms = np.full(capacity, np.nan, dtype=np.float64)
        self.frame_indices = np.full(capacity, -1, dtype=np.int64)
        self._count = 0  # total frames ever pushed

    def __len__(self) -> int:
        return min(self._count, self.capacity)

    @property
    def newest_slot(self) -> int:
        if self._count == 0:
            raise InputError("the ring buffer is empty")
        return (self._count - 1) % self.capacity

    def push(self, frame_index: int, timestamp_ms: float, crop: np.ndarray,
             landmarks: np.ndarray) -> int:
        """Store a frame; returns its slot.  Timestamps must not go backwards."""
        if self._count and timestamp_ms < self.timestamps_ms[self.newest_slot]:
            raise InputError(f"timestamp {timestamp_ms} ms is before the previous "
                             f"{self.timestamps_ms[self.newest_slot]} ms")
        slot = self._count % self.capacity
        self.crops[slot] = crop
        count = min(len(landmarks), self.landmarks.shape[1])
        self.landmarks[slot, :count] = landmarks[:count]
        self.timestamps_ms[slot] = timestamp_ms
        self.frame_indices[slot] = frame_index
        self.features[slot] = 0.0
        if self.second_features is not None:
            self.second_features[slot] = 0.0
        self._count += 1
        return slot

    def grow(self, capacity: int) -> None:
        """Enlarge to ``capacity`` frames, keeping content in order."""
        if capacity <= self.capacity:
            return
        order = self._ordered_slots()
        for name in ("crops", "landmarks", "features", "second_features", "timestamps_ms",
                     "frame_indices"):
            old = getattr(self, name)
            if old is None:
                continue
            new = np.zeros((capacity, *old.shape[1:]), dtype=old.dtype)
            if name == "timestamps_ms":
                new[:] = np.nan
            elif name == "frame_indices":
                new[:] = -1
            new[:len(order)] = old[order]
            setattr(self, name, new)
        self._count = len(order)
        self.capacity = capacity

    def fit(self, horizon_ms: float) -> None:
        """Grow when full and the frames stored span less than ``horizon_ms`` (the real frame
        rate needs more room than planned).

        Never past what the fastest camera expected
        (:data:`~mer_edge._timestamps.MAX_FPS`) needs: timestamps closer
        together (faster than any camera, warned about; seconds are refused
        before) grew it by thousands of frames at a time, without end.
        """
        if len(self) < self.capacity:
            return
        span = self.span_ms()
        if 0 < span < horizon_ms:
            needed = int(self.capacity * horizon_ms / span) + 1
            self.grow(min(needed, frames_over_horizon(horizon_ms, MAX_FPS)))

    def _ordered_slots(self) -> np.ndarray:
        """Slots from oldest to newest."""
        start = self._count - len(self)
        return np.arange(start, self._count, dtype=np.int64) % self.capacity

    def slot_at_or_before(self, timestamp_ms: float) -> int | None:
        """Newest slot whose timestamp is <= ``timestamp_ms`` (None if older than all).

        Within :data:`~mer_edge._features.TIME_TOLERANCE_MS`, as every time lookup.
        """
        order = self._ordered_slots()
        if order.size == 0:
            return None
        position = int(positions_at_or_before(self.timestamps_ms[order], timestamp_ms))
        return None if position < 0 else int(order[position])

    def slot_of_frame(self, frame_index: int) -> int | None:
        """Slot holding ``frame_index``, or None when it is gone or was never seen."""
        order = self._ordered_slots()
        hits = order[self.frame_indices[order] == frame_index]
        return int(hits[0]) if hits.size else None

    def nearest_slot_of_frame(self, frame_index: int) -> int | None:
        """Slot of the stored frame closest to ``frame_index`` (faces may skip frames)."""
        order = self._ordered_slots()
        if order.size == 0:
            return None
        return int(order[np.argmin(np.abs(self.frame_indices[order] - frame_index))])

    def last_slots(self, count: int) -> np.ndarray:
        """The newest ``count`` slots, oldest first (repeats the oldest if too few)."""
        order = self._ordered_slots()
        if order.size >= count:
            return order[-count:]
        return np.concatenate([np.full(count - order.size, order[0]), order])

    def slots_at_times(self, times_ms: np.ndarray) -> np.ndarray:
        """For each time, the newest slot at or before it (the oldest slot if earlier).

        Used to sample a model's time window at the frame rate it was trained
        at, whatever the camera's rate.
        """
        order = self._ordered_slots()
        if order.size == 0:
            raise InputError("the ring buffer is empty")
        return order[newest_at_or_before(self.timestamps_ms[order], times_ms)]

    def span_ms(self) -> float:
        """Time covered by the stored frames."""
        if len(self) < 2:
            return 0.0
        oldest = (self._count - len(self)) % self.capacity
        return float(self.timestamps_ms[self.newest_slot] - self.timestamps_ms[oldest])
