"""The ONNX Runtime TensorRT provider's options, built for real shipped models (no GPU needed)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import onnxruntime
import pytest

import mer_edge as me
from mer_edge._backends import DEFAULT_MAX_BATCH
from mer_edge._backends._onnxruntime import (TELEMETRY_ENVS, TRT_CACHE_ENV, OnnxRuntimeSession,
                                             tensorrt_provider_options, trt_cache_dir)
from mer_edge._models import MODELS_DIR, Model, default_model_path


@pytest.mark.parametrize("path", sorted(MODELS_DIR.glob("*.onnx")), ids=lambda p: p.name)
def test_the_profile_covers_the_model_input_for_every_batch_up_to_max(path, tmp_path):
    spec = Model(path).info.input
    options = tensorrt_provider_options(path, max_batch=6, cache_dir=tmp_path)
    clip = f"{spec.frames}x{len(spec.channels)}x{spec.size}x{spec.size}"
    assert options == {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(tmp_path),
                       "trt_profile_min_shapes": f"{spec.name}:1x{clip}",
                       "trt_profile_opt_shapes": f"{spec.name}:1x{clip}",
                       "trt_profile_max_shapes": f"{spec.name}:6x{clip}",
                       "trt_fp16_enable": False}


def test_the_cache_folder_default_and_overrides(monkeypatch, tmp_path):
    monkeypatch.delenv(TRT_CACHE_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert trt_cache_dir() == tmp_path / "home" / ".cache" / "mer_edge" / "trt"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert trt_cache_dir() == tmp_path / "xdg" / "mer_edge" / "trt"
    monkeypatch.setenv(TRT_CACHE_ENV, str(tmp_path / "mine"))
    assert trt_cache_dir() == tmp_path / "mine"


def test_a_file_without_metadata_gets_no_guessed_profile(tmp_path):
    path = tmp_path / "plain.onnx"
    path.write_bytes(b"not onnx")
    with pytest.raises(me.ModelError, match="plain.onnx"):
        tensorrt_provider_options(path)


class _RecordingOrt:
    """Stands in for ``onnxruntime.InferenceSession``: records the providers, runs on the CPU,
    and reports the first provider it was given (as ONNX Runtime does when it is usable)."""

    sessions: list["_RecordingOrt"] = []

    def __init__(self, path, sess_options=None, providers=()):
        self.providers = list(providers)
        self.batches: list[int] = []
        self._cpu = _REAL_SESSION(path, sess_options=sess_options, providers=["CPUExecutionProvider"])
        _RecordingOrt.sessions.append(self)

    def get_providers(self):
        return [p[0] if isinstance(p, tuple) else p for p in self.providers]

    def run(self, names, feeds):
        self.batches.append(len(next(iter(feeds.values()))))
        return self._cpu.run(names, feeds)

    def __getattr__(self, name):
        return getattr(self._cpu, name)


_REAL_SESSION = onnxruntime.InferenceSession


def test_the_session_gets_the_options_and_runs_larger_batches_in_pieces(monkeypatch, tmp_path):
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [
        "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(onnxruntime, "InferenceSession", _RecordingOrt)
    monkeypatch.setenv(TRT_CACHE_ENV, str(tmp_path / "cache"))
    path = default_model_path("recognition")
    model = Model(path, backend="onnxruntime-tensorrt", max_batch=3)
    recorded = _RecordingOrt.sessions[-1]
    assert model.provider == "TensorrtExecutionProvider"
    assert recorded.providers == [
        ("TensorrtExecutionProvider", tensorrt_provider_options(path, max_batch=3,
                                                                cache_dir=tmp_path / "cache")),
        "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert (tmp_path / "cache").is_dir()
    clips = np.random.default_rng(0).normal(size=(7, *model.info.input.shape[1:])).astype(np.float32)
    np.testing.assert_allclose(model(clips), Model(path)(clips), rtol=1e-6)
    assert recorded.batches == [3, 3, 1]


def test_without_a_max_batch_the_profile_has_the_default(monkeypatch, tmp_path):
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [
        "TensorrtExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(onnxruntime, "InferenceSession", _RecordingOrt)
    OnnxRuntimeSession(default_model_path("spotting"), device="tensorrt", trt_cache=tmp_path)
    options = _RecordingOrt.sessions[-1].providers[0][1]
    assert options["trt_profile_max_shapes"].startswith(f"clip:{DEFAULT_MAX_BATCH}x")


def test_a_cpu_fallback_makes_no_cache_folder(monkeypatch, tmp_path):
    if "TensorrtExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("the TensorRT provider is present here")
    monkeypatch.setenv(TRT_CACHE_ENV, str(tmp_path / "cache"))
    model = Model(default_model_path("spotting"), backend="onnxruntime-tensorrt",
                  allow_fallback=True)
    assert model.provider == "CPUExecutionProvider" and not (tmp_path / "cache").exists()
    model.close()
    with pytest.raises(me.BackendError, match="closed"):
        model(np.zeros((1, *model.info.input.shape[1:]), np.float32))


def _session_in_a_fresh_process(home, settings: dict[str, str]) -> list[str]:
    """Opens a shipped model with mer_edge in a new interpreter whose home is ``home``, with
    the telemetry variables ``settings`` set; returns each of them as that process ended."""
    env = {k: v for k, v in os.environ.items() if k not in (*TELEMETRY_ENVS, "XDG_CACHE_HOME")}
    env["HOME"] = str(home)
    env.update(settings)
    code = ("import os, mer_edge\n"
            "from mer_edge._models import Model, default_model_path\n"
            "Model(default_model_path('spotting'))\n"
            f"print(*(os.environ.get(name, 'unset') for name in {TELEMETRY_ENVS!r}))\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_onnx_runtime_telemetry_is_off_unless_the_user_chose(tmp_path):
    # ONNX Runtime's Linux builds upload usage telemetry and keep a device id under
    # ~/.cache/Microsoft unless its switch is set before it is imported.
    settings = _session_in_a_fresh_process(tmp_path / "home", {})
    assert (settings, [p.name for p in (tmp_path / "home").rglob("*")
                       if "onnxruntime" in p.name.lower() or p.name == "deviceid"]) == (["1", "1"], [])
    old_name, new_name = TELEMETRY_ENVS
    assert _session_in_a_fresh_process(tmp_path / "mine", {old_name: "0"}) == ["0", "unset"]
    assert _session_in_a_fresh_process(tmp_path / "new", {new_name: "0"}) == ["unset", "0"]
