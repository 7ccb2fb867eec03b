"""A one-frame-ahead landmark worker: frame N+1's landmarks while the engine works on frame N.

MediaPipe's graph lets go of the GIL while it runs, so the face landmarks of
the next frame can be computed on a worker thread while the engine tracks,
aligns, flows, scores and classifies the current one on the caller's
(``EngineOptions.prefetch_landmarks``).  The file and live drivers
(:mod:`mer_edge._stream_driver`) own the whole stream, so they use it;
:meth:`Engine.process <mer_edge.Engine.process>` stays synchronous.

The :class:`~mer_edge._frontend.FaceLandmarker` keeps only its own state (its
re-detection gating reads its own earlier outputs, never the engine's), so
frame N+1's landmarks are the same whether they are computed before or after
the engine's work on frame N.  One frame at most is under way.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, NamedTuple

import numpy as np

from ._frame_result import FrameResult
from ._frontend import FaceObservation
from ._lifecycle import Closeable

__all__ = ["LandmarkPrefetch", "Prefetched", "AheadStep"]

#: The worker thread's name (``threading.enumerate()`` shows it while a run is under way).
WORKER_NAME = "mer_edge-landmarks"


class Prefetched:
    """A frame whose landmarks are under way: the checked frame, its timestamp, the worker's job.

    The ticket a driver hands back to collect them (:meth:`LandmarkPrefetch.take`).
    """

    __slots__ = ("frame", "stamp", "_job")

    def __init__(self, frame: np.ndarray, stamp: float,
                 job: "Future[list[FaceObservation]]") -> None:
        self.frame = frame
        self.stamp = stamp
        self._job = job


class AheadStep(NamedTuple):
    """One frame processed with the next one's landmarks started (``Engine._process_ahead``).

    Attributes:
        result: the frame's result.
        following: the next frame's landmarks under way; None when there was
            no next frame, or it was refused.
        refused: why the next frame was refused (what ``Engine.process``
            would have raised for it), to be raised after ``result`` is
            handed on; None when it was not.
    """

    result: FrameResult
    following: Prefetched | None
    refused: Exception | None


class LandmarkPrefetch(Closeable):
    """Runs ``detect`` on one frame at a time on a worker thread, one frame ahead of the caller.

    :meth:`start` hands a frame to the worker and returns its ticket;
    :meth:`take` waits for its landmarks (raising what ``detect`` raised);
    :meth:`drop` waits for the frame under way and forgets it (before the
    landmarker is reset or closed: it must not run meanwhile).  The worker
    thread starts with the first frame and ends with :meth:`close`.
    """

    def __init__(self, detect: Callable[[np.ndarray], list[FaceObservation]]) -> None:
        self._detect = detect
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=WORKER_NAME)
        self._pending: Prefetched | None = None

    @property
    def pending(self) -> bool:
        """A frame was started and not yet taken or dropped."""
        return self._pending is not None

    def holds(self, ticket: Prefetched) -> bool:
        """``ticket`` is the frame under way (not taken, not dropped by a reset or close)."""
        return ticket is self._pending

    def start(self, frame: np.ndarray, stamp: float) -> Prefetched:
        """Start ``frame``'s landmarks on the worker; its ticket.

        Raises:
            RuntimeError: a frame is already under way (a driver's mistake),
                or the worker was closed.
        """
        if self._pending is not None:
            raise RuntimeError("LandmarkPrefetch: a frame is already under way")
        self._pending = Prefetched(frame, stamp, self._worker.submit(self._detect, frame))
        return self._pending

    def take(self, ticket: Prefetched) -> list[FaceObservation]:
        """``ticket``'s landmarks, once the worker has them; what ``detect`` raised is raised here.

        Raises:
            RuntimeError: ``ticket`` is not the frame under way (see :meth:`holds`).
        """
        if not self.holds(ticket):
            raise RuntimeError("LandmarkPrefetch: that frame is not under way")
        self._pending = None
        return ticket._job.result()

    def drop(self) -> None:
        """Wait for the frame under way, if any, and forget it (its landmarks or error)."""
        ticket, self._pending = self._pending, None
        if ticket is not None:
            ticket._job.exception()  # waits; what it raised belongs to a frame nobody will see

    def close(self) -> None:
        """Drop the frame under way and end the worker thread (idempotent)."""
        self.drop()
        self._worker.shutdown(wait=True)
