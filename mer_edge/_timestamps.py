"""Checks that the timestamps an application pushes are milliseconds."""
from __future__ import annotations

import warnings

import numpy as np

from ._errors import InputError, TimestampWarning
from ._features import TIME_TOLERANCE_MS

__all__ = ["FrameRateCheck", "IMPLAUSIBLE_GAPS", "IMPLAUSIBLE_GAP_MS", "MAX_FPS"]

#: The fastest camera the engine expects (also the ceiling of ``EngineOptions.fps_hint``).
MAX_FPS = 2000.0
#: Frames closer together than this came faster than any camera: half the period of a
#: :data:`MAX_FPS` camera, so that camera's jitter stays clear of it.
IMPLAUSIBLE_GAP_MS = 1000.0 / MAX_FPS / 2
#: Gaps that short in a row before a stream is refused; no frame ring is smaller, so none
#: has grown for them yet.
IMPLAUSIBLE_GAPS = 8


class FrameRateCheck:
    """Judges from the gaps between a stream's timestamps whether they are milliseconds.

    :meth:`Engine.process <mer_edge.Engine.process>` takes milliseconds.
    Seconds (``time.time()``, or OpenCV's ``CAP_PROP_POS_MSEC / 1000``: 30 fps
    frames 0.033 apart) would make every time rule of the spotter wrong and
    every face's frame ring grow to what a :data:`MAX_FPS` camera needs
    (hundreds of MB a face), so :data:`IMPLAUSIBLE_GAPS` gaps in a row shorter
    than :data:`IMPLAUSIBLE_GAP_MS` are refused (:meth:`check`).  Microseconds
    (33,333 apart) cost no memory: the median gap of the first frames outside
    ``lowest_fps``..``highest_fps`` is warned about once (:meth:`observe`).

    Gaps of a tolerance or less (a source's repeated timestamp nudged forward
    by the engine) say nothing of the unit and are left out of both.
    """

    def __init__(self, frames: int = 10, lowest_fps: float = 0.5,
                 highest_fps: float = MAX_FPS) -> None:
        self.frames = frames
        self.lowest_fps = lowest_fps
        self.highest_fps = highest_fps
        self._stamps: list[float] = []
        self._last: float | None = None
        self._short_gaps = 0  # gaps in a row shorter than IMPLAUSIBLE_GAP_MS

    def reset(self) -> None:
        """A new stream: check its frames again."""
        self._stamps = []
        self._last = None
        self._short_gaps = 0

    def check(self, timestamp_ms: float) -> None:
        """Refuse a frame that would make :data:`IMPLAUSIBLE_GAPS` implausibly short gaps in a row.

        Changes nothing: :meth:`observe` records the frames taken.

        Raises:
            InputError: the timestamps look like seconds.
        """
        gap = self._gap(timestamp_ms)
        if gap is None or not _is_implausible(gap) or self._short_gaps + 1 < IMPLAUSIBLE_GAPS:
            return
        raise InputError(f"timestamp_ms {timestamp_ms:.6g}: {IMPLAUSIBLE_GAPS} frames in a row "
                         f"{gap:.3g} ms apart ({1000.0 / gap:.3g} fps, faster than any camera; "
                         f"at most {MAX_FPS:g} expected); the timestamps look like seconds: "
                         "pass milliseconds (this frame was not processed)")

    def observe(self, timestamp_ms: float) -> None:
        """Note a frame taken; warns once the first ``frames`` gaps are known, if implausible."""
        gap = self._gap(timestamp_ms)
        if gap is not None:
            self._short_gaps = self._short_gaps + 1 if _is_implausible(gap) else 0
        self._last = timestamp_ms
        if len(self._stamps) > self.frames:
            return
        self._stamps.append(timestamp_ms)
        if len(self._stamps) <= self.frames:
            return
        gaps = np.diff(self._stamps)
        gaps = gaps[gaps > 2 * TIME_TOLERANCE_MS]
        if gaps.size == 0:
            return
        gap_ms = float(np.median(gaps))
        fps = 1000.0 / gap_ms
        if self.lowest_fps <= fps <= self.highest_fps:
            return
        unit = "seconds" if fps > self.highest_fps else "microseconds or another unit"
        warnings.warn(f"timestamp_ms: frames {gap_ms:.6g} ms apart ({fps:.4g} fps); the "
                      f"timestamps look like {unit}; pass milliseconds", TimestampWarning,
                      stacklevel=5)  # observe <- Engine._begin_frame <- _process <- process <- you

    def _gap(self, timestamp_ms: float) -> float | None:
        """Time since the last frame taken; None for the first, or a nudged repeat."""
        if self._last is None or timestamp_ms - self._last <= 2 * TIME_TOLERANCE_MS:
            return None
        return timestamp_ms - self._last


def _is_implausible(gap_ms: float) -> bool:
    return gap_ms < IMPLAUSIBLE_GAP_MS
