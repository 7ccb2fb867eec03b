"""Result types: what the engine reports about faces and expressions.

All results validate themselves on construction and say "expected X, got Y"
when they are built wrong.  Units are explicit in every field name or
docstring: pixels, milliseconds, frame indices (0-based, in source frames).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

import numpy as np

from ._errors import InputError

__all__ = ["FaceTrack", "SpottedInterval", "MicroExpression", "ExpressionKind"]

ExpressionKind = Literal["ME", "MaE"]
_KINDS = ("ME", "MaE")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InputError(message)


@dataclass(frozen=True)
class FaceTrack:
    """One tracked face in one frame.

    Attributes:
        track_id: stable id of the person across frames (>= 0).
        frame_index: 0-based index of the source frame.
        timestamp_ms: presentation time of the frame in milliseconds.
        box: ``(4,) float32`` ``[x0, y0, x1, y1]`` in source-frame pixels.
        landmarks: ``(N, 2) float32`` landmark positions in source-frame pixels.
        score: spotting score of the window ending at this frame (``nan``
            until the spotting window is full); a look-ahead spotter
            (``window.lag_ms``) means it for the frame ``lag_ms`` earlier.
        macro_score: the macro spotter's score of its window ending at this
            frame, read as ``score`` (``nan`` until its window is full);
            ``None`` when the engine runs no macro spotter
            (``EngineOptions.macro_spotting_model``).
    """

    track_id: int
    frame_index: int
    timestamp_ms: float
    box: np.ndarray
    landmarks: np.ndarray
    score: float = math.nan
    macro_score: Optional[float] = None

    def __post_init__(self) -> None:
        _require(self.track_id >= 0, f"track_id must be >= 0, got {self.track_id}")
        _require(self.frame_index >= 0, f"frame_index must be >= 0, got {self.frame_index}")
        box = np.asarray(self.box, dtype=np.float32)
        _require(box.shape == (4,), f"box: expected shape (4,), got {box.shape}")
        _require(bool(box[2] >= box[0] and box[3] >= box[1]),
                 f"box: expected x0<=x1 and y0<=y1, got {box.tolist()}")
        marks = np.asarray(self.landmarks, dtype=np.float32)
        _require(marks.ndim == 2 and marks.shape[1] == 2,
                 f"landmarks: expected shape (N, 2), got {marks.shape}")
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "landmarks", marks)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``--tracks`` files (plain Python values).

        Keys: ``frame``, ``timestamp_ms``, ``track_id``, ``box``
        (``[x0, y0, x1, y1]`` pixels) and ``score`` (``None`` for ``nan``);
        the landmarks and ``macro_score`` are left out.
        """
        return {
            "frame": self.frame_index,
            "timestamp_ms": round(float(self.timestamp_ms), 3),
            "track_id": self.track_id,
            "box": [round(float(v), 2) for v in self.box],
            "score": None if math.isnan(self.score) else round(float(self.score), 5),
        }


@dataclass(frozen=True)
class SpottedInterval:
    """A facial movement found by the spotter, before recognition.

    Frame indices are 0-based source frames; ``onset <= apex <= offset``.
    ``kind`` is ``"ME"`` (micro-expression, short) or ``"MaE"``
    (macro-expression, long), decided from the duration.
    """

    track_id: int
    onset_frame: int
    apex_frame: int
    offset_frame: int
    onset_ms: float
    apex_ms: float
    offset_ms: float
    score: float
    kind: ExpressionKind

    def __post_init__(self) -> None:
        _require(self.kind in _KINDS, f"kind: expected one of {_KINDS}, got {self.kind!r}")
        _require(0 <= self.onset_frame <= self.apex_frame <= self.offset_frame,
                 "expected 0 <= onset_frame <= apex_frame <= offset_frame, got "
                 f"{self.onset_frame}, {self.apex_frame}, {self.offset_frame}")
        _require(self.onset_ms <= self.apex_ms <= self.offset_ms,
                 "expected onset_ms <= apex_ms <= offset_ms, got "
                 f"{self.onset_ms}, {self.apex_ms}, {self.offset_ms}")
        _require(math.isfinite(self.score), f"score must be finite, got {self.score}")

    @property
    def duration_ms(self) -> float:
        return self.offset_ms - self.onset_ms

    @property
    def length_frames(self) -> int:
        """Inclusive frame count, as in the MEGC protocol."""
        return self.offset_frame - self.onset_frame + 1


@dataclass(frozen=True)
class MicroExpression:
    """A spotted interval with its recognised class.

    ``probs`` maps class name to probability (summing to 1 within 1e-3);
    ``label`` is the most probable class.  Events of kind ``"MaE"`` are
    reported too (with recognition) so users can filter on ``type``.
    """

    interval: SpottedInterval
    label: str
    probs: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.probs:
            _require(self.label in self.probs,
                     f"label {self.label!r} is not among the classes {sorted(self.probs)}")
            total = sum(self.probs.values())
            _require(abs(total - 1.0) < 1e-3, f"probs must sum to 1, got {total:.4f}")

    @property
    def track_id(self) -> int:
        return self.interval.track_id

    @property
    def kind(self) -> ExpressionKind:
        return self.interval.kind

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``--out`` event files (plain Python values).

        Keys: ``track_id``; ``type`` (the :attr:`kind`, ``"ME"`` or
        ``"MaE"``); ``onset_frame``, ``apex_frame``, ``offset_frame``
        (0-based frame indices of the stream); ``onset_ms``, ``apex_ms``,
        ``offset_ms`` (the timestamps those frames were given, rounded to
        1 µs); ``score`` (the spotting score at the apex); ``label`` and
        ``probs`` (class name -> probability; ``"unknown"`` and ``{}``
        without recognition).
        """
        iv = self.interval
        return {
            "track_id": iv.track_id,
            "type": iv.kind,
            "onset_frame": iv.onset_frame,
            "apex_frame": iv.apex_frame,
            "offset_frame": iv.offset_frame,
            "onset_ms": round(float(iv.onset_ms), 3),
            "apex_ms": round(float(iv.apex_ms), 3),
            "offset_ms": round(float(iv.offset_ms), 3),
            "score": round(float(iv.score), 5),
            "label": self.label,
            "probs": {k: round(float(v), 5) for k, v in self.probs.items()},
        }
