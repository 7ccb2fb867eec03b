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
* :func:`recognition_sample`: the ``(T, C, S, S)`` input of one interval
  (sampled at :func:`recognition_positions`).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np

from .._alignment import CROP_SIZE, TEMPLATE_NAME, FaceAligner
from .._errors import DatasetError, InputError
from .._features import frame_channels, positions_at_or_before, recognition_clip, sample_positions
from .._flow import FlowEstimator
from .._modelmeta import InputSpec
from .._sources import image_files
from ._layouts import frame_number
from .schema import Interval

__all__ = [
    "AlignedVideo",
    "align_video",
    "align_tracks",
    "cached_tracks",
    "cached_alignment",
    "interval_alignment",
    "spotting_features",
    "spotting_labels",
    "spotting_windows",
    "recognition_sample",
    "recognition_positions",
    "reference_indices",
    "assign_intervals",
    "main",
]

_VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".wmv")
_CACHE_VERSION = "3"


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
        boxes: ``(N, 4) float32`` face box ``[x0, y0, x1, y1]`` in source
            pixels (the last known box where the face was not found).
        track_id: the face's tracker id in the video (0 for the first).
    """

    crops: np.ndarray
    frames: np.ndarray
    timestamps_ms: np.ndarray
    found: np.ndarray
    fps: float
    source: str
    boxes: np.ndarray | None = None
    track_id: int = 0

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

    def box_iou(self, index: int, box: Sequence[float]) -> float:
        """IoU of this face's box at position ``index`` with ``box`` (0 when not found)."""
        if self.boxes is None or not self.found[index]:
            return 0.0
        a, b = self.boxes[index], np.asarray(box, np.float64)
        inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return float(inter / union) if union > 0 else 0.0


def _save_tracks(path: Path, tracks: Sequence[AlignedVideo]) -> None:
    arrays: dict[str, np.ndarray] = {"count": np.int64(len(tracks))}
    for number, track in enumerate(tracks):
        boxes = track.boxes if track.boxes is not None else np.zeros((len(track), 4), np.float32)
        arrays.update({f"{number}_crops": track.crops, f"{number}_frames": track.frames,
                       f"{number}_timestamps_ms": track.timestamps_ms,
                       f"{number}_found": track.found, f"{number}_boxes": boxes,
                       f"{number}_meta": np.array([track.fps, track.track_id], np.float64)})
    arrays["source"] = np.str_(tracks[0].source if tracks else "")
    np.savez_compressed(path, **arrays)


def _load_tracks(path: Path) -> list[AlignedVideo]:
    with np.load(path) as data:
        source = str(data["source"])
        return [AlignedVideo(data[f"{n}_crops"], data[f"{n}_frames"].astype(np.int64),
                             data[f"{n}_timestamps_ms"].astype(np.float64),
                             data[f"{n}_found"].astype(bool), float(data[f"{n}_meta"][0]), source,
                             data[f"{n}_boxes"].astype(np.float32), int(data[f"{n}_meta"][1]))
                for n in range(int(data["count"]))]


def _read_frames(source: Path, first_frame: int, max_frames: int | None
                 ) -> Iterable[tuple[int, np.ndarray]]:
    """``(frame number, BGR image)`` pairs of a video file or an image folder."""
    if source.is_dir():
        images = [Path(p) for p in image_files(source)]  # hidden ._img1.jpg are not frames
        numbered = sorted((n, p) for p in images if (n := frame_number(p)) is not None)
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


def align_tracks(source: str | os.PathLike, *, fps: float | None = None, first_frame: int = 1,
                 max_frames: int | None = None, max_faces: int = 4, smoothing: float = 0.5,
                 min_found: float = 0.02) -> list[AlignedVideo]:
    """Find, track and align every face of ``source``, as the engine does.

    Args:
        source: a video file or a folder of numbered images.
        fps: frame rate; default the container's (required for folders).
        first_frame: dataset frame number of a video's first frame (the
            CAS(ME)^2-style sheets count from 1).
        max_frames: stop after this many frames.
        max_faces: most faces tracked per frame.
        smoothing: :class:`FaceAligner` smoothing, as the engine's default.
        min_found: drop tracks seen in fewer than this fraction of the frames.

    Returns:
        One :class:`AlignedVideo` per face track, the most often seen first.
    """
    from .._frontend import FaceLandmarker
    from .._tracking import FaceTracker

    path = Path(source)
    rate = float(fps) if fps else _video_fps(path)
    if rate <= 0:
        raise DatasetError("unknown frame rate: pass fps", path=str(path))
    aligner = FaceAligner(smoothing)
    tracker = FaceTracker()
    numbers: list[int] = []
    seen: dict[int, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
    with FaceLandmarker(max_faces=max_faces) as landmarker:
        for position, (number, image) in enumerate(_read_frames(path, first_frame, max_frames)):
            numbers.append(number)
            matched = tracker.update(landmarker.detect(image), position)
            if not matched:
                continue
            gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            for track_id, face in matched:
                crop = aligner.align(gray, face.landmarks, track_id).crop
                seen.setdefault(track_id, {})[position] = (crop, face.box)
    if not numbers:
        raise DatasetError("no frames could be read", path=str(path))
    frames = np.asarray(numbers, np.int64)
    stamps = (frames - frames[0]).astype(np.float64) * 1000.0 / rate
    tracks = []
    for track_id, items in sorted(seen.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        if len(items) < min_found * len(frames) and tracks:
            continue
        crops = np.zeros((len(frames), CROP_SIZE, CROP_SIZE), np.uint8)
        boxes = np.zeros((len(frames), 4), np.float32)
        found = np.zeros(len(frames), bool)
        first = min(items)
        last_crop, last_box = items[first]
        for position in range(len(frames)):
            if position in items:
                last_crop, last_box = items[position]
                found[position] = True
            crops[position], boxes[position] = last_crop, last_box
        tracks.append(AlignedVideo(crops, frames, stamps, found, rate, str(path), boxes, track_id))
    if not tracks:  # no face anywhere: one all-missing track keeps the frame count
        empty = np.zeros((len(frames), CROP_SIZE, CROP_SIZE), np.uint8)
        tracks.append(AlignedVideo(empty, frames, stamps, np.zeros(len(frames), bool), rate,
                                   str(path), np.zeros((len(frames), 4), np.float32)))
    return tracks


def align_video(source: str | os.PathLike, **kwargs: object) -> AlignedVideo:
    """The most often seen face of ``source`` (see :func:`align_tracks`)."""
    return align_tracks(source, **kwargs)[0]  # type: ignore[arg-type]


def _cache_digest(path: Path, kwargs: dict[str, object]) -> str:
    """Cache key: the file (path, size, mtime), the arguments and the alignment template."""
    stat = path.stat()
    key = "|".join([_CACHE_VERSION, TEMPLATE_NAME, str(path), str(stat.st_size),
                    str(int(stat.st_mtime)), repr(sorted(kwargs.items()))])
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def cached_tracks(source: str | os.PathLike, cache_dir: str | os.PathLike, *,
                  fps: float | None = None, **kwargs: object) -> list[AlignedVideo]:
    """:func:`align_tracks` with an ``.npz`` cache keyed by path, size, mtime and arguments.

    ``fps`` only sets the timestamps, so it is not part of the key: a cached
    alignment is re-timed when a different frame rate is asked for.
    """
    path = Path(source).resolve()
    cache = Path(cache_dir) / f"{path.stem}-{_cache_digest(path, kwargs)}.npz"
    if cache.is_file():
        tracks = _load_tracks(cache)
    else:
        tracks = align_tracks(path, fps=fps, **kwargs)  # type: ignore[arg-type]
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f"{cache.stem}.{os.getpid()}.partial.npz")
        _save_tracks(partial, tracks)
        partial.replace(cache)
    if fps and any(abs(track.fps - fps) > 1e-6 for track in tracks):
        tracks = [_retimed(track, float(fps)) for track in tracks]
    return tracks


def _retimed(track: AlignedVideo, fps: float) -> AlignedVideo:
    stamps = (track.frames - track.frames[0]).astype(np.float64) * 1000.0 / fps
    return AlignedVideo(track.crops, track.frames, stamps, track.found, fps, track.source,
                        track.boxes, track.track_id)


def cached_alignment(source: str | os.PathLike, cache_dir: str | os.PathLike, **kwargs: object
                     ) -> AlignedVideo:
    """The most often seen face of :func:`cached_tracks`."""
    return cached_tracks(source, cache_dir, **kwargs)[0]


def interval_alignment(interval: Interval, cache_dir: str | os.PathLike) -> AlignedVideo:
    """The cached alignment of the clip an interval lies in (video or frames folder)."""
    source = interval.video_path or interval.frames_dir
    if source is None:
        raise DatasetError(f"interval {interval.name or interval.clip!r} has no video_path or "
                           "frames_dir: attach the media with the loader first")
    return cached_alignment(source, cache_dir, fps=interval.fps)


def assign_intervals(tracks: Sequence[AlignedVideo], intervals: Sequence[Interval],
                     boxes: dict[str, Sequence[float]] | None = None, *, min_iou: float = 0.3
                     ) -> list[list[Interval]]:
    """Which face track each interval happened on.

    ``boxes`` maps an interval's ``name`` to the face box at its apex (the
    benchmark manifests give it); the track whose box overlaps most wins,
    and an interval no track overlaps by ``min_iou`` is dropped.  Intervals
    without a box go to the most often seen track (single-face datasets).
    """
    result: list[list[Interval]] = [[] for _ in tracks]
    for interval in intervals:
        box = (boxes or {}).get(interval.name)
        if box is None or len(tracks) == 1 and tracks[0].boxes is None:
            result[0].append(interval)
            continue
        apex = interval.apex if interval.apex is not None else interval.onset
        overlaps = [track.box_iou(track.index_of(apex), box) for track in tracks]
        best = int(np.argmax(overlaps))
        if overlaps[best] >= min_iou:
            result[best].append(interval)
    return result


def reference_indices(video: AlignedVideo, k_ms: float) -> np.ndarray:
    """For each frame, the index of the newest frame at least ``k_ms`` older (-1: none).

    This is the engine's ``slot_at_or_before(timestamp - k_ms)``.
    """
    stamps = video.timestamps_ms
    return positions_at_or_before(stamps, stamps - k_ms)


def spotting_features(video: AlignedVideo, spec: InputSpec, k_ms: float,
                      flow: FlowEstimator | None = None) -> np.ndarray:
    """Per-frame channels ``(N, C, S, S) float32`` as the engine builds them.

    Frame ``t`` holds the flow from its reference frame (``k_ms`` earlier)
    to ``t``; frames without a reference get zero flow.  ``flow`` defaults to the
    one ``spec`` names (its preset and compensation).
    """
    estimator = flow or FlowEstimator.for_input(spec)
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

    Intervals without an offset end at :attr:`Interval.end_frame` (the apex).
    """
    k_frames = int(round(k_ms * video.fps / 1000.0))
    labels = np.zeros(len(video), np.float32)
    for interval in intervals:
        end = interval.end_frame
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

    The crops are those of :func:`recognition_positions` (onset -> apex;
    ``shift`` moves the apex by that many frames, a training augmentation).
    """
    estimator = flow or FlowEstimator.for_input(spec)
    positions = recognition_positions(interval, spec.frames, shift=shift)
    crops = [video.crops[video.index_of(int(p))] for p in positions]
    return recognition_clip(spec, crops, estimator)


def recognition_positions(interval: Interval, frames: int, *, shift: int = 0) -> np.ndarray:
    """The frame numbers a recognition input of ``frames`` steps is sampled at, onset first.

    ``max(frames, 2)`` numbers from onset to apex (the middle of the interval
    when the apex is not annotated); ``shift`` moves the apex by that many
    frames (a training augmentation), never onto or before the onset.
    """
    apex = interval.apex
    if apex is None:
        apex = (interval.onset + interval.offset) // 2 if interval.offset is not None else interval.onset
    apex = max(interval.onset + 1, apex + shift)
    return sample_positions(interval.onset, apex, max(frames, 2))


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m mer_edge.data.prepare PATH... --cache DIR``: align videos ahead of training.

    A path may be a video, a frames folder, or a folder searched for videos.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mer_edge.data.prepare",
                                     description="Cache aligned face crops of videos.")
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--fps", type=float, default=None, help="frame rate of frames folders")
    args = parser.parse_args(argv)
    videos: list[Path] = []
    for path in args.paths:
        if path.is_dir() and not image_files(path):
            videos += sorted(p for p in path.rglob("*") if p.suffix.lower() in _VIDEO_SUFFIXES)
        else:
            videos.append(path)
    for path in videos:
        tracks = cached_tracks(path, args.cache, fps=args.fps)
        print(f"{path}: {len(tracks)} face track(s), {len(tracks[0])} frames, "
              f"face found in {tracks[0].found.mean():.0%}", flush=True)


if __name__ == "__main__":
    main()
