"""Evaluation, calibration and apex refinement on real (injected) video."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import mer_edge as me
from mer_edge._apex import refine_apex
from mer_edge._flow import FlowEstimator
from mer_edge._models import default_model_path
from mer_edge._ringbuffer import FrameRing
from mer_edge.evaluation import BenchVideo, VideoRun, evaluate_bench

from export.calibrate import replay, search, write_detection
from export.detection_replay import EngineChecks

#: The replay of a recording of scores alone: it holds no brightness for the lighting check.
UNLIT = EngineChecks(max_brightness_change=None)


def test_evaluate_bench_reports_every_figure(tiny_bench, tmp_path):
    report = evaluate_bench(tiny_bench / "test", out_dir=tmp_path)
    truth = report["truth"]
    assert truth["ME"] + truth["MaE"] >= 1
    for kind in ("ME", "MaE", "all"):
        scores = report["spotting"][kind]
        assert 0.0 <= scores["f1"] <= 1.0
    assert report["spotting"]["all"]["tp"] + report["spotting"]["all"]["fn"] == truth["ME"] + truth["MaE"]
    assert report["recognition"]["samples"] == truth["ME"]
    assert "false_me_per_minute_clean" in report  # the tiny test split has a clean copy
    assert json.loads((tmp_path / "report.json").read_text())["videos"] == report["videos"]
    assert list(tmp_path.glob("timeline_*.png"))


def test_evaluation_without_recognition_opens_no_recognizer_and_says_so(tiny_bench, tmp_path,
                                                                      monkeypatch):
    """EngineOptions(recognize=False): the same spotting figures, recognition not run."""
    plain = {"me_quiet_ratio": None}  # the still check off: the tiny split has detections then
    full = evaluate_bench(tiny_bench / "test", options=me.EngineOptions(
        running_mode="file", spotting_overrides=plain))
    opened = []
    open_model = me.EngineOptions.open_model
    monkeypatch.setattr(me.EngineOptions, "open_model",
                        lambda self, task: opened.append(task) or open_model(self, task))
    spotting_only = evaluate_bench(tiny_bench / "test", out_dir=tmp_path, options=me.EngineOptions(
        running_mode="file", spotting_overrides=plain, recognize=False))
    assert opened == ["spotting"]

    def detections(report):
        return [(d["onset"], d["offset"], d["kind"], d["true_positive"])
                for video in report["per_video"] for d in video["detections"]]

    assert spotting_only["spotting"] == full["spotting"]
    assert detections(spotting_only) == detections(full) and detections(full)
    assert spotting_only["recognition"] is None and full["recognition"]["samples"] >= 1
    assert "recognize=False" in spotting_only["recognition_skipped"]
    assert "recognition_skipped" not in full
    assert spotting_only["models"]["recognition"] is None
    assert spotting_only["providers"] == {"spotting": "CPUExecutionProvider"}
    truth = [t for video in spotting_only["per_video"] for t in video["truth"]]
    assert truth and not any("predicted" in t for t in truth)
    written = json.loads((tmp_path / "report.json").read_text())
    assert written["recognition"] is None and not (tmp_path / "confusion.png").exists()


def test_a_clip_dataset_without_recognition_is_refused(tiny_bench):
    from mer_edge.evaluation import evaluate_dataset

    with pytest.raises(me.InputError, match="recognize=False.*nothing to evaluate"):
        evaluate_dataset("casme2", tiny_bench / "test" / "recognition",
                         options=me.EngineOptions(running_mode="file", recognize=False))


def test_the_report_counts_what_the_engine_checks_left_out(tiny_bench, pinned_detection):
    import mer_edge as me

    # the count needs MEs the still-face check holds back: the flowmag spotter's 0.3.0 detection
    # closes them on the tiny bench (its 0.4.0 one closes a MaE there); following a displaced
    # face joins intervals into one (not additive): off for this count
    checked = evaluate_bench(tiny_bench / "test", options=me.EngineOptions(
        running_mode="file", spotting_overrides=pinned_detection, follow_displaced=None))
    plain = evaluate_bench(tiny_bench / "test", options=me.EngineOptions(
        running_mode="file", spotting_overrides={**pinned_detection, "me_quiet_ratio": None},
        follow_displaced=None))
    assert set(checked["not_reported"]) == {"me_not_still", "lighting_changes", "me_still_displaced"}
    assert plain["not_reported"]["me_not_still"] == 0
    assert checked["not_reported"]["me_not_still"] >= 1
    # every interval the detector closed is reported or counted by the check that held it back;
    # the still-face check only holds back, so both runs closed the same intervals
    closed = lambda r: (r["spotting"]["all"]["tp"] + r["spotting"]["all"]["fp"]
                        + sum(r["not_reported"].values()))
    assert closed(plain) == closed(checked)


def test_one_engine_runs_every_video_as_fresh_engines_would(tiny_bench, monkeypatch,
                                                            pinned_detection):
    """Evaluation opens the models once; each video's run still starts from nothing."""
    from mer_edge.data.synth import read_bench_split
    from mer_edge.evaluation import run_video

    split = read_bench_split(tiny_bench / "test")
    videos = [BenchVideo(v.clip, v.path, v.subject) for v in split.videos][:2]
    assert len(videos) == 2
    def intervals(run):  # track ids keep counting up in a reused engine
        return [(e.interval.onset_frame, e.interval.apex_frame, e.interval.offset_frame, e.label,
                 e.kind) for e in run.events]

    events = 0
    # the still-face check on, then off; each video needs an ME it holds back: the 0.3.0
    # detection closes them on the tiny bench (the 0.4.0 one a MaE)
    for overrides in (pinned_detection, {**pinned_detection, "me_quiet_ratio": None}):
        options = me.EngineOptions(running_mode="file", spotting_overrides=overrides)
        fresh = [run_video(video, options, keep_crops=False, record_replay=True)
                 for video in videos]
        with me.Engine.from_options(options) as engine:
            shared = [run_video(video, engine, keep_crops=False, record_replay=True)
                      for video in videos]
        for alone, reused in zip(fresh, shared):
            assert intervals(reused) == intervals(alone)
            assert list(reused.scores.values()) == list(alone.scores.values())
            assert list(reused.detector_inputs.values()) == list(alone.detector_inputs.values())
            assert list(reused.brightness.values()) == list(alone.brightness.values())
            assert reused.not_reported == alone.not_reported  # counted per video
            assert reused.frames == alone.frames and reused.stopped_early is None
            events += len(alone.events)
        if overrides["me_quiet_ratio"] is not None:
            assert all(run.not_reported["me_not_still"] >= 1 for run in fresh)
    assert events >= 1

    opened = []
    from_options = me.Engine.from_options.__func__
    monkeypatch.setattr(me.Engine, "from_options",
                        classmethod(lambda cls, o: opened.append(o) or from_options(cls, o)))
    report = evaluate_bench(tiny_bench / "test")
    assert len(opened) == 1 and report["videos"] >= 2
    assert report["providers"] == {"spotting": "CPUExecutionProvider",
                                   "recognition": "CPUExecutionProvider"}


def test_only_a_run_asked_to_records_what_the_calibration_replays(videos):
    """Brightness and detector inputs cost every evaluation a copy per frame: opt-in."""
    from mer_edge.evaluation import run_video

    video = BenchVideo("lp_d9", videos / "lp_d9.mp4", "s")
    options = me.EngineOptions(running_mode="file", recognize=False)
    plain = run_video(video, options, keep_crops=False)
    recorded = run_video(video, options, keep_crops=False, record_replay=True)
    assert plain.scores and not plain.detector_inputs and not plain.brightness
    assert set(recorded.detector_inputs) == set(recorded.brightness) == set(recorded.scores)
    frames = [frame for frame, _, _ in recorded.detector_inputs[recorded.main_track]]
    assert frames == list(range(recorded.frames))  # one update per frame, in order
    assert set(recorded.brightness[recorded.main_track]) == set(frames)
    assert [e.interval for e in plain.events] == [e.interval for e in recorded.events]
    assert plain.scores == recorded.scores


def test_pooled_splits_add_up(tiny_bench):
    one = evaluate_bench(tiny_bench / "val")
    both = evaluate_bench([tiny_bench / "val", tiny_bench / "test"])
    assert both["videos"] > one["videos"]
    assert both["truth"]["ME"] >= one["truth"]["ME"]


def test_eval_command_last_line(tiny_bench, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mer_edge.cli", "eval", "--bench", str(tiny_bench / "test"),
         "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary["spotting"]) == {"ME", "MaE", "all"}
    assert set(summary["recognition"]) == {"accuracy", "uf1", "uar"}
    assert {"precision", "recall", "f1"} <= set(summary["spotting"]["ME"])


def _recorded_run(bumps, frames=300, fps=30.0):
    rng = np.random.default_rng(0)
    scores = rng.normal(0.1, 0.02, frames)
    for start, length in bumps:
        scores[start:start + length] += np.hanning(length) * 0.6
    run = VideoRun(BenchVideo("v", None, "s"))
    run.timestamps_ms = {i: i * 1000.0 / fps for i in range(frames)}
    run.scores[0] = {i: float(s) for i, s in enumerate(scores)}
    return run


# a recording of scores alone: the detector's rules, without the checks on the crops
@pytest.mark.filterwarnings("ignore:.*recorded without the faces' crops")
def test_calibration_search_finds_parameters_that_recover_the_truth():
    run = _recorded_run([(60, 18), (180, 18)])
    truth = [("v", 60, 71, "ME"), ("v", 180, 191, "ME")]
    detection, scores = search([run], truth, k_ms=200.0,
                               grid={"p": (0.35,), "min_score": (0.05, 0.3), "offset_lag": (0.25, 1.0)},
                               checks=UNLIT)
    assert scores["ME"]["tp"] == 2 and scores["all"]["fp"] == 0
    found = replay(run, me.SpottingParams(k_ms=200.0, **detection), UNLIT)
    assert len(found) == 2


# a recording of scores alone: the detector's rules, without the checks on the crops
@pytest.mark.filterwarnings("ignore:.*recorded without the faces' crops")
def test_calibration_search_chooses_how_far_the_onset_walks_back(tmp_path):
    # movements whose score climbs for a third of a second: the threshold is crossed part way
    # up, so only an onset walked back to the start of the climb gets IoU >= 0.5
    frames, fps = 300, 30.0
    scores = np.random.default_rng(1).normal(0.1, 0.01, frames)
    truth = []
    for start in (60, 180):
        scores[start:start + 10] += np.linspace(0.0, 0.6, 11)[1:]
        scores[start + 10:start + 13] += np.linspace(0.6, 0.0, 4)[1:]
        truth.append(("v", start, start + 12, "ME"))
    run = VideoRun(BenchVideo("v", None, "s"))
    run.timestamps_ms = {i: i * 1000.0 / fps for i in range(frames)}
    run.scores[0] = {i: float(s) for i, s in enumerate(scores)}
    grid = {"p": (0.5,), "min_score": (0.3,), "rise_onset_ms": (None, 400.0)}
    detection, scores_found = search([run], truth, k_ms=200.0, grid=grid, checks=UNLIT)
    assert detection["rise_onset_ms"] == 400.0
    assert scores_found["ME"]["tp"] == 2
    without = replay(run, me.SpottingParams(k_ms=200.0, **{**detection, "rise_onset_ms": None}),
                     UNLIT)
    assert all(onset > start + 2 for (_, onset, _, _), start in zip(sorted(without), (60, 180)))
    model = tmp_path / "spotter.onnx"  # a None (no walk back) survives the metadata round trip
    shutil.copy(default_model_path("spotting"), model)
    write_detection(model, {"rise_onset_ms": None}, {})
    with me.Engine.from_options(me.EngineOptions(spotting_model=str(model), recognize=False)) as engine:
        assert engine.spotting_params.rise_onset_ms is None


def test_calibrated_detection_reaches_the_engine(tmp_path):
    model = tmp_path / "spotter.onnx"
    shutil.copy(default_model_path("spotting"), model)
    write_detection(model, {"min_score": 0.45, "p": 0.2}, {"ME": {"f1": 0.5}})
    assert me.Model(model).info.detection == {"min_score": 0.45, "p": 0.2}
    with me.Engine.from_options(me.EngineOptions(spotting_model=str(model), recognize=False)) as engine:
        assert engine.spotting_params.min_score == 0.45 and engine.spotting_params.p == 0.2
    custom = me.SpottingParams(min_score=0.9)
    options = me.EngineOptions(spotting_model=str(model), recognize=False, spotting=custom)
    with me.Engine.from_options(options) as engine:  # the user's choice wins
        assert engine.spotting_params.min_score == 0.9


def test_unknown_detection_parameter_is_refused(tmp_path):
    model = tmp_path / "spotter.onnx"
    shutil.copy(default_model_path("spotting"), model)
    write_detection(model, {"min_scor": 0.45}, {})
    with pytest.raises(me.ModelError, match="min_scor"):
        me.Engine.from_options(me.EngineOptions(spotting_model=str(model), recognize=False))


def test_apex_is_the_frame_farthest_from_the_neutral_onset():
    base = np.random.default_rng(2).integers(0, 255, (128, 128)).astype(np.uint8)
    import cv2

    base = cv2.GaussianBlur(base, (7, 7), 2)
    ring = FrameRing(64, (128, 128), 4, (1, 8, 8))
    shifts = [0, 0, 0, 0, 1, 2, 3, 2, 1, 0, 0, 0]  # the lip region moves, most at frame 6
    for index, shift in enumerate(shifts):
        crop = base.copy()
        crop[80:110, 30:100] = np.roll(base, shift, axis=0)[80:110, 30:100]
        ring.push(index, index * 33.3, crop, np.zeros((4, 2)))
    interval = me.SpottedInterval(0, 4, 8, 10, 133.2, 266.4, 333.0, 0.5, "ME")
    refined = refine_apex(ring, interval, FlowEstimator("fast"), k_ms=100.0)
    assert ring.frame_indices[refined.reference] < 4
    apex = refined.interval
    assert apex.apex_frame == 6 and apex.onset_frame == 4 and apex.offset_frame == 10


def test_an_me_is_recognised_on_the_face_tracked_around_it(tiny_bench):
    """A long video's face may be tracked anew: the track present at the ME is used."""
    from mer_edge._flow import FlowEstimator as Flow
    from mer_edge._models import Model
    from mer_edge.data.synth import read_bench_split
    from mer_edge._evaluation_truth import _recognise
    from mer_edge.evaluation import run_video, truth_from_interval

    split = read_bench_split(tiny_bench / "test")
    item = truth_from_interval(next(i for i in split.spotting if i.kind == "ME"))
    video = next(v for v in split.videos if v.clip == item.video_id)
    run = run_video(BenchVideo(video.clip, video.path, video.subject), me.EngineOptions())
    recognizer = Model(default_model_path("recognition"))
    flow = Flow(recognizer.info.input.flow_preset)
    expected = _recognise(run, item, recognizer, flow)
    assert expected is not None
    (face,) = run.crops.values()
    # The same crops under a later track id, and an earlier track seen in more frames but
    # nowhere near the ME.
    run.crops = {7: dict(face), 0: {frame: next(iter(face.values()))
                                    for frame in range(-1000, -1000 + 2 * len(face))}}
    assert _recognise(run, item, recognizer, flow) == expected


def test_a_folder_that_stops_early_is_reported_as_the_source_saw_it(videos, tmp_path,
                                                                     monkeypatch):
    """The image that could not be decoded is the one the source read, even when the folder
    changes while it plays (another image is added): it is not listed again afterwards."""
    from mer_edge.evaluation import run_video

    folder = tmp_path / "frames"
    shutil.copytree(videos / "openface_image_sequence", folder)
    broken = folder / "011.jpg"
    broken.write_bytes(broken.read_bytes()[:200])  # a truncated JPEG
    play = me.Engine.process

    def process_while_an_image_is_added(engine, image, timestamp_ms):
        shutil.copy(folder / "001.jpg", folder / "000.jpg")  # sorts first: shifts a new listing
        return play(engine, image, timestamp_ms)

    monkeypatch.setattr(me.Engine, "process", process_while_an_image_is_added)
    run = run_video(BenchVideo("frames", folder, "s1", fps=30.0),
                    me.EngineOptions(running_mode="file", recognize=False), keep_crops=False)
    assert run.frames == 10 and run.declared_frames == 30
    assert run.stopped_early == f"stopped after 10 of 30 images: {broken} cannot be decoded"


def test_a_video_that_fails_mid_way_leaves_nothing_in_the_next_videos_run(videos, tmp_path):
    """A shared engine whose video raised with an interval still open (lp_d9's ME over frames
    64-77, open at frame 70) gave that interval, its frame count and its time to the next video."""
    import cv2

    from mer_edge.evaluation import open_evaluation_engine, run_video

    folder = tmp_path / "frames"
    folder.mkdir()
    capture = cv2.VideoCapture(str(videos / "lp_d9.mp4"))
    for index in range(71):
        cv2.imwrite(str(folder / f"{index:03d}.png"), capture.read()[1])
    capture.release()
    cv2.imwrite(str(folder / "071.png"), np.zeros((240, 320, 3), np.uint8))  # another size
    failing = BenchVideo("frames", folder, "s1", fps=30.0)
    after = BenchVideo("lp_d0", videos / "lp_d0.mp4", "s2")
    options = me.EngineOptions(running_mode="file", recognize=False)
    alone = run_video(after, options, keep_crops=False)
    with open_evaluation_engine(options) as engine:
        with pytest.raises(me.InputError, match="resolution changed"):
            run_video(failing, engine, keep_crops=False)
        reused = run_video(after, engine, keep_crops=False)
    assert [e.interval.onset_frame for e in reused.events] == \
        [e.interval.onset_frame for e in alone.events]
    assert (reused.frames, reused.duration_ms, reused.not_reported) == \
        (alone.frames, alone.duration_ms, alone.not_reported)
    assert reused.timestamps_ms == alone.timestamps_ms
