"""Video sources: cameras, files, image folders, single images, streams.

:func:`open_source` turns what a user typed into a :class:`FrameSource`, an
iterable of upright ``(H, W, 3) uint8`` BGR :class:`Frame` objects with
timestamps in milliseconds:

* files: the container's presentation time (``CAP_PROP_POS_MSEC``) while it is
  valid and increasing, else ``index * 1000 / fps``; an ``fps`` given by the
  caller overrides the container (high-speed recordings are often stored with
  a nominal rate);
* image folders and single images: ``index * 1000 / fps`` (``fps`` defaults to
  30);
* live sources (cameras, streams, or anything opened with ``live=True``):
  ``time.monotonic()`` at grab.  A background thread reads into a bounded
  queue that drops the *oldest* frame when the consumer falls behind, so the
  camera is never blocked; :attr:`FrameSource.dropped` counts the drops.

A source that ends early says why in :attr:`FrameSource.error`: an image of a
folder that cannot be decoded, a decoder's error, or a video file that ends
well short of the frame count its container declares (OpenCV just stops
returning frames of a truncated file).  Containers' counts are estimates (a
WMV that declares 90 frames decodes 88), so a file counts as ended early only
when it is more than :data:`SHORT_FILE_FRAMES` frames *and* more than
:data:`SHORT_FILE_FRACTION` of its declared count short.

Orientation: video rotation metadata is applied (OpenCV's
``CAP_PROP_ORIENTATION_AUTO``, or a rotation here when the backend cannot), and
still images are read with their EXIF orientation applied.
"""
from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from ._errors import InputError, MerEdgeError, SourceError
from ._lifecycle import Closeable

__all__ = ["Frame", "FrameSource", "open_source", "memory_source", "image_files",
           "IMAGE_EXTENSIONS", "DEFAULT_FPS", "SHORT_FILE_FRAMES", "SHORT_FILE_FRACTION"]

_log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
"""File name endings read as still images (case-insensitive)."""
DEFAULT_FPS = 30.0
"""Frame rate assumed for image folders, and for files that do not state one."""
SHORT_FILE_FRAMES = 3
"""Frames a video file may decode fewer than its container declares and still be whole."""
SHORT_FILE_FRACTION = 0.02
"""Fraction of its declared count a video file may fall short by and still be whole."""
_OPEN_TIMEOUT_MS = 5000
_CLOSE_TIMEOUT_S = 2.0
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_URL_CREDENTIALS = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@")


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes:
        index: 0-based position in the source.  For a live source it counts
            grabbed frames, so frames dropped by the queue leave gaps.
        timestamp_ms: presentation time in milliseconds (see the module doc).
        image: ``(H, W, 3) uint8`` BGR pixels, upright.
    """

    index: int
    timestamp_ms: float
    image: np.ndarray

    def __post_init__(self) -> None:
        if self.index < 0:
            raise InputError(f"index: expected >= 0, got {self.index}")
        if not math.isfinite(self.timestamp_ms):
            raise InputError(f"timestamp_ms: expected a finite number, got {self.timestamp_ms}")
        image = self.image
        if (not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3
                or image.dtype != np.uint8):
            got = (f"shape {image.shape} dtype {image.dtype}" if isinstance(image, np.ndarray)
                   else type(image).__name__)
            raise InputError(f"image: expected (H, W, 3) uint8 BGR, got {got}")


class _Reader(ABC):
    """Decodes frames one after another; owned by a single thread at a time."""

    fps: float | None = None
    frame_count: int | None = None

    @abstractmethod
    def read(self) -> np.ndarray | None:
        """The next upright BGR image, or ``None`` at the end."""

    def position_ms(self) -> float | None:
        """The container's time of the image last read, when it has one."""
        return None

    def shortfall(self, read: int) -> str | None:
        """Why the reader ended before the end it declared, after ``read`` images; None if not."""
        return None

    def release(self) -> None:
        """Free the decoder (idempotent)."""


_ROTATIONS = {90: 0, 180: 1, 270: 2}  # degrees -> cv2.ROTATE_* code (clockwise)


class _CaptureReader(_Reader):
    """A ``cv2.VideoCapture``: file, camera, stream URL or GStreamer pipeline.

    ``file``: the path of a video file, whose end is checked against the
    frame count its container declares; None for the other sources.
    """

    def __init__(self, capture: Any, *, fps: float | None, file: str | None = None) -> None:
        import cv2

        self._cv2 = cv2
        self._capture = capture
        self._file = file
        rate = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps or (float(rate) if math.isfinite(rate) and 0 < rate < 10_000 else None)
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frame_count = int(count) if math.isfinite(count) and count > 0 else None
        # Upright frames: let the backend apply the rotation flag, else do it here.
        rotation = int(capture.get(cv2.CAP_PROP_ORIENTATION_META) or 0) % 360
        auto = (capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
                and capture.get(cv2.CAP_PROP_ORIENTATION_AUTO) == 1)
        self._rotate = None if auto or rotation not in _ROTATIONS else _ROTATIONS[rotation]

    def read(self) -> np.ndarray | None:
        if self._capture is None:
            return None
        ok, image = self._capture.read()
        if not ok or image is None:
            return None
        if image.ndim == 2:
            image = self._cv2.cvtColor(image, self._cv2.COLOR_GRAY2BGR)
        elif image.shape[2] == 4:
            image = self._cv2.cvtColor(image, self._cv2.COLOR_BGRA2BGR)
        if self._rotate is not None:
            image = self._cv2.rotate(image, self._rotate)
        return image

    def position_ms(self) -> float | None:
        if self._capture is None:
            return None
        value = self._capture.get(self._cv2.CAP_PROP_POS_MSEC)
        return float(value) if math.isfinite(value) and value >= 0 else None

    def shortfall(self, read: int) -> str | None:
        declared = self.frame_count
        if self._file is None or declared is None or not _ended_early(read, declared):
            return None
        return (f"stopped after {read} of the {declared} frames the container of {self._file} "
                "declares: the file ends early (truncated or damaged)")

    def release(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()


def _ended_early(read: int, declared: int) -> bool:
    """Whether ``read`` frames fall short of ``declared`` beyond a container's estimate."""
    short = declared - read
    return short > SHORT_FILE_FRAMES and short > SHORT_FILE_FRACTION * declared


class _ImageReader(_Reader):
    """Still images read in order (EXIF orientation applied by ``cv2.imread``)."""

    def __init__(self, paths: list[str], *, fps: float | None) -> None:
        self._paths = paths
        self._next = 0
        self.fps = fps or DEFAULT_FPS
        self.frame_count = len(paths)

    def read(self) -> np.ndarray | None:
        import cv2

        if self._next >= len(self._paths):
            return None
        path = self._paths[self._next]
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise SourceError(f"stopped after {self._next} of {len(self._paths)} images: "
                              f"{path} cannot be decoded")
        self._next += 1
        return image


class FrameSource(Closeable):
    """An iterable of :class:`Frame`; single pass; a context manager.

    Attributes:
        name: the source as given (credentials in URLs are masked).
        fps: frames per second, ``None`` when unknown.
        frame_count: number of frames, ``None`` when unknown (cameras, streams).
        is_live: frames are read by a background thread and may be dropped.
    """

    def __init__(self, reader: _Reader, *, name: str, is_live: bool, device: bool,
                 queue_size: int, container_time: bool) -> None:
        self.name = name
        self.fps = reader.fps
        self.frame_count = reader.frame_count
        self.is_live = is_live
        self._reader = reader
        self._device = device  # a real-time device (camera, stream): no pacing
        self._container_time = container_time  # trust CAP_PROP_POS_MSEC
        self._queue: deque[Frame] = deque()
        self._queue_size = queue_size
        self._dropped = 0
        self._read = 0
        self._error: str | None = None
        self._ended = False
        self._closed = False
        self._stop = threading.Event()  # wakes the reader thread out of its pacing sleep
        self._last_ms: float | None = None
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        if is_live:
            self._thread = threading.Thread(target=self._pump, name=f"mer_edge-source:{name}",
                                            daemon=True)
            self._thread.start()

    # -- reporting -------------------------------------------------------------
    @property
    def dropped(self) -> int:
        """Frames discarded because the consumer was slower than the source."""
        return self._dropped

    @property
    def frames_read(self) -> int:
        """Frames decoded so far (including dropped ones)."""
        return self._read

    @property
    def error(self) -> str | None:
        """Why iteration stopped early, ``None`` otherwise.

        An image folder's image that cannot be decoded (the message names it
        and the images played), a video file that ends short of the frame
        count its container declares (the message names the file, the frames
        read and declared; see the module doc for the tolerance), or a
        decoder's error.  Set once the source has ended.
        """
        return self._error

    @property
    def frame_waiting(self) -> bool:
        """The next frame (or the end) can be had without waiting for the source.

        Always true when not live; for a live source, true when a frame is
        queued or the source has ended.
        """
        if not self.is_live:
            return True
        with self._wake:
            return bool(self._queue) or self._ended or self._closed

    # -- iteration -------------------------------------------------------------
    def __iter__(self) -> Iterator[Frame]:
        if self._closed:
            raise SourceError(f"source {self.name} is closed")
        return self._consume() if self.is_live else self._decode()

    def _next_image(self) -> np.ndarray | None:
        """The next image from the reader; a decode error ends the source cleanly."""
        if self._ended:
            return None
        try:
            image = self._reader.read()
            reason = self._reader.shortfall(self._read) if image is None else None
        except Exception as exc:  # noqa: BLE001 - decoders raise many types; all end the source
            image = None
            reason = str(exc) if isinstance(exc, MerEdgeError) else f"{type(exc).__name__}: {exc}"
        if image is None:
            if reason is not None:
                self._error = reason
                _log.warning("source %s: stopped early after %d frames: %s", self.name,
                             self._read, reason)
            self._ended = True
            return None
        self._read += 1
        return image

    def _file_timestamp(self, index: int) -> float:
        """Container time if valid and increasing, else ``index / fps``; always increasing."""
        step = 1000.0 / (self.fps or DEFAULT_FPS)
        stamp = index * step
        if self._container_time:
            position = self._reader.position_ms()
            if position is not None and (self._last_ms is None or position > self._last_ms):
                stamp = position
        if self._last_ms is not None and stamp <= self._last_ms:
            stamp = self._last_ms + step
        self._last_ms = stamp
        return stamp

    def _decode(self) -> Iterator[Frame]:
        while not self._closed:
            image = self._next_image()
            if image is None:
                return
            index = self._read - 1
            yield Frame(index, self._file_timestamp(index), image)

    def _pump(self) -> None:
        """Background reader of a live source: never blocks on the consumer."""
        period = None if self._device or not self.fps else 1.0 / self.fps
        started = time.monotonic()
        try:
            while not self._closed:
                if period is not None:  # a file played as if it were a camera
                    delay = started + self._read * period - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                image = self._next_image()
                if image is None:
                    break
                frame = Frame(self._read - 1, time.monotonic() * 1000.0, image)
                with self._wake:
                    if len(self._queue) >= self._queue_size:
                        self._queue.popleft()
                        self._dropped += 1
                    self._queue.append(frame)
                    self._wake.notify()
        finally:
            self._reader.release()
            with self._wake:
                self._ended = True
                self._wake.notify_all()

    def _consume(self) -> Iterator[Frame]:
        while True:
            with self._wake:
                while not self._queue and not self._ended and not self._closed:
                    self._wake.wait(0.5)
                if not self._queue:
                    return
                frame = self._queue.popleft()
            yield frame

    # -- lifetime --------------------------------------------------------------
    def close(self) -> None:
        """Stop reading and release the device or file.  Calling it again does nothing."""
        if self._closed:
            return
        with self._wake:
            self._closed = True
            self._queue.clear()
            self._wake.notify_all()
        self._stop.set()
        if self._thread is not None:
            # The reader thread releases the decoder itself when it stops.
            self._thread.join(_CLOSE_TIMEOUT_S)
            if self._thread.is_alive():
                _log.warning("source %s: reader thread did not stop within %.1f s",
                             self.name, _CLOSE_TIMEOUT_S)
        else:
            self._reader.release()

    def __repr__(self) -> str:
        return (f"FrameSource(name={self.name!r}, fps={self.fps}, "
                f"frame_count={self.frame_count}, is_live={self.is_live})")


class _MemoryReader(_Reader):
    """Images already in memory, with the times they were taken at."""

    def __init__(self, images: Sequence[np.ndarray], timestamps_ms: Sequence[float]) -> None:
        if len(images) != len(timestamps_ms):
            raise InputError(f"memory_source: {len(images)} images but {len(timestamps_ms)} "
                             "timestamps")
        self._images = images
        self._stamps = timestamps_ms
        self._next = 0
        self.frame_count = len(images)

    def read(self) -> np.ndarray | None:
        if self._next >= len(self._images):
            return None
        self._next += 1
        return self._images[self._next - 1]

    def position_ms(self) -> float | None:
        return float(self._stamps[self._next - 1])


def memory_source(images: Sequence[np.ndarray], timestamps_ms: Sequence[float], *,
                  name: str = "frames in memory") -> FrameSource:
    """A file-like (not live) source handing out ``images`` at ``timestamps_ms``, nothing decoded.

    For timing an engine without the decoder, or playing frames another
    library decoded; each image is checked as it is handed out (a
    :class:`Frame`).  Timestamps that do not increase are moved forward as
    a file's are.

    Raises:
        InputError: the two sequences differ in length.
    """
    return FrameSource(_MemoryReader(images, timestamps_ms), name=name, is_live=False,
                       device=False, queue_size=1, container_time=True)


def image_files(folder: str | os.PathLike[str]) -> list[str]:
    """The still images of ``folder`` in the order a folder source plays them.

    Names ending in :data:`IMAGE_EXTENSIONS`, sorted with digit runs compared
    as numbers (``img2.jpg`` before ``img10.jpg``), as full paths.  Hidden
    files (names starting with ``.``) are not frames: macOS copies leave an
    AppleDouble ``._img1.jpg`` of metadata beside every image.
    """
    folder = os.fspath(folder)
    names = sorted((n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS)
                    and not n.startswith(".") and os.path.isfile(os.path.join(folder, n))),
                   key=_natural_key)
    return [os.path.join(folder, n) for n in names]


def _natural_key(name: str) -> list[Any]:
    """Sort key with digit runs compared as numbers: ``2.jpg`` before ``10.jpg``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _mask(url: str) -> str:
    return _URL_CREDENTIALS.sub(r"\1***@", url)


def _check_options(fps: float | None, live: bool | None, queue_size: int) -> None:
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float))
                            or not math.isfinite(fps) or fps <= 0):
        raise InputError(f"fps: expected a positive number or None, got {fps!r}")
    if live is not None and not isinstance(live, bool):
        raise InputError(f"live: expected True, False or None, got {live!r}")
    if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
        raise InputError(f"queue_size: expected an int >= 1, got {queue_size!r}")


def _open_capture(target: str | int, what: str, api: int,
                  params: list[int] | None = None) -> Any:
    """An opened ``cv2.VideoCapture`` of ``target``, or :class:`SourceError` naming ``what``."""
    import cv2

    capture = cv2.VideoCapture(target, api, params or [])
    if not capture.isOpened():
        capture.release()
        hint = ""
        if api == cv2.CAP_GSTREAMER and not cv2.videoio_registry.hasBackend(cv2.CAP_GSTREAMER):
            hint = ": this OpenCV build has no GStreamer support"
        raise SourceError(f"cannot open {what}{hint}")
    return capture


def open_source(source: str | int | os.PathLike[str], *, fps: float | None = None,
                live: bool | None = None, queue_size: int = 4) -> FrameSource:
    """Open a camera, video file, image folder, image file, stream URL or pipeline.

    Args:
        source: a webcam index (``0`` or ``"0"``); a video file; a folder of
            images (read in natural order: ``2.jpg`` before ``10.jpg``); an
            image file; an ``rtsp://``, ``http://``... URL; or a GStreamer
            pipeline (a string containing ``!`` that is not an existing path).
        fps: the frame rate.  Overrides the container's for files (timestamps
            become ``index * 1000 / fps``), sets it for image folders (default
            30), paces a file opened with ``live=True``.
        live: read in a background thread, dropping the oldest frames when the
            consumer is slow, with ``time.monotonic()`` timestamps.  Default:
            cameras, pipelines and streams without a frame count are live;
            files, folders and images are not.
        queue_size: frames buffered for a live source.

    Raises:
        SourceError: the source does not exist, holds no images, or cannot be
            opened; the message names it.
        InputError: ``fps``, ``live`` or ``queue_size`` is invalid.
    """
    import cv2

    _check_options(fps, live, queue_size)
    device = False
    if isinstance(source, bool):
        raise InputError(f"source: expected a camera index, path or URL, got {source!r}")
    if isinstance(source, (int, np.integer)) or (isinstance(source, str)
                                                 and source.strip().isdigit()):
        index = int(source)
        name = f"camera {index}"
        if index < 0:  # OpenCV's "any camera" (-1) crashes some builds when there is none
            raise SourceError(f"cannot open {name}: camera indices start at 0")
        reader: _Reader = _CaptureReader(_open_capture(index, name, cv2.CAP_ANY), fps=fps)
        device, default_live = True, True
    elif isinstance(source, str) and "!" in source and not os.path.exists(source):
        name = source
        reader = _CaptureReader(_open_capture(source, f"GStreamer pipeline {name!r}",
                                              cv2.CAP_GSTREAMER), fps=fps)
        device, default_live = True, True
    elif isinstance(source, str) and _URL.match(source):
        name = _mask(source)
        reader = _CaptureReader(_open_capture(
            source, f"stream {name}", cv2.CAP_ANY,
            [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, _OPEN_TIMEOUT_MS]), fps=fps)
        device = default_live = reader.frame_count is None
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        name = path
        reader = _open_path(path, fps)
        default_live = False
    else:
        raise InputError(f"source: expected a camera index, path or URL, "
                         f"got {type(source).__name__}")
    return FrameSource(reader, name=name, is_live=default_live if live is None else live,
                       device=device, queue_size=queue_size, container_time=fps is None)


def _open_path(path: str, fps: float | None) -> _Reader:
    import cv2

    if not path:
        raise SourceError("source is an empty path")
    if os.path.isdir(path):
        images = image_files(path)
        if not images:
            raise SourceError(f"image folder {path} holds no {'/'.join(IMAGE_EXTENSIONS)} files")
        return _ImageReader(images, fps=fps)
    if not os.path.isfile(path):
        raise SourceError(f"no such file or folder: {path}")
    if path.lower().endswith(IMAGE_EXTENSIONS):
        if cv2.imread(path, cv2.IMREAD_REDUCED_COLOR_8) is None:
            raise SourceError(f"cannot decode image {path}")
        return _ImageReader([path], fps=fps)
    return _CaptureReader(_open_capture(path, f"video file {path}", cv2.CAP_ANY), fps=fps,
                          file=path)
