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


def test_spotting_metrics_apply_the_engines_lighting_check(videos):
    """Model selection applies the engine's lighting check: changeLighting.wmv's lamp is left out.

    The engine's own recorded scores of the video are replayed over its aligned crops; the
    engine runs without following and the neutral check, which model selection does not replay.
    """
    from types import SimpleNamespace

    import mer_edge as me
    from export.data import _SpotVideo
    from export.evaluate import spotting_metrics
    from mer_edge.data.prepare import align_video
    from mer_edge.evaluation import BenchVideo, run_video

    path = videos / "changeLighting.wmv"
    # following joins the lamp's ME into the next MaE (the 0.4.0 detection): only the detector's
    # rules are replayed here, so the engine is compared without its checks on the crops
    options = me.EngineOptions(running_mode="file", recognize=False, max_brightness_change=None,
                               follow_displaced=None, max_me_residual=None)
    with me.Engine.from_options(options) as engine:
        params = engine.spotting_params
    run = run_video(BenchVideo("lamp", path, "s"), options, keep_crops=False)
    aligned = align_video(path)
    scores = np.full(len(aligned), np.nan, np.float32)
    for frame, score in run.scores[0].items():
        scores[frame] = score
    item = _SpotVideo("lamp", aligned, np.zeros(0), np.zeros(len(aligned)), np.zeros(0, int), [],
                      np.zeros(0, int))
    data = SimpleNamespace(videos=[item], k_ms=params.k_ms)
    counted = {limit: spotting_metrics(data, None, params, [scores],
                                       max_brightness_change=limit)["predicted"]
               for limit in (0.15, None)}
    assert counted == {0.15: 0, None: len(run.events)} and run.events
