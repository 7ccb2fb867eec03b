"""``mer-edge eval``: spotting and recognition figures on a benchmark split or a real dataset.

``--bench DIR/test`` runs the engine (the shipped models unless ``--models``/
``--spotter``/``--recognizer`` name others) over every video of a
``make-bench`` split; ``--dataset NAME --root DIR`` over a user's copy of a
real dataset (spotting and recognition on CAS(ME)², CAS(ME)³ and SAMM long
videos; recognition on the clip datasets).  It prints the MEGC tables; the
last line is a JSON object with ``spotting`` (``ME``, ``MaE``, ``all`` ->
``precision``, ``recall``, ``f1``; absent for clip datasets), ``recognition``
(``accuracy``, ``uf1``, ``uar``) and, when the split has clean videos,
``false_me_per_minute_clean``.  ``--no-recognize`` scores spotting only (no
recognizer is opened): the table says recognition was not run and the last
line's ``recognition`` is ``null``.  ``--out`` receives ``report.json`` (with
every video's truth and detections), a confusion-matrix plot and per-video
score timelines (with ``--macro-spotter``, its score beside the spotter's).
Videos that cannot be read are listed and the others still evaluated; the
exit status is then 1.  ``--out`` and the model files are checked before
anything runs: ``--out`` must be a folder that can be created, not a file nor
an input folder; ``--models``, ``--spotter``, ``--recognizer`` and
``--macro-spotter`` must name files.  A figure whose denominator is 0 (no
truth and no detection of a kind) is printed ``n/a`` in the table;
report.json keeps its numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from . import EXIT_OK, EXIT_PARTIAL
from . import _checks as checks
from ._models import (TASK_OPTIONS, add_backend_arguments, add_macro_spotter_argument,
                      check_model_paths, models_by_task, one_model, report_providers)


def register(subparsers: Any) -> None:
    """Add the ``eval`` subcommand."""
    from ..data import DATASETS

    parser = subparsers.add_parser("eval", help="evaluate the engine on a benchmark split or a "
                                                "real dataset")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--bench", type=Path, nargs="+",
                      help="a split folder, e.g. bench/test; several are pooled")
    what.add_argument("--dataset", choices=DATASETS,
                      help="a real dataset in its owners' layout, under --root")
    parser.add_argument("--root", type=Path, default=None, help="the --dataset folder")
    parser.add_argument("--variant", default=None,
                        help="--dataset media variant (CASME II raw/cropped, SMIC HS/VIS/NIR)")
    parser.add_argument("--subjects", nargs="+", default=None,
                        help="--dataset subjects to evaluate, as the sheet writes them")
    parser.add_argument("--models", type=Path, nargs="+", default=None,
                        help="model files (.onnx, or .engine with --backend tensorrt); each is "
                             "used for the task its metadata names")
    parser.add_argument("--spotter", type=Path, default=None, help="spotting model (.onnx)")
    parser.add_argument("--recognizer", type=Path, default=None, help="recognition model (.onnx)")
    add_macro_spotter_argument(parser)
    parser.add_argument("--no-recognize", action="store_true",
                        help="spotting figures only: recognition is not run")
    add_backend_arguments(parser)
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for report.json and plots (default: BENCH/../eval_<split>, "
                             "or ./eval_<dataset>)")
    checks.add_arguments(parser)
    parser.set_defaults(handler=run)


def _model_paths(args: argparse.Namespace) -> dict[str, str | None]:
    """The model of each task: ``--spotter``/``--recognizer``, else from ``--models``.

    At most one ``--models`` file per task, and none for a task named
    explicitly too; ``None`` means the shipped default.
    """
    from .._errors import InputError

    by_task = models_by_task(args.models or (), args.backend)
    explicit = {"spotting": args.spotter, "recognition": args.recognizer}
    chosen: dict[str, str | None] = {}
    for task, option in TASK_OPTIONS.items():
        found = by_task.get(task, [])
        if explicit[task] is not None and found:
            raise InputError(f"--models {found[0]} is a {task} model and {option} "
                             f"{explicit[task]} names one too; give only one of them")
        chosen[task] = (str(explicit[task]) if explicit[task] is not None
                        else one_model(task, found, "--models", required=False))
    return chosen


def _figure(value: float, defined: bool, width: int = 0) -> str:
    """``value`` with 3 decimals, or ``n/a`` when its denominator was 0."""
    return f"{value:<{width}.3f}" if defined else f"{'n/a':<{width}}"


def _table(report: dict[str, Any]) -> str:
    return "\n".join(_spotting_rows(report) + _recognition_rows(report["recognition"])
                     + _clean_rows(report))


def _spotting_rows(report: dict[str, Any]) -> list[str]:
    """The table's MEGC spotting rows; none for clips scored for recognition only."""
    if "spotting" not in report:
        return []
    rows = ["kind  tp   fp   fn   precision recall f1"]
    for kind in ("ME", "MaE", "all"):
        s = report["spotting"][kind]
        rows.append(f"{kind:<5} {s['tp']:<4} {s['fp']:<4} {s['fn']:<4} "
                    f"{_figure(s['precision'], s['tp'] + s['fp'] > 0, 9)} "
                    f"{_figure(s['recall'], s['tp'] + s['fn'] > 0, 6)} "
                    f"{_figure(s['f1'], s['tp'] + s['fp'] + s['fn'] > 0)}")
    return rows


def _recognition_rows(r: dict[str, Any] | None) -> list[str]:
    """The table's recognition row (``r`` None: not run, ``--no-recognize``)."""
    if r is None:
        return ["recognition: not run (--no-recognize)"]
    samples = r.get("samples", 0)
    rows = [f"recognition on {samples} true MEs: accuracy {_figure(r['accuracy'], samples > 0)}"
            f"  UF1 {_figure(r['uf1'], samples > 0)}  UAR {_figure(r['uar'], samples > 0)}"]
    if r.get("no_face"):
        rows.append(f"  ({r['no_face']} labelled MEs left out: no face tracked around them)")
    return rows


def _clean_rows(report: dict[str, Any]) -> list[str]:
    """The table's row of false MEs on clean video, when the split has clean videos."""
    if "false_me_per_minute_clean" not in report:
        return []
    return [f"false MEs per minute on clean video: {report['false_me_per_minute_clean']:.2f}"
            f" ({report['clean_minutes']:.2f} min)"]


def _check_dataset_arguments(args: argparse.Namespace) -> None:
    from .._errors import InputError

    if args.dataset is not None and args.root is None:
        raise InputError("--dataset needs --root, the dataset's folder")
    if args.dataset is None:
        given = [flag for flag, value in (("--root", args.root), ("--variant", args.variant),
                                          ("--subjects", args.subjects)) if value is not None]
        if given:
            raise InputError(f"{', '.join(given)} only apply with --dataset")


def _check_recognition_arguments(args: argparse.Namespace) -> None:
    """Refuse ``--no-recognize`` where it leaves nothing to do or another option unused."""
    from .._errors import InputError
    from ..data.schema import LONG_VIDEO_DATASETS

    if not args.no_recognize:
        return
    if args.dataset is not None and args.dataset not in LONG_VIDEO_DATASETS:
        raise InputError(f"--no-recognize: --dataset {args.dataset} is a clip dataset, scored for "
                         "recognition only: nothing to evaluate")
    if args.recognizer is not None:
        raise InputError(f"--recognizer {args.recognizer} is not used with --no-recognize; "
                         "give only one of them")


def _check_out_folder(out: Path, inputs: list[Path], given: bool) -> None:
    """Refuse, before evaluating, an output folder that cannot be written or is an input."""
    from .._errors import InputError

    name = f"--out {out}" if given else f"the output folder {out} (set another with --out)"
    if out.exists() and not out.is_dir():
        raise InputError(f"{name}: is a file, expected a folder")
    for folder in inputs:
        if folder.exists() and out.exists() and os.path.samefile(out, folder):
            raise InputError(f"{name}: is an input folder; choose another")
    existing = next(parent for parent in (out, *out.parents) if parent.exists())
    if not existing.is_dir():
        raise InputError(f"{name}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{name}: cannot write in {existing}")


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    """The last line's JSON object."""
    summary: dict[str, Any] = {}
    if "spotting" in report:
        summary["spotting"] = {
            k: {m: report["spotting"][k][m] for m in ("precision", "recall", "f1", "tp", "fp", "fn")}
            for k in ("ME", "MaE", "all")}
    recognition = report["recognition"]
    summary["recognition"] = (None if recognition is None else
                              {m: recognition[m] for m in ("accuracy", "uf1", "uar")})
    if "false_me_per_minute_clean" in report:
        summary["false_me_per_minute_clean"] = report["false_me_per_minute_clean"]
    return summary


def run(args: argparse.Namespace) -> int:
    from .._options import EngineOptions
    from ..evaluation import evaluate_bench, evaluate_dataset

    _check_dataset_arguments(args)
    _check_recognition_arguments(args)
    check_model_paths((("--spotter", args.spotter), ("--recognizer", args.recognizer),
                       ("--macro-spotter", args.macro_spotter),
                       *(("--models", path) for path in args.models or ())))
    paths = _model_paths(args)
    options = EngineOptions(running_mode="file", spotting_model=paths["spotting"],
                            recognition_model=paths["recognition"],
                            macro_spotting_model=args.macro_spotter,
                            recognize=not args.no_recognize, backend=args.backend,
                            allow_fallback=args.allow_fallback,
                            **checks.engine_options(args))

    def progress(name: str) -> None:
        print(f"eval: {name}", file=sys.stderr, flush=True)

    if args.dataset is not None:
        out = args.out or Path.cwd() / f"eval_{args.dataset}"
        _check_out_folder(out, [args.root], args.out is not None)
    else:
        first = args.bench[0].resolve()
        out = args.out or first.parent / f"eval_{first.name}"
        _check_out_folder(out, list(args.bench), args.out is not None)
    if args.dataset is not None:
        report = evaluate_dataset(args.dataset, args.root, variant=args.variant,
                                  subjects=args.subjects, options=options, out_dir=out,
                                  progress=progress)
    else:
        report = evaluate_bench(args.bench, options=options, out_dir=out, progress=progress)
    for skipped in report.get("skipped_intervals", []):
        print(f"eval: skipped row {skipped['row']} of {skipped['video']}: {skipped['reason']}",
              file=sys.stderr)
    for failed in report.get("failed_videos", []):
        print(f"eval: could not read {failed['video']}: {failed['error']}", file=sys.stderr)
    report_providers("eval", report["providers"], args.backend)
    print(_table(report))
    print(f"eval: wrote {out / 'report.json'}")
    print(json.dumps(_summary(report), sort_keys=True), flush=True)
    return EXIT_PARTIAL if report.get("failed_videos") else EXIT_OK
