"""Score smoothers, chosen by name.

Each smoother is a small stateful object: ``update(value)`` returns the
smoothed value; ``update(None)`` (a dropped frame or a frame without the
face) advances its state and returns the last estimate.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Protocol

from ._errors import InputError

__all__ = ["Smoother", "SMOOTHERS", "make_smoother"]


class Smoother(Protocol):
    def update(self, value: float | None) -> float: ...


class NoSmoothing:
    """Passes values through; a missing value repeats the last one."""

    def __init__(self, window: int = 1) -> None:
        self._last = 0.0

    def update(self, value: float | None) -> float:
        if value is not None:
            self._last = float(value)
        return self._last


class MovingAverage:
    """Centred-in-spirit trailing mean over ``window`` values."""

    def __init__(self, window: int = 3) -> None:
        if window < 1:
            raise InputError(f"moving-average window must be >= 1, got {window}")
        self._values: deque[float] = deque(maxlen=window)

    def update(self, value: float | None) -> float:
        if value is not None:
            self._values.append(float(value))
        elif self._values:
            self._values.append(self._values[-1])
        return sum(self._values) / len(self._values) if self._values else 0.0


class ExponentialAverage:
    """Exponential moving average with the span of a ``window``-value mean."""

    def __init__(self, window: int = 3) -> None:
        if window < 1:
            raise InputError(f"EMA window must be >= 1, got {window}")
        self._alpha = 2.0 / (window + 1.0)
        self._state: float | None = None

    def update(self, value: float | None) -> float:
        if value is not None:
            self._state = float(value) if self._state is None else (
                self._alpha * float(value) + (1.0 - self._alpha) * self._state)
        return 0.0 if self._state is None else self._state


#: Smoother name -> factory taking the window length in frames.
SMOOTHERS: dict[str, Callable[[int], Smoother]] = {
    "none": NoSmoothing,
    "moving_average": MovingAverage,
    "ema": ExponentialAverage,
}


def make_smoother(name: str, window: int) -> Smoother:
    """Build the smoother called ``name``; an unknown name lists the valid ones."""
    try:
        return SMOOTHERS[name](window)
    except KeyError:
        raise InputError(f"unknown smoother {name!r}; valid: {sorted(SMOOTHERS)}") from None
