"""Following a movement the face has not come back from (mer_edge._follow), on real faces."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import mer_edge as me
from mer_edge._apex import refine_apex, residual_displacement
from mer_edge._flow import FlowEstimator
from mer_edge._follow import NOISE_FLOOR_PX, DisplacementFollower
from mer_edge._results import SpottedInterval
from mer_edge._ringbuffer import FrameRing

FPS = 30.0


def _pushed(neutral: np.ndarray, pixels: float) -> np.ndarray:
    """``neutral`` with its lower right quarter (a mouth corner) moved outwards by ``pixels``."""
    size = neutral.shape[0]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    weight = np.exp(-(((xs - 0.68 * size) ** 2 + (ys - 0.75 * size) ** 2) / (0.08 * size) ** 2))
    return cv2.remap(neutral, xs - pixels * weight, ys, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def _interval(onset: int, apex: int, offset: int, kind: str = "ME") -> SpottedInterval:
    return SpottedInterval(track_id=0, onset_frame=onset, apex_frame=apex, offset_frame=offset,
                           onset_ms=onset * 1000 / FPS, apex_ms=apex * 1000 / FPS,
                           offset_ms=offset * 1000 / FPS, score=0.5, kind=kind)


class _Stream:
    """Crops pushed one by one into a ring, as the engine does."""

    def __init__(self, crops: list[np.ndarray]) -> None:
        self.crops = crops
        self.ring = FrameRing(128, crops[0].shape, 1, (1, 2, 2))
        self.index = -1

    def advance(self) -> int:
        self.index += 1
        self.ring.push(self.index, self.index * 1000 / FPS, self.crops[self.index], np.zeros((1, 2)))
        return self.index


def _movement(neutral: np.ndarray, hold_frames: int) -> list[np.ndarray]:
    """Rest (frames 0-7), a rise (8-10), a hold, a return over three frames, rest again."""
    return ([neutral] * 8 + [_pushed(neutral, a) for a in (2.0, 4.0, 6.0)]
            + [_pushed(neutral, 6.0)] * hold_frames
            + [_pushed(neutral, a) for a in (4.0, 2.0, 0.6)] + [neutral] * 12)


def _close_rise(stream: _Stream, follower: DisplacementFollower, flow: FlowEstimator,
                closed_at: int = 16) -> bool:
    """Feed frames up to ``closed_at``, where the detector closes the rise (8-11): held?"""
    while stream.index < closed_at:
        stream.advance()
    refined = refine_apex(stream.ring, _interval(8, 10, 11), flow, k_ms=200.0)
    return follower.holds(stream.ring, refined, residual_displacement(stream.ring, refined, flow))


def test_a_movement_that_holds_is_followed_to_its_return_and_reported_once(neutral_crop):
    flow = FlowEstimator("ultrafast", "similarity")
    stream = _Stream(_movement(neutral_crop, hold_frames=20))  # the return: frames 31-33
    follower = DisplacementFollower(0.5, me_max_ms=500.0, max_interval_ms=4000.0)
    assert _close_rise(stream, follower, flow) and follower
    assert follower.absorbs(_interval(20, 21, 22))  # the detector's bursts meanwhile
    released = []
    while not released:
        assert stream.index < len(stream.crops) - 1, "never released"
        stream.advance()
        released = follower.step(stream.ring, flow)
    (refined,) = released
    interval = refined.interval
    assert 31 <= interval.offset_frame <= 34  # as the face comes back, not before
    assert interval.onset_frame == 8 and 10 <= interval.apex_frame <= 30
    assert interval.kind == "MaE" and interval.duration_ms > 500.0  # 0.8 s: a macro-expression
    assert refined.apex_displacement is not None and refined.apex_displacement > NOISE_FLOOR_PX
    assert stream.ring.frame_indices[refined.reference] <= 8  # the neutral reference
    assert not follower
    assert follower.absorbs(_interval(31, 32, 36))  # the return's own burst of score
    assert not follower.absorbs(_interval(45, 46, 48))  # a later movement is its own


def test_a_held_movement_is_measured_every_100_ms_of_the_face_not_every_frame(neutral_crop):
    """30 fps: one flow every third frame while held; the release comes at a measured frame."""
    measured: list[int] = []
    estimator = FlowEstimator("ultrafast", "similarity")

    class Counted(FlowEstimator):
        def displacement(self, reference: np.ndarray, crop: np.ndarray) -> float:
            measured.append(stream.index)
            return super().displacement(reference, crop)

    flow = Counted("ultrafast", "similarity")

    stream = _Stream(_movement(neutral_crop, hold_frames=20))  # held from frame 16
    follower = DisplacementFollower(0.5, me_max_ms=500.0, max_interval_ms=4000.0)
    assert _close_rise(stream, follower, estimator)
    released = []
    while not released:
        stream.advance()
        released = follower.step(stream.ring, flow)
    assert measured == list(range(19, stream.index + 1, 3))  # 100 ms after the hold, then on
    assert released[0].interval.offset_frame == measured[-1]


def test_a_movement_back_at_rest_is_not_held(neutral_crop):
    flow = FlowEstimator("ultrafast", "similarity")
    crops = [neutral_crop] * 8 + [_pushed(neutral_crop, a) for a in (1, 2, 3, 2, 1)] + [neutral_crop] * 8
    follower = DisplacementFollower(0.5, me_max_ms=500.0, max_interval_ms=4000.0)
    assert not _close_rise(_Stream(crops), follower, flow)
    assert not follower


def test_a_weak_displacement_that_stays_is_noise_not_followed(neutral_crop):
    """Pushed by 1.5 px at most and held there: a weak movement whose residual stays at its
    apex's level, but below the noise floor (landmark jitter on some faces reaches it)."""
    flow = FlowEstimator("ultrafast", "similarity")
    crops = ([neutral_crop] * 8 + [_pushed(neutral_crop, a) for a in (0.5, 1.0, 1.5)]
             + [_pushed(neutral_crop, 1.5)] * 10)
    stream = _Stream(crops)
    follower = DisplacementFollower(0.5, me_max_ms=500.0, max_interval_ms=4000.0)
    while stream.index < 16:
        stream.advance()
    refined = refine_apex(stream.ring, _interval(8, 10, 11), flow, k_ms=200.0)
    residual = residual_displacement(stream.ring, refined, flow)
    assert residual is not None and residual > 0.5  # displaced as at the apex ...
    assert refined.apex_displacement is not None and refined.apex_displacement < NOISE_FLOOR_PX
    assert not follower.holds(stream.ring, refined, residual)  # ... but not beyond noise


def test_a_movement_that_never_returns_is_released_at_the_longest_interval(neutral_crop):
    flow = FlowEstimator("ultrafast", "similarity")
    stream = _Stream(_movement(neutral_crop, hold_frames=60))
    follower = DisplacementFollower(0.5, me_max_ms=500.0, max_interval_ms=1000.0)
    assert _close_rise(stream, follower, flow)
    released = []
    while not released:
        released = follower.step(stream.ring, flow) if stream.advance() else []
    assert released[0].interval.offset_frame == 38  # 30 frames (1 s) after the onset at 8
    assert released[0].interval.kind == "MaE"


def test_a_held_movement_is_reported_when_the_face_ends(neutral_crop):
    flow = FlowEstimator("ultrafast", "similarity")
    stream = _Stream(_movement(neutral_crop, hold_frames=20))
    follower = DisplacementFollower(0.5, me_max_ms=500.0, max_interval_ms=4000.0)
    assert _close_rise(stream, follower, flow)
    for _ in range(10):
        stream.advance()
        assert follower.step(stream.ring, flow) == []
    (refined,) = follower.release_all(stream.ring)  # 600 ms from the onset: a MaE
    assert refined.interval.offset_frame == 26 and refined.interval.kind == "MaE"
    assert not follower and follower.release_all(stream.ring) == []


def test_the_engine_reports_a_macro_expression_whole_when_it_follows_it(pinned_detection):
    """The built-in portrait smiling for 1.7 s (a 0.3 s rise, a slow return): the detector
    closes the rise alone (an ME, the face still smiling); following the face to its return
    reports the whole smile as one MaE."""
    # pinned: the threshold's peak at the history's maximum (0.4.0 takes its 0.85 quantile,
    # which keeps the slow return above it and reports the whole smile without following)
    from mer_edge._demo import DemoClip, DemoConfig, load_portrait
    from mer_edge.data.synth._inject import SynthEvent
    from mer_edge.data.synth._recipes import Recipe
    from mer_edge.data.synth._timing import EventTiming

    config = DemoConfig(seed=3, events=1)
    onset, apex, offset = 80, 89, 131  # after the still-face check's 1.9 s of history
    smile = SynthEvent(EventTiming(onset, apex, offset), "MaE",
                       Recipe(("6", "12"), "happiness", "positive"), 0.08, track_id=0)
    photo, source, (landmarks, *others) = load_portrait()
    clip = DemoClip(config, photo, landmarks, [smile], np.random.default_rng(3), source,
                    frame_count=190, other_faces=others)
    frames = [clip.frame(i) for i in range(clip.frame_count)]

    def events(follow: float | None) -> tuple[list[SpottedInterval], int]:
        options = me.EngineOptions(recognize=False, follow_displaced=follow,
                                   spotting_overrides=pinned_detection)
        with me.Engine.from_options(options) as engine:
            found = [e for i, f in enumerate(frames) for e in engine.process(f, i * 1000 / FPS).events]
            found += engine.flush()
            return [e.interval for e in found], engine.stats()["followed_to_return"]

    def overlap(interval: SpottedInterval) -> float:
        inter = min(offset, interval.offset_frame) - max(onset, interval.onset_frame) + 1
        union = max(offset, interval.offset_frame) - min(onset, interval.onset_frame) + 1
        return max(inter, 0) / union

    plain, none_followed = events(None)
    followed, held = events(0.5)
    assert none_followed == 0 and held >= 1
    assert not any(overlap(i) >= 0.5 for i in plain), plain  # the rise alone is too short
    matching = [i for i in followed if overlap(i) > 0]
    assert len(matching) == 1 and overlap(matching[0]) >= 0.5, followed
    assert matching[0].kind == "MaE"


def test_follow_displaced_must_be_positive():
    with pytest.raises(me.InputError, match="follow_displaced"):
        me.EngineOptions(follow_displaced=0.0)
