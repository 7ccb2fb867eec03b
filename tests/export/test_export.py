"""ONNX export: PyTorch/ONNX Runtime parity, metadata the runtime accepts."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from export.config import METHOD_CONFIGS, load_config  # noqa: E402
from export.models import build_model  # noqa: E402
from export.onnx_export import DEFAULT_ATOL, export_model, model_info, parity  # noqa: E402
from mer_edge._models import Model  # noqa: E402

#: PyTorch vs ONNX Runtime: largest allowed absolute difference of the outputs.
ATOL = DEFAULT_ATOL


@pytest.fixture(scope="module", params=sorted(METHOD_CONFIGS))
def exported(request, tmp_path_factory):
    torch.manual_seed(0)
    config = load_config(request.param, tiny=True)
    model = build_model(config).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    info = model_info(config, metrics={"split": "val", "f1": 0.5})
    path = export_model(model, info, tmp_path_factory.mktemp("onnx") / f"{config.method}.onnx")
    return config, model, info, path


def test_parity(exported):
    _, model, info, path = exported
    assert parity(model, path, info, batch=3) <= ATOL


def test_runtime_reads_the_metadata(exported):
    config, _, info, path = exported
    model = Model(path, expected_task=config.task)
    assert model.info == info
    assert model.info.input.shape == (-1, config.frames, len(config.channels), config.size, config.size)
    if config.task == "recognition":
        assert model.info.class_names == ("negative", "positive", "surprise")
    else:
        assert model.info.window["k_ms"] == config.k_ms
    model.close()


@pytest.mark.parametrize("faces", [1, 5])
def test_dynamic_faces_axis(exported, faces):
    config, _, _, path = exported
    model = Model(path)
    out = model(np.zeros((faces, config.frames, len(config.channels), config.size, config.size),
                         np.float32))
    assert out.shape[0] == faces
    model.close()
