"""The learned linear FACS recognizer: fitting and its ONNX graph."""
from __future__ import annotations

import numpy as np
import pytest

import mer_edge as me

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
