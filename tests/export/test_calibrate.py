"""export.calibrate: what it refuses, that it never rewrites a model for nothing, and that
its replay of recorded scores reports what the engine reports."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest

import mer_edge as me
from export.calibrate import main, replay, write_detection
from export.outputs import SHIPPED_MODELS_DIR
from mer_edge._modelmeta import METADATA_PREFIX
from mer_edge.evaluation import BenchVideo, VideoRun, run_video

SPOTTER = SHIPPED_MODELS_DIR / "regional_tcn_spotter.onnx"


@pytest.fixture()
def spotter(tmp_path: Path) -> Path:
    """A copy of a shipped spotter (never calibrate the shipped file in a test)."""
    return Path(shutil.copy(SPOTTER, tmp_path / "spotter.onnx"))


def _refused(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    return err


def test_refuses_what_is_not_a_validation_split(spotter, tiny_bench, tmp_path, capsys):
    before = spotter.read_bytes()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "manifest.json").write_text(json.dumps({"videos": []}))
    recognizer = SHIPPED_MODELS_DIR / "facs_linear_recognizer.onnx"
    cases = [([str(spotter), "--bench", str(tiny_bench / "test")], "never on the test split"),
             ([str(spotter), "--bench", str(tiny_bench)], f"such as {tiny_bench / 'val'}"),
             ([str(spotter), "--bench", str(empty)], "0 videos and 0 labelled intervals"),
             ([str(spotter), "--bench", str(tmp_path / "nope")], "no such split folder"),
             ([str(recognizer), "--bench", str(tiny_bench / "val")], "is a recognition model"),
             ([str(tmp_path / "none.onnx"), "--bench", str(tiny_bench / "val")], "not found"),
             ([str(spotter), "--bench", str(tiny_bench / "val"), "--out", "x.txt"], ".onnx"),
             ([str(spotter), "--bench", str(tiny_bench / "val"), "--max-brightness-change", "0"],
              "--max-brightness-change: expected a fraction > 0 (e.g. 0.15) or none, got '0'")]
    for argv, message in cases:
        assert message in _refused(argv, capsys)
    assert spotter.read_bytes() == before


def test_no_candidate_above_zero_keeps_the_model(spotter, tiny_bench, tmp_path, capsys):
    """The tiny test split (--allow-test) has an interval no grid point finds: nothing is written."""
    before = spotter.read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        main([str(spotter), "--bench", str(tiny_bench / "test"), "--allow-test",
              "--out", str(tmp_path / "copy.onnx")])
    out, err = capsys.readouterr()
    assert json.loads(out)["val"]["all"]["f1"] == 0.0
    assert json.loads(out)["val"]["max_brightness_change"] == 0.15  # the engine's default
    assert "replayed with the lighting check at max_brightness_change 0.15" in err
    assert exit_info.value.code == 1 and "keeps its detection parameters" in err
    assert spotter.read_bytes() == before and not (tmp_path / "copy.onnx").exists()


def test_out_writes_a_copy(spotter, tmp_path):
    before = spotter.read_bytes()
    detection = {"p": 0.5, "min_score": 0.4}
    written = write_detection(spotter, detection, {"all": {"f1": 0.5}}, tmp_path / "copy.onnx")
    props = {p.key: p.value for p in onnx.load(str(written)).metadata_props}
    assert written == tmp_path / "copy.onnx"
    assert json.loads(props[METADATA_PREFIX + "detection"]) == detection
    assert spotter.read_bytes() == before


def _events(found) -> list[tuple[int, int, str]]:
    return sorted((onset, offset, kind) for _, onset, offset, kind in found)


@pytest.mark.parametrize("spotter_name", ["flowmag_spotter", "regional_tcn_spotter"])
def test_replay_reports_what_the_engine_reports(videos, spotter_name):
    """The lamp of changeLighting.wmv: an interval the engine's lighting check leaves out.

    Replaying the recorded run with the engine's parameters gives the engine's
    events, check on and off; the regional spotter looks ahead, so its scores
    must be replayed under their lagged frames.
    """
    video = BenchVideo("lamp", videos / "changeLighting.wmv", "s")
    reported = {}
    for limit in (0.15, None):
        options = me.EngineOptions(running_mode="file", recognize=False,
                                   spotting_model=str(SHIPPED_MODELS_DIR / f"{spotter_name}.onnx"),
                                   max_brightness_change=limit)
        with me.Engine.from_options(options) as engine:
            params = engine.spotting_params
        run = run_video(video, options, keep_crops=False, record_replay=True)
        reported[limit] = _events(("lamp", e.interval.onset_frame, e.interval.offset_frame, e.kind)
                                  for e in run.events)
        assert _events(replay(run, params, max_brightness_change=limit)) == reported[limit]
    assert len(reported[None]) > len(reported[0.15]), "the lamp's interval is judged by the check"
    assert _events(replay(run, params)) == reported[0.15]  # the replay's default is the engine's


def test_an_older_recording_without_brightness_is_replayed_with_a_warning(videos):
    """A run recorded without the face's brightness keeps its intervals and says why."""
    options = me.EngineOptions(running_mode="file", recognize=False)
    with me.Engine.from_options(options) as engine:
        params = engine.spotting_params
    recorded = run_video(BenchVideo("lamp", videos / "changeLighting.wmv", "s"), options,
                         keep_crops=False, record_replay=True)
    older = VideoRun(recorded.video, frames=recorded.frames, scores=recorded.scores,
                     timestamps_ms=recorded.timestamps_ms)
    with pytest.warns(UserWarning, match="lamp: recorded without the face's brightness: the "
                                         r"lighting check \(max_brightness_change 0.15\) is "
                                         "not replayed"):
        kept = replay(older, params)
    assert _events(kept) == _events(replay(recorded, params, max_brightness_change=None))
    assert kept and not replay(recorded, params)
