"""Overlay drawing: faces, scores and events appear; the input frame is untouched."""
from __future__ import annotations

import math

import numpy as np
import pytest

import mer_edge as me
from mer_edge._overlay import OverlayRenderer, draw_label, gui_available, require_gui, track_color


def _face(track_id: int, score: float, box=(100, 80, 220, 220)) -> me.FaceTrack:
    rng = np.random.default_rng(track_id)
    x0, y0, x1, y1 = box
    marks = np.column_stack([rng.uniform(x0, x1, 468), rng.uniform(y0, y1, 468)])
    return me.FaceTrack(track_id, 0, 0.0, np.array(box, np.float32), marks, score)


def _event(track_id: int = 0) -> me.MicroExpression:
    interval = me.SpottedInterval(track_id, 2, 4, 8, 66.0, 133.0, 266.0, 0.8, "ME")
    return me.MicroExpression(interval, "surprise", {"negative": 0.1, "positive": 0.1, "surprise": 0.8})


def test_draw_returns_a_copy_with_the_overlay():
    frame = np.full((240, 320, 3), 90, np.uint8)
    before = frame.copy()
    canvas = OverlayRenderer(landmarks=False).draw(frame, 0.0, [_face(0, 0.4)])
    assert np.array_equal(frame, before)
    assert canvas.shape == frame.shape and canvas.dtype == np.uint8
    assert tuple(int(v) for v in canvas[150, 100]) == track_color(0)  # the box, in the track colour
    with_marks = OverlayRenderer().draw(frame, 0.0, [_face(0, 0.4)])
    assert (with_marks != canvas).any(axis=2)[81:219, 102:218].sum() > 100  # landmark dots


def test_nan_score_and_empty_frames_draw():
    renderer = OverlayRenderer(threshold=0.3)
    frame = np.zeros((120, 160, 3), np.uint8)
    assert np.array_equal(renderer.draw(frame, 0.0, []), frame)
    renderer.draw(frame, 33.0, [_face(2, math.nan, (10, 10, 60, 60))])


def test_events_stay_on_screen_for_the_hold_time():
    renderer = OverlayRenderer(event_hold_ms=100.0, landmarks=False)
    frame = np.zeros((240, 320, 3), np.uint8)
    renderer.draw(frame, 0.0, [], [_event(5)])  # track 5 not in view: banner at the top
    shown = renderer.draw(frame, 50.0, [])
    gone = renderer.draw(frame, 500.0, [])
    assert shown[:30].any() and not gone[:30].any()


def test_sparkline_follows_the_score_history():
    renderer = OverlayRenderer(history_ms=1000.0, landmarks=False)
    frame = np.zeros((240, 320, 3), np.uint8)
    for step, score in enumerate([0.1, 0.9, 0.1, 0.9, 0.5]):
        canvas = renderer.draw(frame, step * 100.0, [_face(1, score, (150, 20, 250, 120))])
    strip = canvas[240 - 46:240 - 6, 6:6 + 106]
    assert strip.any()


def test_labels_stay_inside_the_frame():
    canvas = np.zeros((40, 100, 3), np.uint8)
    draw_label(canvas, "a label that is far too long", (90, 0), (255, 255, 255))
    draw_label(canvas, "x", (-50, 500), (255, 255, 255))
    assert canvas.any()


def test_gui_check_matches_the_build():
    if gui_available():
        require_gui()
    else:
        with pytest.raises(me.BackendError, match="opencv-python-headless"):
            require_gui()
