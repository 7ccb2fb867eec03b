"""Leave-one-subject-out cross-validation of a method on a user's dataset (the MEGC protocol).

    mer-edge-loso METHOD --dataset casme2 --root /data/CASME2 [--out DIR] [--resume]
        [--subjects 01,02] [--val-fraction 0.2] [--seed 0] [--tiny] [--threads N]
    mer-edge-loso METHOD --dataset casme2 --root A --dataset samm --root B ...
    mer-edge-loso METHOD --bench BENCH        # leave one identity out

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

Several ``--dataset``/``--root`` pairs form a composite (MEGC's CASME II +
SAMM + SMIC): subjects become ``dataset/subject`` and every fold trains on
the other subjects of all of them.  ``--bench`` cross-validates on a
``make_bench`` benchmark, all splits together: each subject there is one
identity, so this is leave-one-identity-out.

The output folder holds ``fold-<subject>/`` (the run's checkpoints, the fold's
``model.onnx`` and ``report.json``) and ``loso.json``: every finished fold
and the pooled figures, rewritten after each fold so that nothing finished
is lost.  ``--resume`` skips finished folds and resumes an interrupted one
from its last epoch.  ``--subjects`` runs only some folds (training still
uses every other subject); with ``--resume`` the folds finished earlier in
the folder are pooled with them.  ``--jobs N`` trains N folds at once, each
in its own process (on a machine with the cores for it).
"""
from __future__ import annotations

if __name__ == "__main__":  # run as python -m: without PyTorch, one line, not a traceback
    from ._launch import require_torch_to_run
    require_torch_to_run(__spec__)

import argparse
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from mer_edge._errors import DatasetError, InputError, MerEdgeError, reworded
from mer_edge._options import EngineOptions

from .checkpoint import changed_settings, write_json_atomically
from .config import load_config
from .data import DatasetCopy, Split, keyed_intervals
from .loso_plan import bench_copies, chosen_folds, plan_folds
from .loso_pooling import fold_figures, pooled_figures
from .threads import add_threads_option, use_threads
from .train import (PAIR_PRETRAINING, DataSource, add_pretrain_videos_option, check_common_options,
                    pair_pretrain_material)

__all__ = ["LINEAR", "LosoSettings", "run_loso", "main"]

#: The method name of the FACS-linear recognizer (not a torch training config).
LINEAR = "linear"
_REPORT = "report.json"
_SUMMARY = "loso.json"

Log = Callable[[str], None]


@dataclass(frozen=True)
class LosoSettings:
    """What every fold of a LOSO run shares (and what a resumed run must match).

    Attributes:
        method: a training config name or file (see :mod:`export.train`) or ``linear``.
        copies: the dataset copies; several are pooled by subject (a composite).
        tiny: the methods' tiny configurations (tests).
        seed: training seed and validation-subject draw of every fold.
        val_fraction: share of a fold's training subjects used for validation.
        pretrain_videos: replace the config's pre-training videos (see
            :func:`export.config.load_config`).
    """

    method: str
    copies: tuple[DatasetCopy, ...]
    tiny: bool = False
    seed: int = 0
    val_fraction: float = 0.2
    pretrain_videos: tuple[str, ...] | None = None

    def identity(self, task: str) -> dict[str, Any]:
        return {"method": self.method, "task": task, "tiny": self.tiny, "seed": self.seed,
                "val_fraction": self.val_fraction,
                "copies": [copy.identity() for copy in self.copies],
                "pretrain_videos": None if self.pretrain_videos is None
                else list(self.pretrain_videos)}


def _method_task(method: str, tiny: bool) -> str:
    if method == LINEAR:
        return "recognition"
    try:
        return load_config(method, tiny=tiny).task
    except InputError as error:
        raise reworded(error, suffix=f"; or {LINEAR!r} (the FACS-linear recognizer)") from error


def _split_subjects(split: Split) -> list[str]:
    items = [i for intervals in split.videos.values() for i in intervals] + split.recognition
    return sorted({item.subject for item in items})


def _train_fold(settings: LosoSettings, source: DataSource, fold_dir: Path, *, resume: bool,
                cache: Path, log: Log) -> tuple[Path, dict[str, Any]]:
    """Train one fold and export its model; returns the ONNX path and the val metrics."""
    model_path = fold_dir / "model.onnx"
    if settings.method == LINEAR:
        from .linear_recognizer import train_linear

        metrics = train_linear(source, model_path, signal="observed", mirror=True, cache=cache,
                               log=log)
        return model_path, metrics
    from .onnx_export import export_run
    from .train import train

    run_dir = fold_dir / "run"
    config = load_config(settings.method, tiny=settings.tiny,
                         pretrain_videos=settings.pretrain_videos)
    train(config, source, run_dir, seed=settings.seed,
          resume=resume and (run_dir / "state.json").is_file(), cache=cache, log=log)
    summary = export_run(run_dir, model_path)
    return model_path, summary["val_metrics"]


def _evaluate_fold(held_out: Sequence[tuple[DatasetCopy, str]], model: Path, task: str
                   ) -> dict[str, Any]:
    """The engine with the fold's model on the held-out subject, in every copy it is in.

    With several copies, their video ids are prefixed by the copy's folder so
    that two copies' clips of one name stay apart.
    """
    from mer_edge.evaluation import evaluate_dataset

    role = "spotting_model" if task == "spotting" else "recognition_model"
    options = EngineOptions(running_mode="file", **{role: str(model)})
    if len(held_out) == 1:
        (copy, subject), = held_out
        return evaluate_dataset(copy.name, copy.root, variant=copy.variant, subjects=[subject],
                                options=options)
    merged: dict[str, Any] = {"per_video": [], "failed_videos": [], "skipped_intervals": [],
                              "copies": []}
    for copy, subject in held_out:
        part = evaluate_dataset(copy.name, copy.root, variant=copy.variant, subjects=[subject],
                                options=options)
        merged["per_video"] += [{**video, "video": f"{copy.root}:{video['video']}"}
                                for video in part["per_video"]]
        merged["failed_videos"] += part.get("failed_videos", [])
        merged["skipped_intervals"] += part.get("skipped_intervals", [])
        merged["copies"].append({"copy": copy.describe(), "subject": subject,
                                 "recognition": part["recognition"],
                                 "spotting": part.get("spotting")})
    return merged


def run_loso(settings: LosoSettings, out: str | Path, *, subjects: Sequence[str] = (),
             resume: bool = False, cache: str | Path | None = None, jobs: int = 1,
             threads: int | None = None, log: Log | None = None) -> dict[str, Any]:
    """Cross-validate a method on a dataset (or several), one held-out subject at a time.

    Args:
        settings: the method, the dataset copies and the training settings.
        out: the LOSO folder (fold runs, models, reports and ``loso.json``).
        subjects: hold out only these subjects (default: every fold); with
            ``resume``, folds finished earlier in ``out`` are pooled with them.
        resume: go on with a LOSO folder left unfinished.
        cache: alignment cache (default ``<out>/_cache``).
        jobs: folds run at once, each in its own process (finished folds are
            written as they come; ``loso.json`` lists them in subject order).
        threads: torch threads of each fold process (None: the cores shared out).
        log: receives progress lines.

    Returns:
        The content of ``loso.json``: ``folds`` (per held-out subject: the
        training and validation subjects, the fold's figures, its model) and
        ``pooled`` (the MEGC figures of every fold's predictions together);
        for a composite also ``pooled_by_dataset``.

    Raises:
        InputError: an existing LOSO folder without ``resume``, or one made with
            other settings; a spotter on a clip dataset.
        DatasetError: a copy cannot be read, two copies share a subject, fewer
            than three subjects, or a fold cannot be trained (the message
            names it).
    """
    log = log or (lambda line: print(line, flush=True))
    out = Path(out)
    cache = Path(cache) if cache is not None else out / "_cache"
    task = _method_task(settings.method, settings.tiny)
    keyed = keyed_intervals(settings.copies)
    plan = plan_folds([interval for _, _, interval in keyed], task,
                      [copy.name for copy in settings.copies])
    chosen = chosen_folds(plan, subjects)
    held_out_in: dict[str, list[tuple[DatasetCopy, str]]] = {}
    for copy, raw, interval in keyed:
        if (copy, raw) not in held_out_in.setdefault(interval.subject, []):
            held_out_in[interval.subject].append((copy, raw))
    summary_path = out / _SUMMARY
    identity = settings.identity(task)
    if summary_path.is_file():
        previous = json.loads(summary_path.read_text(encoding="utf-8"))
        if not resume:
            raise InputError(f"{out} already holds a LOSO run; pass --resume to go on with it "
                             "or choose another --out")
        changed = changed_settings(previous, identity)
        if changed:
            raise InputError(f"{out} holds a LOSO run with other settings {changed}; "
                             "choose another --out")
    to_run = [s for s in plan.folds if s in chosen
              and not (resume and (_fold_dir(out, s) / _REPORT).is_file())]
    _check_pretraining(settings, to_run, cache, log)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {**identity, "subjects": list(plan.subjects),
                               "not_folds": list(plan.without_samples), "folds": {}}
    folds: dict[str, dict[str, Any]] = {}

    def record(subject: str, fold: dict[str, Any]) -> None:
        folds[subject] = fold
        done = [s for s in plan.folds if s in folds]
        reports = {s: folds[s]["report"] for s in done}
        summary["folds"] = {s: {k: v for k, v in folds[s].items() if k != "report"} for s in done}
        summary["pooled"] = pooled_figures(task, reports)
        names = sorted({copy.name for copy in settings.copies})
        if len(names) > 1:  # a composite: MEGC also reports each dataset on its own
            summary["pooled_by_dataset"] = {
                name: pooled_figures(task, {key: report for key, report in reports.items()
                                            if key.startswith(name + "/")}) for name in names}
        summary["complete"] = len(done) == len(plan.folds)
        write_json_atomically(summary_path, summary)

    for subject in plan.folds:
        report_path = _fold_dir(out, subject) / _REPORT
        if resume and report_path.is_file():
            log(f"fold (subject {subject}): done before, kept")
            record(subject, json.loads(report_path.read_text(encoding="utf-8")))
    tasks = [_FoldTask(settings, task, subject, tuple(held_out_in[subject]),
                       _fold_dir(out, subject), resume, cache) for subject in to_run]
    for number, (fold_task, fold) in enumerate(_run_folds(tasks, jobs, threads, log), start=1):
        write_json_atomically(fold_task.fold_dir / _REPORT, fold)
        log(f"fold {number}/{len(tasks)} (subject {fold_task.subject}): "
            + json.dumps(fold["figures"], default=float))
        record(fold_task.subject, fold)
    return summary


def _check_pretraining(settings: LosoSettings, subjects: Sequence[str], cache: Path, log: Log
                       ) -> None:
    """Refuse, before any fold trains, a fold whose training data cannot pre-train the method.

    moext and miacnet draw frame pairs from video: the config's pre-training
    videos, else each fold's training videos or clips (aligned into the
    cache the folds then read).

    Raises:
        DatasetError: a fold has nothing to pre-train on (the message names it
            and ``--pretrain-videos``).
    """
    if settings.method == LINEAR:
        return
    config = load_config(settings.method, tiny=settings.tiny,
                         pretrain_videos=settings.pretrain_videos)
    if config.method not in PAIR_PRETRAINING or config.pretrain_epochs <= 0:
        return
    for subject in subjects:
        source = DataSource(copies=settings.copies, val_fraction=settings.val_fraction,
                            seed=settings.seed, test_subjects=(subject,))
        try:
            pair_pretrain_material(config, source.split("train"), cache)
        except DatasetError as error:
            raise reworded(error, prefix=f"fold of held-out subject {subject} (checked before "
                                         "any fold trains): ") from error
        if config.pretrain_videos:  # the same videos for every fold
            return
    log(f"pre-training data checked for {len(subjects)} folds")


def _fold_dir(out: Path, subject: str) -> Path:
    return out / f"fold-{subject.replace('/', '_')}"


@dataclass(frozen=True)
class _FoldTask:
    """One fold to run (picklable: it crosses to a worker process with ``--jobs``)."""

    settings: LosoSettings
    task: str
    subject: str
    held_out: tuple[tuple[DatasetCopy, str], ...]
    fold_dir: Path
    resume: bool
    cache: Path

    def run(self, log: Log) -> dict[str, Any]:
        return _run_fold(self.settings, self.task, self.subject, self.held_out, self.fold_dir,
                         resume=self.resume, cache=self.cache, log=log)


def _run_in_worker(fold: _FoldTask, threads: int) -> dict[str, Any]:
    """A fold in a worker process: its own torch threads, log lines tagged with the subject."""
    use_threads(threads)
    return fold.run(lambda line: print(f"[{fold.subject}] {line}", flush=True))


def _run_folds(tasks: Sequence[_FoldTask], jobs: int, threads: int | None, log: Log
               ) -> Iterator[tuple[_FoldTask, dict[str, Any]]]:
    """Each fold with its result, in order (one job) or as they finish (several)."""
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield task, task.run(log)
        return
    per_job = threads or max(1, (os.cpu_count() or 1) // jobs)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {pool.submit(_run_in_worker, task, per_job): task for task in tasks}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        pool.shutdown(cancel_futures=True)


def _run_fold(settings: LosoSettings, task: str, subject: str,
              held_out: Sequence[tuple[DatasetCopy, str]], fold_dir: Path, *, resume: bool,
              cache: Path, log: Log) -> dict[str, Any]:
    """Train, export and evaluate the fold that holds ``subject`` out.

    ``held_out`` lists the copies the subject is in, with its id in each sheet.
    """
    started = time.monotonic()
    source = DataSource(copies=settings.copies, val_fraction=settings.val_fraction,
                        seed=settings.seed, test_subjects=(subject,))
    try:
        train_subjects = _split_subjects(source.split("train"))
        val_subjects = _split_subjects(source.split("val"))
        if subject in train_subjects + val_subjects:  # split_intervals guarantees it
            raise MerEdgeError(f"held-out subject {subject} leaked into training")
        model, val_metrics = _train_fold(settings, source, fold_dir, resume=resume, cache=cache,
                                         log=log)
    except DatasetError as error:
        raise reworded(error, prefix=f"fold of held-out subject {subject}: ") from error
    report = _evaluate_fold(held_out, model, task)
    return {"subject": subject, "train_subjects": train_subjects, "val_subjects": val_subjects,
            "model": str(model), "val_metrics": val_metrics,
            "figures": fold_figures(task, subject, report),
            "failed_videos": report.get("failed_videos", []),
            "skipped_intervals": len(report.get("skipped_intervals", [])),
            "seconds": round(time.monotonic() - started, 1), "report": report}


def _table(summary: dict[str, Any]) -> str:
    lines = []
    for subject, fold in summary["folds"].items():
        lines.append(f"  {subject:>10s}  {json.dumps(fold['figures'], default=float)}")
    return "\n".join(lines)


def _copies(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[DatasetCopy, ...]:
    if args.bench is not None:
        if args.dataset or args.root:
            parser.error("give --bench DIR or --dataset NAME --root DIR pairs, not both")
        return bench_copies(args.bench, _method_task(args.method, args.tiny))
    if not args.dataset or len(args.dataset) != len(args.root or []):
        parser.error("give one --root DIR after each --dataset NAME (or --bench DIR)")
    return tuple(DatasetCopy(name, root, args.variant) for name, root in zip(args.dataset, args.root))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mer-edge-loso",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("method", help="ssl3d, regional_tcn, moext, miacnet, attrclip, linear "
                                       "or a JSON training config")
    parser.add_argument("--dataset", action="append", help="casme2, samm, smic, casme_sq, casme3, "
                        "samm_lv or mmew; repeat with --root for a composite (e.g. MEGC's "
                        "CASME II + SAMM + SMIC)")
    parser.add_argument("--root", type=Path, action="append", help="your copy of that dataset")
    parser.add_argument("--variant", default=None, help="media variant (e.g. CASME II cropped)")
    parser.add_argument("--bench", type=Path, action="append", default=None,
                        help="a make-bench benchmark: leave one identity out over all its splits "
                             "(repeat for benchmarks of other seeds, pooled by identity)")
    parser.add_argument("--out", type=Path, default=None,
                        help="LOSO folder (default runs/loso-<method>-<dataset>)")
    parser.add_argument("--subjects", default="", help="comma-separated folds to run (default all)")
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tiny", action="store_true", help="tiny configurations (tests)")
    parser.add_argument("--resume", action="store_true", help="go on with an unfinished LOSO folder")
    parser.add_argument("--cache", type=Path, default=None, help="alignment cache (default <out>/_cache)")
    add_threads_option(parser)
    parser.add_argument("--jobs", type=int, default=1,
                        help="folds trained at once, one process each (default 1)")
    add_pretrain_videos_option(parser)
    args = parser.parse_args(argv)
    check_common_options(parser, args)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    use_threads(args.threads)
    out = args.out
    try:
        copies = _copies(parser, args)
        settings = LosoSettings(args.method, copies, tiny=args.tiny, seed=args.seed,
                                val_fraction=args.val_fraction,
                                pretrain_videos=None if args.pretrain_videos is None
                                else tuple(args.pretrain_videos))
        names = "+".join(dict.fromkeys(copy.name for copy in copies))
        out = args.out or Path("runs") / f"loso-{Path(args.method).stem}-{names}"
        summary = run_loso(settings, out, subjects=[s for s in args.subjects.split(",") if s],
                           resume=args.resume, cache=args.cache, jobs=args.jobs,
                           threads=args.threads)
    except MerEdgeError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    except KeyboardInterrupt:
        parser.exit(130, f"{parser.prog}: interrupted: the folds finished are kept in {out}; "
                         "run the same command with --resume to go on\n")
    data = (f"{len(args.bench)} benchmark(s) {', '.join(map(str, args.bench))}" if args.bench
            else names)
    print(f"{len(summary['folds'])} folds of {args.method} on {data} "
          f"(written to {out / _SUMMARY}):")
    print(_table(summary))
    print(json.dumps({"pooled": summary["pooled"], "folds": len(summary["folds"])}, default=float))


if __name__ == "__main__":
    main()
