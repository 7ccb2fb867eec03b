"""Spotters on the built-in still-face demo: MEs found and false detections over many seeds.

    python benchmarks/demo_spotters.py [SPOTTER.onnx ...] [--seeds 10] [--faces IMAGE ...]
        [--macro-spotter SPOTTER.onnx] [--fps 30]

For each spotter (default: the engine's default) the demo clips of seeds
``0..N-1`` (a still portrait with synthetic head motion, sensor noise and four
injected MEs each) run through the engine in push mode; it prints one line per
spotter: MEs found (MEGC rule, IoU >= 0.5), detections that overlap no truth
interval (and how many of them are MEs), and those per minute.  With ``--faces`` the clips animate those
portraits (each face with every seed) instead of the built-in one, and a line
per face comes before the pooled line.  ``--macro-spotter`` runs every spotter
with that second spotter for macro-expressions
(``EngineOptions.macro_spotting_model``).  ``--fps`` renders the clips at another
frame rate (200: a high-speed camera, as in CASME II and SAMM; the MEs keep their
durations in time).
"""
from __future__ import annotations

import argparse

import mer_edge as me
from mer_edge._demo import DemoConfig, build_demo_clip, match_events


def demo_figures(spotter: str | None, seeds: int, face: str | None = None,
                 macro_spotter: str | None = None, fps: float = 30.0) -> dict[str, float]:
    """Found / total MEs and unmatched detections of ``spotter`` over demo seeds.

    ``face``: a portrait to animate instead of the built-in one;
    ``macro_spotter``: a second spotter for macro-expressions; ``fps``: the clips' frame rate.
    """
    found = total = unmatched = unmatched_me = 0
    seconds = 0.0
    options = me.EngineOptions(spotting_model=spotter, recognize=False,
                               macro_spotting_model=macro_spotter)
    for seed in range(seeds):
        clip = build_demo_clip(DemoConfig(seed=seed, fps=fps), face=face)
        with me.Engine.from_options(options) as engine:
            detections = [event for _, stamp, frame in clip for event in engine.process(frame, stamp).events]
            detections += engine.flush()
        _, hits, extra = match_events(clip.events, detections)
        found, total, unmatched = found + hits, total + len(clip.events), unmatched + len(extra)
        unmatched_me += sum(event.interval.kind == "ME" for event in extra)
        seconds += clip.config.frames / clip.config.fps
    return {"found": found, "total": total, "unmatched": unmatched, "unmatched_me": unmatched_me,
            "unmatched_per_min": unmatched / seconds * 60.0, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spotters", nargs="*", help="spotting models (.onnx); none: the default")
    parser.add_argument("--seeds", type=int, default=10, help="demo seeds 0..N-1")
    parser.add_argument("--faces", nargs="+", metavar="IMAGE",
                        help="portraits to animate instead of the built-in one")
    parser.add_argument("--macro-spotter", metavar="SPOTTER.onnx",
                        help="a second spotter for macro-expressions, run with each spotter")
    parser.add_argument("--fps", type=float, default=30.0,
                        help="frame rate the clips are rendered at (default 30)")
    args = parser.parse_args()
    for spotter in args.spotters or [None]:
        name = spotter or "default spotter"
        if not args.faces:
            print(f"{name}: {_summary(demo_figures(spotter, args.seeds, None, args.macro_spotter, args.fps))}")
            continue
        pooled: dict[str, float] = {}
        for face in args.faces:
            figures = demo_figures(spotter, args.seeds, face, args.macro_spotter, args.fps)
            print(f"{name}, {face}: {_summary(figures)}", flush=True)
            pooled = {key: pooled.get(key, 0.0) + value for key, value in figures.items()}
        pooled["unmatched_per_min"] = pooled["unmatched"] / pooled["seconds"] * 60.0
        print(f"{name}, {len(args.faces)} faces pooled: {_summary(pooled)}")


def _summary(figures: dict[str, float]) -> str:
    """``found F/T MEs, U unmatched detections (M of them MEs) (R/min over S s)``."""
    return (f"found {figures['found']:.0f}/{figures['total']:.0f} MEs, "
            f"{figures['unmatched']:.0f} unmatched detections ({figures['unmatched_me']:.0f} of "
            f"them MEs; {figures['unmatched_per_min']:.2f}/min over {figures['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
