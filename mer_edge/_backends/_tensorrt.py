"""Native TensorRT backend for Jetson and other NVIDIA devices.

An engine file is ``MERTRT01`` + a little-endian uint32 length + a JSON
header + the serialized TensorRT engine.  The header holds the model's
metadata (the same ``mer_edge.*`` entries as the ONNX file) and how the
engine was built (``tensorrt.*`` entries, see :class:`EngineBuild`): the
TensorRT version, the GPU, the batch profile and fp16.  Engines are built by
``python -m mer_edge_export.tensorrt`` on the target device: an engine is not
portable between GPUs or TensorRT versions, and the runtime says so, naming
both versions, before TensorRT refuses it.

Needs the ``tensorrt`` and ``cuda-python`` packages (``cuda-python`` 12.x
for CUDA 12: ``cuda.bindings.runtime`` from 12.6.1, ``cuda.cudart`` before);
without them, or without a GPU, opening an engine raises
:class:`~mer_edge.BackendError`.
"""
from __future__ import annotations

import json
import os
import struct
import threading
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .._errors import BackendError, ModelError
from ._base import InferenceSession, closed_error, run_in_batches

__all__ = ["TensorRTSession", "ENGINE_MAGIC", "BUILD_COMMAND", "EngineBuild",
           "write_engine_file", "read_engine_file", "import_cuda_runtime", "cuda_device"]

ENGINE_MAGIC = b"MERTRT01"
#: How to build an engine on this machine (the module is installed as ``mer_edge_export``).
BUILD_COMMAND = "python -m mer_edge_export.tensorrt MODEL.onnx --out MODEL.engine"
_BUILD_PREFIX = "tensorrt."


@dataclass(frozen=True)
class EngineBuild:
    """How an engine was built, kept in its header.

    Attributes:
        tensorrt_version: ``tensorrt.__version__`` of the builder.
        device: the GPU's name, ``""`` when it could not be read.
        compute_capability: ``"major.minor"``, ``""`` when unknown.
        batch: the faces axis profile ``(min, opt, max)``.
        fp16: built with fp16 kernels allowed.
    """

    tensorrt_version: str
    device: str = ""
    compute_capability: str = ""
    batch: tuple[int, int, int] = (1, 1, 1)
    fp16: bool = False

    def to_header(self) -> dict[str, str]:
        """``tensorrt.*`` header entries (JSON values, like the model metadata)."""
        return {_BUILD_PREFIX + "version": json.dumps(self.tensorrt_version),
                _BUILD_PREFIX + "device": json.dumps(self.device),
                _BUILD_PREFIX + "compute_capability": json.dumps(self.compute_capability),
                _BUILD_PREFIX + "batch": json.dumps(list(self.batch)),
                _BUILD_PREFIX + "fp16": json.dumps(self.fp16)}

    @classmethod
    def from_header(cls, header: Mapping[str, str], *, source: str) -> "EngineBuild | None":
        """The build entries of ``header``; ``None`` for an engine written without them."""
        if _BUILD_PREFIX + "version" not in header:
            return None
        try:
            values = {key: json.loads(header[_BUILD_PREFIX + key]) for key in
                      ("version", "device", "compute_capability", "batch", "fp16")
                      if _BUILD_PREFIX + key in header}
            return cls(tensorrt_version=str(values["version"]), device=values.get("device", ""),
                       compute_capability=values.get("compute_capability", ""),
                       batch=tuple(int(b) for b in values.get("batch", (1, 1, 1))),  # type: ignore[arg-type]
                       fp16=bool(values.get("fp16", False)))
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{source}: corrupt TensorRT build entries in the header: {exc}") from None

    def describe(self) -> str:
        """``"TensorRT 8.6.2 on Orin (compute capability 8.7)"``, as far as known."""
        where = f" on {self.device}" if self.device else ""
        if self.compute_capability:
            where += f" (compute capability {self.compute_capability})"
        return f"TensorRT {self.tensorrt_version}{where}"


def write_engine_file(path: str | os.PathLike, metadata: Mapping[str, str], engine: bytes,
                      build: EngineBuild | None = None) -> None:
    """Write a serialized engine with its header: the model metadata and ``build``."""
    entries = dict(metadata)
    if build is not None:
        entries.update(build.to_header())
    header = json.dumps(entries, sort_keys=True).encode("utf-8")
    with open(path, "wb") as handle:
        handle.write(ENGINE_MAGIC + struct.pack("<I", len(header)) + header + engine)


def read_engine_file(path: str | os.PathLike) -> tuple[dict[str, str], bytes]:
    """Read ``(header, serialized engine)``; raise :class:`ModelError` on a bad file.

    The header holds the model metadata and the ``tensorrt.*`` build entries
    (:meth:`EngineBuild.from_header`); no GPU is needed to read it.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelError(f"engine file not found: {path}")
    with open(path, "rb") as handle:
        blob = handle.read()
    if not blob.startswith(ENGINE_MAGIC) or len(blob) < len(ENGINE_MAGIC) + 4:
        raise ModelError(f"{path}: not a mer_edge TensorRT engine (missing {ENGINE_MAGIC!r} "
                         f"header); build it with `{BUILD_COMMAND}`")
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


def import_cuda_runtime() -> Any:
    """The CUDA runtime module of ``cuda-python``, new layout or old.

    ``cuda.bindings.runtime`` exists from cuda-python 12.6.1; older releases
    (the ones JetPack and TensorRT's samples pin) have ``cuda.cudart``.
    """
    try:
        from cuda.bindings import runtime  # type: ignore[import-not-found]
        return runtime
    except ImportError:
        pass
    try:
        from cuda import cudart  # type: ignore[import-not-found]
        return cudart
    except ImportError as exc:
        raise BackendError(
            "the tensorrt backend needs NVIDIA's 'cuda-python' package (neither "
            "cuda.bindings.runtime nor cuda.cudart imports: "
            f"{exc}); install the release of your CUDA: pip install 'cuda-python>=12,<13' "
            "for CUDA 12") from None


def _error_name(cudart: Any, error: Any) -> str:
    """``cudaErrorMemoryAllocation (2)``; the number alone when the name is not available."""
    try:
        status, name = cudart.cudaGetErrorName(error)
        if int(status) == 0:
            return f"{name.decode() if isinstance(name, bytes) else name} ({int(error)})"
    except Exception:  # the name is a courtesy: never hide the error behind it
        pass
    return f"error {int(error)}"


def _check(cudart: Any, result: tuple, what: str) -> Any:
    """The value of a cuda-python call ``(error, value...)``; raise on an error."""
    error = result[0]
    if int(error) != 0:
        raise BackendError(f"CUDA call {what} failed: {_error_name(cudart, error)}")
    return result[1] if len(result) > 1 else None


def cuda_device(cudart: Any, device: int = 0) -> tuple[str, str]:
    """``(name, "major.minor")`` of a GPU; ``("", "")`` when it cannot be read."""
    try:
        props = _check(cudart, cudart.cudaGetDeviceProperties(device), "cudaGetDeviceProperties")
        name = props.name
        name = name.split(b"\0", 1)[0].decode() if isinstance(name, bytes) else str(name)
        return name, f"{props.major}.{props.minor}"
    except Exception:  # only used to describe the device in messages and headers
        return "", ""


class TensorRTSession(InferenceSession):
    """Runs a mer_edge TensorRT engine file.

    Batches larger than the engine's profile (``max_batch``, read from the
    engine) run in several pieces.  ``run`` is thread-safe (one at a time);
    after :meth:`close` it raises :class:`BackendError`.

    Attributes:
        max_batch: the largest batch the engine takes at once.
        build: how the engine was built, ``None`` for an engine without that header.
    """

    provider = "TensorRT"

    def __init__(self, path: str | os.PathLike) -> None:
        self._path = os.fspath(path)
        self._metadata, serialized = read_engine_file(path)
        self.build = EngineBuild.from_header(self._metadata, source=self._path)
        trt, cudart = self._import_modules()
        self._trt, self._cudart = trt, cudart
        self._check_version()
        self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self._engine = self._runtime.deserialize_cuda_engine(serialized)
        if self._engine is None:
            raise BackendError(f"{self._path}: TensorRT could not deserialize the engine; "
                               f"{self._provenance()}: rebuild it here with `{BUILD_COMMAND}`")
        self._context = self._engine.create_execution_context()
        if self._context is None:
            raise BackendError(f"{self._path}: TensorRT could not create an execution context "
                               "(out of GPU memory?)")
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        is_input = {n: self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self._inputs = [n for n in names if is_input[n]]
        self._outputs = [n for n in names if not is_input[n]]
        self._check_dtypes(names)
        self._shapes = {n: tuple(self._engine.get_tensor_shape(n)) for n in self._inputs}
        self.max_batch = min(self._max_batch(name) for name in self._inputs)
        self._buffers: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._stream = _check(cudart, cudart.cudaStreamCreate(), "cudaStreamCreate")

    @staticmethod
    def _import_modules() -> tuple[Any, Any]:
        try:
            import tensorrt as trt  # type: ignore[import-not-found]
        except ImportError as exc:
            raise BackendError("the tensorrt backend needs NVIDIA's 'tensorrt' Python package "
                               "(JetPack's python3-libnvinfer, or pip install tensorrt on x86): "
                               f"{exc}") from None
        return trt, import_cuda_runtime()

    def _provenance(self) -> str:
        """``built with TensorRT X on GPU Y; this machine has TensorRT Z on GPU W``."""
        built = self.build.describe() if self.build else "an unknown TensorRT (no build header)"
        here = EngineBuild(str(getattr(self._trt, "__version__", "?")),
                           *cuda_device(self._cudart)).describe()
        return f"built with {built}; this machine has {here}"

    def _check_version(self) -> None:
        """Refuse an engine of another TensorRT version before TensorRT tries to read it."""
        version = str(getattr(self._trt, "__version__", ""))
        if self.build is not None and version and self.build.tensorrt_version != version:
            raise BackendError(f"{self._path}: {self._provenance()}: rebuild it here with "
                               f"`{BUILD_COMMAND}`")

    def _check_dtypes(self, names: list[str]) -> None:
        for name in names:
            dtype = np.dtype(self._trt.nptype(self._engine.get_tensor_dtype(name)))
            if dtype != np.float32:
                raise BackendError(f"{self._path}: engine tensor {name!r} is {dtype}, mer_edge "
                                   f"engines take and give float32; rebuild it with `{BUILD_COMMAND}`")

    def _max_batch(self, name: str) -> int:
        """The largest batch (axis 0) of input ``name``: its profile's maximum, or its fixed size."""
        fixed = int(self._engine.get_tensor_shape(name)[0])
        if fixed >= 0:
            return max(fixed, 1)
        _minimum, _optimum, maximum = self._engine.get_tensor_profile_shape(name, 0)
        return int(maximum[0])

    @property
    def metadata(self) -> Mapping[str, str]:
        return dict(self._metadata)

    @property
    def input_shapes(self) -> dict[str, tuple[int | str | None, ...]]:
        return dict(self._shapes)

    @property
    def output_names(self) -> list[str]:
        return list(self._outputs)

    def _device_buffer(self, name: str, nbytes: int) -> int:
        pointer, size = self._buffers.get(name, (0, 0))
        if size < nbytes:
            if pointer:
                self._buffers.pop(name)
                _check(self._cudart, self._cudart.cudaFree(pointer), "cudaFree")
            pointer = int(_check(self._cudart, self._cudart.cudaMalloc(nbytes), "cudaMalloc"))
            self._buffers[name] = (pointer, nbytes)
        return pointer

    def run(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        missing = [name for name in self._inputs if name not in inputs]
        if missing:
            raise BackendError(f"{self._path}: missing inputs {missing} (engine inputs: {self._inputs})")
        with self._lock:
            if self._closed:
                raise closed_error()
            arrays = {name: np.ascontiguousarray(inputs[name], dtype=np.float32)
                      for name in self._inputs}
            return run_in_batches(self._run_batch, arrays, self.max_batch)

    def _run_batch(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        cudart = self._cudart
        copy_in = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        copy_out = cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        for name in self._inputs:
            array = np.ascontiguousarray(inputs[name])  # already float32: kept alive in inputs
            if not self._context.set_input_shape(name, array.shape):
                raise BackendError(f"{self._path}: TensorRT refused input {name!r} of shape "
                                   f"{tuple(array.shape)}; the engine takes {self._shapes[name]} "
                                   f"with a batch of 1..{self.max_batch}")
            pointer = self._device_buffer(name, max(array.nbytes, 4))
            _check(cudart, cudart.cudaMemcpyAsync(pointer, array.ctypes.data, array.nbytes,
                                                  copy_in, self._stream), "cudaMemcpyAsync")
            self._context.set_tensor_address(name, pointer)
        results = []
        for name in self._outputs:
            shape = tuple(self._context.get_tensor_shape(name))
            if any(d < 0 for d in shape):
                raise BackendError(f"{self._path}: output {name!r} has unresolved shape {shape}")
            result = np.empty(shape, dtype=np.float32)
            pointer = self._device_buffer(name, max(result.nbytes, 4))
            self._context.set_tensor_address(name, pointer)
            results.append((result, pointer))
        if not self._context.execute_async_v3(self._stream):
            raise BackendError(f"{self._path}: TensorRT execution failed")
        for result, pointer in results:
            _check(cudart, cudart.cudaMemcpyAsync(result.ctypes.data, pointer, result.nbytes,
                                                  copy_out, self._stream), "cudaMemcpyAsync")
        _check(cudart, cudart.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")
        return [result for result, _ in results]

    def close(self) -> None:
        """Free the device buffers and the stream, drop the context and engine (idempotent).

        Waits for a ``run`` in progress.  Errors while freeing are not raised:
        there is nothing left to do about them.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for pointer, _ in self._buffers.values():
                self._cudart.cudaFree(pointer)
            self._buffers.clear()
            self._cudart.cudaStreamDestroy(self._stream)
            # The context before the engine before the runtime that made it.
            self._context = None
            self._engine = None
            self._runtime = None
