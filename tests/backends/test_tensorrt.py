"""The native TensorRT backend on fake ``tensorrt``/``cuda`` modules (see conftest.py).

The fake engine computes by running the ONNX model it was "built" from on the
CPU, so every result is checked against the real model; the fakes record the
TensorRT and CUDA calls the backend makes.
"""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest

import mer_edge as me
from mer_edge._backends._tensorrt import (EngineBuild, TensorRTSession, read_engine_file,
                                          write_engine_file)
from mer_edge._models import Model, default_model_path

SPOTTER = default_model_path("spotting")
RECOGNIZER = default_model_path("recognition")


def _clips(model_path, batch, seed=0):
    model = Model(model_path)  # the CPU reference
    shape = (batch, *model.info.input.shape[1:])
    clips = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    return model, clips


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_a_batch_above_the_profile_runs_in_pieces(fake_gpu, engine_of, tmp_path, batch):
    engine = Model(engine_of(RECOGNIZER, tmp_path / "r.engine"), backend="tensorrt")
    reference, clips = _clips(RECOGNIZER, batch)
    assert engine.provider == "TensorRT" and engine.session.max_batch == fake_gpu.max_batch == 2
    np.testing.assert_allclose(engine(clips), reference(clips), rtol=1e-5, atol=1e-6)
    shapes = [call[2][0] for call in fake_gpu.named("set_input_shape")]
    assert shapes == [min(2, batch - start) for start in range(0, batch, 2)]
    assert len(fake_gpu.named("execute_async_v3")) == len(shapes)


def test_the_max_batch_comes_from_the_engine_profile(install_gpu, engine_of, tmp_path):
    gpu = install_gpu(max_batch=16)
    session = TensorRTSession(engine_of(SPOTTER, tmp_path / "s.engine"))
    assert session.max_batch == 16
    assert gpu.named("get_tensor_profile_shape") == [("get_tensor_profile_shape", "clip", 0)]


def test_a_refused_input_shape_is_a_backend_error(fake_gpu, engine_of, tmp_path):
    session = TensorRTSession(engine_of(SPOTTER, tmp_path / "s.engine"))
    with pytest.raises(me.BackendError, match=r"refused input 'clip' of shape \(1, 1, 1, 16, 16\)"):
        session.run({"clip": np.zeros((1, 1, 1, 16, 16), np.float32)})
    assert not fake_gpu.named("execute_async_v3")


def test_no_execution_context_is_a_backend_error(install_gpu, engine_of, tmp_path):
    install_gpu(context_fails=True)
    with pytest.raises(me.BackendError, match="execution context"):
        TensorRTSession(engine_of(SPOTTER, tmp_path / "s.engine"))


def test_close_releases_everything_and_run_after_close_is_an_error(fake_gpu, engine_of, tmp_path):
    session = TensorRTSession(engine_of(SPOTTER, tmp_path / "s.engine"))
    _, clips = _clips(SPOTTER, 3)
    session.run({"clip": clips})
    assert fake_gpu.memory and fake_gpu.streams  # buffers and a stream in use
    session.close()
    session.close()  # idempotent
    assert fake_gpu.memory == {} and fake_gpu.streams == set()
    assert len(fake_gpu.named("cudaStreamDestroy")) == 1
    with pytest.raises(me.BackendError, match="closed"):
        session.run({"clip": clips})


def test_concurrent_runs_do_not_mix_their_buffers(install_gpu, engine_of, tmp_path):
    install_gpu(execute_delay_s=0.002)
    engine = Model(engine_of(RECOGNIZER, tmp_path / "r.engine"), backend="tensorrt")
    reference, _ = _clips(RECOGNIZER, 1)
    inputs = [_clips(RECOGNIZER, 2, seed)[1] for seed in range(4)]
    expected = [reference(clips) for clips in inputs]
    failures = []

    def work(index):
        for _ in range(5):
            if not np.allclose(engine(inputs[index]), expected[index], rtol=1e-5, atol=1e-6):
                failures.append(index)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_another_tensorrt_version_is_refused_before_deserializing(fake_gpu, engine_of, tmp_path):
    path = engine_of(SPOTTER, tmp_path / "s.engine", version="8.6.1", device="Orin")
    with pytest.raises(me.BackendError) as error:
        TensorRTSession(path)
    message = str(error.value)
    assert "built with TensorRT 8.6.1 on Orin" in message
    assert "this machine has TensorRT 10.0.1 on Fake GPU (compute capability 8.7)" in message
    assert "python -m mer_edge_export.tensorrt" in message
    assert not fake_gpu.named("deserialize_cuda_engine")


def test_an_engine_tensorrt_cannot_read_names_both_builds(fake_gpu, engine_of, tmp_path):
    path = tmp_path / "s.engine"
    header, _ = read_engine_file(engine_of(SPOTTER, path))
    write_engine_file(path, header, b"\xff\xfe not an engine")  # same header, unreadable engine
    with pytest.raises(me.BackendError, match="could not deserialize.*built with TensorRT 10.0.1 "
                                              "on Orin.*rebuild it here"):
        TensorRTSession(path)


def test_the_build_is_recorded_in_the_header(engine_of, tmp_path):
    header, _ = read_engine_file(engine_of(SPOTTER, tmp_path / "s.engine", max_batch=6))
    build = EngineBuild.from_header(header, source="s.engine")
    assert build == EngineBuild("10.0.1", "Orin", "8.7", (1, 1, 6), False)
    assert me.ModelInfo.from_metadata(header).task == "spotting"  # the model metadata is intact


def test_a_non_float32_engine_is_refused(install_gpu, engine_of, tmp_path):
    install_gpu(dtype="HALF")
    with pytest.raises(me.BackendError, match="'clip' is float16.*float32"):
        TensorRTSession(engine_of(SPOTTER, tmp_path / "s.engine"))


def test_older_cuda_python_layout_is_used(install_gpu, engine_of, tmp_path):
    gpu = install_gpu(cuda_layout="cudart")
    session = TensorRTSession(engine_of(SPOTTER, tmp_path / "s.engine"))
    _, clips = _clips(SPOTTER, 1)
    session.run({"clip": clips})
    assert gpu.named("cudaStreamSynchronize")


def test_missing_cuda_python_is_named(install_gpu, engine_of, tmp_path):
    install_gpu(cuda_layout="none")
    with pytest.raises(me.BackendError, match="'cuda-python'.*<13"):
        TensorRTSession(engine_of(SPOTTER, tmp_path / "s.engine"))


def test_cuda_errors_are_reported_by_name(install_gpu, engine_of, tmp_path):
    install_gpu(malloc_error=2)
    session = TensorRTSession(engine_of(SPOTTER, tmp_path / "s.engine"))
    _, clips = _clips(SPOTTER, 1)
    with pytest.raises(me.BackendError, match=r"cudaMalloc failed: cudaErrorMemoryAllocation \(2\)"):
        session.run({"clip": clips})


def test_mer_edge_run_on_tensorrt_engines_matches_the_onnx_models(install_gpu, engine_of, tmp_path,
                                                                  videos, capsys):
    from mer_edge.cli import main

    gpu = install_gpu(max_batch=1)  # the video has 2 faces: every spotting batch is split

    engines = tmp_path / "engines"
    engines.mkdir()
    engine_of(SPOTTER, engines / "spotter.engine")
    engine_of(RECOGNIZER, engines / "recognizer.engine")
    video = str(videos / "multi_face.avi")
    common = ["--max-frames", "40", "--max-faces", "4", "--quiet", "--no-progress"]
    assert main(["run", video, "--tracks", str(tmp_path / "cpu.jsonl"), *common]) == 0
    capsys.readouterr()
    assert main(["run", video, "--backend", "tensorrt", "--models", str(engines),
                 "--tracks", str(tmp_path / "trt.jsonl"), *common]) == 0
    out, err = capsys.readouterr()
    assert "run: spotting: TensorRT, recognition: TensorRT" in out and "warning" not in err
    assert (tmp_path / "trt.jsonl").read_text() == (tmp_path / "cpu.jsonl").read_text()
    batches = [call[2][0] for call in gpu.named("set_input_shape")]
    assert batches and max(batches) == 1
    scored = [row for row in map(json.loads, open(tmp_path / "trt.jsonl"))
              if row["score"] is not None]
    assert len(scored) > 40  # frames scored 2 faces at once: their batches were split
    assert len(batches) >= len(scored)  # one run per scored face (plus recognitions)
