"""Training-free placeholder models, built as plain ONNX graphs (no torch).

They stand in for the trained defaults and say so in their metadata
(``placeholder: true``, ``method: "placeholder-*"``):

* ``flowmag-spotter``: the classic training-free spotter.  Score of a frame
  is ``m / (m + 1)`` where ``m`` is the largest mean optical-flow magnitude
  (crop pixels) over the facial regions of interest, on flow whose residual
  head motion is removed by a fitted similarity (``input.flow_compensation``),
  with the interval-detection parameters :data:`FLOWMAG_DETECTION`.
* ``facs-rule-recognizer``: a linear FACS rule on onset->apex flow: brows up
  (AU1/2) -> surprise; lip corners up and out (AU12) -> positive; brows
  down/inward, lip corners down, chin up (AU4/15/17) -> negative.

Run ``python -m mer_edge_export.placeholders --out mer_edge/models`` to rebuild them.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mer_edge._flow import ROI_NAMES, roi_masks
from mer_edge._modelmeta import InputSpec, ModelInfo
from mer_edge._version import __version__

SIZE = 32
OPSET = 17
#: The IR version of opset 17 (what ``torch.onnx.export`` writes too).  The onnx
#: library stamps its own newest (13 with onnx 1.19), which ONNX Runtime before
#: 1.2x refuses ("max supported IR version: 10"): setup.py promises 1.17.
IR_VERSION = 8


def _finish(graph: onnx.GraphProto, info: ModelInfo, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              ir_version=IR_VERSION, producer_name="mer_edge",
                              producer_version=__version__)
    helper.set_model_props(model, info.to_metadata())
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def roi_weights() -> np.ndarray:
    """``(S*S, R)``: each column averages one region of interest."""
    masks = roi_masks(SIZE).reshape(len(ROI_NAMES), -1).astype(np.float32)
    return (masks / masks.sum(axis=1, keepdims=True)).T


#: Interval detection of the shipped ``flowmag-spotter`` (session 14), as written by
#:
#:     python -m mer_edge_export.calibrate mer_edge/models/flowmag_spotter.onnx --still-check \
#:         --bench /work/bench_main/val /work/bench_extra_val/seed{1..10}/val \
#:         /work/stillbench3_s{0..9}/val
#:
#: on the pooled talking- and still-face validation benches, replaying the engine's following
#: and return-to-neutral check (docs/benchmarks.md, session 14): val all F1 0.458 after the
#: grid, then ME F1 0.503 (50/2/97), all F1 0.465, at 0.15 false MEs a minute.
FLOWMAG_DETECTION: dict[str, float | None] = {
    "min_score": 0.1, "p": 0.35, "peak_quantile": 0.85, "min_interval_ms": 200.0,
    "smooth_ms": 0.0, "offset_lag": 0.25, "rise_onset_ms": None,
    "me_quiet_ratio": 0.5, "me_quiet_ms": 1000.0}


def build_flowmag_spotter(path: Path, *, compensation: str = "similarity",
                          detection: dict[str, float | None] | None = None) -> ModelInfo:
    """Write the training-free flow-magnitude spotter to ``path``.

    Args:
        path: the ``.onnx`` file to write.
        compensation: how the engine removes residual head motion from its flow
            (``input.flow_compensation``, :data:`mer_edge._flow.FLOW_COMPENSATIONS`).
        detection: interval-detection parameters stored with it (default
            :data:`FLOWMAG_DETECTION`, calibrated for the similarity compensation).
    """
    spec = InputSpec(name="clip", frames=1, channels=("flow_mag",), size=SIZE, flow_preset="ultrafast",
                     flow_compensation=compensation)
    info = ModelInfo(
        name="flowmag-spotter", task="spotting", method="placeholder-flow-magnitude",
        version="0.4.0", input=spec, placeholder=True, window={"k_ms": 200.0, "fps": 30.0},
        detection=dict(FLOWMAG_DETECTION if detection is None else detection),
        sdk_version=__version__,
        training_data="none: training-free (max regional optical-flow magnitude)")
    nodes = [
        helper.make_node("Reshape", ["clip", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "roi_weights"], ["roi_means"]),
        helper.make_node("ReduceMax", ["roi_means"], ["peak"], axes=[1], keepdims=0),
        helper.make_node("Add", ["peak", "one"], ["peak_plus_one"]),
        helper.make_node("Div", ["peak", "peak_plus_one"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "flowmag_spotter",
        [helper.make_tensor_value_info("clip", TensorProto.FLOAT, ["faces", 1, 1, SIZE, SIZE])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["faces"])],
        initializer=[numpy_helper.from_array(np.array([-1, SIZE * SIZE], np.int64), "flat_shape"),
                     numpy_helper.from_array(roi_weights(), "roi_weights"),
                     numpy_helper.from_array(np.array(1.0, np.float32), "one")])
    _finish(graph, info, path)
    return info


def _rule_matrix() -> np.ndarray:
    """``(2*S*S, 3)`` weights: columns negative, positive, surprise."""
    weights = roi_weights()  # (S*S, R)
    roi = {name: weights[:, i] for i, name in enumerate(ROI_NAMES)}
    dx = np.zeros((SIZE * SIZE, 3), np.float32)
    dy = np.zeros((SIZE * SIZE, 3), np.float32)
    brows = roi["brow_left"] + roi["brow_right"]
    corners = roi["mouth_left"] + roi["mouth_right"]
    # Image y grows downwards: raising is a negative dy.
    dy[:, 2] -= brows                      # AU1/AU2: brows up -> surprise
    dy[:, 0] += brows + roi["glabella"]    # AU4: brows down -> negative
    dy[:, 1] -= corners                    # AU12: corners up -> positive
    dy[:, 0] += corners                    # AU15: corners down -> negative
    dy[:, 0] -= roi["chin"]                # AU17: chin up -> negative
    # AU12 also pulls the corners outward; AU4 pulls the brows inward.
    dx[:, 1] += roi["mouth_left"] - roi["mouth_right"]
    dx[:, 0] += roi["brow_right"] - roi["brow_left"]
    return np.concatenate([dx, dy]) * 4.0


def linear_recognizer_graph(weights: np.ndarray, bias: np.ndarray, info: ModelInfo,
                            path: Path) -> None:
    """Write ``softmax(flat(flow_x, flow_y) @ weights + bias)`` with ``info`` to ``path``."""
    classes = len(info.class_names)
    nodes = [
        helper.make_node("Reshape", ["clip", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "weights"], ["scores"]),
        helper.make_node("Add", ["scores", "bias"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["output"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, info.name.replace("-", "_"),
        [helper.make_tensor_value_info("clip", TensorProto.FLOAT, ["faces", 1, 2, SIZE, SIZE])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["faces", classes])],
        initializer=[numpy_helper.from_array(np.array([-1, 2 * SIZE * SIZE], np.int64), "flat_shape"),
                     numpy_helper.from_array(np.asarray(weights, np.float32), "weights"),
                     numpy_helper.from_array(np.asarray(bias, np.float32), "bias")])
    _finish(graph, info, path)


def build_rule_recognizer(path: Path) -> ModelInfo:
    """Write the training-free FACS rule recognizer to ``path``."""
    spec = InputSpec(name="clip", frames=1, channels=("flow_x", "flow_y"), size=SIZE,
                     flow_preset="ultrafast")
    info = ModelInfo(
        name="facs-rule-recognizer", task="recognition", method="placeholder-facs-rules",
        version="0.1.0", input=spec, placeholder=True,
        class_names=("negative", "positive", "surprise"), sdk_version=__version__,
        training_data="none: hand-written FACS rules on onset->apex regional flow")
    linear_recognizer_graph(_rule_matrix(), np.zeros(3, np.float32), info, path)
    return info


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("mer_edge/models"))
    args = parser.parse_args(argv)
    build_flowmag_spotter(args.out / "flowmag_spotter.onnx")
    build_rule_recognizer(args.out / "facs_rule_recognizer.onnx")
    print(f"wrote placeholders to {args.out}")


if __name__ == "__main__":
    main()
