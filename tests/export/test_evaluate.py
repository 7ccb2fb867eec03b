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
