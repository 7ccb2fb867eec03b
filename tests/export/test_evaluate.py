"""Validation metrics used for model selection."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from export.evaluate import roc_auc  # noqa: E402


@pytest.mark.parametrize("scores,labels,expected", [
    ([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 1.0),
    ([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1], 0.0),
    ([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1], 0.5),
    ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.75),
    ([0.3, 0.7], [1, 1], 0.5),          # one class only
    ([], [], 0.5),                      # empty
])
def test_roc_auc(scores, labels, expected):
    assert roc_auc(np.asarray(scores, float), np.asarray(labels, float)) == pytest.approx(expected)


def _selection_and_engine(path, checks):
    """The intervals model selection scores on ``path`` (the engine's own scores of it replayed
    over its aligned crops, with ``checks``), and the engine's events with the same checks."""
    from dataclasses import asdict
    from types import SimpleNamespace

    import mer_edge as me
    from export.data import SpotVideo
    from export.evaluate import spotting_metrics
    from mer_edge.data.prepare import align_video
    from mer_edge.evaluation import BenchVideo, run_video

    options = me.EngineOptions(running_mode="file", recognize=False, **asdict(checks))
    with me.Engine.from_options(options) as engine:
        params = engine.spotting_params
        spec = engine.models["spotting"].info.input
    run = run_video(BenchVideo("v", path, "s"), options, keep_crops=False)
    aligned = align_video(path)
    scores = np.full(len(aligned), np.nan, np.float32)
    for frame, score in run.scores[0].items():
        scores[frame] = score
    scored = np.flatnonzero(np.isfinite(scores))
    item = SpotVideo("v", aligned, np.zeros(0), np.zeros(len(aligned)), scored, [], scored)
    data = SimpleNamespace(videos=[item], k_ms=params.k_ms, spec=spec, lag_frames=0,
                           model_fps=30.0)
    metrics = spotting_metrics(data, None, params, [scores], checks=checks)
    engine_events = sorted((e.interval.onset_frame, e.interval.offset_frame, e.kind)
                           for e in run.events)
    return metrics["predicted"], engine_events


def test_model_selection_scores_what_the_engine_reports(videos):
    """The engine's lighting check leaves out changeLighting.wmv's lamp, and its following
    turns lp_d19.mp4's smile into one movement: model selection counts the engine's events
    with each check on and off."""
    from export.detection_replay import EngineChecks

    off = EngineChecks(max_brightness_change=None, max_me_residual=None, follow_displaced=None,
                       me_ends_at_rest=False)
    lamp = videos / "changeLighting.wmv"
    lit_out = _selection_and_engine(lamp, EngineChecks(max_brightness_change=0.15,
                                                       max_me_residual=None,
                                                       follow_displaced=None,
                                                       me_ends_at_rest=False))
    unchecked = _selection_and_engine(lamp, off)
    assert lit_out[0] == len(lit_out[1]) < unchecked[0] == len(unchecked[1])
    smile = videos / "lp_d19.mp4"
    engine_checks = _selection_and_engine(smile, EngineChecks())
    detector_only = _selection_and_engine(smile, off)
    assert engine_checks[0] == len(engine_checks[1])
    assert detector_only[0] == len(detector_only[1])
    assert engine_checks[1] != detector_only[1]
