"""Fake ``tensorrt`` and ``cuda`` (cuda-python) modules for the native TensorRT backend on CPU.

The fakes follow the real Python APIs (TensorRT 8.6/10 ``ICudaEngine`` /
``IExecutionContext``; cuda-python's ``(error, value)`` tuples) and record
every call.  "Device memory" is host memory: ``cudaMemcpyAsync`` really copies
bytes, and an engine really computes, by running the ONNX model it was "built"
from on ONNX Runtime's CPU provider, so the backend's results can be checked
against the ONNX model.  The serialized "engine" is the ONNX file's bytes.
"""
from __future__ import annotations

import ctypes
import sys
import time
import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnxruntime
import pytest

MEMORY_ALLOCATION = 2  # cudaErrorMemoryAllocation


@dataclass
class FakeGpu:
    """What a test can set before opening an engine, and what the fakes recorded."""

    version: str = "10.0.1"
    max_batch: int = 2
    context_fails: bool = False
    dtype: str = "FLOAT"
    malloc_error: int = 0
    execute_delay_s: float = 0.0
    calls: list[tuple] = field(default_factory=list)
    memory: dict[int, np.ndarray] = field(default_factory=dict)
    streams: set[int] = field(default_factory=set)

    def named(self, name: str) -> list[tuple]:
        return [call for call in self.calls if call[0] == name]


class _Status(int):
    """A cudaError_t: an int enum in cuda-python."""


def _cudart(gpu: FakeGpu) -> types.ModuleType:
    module = types.ModuleType("runtime")
    module.cudaMemcpyKind = types.SimpleNamespace(cudaMemcpyHostToDevice=1, cudaMemcpyDeviceToHost=2)

    def ok(*values: Any) -> tuple:
        return (_Status(0), *values)

    def stream_create() -> tuple:
        gpu.calls.append(("cudaStreamCreate",))
        handle = 1000 + len(gpu.streams)
        gpu.streams.add(handle)
        return ok(handle)

    def stream_destroy(handle: int) -> tuple:
        gpu.calls.append(("cudaStreamDestroy", handle))
        gpu.streams.discard(handle)
        return ok()

    def malloc(nbytes: int) -> tuple:
        gpu.calls.append(("cudaMalloc", nbytes))
        if gpu.malloc_error:
            return (_Status(gpu.malloc_error), 0)
        buffer = np.zeros(nbytes, np.uint8)
        gpu.memory[buffer.ctypes.data] = buffer
        return ok(buffer.ctypes.data)

    def free(pointer: int) -> tuple:
        gpu.calls.append(("cudaFree", pointer))
        gpu.memory.pop(pointer)
        return ok()

    def memcpy(dst: int, src: int, nbytes: int, kind: int, stream: int) -> tuple:
        gpu.calls.append(("cudaMemcpyAsync", kind, nbytes))
        ctypes.memmove(dst, src, nbytes)
        return ok()

    def synchronize(stream: int) -> tuple:
        gpu.calls.append(("cudaStreamSynchronize", stream))
        return ok()

    def error_name(error: int) -> tuple:
        return ok({MEMORY_ALLOCATION: b"cudaErrorMemoryAllocation"}.get(int(error), b"cudaErrorUnknown"))

    def properties(device: int) -> tuple:
        return ok(types.SimpleNamespace(name=b"Fake GPU\0\0", major=8, minor=7))

    module.cudaStreamCreate = stream_create
    module.cudaStreamDestroy = stream_destroy
    module.cudaMalloc = malloc
    module.cudaFree = free
    module.cudaMemcpyAsync = memcpy
    module.cudaStreamSynchronize = synchronize
    module.cudaGetErrorName = error_name
    module.cudaGetDeviceProperties = properties
    return module


class _Engine:
    """An ICudaEngine "built" from an ONNX model: dynamic axis 0, profile 1..max_batch."""

    def __init__(self, gpu: FakeGpu, trt: Any, onnx_bytes: bytes) -> None:
        self.gpu, self.trt = gpu, trt
        self.session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
        self.shapes = {t.name: (-1, *t.shape[1:]) for t in
                       (*self.session.get_inputs(), *self.session.get_outputs())}
        self.inputs = [t.name for t in self.session.get_inputs()]
        self.num_io_tensors = len(self.shapes)

    def get_tensor_name(self, index: int) -> str:
        return list(self.shapes)[index]

    def get_tensor_mode(self, name: str) -> Any:
        modes = self.trt.TensorIOMode
        return modes.INPUT if name in self.inputs else modes.OUTPUT

    def get_tensor_shape(self, name: str) -> tuple:
        return self.shapes[name]

    def get_tensor_dtype(self, name: str) -> str:
        return self.gpu.dtype

    def get_tensor_profile_shape(self, name: str, profile: int) -> list[tuple]:
        self.gpu.calls.append(("get_tensor_profile_shape", name, profile))
        rest = self.shapes[name][1:]
        return [(1, *rest), (1, *rest), (self.gpu.max_batch, *rest)]

    def create_execution_context(self) -> "_Context | None":
        return None if self.gpu.context_fails else _Context(self)


class _Context:
    def __init__(self, engine: _Engine) -> None:
        self.engine = engine
        self.gpu = engine.gpu
        self.input_shapes: dict[str, tuple] = {}
        self.addresses: dict[str, int] = {}

    def set_input_shape(self, name: str, shape: tuple) -> bool:
        shape = tuple(shape)
        self.gpu.calls.append(("set_input_shape", name, shape))
        fits = (1 <= shape[0] <= self.gpu.max_batch
                and shape[1:] == self.engine.shapes[name][1:])
        if fits:
            self.input_shapes[name] = shape
        return fits

    def get_tensor_shape(self, name: str) -> tuple:
        batch = next(iter(self.input_shapes.values()))[0]
        return (batch, *self.engine.shapes[name][1:])

    def set_tensor_address(self, name: str, pointer: int) -> None:
        self.addresses[name] = pointer

    def execute_async_v3(self, stream: int) -> bool:
        self.gpu.calls.append(("execute_async_v3", stream))
        time.sleep(self.gpu.execute_delay_s)  # room for another thread to interfere
        feeds = {}
        for name, shape in self.input_shapes.items():
            count = int(np.prod(shape))
            raw = self.gpu.memory[self.addresses[name]][:count * 4]
            feeds[name] = raw.view(np.float32).reshape(shape).copy()
        outputs = self.engine.session.run(None, feeds)
        for meta, value in zip(self.engine.session.get_outputs(), outputs):
            data = np.ascontiguousarray(value, np.float32).view(np.uint8).reshape(-1)
            self.gpu.memory[self.addresses[meta.name]][:data.size] = data
        time.sleep(self.gpu.execute_delay_s)
        return True


def _tensorrt(gpu: FakeGpu) -> types.ModuleType:
    trt = types.ModuleType("tensorrt")
    trt.__version__ = gpu.version
    trt.TensorIOMode = types.SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT")
    trt.nptype = {"FLOAT": np.float32, "HALF": np.float16}.__getitem__

    class Logger:
        WARNING = "WARNING"

        def __init__(self, level: str) -> None:
            self.level = level

    class Runtime:
        def __init__(self, logger: Logger) -> None:
            self.logger = logger

        def deserialize_cuda_engine(self, blob: bytes) -> _Engine | None:
            gpu.calls.append(("deserialize_cuda_engine", len(blob)))
            try:
                return _Engine(gpu, trt, bytes(blob))
            except Exception:  # TensorRT returns None for a blob it cannot read
                return None

    trt.Logger = Logger
    trt.Runtime = Runtime
    return trt


def install_fakes(monkeypatch: pytest.MonkeyPatch, gpu: FakeGpu, *, cuda_layout: str = "bindings") -> None:
    """Put the fakes in ``sys.modules``: cuda-python's new layout, the old one, or none."""
    monkeypatch.setitem(sys.modules, "tensorrt", _tensorrt(gpu))
    cuda = types.ModuleType("cuda")
    cuda.__path__ = []  # a package
    runtime = _cudart(gpu)
    monkeypatch.setitem(sys.modules, "cuda", cuda)
    if cuda_layout == "bindings":  # cuda-python >= 12.6.1
        bindings = types.ModuleType("cuda.bindings")
        bindings.__path__ = []
        bindings.runtime = runtime
        monkeypatch.setitem(sys.modules, "cuda.bindings", bindings)
        monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", runtime)
    else:
        monkeypatch.setitem(sys.modules, "cuda.bindings", None)  # import fails
    if cuda_layout == "cudart":  # cuda-python < 12.6.1
        cuda.cudart = runtime
        monkeypatch.setitem(sys.modules, "cuda.cudart", runtime)
    elif cuda_layout == "none":
        monkeypatch.setitem(sys.modules, "cuda", None)


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> FakeGpu:
    """Fake TensorRT 10.0.1 and cuda-python (new layout) in ``sys.modules``; returns the recorder."""
    gpu = FakeGpu()
    install_fakes(monkeypatch, gpu)
    return gpu


@pytest.fixture
def install_gpu(monkeypatch: pytest.MonkeyPatch):
    """``install_gpu(layout="bindings", **settings) -> FakeGpu``: fakes with other settings."""
    def install(cuda_layout: str = "bindings", **settings: Any) -> FakeGpu:
        gpu = FakeGpu(**settings)
        install_fakes(monkeypatch, gpu, cuda_layout=cuda_layout)
        return gpu
    return install


@pytest.fixture
def engine_of():
    """``engine_of(onnx_path, out_path, version=..., device=...) -> out_path``: a fake engine file.

    The header is what ``export.tensorrt`` writes (the ONNX file's metadata and
    an :class:`EngineBuild`); the "serialized engine" is the ONNX file itself.
    """
    import onnx

    from mer_edge._backends._tensorrt import EngineBuild, write_engine_file

    def write(onnx_path, out_path, *, version: str = "10.0.1", device: str = "Orin",
              max_batch: int = 2):
        model = onnx.load(str(onnx_path))
        metadata = {p.key: p.value for p in model.metadata_props}
        build = EngineBuild(tensorrt_version=version, device=device, compute_capability="8.7",
                            batch=(1, 1, max_batch), fp16=False)
        write_engine_file(out_path, metadata, model.SerializeToString(), build)
        return out_path
    return write
