"""TensorRT engine building: clear errors without TensorRT, option checks."""
from __future__ import annotations

import importlib.util

import pytest

pytest.importorskip("torch")

from export.tensorrt import build_engine  # noqa: E402
from mer_edge._errors import BackendError, InputError, ModelError  # noqa: E402
from mer_edge._models import MODELS_DIR  # noqa: E402

PLACEHOLDER = MODELS_DIR / "flowmag_spotter.onnx"


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt installed")
def test_missing_tensorrt_is_a_clear_error(tmp_path):
    with pytest.raises(BackendError, match="tensorrt"):
        build_engine(PLACEHOLDER, tmp_path / "m.engine")
    assert not (tmp_path / "m.engine").exists()


def test_unknown_option_is_refused(tmp_path):
    with pytest.raises(InputError, match="int8"):
        build_engine(PLACEHOLDER, tmp_path / "m.engine", int8=True)


@pytest.mark.parametrize("options", [{"max_batch": 0}, {"fp16": "yes"}, {"opt_batch": 9, "max_batch": 2}])
def test_bad_option_values(tmp_path, options):
    with pytest.raises(InputError):
        build_engine(PLACEHOLDER, tmp_path / "m.engine", **options)


def test_missing_model(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        build_engine(tmp_path / "none.onnx", tmp_path / "m.engine")
