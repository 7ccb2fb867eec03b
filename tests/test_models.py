"""Model metadata and backends: real ONNX sessions, refusal of bad files."""
from __future__ import annotations

from pathlib import Path

import json
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import mer_edge as me
from mer_edge._backends import create_session
from mer_edge._backends._onnxruntime import OnnxRuntimeSession
from mer_edge._backends._tensorrt import TensorRTSession, read_engine_file, write_engine_file
from mer_edge._models import MODELS_DIR, Model, default_model_path

REPO = Path(__file__).resolve().parents[1]


def _identity_model(path, shape=("faces", 1, 1, 32, 32), metadata=None):
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["clip"], ["output"], axes=list(range(1, len(shape))),
                          keepdims=0)], "g",
        [helper.make_tensor_value_info("clip", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["faces"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    if metadata:
        helper.set_model_props(model, metadata)
    onnx.save(model, str(path))
    return path


def _spotter_info(**changes):
    spec = me.InputSpec(name="clip", frames=1, channels=("flow_mag",), size=32)
    fields = dict(name="t", task="spotting", method="test", version="1", input=spec,
                  window={"k_ms": 200.0})
    fields.update(changes)
    return me.ModelInfo(**fields)


def test_shipped_defaults_load_and_describe_themselves():
    spotter = Model(default_model_path("spotting"), expected_task="spotting")
    recognizer = Model(default_model_path("recognition"), expected_task="recognition")
    assert spotter.provider == "CPUExecutionProvider"
    scores = spotter(np.zeros((3, *spotter.info.input.shape[1:]), np.float32))
    assert scores.shape == (3,)
    probs = recognizer(np.zeros((2, *recognizer.info.input.shape[1:]), np.float32))
    assert probs.shape == (2, len(recognizer.info.class_names))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    listed = me.shipped_models()
    assert {m["task"] for m in listed} == {"spotting", "recognition"}
    assert all(m["file"].endswith(".onnx") for m in listed)


def test_shipped_models_are_readable_by_the_oldest_onnx_runtime_we_support():
    # setup.py promises onnxruntime >= 1.17, which reads IR versions up to 9 (a Jetson's
    # onnxruntime-gpu wheel is often that old); the onnx library stamps its own newest.
    import re

    oldest = re.search(r'"onnxruntime>=([\d.]+)"', (REPO / "setup.py").read_text()).group(1)
    assert oldest == "1.17"
    for path in sorted(MODELS_DIR.glob("*.onnx")):
        model = onnx.load(str(path), load_external_data=False)
        assert model.ir_version <= 9, f"{path.name}: IR version {model.ir_version}"
        assert all(o.version <= 20 for o in model.opset_import if o.domain in ("", "ai.onnx"))


def test_models_built_without_torch_get_the_ir_version_of_their_opset(tmp_path):
    from export.placeholders import IR_VERSION, build_flowmag_spotter, build_rule_recognizer

    for build, name in ((build_flowmag_spotter, "s.onnx"), (build_rule_recognizer, "r.onnx")):
        build(tmp_path / name)
        assert onnx.load(str(tmp_path / name)).ir_version == IR_VERSION == 8
        Model(tmp_path / name).close()  # and the runtime still loads it


def test_flowmag_spotter_grows_with_motion():
    spotter = Model(MODELS_DIR / "flowmag_spotter.onnx")
    still = np.zeros((1, 1, 1, 32, 32), np.float32)
    moving = np.full((1, 1, 1, 32, 32), 2.0, np.float32)
    assert spotter(moving)[0] > spotter(still)[0]


def test_file_without_metadata_is_refused(tmp_path):
    path = _identity_model(tmp_path / "plain.onnx")
    with pytest.raises(me.ModelError, match="no mer_edge metadata"):
        Model(path)


@pytest.mark.parametrize("shape, message", [
    (("faces", 1, 1, 16, 16), "axis 3 is 16"),
    (("faces", 1, 32, 32), "rank 4"),
])
def test_graph_disagreeing_with_metadata_is_refused(tmp_path, shape, message):
    path = _identity_model(tmp_path / "bad.onnx", shape, _spotter_info().to_metadata())
    with pytest.raises(me.ModelError, match=message):
        Model(path)


def test_wrong_task_is_refused(tmp_path):
    path = _identity_model(tmp_path / "s.onnx", metadata=_spotter_info().to_metadata())
    with pytest.raises(me.ModelError, match="expected recognition"):
        Model(path, expected_task="recognition")


@pytest.mark.parametrize("changes, message", [
    ({"task": "detection"}, "task"),
    ({"window": {}}, "k_ms"),
    ({"alignment": "other-template"}, "template"),
    ({"task": "recognition", "class_names": ("one",)}, "class_names"),
])
def test_model_info_validation(changes, message):
    with pytest.raises(me.ModelError, match=message):
        _spotter_info(**changes)


@pytest.mark.parametrize("channels, message", [(("depth",), "unknown"), ((), "unknown")])
def test_input_spec_validation(channels, message):
    with pytest.raises(me.ModelError, match=message):
        me.InputSpec(name="x", frames=1, channels=channels, size=32)


def test_flow_compensation_is_read_from_metadata_and_defaults_to_translation():
    with pytest.raises(me.ModelError, match="flow_compensation 'affine': valid compensations are"):
        me.InputSpec(name="x", frames=1, channels=("flow_mag",), size=32, flow_compensation="affine")
    info = _spotter_info()
    props = info.to_metadata()
    spec = json.loads(props["mer_edge.input"])
    del spec["flow_compensation"]  # a file written before the field existed
    older = me.ModelInfo.from_metadata(dict(props, **{"mer_edge.input": json.dumps(spec)}))
    assert older.input.flow_compensation == "translation"
    spec["flow_compensation"] = "similarity"
    newer = me.ModelInfo.from_metadata(dict(props, **{"mer_edge.input": json.dumps(spec)}))
    assert newer.input.flow_compensation == "similarity"


def test_metadata_round_trip_and_corruption():
    info = _spotter_info()
    props = info.to_metadata()
    assert me.ModelInfo.from_metadata(props) == info
    broken = dict(props, **{"mer_edge.version": "{not json"})
    with pytest.raises(me.ModelError, match="not valid JSON"):
        me.ModelInfo.from_metadata(broken)
    with pytest.raises(me.ModelError, match="unknown metadata fields"):
        me.ModelInfo.from_metadata(dict(props, **{"mer_edge.colour": "1"}))


def test_model_rejects_wrong_input_shape():
    spotter = Model(default_model_path("spotting"))
    with pytest.raises(me.ModelError, match="expected input"):
        spotter(np.zeros((1, 2, 3), np.float32))


def test_missing_file_and_unknown_backend():
    with pytest.raises(me.ModelError, match="not found"):
        Model("/nonexistent/model.onnx")
    with pytest.raises(me.BackendError, match="unknown backend"):
        create_session(str(default_model_path("spotting")), "openvino")


def test_gpu_provider_absent_is_an_error_unless_fallback_allowed():
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("a CUDA provider is present here")
    path = default_model_path("spotting")
    with pytest.raises(me.BackendError, match="CUDAExecutionProvider"):
        Model(path, backend="onnxruntime-cuda")
    model = Model(path, backend="onnxruntime-cuda", allow_fallback=True)
    assert model.provider == "CPUExecutionProvider"  # reported, not hidden


def test_injected_session_is_used():
    class FakeOrtSession:
        def get_providers(self):
            return ["CUDAExecutionProvider"]

    session = OnnxRuntimeSession("unused", device="cuda", session=FakeOrtSession())
    assert session.provider == "CUDAExecutionProvider"


def test_tensorrt_engine_file_header(tmp_path):
    path = tmp_path / "m.engine"
    write_engine_file(path, _spotter_info().to_metadata(), b"\x01\x02")
    metadata, engine = read_engine_file(path)
    assert engine == b"\x01\x02" and me.ModelInfo.from_metadata(metadata).name == "t"
    (tmp_path / "raw.engine").write_bytes(b"not an engine")
    with pytest.raises(me.ModelError, match="MERTRT01"):
        read_engine_file(tmp_path / "raw.engine")
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        with pytest.raises(me.BackendError, match="tensorrt"):
            TensorRTSession(path)
