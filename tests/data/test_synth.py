"""Semi-synthetic micro-expressions: AU table, fields, timing, determinism, artefacts."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mer_edge._errors import InputError
from mer_edge.data.synth import (AU_NUMBERS, EMOTION_RECIPES, EventStats, EventTiming, Injector,
                                 LandmarkTrack, SharpnessCompensator, VideoInfo, VideoLandmarks,
                                 WarpField, apply_field, build_field, category_of, controls_for,
                                 iter_frames, parse_recipe, plan_events, sample_recipe,
                                 sample_timing, skin_mask, smooth_landmarks, temporal_profile,
                                 video_landmarks)
from mer_edge.data.synth._writers import VideoSink

FRAMES = 80


@pytest.fixture(scope="module")
def clip(videos: Path) -> tuple[list[np.ndarray], VideoLandmarks]:
    """The first frames of a stable frontal video and their smoothed landmarks."""
    path = videos / "lp_d19.mp4"
    return list(iter_frames(path, 0, FRAMES)), video_landmarks(path, 0, FRAMES)


@pytest.fixture(scope="module")
def face(clip: tuple[list[np.ndarray], VideoLandmarks]) -> tuple[np.ndarray, np.ndarray]:
    frames, video = clip
    return frames[10], video.tracks[0].landmarks[10]


def _size(frame: np.ndarray) -> tuple[int, int]:
    return frame.shape[1], frame.shape[0]


# ---------------------------------------------------------------------------
# AU table and emotions
# ---------------------------------------------------------------------------
def test_au_table_covers_the_frequent_micro_expression_aus() -> None:
    assert {1, 2, 4, 6, 7, 9, 10, 12, 14, 15, 17, 24} <= set(AU_NUMBERS)


@pytest.mark.parametrize("text, expected", [
    ("4+L12", ("4", "L12")), ("r1+r2", ("R1", "R2")), (("6", "12"), ("6", "12")), ("17", ("17",)),
])
def test_parse_recipe(text: str | tuple[str, ...], expected: tuple[str, ...]) -> None:
    assert parse_recipe(text) == expected


@pytest.mark.parametrize("bad", ["", "99", "L", "12+12", "X4", "4+", "AU12"])
def test_parse_recipe_rejects(bad: str) -> None:
    with pytest.raises(InputError):
        parse_recipe(bad)


@pytest.mark.parametrize("au", AU_NUMBERS)
def test_one_sided_controls_stay_on_their_side(au: int) -> None:
    both = controls_for(str(au))
    left = controls_for(f"L{au}")
    right = controls_for(f"R{au}")
    assert {c.side for c in left} == {"L"} and {c.side for c in right} == {"R"}
    assert len([c for c in both if c.side != "C"]) == len([c for c in left if c.side != "C"]) * 2


def test_emotion_table_follows_casme2() -> None:
    assert ("6", "12") in EMOTION_RECIPES["happiness"] and ("12",) in EMOTION_RECIPES["happiness"]
    assert {("9",), ("10",), ("4", "7")} <= set(EMOTION_RECIPES["disgust"])
    assert {("14",), ("15",), ("17",), ("24",)} <= set(EMOTION_RECIPES["repression"])
    assert ("1", "2") in EMOTION_RECIPES["surprise"]
    for recipes in EMOTION_RECIPES.values():
        for recipe in recipes:
            assert parse_recipe(recipe) == recipe and controls_for(recipe)
    assert [category_of(e) for e in ("happiness", "disgust", "repression", "surprise", "others")] \
        == ["positive", "negative", "negative", "surprise", "others"]


def test_sample_recipe_is_seeded_and_weighted() -> None:
    draws = [sample_recipe(np.random.default_rng(7)) for _ in range(3)]
    assert draws[0] == draws[1] == draws[2]
    rng = np.random.default_rng(0)
    assert {sample_recipe(rng, {"surprise": 1.0}).emotion for _ in range(20)} == {"surprise"}
    with pytest.raises(InputError):
        sample_recipe(rng, {"joy": 1.0})
    with pytest.raises(InputError):
        sample_recipe(rng, {"surprise": 0.0})


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("fps", [15.0, 25.0, 30.0, 200.0])
def test_sampled_timing_rises_faster_than_it_falls(fps: float) -> None:
    rng = np.random.default_rng(0)
    stats = EventStats()
    micro = [sample_timing(rng, "ME", fps, stats) for _ in range(200)]
    macro = [sample_timing(rng, "MaE", fps, stats) for _ in range(200)]
    for length, rise in micro + macro:
        assert 1 <= rise < (length - 1) - rise
    lo, hi = stats.me_duration_s
    assert all(max(4, round(lo * fps)) <= length <= max(4, round(hi * fps)) for length, _ in micro)
    assert min(length for length, _ in macro) > max(length for length, _ in micro) or fps < 20


def test_temporal_profile_shape() -> None:
    timing = EventTiming(10, 14, 25)
    values = temporal_profile(np.arange(0, 30), timing)
    assert values[10] == 0 and values[14] == 1 and values[25] == 0
    assert (values[:11] == 0).all() and (values[25:] == 0).all()
    assert (np.diff(values[10:15]) > 0).all() and (np.diff(values[14:26]) < 0).all()


@pytest.mark.parametrize("bad", [dict(rise_fraction=(0.3, 0.6)), dict(me_amplitude=(0.0, 0.05)),
                                 dict(me_duration_s=(0.5, 0.3)), dict(gap_s=-1.0)])
def test_event_stats_validate(bad: dict) -> None:
    with pytest.raises(InputError):
        EventStats(**bad)


def test_timing_validates() -> None:
    with pytest.raises(InputError):
        EventTiming(5, 5, 9)


# ---------------------------------------------------------------------------
# Fields
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("recipe", ["12", "4", "1+2", "17", "L12", "10", "6+12", "24"])
@pytest.mark.parametrize("magnitude", [0.01, 0.03, 0.05])
def test_apex_displacement_matches_request(face: tuple[np.ndarray, np.ndarray], recipe: str,
                                           magnitude: float) -> None:
    frame, landmarks = face
    field = build_field(landmarks, controls_for(recipe), _size(frame), magnitude)
    assert field.peak == pytest.approx(magnitude, rel=0.03)
    assert field.min_jacobian() > 0.3
    # Warping a coordinate grid: output pixel x shows the content of x + inverse(x),
    # which the forward field must carry back to x.
    height, width = field.inverse.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32),
                                 np.arange(height, dtype=np.float32))
    carried = cv2.remap(field.forward, grid_x + field.inverse[..., 0],
                        grid_y + field.inverse[..., 1], cv2.INTER_LINEAR)
    assert np.abs(carried + field.inverse)[2:-2, 2:-2].max() < 0.05 * magnitude * field.iod + 0.02
    shown = np.linalg.norm(field.inverse, axis=2).max() / field.iod
    assert shown == pytest.approx(magnitude, rel=0.05)
    # Measured on the pixels: optical flow from the clean to the warped frame
    # (DIS under-estimates small, narrow motions a little).
    warped = apply_field(frame, field)
    x0, y0, x1, y1 = field.box
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis.calc(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY),
                    cv2.cvtColor(warped, cv2.COLOR_BGR2GRAY), None)[y0:y1, x0:x1]
    size = np.linalg.norm(field.forward, axis=2)
    strong = size > 0.6 * size.max()
    along = (flow[strong] * field.forward[strong]).sum(axis=1) / size[strong] ** 2
    assert 0.6 < np.median(along) < 1.15


def _pixel(point: np.ndarray, field: WarpField) -> tuple[int, int]:
    """(row, column) of an image point inside a field's box."""
    column, row = np.round(point - np.asarray(field.box[:2])).astype(int)
    return int(row), int(column)


def test_field_rotates_with_the_face(face: tuple[np.ndarray, np.ndarray]) -> None:
    frame, landmarks = face
    angle = np.deg2rad(25.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = landmarks.mean(axis=0)
    turned = (landmarks - centre) @ rotation.T + centre
    size = (frame.shape[1] * 2, frame.shape[0] * 2)
    for recipe, anchor in (("12", 291), ("1", 336)):
        upright = build_field(landmarks, controls_for(recipe), size, 0.04)
        rolled = build_field(turned, controls_for(recipe), size, 0.04)
        a = upright.forward[_pixel(landmarks[anchor], upright)]
        b = rolled.forward[_pixel(turned[anchor], rolled)]
        assert np.allclose(rotation @ a, b, atol=0.08 * np.linalg.norm(a))


@pytest.mark.parametrize("recipe", ["L12", "R12", "L2", "R14", "L10", "R4", "L17", "R24"])
def test_one_sided_au_moves_only_one_side(face: tuple[np.ndarray, np.ndarray], recipe: str) -> None:
    frame, landmarks = face
    field = build_field(landmarks, controls_for(recipe), _size(frame), 0.04)
    # Signed distance of every box pixel from the facial midline (eye centre -> chin).
    top, chin = (landmarks[33] + landmarks[263]) / 2, landmarks[152]
    normal = np.array([chin[1] - top[1], top[0] - chin[0]])
    normal /= np.linalg.norm(normal)
    x0, y0, x1, y1 = field.box
    grid = np.stack(np.meshgrid(np.arange(x0, x1), np.arange(y0, y1)), axis=-1) - top
    towards_left = (grid @ normal) * np.sign(normal @ (landmarks[263] - landmarks[33]))
    margin = 0.15 * field.iod  # Gaussian tails of controls near the midline reach over it
    moving_side = towards_left > 0 if recipe[0] == "L" else towards_left < 0
    still_side = towards_left < -margin if recipe[0] == "L" else towards_left > margin
    moved = np.linalg.norm(field.forward, axis=2)
    assert moved[moving_side].max() == pytest.approx(0.04 * field.iod, rel=0.05)
    assert moved[still_side].max() < 0.05 * moved.max()


def test_untouched_pixels_stay_bit_exact(face: tuple[np.ndarray, np.ndarray]) -> None:
    frame, landmarks = face
    still = build_field(landmarks, controls_for("12"), _size(frame), 0.0)
    assert np.array_equal(apply_field(frame, still, SharpnessCompensator()), frame)
    field = build_field(landmarks, controls_for("L12"), _size(frame), 0.05)
    warped = apply_field(frame, field)
    changed = (warped != frame).any(axis=2)
    x0, y0, x1, y1 = field.box
    assert not changed[:y0].any() and not changed[y1:].any()
    assert not changed[:, :x0].any() and not changed[:, x1:].any()
    assert np.abs(field.forward[[0, -1]]).max() < 0.01
    assert np.abs(field.forward[:, [0, -1]]).max() < 0.01
    assert changed.sum() < 0.25 * (x1 - x0) * (y1 - y0)


def test_field_rejects_bad_input(face: tuple[np.ndarray, np.ndarray]) -> None:
    frame, landmarks = face
    with pytest.raises(InputError):
        build_field(landmarks, (), _size(frame), 0.02)
    with pytest.raises(InputError):
        build_field(landmarks, controls_for("12"), _size(frame), -0.1)
    with pytest.raises(InputError):
        build_field(landmarks[:100], controls_for("12"), _size(frame), 0.02)
    with pytest.raises(InputError):
        build_field(landmarks + 10_000, controls_for("12"), _size(frame), 0.02)


def test_compensator_keeps_high_frequency_energy(face: tuple[np.ndarray, np.ndarray]) -> None:
    """A half-pixel shift softens the skin; the compensated one keeps its energy within 4 %."""
    frame, landmarks = face
    box = build_field(landmarks, controls_for("12"), _size(frame), 0.0).box
    x0, y0, x1, y1 = box
    crop = frame[y0:y1, x0:x1]
    skin = skin_mask(landmarks, box)
    compensator = SharpnessCompensator()
    compensator.calibrate(crop, skin)

    def energy(image: np.ndarray) -> float:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
        band = gray - cv2.GaussianBlur(gray, (0, 0), 0.8)
        return float((band[skin] ** 2).mean())

    for shift in ((0.5, 0.5), (0.25, 0.0), (0.375, 0.125)):
        inverse = np.broadcast_to(np.float32(shift), (y1 - y0, x1 - x0, 2)).copy()
        field = WarpField(box, -inverse, inverse, 100.0)
        plain = apply_field(frame, field)[y0:y1, x0:x1]
        kept = apply_field(frame, field, compensator)[y0:y1, x0:x1]
        assert abs(energy(kept) / energy(crop) - 1.0) < 0.04
        if shift == (0.5, 0.5):
            assert energy(plain) / energy(crop) < 0.95


# ---------------------------------------------------------------------------
# Landmarks, planning, determinism
# ---------------------------------------------------------------------------
def test_smoothing_removes_jitter_within_runs() -> None:
    rng = np.random.default_rng(0)
    truth = np.zeros((60, 3, 2))
    noisy = truth + rng.normal(0.0, 1.0, truth.shape)
    seen = np.ones(60, dtype=bool)
    seen[30:33] = False
    smooth = smooth_landmarks(noisy, seen, sigma_frames=2.0)
    assert np.isnan(smooth[30:33]).all() and not np.isnan(smooth[seen]).any()
    assert np.nanstd(smooth) < 0.5 * noisy.std()
    with pytest.raises(InputError):
        smooth_landmarks(noisy, seen[:10], 2.0)


def _synthetic_video(landmarks: np.ndarray, frames: int = 300, fps: float = 30.0) -> VideoLandmarks:
    marks = np.repeat(landmarks[None], frames, axis=0)
    track = LandmarkTrack(0, marks, np.ones(frames, dtype=bool))
    return VideoLandmarks(VideoInfo(Path("synthetic.avi"), fps, frames, 480, 480), 0, frames,
                          (track,))


def test_plan_is_deterministic_and_respects_spacing(face: tuple[np.ndarray, np.ndarray]) -> None:
    _, landmarks = face
    video = _synthetic_video(landmarks, 600)
    stats = EventStats()
    first = plan_events(video, np.random.default_rng(3), stats)
    again = plan_events(video, np.random.default_rng(3), stats)
    other = plan_events(video, np.random.default_rng(4), stats)
    assert first == again and first != other
    assert sum(e.kind == "ME" for e in first) >= 3
    gap, edge = int(np.ceil(stats.gap_s * 30)), int(np.ceil(stats.edge_s * 30))
    for a, b in zip(first, first[1:]):
        assert b.timing.onset - a.timing.offset >= gap
    assert first[0].timing.onset >= edge and first[-1].timing.offset < 600 - edge
    for event in first:
        low, high = stats.me_amplitude if event.kind == "ME" else (0.0, stats.mae_amplitude[1])
        assert low <= event.amplitude <= high


def test_no_usable_face_means_no_events(face: tuple[np.ndarray, np.ndarray]) -> None:
    _, landmarks = face
    tiny_face = (landmarks - landmarks.mean(axis=0)) * 0.1 + landmarks.mean(axis=0)
    assert plan_events(_synthetic_video(tiny_face), np.random.default_rng(0)) == []


def test_injector_renders_deterministically(clip: tuple[list[np.ndarray], VideoLandmarks]) -> None:
    frames, video = clip
    events = plan_events(video, np.random.default_rng(11), EventStats(me_per_20s=(20.0, 20.0)))
    assert events
    event = events[0]
    first = Injector(video, events).render(event.timing.apex, frames[event.timing.apex])
    second = Injector(video, events).render(event.timing.apex, frames[event.timing.apex])
    assert np.array_equal(first, second) and not np.array_equal(first, frames[event.timing.apex])
    injector = Injector(video, events)
    at_rest = frames[event.timing.onset]
    assert injector.render(event.timing.onset, at_rest) is at_rest
    with pytest.raises(InputError):
        Injector(video, [event, event])


# ---------------------------------------------------------------------------
# No tell-tale artefacts
# ---------------------------------------------------------------------------
def _features(frame: np.ndarray, mask: np.ndarray) -> list[float]:
    """High-frequency statistics of one frame inside *mask*."""
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
    laplacian = cv2.Laplacian(gray, cv2.CV_32F)[mask]
    gradient = (np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0))
                + np.abs(cv2.Sobel(gray, cv2.CV_32F, 0, 1)))[mask]
    fine = (gray - cv2.GaussianBlur(gray, (0, 0), 0.8))[mask]
    coarse = (gray - cv2.GaussianBlur(gray, (0, 0), 1.5))[mask]
    return [np.log((laplacian ** 2).mean()), np.log(gradient.mean()), np.log((fine ** 2).mean()),
            np.log((coarse ** 2).mean()), np.log(np.median(np.abs(laplacian)) + 1e-3)]


def _cv_accuracy(x: np.ndarray, y: np.ndarray, classifier: str, repeats: int = 5) -> float:
    """Mean 5-fold cross-validated accuracy of a nearest-centroid or logistic classifier."""
    scores = []
    for repeat in range(repeats):
        order = np.random.default_rng(repeat).permutation(len(y))
        for test in np.array_split(order, 5):
            train = np.setdiff1d(order, test)
            mean, std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-9
            z = (x - mean) / std
            if classifier == "centroid":
                near1 = np.linalg.norm(z[test] - z[train][y[train] == 1].mean(axis=0), axis=1)
                near0 = np.linalg.norm(z[test] - z[train][y[train] == 0].mean(axis=0), axis=1)
                predicted = (near1 < near0).astype(int)
            else:
                z = np.c_[z, np.ones(len(y))]
                weights = np.zeros(z.shape[1])
                for _ in range(300):
                    p = 1.0 / (1.0 + np.exp(-z[train] @ weights))
                    weights -= 0.2 * (z[train].T @ (p - y[train]) / len(train) + 1e-2 * weights)
                predicted = (z[test] @ weights > 0).astype(int)
            scores.append(float((predicted == y[test]).mean()))
    return float(np.mean(scores))


def test_injected_frames_cannot_be_told_from_clean_ones(
        clip: tuple[list[np.ndarray], VideoLandmarks], tmp_path: Path) -> None:
    """Half of the frames get an ME-sized field; after MJPG coding, simple classifiers
    on high-frequency statistics of the moved region stay at chance level; frames
    without a field are coded to the same pixels in both copies."""
    frames, video = clip
    track = video.tracks[0]
    rng = np.random.default_rng(0)
    recipes = [recipe for options in EMOTION_RECIPES.values() for recipe in options]
    injected = rng.permutation(FRAMES) % 2 == 1
    compensator = None
    written, masks = [], []
    for index, frame in enumerate(frames):
        recipe = recipes[int(rng.integers(len(recipes)))]
        field = build_field(track.landmarks[index], controls_for(recipe), _size(frame),
                            float(rng.uniform(0.01, 0.05)))
        if compensator is None:
            x0, y0, x1, y1 = field.box
            compensator = SharpnessCompensator()
            compensator.calibrate(frame[y0:y1, x0:x1], skin_mask(track.landmarks[index], field.box))
        written.append(apply_field(frame, field, compensator) if injected[index] else frame)
        # The same kind of region is measured in clean frames (a field not applied).
        mask = np.zeros(frame.shape[:2], dtype=bool)
        x0, y0, x1, y1 = field.box
        mask[y0:y1, x0:x1] = np.linalg.norm(field.forward, axis=2) > 0.3
        masks.append(mask)
    decoded = {}
    for name, sequence in (("injected", written), ("clean", frames)):
        with VideoSink(tmp_path / f"{name}.avi", 30.0, _size(frames[0])) as sink:
            for frame in sequence:
                sink.write(frame)
        decoded[name] = list(iter_frames(tmp_path / f"{name}.avi"))
        assert len(decoded[name]) == FRAMES
    for index in np.flatnonzero(~injected):
        assert np.array_equal(decoded["injected"][index], decoded["clean"][index])
    x = np.array([_features(frame, mask) for frame, mask in zip(decoded["injected"], masks)])
    y = injected.astype(int)
    assert _cv_accuracy(x, y, "centroid") < 0.6
    assert _cv_accuracy(x, y, "logistic") < 0.6
