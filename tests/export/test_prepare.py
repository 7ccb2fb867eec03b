"""Torch-free preprocessing: references, windows, labels and samples as the engine builds them."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mer_edge._alignment import CROP_SIZE
from mer_edge._errors import InputError
from mer_edge._modelmeta import InputSpec
from mer_edge.data.prepare import (AlignedVideo, assign_intervals, recognition_sample,
                                   reference_indices, spotting_features, spotting_labels,
                                   spotting_windows)
from mer_edge.data.schema import Interval

SPEC = InputSpec("clip", 4, ("flow_x", "flow_y", "gray"), 16)


def _video(count=40, fps=30.0, found=None, boxes=None):
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 255, (count, CROP_SIZE, CROP_SIZE), dtype=np.uint8)
    frames = np.arange(1, count + 1)
    found = np.ones(count, bool) if found is None else np.asarray(found)
    return AlignedVideo(crops, frames, (frames - 1) * 1000.0 / fps, found, fps, "mem", boxes)


def _interval(onset, apex, offset, name="a", kind="ME", emotion="happiness"):
    return Interval("synth", "s01", "c", onset, apex, offset, 30.0, ("12",), emotion, kind, name)


def test_reference_is_k_ms_earlier():
    refs = reference_indices(_video(), 200.0)  # 6 frames at 30 fps
    assert list(refs[:7]) == [-1] * 6 + [0]
    assert refs[20] == 14


def test_windows_need_a_reference_and_faces():
    found = np.ones(40, bool)
    found[20] = False
    ends = spotting_windows(_video(found=found), 4, 200.0)
    assert ends[0] == 6
    # a window is dropped when it or its reference frame (k = 6 frames back) misses the face
    assert not any(20 <= e <= 26 for e in ends) and 27 in ends


@pytest.mark.parametrize("onset,offset,positives", [(10, 15, range(9, 21)), (1, 1, range(0, 7))])
def test_labels_cover_onset_to_offset_plus_k(onset, offset, positives):
    labels = spotting_labels(_video(), [_interval(onset, onset, offset)], 200.0)
    assert np.flatnonzero(labels).tolist() == list(positives)


def test_labels_empty_for_no_intervals():
    assert spotting_labels(_video(), [], 200.0).sum() == 0


def test_features_match_engine_channels():
    video = _video(12)
    features = spotting_features(video, SPEC, 200.0)
    assert features.shape == (12, 3, 16, 16) and features.dtype == np.float32
    assert np.all(features[:6, :2] == 0)  # no reference yet: zero flow
    assert np.any(features[6:, :2] != 0)


def _real_video(videos, count=12):
    """The first ``count`` frames of a real face video, resized to crops."""
    import cv2
    capture = cv2.VideoCapture(str(videos / "lp_d9.mp4"))
    crops = []
    while len(crops) < count:
        ok, frame = capture.read()
        assert ok
        crops.append(cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (CROP_SIZE, CROP_SIZE)))
    capture.release()
    frames = np.arange(1, count + 1)
    return AlignedVideo(np.stack(crops), frames, (frames - 1) * 1000.0 / 30, np.ones(count, bool),
                        30.0, "lp_d9", None)


def test_features_follow_the_specs_flow_compensation(videos):
    """Training features are computed as the engine will: with the spec's compensation."""
    video = _real_video(videos)
    spec = InputSpec("clip", 1, ("flow_x", "flow_y"), CROP_SIZE)
    translation = spotting_features(video, spec, 200.0)
    similarity = spotting_features(video, replace(spec, flow_compensation="similarity"), 200.0)
    assert np.any(np.abs(translation[6:] - similarity[6:]) > 0.01)
    from mer_edge._flow import FlowEstimator
    explicit = spotting_features(video, spec, 200.0, FlowEstimator("ultrafast", "similarity"))
    np.testing.assert_array_equal(explicit, similarity)


def test_training_sets_take_the_flow_preset_from_the_spec(videos, tmp_path):
    """Cached spotting features and recognition samples use the spec's preset, one cache each."""
    from export.data import RecognitionSet, unlabelled_windows
    from mer_edge._flow import FlowEstimator

    video = _real_video(videos)
    spec = InputSpec("clip", 2, ("flow_x", "flow_y"), CROP_SIZE)
    medium = replace(spec, flow_preset="medium")
    [cached_medium] = unlabelled_windows([video], medium, 200.0, tmp_path)
    [cached_ultrafast] = unlabelled_windows([video], spec, 200.0, tmp_path)
    np.testing.assert_array_equal(
        cached_medium, spotting_features(video, spec, 200.0, FlowEstimator("medium", "translation")))
    assert np.any(np.abs(cached_medium[6:] - cached_ultrafast[6:]) > 0.01)
    assert len(list((tmp_path / "features").glob("*.npy"))) == 2
    np.testing.assert_array_equal(unlabelled_windows([video], medium, 200.0, tmp_path)[0],
                                  cached_medium)  # read back from its own cache file
    interval = _interval(2, 9, 11)
    samples = RecognitionSet([(video, interval)], medium, tmp_path)
    np.testing.assert_array_equal(
        samples.clips[0], recognition_sample(video, interval, spec, FlowEstimator("medium", "translation")))


def test_recognition_sample_shape():
    sample = recognition_sample(_video(), _interval(5, 12, 20), InputSpec("clip", 2, ("gray",), 16))
    assert sample.shape == (2, 1, 16, 16)


def test_assign_by_face_box():
    near = np.tile(np.array([[0, 0, 100, 100]], np.float32), (40, 1))
    far = np.tile(np.array([[300, 0, 400, 100]], np.float32), (40, 1))
    tracks = [_video(boxes=near), _video(boxes=far)]
    intervals = [_interval(5, 8, 12, "on_far"), _interval(20, 22, 25, "no_box"),
                 _interval(30, 31, 33, "nowhere")]
    boxes = {"on_far": [310, 5, 390, 95], "nowhere": [600, 600, 700, 700]}
    first, second = assign_intervals(tracks, intervals, boxes)
    assert [i.name for i in first] == ["no_box"] and [i.name for i in second] == ["on_far"]


def test_bad_crops_are_refused():
    with pytest.raises(InputError, match="crops"):
        AlignedVideo(np.zeros((3, 8, 8), np.uint8), np.arange(3), np.zeros(3), np.ones(3, bool),
                     30.0, "x")


def test_augment_keeps_shape_and_mirrors_flow():
    pytest.importorskip("torch")
    from export.data import augment, flip_clip

    rng = np.random.default_rng(0)
    clips = rng.normal(size=(6, 2, 3, 16, 16)).astype(np.float32)
    out = augment(clips, ("gray", "flow_x", "flow_y"), rng)
    assert out.shape == clips.shape and not np.shares_memory(out, clips)
    mirrored = flip_clip(clips[:1], ("gray", "flow_x", "flow_y"))
    assert np.allclose(mirrored[0, :, 1], -clips[0, :, 1, :, ::-1])


def test_alignment_cache_key_follows_the_template(tmp_path, monkeypatch):
    from mer_edge.data import prepare

    video = tmp_path / "v.avi"
    video.write_bytes(b"x")
    before = prepare._cache_digest(video, {})
    assert prepare._cache_digest(video, {}) == before
    assert prepare._cache_digest(video, {"max_faces": 1}) != before
    monkeypatch.setattr(prepare, "TEMPLATE_NAME", "another-template")
    assert prepare._cache_digest(video, {}) != before
