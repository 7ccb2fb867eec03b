"""Driving an engine from a source: every frame of a file, or a live stream.

:meth:`Engine.run <mer_edge._engine.Engine.run>` and
:meth:`Engine.run_live <mer_edge._engine.Engine.run_live>` keep their checks
and documentation on the engine and hand the playing to :func:`play_file` and
:func:`play_live`.  Both start a new stream when the engine has seen frames
(the intervals the earlier one left open come out first, nothing is dropped),
nudge equal or backwards source timestamps forward, and report the intervals
the end of the stream closed as a last result.
"""
from __future__ import annotations

import os
from contextlib import nullcontext
from typing import TYPE_CHECKING, Callable, ContextManager, Iterator

from ._errors import InputError
from ._frame_result import FrameResult
from ._results import MicroExpression

if TYPE_CHECKING:
    from ._engine import Engine
    from ._sources import FrameSource

__all__ = ["play_file", "play_live"]


def play_file(engine: "Engine", source: str | int | os.PathLike | FrameSource, *,
              fps: float | None,
              progress: Callable[[int, int | None], None] | None) -> Iterator[FrameResult]:
    """Every frame of ``source`` through ``engine``, one result each (see :meth:`Engine.run`)."""
    with _file_source(source, fps) as frames:
        left_open = _new_stream(engine)
        if left_open is not None:
            yield left_open
        total = frames.frame_count
        last = None
        for frame in frames:
            last = engine.process(frame.image, _monotonic(engine, frame.timestamp_ms))
            if progress is not None:
                progress(frame.index + 1, total)
            yield last
    tail = _end_of_stream(engine)
    if tail is not None:
        yield tail


def play_live(engine: "Engine", source: str | int | os.PathLike, *, fps: float | None,
              should_stop: Callable[[], bool] | None) -> dict[str, int]:
    """``source`` opened live through ``engine`` until it ends or ``should_stop()``.

    Returns counts of frames processed and dropped (see :meth:`Engine.run_live`).
    """
    processed = 0
    from ._sources import open_source

    with open_source(source, fps=fps, live=True) as frames:
        _deliver(engine, _new_stream(engine))
        for frame in frames:
            engine.process(frame.image, _monotonic(engine, frame.timestamp_ms))
            processed += 1
            if should_stop is not None and should_stop():
                break
        dropped = frames.dropped
    _deliver(engine, _end_of_stream(engine))
    return {"processed": processed, "dropped": dropped}


def _new_stream(engine: "Engine") -> FrameResult | None:
    """Reset ``engine`` before a source's first frame if it has seen frames.

    Returns a result carrying the events of intervals an earlier stream
    left open (nothing is dropped), or None.
    """
    if engine._frame_index == 0:
        return None
    with engine._exclusive("reset"):  # reset(), its flush as a result at the last frame
        left_open = _at_last_frame(engine, engine._flush())
        engine._forget_stream()
    return left_open


def _end_of_stream(engine: "Engine") -> FrameResult | None:
    """:meth:`Engine.flush` as a result at the last frame, or None without events."""
    return _at_last_frame(engine, engine.flush())


def _at_last_frame(engine: "Engine", events: list[MicroExpression]) -> FrameResult | None:
    """``events`` (closed by a flush) as a result at the stream's last frame; None if none."""
    if not events:
        return None
    return FrameResult(max(engine._frame_index - 1, 0), engine._last_timestamp or 0.0, [], events)


def _deliver(engine: "Engine", result: FrameResult | None) -> None:
    """Hand a result that no frame produced to the result callback (live mode)."""
    if result is not None:
        engine._call_back(result)


def _monotonic(engine: "Engine", stamp: float) -> float:
    """Nudge equal or backwards source timestamps forward by 1 µs (sources only)."""
    last = engine._last_timestamp
    if last is not None and stamp <= last:
        return last + 1e-3
    return stamp


def _file_source(source: str | int | os.PathLike | FrameSource,
                 fps: float | None) -> ContextManager[FrameSource]:
    """``source`` opened to be played frame by frame; one already open is used as it is."""
    from ._sources import FrameSource, open_source

    if not isinstance(source, FrameSource):
        return open_source(source, fps=fps, live=False)
    if fps is not None:
        raise InputError(f"fps: {source.name} is already open; give the fps to open_source()")
    if source.is_live:
        raise InputError(f"run() plays every frame; {source.name} is live (it drops frames): "
                         "open it with live=False, or use run_live()")
    return nullcontext(source)
