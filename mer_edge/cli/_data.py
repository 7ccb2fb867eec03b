"""``mer-edge data``: build the semi-synthetic benchmark, inspect annotation sheets.

* ``mer-edge data make-bench --out DIR --seed N [--videos FOLDER] [--tiny]
  [--layout LAYOUT.json]`` injects micro-expressions with known ground truth
  into real face videos and writes ``DIR/{train,val,test}/`` split by
  identity, plus ``DIR/manifest.json``.  Without ``--layout`` it uses the
  team's own videos; a layout file names yours.
* ``mer-edge data animate-portrait IMAGE... --out-dir DIR [--seconds 20]
  [--seed 0]`` writes a still-face video of each portrait (head motion and
  sensor noise, no expression): sources for ``make-bench --layout`` whose
  injected movements sit on a still face, as in ME elicitation.  Its last
  line is a JSON list of the videos written.
* ``mer-edge data inspect DATASET SHEET`` reads a real annotation sheet
  (``casme2 samm smic casme_sq casme3 samm_lv mmew``) and prints, as its last
  line, a JSON object with ``rows``, ``micro``, ``macro``, ``subjects``,
  ``offset_not_annotated`` (rows that evaluations end at the apex) and
  ``emotions``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``data`` subcommand and its actions."""
    parser = subparsers.add_parser("data", help="benchmarks and dataset annotation sheets")
    actions = parser.add_subparsers(title="actions", dest="action", metavar="ACTION")
    actions.required = True

    bench = actions.add_parser("make-bench", help="semi-synthetic benchmark from real face videos")
    bench.add_argument("--out", required=True, type=Path, help="output folder")
    bench.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    bench.add_argument("--videos", type=Path, default=None,
                       help="folder of source face videos (default: $MER_EDGE_VIDEOS, else "
                            "../shared/data/videos of a developer checkout)")
    bench.add_argument("--tiny", action="store_true", help="a seconds-long bench (tests)")
    bench.add_argument("--layout", type=Path, default=None, metavar="LAYOUT.json",
                       help="which of your --videos go to which split, as which person "
                            "(see mer_edge.data.synth.layout_file); default: the team's videos")
    bench.add_argument("--overwrite", action="store_true", help="replace a previous bench in --out")
    bench.set_defaults(handler=run_make_bench)

    animate = actions.add_parser(
        "animate-portrait", help="still-face source videos from portrait photos (for make-bench)")
    animate.add_argument("faces", nargs="+", type=Path, metavar="IMAGE",
                         help="portrait photos; each one's largest face is animated")
    animate.add_argument("--out-dir", required=True, type=Path,
                         help="folder for the videos, one IMAGE-name.avi per portrait")
    animate.add_argument("--seconds", type=float, default=20.0,
                         help="length of each video (default 20: make-bench reads at most "
                              "600 frames of a source)")
    animate.add_argument("--seed", type=int, default=0,
                         help="fixes the head motion and noise; each portrait adds its position")
    animate.add_argument("--overwrite", action="store_true", help="replace existing videos")
    animate.set_defaults(handler=run_animate_portrait)

    inspect = actions.add_parser("inspect", help="summarise a dataset annotation sheet")
    inspect.add_argument("dataset", help="casme2 samm smic casme_sq casme3 samm_lv mmew")
    inspect.add_argument("sheet", type=Path, help="the sheet (.xlsx or .csv)")
    inspect.set_defaults(handler=run_inspect)


def _videos_folder(explicit: Path | None) -> Path | None:
    from ..data.synth.bench import VIDEOS_ENV, default_videos_dir

    if explicit is not None:
        return explicit
    folder = default_videos_dir()
    if folder is not None and not os.environ.get(VIDEOS_ENV):
        print(f"make-bench: using the videos in {folder} (pass --videos to choose)",
              file=sys.stderr)
    return folder  # None: make_bench explains what to pass


def run_make_bench(args: argparse.Namespace) -> int:
    from ..data.synth import make_bench

    from ..data.synth.layout_file import read_layout

    layout = read_layout(args.layout) if args.layout is not None else None
    out = make_bench(args.out, args.seed, videos_dir=_videos_folder(args.videos), tiny=args.tiny,
                     layout=layout, overwrite=args.overwrite,
                     progress=lambda line: print(line, flush=True))
    manifest = json.loads((Path(out) / "manifest.json").read_text())
    print(f"make-bench: wrote {out}")
    print(json.dumps({k: manifest[k] for k in ("seed", "splits") if k in manifest}, sort_keys=True))
    return 0


def run_animate_portrait(args: argparse.Namespace) -> int:
    from .._errors import InputError
    from .._portrait_video import animate_portrait

    missing = [str(face) for face in args.faces if not face.is_file()]
    if missing:
        raise InputError(f"portrait {missing[0]} is not a file")
    targets = [args.out_dir / f"{face.stem}.avi" for face in args.faces]
    clashing = sorted({str(t) for t in targets if targets.count(t) > 1})
    if clashing:
        raise InputError(f"two portraits would both be written to {clashing[0]}: give the "
                         "images different names")
    existing = [str(t) for t in targets if t.exists()]
    if existing and not args.overwrite:
        raise InputError(f"{existing[0]} exists: pass --overwrite to replace it")
    written = []
    for position, (face, target) in enumerate(zip(args.faces, targets)):
        animate_portrait(face, target, seconds=args.seconds, seed=args.seed + position)
        print(f"animate-portrait: {face} -> {target}", flush=True)
        written.append(str(target))
    print(json.dumps(written))
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    from ..data.loaders import inspect_main

    print(json.dumps(inspect_main(args.dataset, str(args.sheet)), sort_keys=True), flush=True)
    return 0
