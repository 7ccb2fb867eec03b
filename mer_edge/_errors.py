"""The error hierarchy of mer_edge.

Every error the SDK raises on purpose derives from :class:`MerEdgeError`, so an
embedding application can catch one type.  Errors about what the *caller* passed
(frames, timestamps, options, files) also derive from :class:`ValueError`, so
idiomatic ``except ValueError`` code keeps working.
"""
from __future__ import annotations

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
    """Frame timestamps that do not look like milliseconds (seconds, microseconds)."""
