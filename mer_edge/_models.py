"""Loading mer_edge models: metadata checked against the graph, then run.

A :class:`Model` pairs an inference session (any backend) with the
:class:`~mer_edge.ModelInfo` read from the file.  The shipped defaults live
in ``mer_edge/models/`` inside the package: no download, ever.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._backends import InferenceSession, create_session
from ._backends._tensorrt import read_engine_file
from ._errors import ModelError
from ._modelmeta import ModelInfo

__all__ = ["Model", "MODELS_DIR", "shipped_models", "default_model_path", "model_file_info",
           "model_suffix"]

#: Folder of the models shipped inside the package.
MODELS_DIR = Path(__file__).resolve().parent / "models"
#: Task -> file name of the default model of that task.
_DEFAULTS = {"spotting": "flowmag_spotter.onnx", "recognition": "facs_linear_recognizer.onnx"}


class Model:
    """A model file opened with a backend and checked against its metadata.

    Args:
        path: ``.onnx`` file (or a TensorRT engine with the ``tensorrt`` backend).
        backend: backend name, see :data:`mer_edge._backends.BACKENDS`.
        expected_task: refuse the file unless its metadata says this task.
        allow_fallback: let a GPU backend fall back to CPU (reported in
            :attr:`provider`); by default a missing GPU is an error.
        session: inject a ready :class:`InferenceSession` (tests, custom runtimes).
        max_batch: the most faces run at once (the engine's ``max_faces``):
            the batch range an ``onnxruntime-tensorrt`` engine is built for.
    """

    def __init__(self, path: str | os.PathLike, *, backend: str = "onnxruntime",
                 expected_task: str | None = None, allow_fallback: bool = False,
                 session: InferenceSession | None = None, max_batch: int | None = None) -> None:
        self.path = Path(path)
        self.session = session if session is not None else create_session(
            os.fspath(path), backend, allow_fallback=allow_fallback, max_batch=max_batch)
        try:
            self._check(expected_task)
        except BaseException:
            if session is None:  # opened here for a refused file; an injected one is the caller's
                self.session.close()
            raise

    def _check(self, expected_task: str | None) -> None:
        """Reads :attr:`info` from the session's metadata and checks the file against it."""
        self.info = ModelInfo.from_metadata(self.session.metadata, source=str(self.path))
        if expected_task is not None and self.info.task != expected_task:
            raise ModelError(f"{self.path}: is a {self.info.task} model, expected {expected_task}")
        self._check_graph()

    @property
    def provider(self) -> str:
        """The execution provider that really runs this model."""
        return self.session.provider

    def _check_graph(self) -> None:
        shapes = self.session.input_shapes
        spec = self.info.input
        if spec.name not in shapes:
            raise ModelError(f"{self.path}: metadata input {spec.name!r} is not a graph input "
                             f"(graph inputs: {sorted(shapes)})")
        declared = shapes[spec.name]
        expected = spec.shape
        if len(declared) != len(expected):
            raise ModelError(f"{self.path}: input {spec.name!r} has rank {len(declared)} in the "
                             f"graph, metadata says shape {list(expected)}")
        for axis, (got, want) in enumerate(zip(declared, expected)):
            if axis == 0 or not isinstance(got, int):
                continue
            if got != want:
                raise ModelError(f"{self.path}: input {spec.name!r} axis {axis} is {got} in the "
                                 f"graph, metadata says {want}")
        if self.info.output_name not in self.session.output_names:
            raise ModelError(f"{self.path}: metadata output {self.info.output_name!r} is not a "
                             f"graph output ({self.session.output_names})")

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Run on ``(B, T, C, H, W) float32``; returns the ``output`` tensor."""
        expected = self.info.input.shape[1:]
        if batch.ndim != 5 or batch.shape[1:] != expected:
            raise ModelError(f"{self.info.name}: expected input (B, {', '.join(map(str, expected))}),"
                             f" got {batch.shape}")
        outputs = self.session.run({self.info.input.name: np.ascontiguousarray(batch, np.float32)})
        return outputs[self.session.output_names.index(self.info.output_name)]

    def close(self) -> None:
        self.session.close()


#: Suffix of the model files of the native ``tensorrt`` backend (ONNX files otherwise).
ENGINE_SUFFIX = ".engine"


def model_suffix(backend: str) -> str:
    """The suffix of the model files ``backend`` opens: ``.engine`` or ``.onnx``."""
    return ENGINE_SUFFIX if backend == "tensorrt" else ".onnx"


def model_file_info(path: str | os.PathLike) -> ModelInfo:
    """What a model file says about itself, on any machine.

    A TensorRT engine (``.engine``) is described by its header, read without
    a GPU; an ONNX file is opened on the CPU and checked against its graph.
    """
    if Path(path).suffix == ENGINE_SUFFIX:
        metadata, _engine = read_engine_file(path)
        return ModelInfo.from_metadata(metadata, source=os.fspath(path))
    model = Model(path)
    try:
        return model.info
    finally:
        model.close()


def default_model_path(task: str) -> Path:
    """Path of the shipped default model for ``task``."""
    try:
        path = MODELS_DIR / _DEFAULTS[task]
    except KeyError:
        raise ModelError(f"unknown task {task!r}; valid: {sorted(_DEFAULTS)}") from None
    if not path.is_file():
        raise ModelError(f"the package is missing its default {task} model {path}; reinstall mer_edge")
    return path


def shipped_models() -> list[dict[str, object]]:
    """Summaries of every model shipped in the package (``mer-edge models``)."""
    result = []
    for path in sorted(MODELS_DIR.glob("*.onnx")):
        model = Model(path)
        summary: dict[str, object] = {"file": path.name, **model.info.to_summary()}
        summary["default"] = path.name in _DEFAULTS.values()
        result.append(summary)
        model.close()
    return result
