"""A MaE the face came back from within an ME's duration ends there, as an ME
(``EngineOptions.me_ends_at_rest``: mer_edge._apex.return_to_rest and its wiring), on a
real face's crops."""
from __future__ import annotations

import numpy as np
import pytest

from mer_edge import EngineOptions, InputError, SpottingParams
from mer_edge._apex import NOISE_FLOOR_PX, return_to_rest
from mer_edge._classify import IntervalClassifier
from mer_edge._flow import FlowEstimator
from mer_edge._interval_stage import FaceIntervals, IntervalStage
from mer_edge._results import SpottedInterval
from mer_edge._ringbuffer import FrameRing
from mer_edge._telemetry import StageTimer

from .test_follow import _pushed

FPS = 30.0
K_MS = 200.0
#: The detection of the wiring tests: a run of score above 0.1 is a movement.
PARAMS = SpottingParams(k_ms=K_MS, p=0.35, min_score=0.1, smooth_ms=0.0)


def _noisy(crop: np.ndarray, seed: int) -> np.ndarray:
    """``crop`` with a grainy camera's sensor noise (sigma 2 grey levels)."""
    noise = np.random.default_rng(seed).normal(0.0, 2.0, crop.shape)
    return np.clip(crop + noise, 0, 255).astype(np.uint8)


def _brief_movement(neutral: np.ndarray, start: int, frames: int = 60) -> list[np.ndarray]:
    """A noisy still face with a brief movement at ``start``: up over three frames, down over
    two (a 5-frame ME, 167 ms at 30 fps), the rest still."""
    amplitudes = {start + i: a for i, a in enumerate((2.0, 4.0, 4.0, 2.0, 0.7))}
    return [_noisy(_pushed(neutral, amplitudes[i]) if i in amplitudes else neutral, i)
            for i in range(frames)]


def _ring(crops: list[np.ndarray]) -> FrameRing:
    ring = FrameRing(len(crops), crops[0].shape, 1, (1,))
    for index, crop in enumerate(crops):
        ring.push(index, index * 1000 / FPS, crop, np.zeros((1, 2)))
    return ring


def _interval(onset: int, apex: int, offset: int) -> SpottedInterval:
    return SpottedInterval(track_id=0, onset_frame=onset, apex_frame=apex, offset_frame=offset,
                           onset_ms=onset * 1000 / FPS, apex_ms=apex * 1000 / FPS,
                           offset_ms=offset * 1000 / FPS, score=0.5, kind="MaE")


@pytest.fixture(scope="module")
def flow() -> FlowEstimator:
    return FlowEstimator("ultrafast", "similarity")


def test_the_face_is_back_at_rest_at_the_first_frame_within_the_noise_floor(neutral_crop, flow):
    crops = _brief_movement(neutral_crop, 20)
    ring = _ring(crops)
    # the score held the run from frame 19 to 40 (700 ms): a MaE by its score
    rest = return_to_rest(ring, _interval(19, 22, 40), flow, K_MS, 19 * 1000 / FPS + 500)
    assert rest is not None
    back = int(ring.frame_indices[rest])
    reference = crops[16]  # k/2 = 100 ms (3 frames) before the onset
    measured = [flow.displacement(reference, crops[i]) for i in range(22, back + 1)]
    assert max(measured[:-1]) > NOISE_FLOOR_PX >= measured[-1]
    assert all(m > NOISE_FLOOR_PX for m in measured[:-1])  # the first frame back
    assert 23 <= back <= 25  # the push is down to 2 px at frame 23, 0.7 px at 24, gone at 25


def test_a_face_still_displaced_after_an_mes_duration_is_not_at_rest(neutral_crop, flow):
    held = [_noisy(_pushed(neutral_crop, 4.0) if 20 <= i < 45 else neutral_crop, i)
            for i in range(60)]  # a smile held for 833 ms
    assert return_to_rest(_ring(held), _interval(19, 22, 48), flow, K_MS,
                          19 * 1000 / FPS + 500) is None


def test_noise_alone_never_left_rest(neutral_crop, flow):
    still = [_noisy(neutral_crop, i) for i in range(60)]
    assert return_to_rest(_ring(still), _interval(19, 22, 40), flow, K_MS,
                          19 * 1000 / FPS + 500) is None


def _face(crops: list[np.ndarray], flow: FlowEstimator, *, ends_at_rest: bool = True,
          kept_kind: str | None = None) -> FaceIntervals:
    ring = FrameRing(len(crops), crops[0].shape, 1, (1,))
    classify = IntervalClassifier(flow, K_MS, None, StageTimer())
    stage = IntervalStage(classify, max_brightness_change=None, follow_displaced=None,
                          fps_hint=FPS, me_ends_at_rest=ends_at_rest)
    return stage.face(0, ring, PARAMS, kept_kind=kept_kind)


def _events(face: FaceIntervals, crops: list[np.ndarray], scores: np.ndarray):
    """Crops and scores fed as the engine feeds them: the events, as (onset, offset, kind)."""
    events = []
    for index, (crop, score) in enumerate(zip(crops, scores)):
        face._ring.push(index, index * 1000 / FPS, crop, np.zeros((1, 2)))
        events += face.scored(index, index * 1000 / FPS, float(score)) + face.seen()
    events += face.ended()
    return [(e.interval.onset_frame, e.interval.offset_frame, e.interval.kind) for e in events]


def _held_score(start: int, frames: int = 120, busy_before: bool = False) -> np.ndarray:
    """A score of 0.02 with a run of 0.4 from ``start`` for 24 frames (800 ms: noise holds
    the brief movement's score up); ``busy_before``: the face moved for 667 ms of the second
    before (a run of its own, closed 333 ms before this one)."""
    scores = np.full(frames, 0.02)
    scores[start:start + 24] = 0.4
    if busy_before:
        scores[start - 30:start - 10] = 0.3
    return scores


def test_a_maE_after_a_still_face_that_came_back_at_once_is_an_ME_ending_there(neutral_crop,
                                                                              flow):
    crops = _brief_movement(neutral_crop, 80, frames=120)
    scores = _held_score(80)
    ended = _events(_face(crops, flow), crops, scores)
    scored = _events(_face(crops, flow, ends_at_rest=False), crops, scores)
    assert [kind for _, _, kind in scored] == ["MaE"]
    assert len(ended) == 1 and ended[0][2] == "ME" and ended[0][0] == scored[0][0]
    assert 83 <= ended[0][1] <= 85 < scored[0][1]  # back at rest, as in the test above
    # a lane reporting MaEs only (a macro spotter's) keeps them as they are
    assert _events(_face(crops, flow, kept_kind="MaE"), crops, scores) == scored


def test_a_maE_after_a_moving_face_stays_a_maE(neutral_crop, flow):
    """The still-face check an ME must pass (rule 6) applies to an ME found this way too."""
    crops = _brief_movement(neutral_crop, 80, frames=120)
    scores = _held_score(80, busy_before=True)
    events = _events(_face(crops, flow), crops, scores)
    assert len(events) == 2 and events[0][1] < 75  # the busy second's own run, then this one
    assert events == _events(_face(crops, flow, ends_at_rest=False), crops, scores)
    assert events[1][0] >= 78 and events[1][2] == "MaE"


def test_the_option_must_be_a_bool():
    with pytest.raises(InputError, match="me_ends_at_rest"):
        EngineOptions(me_ends_at_rest=1)
    assert EngineOptions().me_ends_at_rest is True


def test_on_a_grainy_photo_the_micro_expressions_noise_stretched_are_found(shared_data):
    """sample4.jpg, a grainy black-and-white photo, animated with the demo's four MEs: its
    noise holds the score of some MEs up past 500 ms, and only their end at rest finds them."""
    import mer_edge as me
    from mer_edge._demo import DemoConfig, build_demo_clip, match_events

    demo = build_demo_clip(DemoConfig(seed=0), face=shared_data / "images" / "sample4.jpg")
    found, kinds = {}, {}
    for ends_at_rest in (True, False):
        options = me.EngineOptions(recognize=False, me_ends_at_rest=ends_at_rest)
        with me.Engine.from_options(options) as engine:
            detections = [event for _, stamp, frame in demo
                          for event in engine.process(frame, stamp).events]
            detections += engine.flush()
        _, found[ends_at_rest], _ = match_events(demo.events, detections)
        kinds[ends_at_rest] = {e.interval.onset_frame: e.interval for e in detections}
    assert found[True] > found[False] and found[True] >= 3
    changed = [onset for onset in kinds[True] if kinds[True][onset] != kinds[False].get(onset)]
    assert changed and all(kinds[True][onset].kind == "ME" and kinds[False][onset].kind == "MaE"
                           and kinds[True][onset].offset_frame < kinds[False][onset].offset_frame
                           for onset in changed)
