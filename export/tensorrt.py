"""Build a native TensorRT engine from an exported ONNX model.

``python -m mer_edge_export.tensorrt mer_edge/models/NAME.onnx --out NAME.engine [--fp16]``
(``python -m export.tensorrt`` from a checkout)

Run it on the target device: a TensorRT engine is specific to the GPU and
the TensorRT version that built it.  The file written is the ``MERTRT01``
format of :mod:`mer_edge._backends._tensorrt` (magic, metadata header,
serialized engine), with the same ``mer_edge.*`` metadata as the ONNX file,
so the runtime's ``tensorrt`` backend checks it exactly like an ONNX model,
and how it was built (:class:`~mer_edge._backends._tensorrt.EngineBuild`:
TensorRT version, GPU name and compute capability when ``cuda-python`` can
read them, batch profile, fp16), so the runtime can say why an engine does
not fit its machine.  The faces axis gets an optimisation profile
``1 .. max_batch``; the runtime runs larger batches in pieces.

Needs the ``tensorrt`` package (and an NVIDIA GPU); without it
:func:`build_engine` raises :class:`~mer_edge.BackendError`.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import onnx

from mer_edge._backends import DEFAULT_MAX_BATCH
from mer_edge._backends._tensorrt import (EngineBuild, cuda_device, import_cuda_runtime,
                                          write_engine_file)
from mer_edge._errors import BackendError, InputError, ModelError
from mer_edge._modelmeta import ModelInfo

__all__ = ["ENGINE_OPTIONS", "build_engine", "main"]

#: Options of the TensorRT format and their types; anything else is refused.
ENGINE_OPTIONS: dict[str, type] = {"fp16": bool, "max_batch": int, "opt_batch": int,
                                   "workspace_mb": int}
_DEFAULTS: dict[str, Any] = {"fp16": False, "max_batch": DEFAULT_MAX_BATCH, "opt_batch": 1,
                             "workspace_mb": 256}


def _import_tensorrt() -> Any:
    try:
        import tensorrt as trt  # type: ignore[import-not-found]
    except ImportError as exc:
        raise BackendError("building a TensorRT engine needs the 'tensorrt' package on an "
                           f"NVIDIA device (pip install tensorrt): {exc}") from None
    return trt


def _options(given: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(given) - set(ENGINE_OPTIONS))
    if unknown:
        raise InputError(f"unsupported TensorRT options {unknown}; valid: {sorted(ENGINE_OPTIONS)}")
    merged = {**_DEFAULTS, **given}
    for name, kind in ENGINE_OPTIONS.items():
        if not isinstance(merged[name], kind) or (kind is int and merged[name] < 1):
            raise InputError(f"option {name}: expected a positive {kind.__name__}, got {merged[name]!r}")
    if merged["opt_batch"] > merged["max_batch"]:
        raise InputError(f"opt_batch {merged['opt_batch']} > max_batch {merged['max_batch']}")
    return merged


def build_engine(onnx_path: str | os.PathLike, out: str | os.PathLike, **options: Any) -> Path:
    """Build ``out`` (a ``MERTRT01`` engine file) from a mer_edge ONNX model.

    Options (see :data:`ENGINE_OPTIONS`): ``fp16``, ``max_batch``,
    ``opt_batch``, ``workspace_mb``.

    Raises:
        InputError: an unknown or invalid option.
        ModelError: the ONNX file is missing or lacks mer_edge metadata.
        BackendError: TensorRT is not installed or fails to build.
    """
    settings = _options(options)
    path = Path(onnx_path)
    if not path.is_file():
        raise ModelError(f"ONNX model not found: {path}")
    model = onnx.load(str(path))
    metadata = {p.key: p.value for p in model.metadata_props}
    info = ModelInfo.from_metadata(metadata, source=str(path))
    trt = _import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"):  # TensorRT < 10
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(model.SerializeToString()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f"TensorRT cannot parse {path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, settings["workspace_mb"] << 20)
    if settings["fp16"]:
        if not builder.platform_has_fast_fp16:
            raise BackendError("fp16 requested but this GPU has no fast fp16; build without --fp16")
        config.set_flag(trt.BuilderFlag.FP16)
    shape = info.input.shape[1:]
    profile = builder.create_optimization_profile()
    profile.set_shape(info.input.name, (1, *shape), (settings["opt_batch"], *shape),
                      (settings["max_batch"], *shape))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendError(f"TensorRT failed to build an engine from {path}")
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_engine_file(target, metadata, bytes(serialized), _build_info(trt, settings))
    return target


def _build_info(trt: Any, settings: dict[str, Any]) -> EngineBuild:
    """What the engine header records of this build; the GPU only when cuda-python reads it."""
    try:
        device, capability = cuda_device(import_cuda_runtime())
    except BackendError:
        device, capability = "", ""
    return EngineBuild(tensorrt_version=str(trt.__version__), device=device,
                       compute_capability=capability,
                       batch=(1, settings["opt_batch"], settings["max_batch"]),
                       fp16=settings["fp16"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mer_edge_export.tensorrt",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("onnx", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fp16", action="store_true")
    parser.add_argument("--max-batch", type=int, default=_DEFAULTS["max_batch"])
    parser.add_argument("--opt-batch", type=int, default=_DEFAULTS["opt_batch"])
    parser.add_argument("--workspace-mb", type=int, default=_DEFAULTS["workspace_mb"])
    args = parser.parse_args(argv)
    try:
        path = build_engine(args.onnx, args.out, fp16=args.fp16, max_batch=args.max_batch,
                            opt_batch=args.opt_batch, workspace_mb=args.workspace_mb)
    except (BackendError, ModelError, InputError) as exc:
        parser.exit(2, f"error: {exc}\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
