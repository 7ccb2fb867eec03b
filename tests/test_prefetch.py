"""Landmarks one frame ahead (``EngineOptions.prefetch_landmarks``): the results of
frame-by-frame processing, errors in the same order, no worker thread left behind."""
from __future__ import annotations

import re
import threading
import time

import cv2
import numpy as np
import pytest

import mer_edge as me
from mer_edge._prefetch import WORKER_NAME
from mer_edge._sources import memory_source, open_source


def _decoded(video, count=None):
    """The first ``count`` (all: None) frames of ``video`` and their timestamps."""
    images, stamps = [], []
    with open_source(video) as frames:
        for frame in frames:
            images.append(frame.image)
            stamps.append(frame.timestamp_ms)
            if len(images) == count:
                break
    return images, stamps


def _key(result):
    """Everything a result says, exactly (arrays as bytes, floats by repr)."""
    faces = [(f.track_id, f.frame_index, repr(f.timestamp_ms), f.box.tobytes(),
              f.landmarks.tobytes(), repr(f.score), repr(f.macro_score)) for f in result.faces]
    return result.frame_index, repr(result.timestamp_ms), faces, [repr(e) for e in result.events]


def _engine(prefetch, **options):
    return me.Engine.from_options(running_mode="file", prefetch_landmarks=prefetch, **options)


def _workers():
    return [thread for thread in threading.enumerate() if thread.name.startswith(WORKER_NAME)]


def _played(images, stamps, prefetch, **options):
    """Every result of ``Engine.run`` over the frames, and the error that ended it (or None)."""
    results = []
    with _engine(prefetch, **options) as engine:
        try:
            for result in engine.run(memory_source(images, stamps)):
                results.append(_key(result))
        except me.MerEdgeError as error:
            return results, error
    return results, None


@pytest.mark.parametrize("video, count", [("default.wmv", None), ("multi_face.avi", 200)])
def test_prefetched_runs_give_the_results_of_frame_by_frame_processing(videos, video, count):
    images, stamps = _decoded(videos / video, count)
    one_by_one, _ = _played(images, stamps, prefetch=False)
    ahead, _ = _played(images, stamps, prefetch=True)
    assert ahead == one_by_one
    assert any(events for *_, events in one_by_one)  # intervals closed, the flush included
    if video == "multi_face.avi":
        assert max(len(faces) for _, _, faces, _ in one_by_one) >= 2
    assert _workers() == []


def _resized(image):
    return cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2))


@pytest.mark.parametrize("spoil, message", [
    (_resized, "resolution changed mid-stream: 640x480 -> 320x240"),  # refused by the engine
    (lambda image: image.astype(np.float32), "image: expected .* uint8 BGR"),  # by the source
])
def test_a_bad_frame_mid_stream_raises_after_the_results_before_it(videos, spoil, message):
    images, stamps = _decoded(videos / "default.wmv", 40)
    images[30] = spoil(images[30])
    one_by_one, expected = _played(images, stamps, prefetch=False)
    ahead, raised = _played(images, stamps, prefetch=True)
    assert [index for index, *_ in ahead] == list(range(30))
    assert ahead == one_by_one
    assert type(raised) is type(expected) and str(raised) == str(expected)
    assert re.search(message, str(raised))
    assert _workers() == []


def _broken_off_then_again(prefetch, images, stamps):
    """The results of a run broken off after frame 10, then of a second run on the engine."""
    with _engine(prefetch) as engine:
        first = []
        for result in engine.run(memory_source(images, stamps)):
            first.append(_key(result))
            assert bool(_workers()) == prefetch  # the next frame's landmarks under way
            if result.frame_index == 10:
                break
        assert _workers() == []
        return first, [_key(r) for r in engine.run(memory_source(images, stamps))]


def test_breaking_out_of_a_run_ends_its_worker_and_the_next_run_starts_anew(videos):
    images, stamps = _decoded(videos / "default.wmv", 60)
    assert (_broken_off_then_again(True, images, stamps)
            == _broken_off_then_again(False, images, stamps))


def _with_reset_at(prefetch, images, stamps, at):
    """A run whose consumer resets the engine after result ``at``: every result and reset's
    events."""
    seen = []
    with _engine(prefetch) as engine:
        run = engine.run(memory_source(images, stamps))
        for result in run:
            seen.append(_key(result))
            if result.frame_index == at and len(seen) == at + 1:
                seen.append([repr(e) for e in engine.reset()])
    return seen


def test_a_reset_between_two_results_drops_the_frame_under_way_and_starts_it_again(videos):
    images, stamps = _decoded(videos / "default.wmv", 80)
    ahead = _with_reset_at(True, images, stamps, 40)
    assert ahead == _with_reset_at(False, images, stamps, 40)
    assert ahead[42][0] == 0  # the frame after the reset is the new stream's first
    assert _workers() == []


def test_closing_the_engine_between_two_results_ends_the_worker(videos):
    images, stamps = _decoded(videos / "default.wmv", 20)
    engine = _engine(True)
    run = engine.run(memory_source(images, stamps))
    assert next(run).frame_index == 0 and _workers()
    engine.close()  # the landmarks of frame 1 were under way: finished, then closed
    assert _workers() == []
    with pytest.raises(me.InputError, match="the engine is closed"):
        next(run)  # as process() would for frame 1


def test_process_is_refused_while_a_run_has_a_frame_under_way_but_not_without_prefetch(videos):
    images, stamps = _decoded(videos / "default.wmv", 5)
    for prefetch in (True, False):
        with _engine(prefetch) as engine:
            run = engine.run(memory_source(images, stamps))
            next(run)
            if prefetch:
                with pytest.raises(me.InputError, match="prefetch_landmarks"):
                    engine.process(images[1], stamps[1] + 1.0)
            else:
                assert engine.process(images[1], stamps[1] + 1.0).frame_index == 1
            run.close()
            engine.process(images[2], stamps[2] + 2.0)  # the run is over: push goes on
    assert _workers() == []


def test_prefetch_landmarks_must_be_a_bool():
    with pytest.raises(me.InputError, match="prefetch_landmarks must be True or False, got 1"):
        me.EngineOptions(prefetch_landmarks=1)


def _live(video, prefetch, stall_s):
    """run_live over ``video`` paced at 50 fps, the first result's callback stalling so that
    frames wait in the queue: each result's frame and faces (live timestamps are the clock's,
    so not compared), whether a frame was under way at each result, and the counts."""
    received, ahead = [], []

    def take(result):
        if not received:
            time.sleep(stall_s)
        received.append((result.frame_index, [(f.track_id, f.box.tobytes(), f.landmarks.tobytes())
                                              for f in result.faces]))
        ahead.append(engine._ahead is not None and engine._ahead.pending)

    options = me.EngineOptions(running_mode="live", result_callback=take, recognize=False,
                               prefetch_landmarks=prefetch)
    with me.Engine.from_options(options) as engine:
        counts = engine.run_live(video, fps=50)
    return received, ahead, counts


def test_live_runs_read_ahead_the_frames_already_waiting(videos):
    video = videos / "openface_image_sequence"
    received, ahead, counts = _live(video, True, 0.05)  # about two frames queue up meanwhile
    one_by_one, none_ahead, counts_one_by_one = _live(video, False, 0.05)
    assert _workers() == []
    assert any(ahead) and not any(none_ahead)
    assert counts["processed"] + counts["dropped"] == 30
    if counts["dropped"] == counts_one_by_one["dropped"] == 0:  # a loaded machine may drop
        assert received == one_by_one


def test_a_failing_live_callback_stops_the_run_and_its_worker(videos):
    def failing(result):
        if result.frame_index == 3:
            raise RuntimeError("the application's bug")

    options = me.EngineOptions(running_mode="live", result_callback=failing, recognize=False)
    with me.Engine.from_options(options) as engine:
        with pytest.raises(me.ResultCallbackError) as raised:
            engine.run_live(videos / "openface_image_sequence", fps=100)
        assert raised.value.result.frame_index == 3
        assert _workers() == []
