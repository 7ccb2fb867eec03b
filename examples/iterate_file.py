"""Spot micro-expressions in a video file (``running_mode="file"``).

Usage::

    python examples/iterate_file.py VIDEO

Every frame is processed (nothing is dropped); events are printed as soon as
their interval closes.
"""
from __future__ import annotations

import sys

import mer_edge as me


def main(path: str) -> None:
    options = me.EngineOptions(running_mode="file")
    with me.Engine.from_options(options) as engine:
        for result in engine.run(path):
            for event in result.events:
                iv = event.interval
                print(f"{iv.kind} on face {iv.track_id}: {event.label} "
                      f"({iv.onset_ms / 1000:.2f}-{iv.offset_ms / 1000:.2f} s, score {iv.score:.2f})")
        stats = engine.stats()
    print(f"{stats['frames']} frames at {stats['fps']:.0f} fps (decode excluded)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
