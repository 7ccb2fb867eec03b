"""Per-stage timing on ``time.monotonic``-class clocks, built into the engine."""
from __future__ import annotations

import time

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

    def stage(self, name: str) -> "_Stage":
        """``with timer.stage(name):`` adds the block's wall time to stage ``name``."""
        return _Stage(self._totals, name)

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


class _Stage:
    """One timed block of :meth:`StageTimer.stage` (a class: a generator-based context
    manager costs a few microseconds a block, several blocks a frame)."""

    __slots__ = ("_totals", "_name", "_start")

    def __init__(self, totals: dict[str, float], name: str) -> None:
        self._totals = totals
        self._name = name
        self._start = 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc_info: object) -> None:
        self._totals[self._name] = (self._totals.get(self._name, 0.0)
                                    + time.perf_counter() - self._start)
