"""The MediaPipe face landmarker: shapes, input checks, real faces, detector schedule."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from mer_edge import BackendError, InputError
from mer_edge._frontend import FaceLandmarker, FaceObservation, box_from_landmarks, box_iou

pytest.importorskip("mediapipe")

# Face-mesh indices: upper eyelids of both eyes and the upper lip.
EYE_LIDS, UPPER_LIP = (159, 386), 13


def read_frames(path, count, stride=1):
    capture = cv2.VideoCapture(str(path))
    frames, index = [], 0
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        if index % stride == 0:
            frames.append(frame)
        index += 1
    capture.release()
    return frames


def is_upright(face: FaceObservation) -> bool:
    """Eyes above the mouth: the eye-to-mouth vector points down the image."""
    eyes = face.landmarks[list(EYE_LIDS)].mean(axis=0)
    down = face.landmarks[UPPER_LIP] - eyes
    return bool(down[1] > abs(down[0]))


@pytest.fixture(scope="module")
def landmarker():
    with FaceLandmarker(max_faces=4) as marker:
        yield marker


@pytest.fixture(scope="module")
def default_frames(videos):
    path = videos / "default.wmv"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return read_frames(path, 60)


# -- FaceObservation ---------------------------------------------------------------

def test_observation_from_landmarks_clips_its_box():
    marks = np.array([[-5, 10], [50, 20], [30, 700]], dtype=np.float64)
    face = FaceObservation.from_landmarks(marks, (640, 480), presence=0.9)
    assert face.landmarks.dtype == np.float32 and face.landmarks.shape == (3, 2)
    np.testing.assert_array_equal(face.box, np.array([0, 10, 50, 480], np.float32))
    np.testing.assert_array_equal(face.center, np.array([25, 245], np.float32))
    assert face.presence == pytest.approx(0.9)
    assert math.isnan(FaceObservation(marks, face.box).presence)


@pytest.mark.parametrize("landmarks, box, message", [
    (np.zeros((5, 3)), np.zeros(4), "landmarks"),
    (np.zeros((0, 2)), np.zeros(4), "landmarks"),
    (np.zeros((5, 2)), np.zeros(3), r"box: expected shape \(4,\)"),
    (np.zeros((5, 2)), np.array([10, 0, 5, 5]), "x0<=x1"),
])
def test_observation_refuses_bad_shapes(landmarks, box, message):
    with pytest.raises(InputError, match=message):
        FaceObservation(landmarks, box)


def test_box_helpers():
    marks = np.array([[10, 20], [30, 60]], np.float32)
    np.testing.assert_array_equal(box_from_landmarks(marks, 25, 100), [10, 20, 25, 60])
    a = np.array([0, 0, 10, 10], np.float32)
    assert box_iou(a, a) == pytest.approx(1.0)
    assert box_iou(a, np.array([5, 0, 15, 10], np.float32)) == pytest.approx(1 / 3)
    assert box_iou(a, np.array([20, 20, 30, 30], np.float32)) == 0.0


@pytest.mark.parametrize("extra", [{}, {"visibility": 0.5}, {"presence": 0.25}])
def test_serialised_landmarks_are_parsed_with_or_without_extra_fields(extra):
    from mediapipe.framework.formats import landmark_pb2

    from mer_edge._frontend import _parse_landmarks

    points = np.random.default_rng(0).uniform(-0.2, 1.2, (468, 3)).astype(np.float32)
    message = landmark_pb2.NormalizedLandmarkList()
    for x, y, z in points:
        message.landmark.add(x=x, y=y, z=z, **extra)
    parsed = _parse_landmarks(message.SerializeToString())
    assert parsed.dtype == np.float32
    np.testing.assert_array_equal(parsed, points[:, :2])


# -- constructor and input checks --------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"max_faces": 0}, "max_faces"),
    ({"max_faces": 1.5}, "max_faces"),
    ({"redetect_every": 0}, "redetect_every"),
    ({"min_detection_confidence": 1.5}, "min_detection_confidence"),
    ({"min_tracking_confidence": -0.1}, "min_tracking_confidence"),
])
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        FaceLandmarker(**kwargs)


@pytest.mark.parametrize("frame, message", [
    (np.zeros((48, 64), np.uint8), r"\(48, 64\).*grayscale"),
    (np.zeros((48, 64, 1), np.uint8), "grayscale"),
    (np.zeros((48, 64, 4), np.uint8), r"\(48, 64, 4\).*BGRA"),
    (np.zeros((48, 64, 3), np.float32), "float32"),
    (np.zeros((0, 64, 3), np.uint8), "at least 1x1 pixels, got shape \\(0, 64, 3\\)"),
    ([[0, 0, 0]], "list"),
])
def test_bad_frames_are_refused(landmarker, frame, message):
    with pytest.raises(InputError, match=message):
        landmarker.detect(frame)


def test_blank_frame_has_no_face(landmarker):
    landmarker.reset()
    assert landmarker.detect(np.zeros((480, 640, 3), np.uint8)) == []


def test_close_is_idempotent_and_final():
    marker = FaceLandmarker(max_faces=1)
    marker.close()
    marker.close()
    with pytest.raises(BackendError, match="closed"):
        marker.detect(np.zeros((32, 32, 3), np.uint8))


# -- real faces --------------------------------------------------------------------

def test_one_face_per_frame_on_default_video(landmarker, default_frames):
    landmarker.reset()
    height, width = default_frames[0].shape[:2]
    for frame in default_frames:
        faces = landmarker.detect(frame)
        assert len(faces) == 1
        face = faces[0]
        assert face.landmarks.shape == (468, 2) and face.landmarks.dtype == np.float32
        assert face.box.dtype == np.float32
        assert 0 <= face.box[0] < face.box[2] <= width and 0 <= face.box[1] < face.box[3] <= height
        assert 0.5 <= face.presence <= 1.0
        assert is_upright(face)
        # The face fills a sensible part of the 640x480 frame.
        assert 80 < face.box[2] - face.box[0] < 400


def test_matches_mediapipe_face_mesh(default_frames):
    """Same graph, same numbers: landmarks equal plain FaceMesh's."""
    import mediapipe as mp

    mesh = mp.solutions.face_mesh.FaceMesh(max_num_faces=1)
    with FaceLandmarker(max_faces=1) as marker:
        for frame in default_frames[:10]:
            ours = marker.detect(frame)[0].landmarks
            found = mesh.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)).multi_face_landmarks
            theirs = np.array([(p.x * frame.shape[1], p.y * frame.shape[0])
                               for p in found[0].landmark], np.float32)
            np.testing.assert_allclose(ours, theirs, atol=0.01)
    mesh.close()


def detector_frames(marker, frames):
    """Indices of the frames on which the face detector ran."""
    ran = []
    for index, frame in enumerate(frames):
        before = marker.detector_runs
        assert len(marker.detect(frame)) == 1
        if marker.detector_runs > before:
            ran.append(index)
    return ran


@pytest.mark.parametrize("max_faces, redetect_every, expected", [
    (4, 10, [0, 10, 20, 30]),   # one face of four possible: look for more every 10 frames
    (4, 1, list(range(40))),    # every frame, as MediaPipe's FaceMesh does
    (2, 15, [0, 15, 30]),
    (1, 1, [0]),                # max_faces tracked: never look again
])
def test_detector_schedule(default_frames, max_faces, redetect_every, expected):
    with FaceLandmarker(max_faces=max_faces, redetect_every=redetect_every) as marker:
        assert detector_frames(marker, default_frames[:40]) == expected


def test_a_lost_face_is_looked_for_on_the_next_frame(default_frames):
    blank = np.zeros_like(default_frames[0])
    frames = default_frames[:5] + [blank] + default_frames[5:10]
    with FaceLandmarker(max_faces=4, redetect_every=15) as marker:
        counts, ran = [], []
        for index, frame in enumerate(frames):
            before = marker.detector_runs
            counts.append(len(marker.detect(frame)))
            if marker.detector_runs > before:
                ran.append(index)
    assert counts == [1] * 5 + [0] + [1] * 5
    assert ran == [0, 6]


def test_a_hidden_face_is_looked_for_on_every_frame_until_found(videos):
    """Of two tracked faces one is blacked out on frames 3-6: the detector runs until it is back."""
    path = videos / "multi_face.avi"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    frames = read_frames(path, 12)
    with FaceLandmarker(max_faces=4, redetect_every=15) as marker:
        first = marker.detect(frames[0])
        assert len(first) == 2
        x0, y0, x1, y1 = first[1].box.astype(int)
        w, h = x1 - x0, y1 - y0
        marker.reset()
        counts, ran = [], []
        for index, frame in enumerate(frames):
            if 3 <= index <= 6:
                frame = frame.copy()
                frame[max(0, y0 - h):y1 + h, max(0, x0 - w):x1 + w] = 0
            before = marker.detector_runs
            counts.append(len(marker.detect(frame)))
            if marker.detector_runs > before:
                ran.append(index)
    assert counts == [2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, 2]
    assert ran == [0, 4, 5, 6, 7]


def test_non_contiguous_and_strided_frames(landmarker, default_frames):
    landmarker.reset()
    frame = default_frames[0]
    wide = np.zeros((frame.shape[0], frame.shape[1] * 2, 3), np.uint8)
    wide[:, ::2] = frame
    view = wide[:, ::2]
    assert not view.flags.c_contiguous
    faces = landmarker.detect(view)
    assert len(faces) == 1
    landmarker.reset()
    np.testing.assert_allclose(faces[0].landmarks, landmarker.detect(frame)[0].landmarks,
                               atol=1e-3)


def test_refined_landmarks_have_irises(default_frames):
    with FaceLandmarker(max_faces=1, refine_landmarks=True) as marker:
        faces = marker.detect(default_frames[0])
    assert len(faces) == 1 and faces[0].landmarks.shape == (478, 2)


def test_three_faces(videos):
    path = videos / "multi_face.avi"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    frames = read_frames(path, 40)[::4]
    with FaceLandmarker(max_faces=4, redetect_every=1) as marker:
        counts = [len(marker.detect(frame)) for frame in frames]
    # Three people from frame ~80 on; at least two in these first frames, never a duplicate.
    assert min(counts) >= 2 and max(counts) <= 3


def test_max_faces_caps_the_result(videos):
    path = videos / "multi_face.avi"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    with FaceLandmarker(max_faces=1) as marker:
        assert all(len(marker.detect(frame)) == 1 for frame in read_frames(path, 10))


def test_tiny_faces_give_an_empty_result(videos):
    path = videos / "video_01.mp4"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    with FaceLandmarker() as marker:
        assert all(marker.detect(frame) == [] for frame in read_frames(path, 5))


def test_mediapipe_missing_is_a_backend_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_mediapipe(name, *args, **kwargs):
        if name == "mediapipe" or name.startswith("mediapipe."):
            raise ImportError("No module named 'mediapipe'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mediapipe)
    with pytest.raises(BackendError, match="pip install"):
        FaceLandmarker()
