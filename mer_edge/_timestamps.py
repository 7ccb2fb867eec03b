"""A check that the timestamps an application pushes are milliseconds."""
from __future__ import annotations

import warnings

import numpy as np

from ._errors import TimestampWarning
from ._features import TIME_TOLERANCE_MS

__all__ = ["FrameRateCheck", "MAX_FPS"]

#: The fastest camera the engine expects (also the ceiling of ``EngineOptions.fps_hint``).
MAX_FPS = 2000.0


class FrameRateCheck:
    """Warns once when a stream's first timestamps imply an implausible frame rate.

    :meth:`Engine.process <mer_edge.Engine.process>` takes milliseconds.
    Seconds (30 fps frames 0.033 apart) or microseconds (33,333 apart) are
    accepted as numbers but would make every time rule of the spotter wrong,
    so the median gap of the first frames is checked against
    ``lowest_fps``..``highest_fps``.
    """

    def __init__(self, frames: int = 10, lowest_fps: float = 0.5,
                 highest_fps: float = MAX_FPS) -> None:
        self.frames = frames
        self.lowest_fps = lowest_fps
        self.highest_fps = highest_fps
        self._stamps: list[float] = []

    def reset(self) -> None:
        """A new stream: check its first frames again."""
        self._stamps = []

    def observe(self, timestamp_ms: float) -> None:
        """Note one frame's timestamp; warns once ``frames`` gaps are known, if implausible.

        Gaps of a tolerance or less (a source's repeated timestamp nudged
        forward by the engine) say nothing of the unit and are left out.
        """
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
                      stacklevel=4)  # observe <- Engine._process <- Engine.process <- caller
