"""``mer-edge eval --bench DIR/test``: spotting and recognition figures on a benchmark split.

Runs the engine (the shipped models unless ``--models``/``--spotter``/
``--recognizer`` name others) over every video of the split and prints the
MEGC tables; the last line is a JSON object with ``spotting`` (``ME``,
``MaE``, ``all`` -> ``precision``, ``recall``, ``f1``), ``recognition``
(``accuracy``, ``uf1``, ``uar``) and, when the split has clean videos,
``false_me_per_minute_clean``.  ``--out`` receives ``report.json``, a
confusion-matrix plot and per-video score timelines.
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
    parser = subparsers.add_parser("eval", help="evaluate the engine on a benchmark split")
    parser.add_argument("--bench", required=True, type=Path, nargs="+",
                        help="a split folder, e.g. bench/test; several are pooled")
    parser.add_argument("--models", type=Path, nargs="+", default=None,
                        help="model files (.onnx); each is used for the task its metadata names")
    parser.add_argument("--spotter", type=Path, default=None, help="spotting model (.onnx)")
    parser.add_argument("--recognizer", type=Path, default=None, help="recognition model (.onnx)")
    parser.add_argument("--backend", default="onnxruntime", help="inference backend")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for report.json and plots (default: BENCH/../eval_<split>)")
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
    rows = ["kind  tp   fp   fn   precision recall f1"]
    for kind in ("ME", "MaE", "all"):
        s = report["spotting"][kind]
        rows.append(f"{kind:<5} {s['tp']:<4} {s['fp']:<4} {s['fn']:<4} "
                    f"{s['precision']:<9.3f} {s['recall']:<6.3f} {s['f1']:.3f}")
    r = report["recognition"]
    rows.append(f"recognition on {r.get('samples', 0)} true MEs: accuracy {r['accuracy']:.3f}  "
                f"UF1 {r['uf1']:.3f}  UAR {r['uar']:.3f}")
    if "false_me_per_minute_clean" in report:
        rows.append(f"false MEs per minute on clean video: {report['false_me_per_minute_clean']:.2f}"
                    f" ({report['clean_minutes']:.2f} min)")
    return "\n".join(rows)


def run(args: argparse.Namespace) -> int:
    from .._options import EngineOptions
    from ..evaluation import evaluate_bench

    paths = _model_paths(args)
    options = EngineOptions(running_mode="file", spotting_model=paths["spotting"],
                            recognition_model=paths["recognition"], backend=args.backend,
                            spotting_overrides=still_check.spotting_overrides(args))
    first = args.bench[0].resolve()
    out = args.out or first.parent / f"eval_{first.name}"
    report = evaluate_bench(args.bench, options=options, out_dir=out,
                            progress=lambda name: print(f"eval: {name}", file=sys.stderr, flush=True))
    print(_table(report))
    print(f"eval: wrote {out / 'report.json'}")
    summary = {
        "spotting": {k: {m: report["spotting"][k][m] for m in ("precision", "recall", "f1", "tp", "fp", "fn")}
                     for k in ("ME", "MaE", "all")},
        "recognition": {m: report["recognition"][m] for m in ("accuracy", "uf1", "uar")},
    }
    if "false_me_per_minute_clean" in report:
        summary["false_me_per_minute_clean"] = report["false_me_per_minute_clean"]
    print(json.dumps(summary, sort_keys=True), flush=True)
    return 0
