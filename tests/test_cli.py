"""The ``mer-edge`` command line: run, models, errors (demo: see test_demo.py)."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from mer_edge.cli import main
from mer_edge._overlay import gui_available
from mer_edge._sinks import EVENT_COLUMNS

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
VIDEO = SHARED / "videos" / "default.wmv"
SHORT_VIDEO = SHARED / "videos" / "lp_d0.mp4"
IMAGE_FOLDER = SHARED / "videos" / "openface_image_sequence"
EVENT_KEYS = set(EVENT_COLUMNS) | {"probs"}
TRACK_KEYS = {"frame", "timestamp_ms", "track_id", "box"}

needs_video = pytest.mark.skipif(not VIDEO.is_file(), reason="../shared/data is absent")


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m mer_edge.cli ARGS`` in a subprocess (what the console script runs)."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "mer_edge.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """One full run over default.wmv writing events and tracks (shared by several tests)."""
    if not VIDEO.is_file():
        pytest.skip("../shared/data is absent")
    folder = tmp_path_factory.mktemp("run")
    result = _cli("run", str(VIDEO), "--out", str(folder / "E.jsonl"),
                  "--tracks", str(folder / "T.jsonl"), "--save-video", str(folder / "o.avi"),
                  "--no-progress")
    return result, folder


def test_run_writes_events_and_tracks_with_the_documented_keys(default_run):
    result, folder = default_run
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    for chatter in ("XNNPACK", "absl::InitializeLog", "inference_feedback_manager"):
        assert chatter not in result.stderr  # MediaPipe's native logs are filtered
    events = _lines(folder / "E.jsonl")
    assert events, "default.wmv has smiles and blinks: something must be spotted"
    for event in events:
        assert set(event) >= EVENT_KEYS
        assert event["type"] in ("ME", "MaE")
        assert event["onset_frame"] <= event["apex_frame"] <= event["offset_frame"] < 288
        assert event["onset_ms"] <= event["apex_ms"] <= event["offset_ms"]
        assert abs(sum(event["probs"].values()) - 1.0) < 1e-3 and event["label"] in event["probs"]
    tracks = _lines(folder / "T.jsonl")
    assert {row["frame"] for row in tracks} == set(range(288))  # one face in every frame
    for row in tracks:
        assert set(row) >= TRACK_KEYS
        x0, y0, x1, y1 = row["box"]
        assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 480
    stamps = [row["timestamp_ms"] for row in tracks]
    assert stamps == sorted(stamps)
    assert result.stdout.count("\nevent ") + result.stdout.startswith("event ") == len(events)
    assert "288 frames" in result.stdout


def test_run_saves_the_overlay_video(default_run):
    result, folder = default_run
    capture = cv2.VideoCapture(str(folder / "o.avi"))
    assert capture.isOpened() and int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 288
    capture.release()


@needs_video
def test_run_csv_header_first_and_prob_columns(tmp_path, capsys):
    out = tmp_path / "E.csv"
    assert main(["run", str(VIDEO), "--out", str(out), "--max-frames", "120", "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert "120 frames" in stdout
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    assert header[:len(EVENT_COLUMNS)] == list(EVENT_COLUMNS)
    assert header[len(EVENT_COLUMNS):] == ["prob_negative", "prob_positive", "prob_surprise"]
    for row in rows[1:]:
        assert len(row) == len(header)
        assert abs(sum(float(v) for v in row[len(EVENT_COLUMNS):]) - 1.0) < 1e-3


@needs_video
def test_run_image_folder_uses_fps(tmp_path, capsys):
    folder = SHARED / "videos" / "openface_image_sequence"
    tracks = tmp_path / "T.jsonl"
    assert main(["run", str(folder), "--fps", "10", "--tracks", str(tracks), "--quiet",
                 "--no-progress"]) == 0
    rows = _lines(tracks)
    assert [row["frame"] for row in rows] == list(range(30))
    assert rows[1]["timestamp_ms"] - rows[0]["timestamp_ms"] == pytest.approx(100.0)


@needs_video
def test_events_written_before_an_error_stay_on_disk(tmp_path):
    """A resolution change mid-stream stops the run (exit 2) after the open intervals are
    written and the summary printed; the error names the source and the frame."""
    frames = tmp_path / "frames"
    frames.mkdir()
    capture = cv2.VideoCapture(str(VIDEO))
    for index in range(120):
        ok, image = capture.read()
        assert ok
        cv2.imwrite(str(frames / f"{index:04d}.png"), image)
    capture.release()
    cv2.imwrite(str(frames / "0120.png"), np.zeros((240, 320, 3), np.uint8))
    out = tmp_path / "E.jsonl"
    result = _cli("run", str(frames), "--fps", "15", "--out", str(out), "--no-progress")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("mer-edge: error:") and "resolution changed" in last
    assert f"{frames}, frame 120:" in last
    printed = [line for line in result.stdout.splitlines() if line.startswith("event ")]
    assert len(_lines(out)) == len(printed)
    assert "run: 120 frames" in result.stdout and f"-> {out}" in result.stdout


BAD_SOURCES = [
    ("missing.mp4", "no such file"),
    ("empty_dir", "holds no"),
    ("not_a_video.mp4", "cannot open"),
]


@pytest.mark.parametrize("name, message", BAD_SOURCES)
def test_bad_source_exits_2_with_one_line(tmp_path, name, message):
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "not_a_video.mp4").write_text("hello")
    result = _cli("run", str(tmp_path / name), "--out", str(tmp_path / "E.jsonl"), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("mer-edge: error:")]
    assert len(errors) == 1 and message in errors[0]


@pytest.mark.parametrize("args, message", [
    (["--out", "E.txt"], ".jsonl or .csv"),
    (["--save-video", "o.gif"], "--save-video"),
    (["--max-frames", "0"], "--max-frames"),
    (["--spotter", "nope.onnx"], "no such file"),
    (["--fps", "-3"], "--fps"),
    (["--fps", "0"], "--fps must be a positive number, got 0"),
])
def test_bad_options_exit_2(tmp_path, capsys, args, message):
    assert main(["run", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().err


def test_show_without_gui_is_a_clear_error(tmp_path, capsys):
    if gui_available():
        pytest.skip("this OpenCV has a GUI")
    assert main(["run", str(tmp_path), "--show"]) == 2
    err = capsys.readouterr().err
    assert "GUI" in err and "--save-video" in err


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert main(["run"]) == 2
    assert main(["no-such-command"]) == 2
    assert main(["--version"]) == 0


def test_models_last_line_is_the_json_list():
    result = _cli("models")
    assert result.returncode == 0, result.stderr[-2000:]
    models = json.loads(result.stdout.strip().splitlines()[-1])
    assert isinstance(models, list) and {m["task"] for m in models} >= {"spotting", "recognition"}
    for model in models:
        assert {"name", "task", "method", "version", "input", "class_names"} <= set(model)
        assert model["input"]["shape"][0] == -1
    recognizer = next(m for m in models if m["task"] == "recognition" and m["default"])
    assert recognizer["class_names"] == ["negative", "positive", "surprise"]


@needs_video
def test_models_folder_picks_one_model_per_task(tmp_path, capsys):
    import shutil

    from mer_edge._models import default_model_path

    models = tmp_path / "models"
    models.mkdir()
    for task in ("spotting", "recognition"):
        shutil.copy(default_model_path(task), models)
    tracks = tmp_path / "T.jsonl"
    assert main(["run", str(VIDEO), "--models", str(models), "--max-frames", "5", "--quiet",
                 "--no-progress", "--tracks", str(tracks)]) == 0
    assert len(_lines(tracks)) == 5
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["run", str(VIDEO), "--models", str(empty), "--no-progress"]) == 2
    assert "no spotting models" in capsys.readouterr().err


@needs_video
def test_no_still_check_reports_the_short_bursts_of_a_talking_face(default_run, tmp_path):
    result, folder = default_run
    assert result.returncode == 0, result.stderr
    unchecked = _cli("run", str(VIDEO), "--out", str(tmp_path / "E.jsonl"), "--no-progress",
                     "--no-recognize", "--quiet", "--no-still-check", "--no-neutral-check",
                     "--no-follow")
    assert unchecked.returncode == 0, unchecked.stderr
    checked_me = [e for e in _lines(folder / "E.jsonl") if e["type"] == "ME"]
    unchecked_me = [e for e in _lines(tmp_path / "E.jsonl") if e["type"] == "ME"]
    # default.wmv is a man talking: without the check his speech gives short "MEs"
    assert len(unchecked_me) >= 2 and len(checked_me) < len(unchecked_me)
    assert "were not reported as MEs" in result.stdout
    assert "were not reported as MEs" not in unchecked.stdout


def test_no_still_check_keeps_the_spotters_calibration():
    import argparse

    import mer_edge as me
    from mer_edge.cli._checks import engine_options

    calibrated = REPO / "mer_edge" / "models" / "regional_tcn_spotter.onnx"
    detection = me.Model(calibrated).info.detection
    flags = argparse.Namespace(no_still_check=True, no_neutral_check=False, no_lighting_check=False,
                               no_follow=False, no_end_at_rest=False)
    options = me.EngineOptions(spotting_model=str(calibrated), recognize=False,
                               **engine_options(flags))
    with me.Engine.from_options(options) as engine:
        params = engine.spotting_params
    assert params.me_quiet_ratio is None and options.max_brightness_change == 0.15
    assert detection and all(getattr(params, name) == value for name, value in detection.items())
    plain = engine_options(argparse.Namespace(no_still_check=False, no_neutral_check=False,
                                              no_lighting_check=False, no_follow=False,
                                              no_end_at_rest=False))
    assert plain == {"spotting_overrides": None}
    unreturned = engine_options(argparse.Namespace(no_still_check=False, no_neutral_check=True,
                                                   no_lighting_check=False, no_follow=False,
                                                   no_end_at_rest=False))
    assert unreturned == {"spotting_overrides": None, "max_me_residual": None}
    unfollowed = engine_options(argparse.Namespace(no_still_check=False, no_neutral_check=False,
                                                   no_lighting_check=False, no_follow=True,
                                                   no_end_at_rest=False))
    assert unfollowed == {"spotting_overrides": None, "follow_displaced": None}
    unended = engine_options(argparse.Namespace(no_still_check=False, no_neutral_check=False,
                                                no_lighting_check=False, no_follow=False,
                                                no_end_at_rest=True))
    assert unended == {"spotting_overrides": None, "me_ends_at_rest": False}


def test_the_lighting_check_is_said_and_can_be_turned_off(tmp_path):
    lamp = SHARED / "videos" / "changeLighting.wmv"
    if not lamp.is_file():
        pytest.skip("../shared/data is absent")
    guarded = _cli("run", str(lamp), "--out", str(tmp_path / "a.jsonl"), "--no-progress")
    assert guarded.returncode == 0, guarded.stderr[-2000:]
    assert "brightness changed" in guarded.stdout and _lines(tmp_path / "a.jsonl") == []
    plain = _cli("run", str(lamp), "--out", str(tmp_path / "b.jsonl"), "--no-progress",
                 "--no-lighting-check")
    assert plain.returncode == 0 and len(_lines(tmp_path / "b.jsonl")) >= 1
    assert "brightness changed" not in plain.stdout


def _copy(source: Path, folder: Path) -> Path:
    """A copy of shared test material to write beside (never write under ../shared)."""
    target = folder / source.name
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy(source, target)
    return target


@needs_video
@pytest.mark.parametrize("outputs, named", [
    (lambda src, tmp: ["--save-video", str(src)], ["--save-video", "is the source"]),
    (lambda src, tmp: ["--tracks", f"{tmp}/./{src.name}"], ["--tracks", "is the source"]),
    (lambda src, tmp: ["--save-video", str(tmp / "link.mp4")], ["--save-video", "is the source"]),
    (lambda src, tmp: ["--out", str(tmp / "x.jsonl"), "--tracks", f"{tmp}/./x.jsonl"],
     ["--out", "--tracks", "same file"]),
    (lambda src, tmp: ["--out", str(tmp / "x.jsonl"), "--save-video", str(tmp / "o.avi"),
                       "--tracks", str(tmp / "o.avi")], ["--save-video", "--tracks", "same file"]),
])
def test_an_output_that_would_overwrite_the_source_or_another_is_refused(tmp_path, capsys,
                                                                          outputs, named):
    source = _copy(SHORT_VIDEO, tmp_path)
    (tmp_path / "link.mp4").symlink_to(source)
    before = source.read_bytes()
    assert main(["run", str(source), *outputs(source, tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mer-edge: error:") and all(word in err for word in named), err
    assert source.read_bytes() == before
    assert not (tmp_path / "x.jsonl").exists() and not (tmp_path / "o.avi").exists()


@needs_video
def test_an_output_that_is_an_image_of_the_source_folder_is_refused(tmp_path, capsys):
    folder = _copy(IMAGE_FOLDER, tmp_path)
    before = (folder / "005.jpg").read_bytes()
    assert main(["run", str(folder), "--tracks", str(folder / "005.jpg")]) == 2
    assert "--tracks" in (err := capsys.readouterr().err)
    assert "is an image of the source folder" in err
    assert (folder / "005.jpg").read_bytes() == before


@needs_video
def test_a_source_that_stops_early_exits_1_after_writing_everything(tmp_path):
    from mer_edge._sources import image_files

    folder = _copy(IMAGE_FOLDER, tmp_path)
    broken = image_files(folder)[20]
    Path(broken).write_bytes(b"not an image")
    tracks = tmp_path / "T.jsonl"
    result = _cli("run", str(folder), "--tracks", str(tracks), "--no-progress")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert {row["frame"] for row in _lines(tracks)} == set(range(20))
    assert "run: 20 frames" in result.stdout
    assert (f"the source stopped early: stopped after 20 of 30 images: {broken} cannot be decoded"
            in result.stderr)
    assert "30 fps assumed; --fps sets the frame rate" in result.stderr


@needs_video
def test_ctrl_c_writes_the_open_intervals_and_the_summary_then_exits_130(tmp_path, interruptible):
    import signal
    import time

    tracks, events = tmp_path / "T.jsonl", tmp_path / "E.jsonl"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen(
        [sys.executable, "-m", "mer_edge.cli", "run", str(VIDEO), "--tracks", str(tracks),
         "--out", str(events), "--no-progress", "--no-still-check"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=interruptible)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if tracks.is_file() and len(tracks.read_text().splitlines()) >= 40:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "interrupted" in err
    played = int(out.split("run: ")[1].split(" frames")[0])  # the summary is printed
    assert 40 <= played < 288
    assert len(_lines(tracks)) >= 40 and all(TRACK_KEYS <= row.keys() for row in _lines(tracks))
    written = _lines(events)  # every event printed, the flushed open intervals included
    assert all(e.keys() == EVENT_KEYS for e in written)
    assert len(written) == out.count("event  track")


@needs_video
def test_an_image_folder_with_fps_says_nothing_about_an_assumed_rate(tmp_path, capsys):
    assert main(["run", str(IMAGE_FOLDER), "--fps", "30", "--quiet", "--no-progress",
                 "--max-frames", "2"]) == 0
    assert "assumed" not in capsys.readouterr().err


@needs_video
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
@pytest.mark.parametrize("mode", [[], ["--live"]], ids=["file", "live"])
def test_a_write_error_names_the_option_and_the_file(tmp_path, capsys, mode):
    # live: the engine's result callback writes, and its error must read as in file mode
    tracks = tmp_path / "T.jsonl"
    tracks.symlink_to("/dev/full")
    assert main(["run", str(SHORT_VIDEO), "--tracks", str(tracks), "--max-frames", "3",
                 "--quiet", "--no-progress", *mode]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert err[-1] == f"mer-edge: error: --tracks: cannot write tracks to {tracks}: No space left on device"
    assert "run: " in captured.out  # the summary (and the other outputs) came first


@needs_video
def test_a_gpu_backend_without_a_gpu_points_at_allow_fallback(capsys):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("CUDA is available here: there is no fallback to refuse")
    assert main(["run", str(SHORT_VIDEO), "--backend", "onnxruntime-cuda", "--max-frames", "1",
                 "--no-progress"]) == 2
    assert "--allow-fallback" in capsys.readouterr().err


def test_native_chatter_is_recognised_and_errors_are_not():
    from mer_edge.cli._native_logs import is_noise

    noise = [b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
             b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
             b"W0000 00:00:1795265276.952303   10188 inference_feedback_manager.cc:114] Feedback "
             b"manager requires a model with a single signature inference."]
    kept = [b"E0000 00:00:1795265276.952303   10188 calculator_graph.cc:887] INTERNAL: failed",
            b"F0000 00:00:1795265276.952303   10188 check.cc:12] Check failed: x",
            b"[h264 @ 0x562a4e98bac0] Invalid NAL unit size (83863 > 14087).",
            b"mer-edge: error: something"]
    assert all(is_noise(line) for line in noise)
    assert not any(is_noise(line) for line in kept)


def test_the_log_filter_never_hangs_when_stderr_cannot_be_written():
    # 300 kB to a stderr on a full disk: the forwarder must keep draining its pipe.
    script = ("import sys\n"
              "from mer_edge.cli._native_logs import filter_native_logs\n"
              "with filter_native_logs():\n"
              "    for _ in range(3000):\n"
              "        sys.stderr.write('x' * 99 + '\\n')\n"
              "print('done')\n")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("MER_EDGE_NATIVE_LOGS", None)
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                              stderr=full, text=True, timeout=60)
    assert "done" in done.stdout


def test_eval_refuses_an_unusable_out_before_evaluating(tiny_bench, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    for out, message in ((afile, "is a file"), (tiny_bench / "test", "is an input folder"),
                         (afile / "sub", "is a file, not a folder")):
        assert main(["eval", "--bench", str(tiny_bench / "test"), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"--out {out}" in err and message in err, err
        assert not any(line.startswith("eval: ") for line in err.splitlines())  # nothing ran
    assert afile.read_text() == "keep me"
    assert not (tiny_bench / "test" / "report.json").exists()


def test_eval_refuses_ambiguous_models(tmp_path, capsys):
    from mer_edge._models import default_model_path

    spotters = [tmp_path / "s1.onnx", tmp_path / "s2.onnx"]
    for path in spotters:
        shutil.copy(default_model_path("spotting"), path)
    assert main(["eval", "--bench", str(tmp_path), "--models", *map(str, spotters)]) == 2
    err = capsys.readouterr().err
    assert "2 (" in err and all(str(path) in err for path in spotters) and "spotting" in err
    assert main(["eval", "--bench", str(tmp_path), "--models", str(spotters[0]),
                 "--spotter", str(spotters[1])]) == 2
    err = capsys.readouterr().err
    assert "--models" in err and "--spotter" in err and all(str(p) in err for p in spotters)


@pytest.mark.parametrize("option", ["--spotter", "--recognizer", "--models"])
@pytest.mark.parametrize("what, message", [("nowhere.onnx", "no such file {path}"),
                                           (".", "{path} is a folder, expected a model file")])
def test_eval_refuses_a_model_path_that_is_no_file_before_evaluating(
        option, what, message, tiny_bench, tmp_path, capsys):
    path = tmp_path / what
    out = tmp_path / "ev"
    assert main(["eval", "--bench", str(tiny_bench / "test"), "--out", str(out),
                 option, str(path)]) == 2
    captured = capsys.readouterr()
    expected = f"mer-edge: error: {option}: " + message.format(path=path)
    assert captured.err.strip().splitlines() == [expected]  # no video read, no traceback
    assert captured.out == "" and not out.exists()


def test_eval_table_prints_na_where_a_figure_has_no_denominator(tiny_bench, tmp_path):
    result = _cli("eval", "--bench", str(tiny_bench / "test"), "--out", str(tmp_path / "ev"))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert report["truth"]["MaE"] == 0  # the tiny bench injects MEs only
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()
            if line.split() and line.split()[0] in ("ME", "MaE", "all")}

    def shown(value, numerator_and_rest):
        return f"{value:.3f}" if numerator_and_rest > 0 else "n/a"

    for kind, row in rows.items():
        s = report["spotting"][kind]
        assert row[4:] == [shown(s["precision"], s["tp"] + s["fp"]),
                           shown(s["recall"], s["tp"] + s["fn"]),
                           shown(s["f1"], s["tp"] + s["fp"] + s["fn"])]
    assert rows["MaE"][5] == "n/a"  # no MaE truth: recall undefined
    assert report["spotting"]["MaE"]["recall"] == 0.0  # report.json keeps its numbers


def test_eval_without_recognition_prints_that_it_was_skipped(tiny_bench, tmp_path, capsys):
    out = tmp_path / "ev"
    assert main(["eval", "--bench", str(tiny_bench / "test"), "--out", str(out),
                 "--no-recognize"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "recognition: not run (--no-recognize)" in lines
    assert not any(line.startswith("recognition on") for line in lines)
    summary = json.loads(lines[-1])
    assert summary["recognition"] is None and set(summary["spotting"]) == {"ME", "MaE", "all"}
    report = json.loads((out / "report.json").read_text())
    assert report["recognition"] is None and report["recognition_skipped"]


def test_eval_without_recognition_refuses_what_it_cannot_do(tiny_bench, tmp_path, capsys):
    from mer_edge._models import default_model_path

    recognizer = default_model_path("recognition")
    assert main(["eval", "--bench", str(tiny_bench / "test"), "--out", str(tmp_path / "a"),
                 "--no-recognize", "--recognizer", str(recognizer)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"mer-edge: error: --recognizer {recognizer} is not used with "
                       "--no-recognize; give only one of them")
    assert main(["eval", "--dataset", "casme2", "--root", str(tiny_bench / "test" / "recognition"),
                 "--out", str(tmp_path / "b"), "--no-recognize"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("mer-edge: error: ") and "nothing to evaluate" in err[-1]


def test_eval_table_recognition_without_samples_is_na():
    from mer_edge.cli._eval import _table

    empty = {"recognition": {"samples": 0, "accuracy": 0.0, "uf1": 0.0, "uar": 0.0}}
    assert _table(empty) == "recognition on 0 true MEs: accuracy n/a  UF1 n/a  UAR n/a"
    one = {"recognition": {"samples": 1, "accuracy": 1.0, "uf1": 1.0, "uar": 1.0}}
    assert _table(one) == "recognition on 1 true MEs: accuracy 1.000  UF1 1.000  UAR 1.000"


@needs_video
def test_an_engine_error_named_by_run_keeps_its_class_and_attributes():
    """``run`` prefixes the engine's error with the source and frame; a DatasetError's
    location (path, row, column) and the error itself stay reachable."""
    from types import SimpleNamespace

    from mer_edge import DatasetError
    from mer_edge._sources import open_source
    from mer_edge.cli._run import _feed

    failure = DatasetError("no such clip", path="sheet.csv", row=3, column="video")

    class FailingAtFrame2:
        def process(self, image, timestamp_ms):
            if timestamp_ms > 50:
                raise failure
            return SimpleNamespace(events=[], faces=[])

    session = SimpleNamespace(image=None, on_result=lambda result: None, stop=False)
    with open_source(IMAGE_FOLDER) as frames:
        named = _feed(FailingAtFrame2(), frames, session, None)
    assert type(named) is DatasetError and named.__cause__ is failure
    assert (named.path, named.row, named.column) == ("sheet.csv", 3, "video")
    assert str(named) == f"{IMAGE_FOLDER}, frame 2: {failure}"


@needs_video
def test_a_truncated_video_file_exits_1_naming_the_frames_read_and_declared(tmp_path):
    video = tmp_path / "video_01.mp4"
    data = (SHARED / "videos" / "video_01.mp4").read_bytes()
    video.write_bytes(data[:len(data) * 6 // 10])
    capture = cv2.VideoCapture(str(video))
    declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    out = tmp_path / "E.jsonl"
    result = _cli("run", str(video), "--out", str(out), "--no-progress")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and out.is_file()
    read = int(result.stdout.split("run: ", 1)[1].split(" frames", 1)[0])
    assert 0 < read < declared - 3
    assert (f"the source stopped early: stopped after {read} of the {declared} frames the "
            f"container of {video} declares" in result.stderr)
