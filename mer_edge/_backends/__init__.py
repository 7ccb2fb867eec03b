"""Inference backends: one small interface, one module per runtime.

Choose one by name with :func:`create_session`.  Backends never fall back
silently: a CUDA or TensorRT request that cannot be honoured raises
:class:`~mer_edge.BackendError` unless the caller passed
``allow_fallback=True``, and every session reports which provider ran.
"""
from __future__ import annotations

from typing import Callable

from .._errors import BackendError
from ._base import DEFAULT_MAX_BATCH, InferenceSession
from ._onnxruntime import PROVIDERS, OnnxRuntimeSession
from ._tensorrt import TensorRTSession

__all__ = ["InferenceSession", "BACKENDS", "DEFAULT_BACKEND", "DEFAULT_MAX_BATCH",
           "create_session", "requested_provider"]

#: The CPU backend every model runs on without a GPU.
DEFAULT_BACKEND = "onnxruntime"


def _onnxruntime(device: str) -> Callable[..., InferenceSession]:
    def factory(path: str, allow_fallback: bool = False,
                max_batch: int | None = None) -> InferenceSession:
        return OnnxRuntimeSession(path, device=device, allow_fallback=allow_fallback,
                                  max_batch=max_batch)
    return factory


def _tensorrt(path: str, allow_fallback: bool = False, max_batch: int | None = None) -> InferenceSession:
    # The engine's own profile sets its batch (larger ones run in pieces); no fallback exists.
    return TensorRTSession(path)


#: Backend name -> factory ``(model_path, allow_fallback, max_batch) -> InferenceSession``.
BACKENDS: dict[str, Callable[..., InferenceSession]] = {
    DEFAULT_BACKEND: _onnxruntime("cpu"),
    "onnxruntime-cuda": _onnxruntime("cuda"),
    "onnxruntime-tensorrt": _onnxruntime("tensorrt"),
    "tensorrt": _tensorrt,
}
#: Backend name -> the provider a session of it reports when it runs where asked.
_REQUESTED = {DEFAULT_BACKEND: PROVIDERS["cpu"][0], "onnxruntime-cuda": PROVIDERS["cuda"][0],
              "onnxruntime-tensorrt": PROVIDERS["tensorrt"][0],
              "tensorrt": TensorRTSession.provider}


def _factory(backend: str) -> Callable[..., InferenceSession]:
    try:
        return BACKENDS[backend]
    except KeyError:
        raise BackendError(f"unknown backend {backend!r}; valid: {sorted(BACKENDS)}") from None


def create_session(path: str, backend: str = DEFAULT_BACKEND, *, allow_fallback: bool = False,
                   max_batch: int | None = None) -> InferenceSession:
    """Open ``path`` with the named backend (see :data:`BACKENDS`).

    ``max_batch``: the most items (faces) run at once, for backends that
    build an engine for a batch range (``onnxruntime-tensorrt``; default
    :data:`DEFAULT_MAX_BATCH`); larger batches still run, in pieces.
    """
    return _factory(backend)(path, allow_fallback=allow_fallback, max_batch=max_batch)


def requested_provider(backend: str) -> str | None:
    """The provider ``backend`` runs on when nothing falls back (compare with ``session.provider``).

    None for a backend registered in :data:`BACKENDS` without a known provider.
    """
    _factory(backend)
    return _REQUESTED.get(backend)
