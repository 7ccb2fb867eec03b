"""Inference backends: one small interface, one module per runtime.

Choose one by name with :func:`create_session`.  Backends never fall back
silently: a CUDA or TensorRT request that cannot be honoured raises
:class:`~mer_edge.BackendError` unless the caller passed
``allow_fallback=True``, and every session reports which provider ran.
"""
from __future__ import annotations

from typing import Callable

from .._errors import BackendError
from ._base import InferenceSession
from ._onnxruntime import OnnxRuntimeSession
from ._tensorrt import TensorRTSession

__all__ = ["InferenceSession", "BACKENDS", "create_session"]

#: Backend name -> factory ``(model_path, allow_fallback) -> InferenceSession``.
BACKENDS: dict[str, Callable[..., InferenceSession]] = {
    "onnxruntime": lambda path, allow_fallback=False: OnnxRuntimeSession(path, device="cpu"),
    "onnxruntime-cuda": lambda path, allow_fallback=False: OnnxRuntimeSession(
        path, device="cuda", allow_fallback=allow_fallback),
    "onnxruntime-tensorrt": lambda path, allow_fallback=False: OnnxRuntimeSession(
        path, device="tensorrt", allow_fallback=allow_fallback),
    "tensorrt": lambda path, allow_fallback=False: TensorRTSession(path),
}


def create_session(path: str, backend: str = "onnxruntime", *,
                   allow_fallback: bool = False) -> InferenceSession:
    """Open ``path`` with the named backend (see :data:`BACKENDS`)."""
    try:
        factory = BACKENDS[backend]
    except KeyError:
        raise BackendError(f"unknown backend {backend!r}; valid: {sorted(BACKENDS)}") from None
    return factory(path, allow_fallback=allow_fallback)
