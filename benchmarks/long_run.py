"""Memory of one engine fed for a long time: does anything grow without bound?

Usage::

    python benchmarks/long_run.py [VIDEO] [--frames 20000] [--clip 300] [--gap 40] [--every 2000]

Loops the first ``--clip`` frames of VIDEO (default ``default.wmv`` beside the
checkout, as ``pipeline.py``) through :meth:`Engine.process` with increasing
timestamps at the video's frame rate, for ``--frames`` frames in all.  After
every pass of the clip, ``--gap`` blank frames follow, so the face leaves and
comes back as a new track (its id, ring and detector must then be freed).

Every ``--every`` frames it prints the process's resident memory, the live
tracks (engine, tracker, aligner), the longest detector history and the
biggest ring; the last line is a JSON object with the first and last figures.
A process that runs for days must show flat lines after the warm-up.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from pipeline import _use_checkout, decode, default_video


def rss_mb() -> float:
    """Current resident memory of this process (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path("/proc/self/statm").read_text().split()
    except OSError:
        return 0.0
    import resource

    return int(fields[1]) * resource.getpagesize() / (1024.0 * 1024.0)


def state_sizes(engine: object) -> dict[str, int]:
    """Sizes of every per-stream container the engine keeps (internals, for this probe)."""
    tracks = engine._tracks  # noqa: SLF001 - a probe of the internals
    return {
        "tracks": len(tracks),
        "tracker_tracks": len(engine._tracker.active_ids),  # noqa: SLF001
        "aligner_states": len(engine._aligner._state),  # noqa: SLF001
        "detector_history": max((len(t.detector._scores) for t in tracks.values()), default=0),  # noqa: SLF001
        "ring_capacity": max((t.ring.capacity for t in tracks.values()), default=0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video", nargs="?", default=str(default_video()))
    parser.add_argument("--frames", type=int, default=20_000, help="frames pushed in all")
    parser.add_argument("--clip", type=int, default=300, help="frames of the video looped")
    parser.add_argument("--gap", type=int, default=40, help="blank frames after each pass")
    parser.add_argument("--every", type=int, default=2_000, help="frames between reports")
    args = parser.parse_args(argv)
    _use_checkout()

    import mer_edge as me

    counts = {"--frames": args.frames, "--clip": args.clip, "--every": args.every}
    bad = [f"{name} must be >= 1, got {value}" for name, value in counts.items() if value < 1]
    if args.gap < 0:
        bad.append(f"--gap must be >= 0, got {args.gap}")
    if not Path(args.video).is_file():
        bad.append(f"no such video {args.video}")
    if bad:
        print(f"long_run.py: error: {bad[0]}", file=sys.stderr)
        return 2
    images, _stamps, _decode_ms, fps = decode(Path(args.video), args.clip)
    if not images:
        print(f"long_run.py: error: no frame could be decoded from {args.video}", file=sys.stderr)
        return 2
    period_ms = 1000.0 / (fps or 30.0)
    blank = np.zeros_like(images[0])
    loop = images + [blank] * args.gap
    rows = []
    events = 0
    with me.Engine.from_options(me.EngineOptions()) as engine:
        for index in range(args.frames):
            events += len(engine.process(loop[index % len(loop)], index * period_ms).events)
            if (index + 1) % args.every == 0:
                row = {"frame": index + 1, "rss_mb": round(rss_mb(), 1), "events": events,
                       **state_sizes(engine)}
                rows.append(row)
                print(" ".join(f"{key} {value}" for key, value in row.items()), flush=True)
        events += len(engine.flush())
    print(json.dumps({"video": Path(args.video).name, "frames": args.frames, "events": events,
                      "first": rows[0] if rows else None, "last": rows[-1] if rows else None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
