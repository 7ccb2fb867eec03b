"""``mer-edge demo``: the built-in demo, offline, in about half a minute.

Builds a clip from the portrait shipped in the package (or your own, with
``--face``) with known micro-expressions injected (see :mod:`mer_edge._demo`), runs the engine on it,
prints each detection beside the truth, writes an overlay video and a
timeline plot, and ends with the line
``demo: found N/M injected micro-expressions``.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo", help="run the built-in demo (no network, no data needed)",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", default="mer_edge_demo",
                        help="folder for the overlay video, timeline and events "
                             "(default: ./%(default)s/)")
    parser.add_argument("--seed", type=int, default=0,
                        help="fixes the schedule, AUs, head motion and noise (default: 0)")
    parser.add_argument("--no-video", action="store_true", help="do not write the overlay video")
    parser.add_argument("--events", type=int, default=4, help="micro-expressions to inject")
    parser.add_argument("--face", metavar="IMAGE",
                        help="a portrait to animate instead of the built-in one (your own photo: "
                             "the largest face in it is used)")
    parser.add_argument("--backend", default="onnxruntime", help="inference backend")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handler of ``mer-edge demo``."""
    from .._demo import DemoConfig, build_demo_clip, format_table, run_demo
    from .._options import EngineOptions

    config = DemoConfig(seed=args.seed, events=args.events)
    clip = build_demo_clip(config, face=args.face)  # a bad --face fails here, before any output
    face = f", face {args.face}" if args.face else ""
    print(f"demo: {config.frames} frames ({config.frames / config.fps:.1f} s at {config.fps:g} fps, "
          f"{config.size[0]}x{config.size[1]}), {config.events} micro-expressions injected, "
          f"seed {config.seed}{face}", flush=True)
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=config.frames, unit="frame", desc="demo", leave=False, file=sys.stderr)
    try:
        report = run_demo(clip, out_dir=args.out_dir, video=not args.no_video,
                          engine_options=EngineOptions(backend=args.backend),
                          progress=(lambda done, total: bar.update(1)) if bar else None)
    finally:
        if bar is not None:
            bar.close()
    print(format_table(report))
    models = ", ".join(f"{task}: {name}" for task, name in report.models.items())
    print(f"demo: models {models}; engine {report.stats.get('fps', 0.0):.0f} fps here")
    for what, path in report.files.items():
        print(f"demo: {what}: {path}")
    print(report.last_line(), flush=True)
    return 0
