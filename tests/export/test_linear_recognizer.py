"""The learned linear FACS recognizer: fitting and its ONNX graph."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import mer_edge as me
from mer_edge.data.schema import MEGC_CLASSES

pytest.importorskip("torch")  # the training side (export/) needs it

from export.linear_recognizer import SPEC, _basis, fit, predict  # noqa: E402
from export.placeholders import linear_recognizer_graph  # noqa: E402


def test_fit_separates_classes_by_regional_flow():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (3, 20))
    y = rng.integers(0, 3, 300)
    x = centres[y] + rng.normal(0, 0.3, (300, 20))
    w, b = fit(x, y, l2=0.01, steps=500)
    assert (predict(x, w, b) == y).mean() > 0.95


def test_exported_graph_matches_numpy(tmp_path):
    rng = np.random.default_rng(1)
    w, b = rng.normal(0, 1, (20, 3)).astype(np.float32), rng.normal(0, 1, 3).astype(np.float32)
    info = me.ModelInfo(name="lin", task="recognition", method="linear-facs-regions", version="0",
                        input=SPEC, class_names=("negative", "positive", "surprise"))
    linear_recognizer_graph(_basis() @ w, b, info, tmp_path / "lin.onnx")
    clips = rng.normal(0, 1, (4, *SPEC.shape[1:])).astype(np.float32)
    logits = clips.reshape(4, -1) @ _basis() @ w + b
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(me.Model(tmp_path / "lin.onnx")(clips), expected, atol=1e-5)


def test_injected_samples_measure_the_movement_against_its_source(tiny_bench, videos, tmp_path):
    from export.linear_recognizer import _features, injected_samples

    splits = [tiny_bench / "val", tiny_bench / "test"]
    expected = [MEGC_CLASSES.index(event["category"]) for split in splits
                for video in json.loads((split / "manifest.json").read_text())["videos"]
                for event in video["events"] if event["category"] in MEGC_CLASSES]
    assert expected, "the tiny bench's val and test splits carry labelled MEs"
    clips, labels = injected_samples(splits, videos, tmp_path)
    assert clips.shape == (len(expected), *SPEC.shape[1:]) and list(labels) == expected
    regional = _features(clips).reshape(len(clips), 2, -1)  # (sample, x/y, region)
    assert np.hypot(regional[:, 0], regional[:, 1]).max(axis=1).min() > 0.1  # crop pixels


def test_injected_samples_name_what_is_missing(tiny_bench, videos, tmp_path):
    from export.linear_recognizer import injected_samples
    from mer_edge import DatasetError

    with pytest.raises(DatasetError, match="is not in"):  # no source videos there
        injected_samples([tiny_bench / "val"], tmp_path, tmp_path)
    unlabelled = tmp_path / "val"  # the val split with its MEs relabelled 'others'
    shutil.copytree(tiny_bench / "val", unlabelled)
    manifest = json.loads((unlabelled / "manifest.json").read_text())
    for video in manifest["videos"]:
        for event in video["events"]:
            event["category"] = "others"
    (unlabelled / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="no labelled ME"):
        injected_samples([unlabelled], videos, tmp_path)


def test_recipe_makes_the_default_recognizer_from_injected_movements(tiny_bench, videos, tmp_path):
    from export.recipe import main as recipe

    bench = tmp_path / "bench"  # train on the tiny bench's test split (its train ME is unlabelled)
    shutil.copytree(tiny_bench / "test", bench / "train")
    shutil.copytree(tiny_bench / "val", bench / "val")
    recipe(["--bench", str(bench), "--extra-seeds", "0", "--extra-val-seeds", "0",
            "--videos", str(videos), "--out", str(tmp_path / "runs"), "--models", str(tmp_path)])
    model = me.Model(tmp_path / "facs_linear_recognizer.onnx")
    assert model.info.task == "recognition" and model.info.class_names == MEGC_CLASSES
    assert "injected displacement" in model.info.training_data
    assert "mirrored" in model.info.training_data
    assert model.info.metrics["split"] == "val" and 0.0 <= model.info.metrics["uf1"] <= 1.0
    assert model(np.zeros((2, *SPEC.shape[1:]), np.float32)).shape == (2, 3)


def test_injected_signal_needs_a_benchmark(tmp_path):
    from export.linear_recognizer import train_linear
    from export.train import DataSource
    from mer_edge import DatasetError

    source = DataSource(dataset="casme2", root=tmp_path)
    with pytest.raises(DatasetError, match="make_bench"):
        train_linear(source, tmp_path / "m.onnx", signal="injected")
    with pytest.raises(DatasetError, match="unknown training signal"):
        train_linear(source, tmp_path / "m.onnx", signal="oracle")


def test_a_tiny_recipe_never_writes_into_the_package(tiny_bench, videos, tmp_path, monkeypatch,
                                                     capsys):
    from export.outputs import SHIPPED_MODELS_DIR
    from export.recipe import main as recipe

    shipped = SHIPPED_MODELS_DIR / "facs_linear_recognizer.onnx"
    before = shipped.read_bytes()
    bench = tmp_path / "bench"
    shutil.copytree(tiny_bench / "test", bench / "train")
    shutil.copytree(tiny_bench / "val", bench / "val")
    monkeypatch.chdir(tmp_path)  # the old default, mer_edge/models, was relative to here
    runs = tmp_path / "runs"
    argv = ["--bench", str(bench), "--tiny", "--methods", "linear", "--extra-seeds", "0",
            "--extra-val-seeds", "0", "--videos", str(videos), "--out", str(runs)]
    recipe(argv)
    assert f"wrote {runs / 'models' / 'facs_linear_recognizer.onnx'}" in capsys.readouterr().out
    assert me.Model(runs / "models" / "facs_linear_recognizer.onnx").info.task == "recognition"
    assert shipped.read_bytes() == before and not (tmp_path / "mer_edge").exists()
    with pytest.raises(SystemExit) as exit_info:
        recipe([*argv, "--models", str(SHIPPED_MODELS_DIR)])
    assert exit_info.value.code == 2 and "never writes there" in capsys.readouterr().err
    assert shipped.read_bytes() == before


def test_linear_recognizer_out_is_an_onnx_file_and_spares_the_shipped_one(tiny_bench, capsys):
    from export.linear_recognizer import main as linear
    from export.outputs import SHIPPED_MODELS_DIR

    shipped = SHIPPED_MODELS_DIR / "facs_linear_recognizer.onnx"
    before = shipped.read_bytes()
    for out, message in ((shipped, "--replace-shipped"), (Path("model.txt"), "must end in .onnx")):
        with pytest.raises(SystemExit) as exit_info:
            linear(["--bench", str(tiny_bench), "--out", str(out)])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert shipped.read_bytes() == before


def test_flow_compensation_reaches_the_samples_and_the_model(tiny_bench, videos, tmp_path):
    from dataclasses import replace

    from export.linear_recognizer import injected_samples, main as linear

    splits = [tiny_bench / "val"]
    translation, _ = injected_samples(splits, videos, tmp_path)
    similarity, _ = injected_samples(splits, videos, tmp_path,
                                     replace(SPEC, flow_compensation="similarity"))
    assert np.abs(translation - similarity).max() > 0.01  # another flow, not the same one
    bench = tmp_path / "bench"
    shutil.copytree(tiny_bench / "test", bench / "train")
    shutil.copytree(tiny_bench / "val", bench / "val")
    out = tmp_path / "similarity.onnx"
    linear(["--bench", str(bench), "--signal", "injected", "--videos", str(videos),
            "--cache", str(tmp_path / "cache"), "--flow-compensation", "similarity",
            "--out", str(out)])
    assert me.Model(out).info.input.flow_compensation == "similarity"


def test_recipe_trains_moext_and_miacnet_as_shipped_on_injected_movements(tiny_bench, videos,
                                                                          tmp_path):
    """The config stays fit for real datasets; the recipe adds what the shipped file was made with."""
    from export.config import load_config
    from export.outputs import SHIPPED_MODELS_DIR
    from export.recipe import main as recipe

    bench = tmp_path / "bench"
    shutil.copytree(tiny_bench / "test", bench / "train")
    shutil.copytree(tiny_bench / "val", bench / "val")
    recipe(["--bench", str(bench), "--tiny", "--methods", "moext", "--extra-seeds", "0",
            "--extra-val-seeds", "0", "--videos", str(videos), "--out", str(tmp_path / "runs")])
    made = me.Model(tmp_path / "runs" / "models" / "moext_recognizer.onnx").info
    shipped = me.Model(SHIPPED_MODELS_DIR / "moext_recognizer.onnx").info
    miacnet = me.Model(SHIPPED_MODELS_DIR / "miacnet_recognizer.onnx").info
    assert made.method == "moext" and miacnet.method == "ma2mi-miacnet"
    assert load_config("moext").train_signal == "observed"
    for info in (made, shipped, miacnet):
        assert info.version == "1.1.0"
        assert info.input.flow_compensation == "similarity"
        assert "injected movement alone" in info.training_data
