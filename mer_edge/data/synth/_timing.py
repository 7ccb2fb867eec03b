"""Timing and amplitude of synthetic movements, from the real datasets' statistics.

Facts measured on the real annotation sheets (see the data manifest):

* CAS(ME)^2 micro-expressions last 9-17 frames at 30 fps (0.30-0.57 s);
  its macro-expressions 4-118 frames, median 35.5 (1.18 s);
* SAMM long videos: micro 30-101 frames at 200 fps (0.15-0.5 s);
* CASME II: onset to apex median 30 frames, duration median 60 at 200 fps.

:class:`EventStats` holds the ranges the generator samples from (seconds and
IOD units, so any frame rate works).  The intensity of a movement over time
(:func:`temporal_profile`) rises from 0 at the onset frame to 1 at the apex
with a smoothstep and falls back to 0 at the offset frame, more slowly: the
rise takes a fraction ``rise_fraction`` < 1/2 of the movement.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..._errors import InputError

__all__ = ["EventStats", "EventTiming", "temporal_profile", "sample_timing", "sample_amplitude"]


def _check_range(name: str, pair: tuple[float, float], low: float = 0.0) -> None:
    if len(pair) != 2 or not (low <= pair[0] <= pair[1]):
        raise InputError(f"{name}: expected (min, max) with {low} <= min <= max, got {pair!r}")


@dataclass(frozen=True)
class EventStats:
    """Ranges the generator samples movements from.

    Attributes:
        me_duration_s: micro-expression length, seconds (uniform); CAS(ME)^2.
        mae_duration_s: macro-expression length bounds, seconds; the length
            is log-normal around ``mae_median_s``, clipped to these bounds
            (the lower bound is above the ME range: distractors are longer).
        mae_median_s: median macro-expression length (CAS(ME)^2: 35.5/30 s).
        rise_fraction: onset-to-apex share of the movement (uniform).
        me_amplitude: apex displacement of MEs, IOD units (log-uniform).
        mae_amplitude: apex displacement of macro-expressions, IOD units.
        me_per_20s: micro-expressions per 20 s of usable face (uniform).
        mae_per_20s: macro-expressions per 20 s of usable face.
        gap_s: least time between two movements (offset to next onset).
        edge_s: no movement this close to the start or end of a video, so
            recognition clips can take frames before and after it.
    """

    me_duration_s: tuple[float, float] = (0.30, 0.57)
    mae_duration_s: tuple[float, float] = (0.8, 3.9)
    mae_median_s: float = 35.5 / 30.0
    rise_fraction: tuple[float, float] = (0.25, 0.45)
    me_amplitude: tuple[float, float] = (0.01, 0.05)
    mae_amplitude: tuple[float, float] = (0.05, 0.20)
    me_per_20s: tuple[float, float] = (3.0, 6.0)
    mae_per_20s: tuple[float, float] = (1.0, 2.0)
    gap_s: float = 1.0
    edge_s: float = 0.5

    def __post_init__(self) -> None:
        for name in ("me_duration_s", "mae_duration_s", "me_amplitude", "mae_amplitude",
                     "me_per_20s", "mae_per_20s"):
            _check_range(name, getattr(self, name))
        _check_range("rise_fraction", self.rise_fraction)
        if self.rise_fraction[1] >= 0.5:
            raise InputError(f"rise_fraction: the rise must be shorter than the fall "
                             f"(max < 0.5), got {self.rise_fraction}")
        if self.me_amplitude[0] <= 0:
            raise InputError(f"me_amplitude: expected > 0, got {self.me_amplitude}")
        if self.gap_s < 0 or self.edge_s < 0 or self.mae_median_s <= 0:
            raise InputError(f"gap_s, edge_s >= 0 and mae_median_s > 0 expected, got "
                             f"{self.gap_s}, {self.edge_s}, {self.mae_median_s}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (written into the bench manifest)."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in asdict(self).items()}


@dataclass(frozen=True)
class EventTiming:
    """Frames of one movement, 0-based indices into its video.

    ``onset`` and ``offset`` are the last and first frames at rest (intensity
    0), ``apex`` the frame of intensity 1; ``onset < apex < offset``.
    """

    onset: int
    apex: int
    offset: int

    def __post_init__(self) -> None:
        if not 0 <= self.onset < self.apex < self.offset:
            raise InputError(f"timing: expected 0 <= onset < apex < offset, got "
                             f"{self.onset}, {self.apex}, {self.offset}")

    @property
    def frames(self) -> int:
        """Inclusive length in frames, ``offset - onset + 1``."""
        return self.offset - self.onset + 1


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def temporal_profile(frames: np.ndarray | int, timing: EventTiming) -> np.ndarray:
    """Intensity in ``[0, 1]`` at each 0-based frame index (0 outside the movement)."""
    t = np.asarray(frames, dtype=np.float64)
    rise = _smoothstep((t - timing.onset) / (timing.apex - timing.onset))
    fall = _smoothstep((timing.offset - t) / (timing.offset - timing.apex))
    return np.where(t <= timing.apex, rise, fall)


def sample_timing(rng: np.random.Generator, kind: str, fps: float,
                  stats: EventStats) -> tuple[int, int]:
    """Draw ``(length_frames, rise_frames)`` of a movement of *kind* (``ME``/``MaE``)."""
    if kind == "ME":
        seconds = rng.uniform(*stats.me_duration_s)
    elif kind == "MaE":
        seconds = float(np.clip(stats.mae_median_s * np.exp(rng.normal(0.0, 0.6)),
                                *stats.mae_duration_s))
    else:
        raise InputError(f"kind: expected 'ME' or 'MaE', got {kind!r}")
    length = max(4, int(round(seconds * fps)))
    span = length - 1
    rise = int(round(rng.uniform(*stats.rise_fraction) * span))
    # Strictly shorter rise than fall, at least one frame each.
    return length, int(np.clip(rise, 1, (span - 1) // 2))


def sample_amplitude(rng: np.random.Generator, kind: str, stats: EventStats) -> float:
    """Apex displacement in IOD units: log-uniform for MEs, uniform for macro-expressions."""
    if kind == "ME":
        low, high = stats.me_amplitude
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))
    return float(rng.uniform(*stats.mae_amplitude))
