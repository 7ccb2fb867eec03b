"""Optical flow on aligned crops and the facial regions of interest.

Flow is OpenCV's DIS on the ``CROP_SIZE`` grey crops (about 0.1 ms a pair).
Head motion that alignment did not remove (landmark jitter, small
out-of-plane rotation) moves the whole face and is subtracted, in one of two
ways (:data:`FLOW_COMPENSATIONS`, a model's ``input.flow_compensation``):

* ``"translation"``: the median flow of the nose-ridge reference region,
  which almost no action unit moves (the MEGC practice);
* ``"similarity"``: a shift, rotation and scale fitted to the flow of the
  whole face by robust (iteratively reweighted) least squares.  Landmark
  jitter makes the crops of a still face rotate and zoom by fractions of a
  degree and a per cent from frame to frame, which a translation cannot
  remove; a facial action moves only part of the face and is down-weighted
  as an outlier of the fit.  On an animated portrait it cuts the spotting
  score's noise about fourfold, to what perfect landmarks give.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from ._alignment import CROP_SIZE, EYE_DISTANCE_PX, to_crop_coordinates
from ._errors import InputError

if TYPE_CHECKING:
    from ._modelmeta import InputSpec

__all__ = ["ROI_NAMES", "REFERENCE_ROI", "FLOW_COMPENSATIONS", "FlowEstimator", "compensate", "roi_masks",
           "roi_magnitudes", "roi_means", "similarity_motion"]

# Regions in eye-distance units: (centre x, centre y, width, height); the
# subject's right side is on the image left.  Chosen to cover the action
# units most frequent in micro-expressions while avoiding the eyes (blinks).
_ROI_BOXES: dict[str, tuple[float, float, float, float]] = {
    "brow_right": (-0.42, -0.22, 0.42, 0.22),   # AU1, AU2, AU4 (image left)
    "brow_left": (0.42, -0.22, 0.42, 0.22),
    "glabella": (0.00, -0.16, 0.26, 0.20),      # AU4
    "cheek_right": (-0.40, 0.36, 0.30, 0.24),   # AU6, lower lid AU7
    "cheek_left": (0.40, 0.36, 0.30, 0.24),
    "nose_wing": (0.00, 0.40, 0.40, 0.18),      # AU9, AU10
    "mouth_right": (-0.30, 0.70, 0.26, 0.26),   # AU12, AU14, AU15
    "mouth_left": (0.30, 0.70, 0.26, 0.26),
    "lips": (0.00, 0.70, 0.30, 0.22),           # AU24, AU10
    "chin": (0.00, 1.00, 0.44, 0.20),           # AU17
}
#: Region names in the order used by every per-ROI feature vector.
ROI_NAMES: tuple[str, ...] = tuple(_ROI_BOXES)
#: Rigid region used to estimate residual head motion: the nose ridge below
#: the eyes (brow actions move the skin between the brows, so not there).
REFERENCE_ROI = (0.00, 0.25, 0.14, 0.20)


def _box_slices(box: tuple[float, float, float, float], size: int) -> tuple[slice, slice]:
    """Row and column slices of a region box at a crop size."""
    cx, cy, w, h = box
    (x0, y0), (x1, y1) = to_crop_coordinates(np.array([[cx - w / 2, cy - h / 2],
                                                       [cx + w / 2, cy + h / 2]]))
    scale = size / CROP_SIZE
    return (slice(max(0, int(round(y0 * scale))), int(round(y1 * scale))),
            slice(max(0, int(round(x0 * scale))), int(round(x1 * scale))))


def _box_mask(box: tuple[float, float, float, float], size: int) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[_box_slices(box, size)] = True
    return mask


def roi_masks(size: int = CROP_SIZE) -> np.ndarray:
    """Boolean masks ``(R, size, size)`` of :data:`ROI_NAMES` at a crop size."""
    return np.stack([_box_mask(box, size) for box in _ROI_BOXES.values()])


#: Ways of removing residual head motion from the flow (see the module docstring).
FLOW_COMPENSATIONS: tuple[str, ...] = ("translation", "similarity")
#: Face region the similarity is fitted on, eye-distance units: (centre x, centre y, half
#: width, half height) of an ellipse from the forehead to the chin.
_FIT_ELLIPSE = (0.00, 0.30, 0.85, 1.00)
#: Iterations of the reweighted fit, and the residual (times the median residual) above
#: which a pixel's weight falls off as 1 / residual (Huber).
_FIT_ITERATIONS = 3
_FIT_HUBER = 1.5

_REFERENCE_SLICES = _box_slices(REFERENCE_ROI, CROP_SIZE)
_ROI_MASKS = roi_masks(CROP_SIZE)
_ROI_WEIGHTS = (_ROI_MASKS / _ROI_MASKS.sum(axis=(1, 2), keepdims=True)).reshape(len(ROI_NAMES), -1)
#: The crop pixels some region covers (flat indices), and each region's weights on them alone.
_ROI_PIXELS = np.flatnonzero(_ROI_MASKS.any(axis=0))
_ROI_PIXEL_WEIGHTS = np.ascontiguousarray(_ROI_WEIGHTS[:, _ROI_PIXELS])


def _check_compensation(compensation: str) -> None:
    """Refuse (:class:`InputError`, naming it) a compensation not in :data:`FLOW_COMPENSATIONS`."""
    if compensation not in FLOW_COMPENSATIONS:
        raise InputError(f"unknown flow compensation {compensation!r}; valid: "
                         f"{list(FLOW_COMPENSATIONS)}")


def _fit_pixels() -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of every third crop pixel inside :data:`_FIT_ELLIPSE`."""
    cx, cy, half_w, half_h = _FIT_ELLIPSE
    rows, cols = np.mgrid[0:CROP_SIZE:3, 0:CROP_SIZE:3]
    (centre_x, centre_y), = to_crop_coordinates(np.array([[cx, cy]]))
    inside = (((cols - centre_x) / (half_w * EYE_DISTANCE_PX)) ** 2
              + ((rows - centre_y) / (half_h * EYE_DISTANCE_PX)) ** 2 <= 1)
    return rows[inside], cols[inside]


_FIT_ROWS, _FIT_COLS = _fit_pixels()
_FIT_FLAT = _FIT_ROWS * CROP_SIZE + _FIT_COLS  # positions in a (CROP_SIZE * CROP_SIZE, 2) flow
#: Where the fit pixels' u and v lie in a flattened (CROP_SIZE, CROP_SIZE, 2) flow: (2, N).
_FIT_FLOW_INDEX = np.stack([2 * _FIT_FLAT, 2 * _FIT_FLAT + 1])
#: The fit pixels' x and y: (2, N) float64.
_FIT_POSITIONS = np.stack([_FIT_COLS, _FIT_ROWS]).astype(np.float64)
#: Every crop pixel's (x, y), float32 ``(CROP_SIZE, CROP_SIZE, 2)``: a similarity's field is
#: one :func:`cv2.transform` of it.
_CROP_POSITIONS = np.dstack(np.meshgrid(np.arange(CROP_SIZE, dtype=np.float32),
                                        np.arange(CROP_SIZE, dtype=np.float32)))
#: The (x, y) of :data:`_ROI_PIXELS`, ``(P, 1, 2)`` as :func:`cv2.transform` takes them.
_ROI_PIXEL_POSITIONS = _CROP_POSITIONS.reshape(-1, 1, 2)[_ROI_PIXELS]


#: The fit pixels' x, y and 1, ``(3, N) float64``: a similarity ``M (2, 3)`` moves them by
#: ``M @ _FIT_HOMOGENEOUS``.
_FIT_HOMOGENEOUS = np.concatenate([_FIT_POSITIONS, np.ones((1, _FIT_POSITIONS.shape[1]))])


def _fit_similarity(flow: np.ndarray) -> tuple[float, float, float, float]:
    """``(a, b, tx, ty)`` of the small similarity ``(a x - b y + tx, b x + a y + ty)``
    fitted to the face's flow: weighted least squares in closed form about the
    weighted centroid, each of :data:`_FIT_ITERATIONS` rounds re-weighting pixels
    by their residual (Huber: 1 up to :data:`_FIT_HUBER` times the median
    residual, falling off as 1 / residual above it)."""
    motion = flow.reshape(-1)[_FIT_FLOW_INDEX].astype(np.float64)  # (2, N): u, v
    data = np.concatenate([_FIT_HOMOGENEOUS, motion])  # (5, N): x, y, 1, u, v
    weights = None
    for round_number in range(_FIT_ITERATIONS):
        # every weighted sum of products the closed form needs, in one product
        sums = (data if weights is None else data * weights) @ data.T
        total = sums[2, 2]
        mx, my, mu, mv = sums[2, [0, 1, 3, 4]] / total
        spread = sums[0, 0] + sums[1, 1] - total * (mx * mx + my * my)
        a = (sums[0, 3] + sums[1, 4] - total * (mx * mu + my * mv)) / spread
        b = (sums[0, 4] - sums[1, 3] - total * (mx * mv - my * mu)) / spread
        tx, ty = mu - a * mx + b * my, mv - b * mx - a * my
        if round_number + 1 < _FIT_ITERATIONS:
            residual = motion - np.array([[a, -b, tx], [b, a, ty]]) @ _FIT_HOMOGENEOUS
            length = np.sqrt(np.einsum("ij,ij->j", residual, residual))
            middle = len(length) // 2
            limit = _FIT_HUBER * max(float(np.partition(length, middle)[middle]), 1e-3)
            weights = np.minimum(1.0, limit / np.maximum(length, 1e-12))
    return float(a), float(b), float(tx), float(ty)


def _similarity_matrix(flow: np.ndarray) -> np.ndarray:
    """The ``(2, 3) float32`` matrix of the similarity motion fitted to ``flow``:
    ``(u, v) = M @ (x, y, 1)``."""
    a, b, tx, ty = _fit_similarity(flow)
    return np.array([[a, -b, tx], [b, a, ty]], np.float32)


def similarity_motion(flow: np.ndarray) -> np.ndarray:
    """The flow field ``(CROP_SIZE, CROP_SIZE, 2)`` of the shift, rotation and scale
    fitted robustly to the face's flow (what :class:`FlowEstimator` subtracts with
    ``compensation="similarity"``)."""
    _check_crop_flow(flow)
    return cv2.transform(_CROP_POSITIONS, _similarity_matrix(flow))


class FlowEstimator:
    """Dense flow between two aligned crops, head motion compensated.

    Args:
        preset: DIS preset name, one of ``ultrafast``, ``fast``, ``medium``.
        compensation: how residual head motion is removed, one of
            :data:`FLOW_COMPENSATIONS` (the module docstring says how each works).
    """

    _PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
                "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}

    def __init__(self, preset: str = "fast", compensation: str = "translation") -> None:
        if preset not in self._PRESETS:
            raise InputError(f"unknown flow preset {preset!r}; valid: {sorted(self._PRESETS)}")
        _check_compensation(compensation)
        self.preset = preset
        self.compensation = compensation
        self._dis = cv2.DISOpticalFlow_create(self._PRESETS[preset])

    @classmethod
    def for_input(cls, spec: "InputSpec") -> "FlowEstimator":
        """The flow a model was trained with: its ``input.flow_preset`` and ``input.flow_compensation``."""
        return cls(spec.flow_preset, spec.flow_compensation)

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        """Flow ``(H, W, 2) float32`` in crop pixels from ``previous`` to ``current``.

        Residual head motion is subtracted as :attr:`compensation` says (a crop of
        another size is returned as DIS gives it).
        """
        return compensate(self.raw(previous, current), self.compensation)

    def raw(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        """DIS flow ``(H, W, 2) float32`` from ``previous`` to ``current``, nothing subtracted
        (:func:`compensate` does it: models that differ only in compensation share it)."""
        if previous.shape != current.shape or previous.dtype != np.uint8 or previous.ndim != 2:
            raise InputError(
                f"flow: expected two equal 2-D uint8 crops, got {previous.shape}/{previous.dtype}"
                f" and {current.shape}/{current.dtype}")
        return self._dis.calc(previous, current, None)

    def displacement(self, reference: np.ndarray, crop: np.ndarray) -> float:
        """How far the face of ``crop`` is from that of ``reference``: the largest regional mean
        flow magnitude between them (:func:`roi_magnitudes` of this estimator's flow), crop
        pixels.

        The one measure of the apex refinement, the return-to-neutral check and
        the follower of displaced faces (:mod:`mer_edge._apex`, :mod:`mer_edge._follow`).
        Head motion is subtracted at the regions' pixels alone, which is all the
        measure reads (a third of the crop).
        """
        raw = self.raw(reference, crop)
        _check_crop_flow(raw)
        flow = raw.reshape(-1, 1, 2)[_ROI_PIXELS]
        if self.compensation == "similarity":
            flow -= cv2.transform(_ROI_PIXEL_POSITIONS, _similarity_matrix(raw))
        else:
            flow -= _reference_shift(raw)
        return float((_ROI_PIXEL_WEIGHTS @ _magnitude(flow[:, 0])).astype(np.float32).max())


def compensate(flow: np.ndarray, compensation: str) -> np.ndarray:
    """Subtract residual head motion from a crop's ``flow`` in place, and return it.

    ``compensation`` is one of :data:`FLOW_COMPENSATIONS`; a flow of another size than
    ``CROP_SIZE`` is returned unchanged (the reference regions are defined on the crop).
    """
    _check_compensation(compensation)
    if flow.shape[:2] == (CROP_SIZE, CROP_SIZE):
        if compensation == "similarity":
            flow -= similarity_motion(flow)
        else:
            shift_x, shift_y = _reference_shift(flow)
            # one channel at a time: numpy's broadcast over a last axis of 2 is 5x slower
            flow[..., 0] -= shift_x
            flow[..., 1] -= shift_y
    return flow


def _reference_shift(flow: np.ndarray) -> np.ndarray:
    """The median flow ``(2,) float32`` of the nose ridge (:data:`REFERENCE_ROI`): the
    translation compensation's head motion."""
    return np.median(flow[_REFERENCE_SLICES].reshape(-1, 2), axis=0)


def _check_crop_flow(flow: np.ndarray) -> None:
    if flow.shape != (CROP_SIZE, CROP_SIZE, 2):
        raise InputError(f"flow: expected ({CROP_SIZE}, {CROP_SIZE}, 2), got {flow.shape}")


def roi_means(flow: np.ndarray) -> np.ndarray:
    """Mean flow vector ``(R, 2) float32`` (x, y) in each of :data:`ROI_NAMES`."""
    _check_crop_flow(flow)
    return (_ROI_WEIGHTS @ flow.reshape(-1, 2)).astype(np.float32)


def _magnitude(vectors: np.ndarray) -> np.ndarray:
    """Length ``(...)`` of each of ``vectors`` ``(..., 2)``, flattened."""
    return np.sqrt(vectors[..., 0] ** 2 + vectors[..., 1] ** 2).reshape(-1)


def roi_magnitudes(flow: np.ndarray) -> np.ndarray:
    """Mean flow magnitude ``(R,) float32`` in each of :data:`ROI_NAMES`."""
    _check_crop_flow(flow)
    return (_ROI_WEIGHTS @ _magnitude(flow)).astype(np.float32)
