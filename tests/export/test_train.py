"""End to end on a tiny benchmark: train (tiny config), resume, export with parity."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("mediapipe")

from export.checkpoint import RunDir  # noqa: E402
from export.config import load_config  # noqa: E402
from export.onnx_export import export_run  # noqa: E402
from export.train import DataSource, main, train  # noqa: E402
from mer_edge._errors import InputError, MerEdgeError  # noqa: E402
from mer_edge._models import Model  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench(tmp_path_factory, videos: Path) -> Path:
    from mer_edge.data.synth import make_bench

    # no "others": every tiny split then has an ME with a MEGC class
    return make_bench(tmp_path_factory.mktemp("bench"), 0, videos_dir=videos, tiny=True,
                      emotion_weights={"happiness": 1.0, "surprise": 1.0, "disgust": 1.0})


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.mark.parametrize("method", ["ssl3d", "regional_tcn", "moext"])
def test_train_resume_export(bench, cache, tmp_path, method):
    config = load_config(method, tiny=True)
    run = tmp_path / "run"
    result = train(config, DataSource(bench), run, cache=cache, log=lambda _: None)
    assert result["best_epoch"] == 0 and result["val_metrics"]
    if config.task == "spotting":  # detection parameters calibrated on val (or the defaults)
        assert set(result["data"]["detection"]) <= {"p", "min_score"}
    state = json.loads((run / "state.json").read_text())
    assert state["stage"] == "finetune" and state["epoch"] == config.epochs - 1
    with pytest.raises(InputError, match="--resume"):
        train(config, DataSource(bench), run, cache=cache, log=lambda _: None)
    again = train(config, DataSource(bench), run, cache=cache, resume=True, log=lambda _: None)
    assert len(json.loads((run / "state.json").read_text())["history"]) == len(state["history"])
    assert again["val_metrics"] == result["val_metrics"]
    summary = export_run(run, tmp_path / "model.onnx")
    assert summary["max_abs_diff"] <= summary["atol"]
    model = Model(tmp_path / "model.onnx", expected_task=config.task)
    assert model.info.metrics["split"] == "val" and not model.info.placeholder
    assert "semi-synthetic" in model.info.training_data
    model.close()


def test_training_never_reads_test(bench):
    with pytest.raises(MerEdgeError, match="test split"):
        DataSource(bench).split("test")


def test_cli_needs_a_data_source(capsys):
    with pytest.raises(SystemExit):
        main(["ssl3d", "--tiny"])
    assert "--bench" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["moext", "--tiny", "--dataset", "casme2"])
    assert "--dataset casme2 needs --root DIR" in capsys.readouterr().err


def test_resume_with_other_config_is_refused(tmp_path):
    RunDir(tmp_path, load_config("moext", tiny=True), resume=False).start()
    with pytest.raises(InputError, match="different config"):
        RunDir(tmp_path, load_config("moext"), resume=True)
