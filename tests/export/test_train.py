"""End to end on a tiny benchmark: train (tiny config), resume, export with parity."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("mediapipe")

from export.checkpoint import RunDir  # noqa: E402
from export.config import load_config  # noqa: E402
from export.onnx_export import export_run  # noqa: E402
from export.train import DataSource, main, train  # noqa: E402
from mer_edge._errors import InputError, MerEdgeError  # noqa: E402
from mer_edge._models import Model  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench(tmp_path_factory, videos: Path) -> Path:
    from mer_edge.data.synth import make_bench

    # no "others": every tiny split then has an ME with a MEGC class
    return make_bench(tmp_path_factory.mktemp("bench"), 0, videos_dir=videos, tiny=True,
                      emotion_weights={"happiness": 1.0, "surprise": 1.0, "disgust": 1.0})


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.mark.parametrize("method", ["ssl3d", "regional_tcn", "moext"])
def test_train_resume_export(bench, cache, tmp_path, method):
    config = load_config(method, tiny=True)
    run = tmp_path / "run"
    result = train(config, DataSource(bench), run, cache=cache, log=lambda _: None)
    assert result["best_epoch"] == 0 and result["val_metrics"]
    if config.task == "spotting":  # detection parameters calibrated on val (or the defaults)
        assert set(result["data"]["detection"]) <= {"p", "min_score"}
    state = json.loads((run / "state.json").read_text())
    assert state["stage"] == "finetune" and state["epoch"] == config.epochs - 1
    with pytest.raises(InputError, match="--resume"):
        train(config, DataSource(bench), run, cache=cache, log=lambda _: None)
    again = train(config, DataSource(bench), run, cache=cache, resume=True, log=lambda _: None)
    assert len(json.loads((run / "state.json").read_text())["history"]) == len(state["history"])
    assert again["val_metrics"] == result["val_metrics"]
    summary = export_run(run, tmp_path / "model.onnx")
    assert summary["max_abs_diff"] <= summary["atol"]
    model = Model(tmp_path / "model.onnx", expected_task=config.task)
    assert model.info.metrics["split"] == "val" and not model.info.placeholder
    assert "semi-synthetic" in model.info.training_data
    model.close()


def test_injected_training_runs_end_to_end_and_says_so(bench, cache, tmp_path):
    config = load_config(str(_config_file(tmp_path, "moext", train_signal="injected")))
    run = tmp_path / "run"
    result = train(config, DataSource(bench), run, cache=cache, log=lambda _: None)
    assert result["data"]["train_samples"] >= 1 and result["val_metrics"]["samples"] >= 1
    summary = export_run(run, tmp_path / "model.onnx")
    assert summary["max_abs_diff"] <= summary["atol"]
    model = Model(tmp_path / "model.onnx", expected_task="recognition")
    assert "trained on the injected movement alone" in model.info.training_data
    model.close()
    observed = train(load_config("moext", tiny=True), DataSource(bench), tmp_path / "observed",
                     cache=cache, log=lambda _: None)
    assert observed["training_data"].endswith("trained on the observed onset->apex input")


def test_injected_inputs_hold_the_injected_movement_alone(bench, cache, videos):
    from dataclasses import replace

    from export.data import InjectedMovements, load_bench_split, recognition_items
    from mer_edge._flow import FlowEstimator
    from mer_edge.data.prepare import recognition_sample

    spec = load_config("moext", tiny=True).spec  # gray, flow_x, flow_y; two steps
    flow = FlowEstimator.for_input(spec)
    injected = InjectedMovements([bench / "train"], videos, cache)
    (video, me), *_ = recognition_items(load_bench_split(bench, "train"), cache)
    calm = replace(me, onset=5, apex=9, offset=15)  # long before the ME: the person talks

    def motion(clip):  # mean flow magnitude of each step, crop pixels
        return np.hypot(clip[:, 1], clip[:, 2]).mean(axis=(1, 2)) / spec.flow_scale

    def grey_change(clip):
        return np.abs(clip[-1, 0] - clip[0, 0]).mean()

    at_me, at_calm = injected.clip(me, spec, flow), injected.clip(calm, spec, flow)
    seen_me, seen_calm = (recognition_sample(video, i, spec, flow) for i in (me, calm))
    assert motion(at_calm).max() < 0.2 * motion(seen_calm)[-1]  # no talking in it
    assert motion(at_me)[-1] > 2 * motion(at_calm).max()  # but the ME at its apex
    assert motion(at_me)[0] < 0.5 * motion(at_me)[-1]  # and not yet at its onset
    assert grey_change(at_me) < 0.5 * grey_change(seen_me)
    assert grey_change(at_calm) < 0.2 * grey_change(seen_calm)


def test_training_never_reads_test(bench):
    with pytest.raises(MerEdgeError, match="test split"):
        DataSource(bench).split("test")


def test_cli_needs_a_data_source(capsys):
    with pytest.raises(SystemExit):
        main(["ssl3d", "--tiny"])
    assert "--bench" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["moext", "--tiny", "--dataset", "casme2"])
    assert "--dataset casme2 needs --root DIR" in capsys.readouterr().err


def test_resume_with_other_config_is_refused(tmp_path):
    RunDir(tmp_path, load_config("moext", tiny=True), resume=False).start()
    with pytest.raises(InputError, match="different config"):
        RunDir(tmp_path, load_config("moext"), resume=True)


def test_a_run_saved_before_a_config_field_existed_resumes_at_its_default(tmp_path):
    """Runs written before train_signal and flow_compensation existed trained as their
    defaults say: they resume, and a value other than the default is still refused."""
    config = load_config("moext", tiny=True)
    RunDir(tmp_path, config, resume=False).start()
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["train_signal"], saved["flow_compensation"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    RunDir(tmp_path, config, resume=True)
    with pytest.raises(InputError, match="different config.*train_signal"):
        RunDir(tmp_path, load_config("moext", tiny=True, train_signal="injected"), resume=True)


# -- safety of the training CLI: what a mistake or an interruption leaves behind -------------

def _quiet(_: str) -> None:
    pass


def _config_file(tmp_path: Path, method: str, **changes) -> Path:
    """The tiny configuration of ``method`` with ``changes``, as a JSON config file."""
    data = load_config(method, tiny=True).to_json()
    data.update(changes)
    path = tmp_path / f"{method}.json"
    path.write_text(json.dumps(data))
    return path


def _history(run: Path) -> dict[str, float]:
    """A run's history flattened to ``"index/key/...": number`` (comparable with approx)."""
    flat: dict[str, float] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}/{key}", item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(f"{prefix}/{index}", item)
        else:
            flat[prefix] = value
    walk("", json.loads((run / "state.json").read_text())["history"])
    return flat


def _interrupt_after(stage: str, epoch: int):
    """A log that raises KeyboardInterrupt (Ctrl-C) once ``stage`` epoch ``epoch`` is saved."""
    def log(line: str) -> None:
        if line.startswith(f"{stage} epoch {epoch}/"):
            raise KeyboardInterrupt
    return log


@pytest.mark.parametrize("stage", ["pretrain", "finetune"])
def test_an_interrupted_and_resumed_run_repeats_the_uninterrupted_one(bench, cache, tmp_path, stage):
    import torch

    torch.set_num_threads(1)
    config = load_config(str(_config_file(tmp_path, "ssl3d", pretrain_epochs=2, epochs=2)))
    whole = train(config, DataSource(bench), tmp_path / "whole", cache=cache, log=_quiet)
    with pytest.raises(KeyboardInterrupt):
        train(config, DataSource(bench), tmp_path / "cut", cache=cache,
              log=_interrupt_after(stage, 1))
    epochs_saved = {key.split("/")[1] for key in _history(tmp_path / "cut")}
    assert len(epochs_saved) == (1 if stage == "pretrain" else 3)
    resumed = train(config, DataSource(bench), tmp_path / "cut", cache=cache, resume=True,
                    log=_quiet)
    assert _history(tmp_path / "cut") == pytest.approx(_history(tmp_path / "whole"))
    assert resumed["best_epoch"] == whole["best_epoch"]
    assert (tmp_path / "cut" / "ckpt" / "rng.safetensors").is_file()


def test_resume_refuses_another_data_source_or_seed(bench, tiny_bench, tmp_path, capsys):
    run = tmp_path / "run"
    config = load_config("moext", tiny=True)
    RunDir(run, config, resume=False,
           settings={"data": DataSource(bench).identity(), "seed": 0}).start()
    for extra, named in ((["--bench", str(tiny_bench)], str(tiny_bench.resolve())),
                         (["--bench", str(bench), "--seed", "1"], "'seed': (0, 1)")):
        with pytest.raises(SystemExit) as exit_info:
            main(["moext", "--tiny", "--out", str(run), "--resume", *extra])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and "different data or seed" in err and named in err
    assert not (run / "state.json").exists()  # nothing was trained into the folder


def test_held_out_subjects_must_exist(bench, capsys):
    root = bench / "train" / "recognition"  # a CASME II-style folder of the benchmark
    with pytest.raises(MerEdgeError, match=r"--test-subjects \['99'\] are not subjects of this "
                                            r"dataset; its subjects are \['"):
        DataSource(dataset="casme2", root=root, test_subjects=("99",)).split("train")
    with pytest.raises(SystemExit):
        main(["moext", "--tiny", "--bench", str(bench), "--test-subjects", "01"])
    assert "never read" in capsys.readouterr().err


@pytest.fixture(scope="module")
def unlabelled_bench(tmp_path_factory, videos: Path) -> Path:
    """A tiny benchmark whose MEs are all 'others' (no MEGC class)."""
    from mer_edge.data.synth import make_bench

    return make_bench(tmp_path_factory.mktemp("others"), 0, videos_dir=videos, tiny=True,
                      emotion_weights={"others": 1.0})


def test_a_recognizer_without_labelled_mes_stops_before_pretraining(unlabelled_bench, cache,
                                                                    tmp_path):
    lines: list[str] = []
    run = tmp_path / "run"
    with pytest.raises(MerEdgeError, match=f"the train split of benchmark {unlabelled_bench}"):
        train(load_config("moext", tiny=True), DataSource(unlabelled_bench), run, cache=cache,
              log=lines.append)
    assert not any(line.startswith("pre") for line in lines)  # no pre-training pool, no epoch
    assert not run.exists()  # nothing that would need --resume


def _bad_configs(tmp_path: Path) -> list[tuple[Path, str]]:
    base = load_config("moext").to_json() | {"tiny": {"epochs": 1}}
    cases = {"malformed": ('{"method": "moext",\n "name": ', "not valid JSON: .* at line 2"),
             "tiny_key": (base | {"tiny": {"epoch": 1}}, r"unknown fields in the \"tiny\" block \['epoch'\]"),
             "no_task": ({k: v for k, v in base.items() if k != "task"}, r"required fields \['task'\]"),
             "wrong_task": (base | {"task": "spotting"}, "does not fit method 'moext'"),
             "zero_lr": (base | {"lr": 0}, "lr must be > 0, got 0"),
             "text_epochs": (base | {"epochs": "5"}, "epochs must be a whole number >= 0, got '5'"),
             "kinds": (base | {"train_kinds": ["me"]}, r"train_kinds must be some of"),
             "signal": (base | {"train_signal": "apex"},
                        r"train_signal must be one of \['observed', 'injected'\], got 'apex'")}
    files = []
    for name, (content, message) in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        files.append((path, message))
    return files


def test_user_mistakes_end_in_one_line(bench, tmp_path, capsys):
    import re

    from export.onnx_export import main as export_main

    runs = [(["linear", "--bench", str(bench)], "linear_recognizer"),
            (["ssl3d", "--tiny", "--dataset", "casme2", "--root",
              str(bench / "train" / "recognition")], "pre-cut clips"),
            (["moext", "--tiny", "--bench", str(bench), "--val-fraction", "1.5"], "--val-fraction"),
            (["moext", "--tiny", "--dataset", "casme2", "--root",
              str(bench / "train" / "recognition"), "--train-signal", "injected"],
             r'train_signal "injected" \(--train-signal\) learns from the movements injected into '
             r"a make_bench benchmark \(--bench\).* has none"),
            (["ssl3d", "--tiny", "--bench", str(bench), "--train-signal", "injected"],
             "train_signal 'injected' is for recognition methods")]
    runs += [([str(path), "--tiny", "--bench", str(bench)], message)
             for path, message in _bad_configs(tmp_path)]
    for argv, message in runs:
        with pytest.raises(SystemExit) as exit_info:
            main([*argv, "--out", str(tmp_path / "run")])
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("mer-edge-train: error:")]
        assert exit_info.value.code == 2 and len(errors) == 1 and "Traceback" not in err
        assert re.search(message, errors[0]), (message, errors[0])
    assert not (tmp_path / "run").exists()
    with pytest.raises(SystemExit) as exit_info:
        export_main([str(tmp_path / "nope"), "--out", str(tmp_path / "x.onnx")])
    assert exit_info.value.code == 2
    assert f"run folder {tmp_path / 'nope'} does not exist" in capsys.readouterr().err


def test_ctrl_c_keeps_the_state_and_says_how_to_resume(bench, tmp_path, interruptible):
    import signal
    import subprocess
    import sys
    import time

    config = _config_file(tmp_path, "regional_tcn", epochs=200)
    run = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "export.train", str(config), "--bench",
                                str(bench), "--out", str(run), "--cache", str(tmp_path / "cache"),
                                "--threads", "1"], cwd=Path(__file__).resolve().parents[2],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=interruptible)
    deadline = time.monotonic() + 120
    while not (run / "state.json").is_file() and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in err
    saved = json.loads((run / "state.json").read_text())  # whichever stage it had reached
    assert f"state saved in {run} after {saved['stage']} epoch {saved['epoch'] + 1}" in err
    assert "--resume" in err


def test_a_checkpoint_is_written_whole_before_ctrl_c_takes_effect():
    import os
    import signal

    from export.checkpoint import _interrupt_deferred

    before = signal.getsignal(signal.SIGINT)
    finished = []
    with pytest.raises(KeyboardInterrupt):
        with _interrupt_deferred():
            os.kill(os.getpid(), signal.SIGINT)  # pressed while the files are written
            finished.append(True)
    assert finished == [True] and signal.getsignal(signal.SIGINT) is before
