"""Leave-one-subject-out cross-validation on real-layout copies of a five-person benchmark.

The benchmark's three splits are merged into one CASME II folder and one
CAS(ME)² folder, as a user's dataset would hold all its subjects together;
every fold trains, exports and is evaluated by the engine for real.
"""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("mediapipe")

from export.data import DatasetCopy  # noqa: E402
from export.loso import LosoSettings, main, run_loso  # noqa: E402
from export.loso_plan import bench_copies, plan_folds  # noqa: E402
from export.loso_pooling import pooled_figures  # noqa: E402
from mer_edge import DatasetError, InputError  # noqa: E402
from mer_edge._models import Model  # noqa: E402
from mer_edge._options import EngineOptions  # noqa: E402
from mer_edge.data.loaders import load_dataset  # noqa: E402
from mer_edge.evaluation import evaluate_dataset  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench(tmp_path_factory, videos: Path) -> Path:
    from mer_edge.data.synth import BenchSource as Source
    from mer_edge.data.synth import make_bench

    layout = {"train": (Source("lp_d6.mp4", "lp_d6_woman", "expressive", 0, 250),
                        Source("lp_d3.mp4", "lp_d3_woman", "frown", 0, 250)),
              "val": (Source("lp_d9.mp4", "lp_d9_man", "glasses", 0, 250),),
              "test": (Source("lp_d19.mp4", "lp_d19_man", "subtle", 0, 250),
                       Source("default.wmv", "openface_man", "talk", 0, 250))}
    # no "others": every subject then has MEs with a MEGC class
    return make_bench(tmp_path_factory.mktemp("loso_bench"), 5, videos_dir=videos, layout=layout,
                      emotion_weights={"happiness": 1.0, "surprise": 1.0, "disgust": 1.0,
                                       "repression": 1.0})


def _merged_rows(sheets: list[Path], header: bool) -> tuple[list[str] | None, list[list[str]]]:
    first, rows = None, []
    for sheet in sheets:
        with sheet.open(newline="") as handle:
            content = list(csv.reader(handle))
        if header:
            first, content = content[0], content[1:]
        rows += content
    return first, rows


def _write_rows(path: Path, header: list[str] | None, rows: list[list[str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        if header:
            writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture(scope="module")
def casme2(bench: Path, tmp_path_factory) -> Path:
    """All five subjects in one CASME II folder."""
    root = tmp_path_factory.mktemp("casme2")
    sheets = []
    for split in ("train", "val", "test"):
        folder = bench / split / "recognition"
        shutil.copytree(folder / "CASME2_RAW_selected", root / "CASME2_RAW_selected",
                        dirs_exist_ok=True)
        sheets += sorted(folder.glob("CASME2-coding*.csv"))
    header, rows = _merged_rows(sheets, header=True)
    _write_rows(root / sheets[0].name, header, rows)
    return root


@pytest.fixture(scope="module")
def casme_sq(bench: Path, tmp_path_factory) -> Path:
    """All five subjects' long videos in one CAS(ME)² folder."""
    root = tmp_path_factory.mktemp("casme_sq")
    sheets = []
    for split in ("train", "val", "test"):
        shutil.copytree(bench / split / "rawvideo", root / "rawvideo", dirs_exist_ok=True)
        sheets.append(bench / split / "spotting.csv")
    _, rows = _merged_rows(sheets, header=False)
    _write_rows(root / "spotting.csv", None, rows)
    return root


def _on(root: Path, method: str = "linear", name: str = "casme2", **settings) -> LosoSettings:
    return LosoSettings(method, (DatasetCopy(name, root),), **settings)


@pytest.fixture(scope="module")
def linear_run(casme2: Path, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("loso_linear") / "run"
    return out, run_loso(_on(casme2), out, log=lambda _: None)


def test_every_subject_is_held_out_once_and_never_trained_on(casme2, linear_run):
    out, summary = linear_run
    subjects = sorted({i.subject for i in load_dataset("casme2", casme2)})
    assert len(subjects) == 5 and sorted(summary["folds"]) == subjects and summary["complete"]
    for subject, fold in summary["folds"].items():
        assert subject not in fold["train_subjects"] + fold["val_subjects"]
        assert not set(fold["train_subjects"]) & set(fold["val_subjects"])
        assert sorted(fold["train_subjects"] + fold["val_subjects"] + [subject]) == subjects
        model = Model(fold["model"], expected_task="recognition")
        assert "casme2" in model.info.training_data and model.info.metrics["split"] == "val"
        model.close()
    assert json.loads((out / "loso.json").read_text()) == json.loads(json.dumps(summary))


def test_pooled_figures_are_those_of_all_folds_predictions(casme2, linear_run):
    out, summary = linear_run
    reports = {s: json.loads((out / f"fold-{s}" / "report.json").read_text())["report"]
               for s in summary["folds"]}
    labelled = [i for i in load_dataset("casme2", casme2) if i.kind == "ME"]
    pooled = summary["pooled"]
    assert pooled["samples"] + pooled["no_face"] == len(labelled)
    assert pooled["samples"] == sum(f["figures"]["samples"] for f in summary["folds"].values())
    confusion = sum(np.asarray(pooled_figures("recognition", {s: r})["confusion"])
                    for s, r in reports.items())
    assert confusion.tolist() == pooled["confusion"]
    assert pooled["accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum(), abs=1e-4)


def test_a_fold_scores_as_mer_edge_eval_of_its_model_on_the_held_out_subject(casme2, linear_run):
    _, summary = linear_run
    subject, fold = next(iter(summary["folds"].items()))
    alone = evaluate_dataset("casme2", casme2, subjects=[subject],
                             options=EngineOptions(running_mode="file", recognition_model=fold["model"]))
    assert alone["recognition"]["uf1"] == pytest.approx(fold["figures"]["uf1"], abs=1e-4)
    assert alone["recognition"]["samples"] == fold["figures"]["samples"]


def test_resume_keeps_finished_folds_and_pools_them_with_new_ones(casme2, tmp_path, monkeypatch):
    out = tmp_path / "loso"
    first = run_loso(_on(casme2), out, subjects=["01"], log=lambda _: None)
    assert list(first["folds"]) == ["01"] and not first["complete"]
    kept = (out / "fold-01" / "report.json").stat().st_mtime_ns
    with pytest.raises(InputError, match="--resume"):
        run_loso(_on(casme2), out, subjects=["02"], log=lambda _: None)
    with pytest.raises(InputError, match="other settings"):
        run_loso(_on(casme2, seed=1), out, resume=True, log=lambda _: None)
    lines: list[str] = []
    monkeypatch.chdir(casme2.parent)  # the same copy, named relative to another folder
    second = run_loso(_on(Path(casme2.name)), out, subjects=["02"], resume=True, log=lines.append)
    assert list(second["folds"]) == ["01", "02"]
    assert (out / "fold-01" / "report.json").stat().st_mtime_ns == kept
    assert any("(subject 01): done before, kept" in line for line in lines)
    assert second["pooled"]["samples"] == sum(f["figures"]["samples"]
                                              for f in second["folds"].values())


def test_a_trained_method_resumes_an_interrupted_fold(casme2, tmp_path):
    out = tmp_path / "loso"
    first = run_loso(_on(casme2, "moext", tiny=True), out, subjects=["03"], log=lambda _: None)
    state = json.loads((out / "fold-03" / "run" / "state.json").read_text())
    (out / "fold-03" / "report.json").unlink()  # stopped after training, before evaluating
    again = run_loso(_on(casme2, "moext", tiny=True), out, subjects=["03"], resume=True,
                     log=lambda _: None)
    assert json.loads((out / "fold-03" / "run" / "state.json").read_text())["history"] == \
        state["history"]  # no epoch trained twice
    assert again["folds"]["03"]["figures"] == first["folds"]["03"]["figures"]
    assert Model(out / "fold-03" / "model.onnx").info.method == "moext"


def test_a_spotter_is_cross_validated_on_long_videos(casme_sq, tmp_path):
    summary = run_loso(_on(casme_sq, "regional_tcn", "casme_sq", tiny=True), tmp_path / "loso",
                       subjects=["s01", "s04"], log=lambda _: None)
    truth = [i for i in load_dataset("casme_sq", casme_sq) if i.subject in ("s01", "s04")]
    pooled = summary["pooled"]
    assert pooled["all"]["tp"] + pooled["all"]["fn"] == len(truth)
    for kind in ("ME", "MaE", "all"):
        assert pooled[kind]["fp"] == sum(f["figures"][kind]["fp"] for f in summary["folds"].values())
    assert Model(summary["folds"]["s04"]["model"]).info.task == "spotting"


def test_plans_and_errors(casme2, bench, tmp_path, capsys):
    intervals = load_dataset("casme2", casme2)
    with pytest.raises(InputError, match="long videos"):
        plan_folds(intervals, "spotting", ["casme2"])
    with pytest.raises(DatasetError, match="at least 3 subjects"):
        plan_folds([i for i in intervals if i.subject in ("01", "02")], "recognition", ["casme2"])
    with pytest.raises(DatasetError, match=r"not folds of this dataset; its folds are \['01'"):
        run_loso(_on(casme2), tmp_path / "x", subjects=["99"], log=lambda _: None)
    with pytest.raises(DatasetError, match="the same copy is given twice"):
        run_loso(LosoSettings("linear", (DatasetCopy("casme2", casme2),) * 2), tmp_path / "x")
    with pytest.raises(SystemExit) as exit_info:
        main(["regional_tcn", "--dataset", "casme2", "--root", str(casme2), "--out",
              str(tmp_path / "y"), "--tiny"])
    assert exit_info.value.code == 2 and "pre-cut clips" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["linear", "--dataset", "casme2", "--root", str(casme2), "--dataset", "samm"])
    assert "one --root DIR after each --dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["nope", "--dataset", "casme2", "--root", str(casme2), "--out", str(tmp_path / "z")])
    assert "'linear'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_leave_one_identity_out_on_a_benchmark_matches_its_merged_copy(bench, linear_run, tmp_path):
    _, merged = linear_run
    copies = bench_copies([bench], "recognition")
    assert [c.root.parent.name for c in copies] == ["train", "val", "test"]
    summary = run_loso(LosoSettings("linear", copies), tmp_path / "loso", subjects=["02"],
                       log=lambda _: None)
    fold, same = summary["folds"]["02"], merged["folds"]["02"]
    assert fold["train_subjects"] == same["train_subjects"]
    assert fold["figures"] == same["figures"]


def test_benchmarks_pool_by_identity_only_when_numbered_alike(bench, tiny_bench, linear_run,
                                                              tmp_path):
    again = tmp_path / "again"  # as a benchmark of another seed would be, on the same layout
    shutil.copytree(bench, again)
    copies = bench_copies([bench, again], "recognition")
    assert len(copies) == 6
    summary = run_loso(LosoSettings("linear", copies), tmp_path / "loso", subjects=["02"],
                       log=lambda _: None)
    single = linear_run[1]["folds"]["02"]["figures"]
    fold = summary["folds"]["02"]["figures"]  # the held-out subject is scored in both copies
    assert fold["samples"] == 2 * single["samples"] and fold["uf1"] == single["uf1"]
    with pytest.raises(DatasetError, match="numbers its subjects unlike"):
        bench_copies([bench, tiny_bench], "recognition")  # s03 is lp_d9 here, lp_d19 there


def test_a_composite_of_two_datasets_keys_subjects_by_dataset(casme2, casme_sq, tmp_path):
    settings = LosoSettings("linear", (DatasetCopy("casme2", casme2), DatasetCopy("casme_sq", casme_sq)))
    summary = run_loso(settings, tmp_path / "loso", subjects=["casme_sq/s04"], log=lambda _: None)
    assert "casme2/01" in summary["subjects"] and "casme_sq/s01" in summary["subjects"]
    fold = summary["folds"]["casme_sq/s04"]
    assert any(s.startswith("casme2/") for s in fold["train_subjects"] + fold["val_subjects"])
    assert "casme_sq/s04" not in fold["train_subjects"] + fold["val_subjects"]
    assert fold["figures"]["samples"] == sum(
        1 for i in load_dataset("casme_sq", casme_sq) if i.subject == "s04" and i.kind == "ME")
    assert (tmp_path / "loso" / "fold-casme_sq_s04" / "model.onnx").is_file()
    by_dataset = summary["pooled_by_dataset"]
    assert by_dataset["casme_sq"] == summary["pooled"] and by_dataset["casme2"]["samples"] == 0


def test_subjects_without_a_megc_label_train_but_never_validate(casme2, tmp_path):
    from export.data import load_dataset_split

    root = tmp_path / "casme2"
    shutil.copytree(casme2, root)
    (sheet,) = root.glob("CASME2-coding*.csv")
    header, rows = _merged_rows([sheet], header=True)
    for row in rows:
        if row[0] in ("04", "05"):
            row[-1] = "others"  # as some SAMM subjects: no MEGC class at all
    _write_rows(sheet, header, rows)
    copies = (DatasetCopy("casme2", root),)
    for seed in range(6):
        split = {name: load_dataset_split(copies, name, val_fraction=0.5, seed=seed,
                                          test_subjects=("01",)) for name in ("train", "val")}
        val = {i.subject for i in split["val"].recognition}
        assert val and val <= {"02", "03"}
        assert {"04", "05"} <= {i.subject for i in split["train"].recognition}


def test_folds_run_in_parallel_processes_give_the_same_figures(casme2, linear_run, tmp_path):
    _, one_by_one = linear_run
    summary = run_loso(_on(casme2), tmp_path / "loso", jobs=2, threads=1, log=lambda _: None)
    assert list(summary["folds"]) == list(one_by_one["folds"])  # subject order, not finish order
    assert summary["pooled"] == one_by_one["pooled"]
    for subject, fold in summary["folds"].items():
        assert fold["figures"] == one_by_one["folds"][subject]["figures"]


def test_the_training_cli_runs_the_cross_validation_too(casme2, tmp_path, capsys):
    from export.train import main as train_main

    train_main(["linear", "--loso", "--dataset", "casme2", "--root", str(casme2), "--out",
                str(tmp_path / "loso"), "--subjects", "01"])
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    summary = json.loads((tmp_path / "loso" / "loso.json").read_text())
    assert list(summary["folds"]) == ["01"] and last["pooled"] == summary["pooled"]


def test_missing_pretraining_material_stops_before_any_fold(casme2, videos, tmp_path):
    import cv2

    short = tmp_path / "short.avi"  # ten frames: too short to draw pre-training pairs from
    reader = cv2.VideoCapture(str(videos / "lp_d6.mp4"))
    frames = [reader.read()[1] for _ in range(10)]
    reader.release()
    writer = cv2.VideoWriter(str(short), cv2.VideoWriter_fourcc(*"MJPG"), 30,
                             frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    out = tmp_path / "loso"
    with pytest.raises(DatasetError, match="before any fold trains.*--pretrain-videos"):
        run_loso(_on(casme2, "moext", tiny=True, pretrain_videos=(str(short),)), out,
                 cache=tmp_path / "cache", log=lambda _: None)
    assert not out.exists()
