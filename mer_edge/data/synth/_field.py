"""Smooth displacement fields on the face and artefact-free backward warping.

A field is built from the :class:`~._facs.Control` points of an AU
combination: each control moves the skin around its anchor along its
direction with a Gaussian falloff; overlapping controls are blended as a
partition of unity (``sum g_k v_k / max(1, sum g_k)``), so neighbours moving
the same way do not add up.  The field is multiplied by a soft face mask (the
landmark hull, slightly enlarged and blurred) and scaled so that its largest
displacement is exactly the requested magnitude (IOD units).

Warping is *backward*: each output pixel ``x`` samples the original frame at
``u`` with ``u + d(u) = x`` (three fixed-point iterations), with
``cv2.remap`` Lanczos-4 interpolation, only inside a padded face box.  Pixels
the field does not move are copied bit-exactly (a remap at integer positions
is the identity), so untouched frames and regions carry no trace at all.

Sub-pixel resampling removes some energy near the Nyquist frequency (up to
~15 % of the high-pass energy of a face at a half-pixel diagonal shift), which
would make moved regions a little softer than still ones.
:class:`SharpnessCompensator` measures, on the video's own face, how much
high-frequency energy each fractional offset loses and restores it per pixel
with a matched high-frequency gain (content exactly at Nyquist is lost, not
dimmed, so this matches energy, not the exact spectrum).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..._errors import InputError
from ._facs import Control

__all__ = ["FaceFrame", "WarpField", "SharpnessCompensator", "build_field", "apply_field",
           "skin_mask", "LEFT_EYE_OUTER", "RIGHT_EYE_OUTER"]

#: FaceMesh outer eye corners: subject's right (image left) and left.
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
#: Each control's radius is at least this times the movement's peak displacement,
#: so the skin does not fold (the Jacobian determinant stays above ~0.35).
_SPREAD_PER_AMPLITUDE = 1.6
#: Face-box padding around the landmark extent, IOD units.
_BOX_PAD = 0.5
#: Hull enlargement (fraction of the face size) and mask blur (IOD units).
_HULL_GROW = 0.08
_MASK_BLUR = 0.06
_MASK_BLUR_PER_AMPLITUDE = 0.8
_INVERSE_ITERATIONS = 3
#: Fractional offsets at which the sharpness loss is measured.
_FRACTIONS = np.linspace(0.0, 0.5, 3)
#: Gaussian sigma (pixels) splitting low and high frequencies for the gain.
_HIGHPASS_SIGMA = 0.8
#: Offsets below this (pixels) are below cv2.remap's 1/32-pixel resolution: identity.
_STILL = 1.0 / 128.0


@dataclass(frozen=True)
class FaceFrame:
    """Face-aligned axes: origin at the eye centre, x along the eyes, y to the chin.

    Attributes:
        origin: ``(2,)`` midpoint of the outer eye corners, pixels.
        x_axis: ``(2,)`` unit vector from landmark 33 to 263 (towards the
            subject's left, image right on a frontal face).
        y_axis: ``(2,)`` unit vector perpendicular to it, towards the chin.
        iod: outer-eye-corner distance, pixels.
    """

    origin: np.ndarray
    x_axis: np.ndarray
    y_axis: np.ndarray
    iod: float

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray) -> FaceFrame:
        """Frame of ``(468+, 2)`` pixel landmarks.

        Raises:
            InputError: wrong shape, or the eye corners coincide.
        """
        marks = np.asarray(landmarks, dtype=np.float64)
        if marks.ndim != 2 or marks.shape[0] <= LEFT_EYE_OUTER or marks.shape[1] != 2:
            raise InputError(f"landmarks: expected (468, 2) pixels, got {marks.shape}")
        right, left = marks[RIGHT_EYE_OUTER], marks[LEFT_EYE_OUTER]
        axis = left - right
        iod = float(np.hypot(*axis))
        if not np.isfinite(iod) or iod < 1.0:
            raise InputError(f"landmarks: outer eye corners {right} and {left} coincide")
        x_axis = axis / iod
        return cls((right + left) / 2.0, x_axis, np.array([-x_axis[1], x_axis[0]]), iod)

    def to_pixels(self, vector: Sequence[float]) -> np.ndarray:
        """``(2,)`` pixel vector of a face-frame vector in IOD units."""
        return self.iod * (vector[0] * self.x_axis + vector[1] * self.y_axis)


@dataclass(frozen=True)
class WarpField:
    """A displacement field over a face box.

    Attributes:
        box: ``(x0, y0, x1, y1)`` integer pixels, end exclusive.
        forward: ``(h, w, 2) float32``: where the content at each box pixel
            moves, pixels.
        inverse: ``(h, w, 2) float32``: output pixel ``x`` samples the source
            at ``x + inverse[x]``.
        iod: inter-ocular distance of the face, pixels.
    """

    box: tuple[int, int, int, int]
    forward: np.ndarray
    inverse: np.ndarray
    iod: float

    @property
    def peak(self) -> float:
        """Largest forward displacement, IOD units."""
        return float(np.sqrt((self.forward ** 2).sum(axis=2)).max()) / self.iod

    def min_jacobian(self) -> float:
        """Smallest determinant of the forward map's Jacobian; <= 0 means the skin folds."""
        dux_dy, dux_dx = np.gradient(self.forward[..., 0])
        duy_dy, duy_dx = np.gradient(self.forward[..., 1])
        return float(((1.0 + dux_dx) * (1.0 + duy_dy) - dux_dy * duy_dx).min())


def _face_box(marks: np.ndarray, iod: float, size: tuple[int, int],
              mask_blur: float) -> tuple[int, int, int, int]:
    width, height = size
    pad = max(_BOX_PAD, _HULL_GROW * 2 + 3 * mask_blur) * iod
    lo = np.floor(marks.min(axis=0) - pad).astype(int)
    hi = np.ceil(marks.max(axis=0) + pad).astype(int)
    x0, y0 = max(0, int(lo[0])), max(0, int(lo[1]))
    x1, y1 = min(width, int(hi[0])), min(height, int(hi[1]))
    if x1 - x0 < 8 or y1 - y0 < 8:
        raise InputError(f"face box {(x0, y0, x1, y1)} is (almost) outside the {size} frame")
    return x0, y0, x1, y1


def _face_mask(marks: np.ndarray, origin: np.ndarray, step: int, shape: tuple[int, int],
               blur_px: float) -> np.ndarray:
    """Soft face mask on the coarse grid, ``(gh, gw) float32`` in ``[0, 1]``."""
    hull = cv2.convexHull(marks.astype(np.float32)).reshape(-1, 2)
    centre = hull.mean(axis=0)
    hull = centre + (hull - centre) * (1.0 + _HULL_GROW)
    grid = (hull - origin + 0.5) / step - 0.5
    mask = np.zeros(shape, dtype=np.float32)
    cv2.fillConvexPoly(mask, np.round(grid * 16).astype(np.int32), 1.0,
                       lineType=cv2.LINE_AA, shift=4)
    return cv2.GaussianBlur(mask, (0, 0), max(blur_px / step, 0.5))


def skin_mask(landmarks: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``(h, w)`` bool over *box*: inside the landmark hull, 4 pixels in from its edge."""
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    hull = cv2.convexHull(np.asarray(landmarks, dtype=np.float32)).reshape(-1, 2)
    cv2.fillConvexPoly(mask, np.round(hull - (x0, y0)).astype(np.int32), 1)
    return cv2.erode(mask, np.ones((9, 9), np.uint8)) > 0


def build_field(landmarks: np.ndarray, controls: Sequence[Control],
                frame_size: tuple[int, int], magnitude: float,
                spread: float | None = None) -> WarpField:
    """The field of *controls* on a face, largest displacement *magnitude* IOD.

    Args:
        landmarks: ``(468, 2)`` pixel landmarks of the face in this frame
            (temporally smoothed: jitter would become motion).
        controls: the moving points (:func:`~._facs.controls_for`).
        frame_size: ``(width, height)`` of the frame, pixels.
        magnitude: peak displacement now, IOD units (``>= 0``).
        spread: the peak displacement of the whole movement (its apex), IOD
            units; it widens small-radius controls so large movements do not
            fold the skin.  ``None``: *magnitude*.

    Raises:
        InputError: bad landmarks, no controls, negative magnitude, face outside.
    """
    if not controls:
        raise InputError("field: expected at least one control, got none")
    if not (np.isfinite(magnitude) and magnitude >= 0):
        raise InputError(f"field magnitude: expected a number >= 0, got {magnitude!r}")
    marks = np.asarray(landmarks, dtype=np.float64)
    face = FaceFrame.from_landmarks(marks)
    spread = magnitude if spread is None else spread
    # The mask edge must not be steeper than the controls: large movements get a softer edge.
    mask_blur = max(_MASK_BLUR, _MASK_BLUR_PER_AMPLITUDE * spread)
    x0, y0, x1, y1 = _face_box(marks, face.iod, frame_size, mask_blur)
    width, height = x1 - x0, y1 - y0
    step = max(1, int(face.iod // 32))
    gw, gh = -(-width // step), -(-height // step)
    origin = np.array([x0, y0], dtype=np.float64)
    # Coarse cell (i, j) has its centre at origin + (i + 0.5) * step - 0.5 (cv2.resize convention).
    xs = origin[0] + (np.arange(gw) + 0.5) * step - 0.5
    ys = origin[1] + (np.arange(gh) + 0.5) * step - 0.5
    numerator = np.zeros((gh, gw, 2), dtype=np.float64)
    denominator = np.zeros((gh, gw), dtype=np.float64)
    for control in controls:
        anchor = marks[list(control.anchor)].mean(axis=0)
        vector = face.to_pixels(control.direction()) * control.weight
        sigma = max(control.sigma, _SPREAD_PER_AMPLITUDE * spread) * face.iod
        gx = np.exp(-((xs - anchor[0]) ** 2) / (2 * sigma ** 2))
        gy = np.exp(-((ys - anchor[1]) ** 2) / (2 * sigma ** 2))
        bump = np.outer(gy, gx)
        numerator += bump[..., None] * vector
        denominator += bump
    coarse = numerator / np.maximum(denominator, 1.0)[..., None]
    coarse *= _face_mask(marks, origin, step, (gh, gw), mask_blur * face.iod)[..., None]
    peak = float(np.sqrt((coarse ** 2).sum(axis=2)).max())
    scale = magnitude * face.iod / peak if peak > 0 else 0.0
    coarse = (coarse * scale).astype(np.float32)
    inverse = _invert(coarse, step)
    size = (gw * step, gh * step)
    forward = cv2.resize(coarse, size, interpolation=cv2.INTER_LINEAR)[:height, :width]
    inverse = cv2.resize(inverse, size, interpolation=cv2.INTER_LINEAR)[:height, :width]
    return WarpField((x0, y0, x1, y1), np.ascontiguousarray(forward),
                     np.ascontiguousarray(inverse), face.iod)


def _invert(forward: np.ndarray, step: int) -> np.ndarray:
    """Backward offsets of a coarse forward field (fixed point of ``inv = -d(x + inv)``)."""
    gh, gw = forward.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(gw, dtype=np.float32), np.arange(gh, dtype=np.float32))
    inverse = -forward
    for _ in range(_INVERSE_ITERATIONS):
        inverse = -cv2.remap(forward, grid_x + inverse[..., 0] / step,
                             grid_y + inverse[..., 1] / step, cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return inverse


def _band_energy(image: np.ndarray, mask: np.ndarray) -> float:
    """Mean square of the high-pass band (image minus a Gaussian blur) inside *mask*."""
    band = image - cv2.GaussianBlur(image, (0, 0), _HIGHPASS_SIGMA)
    return float((band[mask] ** 2).mean())


class SharpnessCompensator:
    """Restores the high-frequency energy that sub-pixel resampling removes.

    :meth:`calibrate` shifts the face box of one clean frame (its luma, what
    the SDK's models see) by every pair of fractional offsets in ``{0, 1/4, 1/2}`` and
    records, on the skin of the face, the gain that brings the energy of its
    high-pass band (image minus a Gaussian blur of sigma 0.8 px) back to the
    unshifted value.  :meth:`apply` multiplies the high-pass band of each
    warped pixel by the gain of its own fractional offsets (bilinear in the
    table); a pixel read at an integer position keeps gain 1, i.e. stays
    exactly as it was.

    How well it works depends on the local spectrum: on the faces of four
    source videos (lp_d19, lp_d3, default, 2015-10-15) a half-pixel diagonal
    shift keeps 85-95 % of the face's high-pass luma energy without
    compensation and 98.6-102.4 % with it (all offsets: 98.6-103.3 %).
    """

    def __init__(self) -> None:
        self.table = np.ones((_FRACTIONS.size, _FRACTIONS.size), dtype=np.float32)

    def calibrate(self, image: np.ndarray, mask: np.ndarray | None = None) -> None:
        """Measure the gain table on a clean ``(H, W, 3)`` or ``(H, W)`` face crop.

        Args:
            image: the crop.
            mask: ``(H, W)`` bool, where to measure (the face's skin); ``None``:
                everywhere but a 4-pixel border.

        For each offset pair the gain starts at the energy ratio and is refined
        once by measuring the compensated shift itself.
        """
        crop = np.asarray(image)
        if crop.ndim not in (2, 3) or min(crop.shape[:2]) < 16:
            raise InputError(f"sharpness calibration: expected a crop >= 16x16, got {crop.shape}")
        if crop.ndim == 3:
            crop = cv2.cvtColor(crop.astype(np.uint8), cv2.COLOR_BGR2GRAY)
        crop = crop.astype(np.float32)
        height, width = crop.shape[:2]
        if mask is None:
            mask = np.zeros((height, width), dtype=bool)
            mask[4:-4, 4:-4] = True
        elif mask.shape != (height, width):
            raise InputError(f"calibration mask: expected {(height, width)}, got {mask.shape}")
        grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32),
                                     np.arange(height, dtype=np.float32))
        reference = _band_energy(crop, mask) if mask.any() else 0.0
        if reference <= 1e-6:
            return
        for a, tx in enumerate(_FRACTIONS):
            for b, ty in enumerate(_FRACTIONS):
                if a == 0 and b == 0:
                    continue
                shifted = cv2.remap(crop, grid_x + np.float32(tx), grid_y + np.float32(ty),
                                    cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REFLECT)
                band = shifted - cv2.GaussianBlur(shifted, (0, 0), _HIGHPASS_SIGMA)
                gain = np.sqrt(reference / max(_band_energy(shifted, mask), 1e-6))
                # One refinement on the compensated shift itself (more would
                # overshoot in wider bands: content at Nyquist is lost, not dimmed).
                compensated = shifted + (gain - 1) * band
                gain *= np.sqrt(reference / max(_band_energy(compensated, mask), 1e-6))
                self.table[b, a] = gain
        self.table = np.clip(self.table, 1.0, 1.6).astype(np.float32)

    def gain(self, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
        """Per-pixel gain ``(h, w) float32`` for absolute sampling positions."""
        scale = np.float32((_FRACTIONS.size - 1) / 0.5)
        fx = np.abs(map_x - np.round(map_x)) * scale
        fy = np.abs(map_y - np.round(map_y)) * scale
        # cv2.remap on the tiny table = bilinear table lookup.
        return cv2.remap(self.table, fx.astype(np.float32), fy.astype(np.float32),
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def apply(self, warped: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
        """``warped`` (float32, ``(h, w, 3)``) with its high-pass band scaled per pixel."""
        extra = self.gain(map_x, map_y) - np.float32(1.0)
        if not extra.any():
            return warped
        band = warped - cv2.GaussianBlur(warped, (0, 0), _HIGHPASS_SIGMA)
        return warped + band * extra[..., None]


def apply_field(frame: np.ndarray, field: WarpField,
                compensator: SharpnessCompensator | None = None) -> np.ndarray:
    """A copy of the ``(H, W, 3) uint8`` *frame* warped by *field* inside its box.

    Pixels outside ``field.box`` and pixels the field does not move are
    copied unchanged.
    """
    if frame.ndim != 3 or frame.dtype != np.uint8:
        raise InputError(f"frame: expected (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
    bx0, by0, bx1, by1 = field.box
    if bx1 > frame.shape[1] or by1 > frame.shape[0]:
        raise InputError(f"field box {field.box} exceeds the "
                         f"{frame.shape[1]}x{frame.shape[0]} frame")
    out = frame.copy()
    # Only the support of the field needs resampling: elsewhere remap is the identity.
    moving = np.abs(field.inverse).max(axis=2) > _STILL
    rows, cols = np.flatnonzero(moving.any(axis=1)), np.flatnonzero(moving.any(axis=0))
    if rows.size == 0:
        return out
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    inverse = field.inverse[r0:r1, c0:c1]
    x0, y0 = bx0 + c0, by0 + r0
    # Source window: the support plus the largest offset and the Lanczos radius.
    reach = int(np.ceil(np.abs(inverse).max())) + 5
    sx0, sy0 = max(0, x0 - reach), max(0, y0 - reach)
    sx1 = min(frame.shape[1], bx0 + c1 + reach)
    sy1 = min(frame.shape[0], by0 + r1 + reach)
    grid_x, grid_y = np.meshgrid(np.arange(x0, bx0 + c1, dtype=np.float32),
                                 np.arange(y0, by0 + r1, dtype=np.float32))
    map_x = grid_x + inverse[..., 0]
    map_y = grid_y + inverse[..., 1]
    source = frame[sy0:sy1, sx0:sx1].astype(np.float32)
    warped = cv2.remap(source, map_x - np.float32(sx0), map_y - np.float32(sy0),
                       cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REPLICATE)
    if compensator is not None:
        warped = compensator.apply(warped, map_x, map_y)
    out[y0:by0 + r1, x0:bx0 + c1] = np.clip(np.rint(warped), 0, 255).astype(np.uint8)
    return out
