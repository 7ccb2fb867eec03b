"""The built-in demo: the clip it builds, how it scores, and ``mer-edge demo`` end to end."""
from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

import mer_edge as me
from mer_edge._demo import (DemoClip, DemoConfig, DemoReport, build_demo_clip, load_portrait,
                            match_events, plot_timeline)
from mer_edge._frontend import FaceLandmarker
from mer_edge.cli import main
from mer_edge.data.synth import EventTiming, Recipe, SynthEvent, category_of

LAST_LINE = re.compile(r"^demo: found (\d+)/(\d+) injected micro-expressions$")


@pytest.fixture(scope="module")
def clip() -> DemoClip:
    return build_demo_clip(DemoConfig(seed=3))


def test_schedule_follows_the_config(clip):
    config = clip.config
    assert len(clip.events) == config.events == 4
    assert clip.frame_count == config.frames and 10 <= config.frames / config.fps <= 15
    previous_offset = None
    for event in clip.events:
        t = event.timing
        assert event.kind == "ME"
        assert config.duration_s[0] - 0.05 <= t.frames / config.fps <= config.duration_s[1] + 0.05
        assert 0.02 <= config.amplitude[0] <= event.amplitude <= config.amplitude[1] <= 0.05
        assert t.onset >= config.lead_s * config.fps
        if previous_offset is not None:
            assert (t.onset - previous_offset) / config.fps >= config.gap_s
        previous_offset = t.offset
    assert clip.events[-1].timing.offset < clip.frame_count - config.fps  # time to close


def test_frames_are_deterministic_and_move(clip):
    first = clip.frame(0)
    assert first.shape == (480, 640, 3) and first.dtype == np.uint8
    assert np.array_equal(first, clip.frame(0))
    later = clip.frame(45)
    assert np.abs(first.astype(int) - later.astype(int)).mean() > 1.0  # head motion
    a, b = clip.head_transform(0), clip.head_transform(45)
    assert not np.allclose(a, b)
    scale = np.sqrt(abs(np.linalg.det(a[:, :2])))
    assert scale == pytest.approx(np.sqrt(abs(np.linalg.det(b[:, :2]))), rel=0.05)


def test_micro_expressions_move_only_the_face_during_their_interval(clip):
    event = clip.events[0]
    t = event.timing
    assert clip.truth_at(t.apex) is event and clip.truth_at(t.onset - 1) is None
    # The same frame with and without the movement: only the face differs.
    still = build_demo_clip(DemoConfig(seed=3, lead_s=clip.config.lead_s + 40.0))
    assert still.truth_at(t.apex) is None
    moved, rest = clip.frame(t.apex).astype(int), still.frame(t.apex).astype(int)
    changed = np.abs(moved - rest).max(axis=2) > 12
    ys, xs = np.nonzero(changed)
    assert ys.size > 0
    x0, y0, x1, y1 = _face_box(clip, t.apex)
    inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
    assert inside.mean() > 0.95


def _face_box(clip: DemoClip, index: int) -> tuple[float, float, float, float]:
    from mer_edge._frontend import FaceLandmarker

    with FaceLandmarker(max_faces=1) as landmarker:
        box = landmarker.detect(clip.frame(index))[0].box
    pad = 0.15 * (box[2] - box[0])
    return box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad


def test_different_seeds_give_different_clips():
    a = build_demo_clip(DemoConfig(seed=1))
    b = build_demo_clip(DemoConfig(seed=2))
    assert [e.timing for e in a.events] != [e.timing for e in b.events]


@pytest.mark.parametrize("kwargs, message", [
    ({"events": 0}, "events"),
    ({"amplitude": (0.05, 0.03)}, "amplitude"),
    ({"slot_s": 1.0}, "slot_s"),
    ({"fps": 0.0}, "fps"),
])
def test_bad_config_is_refused(kwargs, message):
    with pytest.raises(me.InputError, match=message):
        DemoConfig(**kwargs)


def _truth(onset: int, offset: int) -> SynthEvent:
    recipe = Recipe(("12",), "happiness", "positive")
    return SynthEvent(EventTiming(onset, onset + 2, offset), "ME", recipe, 0.04, 0)


def _detection(onset: int, offset: int, kind: str = "ME") -> me.MicroExpression:
    interval = me.SpottedInterval(0, onset, onset, offset, onset * 33.3, onset * 33.3,
                                  offset * 33.3, 0.5, kind)
    return me.MicroExpression(interval, "unknown", {})


def test_matching_uses_the_megc_iou_rule():
    truth = [_truth(10, 20), _truth(100, 110), _truth(200, 210)]
    detections = [_detection(12, 21),             # IoU 9/12 = 0.75: found
                  _detection(104, 114),           # IoU 7/15 < 0.5: not found
                  _detection(200, 210, "MaE"),    # wrong kind: not found
                  _detection(300, 305)]           # overlaps nothing: false positive
    matches, found, extra = match_events(truth, detections)
    assert found == 1
    assert [m.found for m in matches] == [True, False, False]
    assert matches[0].iou == pytest.approx(0.75) and matches[1].detection is detections[1]
    assert extra == [detections[3]]


def test_timeline_plot_is_written_without_touching_the_backend(tmp_path):
    import matplotlib

    backend = matplotlib.get_backend()
    truth = [_truth(10, 20)]
    detections = [_detection(11, 19)]
    matches, found, extra = match_events(truth, detections)
    scores = np.linspace(0, 1, 60)
    scores[5] = np.nan
    report = DemoReport(DemoConfig(), matches, found, detections, extra, scores, 0.3)
    path = plot_timeline(tmp_path / "t.png", report)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.get_backend() == backend


def test_demo_command_finds_injected_micro_expressions(tmp_path, capsys):
    """``mer-edge demo --no-video``: exit 0, the table, the last line, at least one found."""
    assert main(["demo", "--no-video", "--no-progress", "--out-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    match = LAST_LINE.match(lines[-1])
    assert match, lines[-1]
    found, total = int(match[1]), int(match[2])
    assert total == 4
    assert any(line.startswith("matching rule: MEGC") for line in lines)
    assert (tmp_path / "timeline.png").is_file() and not list(tmp_path.glob("demo_overlay.*"))
    assert found >= 1, "\n".join(lines)


def test_default_engine_names_the_class_of_the_micro_expressions_it_finds():
    # seed 2 holds MEs of each MEGC class; the engine finds all four, and the default recognizer
    # (learned from injected movements on other faces) names the last three, one of each class.
    # The first (1.7 s into the clip, found since the still-face check judges a track's first
    # seconds on the history it has) is a negative one it calls positive.
    demo = build_demo_clip(DemoConfig(seed=2))
    with me.Engine.from_options(me.EngineOptions()) as engine:
        detections = [e for _, stamp, frame in demo for e in engine.process(frame, stamp).events]
        detections += engine.flush()
    matches, found, _ = match_events(demo.events, detections)
    named = [(category_of(m.truth.recipe.emotion), m.detection.label) for m in matches if m.found]
    assert found == len(demo.events) == 4
    assert {truth for truth, _ in named[1:]} == {"negative", "positive", "surprise"}
    assert all(truth == label for truth, label in named[1:]), named


def test_demo_command_animates_a_portrait_given_with_face(tmp_path, capsys, shared_data):
    """``--face``: another real person's photo (EXIF-rotated mugshot) is animated and its MEs found."""
    portrait = shared_data / "images" / "meds-aa-S001-01-exif-rotation.jpg"
    out = tmp_path / "out"
    assert main(["demo", "--no-video", "--no-progress", "--face", str(portrait),
                 "--out-dir", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].endswith(f"face {portrait}")
    match = LAST_LINE.match(lines[-1])
    assert match and int(match[2]) == 4
    assert int(match[1]) >= 2, "\n".join(lines)


def test_a_face_clip_shows_the_portrait_not_the_built_in_one(shared_data):
    portrait = shared_data / "images" / "sample5.jpg"
    own, built_in = build_demo_clip(DemoConfig(seed=1), face=portrait), build_demo_clip(DemoConfig(seed=1))
    assert own.face == portrait
    assert [e.timing for e in own.events] == [e.timing for e in built_in.events]  # same schedule
    assert np.abs(own.frame(0).astype(int) - built_in.frame(0).astype(int)).mean() > 20


def _small_face(folder, shared_data):
    image = cv2.imread(str(shared_data / "images" / "sample5.jpg"))
    path = folder / "small.png"
    cv2.imwrite(str(path), cv2.resize(image, None, fx=0.12, fy=0.12, interpolation=cv2.INTER_AREA))
    return path


@pytest.mark.parametrize("make, message", [
    (lambda folder, data: folder / "missing.jpg", "does not exist"),
    (lambda folder, data: folder, "is a folder, not an image"),
    (lambda folder, data: data / "MANIFEST.md", "not a readable image file"),
    (lambda folder, data: cv2.imwrite(str(folder / "blank.png"), np.zeros((240, 320, 3), np.uint8))
     and folder / "blank.png", "no face found in the demo image"),
    (_small_face, "is too small: its eyes are"),
])
def test_a_bad_face_is_refused_before_any_output(tmp_path, capsys, shared_data, make, message):
    face = make(tmp_path, shared_data)
    assert main(["demo", "--no-video", "--no-progress", "--face", str(face),
                 "--out-dir", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and not (tmp_path / "out").exists()
    assert "mer-edge: error: " in captured.err and message in captured.err
    assert str(face) in captured.err


@pytest.mark.parametrize("image", ["meds-aa-S029-01.jpg", "meds-aa-S001-02.jpg", "sample3.jpg"])
def test_a_portrait_narrower_than_the_clip_shows_one_face_not_its_mirror_images(shared_data, image):
    """Where the scaled photo does not fill the clip, the background must not repeat the face.

    Mirroring the photo at its borders put two blurred copies of the mugshots' faces beside
    the real one: three tracked faces, two of them moving with nothing injected.
    """
    clip = build_demo_clip(DemoConfig(seed=2), face=shared_data / "images" / image)
    with FaceLandmarker(max_faces=4) as landmarker:
        faces = [landmarker.detect(clip.frame(index)) for index in (0, 45)]
    assert [len(found) for found in faces] == [1, 1]


def test_a_second_face_in_the_photo_moves_whole_with_the_sitter(shared_data):
    """The girl photo holds two faces of about the same size. The sitter's ellipse alone cut
    through the other one: half of it moved with the head, half stayed in the blurred static
    background, a non-rigid movement the engine scored as expressions nobody injected."""
    face = shared_data / "images" / "girl-1741925_1920.jpg"
    clip = build_demo_clip(DemoConfig(seed=1, noise_sigma=0.0), face=face)
    photo, _, (sitter, other) = load_portrait(face)
    for index in (0, 40):
        transform = clip.head_transform(index)
        moved = cv2.warpAffine(photo, transform, clip.config.size).astype(np.float32)
        frame = clip.frame(index).astype(np.float32)
        for landmarks in (sitter, other):
            points = cv2.transform(landmarks[None].astype(np.float32), transform)[0]
            inside = np.zeros(frame.shape[:2], np.uint8)
            cv2.fillConvexPoly(inside, cv2.convexHull(points).astype(np.int32), 1)
            assert inside.sum() > 2000  # the face is in the clip
            difference = np.abs(frame - moved)[inside.astype(bool)].mean()
            assert difference < 1.0, (index, difference)  # all of it moves as one rigid head
