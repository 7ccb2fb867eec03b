"""``mer-edge eval``: spotting and recognition figures on a benchmark split or a real dataset.

``--bench DIR/test`` runs the engine (the shipped models unless ``--models``/
``--spotter``/``--recognizer`` name others) over every video of a
``make-bench`` split; ``--dataset NAME --root DIR`` over a user's copy of a
real dataset (spotting and recognition on CAS(ME)², CAS(ME)³ and SAMM long
videos; recognition on the clip datasets).  It prints the MEGC tables; the
last line is a JSON object with ``spotting`` (``ME``, ``MaE``, ``all`` ->
``precision``, ``recall``, ``f1``; absent for clip datasets), ``recognition``
(``accuracy``, ``uf1``, ``uar``) and, when the split has clean videos,
``false_me_per_minute_clean``.  ``--out`` receives ``report.json`` (with every
video's truth and detections), a confusion-matrix plot and per-video score
timelines.  Videos that cannot be read are listed and the others still
evaluated; the exit status is then 1.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import _still_check as still_check


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
                        help="model files (.onnx); each is used for the task its metadata names")
    parser.add_argument("--spotter", type=Path, default=None, help="spotting model (.onnx)")
    parser.add_argument("--recognizer", type=Path, default=None, help="recognition model (.onnx)")
    parser.add_argument("--backend", default="onnxruntime", help="inference backend")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for report.json and plots (default: BENCH/../eval_<split>, "
                             "or ./eval_<dataset>)")
    still_check.add_argument(parser)
    parser.set_defaults(handler=run)


def _model_paths(args: argparse.Namespace) -> dict[str, str | None]:
    from .._models import Model

    chosen: dict[str, str | None] = {"spotting": None, "recognition": None}
    for path in args.models or ():
        task = Model(path).info.task
        chosen[task] = str(path)
    if args.spotter is not None:
        chosen["spotting"] = str(args.spotter)
    if args.recognizer is not None:
        chosen["recognition"] = str(args.recognizer)
    return chosen


def _table(report: dict[str, Any]) -> str:
    rows = []
    if "spotting" in report:
        rows.append("kind  tp   fp   fn   precision recall f1")
        for kind in ("ME", "MaE", "all"):
            s = report["spotting"][kind]
            rows.append(f"{kind:<5} {s['tp']:<4} {s['fp']:<4} {s['fn']:<4} "
                        f"{s['precision']:<9.3f} {s['recall']:<6.3f} {s['f1']:.3f}")
    r = report["recognition"]
    rows.append(f"recognition on {r.get('samples', 0)} true MEs: accuracy {r['accuracy']:.3f}  "
                f"UF1 {r['uf1']:.3f}  UAR {r['uar']:.3f}")
    if r.get("no_face"):
        rows.append(f"  ({r['no_face']} labelled MEs left out: no face tracked around them)")
    if "false_me_per_minute_clean" in report:
        rows.append(f"false MEs per minute on clean video: {report['false_me_per_minute_clean']:.2f}"
                    f" ({report['clean_minutes']:.2f} min)")
    return "\n".join(rows)


def _check_dataset_arguments(args: argparse.Namespace) -> None:
    from .._errors import InputError

    if args.dataset is not None and args.root is None:
        raise InputError("--dataset needs --root, the dataset's folder")
    if args.dataset is None:
        given = [flag for flag, value in (("--root", args.root), ("--variant", args.variant),
                                          ("--subjects", args.subjects)) if value is not None]
        if given:
            raise InputError(f"{', '.join(given)} only apply with --dataset")


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    """The last line's JSON object."""
    summary: dict[str, Any] = {}
    if "spotting" in report:
        summary["spotting"] = {
            k: {m: report["spotting"][k][m] for m in ("precision", "recall", "f1", "tp", "fp", "fn")}
            for k in ("ME", "MaE", "all")}
    summary["recognition"] = {m: report["recognition"][m] for m in ("accuracy", "uf1", "uar")}
    if "false_me_per_minute_clean" in report:
        summary["false_me_per_minute_clean"] = report["false_me_per_minute_clean"]
    return summary


def run(args: argparse.Namespace) -> int:
    from .._options import EngineOptions
    from ..evaluation import evaluate_bench, evaluate_dataset

    _check_dataset_arguments(args)
    paths = _model_paths(args)
    options = EngineOptions(running_mode="file", spotting_model=paths["spotting"],
                            recognition_model=paths["recognition"], backend=args.backend,
                            spotting_overrides=still_check.spotting_overrides(args))

    def progress(name: str) -> None:
        print(f"eval: {name}", file=sys.stderr, flush=True)

    if args.dataset is not None:
        out = args.out or Path.cwd() / f"eval_{args.dataset}"
        report = evaluate_dataset(args.dataset, args.root, variant=args.variant,
                                  subjects=args.subjects, options=options, out_dir=out,
                                  progress=progress)
    else:
        first = args.bench[0].resolve()
        out = args.out or first.parent / f"eval_{first.name}"
        report = evaluate_bench(args.bench, options=options, out_dir=out, progress=progress)
    for skipped in report.get("skipped_intervals", []):
        print(f"eval: skipped row {skipped['row']} of {skipped['video']}: {skipped['reason']}",
              file=sys.stderr)
    for failed in report.get("failed_videos", []):
        print(f"eval: could not read {failed['video']}: {failed['error']}", file=sys.stderr)
    print(_table(report))
    print(f"eval: wrote {out / 'report.json'}")
    print(json.dumps(_summary(report), sort_keys=True), flush=True)
    return 1 if report.get("failed_videos") else 0
