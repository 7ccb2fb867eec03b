"""The command line on GPU backends: the provider report, fallback, TensorRT engine files.

These run on the CPU: ONNX Runtime falls back to it (allowed), and engine
headers are read without TensorRT.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mer_edge.cli import main
def test_a_gpu_backend_fallback_names_the_provider_each_model_ran_on(videos, capsys):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("CUDA is available here: nothing falls back")
    assert main(["run", str(videos / "lp_d0.mp4"), "--backend", "onnxruntime-cuda", "--allow-fallback",
                 "--max-frames", "3", "--quiet", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert "run: spotting: CPUExecutionProvider, recognition: CPUExecutionProvider" in out
    assert ("run: warning: --backend onnxruntime-cuda asked for CUDAExecutionProvider; fell back "
            "to CPUExecutionProvider (spotting, recognition)") in err
    assert main(["run", str(videos / "lp_d0.mp4"), "--max-frames", "3", "--quiet", "--no-progress"]) == 0
    assert "ExecutionProvider" not in "".join(capsys.readouterr())  # the CPU default says nothing


def _engine_files(folder: Path) -> list[Path]:
    """The default models as TensorRT engine files (header only is read: no GPU needed)."""
    import onnx

    from mer_edge._backends._tensorrt import EngineBuild, write_engine_file
    from mer_edge._models import default_model_path

    folder.mkdir()
    paths = []
    for task in ("spotting", "recognition"):
        model = onnx.load(str(default_model_path(task)))
        path = folder / f"{task}.engine"
        write_engine_file(path, {p.key: p.value for p in model.metadata_props}, b"engine",
                          EngineBuild("10.0.1"))
        paths.append(path)
    return paths


def test_models_folder_of_tensorrt_engines(videos, tmp_path, capsys):
    from mer_edge.cli._run import resolve_models

    spotter, recognizer = _engine_files(tmp_path / "engines")
    assert resolve_models(str(tmp_path / "engines"), None, None, "tensorrt") == (str(spotter),
                                                                                 str(recognizer))
    # Without --backend tensorrt the folder holds no (ONNX) model.
    assert main(["run", str(videos / "lp_d0.mp4"), "--models", str(tmp_path / "engines")]) == 2
    assert "(*.onnx files): no spotting models" in capsys.readouterr().err
    # An engine given to ONNX Runtime, and an ONNX file given to TensorRT, are refused clearly.
    assert main(["eval", "--bench", str(tmp_path), "--models", str(spotter)]) == 2
    assert f"{spotter} is a TensorRT engine: it runs with --backend tensorrt" in capsys.readouterr().err
    from mer_edge._models import default_model_path

    assert main(["eval", "--bench", str(tmp_path), "--backend", "tensorrt", "--models",
                 str(default_model_path("spotting"))]) == 2
    assert "python -m mer_edge_export.tensorrt" in capsys.readouterr().err


def test_eval_has_allow_fallback(tiny_bench, tmp_path, capsys):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("CUDA is available here: nothing falls back")
    split = str(tiny_bench / "test")
    assert main(["eval", "--bench", split, "--backend", "onnxruntime-cuda",
                 "--out", str(tmp_path / "refused")]) == 2
    assert "--allow-fallback" in capsys.readouterr().err
    assert not (tmp_path / "refused" / "report.json").exists()
    assert main(["eval", "--bench", split, "--backend", "onnxruntime-cuda", "--allow-fallback",
                 "--out", str(tmp_path / "ev")]) == 0
    out, err = capsys.readouterr()
    assert "eval: spotting: CPUExecutionProvider, recognition: CPUExecutionProvider" in out
    assert "fell back to CPUExecutionProvider (spotting, recognition)" in err
    assert json.loads(out.strip().splitlines()[-1])["recognition"]  # the JSON line stays last
