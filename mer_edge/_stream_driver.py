"""Driving an engine from a source: every frame of a file, or a live stream.

:meth:`Engine.run <mer_edge._engine.Engine.run>` and
:meth:`Engine.run_live <mer_edge._engine.Engine.run_live>` keep their checks
and documentation on the engine and hand the playing to :func:`play_file` and
:func:`play_live`.  Both start a new stream when the engine has seen frames
(the intervals the earlier one left open come out first, nothing is dropped),
nudge equal or backwards source timestamps forward, and report the intervals
the end of the stream closed as a last result.

With ``EngineOptions.prefetch_landmarks`` (the default) they compute each
frame's face landmarks on a worker thread while the engine works on the
frame before (:mod:`mer_edge._prefetch`), with the results of frame-by-frame
:meth:`Engine.process <mer_edge._engine.Engine.process>` calls, in the same
order, errors included: a frame the engine refuses raises only after the
result of the frame before it has been handed on.
"""
from __future__ import annotations

import itertools
import os
from contextlib import closing, nullcontext
from typing import TYPE_CHECKING, Callable, ContextManager, Iterable, Iterator

from ._errors import InputError
from ._frame_result import FrameResult
from ._results import MicroExpression

if TYPE_CHECKING:
    from ._engine import Engine
    from ._prefetch import LandmarkPrefetch, Prefetched
    from ._sources import Frame, FrameSource

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
        with closing(_played(engine, frames)) as played:
            for frame, result in played:
                if progress is not None:
                    progress(frame.index + 1, total)
                yield result
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
        with closing(_played(engine, frames)) as played:
            for _ in played:
                processed += 1
                if should_stop is not None and should_stop():
                    break
        dropped = frames.dropped
    _deliver(engine, _end_of_stream(engine))
    return {"processed": processed, "dropped": dropped}


def _played(engine: "Engine", frames: FrameSource) -> Iterator[tuple[Frame, FrameResult]]:
    """Each frame of ``frames`` with its result, the result callback called, in order.

    Frame by frame through :meth:`Engine.process`, or with the landmarks one
    frame ahead (:func:`_played_ahead`) when the engine's options ask for it.
    """
    if engine.options.prefetch_landmarks:
        return _played_ahead(engine, frames)
    return _one_by_one(engine, frames)


def _one_by_one(engine: "Engine", frames: Iterable[Frame]) -> Iterator[tuple[Frame, FrameResult]]:
    """Each of ``frames`` through :meth:`Engine.process`, with its result."""
    for frame in frames:
        yield frame, engine.process(frame.image, _monotonic(engine, frame.timestamp_ms))


def _played_ahead(engine: "Engine", frames: FrameSource) -> Iterator[tuple[Frame, FrameResult]]:
    """As :func:`_one_by_one`, each frame's landmarks computed while the one before is processed.

    The next frame is read from ``frames`` before the current one is
    processed (for a live source only when one is already waiting: never
    wait for the camera with a frame in hand).  What reading it raises, and
    what the engine refuses it for, is raised after the current frame's
    result.  When a :meth:`Engine.reset` or :meth:`Engine.close` (from the
    result callback, or between two results) dropped the frame under way,
    it is checked and started again; when another run took the engine
    over, the rest goes frame by frame.  The worker thread ends with the
    generator, however it ends.
    """
    upcoming = iter(frames)
    with engine._prefetching() as prefetch:
        current, ticket = next(upcoming, None), None
        following, unread = None, None  # the frame after current, read ahead; what reading raised
        while current is not None:
            ticket = ticket or _start(engine, prefetch, current)
            if ticket is None:  # another run took the engine over
                break
            if following is None and unread is None:
                following, unread = _next_ready(upcoming, frames)
            step = engine._process_ahead(ticket, None if following is None else (
                following.image, _nudged(ticket.stamp, following.timestamp_ms)))
            if step is None:  # a reset() or close() since dropped its landmarks: start again
                ticket = None
                continue
            engine._call_back(step.result)
            yield current, step.result
            for error in (unread, step.refused):
                if error is not None:
                    raise error
            current, ticket, following = following, step.following, None
            if current is None and frames.is_live:  # none was waiting: wait for it now
                current = next(upcoming, None)
        if current is not None:
            rest = upcoming if following is None else itertools.chain([following], upcoming)
            yield from _one_by_one(engine, itertools.chain([current], rest))


def _start(engine: "Engine", prefetch: LandmarkPrefetch, frame: Frame) -> Prefetched | None:
    """``frame``'s landmarks started on ``prefetch`` (None: another run took the engine over)."""
    return engine._start_ahead(prefetch, frame.image, _monotonic(engine, frame.timestamp_ms))


def _next_ready(upcoming: Iterator[Frame], frames: FrameSource
                ) -> tuple[Frame | None, Exception | None]:
    """The next frame if it can be had without waiting for a live source, or None; and what
    reading it raised (to be raised after the current frame's result), or None."""
    if frames.is_live and not frames.frame_waiting:
        return None, None
    try:
        return next(upcoming, None), None
    except Exception as error:  # noqa: BLE001 - raised, unchanged, once the frame before is out
        return None, error


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
    return _nudged(engine._last_timestamp, stamp)


def _nudged(last: float | None, stamp: float) -> float:
    """``stamp``, or ``last`` plus 1 µs when ``stamp`` is not after it."""
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
