"""The engine end to end on real video, and its input checks."""
from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

import mer_edge as me


@pytest.fixture(scope="module")
def engine():
    with me.Engine.from_options(me.EngineOptions()) as engine:
        yield engine


def _frames(path, count):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def test_push_mode_tracks_the_face_on_every_frame(videos):
    frames = _frames(videos / "default.wmv", 60)
    with me.Engine.from_options(me.EngineOptions()) as engine:
        results = [engine.process(frame, i * 1000 / 15) for i, frame in enumerate(frames)]
        stats = engine.stats()
    assert all(len(r.faces) == 1 for r in results)
    assert len({face.track_id for r in results for face in r.faces}) == 1
    scores = [r.faces[0].score for r in results]
    assert np.isnan(scores[0]) and np.isfinite(scores[-1])
    assert stats["frames"] == 60 and set(stats["ms_per_stage"]) >= {"face", "align", "flow", "spot"}
    box = results[-1].faces[0].box
    assert 0 <= box[0] < box[2] <= 640 and 0 <= box[1] < box[3] <= 480


def test_stats_have_the_documented_typed_fields(videos):
    # stats() was typed dict[str, object]: a typed client could not use stats()["fps"] as a number
    import typing

    with me.Engine.from_options(me.EngineOptions(recognize=False)) as engine:
        engine.process(_frames(videos / "default.wmv", 1)[0], 0.0)
        stats = engine.stats()
    hints = typing.get_type_hints(me.EngineStats)
    assert list(stats) == list(hints) and "EngineStats" in me.__all__
    for name, kind in hints.items():
        assert isinstance(stats[name], typing.get_origin(kind) or kind), name
    assert stats["frames"] == 1 and stats["faces"] == 1


def test_results_serialise_to_json_with_the_times_they_were_given(videos):
    import json

    frames = _frames(videos / "lp_d9.mp4", 110)  # a movement from frame 64, closed by frame 110
    stamps = [5_000.0 + i * 1000 / 30 for i in range(len(frames))]
    with me.Engine.from_options(me.EngineOptions()) as engine:
        results = [engine.process(frame, stamp) for frame, stamp in zip(frames, stamps)]
    lines = [json.loads(json.dumps(result.to_dict())) for result in results]
    assert [line["frame"] for line in lines] == list(range(len(frames)))
    assert [line["timestamp_ms"] for line in lines] == [round(stamp, 3) for stamp in stamps]
    face = lines[-1]["faces"][0]
    assert set(face) == {"frame", "timestamp_ms", "track_id", "box", "score"}
    events = [event for line in lines for event in line["events"]]
    assert events and set(events[0]) == {"track_id", "type", "onset_frame", "apex_frame",
                                         "offset_frame", "onset_ms", "apex_ms", "offset_ms",
                                         "score", "label", "probs"}
    for event in events:
        for point in ("onset", "apex", "offset"):
            assert event[f"{point}_ms"] == round(stamps[event[f"{point}_frame"]], 3)
        assert event["label"] in event["probs"] and event["type"] in ("ME", "MaE")


def test_frame_without_face_is_normal(engine):
    result = engine.process(np.zeros((480, 640, 3), np.uint8), 1.0)
    assert result.faces == [] and result.events == []


BAD_FRAMES = [  # the forms applications hold, each named with the conversion it needs
    (np.zeros((48, 64), np.uint8), r"shape \(48, 64\) .*cv2.COLOR_GRAY2BGR"),
    (np.zeros((48, 64, 1), np.uint8), "cv2.COLOR_GRAY2BGR"),
    (np.zeros((48, 64, 4), np.uint8), r"shape \(48, 64, 4\) .*cv2.COLOR_BGRA2BGR"),
    (np.zeros((48, 64, 3), np.float32), r"dtype float32 \(float pixels: scale to 0-255"),
    (np.zeros((48, 64, 3), np.uint16), "dtype uint16$"),
    ([[0, 0, 0]], "numpy array"),
    (None, "numpy array.*got NoneType"),
    (np.zeros((4, 4, 3), np.uint8), r"at least 16x16 pixels, got shape \(4, 4, 3\)"),
    (np.zeros((0, 0, 3), np.uint8), "at least 16x16"),
]


@pytest.mark.parametrize("frame, message", BAD_FRAMES)
def test_bad_frames_are_named(frame, message):
    with me.Engine.from_options(me.EngineOptions(recognize=False)) as engine:
        with pytest.raises(ValueError, match=message):
            engine.process(frame, 0.0)


def test_a_bad_frame_loses_no_open_interval_and_views_are_frames_like_any(videos, pinned_detection):
    # lp_d9's first short movement (from about frame 64) is still open at frame 70 (pinned:
    # under 0.4.0's shortest run of 200 ms it is not yet an interval at frame 72).
    frames = _frames(videos / "lp_d9.mp4", 71)
    flushed = []
    for bad_frames in ((), (frames[0][..., 0], frames[0][:100, :100], frames[0].astype(np.float32))):
        options = me.EngineOptions(recognize=False, spotting_overrides=pinned_detection)
        with me.Engine.from_options(options) as engine:
            for i, frame in enumerate(frames):
                engine.process(frame, i * 1000 / 30)
            for bad in bad_frames:
                with pytest.raises(me.InputError):
                    engine.process(bad, 71 * 1000 / 30)
            flushed.append([(e.interval.onset_frame, e.interval.offset_frame) for e in engine.flush()])
    without_bad, after_bad = flushed
    assert len(without_bad) == 1 and 60 <= without_bad[0][0] <= 68, without_bad
    assert after_bad == without_bad
    crops = [frame[40:440, 100:540] for frame in frames[:12]]  # views: not contiguous
    with me.Engine.from_options(me.EngineOptions(recognize=False)) as engine:
        viewed = [engine.process(crop, i * 40.0).faces for i, crop in enumerate(crops)]
        engine.reset()
        copied = [engine.process(np.ascontiguousarray(crop), i * 40.0).faces
                  for i, crop in enumerate(crops)]
    assert [[(f.box.tolist(), str(f.score)) for f in faces] for faces in viewed] == \
        [[(f.box.tolist(), str(f.score)) for f in faces] for faces in copied]
    assert all(len(faces) == 1 for faces in viewed)


@pytest.mark.parametrize("stamps, message", [
    ((10.0, 5.0), "not after the previous 10.0"),
    ((10.0, 10.0), "not after"),
    ((10.0, float("nan")), "finite"),
    ((10.0, "soon"), "number"),
    ((10.0, "200"), "number of milliseconds"),
    ((10.0, True), "number of milliseconds"),
])
def test_bad_timestamps_are_named_and_state_is_kept(stamps, message):
    frame = np.zeros((120, 160, 3), np.uint8)
    with me.Engine.from_options(me.EngineOptions(recognize=False)) as engine:
        engine.process(frame, stamps[0])
        with pytest.raises(me.InputError, match=message):
            engine.process(frame, stamps[1])
        assert engine.process(frame, 20.0).frame_index == 1  # nothing lost


def test_resolution_change_is_refused():
    with me.Engine.from_options(me.EngineOptions(recognize=False)) as engine:
        engine.process(np.zeros((120, 160, 3), np.uint8), 0.0)
        with pytest.raises(me.InputError, match="160x120 -> 320x240"):
            engine.process(np.zeros((240, 320, 3), np.uint8), 1.0)


@pytest.mark.parametrize("options, message", [
    ({"running_mode": "live"}, "result_callback"),
    ({"result_callback": print}, "only used in 'live'"),
    ({"running_mode": "batch"}, "running_mode"),
    ({"max_faces": 0}, "max_faces"),
    ({"fps_hint": -3.0}, "fps_hint"),
    ({"spotting_overrides": {"threshold": 0.5}}, "unknown parameter 'threshold'; valid: .*'p'"),
    ({"spotting_overrides": {"k_ms": 100.0}}, "with the k_ms option"),
    ({"spotting_overrides": [("p", 0.5)]}, "expected a mapping"),
    ({"running_mode": "live", "result_callback": 5}, "result_callback must be callable"),
    ({"spotting": {"p": 0.5}}, "expected SpottingParams"),
    ({"max_faces": 2.5}, "max_faces must be a whole number >= 1, got 2.5"),
    ({"max_faces": "x"}, "max_faces must be a whole number"),
    ({"max_missed_frames": -1}, "max_missed_frames must be a whole number >= 0"),
    ({"alignment_smoothing": 5}, r"alignment_smoothing must be in \[0, 1\)"),
    ({"alignment_smoothing": None}, "alignment_smoothing must be a number, got None"),
    ({"fps_hint": "30"}, "fps_hint must be a number"),
    ({"k_ms": float("nan")}, "k_ms must be a number"),
    ({"max_brightness_change": 0}, "max_brightness_change must be > 0 or None"),
])
def test_bad_options_are_named(options, message):
    with pytest.raises(me.InputError, match=message):
        me.EngineOptions(**options)


def test_from_options_names_an_unknown_override_with_the_valid_fields():
    # it was a bare TypeError from dataclasses.replace ("unexpected keyword argument")
    with pytest.raises(me.InputError, match=r"unknown EngineOptions field\(s\) \['max_face'\]; "
                                            r"valid: .*'max_faces'"):
        me.Engine.from_options(max_face=2)
    with pytest.raises(me.InputError, match="max_faces must be a whole number"):
        me.Engine.from_options(me.EngineOptions(recognize=False), max_faces=0)


def test_spotting_overrides_go_over_the_spotters_calibration():
    from mer_edge._models import default_model_path

    calibrated = default_model_path("spotting").parent / "regional_tcn_spotter.onnx"
    detection = me.Model(calibrated).info.detection
    assert detection, "the regional spotter carries calibrated detection parameters"
    options = me.EngineOptions(spotting_model=str(calibrated), recognize=False,
                               spotting_overrides={"me_quiet_ratio": None, "warmup_ms": 100.0})
    with me.Engine.from_options(options) as engine:
        params = engine.spotting_params
    assert params.me_quiet_ratio is None and params.warmup_ms == 100.0
    assert all(getattr(params, name) == value for name, value in detection.items())
    # over explicit parameters too, and a value that does not fit is named with its source
    explicit = me.EngineOptions(recognize=False, spotting=me.SpottingParams(p=0.2),
                                spotting_overrides={"min_score": 0.1})
    with me.Engine.from_options(explicit) as engine:
        assert (engine.spotting_params.p, engine.spotting_params.min_score) == (0.2, 0.1)
    bad = me.EngineOptions(recognize=False, spotting_overrides={"me_quiet_ms": 60_000.0})
    with pytest.raises(me.InputError, match="spotting_overrides .*me_quiet_ms"):
        me.Engine.from_options(bad)


@pytest.fixture()
def opened_sessions(monkeypatch):
    """Every inference session a :class:`me.Model` opens during the test, in order."""
    from mer_edge import _models

    sessions = []

    def create_session(*args, **kwargs):
        sessions.append(real_create_session(*args, **kwargs))
        return sessions[-1]

    real_create_session = _models.create_session
    monkeypatch.setattr(_models, "create_session", create_session)
    return sessions


def _assert_all_closed(sessions, count):
    assert len(sessions) == count
    for session in sessions:
        with pytest.raises(me.BackendError, match="the inference session is closed"):
            session.run({})


def test_a_model_of_the_wrong_task_is_refused_and_the_open_sessions_closed(opened_sessions):
    from mer_edge._models import default_model_path

    spotter = default_model_path("spotting")
    # the spotting model given as the recognition model: the engine had left the spotter (and
    # the refused file's own session) open until garbage collection got to them
    options = me.EngineOptions(recognition_model=str(spotter))
    with pytest.raises(me.ModelError, match=f"{spotter}: is a spotting model, expected recognition"):
        me.Engine.from_options(options)
    _assert_all_closed(opened_sessions, 2)  # the spotter, then the refused "recognizer"


def test_a_bad_spotting_parameter_closes_the_models_already_open(opened_sessions):
    bad = me.EngineOptions(spotting_overrides={"me_quiet_ms": 60_000.0})
    with pytest.raises(me.InputError, match="spotting_overrides .*me_quiet_ms"):
        me.Engine.from_options(bad)
    _assert_all_closed(opened_sessions, 2)  # the spotter and the recognizer


def test_a_landmarker_that_cannot_start_closes_the_models_already_open(opened_sessions,
                                                                        monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mediapipe", None)  # as in an install without MediaPipe
    with pytest.raises(me.BackendError, match="the face landmarker needs MediaPipe"):
        me.Engine.from_options(me.EngineOptions())
    _assert_all_closed(opened_sessions, 2)


def test_modes_are_enforced(engine):
    with pytest.raises(me.InputError, match="running_mode 'file'"):
        next(iter(engine.run("x.mp4")))
    with pytest.raises(me.InputError, match="running_mode 'live'"):
        engine.run_live(0)


def test_close_is_idempotent_and_final():
    engine = me.Engine.from_options(me.EngineOptions(recognize=False))
    engine.close()
    engine.close()
    with pytest.raises(me.InputError, match="closed"):
        engine.process(np.zeros((32, 32, 3), np.uint8), 0.0)


def test_a_second_call_while_a_frame_is_processed_is_refused_not_run(videos):
    # Two threads in one engine's MediaPipe graph crashed the process (SIGSEGV).  A crop
    # observer holds the first call open while another thread, then this one, calls in.
    import threading

    frames = _frames(videos / "default.wmv", 3)
    refused = []

    def call_in(track_id, frame_index, timestamp_ms, crop):
        def from_another_thread():
            try:
                engine.process(frames[1], timestamp_ms + 100.0)
            except me.InputError as error:
                refused.append(str(error))

        if frame_index == 1:
            thread = threading.Thread(target=from_another_thread)
            thread.start()
            thread.join()
            for call in (lambda: engine.flush(), lambda: engine.reset(), lambda: engine.close()):
                with pytest.raises(me.InputError, match="from inside a call|while another call"):
                    call()

    with me.Engine.from_options(me.EngineOptions(recognize=False)) as engine:
        engine.add_crop_observer(call_in)
        results = [engine.process(frame, i * 66.7) for i, frame in enumerate(frames)]
        assert [len(r.faces) for r in results] == [1, 1, 1]  # nothing broken, nothing lost
        assert engine.stats()["frames"] == 3
    assert len(refused) == 1 and "not thread-safe" in refused[0]


def test_the_result_callback_may_call_the_engine_back_and_its_error_keeps_the_state(videos):
    frames = _frames(videos / "default.wmv", 4)
    seen = []

    def callback(result):
        seen.append((result.frame_index, engine.stats()["frames"]))
        if len(seen) == 2:
            engine.reset()  # runs after the frame's work: a new stream starts
        if len(seen) == 4:
            raise RuntimeError("the application's bug")

    options = me.EngineOptions(running_mode="live", result_callback=callback, recognize=False)
    with me.Engine.from_options(options) as engine:
        engine.process(frames[0], 0.0)
        engine.process(frames[1], 66.7)
        engine.process(frames[2], 0.0)  # time starts anew after the reset
        with pytest.raises(me.ResultCallbackError, match="RuntimeError: .*bug") as raised:
            engine.process(frames[3], 66.7)
        assert raised.value.result.frame_index == 1
        assert engine.flush() == [] and engine.process(frames[0], 133.3).frame_index == 2
    assert seen == [(0, 1), (1, 2), (0, 3), (1, 4), (2, 5)]


def _intervals(events):
    return [(e.interval.onset_frame, e.interval.offset_frame, e.kind) for e in events]


def _left_open(frames, frame_ms, spotting_overrides=None):
    """The intervals a default engine (spotting only, with ``spotting_overrides``) holds open
    after ``frames``: what its ``flush()`` returns.  The tests below compare other ways of
    ending a stream with it."""
    options = me.EngineOptions(recognize=False, spotting_overrides=spotting_overrides)
    with me.Engine.from_options(options) as engine:
        for i, frame in enumerate(frames):
            engine.process(frame, i * frame_ms)
        return _intervals(engine.flush())


def test_a_result_callback_that_raises_loses_neither_the_result_nor_open_intervals(videos):
    """The failing frame's result comes back on the error; the stream goes on unchanged."""
    frames = _frames(videos / "lp_d9.mp4", 160)  # an ME opens at about frame 64, a MaE later

    def events_with(callback):
        options = me.EngineOptions(running_mode="live", result_callback=callback, recognize=False)
        results, failures = [], []
        with me.Engine.from_options(options) as engine:
            for i, frame in enumerate(frames):
                try:
                    results.append(engine.process(frame, i * 1000 / 30))
                except me.ResultCallbackError as failure:
                    failures.append(failure)
                    results.append(failure.result)
            tail = engine.flush()
        assert [r.frame_index for r in results] == list(range(len(frames)))  # none lost
        closing = [r.frame_index for r in results if r.events]
        return [e for r in results for e in r.events] + tail, failures, closing

    given = []

    def failing(result):  # fails inside the ME (70: open) and on every result with events
        given.append(result)
        if result.events or result.frame_index == 70:
            raise KeyError("the application's bug")

    expected, _, closing = events_with(lambda result: None)
    assert len(expected) >= 2 and any(e.interval.onset_frame < 70 < closing[0] for e in expected)
    events, failures, _ = events_with(failing)
    assert _intervals(events) == _intervals(expected)
    assert [f.result.frame_index for f in failures] == [70] + closing
    for failure in failures:
        assert failure.result is given[failure.result.frame_index]
        assert isinstance(failure, me.MerEdgeError) and isinstance(failure.__cause__, KeyError)
        assert "result callback raised KeyError" in str(failure)
        assert "the application's bug" in str(failure)


def test_a_result_callback_that_raises_on_a_left_open_result_hands_it_back(videos,
                                                                          pinned_detection):
    """run_live() hands on the intervals an earlier stream left open; a failing callback keeps
    them."""
    frames = _frames(videos / "lp_d9.mp4", 73)  # stops inside the ME that opens at about 64
    expected = _left_open(frames, 1000 / 30, pinned_detection)  # pinned: an ME open at 72
    assert len(expected) == 1 and expected[0][2] == "ME"

    def failing(result):
        if result.events:
            raise RuntimeError("the application's bug")

    options = me.EngineOptions(running_mode="live", result_callback=failing, recognize=False,
                               spotting_overrides=pinned_detection)
    with me.Engine.from_options(options) as engine:
        for i, frame in enumerate(frames):
            engine.process(frame, i * 1000 / 30)
        with pytest.raises(me.ResultCallbackError) as raised:
            engine.run_live(videos / "lp_d0.mp4", should_stop=lambda: True)
        assert _intervals(raised.value.result.events) == expected
        assert raised.value.result.frame_index == 72
        assert engine.flush() == []  # handed back once, not kept twice


def test_file_mode_on_a_video_without_usable_faces(videos):
    options = me.EngineOptions(running_mode="file", recognize=False)
    with me.Engine.from_options(options) as engine:
        results = list(itertools.islice(engine.run(videos / "video_01.mp4"), 30))
    assert len(results) == 30 and all(r.faces == [] for r in results)


def test_file_mode_plays_a_source_the_caller_opened_and_leaves_it_open(videos):
    from mer_edge._sources import open_source

    options = me.EngineOptions(running_mode="file", recognize=False)
    with me.Engine.from_options(options) as engine, \
            open_source(videos / "lp_d0.mp4") as frames:
        assert len(list(engine.run(frames))) == frames.frames_read == frames.frame_count
        assert frames.error is None and list(frames) == []  # still open: a closed one raises
        with pytest.raises(me.InputError, match="already open; give the fps to open_source"):
            next(iter(engine.run(frames, fps=10)))
    with me.Engine.from_options(options) as engine, \
            open_source(videos / "lp_d0.mp4", live=True) as frames:
        with pytest.raises(me.InputError, match="is live .*run_live"):
            next(iter(engine.run(frames)))


def test_live_mode_delivers_results_to_the_callback(videos):
    received = []
    options = me.EngineOptions(running_mode="live", result_callback=received.append, recognize=False)
    with me.Engine.from_options(options) as engine:
        counts = engine.run_live(str(videos / "openface_image_sequence"),
                                 should_stop=lambda: len(received) >= 10)
    assert counts["processed"] == len([r for r in received if r.faces or not r.events])
    assert len(received) >= 10 and any(r.faces for r in received)


@pytest.mark.parametrize("to_unit, warns", [
    (lambda ms: ms * 1000.0, True),  # microseconds
    (lambda ms: ms, False),
    (lambda ms: ms / 8.0, False),  # a 200 fps camera (5 ms apart)
    (lambda ms: ms / 80.0, False),  # the fastest camera expected (MAX_FPS: 0.5 ms apart)
])
def test_timestamps_that_are_not_milliseconds_are_warned_about(videos, to_unit, warns):
    import warnings

    frames = _frames(videos / "lp_d0.mp4", 14)
    with me.Engine.from_options(me.EngineOptions(recognize=False)) as engine, \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [engine.process(frame, to_unit(i * 40.0)) for i, frame in enumerate(frames)]
    ours = [w for w in caught if issubclass(w.category, me.TimestampWarning)]
    assert len(ours) == (1 if warns else 0)  # once per stream
    assert len(results) == 14  # a warning, not an error: nothing is refused
    if warns:
        assert "pass milliseconds" in str(ours[0].message) and ours[0].filename == __file__


@pytest.mark.parametrize("fps_hint", [None, 0.5])  # rings of 231 frames, and of the least, 8
def test_timestamps_in_seconds_are_refused_before_the_frame_ring_grows(videos, fps_hint):
    # time.time() or CAP_PROP_POS_MSEC / 1000 passed as milliseconds: frames 0.033 "ms" apart
    # made each face's ring grow to what a 2000 fps camera needs (15,400 frames, 357 MiB).
    from mer_edge._timestamps import IMPLAUSIBLE_GAPS

    frames = _frames(videos / "default.wmv", IMPLAUSIBLE_GAPS + 1)
    with me.Engine.from_options(me.EngineOptions(recognize=False, fps_hint=fps_hint)) as engine:
        planned = engine._frames_over_horizon(engine._fps_hint)
        results = [engine.process(frame, i / 30.0) for i, frame in enumerate(frames[:-1])]
        with pytest.raises(me.InputError, match=r"0\.0333 ms apart .*look like seconds.*"
                                                r"pass milliseconds"):
            engine.process(frames[-1], IMPLAUSIBLE_GAPS / 30.0)
        assert [len(r.faces) for r in results] == [1] * IMPLAUSIBLE_GAPS  # kept, not undone
        assert [t.ring.capacity for t in engine._tracks.values()] == [planned]  # not grown
        assert engine.stats()["frames"] == IMPLAUSIBLE_GAPS  # the refused frame left no trace
        engine.reset()  # the engine stays usable: the same frames in milliseconds
        again = [engine.process(frame, i * 1000.0 / 30.0) for i, frame in enumerate(frames)]
        assert [len(r.faces) for r in again] == [1] * len(frames)


def test_the_frame_ring_stays_bounded_when_frames_come_faster_than_any_camera(videos):
    # Frames 0.3 ms apart (3,333 fps: warned, not refused) ask for a ring of 25,779 frames
    # at once, and more once full (seconds, refused now, asked for 232,237): it stops at
    # what the fastest camera expected needs.
    import math
    import warnings

    from mer_edge._timestamps import MAX_FPS

    frames = _frames(videos / "default.wmv", 60)
    with me.Engine.from_options(me.EngineOptions(recognize=False)) as engine, \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = None
        for i in range(300):
            engine.process(frames[i % len(frames)], i * 0.3)
            first = first or max(t.ring.capacity for t in engine._tracks.values())
        capacity = max(track.ring.capacity for track in engine._tracks.values())
        ceiling = math.ceil(engine._ring_horizon_ms / 1000.0 * MAX_FPS)
    assert any(issubclass(w.category, me.TimestampWarning) for w in caught)
    assert first < capacity <= ceiling  # it grew (a fast camera needs it), up to the fastest


def test_a_lamp_moved_is_not_reported_as_an_expression(videos):
    def events(**options):
        # the lighting check alone: following and the neutral check, after it, would merge
        # or drop some of the intervals it drops (following merges two of the lamp's three)
        options = me.EngineOptions(running_mode="file", follow_displaced=None, max_me_residual=None,
                                   **options)
        with me.Engine.from_options(options) as engine:
            found = [e for r in engine.run(videos / "changeLighting.wmv") for e in r.events]
            return found, engine.stats()["lighting_changes"]

    guarded, dropped = events()
    unguarded, none_dropped = events(max_brightness_change=None)
    assert guarded == [] and dropped >= 1  # the face brightens 44 -> 78 twice: no expression
    assert len(unguarded) == dropped and none_dropped == 0


def test_brightness_change_is_measured_from_the_onset_over_the_interval():
    from mer_edge._lighting import (brightness_change, crop_brightness, is_lighting_change,
                                    recorded_brightness_change)
    from mer_edge._results import SpottedInterval
    from mer_edge._ringbuffer import FrameRing

    ring = FrameRing(16, (8, 8), 1, (1, 2, 2))
    for i, level in enumerate([100, 100, 100, 110, 130, 100, 100]):
        ring.push(i, i * 33.3, np.full((8, 8), level, np.uint8), np.zeros((1, 2)))

    def interval(onset, offset):
        return SpottedInterval(track_id=0, onset_frame=onset, apex_frame=onset, offset_frame=offset,
                               onset_ms=onset * 33.3, apex_ms=onset * 33.3,
                               offset_ms=offset * 33.3, score=0.5, kind="ME")

    assert brightness_change(ring, interval(1, 6)) == pytest.approx(0.30)
    assert brightness_change(ring, interval(5, 6)) == 0.0
    # the replay of recorded brightness (calibration) measures the same
    frames = ring.frame_indices[ring.last_slots(len(ring))]
    recorded = crop_brightness(ring.crops[ring.last_slots(len(ring))])
    for onset, offset in [(1, 6), (5, 6), (0, 3)]:
        assert (recorded_brightness_change(frames, recorded, interval(onset, offset))
                == brightness_change(ring, interval(onset, offset)))
    assert recorded_brightness_change(frames[2:], recorded[2:], interval(1, 6)) is None
    assert [is_lighting_change(change, limit) for change, limit in
            [(0.3, 0.15), (0.15, 0.15), (None, 0.15), (0.3, None)]] == [True, False, False, False]
    for i in range(7, 20):  # the onset leaves the ring: nothing to compare with
        ring.push(i, i * 33.3, np.full((8, 8), 100, np.uint8), np.zeros((1, 2)))
    assert brightness_change(ring, interval(1, 6)) is None


def _observed(results):
    """What a run saw, without track ids (they keep counting up across streams)."""
    faces = [(r.frame_index, r.timestamp_ms, [(tuple(f.box), f.score) for f in r.faces])
             for r in results]
    events = [(e.interval.kind, e.interval.onset_frame, e.interval.apex_frame,
               e.interval.offset_frame, e.label) for r in results for e in r.events]
    return faces, events


def test_one_engine_runs_several_files_each_as_a_new_stream(videos):
    with me.Engine.from_options(me.EngineOptions(running_mode="file")) as engine:
        first = list(engine.run(videos / "lp_d0.mp4"))
        images = list(engine.run(videos / "openface_image_sequence"))  # another resolution
        again = list(engine.run(videos / "lp_d0.mp4"))  # timestamps start at 0 again
    assert len(first) >= 78 and first[0].frame_index == 0 and images[0].frame_index == 0
    assert np.isfinite(first[-2].faces[0].score)
    assert _observed(again) == _observed(first)


@pytest.mark.parametrize("add_observer", ["add_crop_observer", "add_score_observer"])
def test_close_from_a_thread_an_observer_waits_for_does_not_hang(videos, add_observer):
    # An observer that had another thread close the engine, and joined it, hung for ever:
    # close() waited for the frame in progress, which waited for the observer.
    import threading

    frames = _frames(videos / "default.wmv", 4)
    closers = []

    def close_from_another_thread(track_id, frame_index, timestamp_ms, value):
        if frame_index == 1 and not closers:
            closers.append(threading.Thread(target=engine.close, daemon=True))
            closers[0].start()
            closers[0].join()

    engine = me.Engine.from_options(me.EngineOptions(recognize=False))
    getattr(engine, add_observer)(close_from_another_thread)
    results, refused = [], []

    def feed():
        try:
            for i, frame in enumerate(frames):
                results.append(engine.process(frame, i * 66.7))
        except me.InputError as error:
            refused.append(str(error))

    feeder = threading.Thread(target=feed, daemon=True)  # a hang fails the test, not the run
    feeder.start()
    feeder.join(timeout=120)
    assert not feeder.is_alive(), "close() from a thread an observer joined hung"
    assert [len(r.faces) for r in results] == [1, 1]  # the frame in progress was finished
    assert refused == ["the engine is closed"]  # then the engine closed: the next frame
    with pytest.raises(me.BackendError, match="the inference session is closed"):
        engine.models["spotting"].session.run({})  # the models were released


def test_reset_starts_a_new_push_stream_and_returns_open_intervals(videos):
    frames = _frames(videos / "default.wmv", 20)
    with me.Engine.from_options(me.EngineOptions(recognize=False)) as engine:
        for i, frame in enumerate(frames):
            engine.process(frame, 1000.0 + i * 1000 / 15)
        assert _intervals(engine.reset()) == _left_open(frames, 1000 / 15)  # frames: same events
        result = engine.process(frames[0], 0.0)  # time and frame numbers start anew
        assert result.frame_index == 0 and len(result.faces) == 1
        engine.close()
        with pytest.raises(me.InputError, match="closed"):
            engine.reset()


def test_an_interval_left_open_is_returned_by_reset_and_yielded_first_by_run(videos,
                                                                             pinned_detection):
    # lp_d9's first short movement (from about frame 64) is still open at frame 70 (pinned, as
    # in test_a_bad_frame_loses_no_open_interval_and_views_are_frames_like_any).
    frames = _frames(videos / "lp_d9.mp4", 71)
    expected = _left_open(frames, 1000 / 30, pinned_detection)
    assert len(expected) == 1 and expected[0][2] == "ME"
    options = me.EngineOptions(running_mode="file", recognize=False,
                               spotting_overrides=pinned_detection)
    with me.Engine.from_options(options) as engine:
        for i, frame in enumerate(frames):
            engine.process(frame, i * 1000 / 30)
        left_open = engine.reset()
        for i, frame in enumerate(frames):
            engine.process(frame, i * 1000 / 30)
        flushes = []
        flush = engine._flush
        engine._flush = lambda: flushes.append(len(engine._tracks)) or flush()
        played = engine.run(videos / "lp_d0.mp4")
        first, second = next(played), next(played)
    assert _intervals(left_open) == expected
    assert first.faces == [] and _intervals(first.events) == expected
    assert first.frame_index == 70 and second.frame_index == 0  # the old stream's last frame
    assert flushes == [1]  # the new stream closes the old one's face once, not again when empty


def _with_window(source, target, **window):
    """A copy of a shipped spotter whose metadata window gets ``window`` entries."""
    import json

    import onnx

    model = onnx.load(str(source))
    for prop in model.metadata_props:
        if prop.key == "mer_edge.window":
            prop.value = json.dumps({**json.loads(prop.value), **window})
    onnx.save(model, str(target))
    return target


def _events(spotter, frames, fps):
    # the return-to-neutral check and the following look at the newest frame, which the lag
    # moves: off here
    options = me.EngineOptions(spotting_model=str(spotter), recognize=False, max_me_residual=None,
                               follow_displaced=None,
                               spotting=me.SpottingParams(p=0.2, min_score=0.0))
    with me.Engine.from_options(options) as engine:
        events = [e for i, f in enumerate(frames) for e in engine.process(f, i * 1000 / fps).events]
        events += engine.flush()
    # onset and offset come from the score stream; the apex is refined from the crops
    return [(e.interval.onset_frame, e.interval.offset_frame) for e in events]


def test_look_ahead_spotter_scores_an_earlier_frame(videos, tmp_path):
    # The same score function with window.lag_ms = 200 ms (3 frames at 15 fps): the
    # detector sees every score 3 frames earlier, so intervals move 3 frames back.
    from mer_edge._models import default_model_path

    frames = _frames(videos / "default.wmv", 288)
    plain = default_model_path("spotting")
    lagged = _with_window(plain, tmp_path / "lagged.onnx", lag_ms=200.0)
    assert me.Model(lagged).info.window["lag_ms"] == 200.0
    before = [e for e in _events(plain, frames, 15.0) if 30 <= e[0] and e[1] < 270]
    after = set(_events(lagged, frames, 15.0))
    assert len(before) >= 3, "the low threshold must give events to compare"
    assert all((onset - 3, offset - 3) in after for onset, offset in before)


def test_negative_look_ahead_is_refused(tmp_path):
    from mer_edge._models import default_model_path

    bad = _with_window(default_model_path("spotting"), tmp_path / "bad.onnx", lag_ms=-5.0)
    with pytest.raises(me.ModelError, match="lag_ms"):
        me.Model(bad)


def test_an_observer_that_removes_itself_does_not_hide_the_frame_from_the_next(videos):
    # remove_*_observer filtered the list in place while the engine was calling it: the
    # observer after a one-shot one missed that frame (its crop, its detector update).
    frames = _frames(videos / "default.wmv", 3)
    crops, scores = [], []

    def once_crop(*_):
        engine.remove_crop_observer(once_crop)

    def once_score(*_):
        engine.remove_score_observer(once_score)

    with me.Engine.from_options(me.EngineOptions(recognize=False)) as engine:
        engine.add_crop_observer(once_crop)
        engine.add_crop_observer(lambda track_id, index, *_: crops.append(index))
        engine.add_score_observer(once_score)
        engine.add_score_observer(lambda track_id, index, *_: scores.append(index))
        for i, frame in enumerate(frames):
            engine.process(frame, i * 66.7)
    assert crops == [0, 1, 2] and scores == [0, 1, 2]


# Run in a fresh interpreter: the first engine of a process is the one whose build imports
# MediaPipe.  With the cyclic collector off, only reference counting can free the engine.
_DROPPED_ENGINE_SCRIPT = """
import gc, json, sys, weakref
import cv2
import mer_edge as me

video, scenario = sys.argv[1:]
capture = cv2.VideoCapture(video)
frame = capture.read()[1]
capture.release()

def used_and_dropped():
    if scenario == "evaluation":
        from mer_edge.evaluation import open_evaluation_engine
        engine = open_evaluation_engine(me.EngineOptions())
    else:
        engine = me.Engine.from_options(me.EngineOptions())
    if scenario == "context":
        with engine:
            engine.process(frame, 0.0)
    elif scenario != "dropped":
        engine.process(frame, 0.0)
    if scenario == "closed":
        engine.close()
    return weakref.ref(engine)

gc.disable()
try:
    print(json.dumps([used_and_dropped()() is not None for _ in range(2)]))
finally:
    gc.enable()
"""


@pytest.mark.parametrize("scenario", ["dropped", "processed", "closed", "context", "evaluation"])
def test_an_engine_let_go_is_freed_at_once_even_the_first_of_a_process(videos, scenario):
    # MediaPipe's import keeps exceptions (sounddevice's import error in a global, pyparsing's
    # cycles) whose tracebacks held the importing frames and, through f_back, the Engine being
    # built: the first engine of a process was never freed, models and graph included.
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(repo) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", _DROPPED_ENGINE_SCRIPT,
                           str(videos / "default.wmv"), scenario],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    first_alive, second_alive = json.loads(done.stdout.splitlines()[-1])
    assert not first_alive and not second_alive


def _crop_ring(crops: list[np.ndarray]):
    from mer_edge._ringbuffer import FrameRing

    ring = FrameRing(32, crops[0].shape, 1, (1, 2, 2))
    for i, crop in enumerate(crops):
        ring.push(i, i * 1000 / 30, crop, np.zeros((1, 2)))
    return ring


def test_residual_displacement_tells_a_return_to_neutral_from_a_movement_that_stays(videos):
    """A real aligned face whose mouth corner is pushed out and back, held, or pushed further."""
    from mer_edge._apex import _displacement, refine_apex, residual_displacement
    from mer_edge._flow import FlowEstimator
    from mer_edge._results import SpottedInterval

    frames, crops = _frames(videos / "default.wmv", 1), []
    with me.Engine.from_options(me.EngineOptions(recognize=False)) as engine:
        engine.add_crop_observer(lambda track, index, stamp, crop: crops.append(crop.copy()))
        engine.process(frames[0], 0.0)
    neutral = crops[0]
    size = neutral.shape[0]

    def pushed(pixels: float) -> np.ndarray:  # the lower right quarter moved outwards
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
        weight = np.exp(-(((xs - 0.68 * size) ** 2 + (ys - 0.75 * size) ** 2) / (0.08 * size) ** 2))
        return cv2.remap(neutral, xs - pixels * weight, ys, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)

    flow = FlowEstimator("ultrafast", "similarity")
    interval = SpottedInterval(track_id=0, onset_frame=8, apex_frame=8, offset_frame=13,
                               onset_ms=8000 / 30, apex_ms=8000 / 30, offset_ms=13000 / 30,
                               score=0.5, kind="ME")
    rise = [neutral] * 8 + [pushed(a) for a in (1, 2, 3, 3, 2, 1)]
    residuals = {}
    for name, tail in {"back": [neutral] * 4, "held": [pushed(3)] * 4,
                       "further": [pushed(5)] * 4}.items():
        ring = _crop_ring(rise + tail)
        refined = refine_apex(ring, interval, flow, k_ms=200.0)
        assert refined.interval.apex_frame in (10, 11)  # the frames of largest displacement
        apex = ring.nearest_slot_of_frame(refined.interval.apex_frame)
        assert refined.apex_displacement == _displacement(ring, refined.reference, apex, flow) > 0
        residuals[name] = residual_displacement(ring, refined, flow)
    assert residuals["back"] < 0.2 and 0.7 < residuals["held"] < 1.3
    assert residuals["further"] > 1.3, residuals
    gone = _crop_ring([neutral] * 40 + rise)  # the interval is no longer held
    unrefined = refine_apex(gone, interval, flow, k_ms=200.0)
    assert unrefined.interval == interval and unrefined.apex_displacement is None
    assert residual_displacement(gone, unrefined, flow) is None


def test_the_neutral_check_drops_and_counts_only_mes(videos):
    """default.wmv, a man talking, without the still-face check: many short bursts of speech;
    a strict limit drops those after which his face stays displaced, and counts them."""
    frames = _frames(videos / "default.wmv", 300)

    def events(limit):
        options = me.EngineOptions(recognize=False, max_me_residual=limit, follow_displaced=None,
                                   spotting_overrides={"me_quiet_ratio": None})
        with me.Engine.from_options(options) as engine:
            found = [e for i, f in enumerate(frames) for e in engine.process(f, i * 1000 / 15).events]
            found += engine.flush()
            return ([(e.kind, e.interval.onset_frame, e.interval.offset_frame) for e in found],
                    engine.stats()["me_still_displaced"])

    every, none_dropped = events(None)
    strict, dropped = events(0.5)
    assert none_dropped == 0 and dropped >= 1
    assert set(strict) <= set(every) and len(every) - len(strict) == dropped
    assert [e for e in every if e[0] == "MaE"] == [e for e in strict if e[0] == "MaE"]
