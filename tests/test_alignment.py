"""Alignment and flow on real faces."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from mer_edge import InputError
from mer_edge._alignment import CROP_SIZE, FaceAligner, similarity_transform, template_points
from mer_edge._flow import (ROI_NAMES, FlowEstimator, compensate, roi_magnitudes, roi_masks,
                            roi_means, similarity_motion)


def test_similarity_transform_recovers_a_known_transform():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, (6, 2))
    angle, scale, shift = 0.3, 1.7, np.array([5.0, -3.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = similarity_transform(src, src @ rot.T + shift)
    np.testing.assert_allclose(matrix[:, :2], rot, atol=1e-9)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-9)


def test_degenerate_landmarks_are_refused():
    with pytest.raises(InputError, match="coincide"):
        similarity_transform(np.ones((6, 2)), template_points())
    with pytest.raises(InputError, match="landmarks"):
        FaceAligner().align(np.zeros((64, 64), np.uint8), np.zeros((10, 2)))


def _textured(seed=0, size=CROP_SIZE):
    noise = np.random.default_rng(seed).integers(0, 255, (size, size)).astype(np.uint8)
    return cv2.GaussianBlur(noise, (7, 7), 2)


def test_flow_compensates_global_shift_but_keeps_local_motion():
    base = _textured()
    shifted = np.roll(base, 2, axis=1)  # whole face moves: head motion
    flow = FlowEstimator("fast")(base, shifted)
    assert roi_magnitudes(flow).max() < 0.5
    mouth = ROI_NAMES.index("mouth_right")
    ys, xs = np.nonzero(roi_masks()[mouth])
    area = (slice(ys.min() - 4, ys.max() + 5), slice(xs.min() - 4, xs.max() + 5))
    local = base.copy()
    local[area] = np.roll(base, 3, axis=0)[area]  # only the lip corner moves
    magnitudes = roi_magnitudes(FlowEstimator("fast")(base, local))
    assert magnitudes[mouth] > magnitudes[ROI_NAMES.index("brow_left")] + 0.25


def test_regional_mean_flow_keeps_the_direction():
    base = _textured(1)
    mouth = ROI_NAMES.index("mouth_right")
    ys, xs = np.nonzero(roi_masks()[mouth])
    area = (slice(ys.min() - 4, ys.max() + 5), slice(xs.min() - 4, xs.max() + 5))
    lowered = base.copy()
    lowered[area] = np.roll(base, 3, axis=0)[area]  # the lip corner moves 3 px down
    means = roi_means(FlowEstimator("fast")(base, lowered))
    assert means.shape == (len(ROI_NAMES), 2)
    # downwards is +y in the image; no sideways motion; the most of any region
    assert means[mouth, 1] > 0.3 and abs(means[mouth, 0]) < 0.2 * means[mouth, 1]
    assert int(np.argmax(np.linalg.norm(means, axis=1))) == mouth
    with pytest.raises(InputError, match="flow: expected"):
        roi_means(np.zeros((64, 64, 2), np.float32))


def test_flow_rejects_mismatched_crops():
    with pytest.raises(InputError, match="uint8"):
        FlowEstimator()(np.zeros((8, 8), np.uint8), np.zeros((8, 9), np.uint8))
    with pytest.raises(InputError, match="preset"):
        FlowEstimator("slowest")
    with pytest.raises(InputError, match="unknown flow compensation 'affine'"):
        FlowEstimator("fast", "affine")
    with pytest.raises(InputError, match="unknown flow compensation 'affine'"):
        compensate(np.zeros((CROP_SIZE, CROP_SIZE, 2), np.float32), "affine")


def _similarity_field(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    """The displacement ``(CROP_SIZE, CROP_SIZE, 2)`` of a similarity about the crop centre."""
    ys, xs = np.mgrid[0:CROP_SIZE, 0:CROP_SIZE].astype(np.float64) - CROP_SIZE / 2
    angle = np.radians(angle_deg)
    moved_x = scale * (np.cos(angle) * xs - np.sin(angle) * ys) + shift[0]
    moved_y = scale * (np.sin(angle) * xs + np.cos(angle) * ys) + shift[1]
    return np.stack([moved_x - xs, moved_y - ys], axis=-1).astype(np.float32)


def test_the_raw_flow_compensated_equals_the_compensated_flow():
    """The engine computes DIS once and compensates it per spotter: the same as each
    estimator's own call."""
    base = _textured(2)
    moved = cv2.warpAffine(base, cv2.getRotationMatrix2D((64, 64), 0.8, 1.01), (CROP_SIZE, CROP_SIZE),
                           borderMode=cv2.BORDER_REFLECT)
    raw = FlowEstimator("ultrafast").raw(base, moved)
    for kind in ("translation", "similarity"):
        np.testing.assert_array_equal(compensate(raw.copy(), kind),
                                      FlowEstimator("ultrafast", kind)(base, moved))
    assert np.abs(raw).max() > 0.3  # there was motion to remove


def test_the_displacement_is_the_largest_regional_magnitude_of_the_compensated_flow():
    """:meth:`FlowEstimator.displacement` compensates the regions' pixels alone: the same
    value as the whole compensated flow's :func:`roi_magnitudes`."""
    base = _textured(3)
    for angle, scale in ((0.8, 1.01), (-0.3, 0.995), (0.0, 1.0)):
        moved = cv2.warpAffine(base, cv2.getRotationMatrix2D((60, 70), angle, scale),
                               (CROP_SIZE, CROP_SIZE), borderMode=cv2.BORDER_REFLECT)
        for kind in ("translation", "similarity"):
            flow = FlowEstimator("ultrafast", kind)
            assert flow.displacement(base, moved) == float(roi_magnitudes(flow(base, moved)).max())
    with pytest.raises(InputError, match="expected two equal 2-D uint8 crops"):
        FlowEstimator("ultrafast", "similarity").displacement(base, base[:64])


def test_similarity_fit_removes_head_jitter_and_keeps_a_local_action():
    jitter = _similarity_field(0.4, 1.01, (0.3, -0.2))  # what landmark jitter does to a crop
    np.testing.assert_allclose(similarity_motion(jitter), jitter, atol=1e-3)
    action = np.zeros_like(jitter)
    action[roi_masks()[ROI_NAMES.index("mouth_right")]] = (0.0, 0.8)  # a lip corner pulled down
    residual = jitter + action - similarity_motion(jitter + action)
    magnitudes = roi_magnitudes(residual)
    mouth = ROI_NAMES.index("mouth_right")
    assert magnitudes[mouth] > 0.7  # the action survives the fit (as an outlier of it)
    assert np.delete(magnitudes, mouth).max() < 0.1  # and the jitter is gone elsewhere


def test_similarity_compensation_quietens_a_still_face_seen_through_real_landmarks(shared_data):
    """An animated portrait (smooth head motion, no expression) through MediaPipe and alignment:
    landmark jitter rotates and zooms the crops, which a translation cannot remove."""
    from mer_edge._demo import DemoClip, DemoConfig, find_face, load_demo_face
    from mer_edge._frontend import FaceLandmarker

    face = shared_data / "images" / "sample5.jpg"
    photo = load_demo_face(face)
    clip = DemoClip(DemoConfig(seed=3), photo, find_face(photo, face), (),
                    np.random.default_rng(3), face, frame_count=50)
    aligner, crops = FaceAligner(), []
    with FaceLandmarker(max_faces=1) as landmarker:
        for index, _, image in clip:
            crops.append(aligner.align(image, landmarker.detect(image)[0].landmarks).crop)
    noise = {}
    for compensation in ("translation", "similarity"):
        flow = FlowEstimator("ultrafast", compensation)
        noise[compensation] = np.median([roi_magnitudes(flow(crops[i - 6], crops[i])).max()
                                         for i in range(16, len(crops))])
    assert noise["similarity"] < 0.5 * noise["translation"], noise


def test_alignment_undoes_head_rotation(shared_data):
    from mer_edge._frontend import FaceLandmarker

    image = cv2.imread(str(shared_data / "images" / "astronaut.png"))
    centre = (image.shape[1] / 2, image.shape[0] / 2)
    rotated = cv2.warpAffine(image, cv2.getRotationMatrix2D(centre, 15, 0.9), image.shape[1::-1])
    crops = []
    for frame in (image, rotated):  # two stills: a fresh landmarker each
        with FaceLandmarker(max_faces=1) as landmarker:
            face = landmarker.detect(frame)[0]
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            crops.append(FaceAligner(0.0).align(gray, face.landmarks).crop.astype(np.float32))
    inner = (slice(20, 108), slice(20, 108))
    correlation = np.corrcoef(crops[0][inner].ravel(), crops[1][inner].ravel())[0, 1]
    assert correlation > 0.9
