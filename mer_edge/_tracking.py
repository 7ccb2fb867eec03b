"""Stable ids for the faces found frame after frame.

:class:`FaceTracker` gives every face a ``track_id`` that stays the same while
the person is in view, survives a few frames without a detection, and is never
given to anyone else.  Each update predicts where every track's box is now
(constant velocity of the box centre), scores every (track, face) pair with a
matching strategy chosen by name, and solves the assignment optimally
(``scipy.optimize.linear_sum_assignment``; a greedy solver when SciPy is
missing), so two people who cross keep their ids.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ._errors import InputError
from ._frontend import FaceObservation

__all__ = ["FaceTracker", "Matching", "IouMatching", "CentroidMatching", "MATCHINGS",
           "make_matching"]


def _check_number(name: str, value: float, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InputError(f"{name}: expected a number in [{low}, {high}], got {value!r}")
    return float(value)


class Matching(ABC):
    """How alike a predicted track box and an observed face box are.

    :meth:`cost` returns a ``(T, D)`` matrix, lower is better, ``inf`` where a
    pair must not be matched.
    """

    name: str = ""

    @abstractmethod
    def cost(self, predicted: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """Costs of ``predicted`` ``(T, 4)`` against ``observed`` ``(D, 4)`` boxes (pixels)."""


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` intersection over union of ``[x0, y0, x1, y1]`` boxes."""
    a = a[:, None, :]
    b = b[None, :, :]
    # np.maximum(x, 0) is np.clip(x, 0, None) without its Python wrapper (a frame's cost)
    w = np.maximum(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0.0)
    h = np.maximum(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0.0)
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _centers(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, :2] + boxes[:, 2:]) / 2


def _sizes(boxes: np.ndarray) -> np.ndarray:
    """Side of the square with the box's area, at least one pixel."""
    wh = np.clip(boxes[:, 2:] - boxes[:, :2], 1.0, None)
    return np.sqrt(wh[:, 0] * wh[:, 1])


class IouMatching(Matching):
    """Cost ``1 - IoU``; pairs overlapping less than ``min_iou`` are not matched."""

    name = "iou"

    def __init__(self, min_iou: float = 0.1) -> None:
        self.min_iou = _check_number("min_iou", min_iou, 0.0, 1.0)

    def cost(self, predicted: np.ndarray, observed: np.ndarray) -> np.ndarray:
        iou = iou_matrix(predicted, observed)
        return np.where((iou >= self.min_iou) & (iou > 0), 1.0 - iou, np.inf)

    def __repr__(self) -> str:
        return f"IouMatching(min_iou={self.min_iou})"


class CentroidMatching(Matching):
    """Cost: centre distance in units of the track's box size.

    Pairs farther apart than ``max_distance`` box sizes are not matched.
    """

    name = "centroid"

    def __init__(self, max_distance: float = 0.75) -> None:
        self.max_distance = _check_number("max_distance", max_distance, 0.0, 100.0)

    def cost(self, predicted: np.ndarray, observed: np.ndarray) -> np.ndarray:
        gap = np.linalg.norm(_centers(predicted)[:, None, :] - _centers(observed)[None, :, :],
                             axis=2)
        distance = gap / _sizes(predicted)[:, None]
        return np.where(distance <= self.max_distance, distance, np.inf)

    def __repr__(self) -> str:
        return f"CentroidMatching(max_distance={self.max_distance})"


MATCHINGS: dict[str, Callable[..., Matching]] = {
    IouMatching.name: IouMatching,
    CentroidMatching.name: CentroidMatching,
}
"""Matching strategies by name."""


def make_matching(name: str, **params: float) -> Matching:
    """The matching strategy called ``name``; an unknown name lists the valid ones."""
    try:
        factory = MATCHINGS[name]
    except (KeyError, TypeError):
        raise InputError(f"unknown matching {name!r}; valid: {', '.join(sorted(MATCHINGS))}") \
            from None
    return factory(**params)


def _optimal_solver() -> Callable[..., tuple[np.ndarray, np.ndarray]] | None:
    """SciPy's assignment solver, or None (greedy) when SciPy is missing."""
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError:
        return None
    return linear_sum_assignment


def _assign(cost: np.ndarray) -> list[tuple[int, int]]:
    """Row/column pairs of minimum total cost, never using ``inf`` entries."""
    if cost.size == 0:
        return []
    finite = np.isfinite(cost)
    if not finite.any():
        return []
    if cost.shape == (1, 1):
        return [(0, 0)]
    linear_sum_assignment = _optimal_solver()
    if linear_sum_assignment is None:
        return _assign_greedy(cost)
    # Forbidden pairs get a cost no allowed assignment can beat, then are dropped.
    big = float(cost[finite].max()) * (min(cost.shape) + 1) + 1.0
    rows, cols = linear_sum_assignment(np.where(finite, cost, big))
    return [(int(r), int(c)) for r, c in zip(rows, cols) if finite[r, c]]


def _assign_greedy(cost: np.ndarray) -> list[tuple[int, int]]:
    """Cheapest pairs first; used only when SciPy is not installed."""
    pairs: list[tuple[int, int]] = []
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    for flat in np.argsort(cost, axis=None, kind="stable"):
        r, c = divmod(int(flat), cost.shape[1])
        if not np.isfinite(cost[r, c]):
            break
        if r not in used_rows and c not in used_cols:
            pairs.append((r, c))
            used_rows.add(r)
            used_cols.add(c)
    return pairs


@dataclass
class _Track:
    """Motion state of one track; box and velocity in source-frame pixels."""

    track_id: int
    box: np.ndarray
    last_frame: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2, dtype=np.float64))
    missed: int = 0

    def predict(self, frame_index: int, horizon: int) -> np.ndarray:
        """The box moved by the velocity for up to ``horizon`` frames since last seen."""
        steps = min(frame_index - self.last_frame, horizon)
        shift = self.velocity * steps
        return self.box + np.concatenate([shift, shift])


class FaceTracker:
    """Gives each face a stable ``track_id`` across frames.

    Args:
        max_missed: updates in a row a track may go unmatched before it ends;
            a face that comes back within that keeps its id, later it gets a
            new one.  Ids are never reused.
        matching: strategy name (``"iou"`` or ``"centroid"``, see
            :data:`MATCHINGS`) or a :class:`Matching` object.
        velocity_smoothing: weight of the newest displacement in the centre
            velocity estimate, in ``[0, 1]`` (0 = no motion prediction).
        prediction_horizon: most frames the velocity is extrapolated over
            while a track goes unseen; after that its box is held.

    Raises:
        InputError: an argument is out of range or names no strategy.
    """

    def __init__(self, max_missed: int = 10, *, matching: str | Matching = "iou",
                 velocity_smoothing: float = 0.5, prediction_horizon: int = 3) -> None:
        if isinstance(max_missed, bool) or not isinstance(max_missed, int) or max_missed < 0:
            raise InputError(f"max_missed: expected an int >= 0, got {max_missed!r}")
        if (isinstance(prediction_horizon, bool) or not isinstance(prediction_horizon, int)
                or prediction_horizon < 0):
            raise InputError(f"prediction_horizon: expected an int >= 0, "
                             f"got {prediction_horizon!r}")
        self.max_missed = max_missed
        self.matching = matching if isinstance(matching, Matching) else make_matching(matching)
        self.velocity_smoothing = _check_number("velocity_smoothing", velocity_smoothing, 0, 1)
        self.prediction_horizon = prediction_horizon
        self._next_id = 0
        _optimal_solver()  # import SciPy now, not on the first crowded frame
        self.reset()

    def reset(self) -> None:
        """Drop every track; ids keep counting up (they are never reused)."""
        self._tracks: list[_Track] = []
        self._ended: list[int] = []
        self._last_frame: int | None = None

    @property
    def active_ids(self) -> list[int]:
        """Ids of the tracks alive after the last update, matched or not."""
        return [t.track_id for t in self._tracks]

    def ended_tracks(self) -> list[int]:
        """Ids of the tracks that ended in the last :meth:`update` (reported once)."""
        return list(self._ended)

    def update(self, observations: list[FaceObservation] | None,
               frame_index: int) -> list[tuple[int, FaceObservation]]:
        """Match the faces of frame ``frame_index`` to tracks.

        ``observations`` is ``None`` for a frame that was dropped before face
        detection: tracks age as on a frame without faces.

        Returns ``(track_id, observation)`` pairs in the order of
        ``observations``; faces that match no track start a new one.

        Raises:
            InputError: ``frame_index`` does not increase.
        """
        if isinstance(frame_index, bool) or not isinstance(frame_index, (int, np.integer)):
            raise InputError(f"frame_index: expected an int, got {frame_index!r}")
        frame_index = int(frame_index)
        if self._last_frame is not None and frame_index <= self._last_frame:
            raise InputError(f"frame_index must increase: got {frame_index} after "
                             f"{self._last_frame}")
        self._last_frame = frame_index
        faces = list(observations or [])
        boxes = (np.stack([np.asarray(f.box, dtype=np.float64) for f in faces])
                 if faces else np.zeros((0, 4)))
        predicted = (np.stack([t.predict(frame_index, self.prediction_horizon)
                               for t in self._tracks]) if self._tracks else np.zeros((0, 4)))
        pairs = _assign(self.matching.cost(predicted, boxes)) if faces and self._tracks else []

        ids: list[int | None] = [None] * len(faces)
        matched_tracks = set()
        for row, col in pairs:
            track = self._tracks[row]
            self._observe(track, boxes[col], frame_index)
            ids[col] = track.track_id
            matched_tracks.add(row)
        self._ended = []
        survivors = []
        for row, track in enumerate(self._tracks):
            if row not in matched_tracks:
                track.missed += 1
                if track.missed > self.max_missed:
                    self._ended.append(track.track_id)
                    continue
            survivors.append(track)
        self._tracks = survivors
        for col, face_id in enumerate(ids):
            if face_id is None:
                track = _Track(self._next_id, boxes[col].copy(), frame_index)
                self._next_id += 1
                self._tracks.append(track)
                ids[col] = track.track_id
        return [(int(i), f) for i, f in zip(ids, faces)]  # type: ignore[arg-type]

    def _observe(self, track: _Track, box: np.ndarray, frame_index: int) -> None:
        steps = frame_index - track.last_frame
        shift = (_centers(box[None])[0] - _centers(track.box[None])[0]) / steps
        a = self.velocity_smoothing
        track.velocity = a * shift + (1 - a) * track.velocity
        track.box = box.copy()
        track.last_frame = frame_index
        track.missed = 0
