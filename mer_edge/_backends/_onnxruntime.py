"""ONNX Runtime backend (CPU, CUDA and TensorRT execution providers).

The TensorRT execution provider builds a TensorRT engine when the session
opens, which takes long on a Jetson.  It is given an explicit profile for
the model's input (batch ``1..max_batch`` of the ``T, C, S, S`` clip its
metadata names), so one engine serves every number of faces, and it caches
that engine on disk (:func:`trt_cache_dir`), so the next start reuses it.

ONNX Runtime's own usage telemetry (uploaded to Microsoft by its Linux builds
from 1.2x on, with a device id kept in ``~/.cache/Microsoft``) is switched off
when mer_edge is imported, unless the user set one of :data:`TELEMETRY_ENVS`:
the engine sees faces and promises to run offline.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .._errors import BackendError, ModelError
from ._base import DEFAULT_MAX_BATCH, InferenceSession, closed_error, run_in_batches

__all__ = ["OnnxRuntimeSession", "PROVIDERS", "TELEMETRY_ENVS", "TRT_CACHE_ENV", "trt_cache_dir",
           "tensorrt_provider_options"]

#: Device name -> ONNX Runtime provider list, most preferred first.
PROVIDERS: dict[str, list[str]] = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}
#: Environment variable naming the TensorRT engine cache folder (overrides the default).
TRT_CACHE_ENV = "MER_EDGE_TRT_CACHE"
#: ONNX Runtime's telemetry switches, read once, when ``onnxruntime`` is imported: the name
#: its 1.29-1.31 releases read (their Privacy.md), then the one upstream reads since mid-2026.
TELEMETRY_ENVS = ("ORT_DISABLE_TELEMETRY", "ORT_TELEMETRY_DISABLED")


def disable_onnxruntime_telemetry() -> None:
    """Sets every :data:`TELEMETRY_ENVS` name to ``1`` unless the user set one of them.

    A user who set either (to any value) made the choice; neither is touched then.
    Runs when this module is imported (``import mer_edge`` does), before
    ``onnxruntime`` is: setting it later has no effect on the upload.
    """
    if not any(name in os.environ for name in TELEMETRY_ENVS):
        for name in TELEMETRY_ENVS:
            os.environ[name] = "1"


disable_onnxruntime_telemetry()


def trt_cache_dir() -> Path:
    """Where the TensorRT execution provider caches its engines.

    ``$MER_EDGE_TRT_CACHE`` when set, else ``$XDG_CACHE_HOME/mer_edge/trt``,
    else ``~/.cache/mer_edge/trt``.
    """
    if os.environ.get(TRT_CACHE_ENV):
        return Path(os.environ[TRT_CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "mer_edge" / "trt"


def tensorrt_provider_options(path: str | os.PathLike, *, max_batch: int = DEFAULT_MAX_BATCH,
                              cache_dir: str | os.PathLike | None = None,
                              fp16: bool = False) -> dict[str, object]:
    """The TensorRT execution provider options for the mer_edge model at ``path``.

    The profile covers the model's input (name and ``T, C, S, S`` from its
    metadata) with a batch of 1 to ``max_batch``; the engine is cached in
    ``cache_dir`` (default :func:`trt_cache_dir`).

    Raises:
        ModelError: the file is missing or has no mer_edge metadata.
    """
    from .._modelmeta import ModelInfo

    if max_batch < 1:
        raise BackendError(f"max_batch must be >= 1, got {max_batch}")
    spec = ModelInfo.from_metadata(_onnx_metadata(os.fspath(path)), source=os.fspath(path)).input
    clip = "x".join(str(d) for d in spec.shape[1:])

    def profile(batch: int) -> str:
        return f"{spec.name}:{batch}x{clip}"

    return {"trt_engine_cache_enable": True,
            "trt_engine_cache_path": os.fspath(cache_dir if cache_dir is not None else trt_cache_dir()),
            "trt_profile_min_shapes": profile(1),
            "trt_profile_opt_shapes": profile(1),
            "trt_profile_max_shapes": profile(max_batch),
            "trt_fp16_enable": fp16}


def _onnx_metadata(path: str) -> dict[str, str]:
    import onnx

    if not os.path.isfile(path):
        raise ModelError(f"model file not found: {path}")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise ModelError(f"{path}: not a readable ONNX file: {exc}") from None
    return {p.key: p.value for p in model.metadata_props}


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
        max_batch: ``"tensorrt"`` only: the most faces run at once (the
            engine's profile; larger batches run in pieces).
        trt_cache: ``"tensorrt"`` only: the engine cache folder (default
            :func:`trt_cache_dir`).
        trt_fp16: ``"tensorrt"`` only: let TensorRT use fp16 kernels.
    """

    def __init__(self, path: str | os.PathLike, *, device: str = "cpu", allow_fallback: bool = False,
                 threads: int = 1, session: object | None = None,
                 max_batch: int | None = None, trt_cache: str | os.PathLike | None = None,
                 trt_fp16: bool = False) -> None:
        if device not in PROVIDERS:
            raise BackendError(f"unknown device {device!r}; valid: {sorted(PROVIDERS)}")
        self._max_batch = (max_batch or DEFAULT_MAX_BATCH) if device == "tensorrt" else None
        if session is None:
            providers = self._providers(device, path, trt_cache, trt_fp16)
            session = self._open(os.fspath(path), providers, threads)
        self._session = session
        active = list(session.get_providers())  # type: ignore[attr-defined]
        wanted = PROVIDERS[device][0]
        self.provider = active[0] if active else "none"
        if self.provider != wanted and not allow_fallback:
            raise BackendError(f"requested {wanted} but ONNX Runtime runs {self.provider} "
                               f"(available: {self._available()}); to accept the fallback pass "
                               "allow_fallback=True (mer-edge run, eval: --allow-fallback)")

    def _providers(self, device: str, path: str | os.PathLike, trt_cache: str | os.PathLike | None,
                   trt_fp16: bool) -> list[object]:
        """The provider list of ``device``; the TensorRT one with its options when available."""
        providers: list[object] = list(PROVIDERS[device])
        if device == "tensorrt" and PROVIDERS[device][0] in self._available():
            providers[0] = (PROVIDERS[device][0], self._tensorrt_options(path, trt_cache, trt_fp16))
        return providers

    def _tensorrt_options(self, path: str | os.PathLike, cache: str | os.PathLike | None,
                          fp16: bool) -> dict[str, object]:
        options = tensorrt_provider_options(path, max_batch=self._max_batch or DEFAULT_MAX_BATCH,
                                            cache_dir=cache, fp16=fp16)
        folder = Path(str(options["trt_engine_cache_path"]))
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(f"cannot create the TensorRT engine cache {folder} ({exc.strerror}); "
                               f"set {TRT_CACHE_ENV} to a writable folder") from None
        return options

    @staticmethod
    def _available() -> list[str]:
        return list(_onnxruntime().get_available_providers())

    @classmethod
    def _open(cls, path: str, providers: list[object], threads: int) -> object:
        """A session on the ``providers`` (names, or ``(name, options)``) that are available."""
        onnxruntime = _onnxruntime()
        if not os.path.isfile(path):
            raise ModelError(f"model file not found: {path}")
        available = set(onnxruntime.get_available_providers())
        usable = [p for p in providers if _name(p) in available]
        if not usable:
            # Keep going so the caller decides (fallback or error) with a clear message.
            usable = ["CPUExecutionProvider"]
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
        if isinstance(self._session, _ClosedSession):
            raise closed_error()
        return run_in_batches(self._run_once, inputs, self._max_batch)

    def _run_once(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        try:
            return list(self._session.run(None, dict(inputs)))  # type: ignore[attr-defined]
        except Exception as exc:
            raise BackendError(f"inference failed on {self.provider}: {exc}") from None

    def close(self) -> None:
        self._session = _ClosedSession()


def _onnxruntime() -> Any:
    """The ``onnxruntime`` module (CPU or GPU build); a clear error when neither is installed."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendError(f"ONNX Runtime is not installed ({exc}): bash scripts/install.sh "
                           "installs it (--gpu: onnxruntime-gpu)") from None
    return onnxruntime


def _name(provider: object) -> str:
    """The provider name of a ``providers`` entry (a name or ``(name, options)``)."""
    return provider[0] if isinstance(provider, tuple) else str(provider)


class _ClosedSession:
    def __getattr__(self, name: str) -> object:
        raise closed_error()
