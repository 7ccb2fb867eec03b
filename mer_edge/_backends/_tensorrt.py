"""Native TensorRT backend for Jetson and other NVIDIA devices.

An engine file is ``MERTRT01`` + a little-endian uint32 length + the model's
metadata as JSON (the same ``mer_edge.*`` entries as the ONNX file) + the
serialized TensorRT engine.  Engines are built by ``export`` on the target
device (engines are not portable between GPUs or TensorRT versions).

Needs the ``tensorrt`` and ``cuda-python`` packages; without them, or
without a GPU, opening an engine raises :class:`~mer_edge.BackendError`.
"""
from __future__ import annotations

import json
import os
import struct
from typing import Mapping

import numpy as np

from .._errors import BackendError, ModelError
from ._base import InferenceSession

__all__ = ["TensorRTSession", "ENGINE_MAGIC", "write_engine_file", "read_engine_file"]

ENGINE_MAGIC = b"MERTRT01"


def write_engine_file(path: str | os.PathLike, metadata: Mapping[str, str], engine: bytes) -> None:
    """Write a serialized engine with its metadata header."""
    header = json.dumps(dict(metadata), sort_keys=True).encode("utf-8")
    with open(path, "wb") as handle:
        handle.write(ENGINE_MAGIC + struct.pack("<I", len(header)) + header + engine)


def read_engine_file(path: str | os.PathLike) -> tuple[dict[str, str], bytes]:
    """Read ``(metadata, serialized engine)``; raise :class:`ModelError` on a bad file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelError(f"engine file not found: {path}")
    with open(path, "rb") as handle:
        blob = handle.read()
    if not blob.startswith(ENGINE_MAGIC) or len(blob) < len(ENGINE_MAGIC) + 4:
        raise ModelError(f"{path}: not a mer_edge TensorRT engine (missing {ENGINE_MAGIC!r} "
                         "header); build it with `python -m export.tensorrt`")
    start = len(ENGINE_MAGIC) + 4
    (length,) = struct.unpack("<I", blob[len(ENGINE_MAGIC):start])
    try:
        metadata = json.loads(blob[start:start + length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: corrupt metadata header: {exc}") from None
    engine = blob[start + length:]
    if not engine:
        raise ModelError(f"{path}: header present but the engine is empty")
    return metadata, engine


def _check(result: tuple, what: str) -> object:
    error = result[0]
    if int(error) != 0:
        raise BackendError(f"CUDA call {what} failed with error {int(error)}")
    return result[1] if len(result) > 1 else None


class TensorRTSession(InferenceSession):
    """Runs a mer_edge TensorRT engine file with static-at-runtime batch sizes."""

    provider = "TensorRT"

    def __init__(self, path: str | os.PathLike) -> None:
        self._metadata, serialized = read_engine_file(path)
        try:
            import tensorrt as trt  # type: ignore[import-not-found]
            from cuda.bindings import runtime as cudart  # type: ignore[import-not-found]
        except ImportError as exc:
            raise BackendError(f"the tensorrt backend needs the 'tensorrt' and 'cuda-python' "
                               f"packages on an NVIDIA device: {exc}") from None
        self._trt, self._cudart = trt, cudart
        logger = trt.Logger(trt.Logger.WARNING)
        self._engine = trt.Runtime(logger).deserialize_cuda_engine(serialized)
        if self._engine is None:
            raise BackendError(f"{os.fspath(path)}: TensorRT could not deserialize the engine "
                               "(built for another GPU or TensorRT version?)")
        self._context = self._engine.create_execution_context()
        self._stream = _check(cudart.cudaStreamCreate(), "cudaStreamCreate")
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        is_input = {n: self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self._inputs = [n for n in names if is_input[n]]
        self._outputs = [n for n in names if not is_input[n]]
        self._buffers: dict[str, tuple[int, int]] = {}

    @property
    def metadata(self) -> Mapping[str, str]:
        return dict(self._metadata)

    @property
    def input_shapes(self) -> dict[str, tuple[int | str | None, ...]]:
        return {n: tuple(self._engine.get_tensor_shape(n)) for n in self._inputs}

    @property
    def output_names(self) -> list[str]:
        return list(self._outputs)

    def _device_buffer(self, name: str, nbytes: int) -> int:
        pointer, size = self._buffers.get(name, (0, 0))
        if size < nbytes:
            if pointer:
                _check(self._cudart.cudaFree(pointer), "cudaFree")
            pointer = int(_check(self._cudart.cudaMalloc(nbytes), "cudaMalloc"))
            self._buffers[name] = (pointer, nbytes)
        return pointer

    def run(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        cudart = self._cudart
        copy_in = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        copy_out = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        for name in self._inputs:
            array = np.ascontiguousarray(inputs[name], dtype=np.float32)
            self._context.set_input_shape(name, array.shape)
            pointer = self._device_buffer(name, array.nbytes)
            _check(cudart.cudaMemcpyAsync(pointer, array.ctypes.data, array.nbytes, copy_in,
                                          self._stream), "cudaMemcpyAsync")
            self._context.set_tensor_address(name, pointer)
        results = []
        for name in self._outputs:
            shape = tuple(self._context.get_tensor_shape(name))
            result = np.empty(shape, dtype=np.float32)
            pointer = self._device_buffer(name, max(result.nbytes, 4))
            self._context.set_tensor_address(name, pointer)
            results.append((name, result, pointer))
        if not self._context.execute_async_v3(self._stream):
            raise BackendError("TensorRT execution failed")
        for _, result, pointer in results:
            _check(cudart.cudaMemcpyAsync(result.ctypes.data, pointer, result.nbytes, copy_out,
                                          self._stream), "cudaMemcpyAsync")
        _check(cudart.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")
        return [result for _, result, _ in results]

    def close(self) -> None:
        for pointer, _ in self._buffers.values():
            self._cudart.cudaFree(pointer)
        self._buffers.clear()
