"""A second spotter for macro-expressions (``EngineOptions.macro_spotting_model``)."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

import mer_edge as me
from mer_edge._models import MODELS_DIR, default_model_path
from mer_edge.cli import main

REGIONAL = MODELS_DIR / "regional_tcn_spotter.onnx"


def _run(video, **options):
    """(sorted events as (track, onset, apex, offset, kind, label), faces, model tasks).

    ``faces``: every face's ``(frame, score, macro_score)``, in order.
    """
    with me.Engine.from_options(running_mode="file", **options) as engine:
        results = list(engine.run(video))
        tasks = sorted(engine.models)
    events = sorted((e.interval.track_id, e.interval.onset_frame, e.interval.apex_frame,
                     e.interval.offset_frame, e.kind, e.label)
                    for result in results for e in result.events)
    faces = [(face.frame_index, face.score, face.macro_score)
             for result in results for face in result.faces]
    return events, faces, tasks


@pytest.mark.parametrize("follow", [0.7, None], ids=["following", "not-following"])
def test_reports_the_spotters_mes_plus_the_macro_spotters_maes(videos, follow):
    # a talking face: both find macro-expressions; the main finds an ME when it does not follow
    # the face (following, that burst of speech is the start of a longer movement, a MaE
    # that the macro spotter, not the main one, reports)
    video = videos / "default.wmv"
    main_events, main_faces, main_tasks = _run(video, follow_displaced=follow)
    regional_events, regional_faces, _ = _run(video, spotting_model=str(REGIONAL),
                                              follow_displaced=follow)
    both_events, both_faces, both_tasks = _run(video, macro_spotting_model=REGIONAL,
                                               follow_displaced=follow)
    expected = sorted([e for e in main_events if e[4] == "ME"]
                      + [e for e in regional_events if e[4] == "MaE"])
    assert both_events == expected and both_events != main_events
    if follow is None:  # the combination is neither spotter alone: each contributes
        assert {"ME", "MaE"} <= {e[4] for e in both_events} and both_events != regional_events
    # faces carry the main spotter's score, and the macro spotter's as it scores alone
    np.testing.assert_array_equal([face[:2] for face in both_faces],
                                  [face[:2] for face in main_faces])
    np.testing.assert_array_equal([(face[0], face[2]) for face in both_faces],
                                  [face[:2] for face in regional_faces])
    assert np.isfinite([face[2] for face in both_faces]).sum() > len(both_faces) // 2
    assert {face[2] for face in main_faces + regional_faces} == {None}  # no macro spotter
    assert "macro_spotting" not in main_tasks
    assert both_tasks == ["macro_spotting", "recognition", "spotting"]


def _with_metadata(source, target, key, **entries):
    """A copy of the model ``source`` whose JSON metadata ``mer_edge.KEY`` gets ``entries``."""
    model = onnx.load(str(source))
    for prop in model.metadata_props:
        if prop.key == f"mer_edge.{key}":
            prop.value = json.dumps({**json.loads(prop.value), **entries})
    onnx.save(model, str(target))
    return target


@pytest.mark.parametrize("key, entries, named", [
    ("window", {"k_ms": 100.0}, ["window.k_ms", "100.0", "200.0"]),
    ("input", {"flow_preset": "fast"}, ["input.flow_preset", "'fast'", "'ultrafast'"]),
])
def test_refuses_a_macro_spotter_that_reads_other_flow(tmp_path, key, entries, named):
    other = _with_metadata(default_model_path("spotting"), tmp_path / "other.onnx", key, **entries)
    with pytest.raises(me.ModelError) as error:
        me.Engine.from_options(macro_spotting_model=str(other), recognize=False)
    message = str(error.value)
    assert "macro_spotting_model" in message and str(other) in message
    assert all(part in message for part in named), message


def test_refuses_a_recognition_model_as_macro_spotter():
    recognizer = default_model_path("recognition")
    with pytest.raises(me.ModelError, match="macro_spotting_model: .*is a recognition model, "
                                            "expected spotting"):
        me.Engine.from_options(macro_spotting_model=recognizer)


def test_eval_cli_names_the_macro_spotter_in_the_report(tiny_bench, tmp_path):
    out = tmp_path / "ev"
    assert main(["eval", "--bench", str(tiny_bench / "test"), "--out", str(out),
                 "--no-recognize", "--macro-spotter", str(REGIONAL)]) == 0
    models = json.loads((out / "report.json").read_text())["models"]
    assert models["macro_spotting"] == str(REGIONAL)
    assert models["spotting"] == str(default_model_path("spotting"))


@pytest.mark.parametrize("macro", [True, False])
def test_eval_timelines_plot_the_macro_spotters_score_beside_the_main_one(
        macro, tiny_bench, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mer_edge import _evaluation_plots

    plotted = {}
    real_save_plots = _evaluation_plots.save_plots

    def save_plots(out, runs, truth, recognition):  # the real one, keeping the runs it plots
        plotted.update(runs)
        real_save_plots(out, runs, truth, recognition)

    monkeypatch.setattr(_evaluation_plots, "save_plots", save_plots)
    out = tmp_path / "ev"
    macro_option = ["--macro-spotter", str(REGIONAL)] if macro else []
    assert main(["eval", "--bench", str(tiny_bench / "test"), "--out", str(out),
                 "--no-recognize", *macro_option]) == 0
    report = json.loads((out / "report.json").read_text())
    assert len(plotted) == report["videos"] > 0
    assert len(list(out.glob("timeline_*.png"))) == len(plotted)
    for run in plotted.values():
        track = run.main_track
        assert run.scores[track] and np.isfinite(list(run.scores[track].values())).all()
        figure, axis = plt.subplots()
        assert _evaluation_plots.plot_scores(axis, run)
        lines = {line.get_label(): line for line in axis.get_lines()}
        plt.close(figure)
        if not macro:
            assert not run.macro_scores and list(lines) == ["spotter score"]
            continue
        kept = run.macro_scores[track]
        assert len(kept) > len(run.scores[track]) // 2
        assert np.isfinite(list(kept.values())).all()
        assert list(lines) == ["spotter score", "macro spotter score"]
        drawn = lines["macro spotter score"]
        assert list(drawn.get_xdata()) == sorted(kept)
        assert list(drawn.get_ydata()) == [kept[frame] for frame in sorted(kept)]


@pytest.mark.parametrize("command", ["run", "eval"])
def test_cli_refuses_a_missing_macro_spotter(command, tiny_bench, tmp_path, capsys):
    source = ["--bench", str(tiny_bench / "test")] if command == "eval" else [str(tiny_bench)]
    missing = tmp_path / "nowhere.onnx"
    assert main([command, *source, "--macro-spotter", str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"mer-edge: error: --macro-spotter: no such file {missing}"]


def test_run_cli_uses_the_macro_spotter(videos, tmp_path):
    out = tmp_path / "events.jsonl"
    assert main(["run", str(videos / "lp_d9.mp4"), "--out", str(out), "--no-progress", "--quiet",
                 "--no-recognize", "--macro-spotter", str(REGIONAL)]) == 0
    events = [json.loads(line) for line in out.read_text().splitlines()]
    expected, _, _ = _run(videos / "lp_d9.mp4", macro_spotting_model=REGIONAL, recognize=False)
    assert sorted((e["track_id"], e["onset_frame"], e["apex_frame"], e["offset_frame"], e["type"])
                  for e in events) == [e[:5] for e in expected]


def test_ring_keeps_the_second_features_in_order_when_it_grows():
    from mer_edge._ringbuffer import FrameRing

    ring = FrameRing(3, (4, 4), 1, (1, 2, 2), (2, 2, 2))
    for index in range(5):  # wraps: frames 2, 3, 4 remain
        slot = ring.push(index, index * 10.0, np.zeros((4, 4), np.uint8), np.zeros((1, 2)))
        ring.features[slot] = index
        ring.second_features[slot] = -index
    ring.grow(6)
    order = ring.slots_at_times(np.array([20.0, 30.0, 40.0]))
    assert ring.second_features.shape == (6, 2, 2, 2)
    assert [ring.second_features[s].mean() for s in order] == [-2, -3, -4]
    assert [ring.features[s].mean() for s in order] == [2, 3, 4]
    assert FrameRing(3, (4, 4), 1, (1, 2, 2)).second_features is None
