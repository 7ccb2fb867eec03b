"""Export a trained run to a self-describing ONNX model.

``python -m mer_edge_export.onnx_export RUN_DIR --out NAME.onnx`` (``--replace-shipped`` to
overwrite a model shipped in ``mer_edge/models``)

The graph (opset 17) takes ``clip`` ``(faces, T, C, S, S) float32`` with a
dynamic ``faces`` axis and returns ``output``: a spotting score ``(faces,)``
or class probabilities ``(faces, n_classes)`` (softmax in the graph).  The
:class:`~mer_edge.ModelInfo` metadata (input spec, normalisation, alignment
template, window, classes, training data, validation metrics, version) is
written into ``metadata_props``.  After writing, the ONNX Runtime output is
compared with PyTorch on random and real-scaled inputs (``--atol``).
"""
from __future__ import annotations

if __name__ == "__main__":  # run as python -m: without PyTorch, one line, not a traceback
    from ._launch import require_torch_to_run
    require_torch_to_run(__spec__)

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from mer_edge._errors import MerEdgeError, ModelError
from mer_edge._modelmeta import ModelInfo
from mer_edge._version import __version__
from mer_edge.data.schema import MEGC_CLASSES

from .checkpoint import RunDir, load_run_weights
from .config import TrainConfig
from .models import METHOD_NAMES, build_model
from .outputs import check_model_output

__all__ = ["OPSET", "DEFAULT_ATOL", "model_info", "export_model", "export_run", "parity",
           "latency_ms", "exported_params", "main"]

OPSET = 17
DEFAULT_ATOL = 1e-4


def model_info(config: TrainConfig, *, metrics: dict[str, Any] | None = None,
               training_data: str = "untrained (random initialisation)",
               fps: float = 30.0, detection: dict[str, Any] | None = None) -> ModelInfo:
    """The metadata of a model trained with ``config`` (``detection``: calibrated
    interval-detection parameters of a spotter)."""
    spotting = config.task == "spotting"
    return ModelInfo(
        name=config.name, task=config.task, method=METHOD_NAMES[config.method],  # type: ignore[arg-type]
        version=config.version, input=config.spec, placeholder=False,
        window=_window(config, fps),
        class_names=() if spotting else MEGC_CLASSES, sdk_version=__version__,
        training_data=training_data, metrics=metrics or {},
        detection=dict(detection or {}) if spotting else {})


def _window(config: TrainConfig, fps: float) -> dict[str, float]:
    """Time parameters of the metadata; a spotter's look-ahead in ms at its fps."""
    if config.task != "spotting":
        return {"fps": float(fps)}
    window = {"k_ms": float(config.k_ms), "fps": float(fps)}
    if config.lag_frames:
        window["lag_ms"] = round(1000.0 * config.lag_frames / fps, 3)
    return window


def export_model(model: nn.Module, info: ModelInfo, out: str | Path) -> Path:
    """Write ``model`` (eval mode) as ONNX with ``info`` in its metadata."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    spec = info.input
    example = torch.randn(2, spec.frames, len(spec.channels), spec.size, spec.size)
    model = model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(out), input_names=[spec.name],
                          output_names=[info.output_name], opset_version=OPSET,
                          dynamic_axes={spec.name: {0: "faces"}, info.output_name: {0: "faces"}},
                          dynamo=False)
    graph = onnx.load(str(out))
    graph.producer_name, graph.producer_version = "mer_edge", __version__
    graph.doc_string = f"{info.name}: {info.method} ({info.task})"
    onnx.helper.set_model_props(graph, info.to_metadata())
    onnx.checker.check_model(graph)
    onnx.save(graph, str(out))
    return out


def exported_params(path: str | Path) -> int:
    """Number of weights in an ONNX graph (its initializers)."""
    graph = onnx.load(str(path)).graph
    return int(sum(int(np.prod(init.dims)) for init in graph.initializer))


def _session(path: Path, threads: int = 1):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def parity(model: nn.Module, path: str | Path, info: ModelInfo, *, batch: int = 3,
           seed: int = 0) -> float:
    """Largest absolute difference between PyTorch and ONNX Runtime outputs."""
    spec = info.input
    rng = np.random.default_rng(seed)
    clip = rng.normal(size=(batch, spec.frames, len(spec.channels), spec.size, spec.size))
    clip = clip.astype(np.float32)
    model = model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(clip)).numpy()
    got = _session(Path(path)).run([info.output_name], {spec.name: clip})[0]
    if got.shape != expected.shape:
        raise ModelError(f"ONNX output shape {got.shape} != PyTorch {expected.shape}")
    return float(np.abs(got - expected).max())


def latency_ms(path: str | Path, info: ModelInfo, *, faces: int = 1, threads: int = 1,
               repeats: int = 300) -> float:
    """Median milliseconds per call of ``faces`` faces with ONNX Runtime (``threads`` threads)."""
    spec = info.input
    session = _session(Path(path), threads)
    clip = np.random.default_rng(0).normal(
        size=(faces, spec.frames, len(spec.channels), spec.size, spec.size)).astype(np.float32)
    feed = {spec.name: clip}
    for _ in range(20):
        session.run(None, feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000.0)


def export_run(run_dir: str | Path, out: str | Path, *, atol: float = DEFAULT_ATOL,
               weights: str = "best") -> dict[str, Any]:
    """Export a finished run; returns a summary (parity, latency, params, metrics)."""
    result = RunDir.read_result(run_dir)
    config = TrainConfig.from_json(result["config"])
    model = build_model(config)
    load_run_weights(run_dir, model, weights)
    model.eval()
    metrics = {key: value for key, value in dict(result.get("val_metrics", {})).items()
               if key != "confusion"}
    metrics = {"split": "val", **metrics, "best_epoch": result.get("best_epoch"),
               "params_trained": result.get("params")}
    data = result.get("data", {})
    detection = data.get("detection", {})
    if "val_calibrated" in data:  # spotter: figures with the detection parameters it ships
        metrics["with_shipped_detection"] = {k: v for k, v in data["val_calibrated"].items()
                                             if k in ("f1", "f1_me", "f1_mae", "precision", "recall")}
    settings = {"training_data": result.get("training_data", ""),
                "fps": float(result.get("fps", 30.0)), "detection": detection}
    info = model_info(config, metrics=metrics, **settings)
    path = export_model(model, info, out)
    ms = latency_ms(path, info)
    metrics["params_exported"] = exported_params(path)
    info = model_info(config, metrics={**metrics, "ort_ms_per_face_1thread": round(ms, 4)},
                      **settings)
    path = export_model(model, info, out)
    error = parity(model, path, info)
    if error > atol:
        raise ModelError(f"{path}: ONNX Runtime differs from PyTorch by {error:.2e} > atol {atol:.0e}")
    return {"file": str(path), "bytes": path.stat().st_size, "max_abs_diff": error, "atol": atol,
            "ms_per_face": ms, "params_trained": result.get("params"),
            "params_exported": metrics["params_exported"], "val_metrics": metrics}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mer_edge_export.onnx_export",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="the .onnx file to write")
    parser.add_argument("--replace-shipped", action="store_true",
                        help="allow --out to overwrite a model shipped in mer_edge/models")
    parser.add_argument("--atol", type=float, default=DEFAULT_ATOL)
    parser.add_argument("--weights", choices=("best", "last"), default="best")
    args = parser.parse_args(argv)
    try:
        out = check_model_output(args.out, replace_shipped=args.replace_shipped)
        summary = export_run(args.run_dir, out, atol=args.atol, weights=args.weights)
    except MerEdgeError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    print(json.dumps(summary, indent=2, default=float))


if __name__ == "__main__":
    main()
