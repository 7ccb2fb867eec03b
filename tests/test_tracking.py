"""Track ids: unit tables on synthetic boxes, and stability on a real three-person video."""
from __future__ import annotations

import collections

import numpy as np
import pytest

from mer_edge import InputError
from mer_edge._frontend import FaceObservation
from mer_edge._tracking import (MATCHINGS, CentroidMatching, FaceTracker, IouMatching,
                                _assign_greedy, iou_matrix, make_matching)

STRATEGIES = sorted(MATCHINGS)


def face(cx: float, cy: float, size: float = 60.0) -> FaceObservation:
    """A face observation whose box is centred on (cx, cy)."""
    half = size / 2
    box = np.array([cx - half, cy - half, cx + half, cy + half], np.float32)
    return FaceObservation(box.reshape(2, 2), box)


def ids_of(pairs):
    return [track_id for track_id, _ in pairs]


# -- strategies by name --------------------------------------------------------------

def test_strategies_by_name():
    assert isinstance(make_matching("iou"), IouMatching)
    assert isinstance(make_matching("centroid", max_distance=2.0), CentroidMatching)
    with pytest.raises(InputError, match="unknown matching 'hungarian'; valid: centroid, iou"):
        FaceTracker(matching="hungarian")
    tracker = FaceTracker(matching=IouMatching(min_iou=0.5))
    assert tracker.matching.min_iou == 0.5


@pytest.mark.parametrize("kwargs, message", [
    ({"max_missed": -1}, "max_missed"),
    ({"max_missed": 2.5}, "max_missed"),
    ({"velocity_smoothing": 1.5}, "velocity_smoothing"),
    ({"prediction_horizon": -1}, "prediction_horizon"),
])
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        FaceTracker(**kwargs)


def test_iou_matrix_and_costs():
    a = np.array([[0, 0, 10, 10], [100, 100, 110, 110]], float)
    b = np.array([[5, 0, 15, 10]], float)
    np.testing.assert_allclose(iou_matrix(a, b), [[1 / 3], [0.0]])
    assert iou_matrix(a, np.zeros((0, 4))).shape == (2, 0)
    cost = IouMatching(min_iou=0.1).cost(a, b)
    assert cost[0, 0] == pytest.approx(2 / 3) and np.isinf(cost[1, 0])
    cost = CentroidMatching(max_distance=1.0).cost(a, b)
    assert cost[0, 0] == pytest.approx(0.5) and np.isinf(cost[1, 0])


def test_greedy_assignment_never_uses_forbidden_pairs():
    cost = np.array([[0.1, 0.2], [0.3, np.inf]])
    assert sorted(_assign_greedy(cost)) == [(0, 0)]
    assert _assign_greedy(np.full((2, 2), np.inf)) == []


# -- unit tables ---------------------------------------------------------------------

@pytest.mark.parametrize("matching", STRATEGIES)
def test_empty_and_dropped_frames(matching):
    tracker = FaceTracker(max_missed=2, matching=matching)
    assert tracker.update([], 0) == []
    assert tracker.update(None, 1) == []
    assert ids_of(tracker.update([face(100, 100)], 2)) == [0]
    for index in (3, 4):  # dropped frames age the track...
        assert tracker.update(None, index) == [] and tracker.ended_tracks() == []
    assert tracker.update(None, 5) == []  # ...until it ends, reported once
    assert tracker.ended_tracks() == [0]
    tracker.update(None, 6)
    assert tracker.ended_tracks() == [] and tracker.active_ids == []


def crossing_swaps(tracker: FaceTracker, speed: float, offset_y: float) -> int:
    """Frames on which two faces walking through each other are not both tracked right.

    Face A goes left to right, face B right to left ``offset_y`` lower; they
    pass on a frame where B is 10 px right of A.  Input order alternates.
    """
    bad = 0
    for step in range(int(300 // speed) + 2):
        a = face(100 + speed * step, 200)
        b = face(410 - speed * step, 200 + offset_y)
        by_id = dict(tracker.update([a, b] if step % 2 == 0 else [b, a], step))
        if sorted(by_id) != [0, 1] or abs(by_id[0].center[0] - (100 + speed * step)) > 1e-3:
            bad += 1
    return bad


@pytest.mark.parametrize("matching", STRATEGIES)
@pytest.mark.parametrize("speed", [10.0, 25.0])
@pytest.mark.parametrize("offset_y", [0.0, 8.0, 25.0])
def test_crossing_faces_keep_their_ids(matching, speed, offset_y):
    assert crossing_swaps(FaceTracker(matching=matching), speed, offset_y) == 0


@pytest.mark.parametrize("matching", STRATEGIES)
def test_crossing_needs_the_motion_prediction(matching):
    """Without the velocity term the same head-on crossing swaps the ids."""
    assert crossing_swaps(FaceTracker(matching=matching, velocity_smoothing=0.0), 25.0, 0.0) > 0


@pytest.mark.parametrize("matching", STRATEGIES)
@pytest.mark.parametrize("gap, same_id", [(1, True), (5, True), (10, True), (11, False),
                                          (20, False)])
def test_loss_and_return(matching, gap, same_id):
    tracker = FaceTracker(max_missed=10, matching=matching)
    assert ids_of(tracker.update([face(300, 200)], 0)) == [0]
    ended = []
    for index in range(1, gap + 1):
        tracker.update([], index)
        ended += tracker.ended_tracks()
    # Slightly moved when it comes back.
    returned = ids_of(tracker.update([face(305, 203)], gap + 1))
    ended += tracker.ended_tracks()
    assert returned == ([0] if same_id else [1])
    assert ended == ([] if same_id else [0])


def test_moving_face_is_predicted_through_a_gap():
    """A face moving 30 px/frame (half its size) is found again after two lost frames."""
    tracker = FaceTracker(matching="iou")
    for index in range(5):
        assert ids_of(tracker.update([face(100 + 30 * index, 200)], index)) == [0]
    tracker.update([], 5)
    tracker.update([], 6)
    assert ids_of(tracker.update([face(100 + 30 * 7, 200)], 7)) == [0]


def test_new_person_gets_a_new_id_and_ids_are_never_reused():
    tracker = FaceTracker(max_missed=0)
    assert ids_of(tracker.update([face(100, 100)], 0)) == [0]
    assert ids_of(tracker.update([face(100, 100), face(400, 100)], 1)) == [0, 1]
    assert ids_of(tracker.update([face(400, 100)], 2)) == [1]
    assert tracker.ended_tracks() == [0]
    assert ids_of(tracker.update([face(100, 100), face(400, 100)], 3)) == [2, 1]
    tracker.reset()
    assert ids_of(tracker.update([face(100, 100)], 0)) == [3]


def test_pairs_follow_the_order_of_observations():
    tracker = FaceTracker()
    faces = [face(100, 100), face(300, 100), face(500, 100)]
    assert ids_of(tracker.update(faces, 0)) == [0, 1, 2]
    pairs = tracker.update(faces[::-1], 1)
    assert ids_of(pairs) == [2, 1, 0]
    assert [obs for _, obs in pairs] == faces[::-1]


@pytest.mark.parametrize("index", [0, -1])
def test_frame_index_must_increase(index):
    tracker = FaceTracker()
    tracker.update([], 0)
    with pytest.raises(InputError, match="must increase"):
        tracker.update([], index)


# -- real video ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def multi_face_tracks(videos):
    """Every 2nd frame of multi_face.avi through the landmarker and the tracker."""
    cv2 = pytest.importorskip("cv2")
    pytest.importorskip("mediapipe")
    from mer_edge._frontend import FaceLandmarker

    path = videos / "multi_face.avi"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    capture = cv2.VideoCapture(str(path))
    tracker = FaceTracker()
    history = collections.defaultdict(list)
    index = 0
    with FaceLandmarker(max_faces=4, redetect_every=5) as marker:
        while index < 420:  # the part where the three people stay in view
            ok, frame = capture.read()
            if not ok:
                break
            if index % 2 == 0:
                for track_id, obs in tracker.update(marker.detect(frame), index):
                    history[track_id].append((index, obs.box))
            index += 1
    capture.release()
    return history


def test_real_video_ids_are_stable(multi_face_tracks):
    long_tracks = {k: v for k, v in multi_face_tracks.items() if len(v) >= 60}
    assert len(long_tracks) >= 2
    assert len(multi_face_tracks) <= 6  # a few short tracks at most, not one per frame
    switches = 0
    for steps in multi_face_tracks.values():
        for (_, before), (_, after) in zip(steps, steps[1:]):
            size = np.sqrt(np.prod(before[2:] - before[:2]))
            jump = np.linalg.norm((after[:2] + after[2:]) / 2 - (before[:2] + before[2:]) / 2)
            switches += jump > 0.5 * size
    assert switches == 0
