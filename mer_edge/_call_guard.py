"""One call at a time on an :class:`~mer_edge.Engine`, and a ``close()`` that never waits for user code.

MediaPipe's graph and the engine's per-track state are not thread-safe (two
threads in ``process()`` at once crashed the process), so a call that comes
while another runs is refused rather than waited for: its frame would
interleave with the first stream's.  ``close()`` waits for the call in
progress (one frame of the engine's own work), but not while that call runs
an observer: the observer may be waiting for that very ``close()`` (a thread
it started, then joined), so the closing is left to the call, which releases
the engine when it ends.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from ._errors import InputError

__all__ = ["CallGuard"]

#: How often a waiting :meth:`CallGuard.close` looks whether the call it waits for runs an observer.
_CLOSE_POLL_S = 0.01


class CallGuard:
    """Serialises the calls that change an engine's state and closes the engine safely.

    The engine wraps each such call in :meth:`exclusive` and the user code it
    runs inside one (crop and score observers) in :meth:`observer`; its
    ``close()`` is :meth:`close`.  What closing does is the ``release``
    function the engine passes to :meth:`exclusive` and :meth:`close` (it must
    be idempotent): the guard keeps no reference to the engine, so an engine
    nobody holds is still closed at once by its finaliser.
    """

    def __init__(self) -> None:
        #: Held while a call runs (see :meth:`exclusive`).
        self._busy = threading.Lock()
        self._busy_thread: int | None = None
        #: Guards a close left to the running call, asked while it ran an observer.
        self._closing = threading.Lock()
        self._close_when_done = False
        self._in_observer = False

    @contextmanager
    def exclusive(self, call: str, release: Callable[[], None]) -> Iterator[None]:
        """Run the body of ``Engine.<call>()`` alone; then ``release()`` if a close was left to it.

        Raises:
            InputError: another call is running on this engine (from another
                thread, or from an observer of this one); it names ``call``.
        """
        if not self._busy.acquire(blocking=False):
            raise InputError(f"Engine.{call}() called while another call is running on this "
                             "engine (from another thread, or from a crop observer); an Engine "
                             "is not thread-safe: use one engine per thread, or a lock")
        try:
            self._busy_thread = threading.get_ident()
            yield
        finally:
            self._busy_thread = None
            try:
                with self._closing:  # a close() asked while an observer ran
                    if self._close_when_done:
                        release()
            finally:
                self._busy.release()

    @contextmanager
    def observer(self) -> Iterator[None]:
        """Mark user code running inside a call: a :meth:`close` meanwhile must not wait for it."""
        self._in_observer = True
        try:
            yield
        finally:
            self._in_observer = False

    def close(self, release: Callable[[], None]) -> None:
        """``release()`` once no call runs, or leave it to the call running an observer.

        Waits for the call another thread is running, polling every
        :data:`_CLOSE_POLL_S` seconds whether it has started an observer (then
        returns at once; the call releases when it ends).

        Raises:
            InputError: called on the thread running a call (from an observer).
        """
        if self._busy_thread == threading.get_ident():
            raise InputError("Engine.close() called from inside a call on the same engine "
                             "(a crop observer?); close it after that call returns")
        while not self._busy.acquire(timeout=_CLOSE_POLL_S):
            if self._close_after_observer():
                return
        try:
            release()
        finally:
            self._busy.release()

    def _close_after_observer(self) -> bool:
        """Leave the closing to the running call if it is running an observer; True if left."""
        with self._closing:
            self._close_when_done = self._close_when_done or self._in_observer
            return self._close_when_done
