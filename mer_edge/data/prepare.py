"""Preprocessing shared by training and evaluation (no torch needed).

Faces are found and aligned once per video and cached, so training epochs
and evaluation runs only compute flow and model inputs.  Everything goes
through the runtime's own code (:class:`~mer_edge._frontend.FaceLandmarker`,
:class:`~mer_edge._alignment.FaceAligner`,
:class:`~mer_edge._flow.FlowEstimator` and :mod:`mer_edge._features`), so a
model sees in training exactly what the engine feeds it.

* :func:`align_video` / :func:`cached_alignment`: per-video aligned crops,
  frame numbers and timestamps, as an :class:`AlignedVideo` (``.npz`` cache).
* :func:`spotting_features` and :func:`spotting_labels`: per-frame model
  channels (flow from the frame ``k`` ms earlier, as the engine does) and
  the per-frame targets (positive from onset to offset + ``k``).
* :func:`recognition_sample`: the ``(T, C, S, S)`` input of one interval.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np

from .._alignment import CROP_SIZE, FaceAligner
from .._errors import DatasetError, InputError
from .._features import frame_channels, recognition_clip, sample_positions
from .._flow import FlowEstimator
from .._modelmeta import InputSpec
from .schema import Interval

__all__ = [
    "AlignedVideo",
    "align_video",
    "cached_alignment",
    "interval_alignment",
    "spotting_features",
    "spotting_labels",
    "spotting_windows",
    "recognition_sample",
    "reference_indices",
]

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
_CACHE_VERSION = "1"


@dataclass(frozen=True)
class AlignedVideo:
    """Aligned grey crops of the (single, largest) face of one video.

    Attributes:
        crops: ``(N, CROP_SIZE, CROP_SIZE) uint8``; a frame without a face
            repeats the previous crop (``found`` is False there).
        frames: ``(N,) int64`` the dataset's frame numbers.
        timestamps_ms: ``(N,) float64`` timestamps.
        found: ``(N,) bool`` whether a face was found in the frame.
        fps: frame rate, frames per second.
        source: the video file or frames folder.
    """

    crops: np.ndarray
    frames: np.ndarray
    timestamps_ms: np.ndarray
    found: np.ndarray
    fps: float
    source: str

    def __post_init__(self) -> None:
        count = len(self.frames)
        if self.crops.shape != (count, CROP_SIZE, CROP_SIZE) or self.crops.dtype != np.uint8:
            raise InputError(f"crops: expected ({count}, {CROP_SIZE}, {CROP_SIZE}) uint8, "
                             f"got {self.crops.shape} {self.crops.dtype}")
        if self.timestamps_ms.shape != (count,) or self.found.shape != (count,):
            raise InputError(f"timestamps/found: expected ({count},), got "
                             f"{self.timestamps_ms.shape}/{self.found.shape}")
        if not self.fps > 0:
            raise InputError(f"fps must be > 0, got {self.fps}")

    def __len__(self) -> int:
        return len(self.frames)

    def index_of(self, frame: int) -> int:
        """Position of the nearest cached frame to dataset frame number ``frame``."""
        position = int(np.searchsorted(self.frames, frame))
        if position >= len(self.frames):
            return len(self.frames) - 1
        if position > 0 and frame - self.frames[position - 1] < self.frames[position] - frame:
            return position - 1
        return position

    def save(self, path: Path) -> None:
        np.savez_compressed(path, crops=self.crops, frames=self.frames,
                            timestamps_ms=self.timestamps_ms, found=self.found,
                            fps=np.float64(self.fps), source=np.str_(self.source))

    @classmethod
    def load(cls, path: Path) -> "AlignedVideo":
        with np.load(path) as data:
            return cls(data["crops"], data["frames"].astype(np.int64),
                       data["timestamps_ms"].astype(np.float64), data["found"].astype(bool),
                       float(data["fps"]), str(data["source"]))


def _frame_number(path: Path) -> int | None:
    numbers = re.findall(r"\d+", path.stem)
    return int(numbers[-1]) if numbers else None


def _read_frames(source: Path, first_frame: int, max_frames: int | None
                 ) -> Iterable[tuple[int, np.ndarray]]:
    """``(frame number, BGR image)`` pairs of a video file or an image folder."""
    if source.is_dir():
        images = [p for p in source.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES]
        numbered = sorted((n, p) for p in images if (n := _frame_number(p)) is not None)
        if not numbered:
            raise DatasetError("no numbered images in the frames folder", path=str(source))
        for count, (number, path) in enumerate(numbered):
            if max_frames is not None and count >= max_frames:
                return
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise DatasetError("unreadable image", path=str(path))
            yield number, image
        return
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise DatasetError("cannot open the video", path=str(source))
    try:
        index = 0
        while max_frames is None or index < max_frames:
            ok, image = capture.read()
            if not ok:
                break
            yield first_frame + index, image
            index += 1
    finally:
        capture.release()


def _video_fps(source: Path) -> float:
    if source.is_dir():
        return 0.0
    capture = cv2.VideoCapture(str(source))
    fps = float(capture.get(cv2.CAP_PROP_FPS)) if capture.isOpened() else 0.0
    capture.release()
    return fps if np.isfinite(fps) and fps > 0 else 0.0


def align_video(source: str | os.PathLike, *, fps: float | None = None, first_frame: int = 1,
                max_frames: int | None = None, smoothing: float = 0.5) -> AlignedVideo:
    """Find, track and align the face of every frame of ``source``.

    Args:
        source: a video file or a folder of numbered images.
        fps: frame rate; default the container's (required for folders).
        first_frame: dataset frame number of a video's first frame (the
            CAS(ME)^2-style sheets count from 1).
        max_frames: stop after this many frames.
        smoothing: :class:`FaceAligner` smoothing, as the engine's default.
    """
    from .._frontend import FaceLandmarker

    path = Path(source)
    rate = float(fps) if fps else _video_fps(path)
    if rate <= 0:
        raise DatasetError("unknown frame rate: pass fps", path=str(path))
    aligner = FaceAligner(smoothing)
    crops, numbers, found = [], [], []
    previous = np.zeros((CROP_SIZE, CROP_SIZE), np.uint8)
    with FaceLandmarker(max_faces=1) as landmarker:
        for number, image in _read_frames(path, first_frame, max_frames):
            faces = landmarker.detect(image)
            if faces:
                gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
                previous = aligner.align(gray, faces[0].landmarks).crop
            crops.append(previous)
            numbers.append(number)
            found.append(bool(faces))
    if not crops:
        raise DatasetError("no frames could be read", path=str(path))
    frames = np.asarray(numbers, np.int64)
    stamps = (frames - frames[0]).astype(np.float64) * 1000.0 / rate
    # Frames before the first face repeat the first aligned crop.
    crops_array = np.stack(crops)
    found_array = np.asarray(found)
    if found_array.any() and not found_array[0]:
        crops_array[: int(np.argmax(found_array))] = crops_array[int(np.argmax(found_array))]
    return AlignedVideo(crops_array, frames, stamps, found_array, rate, str(path))


def cached_alignment(source: str | os.PathLike, cache_dir: str | os.PathLike, **kwargs: object
                     ) -> AlignedVideo:
    """:func:`align_video` with an ``.npz`` cache keyed by path, size, mtime and arguments."""
    path = Path(source).resolve()
    stat = path.stat()
    key = "|".join([_CACHE_VERSION, str(path), str(stat.st_size), str(int(stat.st_mtime)),
                    repr(sorted(kwargs.items()))])
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]
    cache = Path(cache_dir) / f"{path.stem}-{digest}.npz"
    if cache.is_file():
        return AlignedVideo.load(cache)
    video = align_video(path, **kwargs)  # type: ignore[arg-type]
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(".tmp.npz")
    video.save(partial)
    partial.replace(cache)
    return video


def interval_alignment(interval: Interval, cache_dir: str | os.PathLike) -> AlignedVideo:
    """The cached alignment of the clip an interval lies in (video or frames folder)."""
    source = interval.video_path or interval.frames_dir
    if source is None:
        raise DatasetError(f"interval {interval.name or interval.clip!r} has no video_path or "
                           "frames_dir: attach the media with the loader first")
    return cached_alignment(source, cache_dir, fps=interval.fps)


def reference_indices(video: AlignedVideo, k_ms: float) -> np.ndarray:
    """For each frame, the index of the newest frame at least ``k_ms`` older (-1: none).

    This is the engine's ``slot_at_or_before(timestamp - k_ms)``.
    """
    stamps = video.timestamps_ms
    return np.searchsorted(stamps, stamps - k_ms + 1e-6, side="right") - 1


def spotting_features(video: AlignedVideo, spec: InputSpec, k_ms: float,
                      flow: FlowEstimator | None = None) -> np.ndarray:
    """Per-frame channels ``(N, C, S, S) float32`` as the engine builds them.

    Frame ``t`` holds the flow from its reference frame (``k_ms`` earlier)
    to ``t``; frames without a reference get zero flow.
    """
    estimator = flow or FlowEstimator("ultrafast")
    needs_flow = any(c.startswith("flow") for c in spec.channels)
    references = reference_indices(video, k_ms)
    out = np.empty((len(video), len(spec.channels), spec.size, spec.size), np.float32)
    for index, reference in enumerate(references):
        motion = None
        if needs_flow and reference >= 0:
            motion = estimator(video.crops[reference], video.crops[index])
        out[index] = frame_channels(spec, video.crops[index], motion)
    return out


def spotting_labels(video: AlignedVideo, intervals: Sequence[Interval], k_ms: float
                    ) -> np.ndarray:
    """Per-frame targets ``(N,) float32``: 1 from onset to offset + ``k`` frames, else 0.

    Intervals without an offset use the apex (or onset) as the end.
    """
    k_frames = int(round(k_ms * video.fps / 1000.0))
    labels = np.zeros(len(video), np.float32)
    for interval in intervals:
        end = interval.offset if interval.offset is not None else (interval.apex or interval.onset)
        labels[(video.frames >= interval.onset) & (video.frames <= end + k_frames)] = 1.0
    return labels


def spotting_windows(video: AlignedVideo, frames: int, k_ms: float) -> np.ndarray:
    """End indices of the windows the engine would score: a reference exists
    and every frame of the ``frames``-long window (and its reference) has a face."""
    references = reference_indices(video, k_ms)
    ends = []
    for end in range(len(video)):
        reference = references[end]
        if reference < 0:
            continue
        start = max(0, end - frames + 1)
        lo = max(0, min(start, reference))
        if video.found[lo:end + 1].all():
            ends.append(end)
    return np.asarray(ends, np.int64)


def recognition_sample(video: AlignedVideo, interval: Interval, spec: InputSpec,
                       flow: FlowEstimator | None = None, *, shift: int = 0) -> np.ndarray:
    """The recognition input ``(T, C, S, S)`` of an interval, as the engine builds it.

    Frames ``max(T, 2)`` are sampled from onset to apex (the middle of the
    interval when the apex is not annotated); ``shift`` moves the apex by
    that many frames (a training augmentation).
    """
    estimator = flow or FlowEstimator("ultrafast")
    apex = interval.apex
    if apex is None:
        apex = (interval.onset + interval.offset) // 2 if interval.offset is not None else interval.onset
    apex = max(interval.onset + 1, apex + shift)
    positions = sample_positions(interval.onset, apex, max(spec.frames, 2))
    crops = [video.crops[video.index_of(int(p))] for p in positions]
    return recognition_clip(spec, crops, estimator)
