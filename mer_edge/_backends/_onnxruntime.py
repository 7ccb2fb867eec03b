"""ONNX Runtime backend (CPU, CUDA and TensorRT execution providers)."""
from __future__ import annotations

import os
from typing import Mapping

import numpy as np

from .._errors import BackendError, ModelError
from ._base import InferenceSession

__all__ = ["OnnxRuntimeSession", "PROVIDERS"]

#: Device name -> ONNX Runtime provider list, most preferred first.
PROVIDERS: dict[str, list[str]] = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


class OnnxRuntimeSession(InferenceSession):
    """An ``onnxruntime.InferenceSession`` behind the backend interface.

    Args:
        path: the ``.onnx`` file.
        device: ``"cpu"``, ``"cuda"`` or ``"tensorrt"``.
        allow_fallback: if False (default) and the requested provider is not
            the one ONNX Runtime actually uses, raise :class:`BackendError`.
        threads: intra-op threads; 1 keeps per-face latency low and leaves the
            other core to the face front-end.
        session: an already built ``onnxruntime.InferenceSession`` (tests inject one).
    """

    def __init__(self, path: str | os.PathLike, *, device: str = "cpu", allow_fallback: bool = False,
                 threads: int = 1, session: object | None = None) -> None:
        if device not in PROVIDERS:
            raise BackendError(f"unknown device {device!r}; valid: {sorted(PROVIDERS)}")
        if session is None:
            session = self._open(os.fspath(path), PROVIDERS[device], threads)
        self._session = session
        active = list(session.get_providers())  # type: ignore[attr-defined]
        wanted = PROVIDERS[device][0]
        self.provider = active[0] if active else "none"
        if self.provider != wanted and not allow_fallback:
            raise BackendError(f"requested {wanted} but ONNX Runtime runs {self.provider} "
                               f"(available: {self._available()}); to accept the fallback pass "
                               "allow_fallback=True (mer-edge run: --allow-fallback)")

    @staticmethod
    def _available() -> list[str]:
        import onnxruntime

        return list(onnxruntime.get_available_providers())

    @classmethod
    def _open(cls, path: str, providers: list[str], threads: int) -> object:
        try:
            import onnxruntime
        except ImportError as exc:  # pragma: no cover - a dependency
            raise BackendError(f"onnxruntime is not installed: {exc}") from None
        if not os.path.isfile(path):
            raise ModelError(f"model file not found: {path}")
        available = set(onnxruntime.get_available_providers())
        usable = [p for p in providers if p in available]
        if providers[0] not in available:
            # Keep going so the caller decides (fallback or error) with a clear message.
            usable = usable or ["CPUExecutionProvider"]
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            return onnxruntime.InferenceSession(path, sess_options=options, providers=usable)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"{path}: ONNX Runtime cannot load it: {exc}") from None

    @property
    def metadata(self) -> Mapping[str, str]:
        return dict(self._session.get_modelmeta().custom_metadata_map)  # type: ignore[attr-defined]

    @property
    def input_shapes(self) -> dict[str, tuple[int | str | None, ...]]:
        return {i.name: tuple(i.shape) for i in self._session.get_inputs()}  # type: ignore[attr-defined]

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self._session.get_outputs()]  # type: ignore[attr-defined]

    def run(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        try:
            return list(self._session.run(None, dict(inputs)))  # type: ignore[attr-defined]
        except Exception as exc:
            raise BackendError(f"inference failed on {self.provider}: {exc}") from None

    def close(self) -> None:
        self._session = _ClosedSession()


class _ClosedSession:
    def __getattr__(self, name: str) -> object:
        raise BackendError("the inference session is closed")
