"""The error hierarchy of mer_edge.

Every error the SDK raises on purpose derives from :class:`MerEdgeError`, so an
embedding application can catch one type.  Errors about what the *caller* passed
(frames, timestamps, options, files) also derive from :class:`ValueError`, so
idiomatic ``except ValueError`` code keeps working.
"""
from __future__ import annotations

from typing import TypeVar

__all__ = [
    "MerEdgeError",
    "InputError",
    "SourceError",
    "ModelError",
    "BackendError",
    "DatasetError",
    "TimestampWarning",
]


class MerEdgeError(Exception):
    """Base class of every error raised deliberately by mer_edge."""


class InputError(MerEdgeError, ValueError):
    """A value passed by the caller is invalid (frame, timestamp, option...)."""


class SourceError(MerEdgeError, ValueError):
    """A video source (camera, file, folder, stream) cannot be opened or read."""


class ModelError(MerEdgeError, ValueError):
    """A model file is missing, lacks mer_edge metadata, or does not match it."""


class BackendError(MerEdgeError, RuntimeError):
    """An inference backend is unavailable or failed (provider, library, device)."""


class DatasetError(MerEdgeError, ValueError):
    """A dataset file or annotation sheet is missing or malformed.

    The message names the file and, where known, the row and column.
    """

    def __init__(self, message: str, *, path: str | None = None,
                 row: int | None = None, column: str | None = None) -> None:
        where = [p for p in (
            f"file {path}" if path is not None else None,
            f"row {row}" if row is not None else None,
            f"column {column!r}" if column is not None else None,
        ) if p]
        super().__init__(f"{message} ({', '.join(where)})" if where else message)
        self.path = path
        self.row = row
        self.column = column


class TimestampWarning(UserWarning):
    """Frame timestamps that do not look like milliseconds (microseconds; seconds are refused)."""


_Error = TypeVar("_Error", bound=BaseException)


def reworded(error: _Error, *, prefix: str = "", suffix: str = "") -> _Error:
    """A copy of ``error`` whose message reads ``prefix + str(error) + suffix``.

    For re-raising an error with where it happened (the source and frame, the
    fold) without losing what it is: the copy keeps the class and every
    attribute (:class:`DatasetError`'s ``path``, ``row``, ``column``), its
    ``__init__`` is not called again (so classes whose constructor takes other
    arguments work), its traceback is the original's, and the original stays
    reachable as ``__cause__``.  ``BaseException.add_note`` would do the same
    from Python 3.11; this works on 3.10 and keeps the message one line.
    """
    copy = type(error).__new__(type(error))
    copy.__dict__.update(vars(error))
    copy.args = (f"{prefix}{error}{suffix}",)
    copy.__cause__ = error
    copy.__suppress_context__ = True
    return copy.with_traceback(error.__traceback__)
