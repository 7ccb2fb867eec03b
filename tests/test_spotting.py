"""Streaming interval detection, smoothers and the ring buffer."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mer_edge import InputError, SpottingParams
from mer_edge._ringbuffer import FrameRing
from mer_edge._smoothing import SMOOTHERS, make_smoother
from mer_edge._spotting import IntervalDetector

FPS = 30.0


def _run(scores, params=SpottingParams(min_score=0.2), fps=FPS):
    detector = IntervalDetector(3, params, fps)
    events = []
    for index, score in enumerate(scores):
        events += detector.update(index, index * 1000.0 / fps, score)
    return events + detector.flush()


def _bump(scores, start, frames, height=0.5, lag=6):
    """A movement of ``frames`` frames as a motion-lag score sees it: raised ``frames + lag``."""
    scores[start:start + frames + lag] += np.hanning(frames + lag) * height
    return scores


@pytest.fixture
def noise():
    return np.random.default_rng(0).normal(0.05, 0.01, 400)


def test_short_bump_is_a_micro_expression_and_long_one_macro(noise):
    scores = _bump(_bump(noise, 100, 12), 250, 60)
    events = _run(scores)
    assert [e.kind for e in events] == ["ME", "MaE"]
    me_event, mae_event = events
    assert 99 <= me_event.onset_frame <= me_event.apex_frame <= me_event.offset_frame <= 114
    assert abs(me_event.apex_frame - 109) <= 2
    assert 245 <= mae_event.onset_frame and mae_event.offset_frame <= 316
    assert all(e.track_id == 3 for e in events)


def test_still_face_yields_nothing(noise):
    assert _run(noise) == []


def test_threshold_floor_blocks_small_bumps(noise):
    assert _run(_bump(noise, 100, 12, height=0.1)) == []


def test_close_peaks_merge_and_far_peaks_do_not(noise):
    near = _run(_bump(_bump(noise.copy(), 100, 10), 108, 10))
    far = _run(_bump(_bump(noise.copy(), 100, 10), 200, 10))
    assert len(near) == 1 and len(far) == 2


def test_event_is_emitted_soon_after_the_interval_closes(noise):
    detector = IntervalDetector(0, SpottingParams(min_score=0.2), FPS)
    scores = _bump(noise, 100, 12)
    emitted_at = None
    for index, score in enumerate(scores):
        if detector.update(index, index * 1000.0 / FPS, score):
            emitted_at = index
            break
    assert emitted_at is not None and emitted_at <= 118 + int(0.2 * FPS)


def test_missing_scores_advance_time(noise):
    scores = list(_bump(noise, 100, 12))
    scores[104] = None
    assert len(_run(scores)) == 1


def _talking(scores, start, frames, height=0.5):
    """Speech-like motion: a quick train of bumps (about 4 syllables a second)."""
    phase = np.arange(frames) * 2 * np.pi * 4.0 / FPS
    scores[start:start + frames] += height * np.abs(np.sin(phase))
    return scores


def test_brief_burst_right_after_speech_is_not_a_micro_expression(noise):
    scores = _bump(_talking(noise, 40, 50), 97, 12)
    default = _run(scores)
    unchecked = _run(scores, SpottingParams(min_score=0.2, me_quiet_ratio=None))
    assert any(e.kind == "ME" and e.onset_frame >= 95 for e in unchecked)
    assert not any(e.kind == "ME" and e.onset_frame >= 95 for e in default)
    detector = IntervalDetector(0, SpottingParams(min_score=0.2), FPS)
    for index, score in enumerate(scores):
        detector.update(index, index * 1000.0 / FPS, score)
    detector.flush()
    assert detector.not_still >= 1


def test_micro_expression_needs_a_watched_still_face_before_it(noise):
    whole = SpottingParams(min_score=0.2, me_quiet_min_ms=None)  # the whole me_quiet_ms
    early = _run(_bump(noise.copy(), 30, 12), whole)   # onset 1 s into the track: warm-up + 0.6 s
    late = _run(_bump(noise.copy(), 60, 12), whole)    # 2 s in: 1 s of still face after warm-up
    assert early == [] and [e.kind for e in late] == ["ME"]
    assert [e.kind for e in _run(_bump(noise.copy(), 30, 12),
                                 SpottingParams(min_score=0.2, me_quiet_ms=500,
                                                me_quiet_min_ms=None))] == ["ME"]
    # by default 250 ms watched is enough: the early one is judged on its 0.6 s
    assert [e.kind for e in _run(_bump(noise.copy(), 30, 12))] == ["ME"]
    assert _run(_bump(noise.copy(), 14, 12)) == []  # 0.07 s watched: too little


def test_a_shorter_watched_history_judges_an_early_micro_expression(noise):
    """me_quiet_min_ms: an ME 1 s into the track (0.6 s watched after the warm-up) is judged on
    those 0.6 s; one right after the warm-up, or after speech, is still not reported."""
    params = SpottingParams(min_score=0.2, me_quiet_min_ms=500.0)
    assert [e.kind for e in _run(_bump(noise.copy(), 30, 12), params)] == ["ME"]
    assert _run(_bump(noise.copy(), 18, 12), params) == []  # 0.2 s watched: too little
    assert _run(_bump(_talking(noise, 13, 16), 30, 12), params) == []  # moving just before


@pytest.mark.parametrize(("quantile", "peak"), [(1.0, 10.0), (0.85, 9.0), (0.5, 5.0), (0.01, 1.0)])
def test_the_threshold_peak_is_the_quantile_of_the_history_by_nearest_rank(quantile, peak):
    params = SpottingParams(p=1.0, min_score=0.0, smooth_ms=0.0, warmup_ms=0.0,
                            peak_quantile=quantile)
    detector = IntervalDetector(0, params, FPS)
    for index, score in enumerate(np.random.default_rng(1).permutation(np.arange(1.0, 11.0))):
        detector.update(index, index * 1000.0 / FPS, score)
    assert detector.threshold() == peak  # p = 1: the threshold is the peak itself


def test_a_quantile_peak_keeps_a_large_movement_from_hiding_the_small_ones_after_it():
    """A macro-expression early in the history lifts MEGC's threshold (its maximum) over a
    small movement 12 s later; the 0.85 quantile ignores the macro-expression's few frames."""
    scores = _bump(_bump(np.random.default_rng(2).normal(0.05, 0.01, 600), 20, 40, height=2.0),
                   400, 12, height=0.4)
    found = {}
    for quantile in (1.0, 0.85):
        params = SpottingParams(min_score=0.1, p=0.35, peak_quantile=quantile)
        found[quantile] = [(e.kind, e.onset_frame // 100) for e in _run(scores, params)]
    assert found[1.0] == [("MaE", 0)]
    assert found[0.85] == [("MaE", 0), ("ME", 4)]


def test_the_shortest_run_drops_a_one_frame_jump_but_not_a_micro_expression(noise):
    """A jump from one frame to the next (a landmark glitch) raises a k-lag score for k
    frames exactly, a box; a movement that rises and returns raises it longer."""
    jump = noise.copy()
    jump[100:106] += 0.3  # 6 frames: k (200 ms) at 30 fps
    lenient = SpottingParams(min_score=0.2, smooth_ms=0.0)  # unsmoothed, as flowmag_spotter's
    strict = replace(lenient, min_interval_ms=200.0)
    assert [e.kind for e in _run(jump, lenient)] == ["ME"]
    assert _run(jump, strict) == []
    assert [e.kind for e in _run(_bump(noise, 100, 12), strict)] == ["ME"]


@pytest.mark.parametrize("bad", [
    {"p": 1.5}, {"k_ms": 0}, {"history_ms": 10}, {"max_interval_ms": 100}, {"smooth_ms": -1},
    {"me_quiet_ratio": 1.5}, {"me_quiet_ms": 0}, {"me_quiet_ms": 30_000}, {"rise_onset_ms": -1.0},
    {"me_quiet_min_ms": 0.0}, {"me_quiet_min_ms": -5.0}, {"peak_quantile": 0.0},
    {"peak_quantile": 1.5}])
def test_bad_params_are_named(bad):
    with pytest.raises(InputError, match=next(iter(bad))):
        SpottingParams(**bad)


def test_backwards_time_and_nan_scores_are_rejected():
    detector = IntervalDetector(0, SpottingParams(), FPS)
    detector.update(0, 100.0, 0.1)
    with pytest.raises(InputError, match="backwards"):
        detector.update(1, 50.0, 0.1)
    with pytest.raises(InputError, match="finite"):
        detector.update(1, 150.0, float("nan"))


@pytest.mark.parametrize("name", sorted(SMOOTHERS))
def test_smoothers_hold_state_on_missing_values(name):
    smoother = make_smoother(name, 3)
    smoother.update(1.0)
    assert smoother.update(None) == pytest.approx(1.0)


def test_unknown_smoother_lists_valid_names():
    with pytest.raises(InputError, match="moving_average"):
        make_smoother("kalman", 3)


def test_ring_buffer_indexes_by_time_and_grows():
    ring = FrameRing(4, (8, 8), 5, (1, 4, 4))
    for i in range(6):
        ring.push(i, i * 10.0, np.full((8, 8), i, np.uint8), np.zeros((5, 2)))
    assert len(ring) == 4
    assert ring.crops[ring.slot_at_or_before(35.0)][0, 0] == 3
    assert ring.slot_at_or_before(5.0) is None  # older than everything kept
    assert ring.slot_of_frame(1) is None and ring.slot_of_frame(5) is not None
    ring.grow(8)
    assert ring.capacity == 8 and len(ring) == 4
    assert [int(ring.crops[s][0, 0]) for s in ring.last_slots(4)] == [2, 3, 4, 5]
    with pytest.raises(InputError, match="before the previous"):
        ring.push(9, 1.0, np.zeros((8, 8), np.uint8), np.zeros((5, 2)))


def test_ring_samples_a_window_at_another_frame_rate():
    ring = FrameRing(64, (4, 4), 1, (1, 2, 2))
    for i in range(40):  # a 200 fps camera: 5 ms apart
        ring.push(i, i * 5.0, np.full((4, 4), i, np.uint8), np.zeros((1, 2)))
    times = 195.0 - 33.3 * np.arange(3, -1, -1)  # a model trained at 30 fps, T = 4
    frames = ring.frame_indices[ring.slots_at_times(times)]
    assert frames.tolist() == [19, 25, 32, 39]
    assert ring.frame_indices[ring.slots_at_times(np.array([-50.0]))][0] == 0  # too old: oldest


def _ramp(scores, start, rise, hold=6, fall=4, height=0.5):
    """A movement whose score climbs linearly for ``rise`` frames, holds, then falls."""
    base = scores[start]
    shape = np.concatenate([np.linspace(0, 1, rise + 1)[1:], np.ones(hold), np.linspace(1, 0, fall + 1)[1:]])
    scores[start + 1:start + 1 + len(shape)] = base + height * shape
    return scores


def test_onset_is_where_the_score_began_to_climb():
    flat = np.full(200, 0.05)
    scores = _ramp(flat, 99, rise=6)  # climbs over frames 100..105
    late = _run(scores, SpottingParams(min_score=0.2, rise_onset_ms=None, me_quiet_ratio=None))
    early = _run(scores, SpottingParams(min_score=0.2, me_quiet_ratio=None))
    assert len(late) == len(early) == 1
    # the threshold is crossed part way up; the default walks back to the start of the rise
    assert late[0].onset_frame >= 102
    assert early[0].onset_frame == 100
    assert (early[0].apex_frame, early[0].offset_frame) == (late[0].apex_frame, late[0].offset_frame)


def test_onset_walks_back_no_further_than_rise_onset_ms():
    scores = _ramp(np.full(200, 0.05), 79, rise=30)  # a one-second climb from frame 80
    params = SpottingParams(min_score=0.2, rise_onset_ms=100.0, me_quiet_ratio=None)
    (event,) = _run(scores, params)
    first_above = next(i for i, v in enumerate(scores) if v >= 0.2)
    assert first_above - 3 <= event.onset_frame < first_above  # 100 ms = 3 frames at 30 fps


def test_the_still_face_check_is_anchored_on_the_threshold_crossing():
    # the onset moves back along the rise, but the quiet second is judged before the crossing,
    # so the same short movements are kept or dropped with and without rise_onset_ms
    noisy = np.random.default_rng(3).normal(0.12, 0.05, 900).clip(0)
    for start in (60, 200, 420, 640):
        noisy = _ramp(noisy, start, rise=5, height=0.4)
    with_rise = _run(noisy, SpottingParams(min_score=0.2))
    without = _run(noisy, SpottingParams(min_score=0.2, rise_onset_ms=None))
    assert [e.apex_frame for e in with_rise if e.kind == "ME"] == \
        [e.apex_frame for e in without if e.kind == "ME"]
    assert all(a.onset_frame <= b.onset_frame for a, b in zip(with_rise, without))


def _events_with_stamps(scores, stamp):
    detector = IntervalDetector(0, SpottingParams(min_score=0.2), FPS)
    events = []
    for index, score in enumerate(scores):
        events += detector.update(index, stamp(index), score)
    return [(e.kind, e.onset_frame, e.apex_frame, e.offset_frame) for e in events + detector.flush()]


def test_float_rounding_of_timestamps_never_changes_the_events():
    # Bumps whose gaps are whole numbers of frames sit exactly on the rules' time limits
    # (6 frames at 30 fps are k = 200 ms): two spellings of the same timestamps must agree.
    rng = np.random.default_rng(4)
    scores = rng.normal(0.05, 0.01, 3000)
    start = 40
    for frames, gap in zip(rng.integers(3, 30, 60), rng.integers(4, 12, 60)):
        _bump(scores, start, int(frames), lag=0)
        start += int(frames) + int(gap)
    exact = _events_with_stamps(scores, lambda i: i * 1000.0 / FPS)
    rounded = _events_with_stamps(scores, lambda i: (i / FPS) * 1000.0)
    assert len(exact) > 20 and rounded == exact


def test_ring_lookups_absorb_float_rounding():
    # The frame exactly k ms before frame i, with the stamps and the query spelled differently.
    for fps, k_ms in ((15.0, 200.0), (30.0, 200.0), (30.0, 100.0), (60.0, 100.0)):
        ring = FrameRing(512, (4, 4), 1, (1, 2, 2))
        for i in range(400):
            ring.push(i, (i / fps) * 1000.0, np.zeros((4, 4), np.uint8), np.zeros((1, 2)))
        lag = round(k_ms * fps / 1000.0)
        found = [ring.frame_indices[ring.slot_at_or_before(i * 1000.0 / fps - k_ms)]
                 for i in range(lag, 400)]
        assert found == list(range(400 - lag)), (fps, k_ms)
