"""Writing bench media and sheets in the real datasets' layouts.

* Videos: Motion-JPEG AVI from OpenCV's own MJPEG encoder at quality 95.
  Every frame is coded on its own (no inter-frame prediction), so a frame
  the generator did not touch is coded to the same bytes in the injected and
  in the clean copy: compression cannot leak where movements are.  (FFV1
  would be lossless but is ~5x larger and slower: ~150 kB a 640x480 frame.)
* Frames: ``img<k>.jpg`` at JPEG quality 95, like CASME II.
* CAS(ME)^2 sheet: no header; subject index, interval name, onset, apex,
  offset, AUs, emotion category, expression type, emotion, duration
  (``offset - onset``) and ``sNN/NN_0101name`` (the updated CSV's columns).
* CASME II sheet: Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame,
  Action Units, Estimated Emotion.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..._errors import DatasetError

__all__ = ["JPEG_QUALITY", "VIDEO_FOURCC", "VideoSink", "write_jpeg", "CasmeSqRow",
           "Casme2Row", "write_casme_sq_sheet", "write_casme2_sheet", "CASME2_HEADER"]

#: JPEG quality of video frames and frame folders.
JPEG_QUALITY = 95
#: Codec of the bench videos.
VIDEO_FOURCC = "MJPG"
#: Header row of the CASME II coding sheet.
CASME2_HEADER = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame",
                 "Action Units", "Estimated Emotion")


class VideoSink:
    """An MJPG ``.avi`` writer that checks what it writes.

    Raises:
        DatasetError: the file cannot be created or a frame has the wrong size.
    """

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.size = size
        self.frames = 0
        self._writer = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG,
                                       cv2.VideoWriter_fourcc(*VIDEO_FOURCC), float(fps), size,
                                       [cv2.VIDEOWRITER_PROP_QUALITY, JPEG_QUALITY])
        if not self._writer.isOpened():
            raise DatasetError("cannot create an MJPG video", path=str(path))

    def write(self, frame: np.ndarray) -> None:
        """Append one ``(H, W, 3) uint8`` BGR frame."""
        if (frame.shape[1], frame.shape[0]) != self.size:
            raise DatasetError(f"frame {self.frames}: expected {self.size[0]}x{self.size[1]}, "
                               f"got {frame.shape[1]}x{frame.shape[0]}", path=str(self.path))
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> None:
        """Finish the file.  Calling it again does nothing."""
        self._writer.release()

    def __enter__(self) -> VideoSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_jpeg(path: Path, frame: np.ndarray) -> None:
    """Write one frame as JPEG at :data:`JPEG_QUALITY`, creating folders.

    Raises:
        DatasetError: the file cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise DatasetError("cannot write JPEG frame", path=str(path))


@dataclass(frozen=True)
class CasmeSqRow:
    """One CAS(ME)^2 sheet row; frames are 1-based like the real sheet."""

    subject: int
    name: str
    onset: int
    apex: int
    offset: int
    aus: str
    category: str
    kind: str
    emotion: str
    video: str

    def cells(self) -> list[str | int]:
        """The eleven cells in the updated CSV's order."""
        kind = "micro-expression" if self.kind == "ME" else "macro-expression"
        return [self.subject, self.name, self.onset, self.apex, self.offset, self.aus,
                self.category, kind, self.emotion, self.offset - self.onset, self.video]


@dataclass(frozen=True)
class Casme2Row:
    """One CASME II coding-sheet row; frames are the clip's ``img<k>.jpg`` numbers."""

    subject: str
    filename: str
    onset: int
    apex: int
    offset: int
    aus: str
    emotion: str

    def cells(self) -> list[str | int]:
        """The seven cells in :data:`CASME2_HEADER` order."""
        return [self.subject, self.filename, self.onset, self.apex, self.offset, self.aus,
                self.emotion]


def _write_csv(path: Path, rows: Iterable[Sequence[str | int]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, lineterminator="\n").writerows(rows)
    except OSError as exc:
        raise DatasetError(f"cannot write sheet: {exc}", path=str(path)) from exc


def write_casme_sq_sheet(path: Path, rows: Sequence[CasmeSqRow]) -> None:
    """Write a headerless CAS(ME)^2 sheet (see the module docstring)."""
    _write_csv(path, (row.cells() for row in rows))


def write_casme2_sheet(path: Path, rows: Sequence[Casme2Row]) -> None:
    """Write a CASME II coding sheet with its header row."""
    _write_csv(path, [list(CASME2_HEADER), *(row.cells() for row in rows)])
