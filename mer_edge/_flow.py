"""Optical flow on aligned crops and the facial regions of interest.

Flow is OpenCV's DIS on the ``CROP_SIZE`` grey crops (about 0.1 ms a pair).
Head motion that alignment did not remove (landmark jitter, small
out-of-plane rotation) shows up as a common translation of the whole face;
it is estimated from the nose-ridge reference region, which almost no action
unit moves, and subtracted (the MEGC practice).
"""
from __future__ import annotations


import cv2
import numpy as np

from ._alignment import CROP_SIZE, to_crop_coordinates
from ._errors import InputError

__all__ = ["ROI_NAMES", "REFERENCE_ROI", "FlowEstimator", "roi_masks", "roi_magnitudes", "roi_means"]

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


_REFERENCE_SLICES = _box_slices(REFERENCE_ROI, CROP_SIZE)
_ROI_MASKS = roi_masks(CROP_SIZE)
_ROI_WEIGHTS = (_ROI_MASKS / _ROI_MASKS.sum(axis=(1, 2), keepdims=True)).reshape(len(ROI_NAMES), -1)


class FlowEstimator:
    """Dense flow between two aligned crops, head motion compensated.

    Args:
        preset: DIS preset name, one of ``ultrafast``, ``fast``, ``medium``.
    """

    _PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
                "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}

    def __init__(self, preset: str = "fast") -> None:
        if preset not in self._PRESETS:
            raise InputError(f"unknown flow preset {preset!r}; valid: {sorted(self._PRESETS)}")
        self.preset = preset
        self._dis = cv2.DISOpticalFlow_create(self._PRESETS[preset])

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        """Flow ``(H, W, 2) float32`` in crop pixels from ``previous`` to ``current``.

        The median motion of the nose-ridge reference region is subtracted.
        """
        if previous.shape != current.shape or previous.dtype != np.uint8 or previous.ndim != 2:
            raise InputError(
                f"flow: expected two equal 2-D uint8 crops, got {previous.shape}/{previous.dtype}"
                f" and {current.shape}/{current.dtype}")
        flow = self._dis.calc(previous, current, None)
        if flow.shape[:2] == (CROP_SIZE, CROP_SIZE):
            flow -= np.median(flow[_REFERENCE_SLICES].reshape(-1, 2), axis=0)
        return flow


def _check_crop_flow(flow: np.ndarray) -> None:
    if flow.shape != (CROP_SIZE, CROP_SIZE, 2):
        raise InputError(f"flow: expected ({CROP_SIZE}, {CROP_SIZE}, 2), got {flow.shape}")


def roi_means(flow: np.ndarray) -> np.ndarray:
    """Mean flow vector ``(R, 2) float32`` (x, y) in each of :data:`ROI_NAMES`."""
    _check_crop_flow(flow)
    return (_ROI_WEIGHTS @ flow.reshape(-1, 2)).astype(np.float32)


def roi_magnitudes(flow: np.ndarray) -> np.ndarray:
    """Mean flow magnitude ``(R,) float32`` in each of :data:`ROI_NAMES`."""
    _check_crop_flow(flow)
    magnitude = np.sqrt(flow[..., 0] ** 2 + flow[..., 1] ** 2).reshape(-1)
    return (_ROI_WEIGHTS @ magnitude).astype(np.float32)
