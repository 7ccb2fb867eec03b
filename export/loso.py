"""Leave-one-subject-out cross-validation of a method on a user's dataset (the MEGC protocol).

    python -m export.loso METHOD --dataset casme2 --root /data/CASME2 [--out DIR] [--resume]
        [--subjects 01,02] [--val-fraction 0.2] [--seed 0] [--tiny] [--threads N]

For every subject (a *fold*): METHOD is trained on the other subjects, with
its validation subjects drawn from them and never the held-out one; the fold's
model is exported to ONNX; and that file is evaluated by the engine on the
held-out subject alone, exactly as ``mer-edge eval --dataset NAME --root DIR
--subjects S --spotter/--recognizer FOLD.onnx`` would.  The folds' predictions
are then pooled, as the MEGC protocols pool them:

* a recognizer: accuracy, UF1 and UAR in the MEGC three classes over every
  labelled ME of every subject;
* a spotter (long-video datasets: ``casme_sq``, ``casme3``, ``samm_lv``):
  MEGC ME / MaE / overall F1 over every interval of every subject.

METHOD is a training config of :mod:`export.train` (``ssl3d``,
``regional_tcn``, ``moext``, ``miacnet``, ``attrclip`` or a JSON file) or
``linear``: the FACS-linear recognizer of :mod:`export.linear_recognizer`,
learned from the observed onset->apex flow with mirrored copies (a real
dataset has no clean source video to measure the injected movement on).

The output folder holds ``fold-<subject>/`` (the run's checkpoints, the fold's
``model.onnx`` and ``report.json``) and ``loso.json``: every finished fold
and the pooled figures, rewritten after each fold so that nothing finished
is lost.  ``--resume`` skips finished folds and resumes an interrupted one
from its last epoch.  ``--subjects`` runs only some folds (training still
uses every other subject); with ``--resume`` the folds finished earlier in
the folder are pooled with them.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from mer_edge._errors import DatasetError, InputError, MerEdgeError
from mer_edge._options import EngineOptions
from mer_edge.data.loaders import load_dataset
from mer_edge.data.schema import MEGC_CLASSES, Interval
from mer_edge.metrics import recognition_scores, spotting_scores

from .checkpoint import write_json_atomically
from .config import load_config
from .data import Split, megc_label
from .train import DataSource, add_pretrain_videos_option

__all__ = ["LINEAR", "LONG_VIDEO_DATASETS", "FoldPlan", "plan_folds", "pooled_figures", "run_loso",
           "main"]

#: The method name of the FACS-linear recognizer (not a torch training config).
LINEAR = "linear"
#: Datasets of long videos, where a spotter can be scored.
LONG_VIDEO_DATASETS = ("casme_sq", "casme3", "samm_lv")
_REPORT = "report.json"
_SUMMARY = "loso.json"

Log = Callable[[str], None]


@dataclass(frozen=True)
class FoldPlan:
    """The folds of a LOSO run on one dataset.

    Attributes:
        task: ``recognition`` or ``spotting`` (the method's).
        subjects: every subject of the sheet, sorted.
        folds: the subjects held out in turn, in order.
        without_samples: subjects that cannot be a fold (no MEGC-labelled ME
            for a recognizer); they still train the other folds' models.
    """

    task: str
    subjects: tuple[str, ...]
    folds: tuple[str, ...]
    without_samples: tuple[str, ...]


def plan_folds(intervals: Sequence[Interval], task: str, dataset: str) -> FoldPlan:
    """Which subjects are held out in turn.

    A recognizer's folds are the subjects with at least one labelled ME; a
    spotter's are all subjects (their videos also count false positives).

    Raises:
        InputError: a spotter on a clip dataset.
        DatasetError: fewer than three subjects (a fold needs a training and
            a validation subject besides the held-out one).
    """
    if task == "spotting" and dataset not in LONG_VIDEO_DATASETS:
        raise InputError(f"a spotter is cross-validated on long videos "
                         f"({', '.join(LONG_VIDEO_DATASETS)}); {dataset} holds pre-cut clips")
    subjects = tuple(sorted({item.subject for item in intervals}))
    if len(subjects) < 3:
        raise DatasetError(f"leave-one-subject-out needs at least 3 subjects (one held out, one to "
                           f"train on, one to validate on); the sheet has {list(subjects)}")
    if task == "recognition":
        usable = {item.subject for item in intervals
                  if item.kind == "ME" and megc_label(item) is not None}
    else:
        usable = set(subjects)
    return FoldPlan(task, subjects, tuple(s for s in subjects if s in usable),
                    tuple(s for s in subjects if s not in usable))


def _chosen_folds(plan: FoldPlan, only: Sequence[str]) -> set[str]:
    unknown = sorted(set(only) - set(plan.folds))
    if unknown:
        raise DatasetError(f"--subjects {unknown} are not folds of this dataset; its folds are "
                           f"{list(plan.folds)}")
    return set(only or plan.folds)


def _method_task(method: str, tiny: bool) -> str:
    if method == LINEAR:
        return "recognition"
    return load_config(method, tiny=tiny).task


def _split_subjects(split: Split) -> list[str]:
    items = [i for intervals in split.videos.values() for i in intervals] + split.recognition
    return sorted({item.subject for item in items})


def _train_fold(method: str, source: DataSource, fold_dir: Path, *, tiny: bool, seed: int,
                resume: bool, cache: Path, pretrain_videos: Sequence[str] | None, log: Log
                ) -> tuple[Path, dict[str, Any]]:
    """Train one fold and export its model; returns the ONNX path and the val metrics."""
    model_path = fold_dir / "model.onnx"
    if method == LINEAR:
        from .linear_recognizer import train_linear

        metrics = train_linear(source, model_path, signal="observed", mirror=True, cache=cache,
                               log=log)
        return model_path, metrics
    from .onnx_export import export_run
    from .train import train

    run_dir = fold_dir / "run"
    resume_run = resume and (run_dir / "state.json").is_file()
    config = load_config(method, tiny=tiny, pretrain_videos=pretrain_videos)
    train(config, source, run_dir, seed=seed, resume=resume_run,
          cache=cache, log=log)
    summary = export_run(run_dir, model_path)
    return model_path, summary["val_metrics"]


def _evaluate_fold(dataset: str, root: Path, subject: str, model: Path, task: str,
                   variant: str | None) -> dict[str, Any]:
    from mer_edge.evaluation import evaluate_dataset

    role = "spotting_model" if task == "spotting" else "recognition_model"
    options = EngineOptions(running_mode="file", **{role: str(model)})
    return evaluate_dataset(dataset, root, variant=variant, subjects=[subject], options=options)


def _recognition_pairs(report: dict[str, Any]) -> tuple[list[str], list[str], int]:
    """True and predicted classes of a fold's recognised MEs, and how many had no face."""
    truth, predicted, no_face = [], [], 0
    for video in report["per_video"]:
        for item in video["truth"]:
            if "predicted" not in item:
                continue
            if item["predicted"] is None:
                no_face += 1
            else:
                truth.append(item["label"])
                predicted.append(item["predicted"])
    return truth, predicted, no_face


def _spotting_items(report: dict[str, Any], subject: str
                    ) -> tuple[list[tuple[str, int, int, str]], list[tuple[str, int, int, str]]]:
    truth, predicted = [], []
    for video in report["per_video"]:
        key = f"{subject}:{video['video']}"
        truth += [(key, t["onset"], t["offset"], t["kind"]) for t in video["truth"]]
        predicted += [(key, d["onset"], d["offset"], d["kind"]) for d in video["detections"]]
    return truth, predicted


def _rounded(scores: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()}


def pooled_figures(task: str, fold_reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The MEGC figures of all folds' predictions pooled (a fold: held-out subject -> report)."""
    if task == "recognition":
        truth, predicted, no_face = [], [], 0
        for report in fold_reports.values():
            t, p, n = _recognition_pairs(report)
            truth, predicted, no_face = truth + t, predicted + p, no_face + n
        if not truth:
            return {"samples": 0, "no_face": no_face}
        scores = recognition_scores(truth, predicted, class_names=list(MEGC_CLASSES))
        return {**_rounded({k: scores[k] for k in ("accuracy", "uf1", "uar")}),
                "confusion": scores["confusion"], "classes": list(MEGC_CLASSES),
                "samples": len(truth), "no_face": no_face}
    truth_items, predicted_items = [], []
    for subject, report in fold_reports.items():
        t, p = _spotting_items(report, subject)
        truth_items, predicted_items = truth_items + t, predicted_items + p
    scores = spotting_scores(truth_items, predicted_items)
    return {kind: _rounded(dict(values)) for kind, values in scores.items()}


def _fold_figures(task: str, subject: str, report: dict[str, Any]) -> dict[str, Any]:
    figures = pooled_figures(task, {subject: report})
    if task == "recognition":
        return {k: figures[k] for k in ("accuracy", "uf1", "uar", "samples", "no_face") if k in figures}
    return {kind: {k: figures[kind][k] for k in ("tp", "fp", "fn", "f1")} for kind in figures}


def run_loso(method: str, dataset: str, root: str | Path, out: str | Path, *,
             subjects: Sequence[str] = (), variant: str | None = None, tiny: bool = False,
             seed: int = 0, val_fraction: float = 0.2, resume: bool = False,
             cache: str | Path | None = None, pretrain_videos: Sequence[str] | None = None,
             log: Log | None = None) -> dict[str, Any]:
    """Cross-validate ``method`` on a dataset, one held-out subject at a time.

    Args:
        method: a training config name or file (see :mod:`export.train`) or ``linear``.
        dataset: the dataset's name (``casme2``, ``samm``, ``casme_sq``, ...).
        root: the user's copy, in its owners' layout.
        out: the LOSO folder (fold runs, models, reports and ``loso.json``).
        subjects: hold out only these subjects (default: every fold); with
            ``resume``, folds finished earlier in ``out`` are pooled with them.
        variant: the media variant evaluated (CASME II ``raw``/``cropped``...).
        tiny: the methods' tiny configurations (tests).
        seed: training seed and validation-subject draw of every fold.
        val_fraction: share of a fold's training subjects used for validation.
        resume: go on with a LOSO folder left unfinished.
        cache: alignment cache (default ``<out>/_cache``).
        pretrain_videos: replace the config's pre-training videos (see
            :func:`export.config.load_config`).
        log: receives progress lines.

    Returns:
        The content of ``loso.json``: ``folds`` (per held-out subject: the
        training and validation subjects, the fold's figures, its model) and
        ``pooled`` (the MEGC figures of every fold's predictions together).

    Raises:
        InputError: an existing LOSO folder without ``resume``, or one made for
            another method or dataset; a spotter on a clip dataset.
        DatasetError: the dataset cannot be read, has fewer than three
            subjects, or a fold cannot be trained (the message names it).
    """
    log = log or (lambda line: print(line, flush=True))
    root, out = Path(root), Path(out)
    cache = Path(cache) if cache is not None else out / "_cache"
    task = _method_task(method, tiny)
    intervals = load_dataset(dataset, root, variant=variant, require_media=False)
    plan = plan_folds(intervals, task, dataset)
    chosen = _chosen_folds(plan, subjects)
    summary_path = out / _SUMMARY
    identity = {"method": method, "dataset": dataset, "root": str(root), "variant": variant,
                "tiny": tiny, "seed": seed, "val_fraction": val_fraction, "task": task}
    if summary_path.is_file():
        previous = json.loads(summary_path.read_text(encoding="utf-8"))
        if not resume:
            raise InputError(f"{out} already holds a LOSO run; pass --resume to go on with it "
                             "or choose another --out")
        changed = {k: (previous.get(k), v) for k, v in identity.items() if previous.get(k) != v}
        if changed:
            raise InputError(f"{out} holds a LOSO run with other settings {changed}; "
                             "choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {**identity, "subjects": list(plan.subjects),
                               "not_folds": list(plan.without_samples), "folds": {}}
    reports: dict[str, dict[str, Any]] = {}
    for number, subject in enumerate(plan.folds, start=1):
        fold_dir = out / f"fold-{subject}"
        report_path = fold_dir / _REPORT
        if resume and report_path.is_file():
            fold = json.loads(report_path.read_text(encoding="utf-8"))
            log(f"fold {number}/{len(plan.folds)} (subject {subject}): done before, kept")
        elif subject not in chosen:
            continue
        else:
            fold = _run_fold(method, dataset, root, subject, fold_dir, task=task, variant=variant,
                             tiny=tiny, seed=seed, val_fraction=val_fraction, resume=resume,
                             cache=cache, pretrain_videos=pretrain_videos, log=log)
            write_json_atomically(report_path, fold)
            log(f"fold {number}/{len(plan.folds)} (subject {subject}): "
                + json.dumps(fold["figures"], default=float))
        reports[subject] = fold["report"]
        summary["folds"][subject] = {k: v for k, v in fold.items() if k != "report"}
        summary["pooled"] = pooled_figures(task, reports)
        summary["complete"] = len(reports) == len(plan.folds)
        write_json_atomically(summary_path, summary)
    return summary


def _run_fold(method: str, dataset: str, root: Path, subject: str, fold_dir: Path, *, task: str,
              variant: str | None, tiny: bool, seed: int, val_fraction: float, resume: bool,
              cache: Path, pretrain_videos: Sequence[str] | None, log: Log) -> dict[str, Any]:
    """Train, export and evaluate the fold that holds ``subject`` out."""
    started = time.monotonic()
    source = DataSource(dataset=dataset, root=root, val_fraction=val_fraction, seed=seed,
                         test_subjects=(subject,))
    try:
        train_subjects = _split_subjects(source.split("train"))
        val_subjects = _split_subjects(source.split("val"))
        if subject in train_subjects + val_subjects:  # load_dataset_split guarantees it
            raise MerEdgeError(f"held-out subject {subject} leaked into training")
        model, val_metrics = _train_fold(method, source, fold_dir, tiny=tiny, seed=seed,
                                         resume=resume, cache=cache,
                                         pretrain_videos=pretrain_videos, log=log)
    except DatasetError as error:
        raise DatasetError(f"fold of held-out subject {subject}: {error}") from error
    report = _evaluate_fold(dataset, root, subject, model, task, variant)
    return {"subject": subject, "train_subjects": train_subjects, "val_subjects": val_subjects,
            "model": str(model), "val_metrics": val_metrics,
            "figures": _fold_figures(task, subject, report),
            "failed_videos": report.get("failed_videos", []),
            "seconds": round(time.monotonic() - started, 1), "report": report}


def _table(summary: dict[str, Any]) -> str:
    lines = []
    for subject, fold in summary["folds"].items():
        lines.append(f"  {subject:>10s}  {json.dumps(fold['figures'], default=float)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m export.loso",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("method", help="ssl3d, regional_tcn, moext, miacnet, attrclip, linear "
                                       "or a JSON training config")
    parser.add_argument("--dataset", required=True, help="casme2, samm, smic, casme_sq, casme3, "
                                                         "samm_lv or mmew")
    parser.add_argument("--root", type=Path, required=True, help="your copy of the dataset")
    parser.add_argument("--variant", default=None, help="media variant (e.g. CASME II cropped)")
    parser.add_argument("--out", type=Path, default=None,
                        help="LOSO folder (default runs/loso-<method>-<dataset>)")
    parser.add_argument("--subjects", default="", help="comma-separated folds to run (default all)")
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny", action="store_true", help="tiny configurations (tests)")
    parser.add_argument("--resume", action="store_true", help="go on with an unfinished LOSO folder")
    parser.add_argument("--cache", type=Path, default=None, help="alignment cache (default <out>/_cache)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    add_pretrain_videos_option(parser)
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    out = args.out or Path("runs") / f"loso-{Path(args.method).stem}-{args.dataset}"
    try:
        summary = run_loso(args.method, args.dataset, args.root, out,
                           subjects=[s for s in args.subjects.split(",") if s], variant=args.variant,
                           tiny=args.tiny, seed=args.seed, val_fraction=args.val_fraction,
                           resume=args.resume, cache=args.cache,
                           pretrain_videos=args.pretrain_videos)
    except MerEdgeError as error:
        parser.exit(2, f"error: {error}\n")
    print(f"{len(summary['folds'])} folds of {summary['method']} on {summary['dataset']} "
          f"(written to {out / _SUMMARY}):")
    print(_table(summary))
    print(json.dumps({"pooled": summary["pooled"], "folds": len(summary["folds"])}, default=float))


if __name__ == "__main__":
    main()
