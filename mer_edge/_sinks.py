"""Writers for what the engine finds: events, face tracks and overlay video.

Every writer flushes after each record, so a reader (another process, a
``tail -f``) sees an event as soon as it is spotted and nothing written
before a crash is lost.  All writers are context managers; ``close()`` is
idempotent.

* :class:`JsonlEventWriter`: one JSON object per line, the keys of
  :meth:`MicroExpression.to_dict <mer_edge.MicroExpression.to_dict>`.
* :class:`CsvEventWriter`: the same fields as columns, ``probs`` flattened
  into one ``prob_<class>`` column per class; the header is written on open.
* :class:`TrackWriter`: JSON lines, one object per face per frame
  (:meth:`FaceTrack.to_dict <mer_edge.FaceTrack.to_dict>`).
* :class:`VideoWriter`: frames to a video file, the codec chosen from the
  suffix and checked to really open.

Use :func:`open_event_writer` to choose the event format from the suffix.
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Iterable, Mapping, Sequence, Union

import numpy as np

from ._errors import InputError
from ._results import FaceTrack, MicroExpression

__all__ = [
    "EVENT_COLUMNS",
    "EventWriter",
    "JsonlEventWriter",
    "CsvEventWriter",
    "TrackWriter",
    "VideoWriter",
    "open_event_writer",
    "open_first_video_writer",
    "VIDEO_CODECS",
]

#: Scalar event fields, in column order (``probs`` is flattened after them).
EVENT_COLUMNS: tuple[str, ...] = (
    "track_id", "type", "onset_frame", "apex_frame", "offset_frame",
    "onset_ms", "apex_ms", "offset_ms", "score", "label",
)
#: File suffix -> FourCC tried for it.
VIDEO_CODECS: dict[str, str] = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}

EventLike = Union[MicroExpression, Mapping[str, Any]]


def _as_dict(event: EventLike) -> dict[str, Any]:
    if isinstance(event, MicroExpression):
        return event.to_dict()
    if isinstance(event, Mapping):
        return dict(event)
    raise InputError(f"expected a MicroExpression or a mapping, got {type(event).__name__}")


def _write_error(what: str, path: str | os.PathLike, exc: OSError) -> InputError:
    """The error for an output that cannot be written: names what, the file and why."""
    return InputError(f"cannot write {what} to {os.fspath(path)}: {exc.strerror or exc}")


def _open_text(path: str | os.PathLike, what: str, **kwargs: Any) -> IO[str]:
    try:
        return open(path, "w", encoding="utf-8", **kwargs)
    except OSError as exc:
        raise _write_error(what, path, exc) from None


class _LineWriter:
    """Base of the text writers: an open file, flushed per record."""

    def __init__(self, path: str | os.PathLike, what: str, **open_kwargs: Any) -> None:
        self.path = Path(path)
        self._what = what
        self._file: IO[str] | None = _open_text(path, what, **open_kwargs)
        self.count = 0
        """Records written so far."""

    def _handle(self) -> IO[str]:
        if self._file is None:
            raise InputError(f"{self.path}: the writer is closed")
        return self._file

    def _emit(self, text: str, records: int) -> None:
        """Write ``text`` (``records`` records) and flush; a failing disk names the file."""
        handle = self._handle()
        try:
            handle.write(text)
            handle.flush()
        except OSError as exc:
            self._abandon()  # closing would retry the flush and fail again
            raise _write_error(self._what, self.path, exc) from None
        self.count += records

    def _abandon(self) -> None:
        """Close the file after a failed write, dropping what it could not take."""
        handle, self._file = self._file, None
        try:
            if handle is not None:
                handle.close()
        except OSError:
            pass

    def close(self) -> None:
        """Flush and close the file (idempotent)."""
        handle, self._file = self._file, None
        if handle is not None:
            try:
                handle.close()
            except OSError as exc:
                raise _write_error(self._what, self.path, exc) from None

    def __enter__(self) -> "_LineWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class EventWriter(_LineWriter):
    """Interface of the event writers: :meth:`write` one event, flushed at once."""

    def write(self, event: EventLike) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def write_all(self, events: Iterable[EventLike]) -> None:
        for event in events:
            self.write(event)


class JsonlEventWriter(EventWriter):
    """Events as JSON lines (``.jsonl``)."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__(path, "events")

    def write(self, event: EventLike) -> None:
        self._emit(json.dumps(_as_dict(event), allow_nan=False) + "\n", 1)


class CsvEventWriter(EventWriter):
    """Events as CSV (``.csv``): :data:`EVENT_COLUMNS` then ``prob_<class>``.

    Args:
        path: output file.
        class_names: recognition classes, in column order (the recogniser's
            ``class_names``; empty when recognition is off).  An event with a
            class not in this list is refused.
    """

    def __init__(self, path: str | os.PathLike, class_names: Sequence[str] = ()) -> None:
        super().__init__(path, "events", newline="")
        self.class_names = tuple(class_names)
        self.columns = EVENT_COLUMNS + tuple(f"prob_{name}" for name in self.class_names)
        self._emit(self._csv_line(self.columns), 0)

    def write(self, event: EventLike) -> None:
        record = _as_dict(event)
        missing = [name for name in EVENT_COLUMNS if name not in record]
        if missing:
            raise InputError(f"event lacks the fields {missing}")
        probs = record.get("probs") or {}
        unknown = sorted(set(probs) - set(self.class_names))
        if unknown:
            raise InputError(f"event has classes {unknown} that are not CSV columns "
                             f"(columns: {list(self.class_names)})")
        row = [record[name] for name in EVENT_COLUMNS]
        row += ["" if name not in probs else probs[name] for name in self.class_names]
        self._emit(self._csv_line(row), 1)

    @staticmethod
    def _csv_line(row: Sequence[Any]) -> str:
        """One CSV record as text (the csv module's quoting and ``\\r\\n`` ending)."""
        buffer = io.StringIO()
        csv.writer(buffer).writerow(row)
        return buffer.getvalue()


class TrackWriter(_LineWriter):
    """Face tracks as JSON lines: one object per face per frame.

    Keys: ``frame``, ``timestamp_ms``, ``track_id``, ``box`` (``[x0, y0, x1,
    y1]`` pixels) and ``score`` (null until the spotting window is full).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__(path, "tracks")

    def write(self, faces: Iterable[FaceTrack]) -> None:
        """Write the faces of one frame (nothing when there are none)."""
        self._handle()
        lines = [json.dumps(face.to_dict(), allow_nan=False) for face in faces]
        if lines:
            self._emit("\n".join(lines) + "\n", len(lines))


def open_event_writer(path: str | os.PathLike, class_names: Sequence[str] = ()) -> EventWriter:
    """A JSON-lines or CSV event writer chosen from the suffix of ``path``.

    ``.jsonl``/``.json``/``.ndjson`` write JSON lines, ``.csv`` writes CSV
    with ``class_names`` as probability columns; other suffixes are refused.
    """
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return JsonlEventWriter(path)
    if suffix == ".csv":
        return CsvEventWriter(path, class_names)
    raise InputError(f"event file {os.fspath(path)!r}: unknown format {suffix or '(no suffix)'!r};"
                     " use .jsonl or .csv")


class VideoWriter:
    """Frames to a video file; opens on the first frame (its size sets the video's).

    Args:
        path: output file; the suffix picks the codec (:data:`VIDEO_CODECS`).
        fps: frame rate written in the file.

    Raises:
        InputError: unknown suffix, bad fps, or OpenCV cannot write the file
            (no encoder for the codec, folder missing...).
    """

    def __init__(self, path: str | os.PathLike, fps: float) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_CODECS:
            raise InputError(f"video file {os.fspath(path)!r}: unsupported suffix "
                             f"{suffix or '(none)'!r}; use one of {sorted(VIDEO_CODECS)}")
        if not (fps > 0 and np.isfinite(fps)):
            raise InputError(f"video fps must be > 0, got {fps}")
        self.fps = float(fps)
        self.fourcc = VIDEO_CODECS[suffix]
        self._writer: Any = None
        self._size: tuple[int, int] | None = None
        self._closed = False
        self.count = 0

    def open(self, size: tuple[int, int]) -> None:
        """Open the file for frames of ``size = (width, height)``; raise if OpenCV cannot."""
        import cv2

        if self._writer is not None:
            return
        if not self.path.parent.is_dir():
            raise InputError(f"cannot write video to {self.path}: folder {self.path.parent} "
                             "does not exist")
        self._check_writable()
        writer = cv2.VideoWriter(os.fspath(self.path), cv2.VideoWriter_fourcc(*self.fourcc),
                                 self.fps, size)
        if not writer.isOpened():
            writer.release()
            raise InputError(f"OpenCV has no {self.fourcc} encoder for {self.path.suffix} files "
                             f"here, cannot write {self.path}; try another suffix (.avi)")
        self._writer, self._size = writer, size

    def _check_writable(self) -> None:
        """Raise naming the file when it cannot be created (OpenCV only says "not opened")."""
        existed = self.path.exists()
        try:
            with open(self.path, "ab"):
                pass
        except OSError as exc:
            raise _write_error("video", self.path, exc) from None
        if not existed:
            _remove_quietly(self.path)

    def write(self, frame: np.ndarray) -> None:
        """Append one ``(H, W, 3) uint8`` BGR frame."""
        if self._closed:
            raise InputError(f"{self.path}: the video writer is closed")
        size = (int(frame.shape[1]), int(frame.shape[0]))
        self.open(size)
        if size != self._size:
            raise InputError(f"{self.path}: frame size {size} differs from the video's {self._size}")
        self._writer.write(frame)
        self.count += 1

    def close(self) -> None:
        """Finish the file (idempotent)."""
        self._closed = True
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.release()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_first_video_writer(candidates: Sequence[str | os.PathLike], fps: float,
                            size: tuple[int, int]) -> VideoWriter:
    """Open the first of ``candidates`` that OpenCV can really write.

    Used where any container will do (the demo): ``.mp4`` where an MPEG-4
    encoder exists, else ``.avi`` (Motion JPEG).  Raises :class:`InputError`
    listing every failure when none opens.
    """
    failures = []
    for candidate in candidates:
        writer = VideoWriter(candidate, fps)
        try:
            writer.open(size)
        except InputError as exc:
            failures.append(str(exc))
            _remove_quietly(Path(candidate))
            continue
        return writer
    raise InputError("no video format can be written here: " + "; ".join(failures))


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
