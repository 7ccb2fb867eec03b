"""Face alignment: a similarity transform from stable landmarks to a template.

Every face is warped to a fixed ``CROP_SIZE`` x ``CROP_SIZE`` grey crop in
which the outer eye corners sit at fixed positions.  Because the transform
uses only landmarks that do not move with facial expressions (eye corners,
nose ridge), head translation, in-plane rotation and scale are removed
while expression motion is kept.  What is left of global motion (landmark
jitter, out-of-plane rotation) is compensated later by subtracting the
motion of a rigid reference region (see :mod:`mer_edge._flow`).

Template units: the distance between the outer eye corners is ``EYE_DISTANCE_PX``
pixels in the crop (54 px of 128), the eye centre is at ``EYE_CENTRE``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from ._errors import InputError

__all__ = [
    "CROP_SIZE",
    "TEMPLATE_NAME",
    "STABLE_LANDMARKS",
    "AlignedFace",
    "FaceAligner",
    "similarity_transform",
    "template_points",
    "to_crop_coordinates",
]

#: Side of the square aligned crop, pixels.  128 keeps DIS flow at ~0.1 ms.
CROP_SIZE = 128
#: Name written into model metadata; a model aligned differently is refused.
TEMPLATE_NAME = "mer_edge-eyes54-128-v2"
#: Outer eye corner distance in the crop, pixels.
EYE_DISTANCE_PX = 54.0
#: Mid-point of the outer eye corners in the crop, pixels (x, y).
EYE_CENTRE = (64.0, 46.0)

#: MediaPipe FaceMesh indices that do not move with expressions: outer and
#: inner eye corners and three points down the nose ridge.  The point between
#: the brows (168) is left out on purpose: brow actions (AU1, AU2, AU4) move
#: it, and the whole crop would then shift with them.
STABLE_LANDMARKS = np.array([33, 133, 362, 263, 6, 197, 195], dtype=np.int64)
# Canonical positions of STABLE_LANDMARKS in eye-distance units, origin at the
# eye centre, measured on frontal faces and symmetrised.
_CANONICAL = np.array(
    [[-0.50, 0.000], [-0.19, 0.028], [0.19, 0.028], [0.50, 0.000],
     [0.00, 0.050], [0.00, 0.130], [0.00, 0.200]], dtype=np.float64)


def template_points() -> np.ndarray:
    """Crop-pixel positions ``(7, 2) float64`` of :data:`STABLE_LANDMARKS`."""
    return _CANONICAL * EYE_DISTANCE_PX + np.asarray(EYE_CENTRE)


def to_crop_coordinates(points_eye_units: np.ndarray) -> np.ndarray:
    """Map ``(N, 2)`` points in eye-distance units (origin eye centre) to crop px."""
    return np.asarray(points_eye_units, dtype=np.float64) * EYE_DISTANCE_PX + np.asarray(EYE_CENTRE)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift) mapping src to dst.

    Closed form (Umeyama without reflection).  ``src``, ``dst``: ``(N, 2)``.
    Returns the ``(2, 3) float64`` matrix for :func:`cv2.warpAffine`.
    """
    return _similarity_onto(np.asarray(src, dtype=np.float64),
                            _CentredPoints.of(np.asarray(dst, dtype=np.float64)))


class _CentredPoints(NamedTuple):
    """Points ``(N, 2) float64`` as their mean ``(2,)`` and the columns ``(2, N)`` about it."""

    mean: np.ndarray
    columns: np.ndarray

    @classmethod
    def of(cls, points: np.ndarray) -> "_CentredPoints":
        mean = points.sum(0) / len(points)  # what points.mean(0) computes, without its overhead
        return cls(mean, np.ascontiguousarray((points - mean).T))


def _similarity_onto(src: np.ndarray, dst: _CentredPoints) -> np.ndarray:
    """:func:`similarity_transform` from ``src`` ``(N, 2) float64`` to centred points."""
    mu_s = src.sum(0) / len(src)
    s = src - mu_s
    var_s = (s * s).sum()
    if var_s <= 1e-9:
        raise InputError("cannot align: the stable landmarks coincide")
    # For 2-D similarity: a = sum(s.d)/var, b = sum(s x d)/var
    (sx, sy), (dx, dy) = s.T, dst.columns
    a = (sx * dx + sy * dy).sum() / var_s
    b = (sx * dy - sy * dx).sum() / var_s
    matrix = np.empty((2, 3))
    matrix[:, :2] = rot = np.array([[a, -b], [b, a]])
    matrix[:, 2] = dst.mean - rot @ mu_s
    return matrix


@dataclass(frozen=True)
class AlignedFace:
    """A face warped to the template.

    Attributes:
        crop: ``(CROP_SIZE, CROP_SIZE) uint8`` grey crop.
        matrix: ``(2, 3) float64`` source-pixel -> crop-pixel transform.
        landmarks: ``(N, 2) float32`` landmarks in crop pixels.
    """

    crop: np.ndarray
    matrix: np.ndarray
    landmarks: np.ndarray

    @property
    def scale(self) -> float:
        """Crop pixels per source pixel."""
        return float(np.hypot(self.matrix[0, 0], self.matrix[1, 0]))


class FaceAligner:
    """Warps faces to the canonical template.

    Args:
        smoothing: weight in ``[0, 1)`` of the previous transform in an
            exponential moving average of the stable landmarks, per track; it
            damps landmark jitter (which would look like facial motion) at the
            cost of a little lag under fast head motion.  0 disables it.
    """

    def __init__(self, smoothing: float = 0.5) -> None:
        if not 0.0 <= smoothing < 1.0:
            raise InputError(f"alignment smoothing must be in [0, 1), got {smoothing}")
        self._smoothing = smoothing
        self._template = _CentredPoints.of(template_points())
        self._state: dict[int, np.ndarray] = {}

    def align(self, image: np.ndarray, landmarks: np.ndarray, track_id: int = 0) -> AlignedFace:
        """Align one face given its ``(N, 2)`` source landmarks.

        ``image`` is the frame, grey ``(H, W)`` or BGR ``(H, W, 3)``; a BGR
        frame is warped first and only the small crop converted to grey.
        """
        marks = np.asarray(landmarks, dtype=np.float32)
        if marks.ndim != 2 or marks.shape[0] <= int(STABLE_LANDMARKS.max()) or marks.shape[1] != 2:
            raise InputError(
                f"landmarks: expected (N>={int(STABLE_LANDMARKS.max()) + 1}, 2), got {marks.shape}")
        stable = marks[STABLE_LANDMARKS].astype(np.float64)
        previous = self._state.get(track_id)
        if previous is not None and self._smoothing > 0.0:
            # Follow large moves at once (a real head move), damp small jitter.
            jump = np.abs(stable - previous).max()
            eye = stable[3] - stable[0]
            eye_px = math.sqrt(eye.dot(eye))  # np.linalg.norm's own sum, without its overhead
            weight = self._smoothing if jump < 0.05 * eye_px else 0.0
            stable = weight * previous + (1.0 - weight) * stable
        self._state[track_id] = stable
        matrix = _similarity_onto(stable, self._template)
        crop = cv2.warpAffine(image, matrix, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        if crop.ndim == 3:
            crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        crop_marks = marks @ matrix[:, :2].T.astype(np.float32) + matrix[:, 2].astype(np.float32)
        return AlignedFace(crop=crop, matrix=matrix, landmarks=crop_marks)

    def forget(self, track_id: int) -> None:
        """Drop the smoothing state of an ended track."""
        self._state.pop(track_id, None)
