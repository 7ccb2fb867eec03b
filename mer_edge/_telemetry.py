"""Per-stage timing on ``time.monotonic``-class clocks, built into the engine."""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

__all__ = ["StageTimer", "STAGES"]

#: Stages reported by the engine, in pipeline order.
STAGES = ("face", "track", "align", "flow", "spot", "classify")


class StageTimer:
    """Accumulates wall time per stage and counts frames."""

    def __init__(self) -> None:
        self._totals: dict[str, float] = {name: 0.0 for name in STAGES}
        self.frames = 0
        self.faces = 0
        self._wall = 0.0

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self._totals[name] = self._totals.get(name, 0.0) + time.perf_counter() - start

    def count_frame(self, faces: int, seconds: float) -> None:
        self.frames += 1
        self.faces += faces
        self._wall += seconds

    def ms_per_frame(self) -> dict[str, float]:
        """Mean milliseconds per frame for each stage."""
        frames = max(self.frames, 1)
        return {name: 1000.0 * total / frames for name, total in self._totals.items()}

    def fps(self) -> float:
        """Frames per second over the processing time (decode excluded)."""
        return self.frames / self._wall if self._wall > 0 else 0.0

    def reset(self) -> None:
        self.__init__()
