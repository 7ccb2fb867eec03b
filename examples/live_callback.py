"""Live camera or stream with a result callback (``running_mode="live"``).

Usage::

    python examples/live_callback.py [SOURCE] [SECONDS]

SOURCE is a webcam index (default 0), an ``rtsp://`` URL or a GStreamer
pipeline.  Frames are read in the background; when processing falls behind,
the oldest frames are dropped (and counted) so results stay current.
"""
from __future__ import annotations

import sys
import time

import mer_edge as me


def on_result(result: me.FrameResult) -> None:
    """Called by the engine for every processed frame (keep it fast)."""
    for event in result.events:
        print(f"[{result.timestamp_ms / 1000:8.2f} s] face {event.track_id}: "
              f"{event.kind} {event.label} {event.probs}")


def main(source: str, seconds: float) -> None:
    options = me.EngineOptions(running_mode="live", result_callback=on_result)
    deadline = time.monotonic() + seconds
    with me.Engine.from_options(options) as engine:
        counts = engine.run_live(source, should_stop=lambda: time.monotonic() > deadline)
    print(f"processed {counts['processed']} frames, dropped {counts['dropped']}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "0",
         float(sys.argv[2]) if len(sys.argv) > 2 else 30.0)
