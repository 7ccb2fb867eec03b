"""Reading source videos and the smoothed face-mesh tracks that fields follow.

The clean video is run once through :class:`~mer_edge._frontend.FaceLandmarker`
and :class:`~mer_edge._tracking.FaceTracker`; each track's landmarks are then
smoothed over time with a zero-phase Gaussian (offline, so no lag), because
frame-to-frame landmark jitter would otherwise turn into fake motion when a
field is attached to it.  Results are cached in memory per video segment, so
building an injected and a clean copy of one video runs the landmarker once.

Frames are decoded with OpenCV, which applies rotation metadata (a phone clip
stored portrait with ``rotate=90`` comes out upright).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..._errors import InputError, SourceError
from ._field import LEFT_EYE_OUTER, RIGHT_EYE_OUTER

__all__ = ["VideoInfo", "LandmarkTrack", "VideoLandmarks", "video_info", "iter_frames",
           "video_landmarks", "smooth_landmarks", "clear_landmark_cache"]

#: Landmark smoothing: Gaussian sigma over time, seconds.
SMOOTHING_S = 0.05
#: Tracks shorter than this many seconds are dropped.
MIN_TRACK_S = 0.5
_NOSE_TIP = 1


@dataclass(frozen=True)
class VideoInfo:
    """What a video file says about itself (after rotation metadata)."""

    path: Path
    fps: float
    frames: int
    width: int
    height: int


def _open(path: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SourceError(f"cannot open video {path}")
    return capture


_INFO_CACHE: dict[tuple[str, int, int], VideoInfo] = {}


def video_info(path: str | Path) -> VideoInfo:
    """Frame rate, decoded frame count and size of a video (frames are counted by decoding).

    Cached in memory by (file, size, modification time).

    Raises:
        SourceError: the file cannot be opened or has no frame.
    """
    source = Path(path)
    try:
        stat = source.stat()
    except OSError as exc:
        raise SourceError(f"cannot open video {source}: {exc}") from exc
    key = (str(source.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _INFO_CACHE:
        _INFO_CACHE[key] = _probe(source)
    return _INFO_CACHE[key]


def _probe(source: Path) -> VideoInfo:
    capture = _open(source)
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        count, size = 0, (0, 0)
        while capture.grab():
            if count == 0:
                ok, frame = capture.retrieve()
                if ok:
                    size = (frame.shape[1], frame.shape[0])
            count += 1
    finally:
        capture.release()
    if count == 0 or size == (0, 0):
        raise SourceError(f"video {source} has no decodable frame")
    if not np.isfinite(fps) or fps <= 0:
        raise SourceError(f"video {source} reports no frame rate ({fps})")
    return VideoInfo(source, fps, count, size[0], size[1])


def iter_frames(path: str | Path, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    """BGR frames ``start <= i < stop`` (0-based) of a video, in order.

    Raises:
        SourceError: the file cannot be opened, or ends before ``stop``.
    """
    source = Path(path)
    capture = _open(source)
    try:
        for index in range(start):
            if not capture.grab():
                raise SourceError(f"video {source} ended at frame {index}, before frame {start}")
        index = start
        while stop is None or index < stop:
            ok, frame = capture.read()
            if not ok:
                if stop is None:
                    return
                raise SourceError(f"video {source} ended at frame {index}, before frame {stop}")
            yield frame
            index += 1
    finally:
        capture.release()


def smooth_landmarks(landmarks: np.ndarray, seen: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing over time inside each run of seen frames.

    Args:
        landmarks: ``(T, N, 2)`` pixels (values where ``seen`` is False are ignored).
        seen: ``(T,)`` bool.
        sigma_frames: Gaussian sigma in frames (<= 0: no smoothing).

    Returns:
        ``(T, N, 2) float32``, NaN where not seen.
    """
    marks = np.asarray(landmarks, dtype=np.float64)
    seen = np.asarray(seen, dtype=bool)
    if marks.ndim != 3 or marks.shape[0] != seen.shape[0] or marks.shape[2] != 2:
        raise InputError(f"landmarks/seen: expected (T, N, 2) and (T,), got {marks.shape} "
                         f"and {seen.shape}")
    out = np.full(marks.shape, np.nan, dtype=np.float32)
    radius = int(np.ceil(3 * sigma_frames)) if sigma_frames > 0 else 0
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (offsets / max(sigma_frames, 1e-9)) ** 2)
    weights /= weights.sum()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], seen.view(np.int8), [0]])))
    for begin, end in zip(edges[::2], edges[1::2]):
        run = marks[begin:end]
        # Edge padding keeps the ends of a run unbiased by its absence outside.
        index = np.clip(np.arange(end - begin)[:, None] + offsets[None, :], 0, end - begin - 1)
        out[begin:end] = np.tensordot(run[index], weights, axes=([1], [0])).astype(np.float32)
    return out


@dataclass(frozen=True)
class LandmarkTrack:
    """One face over a video segment.

    Attributes:
        track_id: the tracker's id.
        landmarks: ``(T, 468, 2) float32`` smoothed pixels, NaN where not seen.
        seen: ``(T,)`` bool, the face was found in that frame.
    """

    track_id: int
    landmarks: np.ndarray
    seen: np.ndarray

    def iod(self) -> np.ndarray:
        """``(T,)`` outer-eye-corner distance in pixels (NaN where not seen)."""
        diff = self.landmarks[:, LEFT_EYE_OUTER] - self.landmarks[:, RIGHT_EYE_OUTER]
        return np.hypot(diff[:, 0], diff[:, 1])

    def frontal(self, max_offset: float = 0.3) -> np.ndarray:
        """``(T,)`` bool: the nose tip lies within ``max_offset`` IOD of the eye centre's
        perpendicular (a loose yaw limit; the fields are 2-D)."""
        right = self.landmarks[:, RIGHT_EYE_OUTER].astype(np.float64)
        left = self.landmarks[:, LEFT_EYE_OUTER].astype(np.float64)
        axis = left - right
        iod = np.hypot(axis[:, 0], axis[:, 1])
        nose = self.landmarks[:, _NOSE_TIP] - (right + left) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            along = (nose * axis).sum(axis=1) / (iod * iod)
        return self.seen & (np.abs(np.nan_to_num(along, nan=np.inf)) <= max_offset)


@dataclass(frozen=True)
class VideoLandmarks:
    """The smoothed face tracks of a video segment ``[start, stop)``."""

    info: VideoInfo
    start: int
    stop: int
    tracks: tuple[LandmarkTrack, ...]

    @property
    def frames(self) -> int:
        """Number of frames in the segment."""
        return self.stop - self.start


_CACHE: dict[tuple[str, int, int, int, int], VideoLandmarks] = {}


def clear_landmark_cache() -> None:
    """Forget every cached :func:`video_landmarks` and :func:`video_info` result."""
    _CACHE.clear()
    _INFO_CACHE.clear()


def video_landmarks(path: str | Path, start: int = 0, stop: int | None = None, *,
                    max_faces: int = 4) -> VideoLandmarks:
    """Track faces over frames ``[start, stop)`` of a video and smooth their landmarks.

    Cached in memory by (file, size, modification time, segment, max_faces).

    Raises:
        SourceError: the video cannot be read or is shorter than ``stop``.
        InputError: an empty or negative segment.
        BackendError: MediaPipe is unavailable.
    """
    from ..._frontend import FaceLandmarker
    from ..._tracking import FaceTracker

    info = video_info(path)
    stop = info.frames if stop is None else stop
    if not 0 <= start < stop <= info.frames:
        raise InputError(f"segment [{start}, {stop}) is empty or outside the "
                         f"{info.frames} frames of {info.path}")
    stat = info.path.stat()
    key = (str(info.path.resolve()), stat.st_size, stat.st_mtime_ns, start * 100003 + stop,
           max_faces)
    if key in _CACHE:
        return _CACHE[key]
    count = stop - start
    raw: dict[int, np.ndarray] = {}
    seen: dict[int, np.ndarray] = {}
    tracker = FaceTracker()
    with FaceLandmarker(max_faces=max_faces) as landmarker:
        for offset, frame in enumerate(iter_frames(info.path, start, stop)):
            for track_id, face in tracker.update(landmarker.detect(frame), offset):
                if track_id not in raw:
                    raw[track_id] = np.zeros((count, face.landmarks.shape[0], 2), np.float32)
                    seen[track_id] = np.zeros(count, dtype=bool)
                raw[track_id][offset] = face.landmarks
                seen[track_id][offset] = True
    sigma = SMOOTHING_S * info.fps
    tracks = tuple(
        LandmarkTrack(track_id, smooth_landmarks(raw[track_id], seen[track_id], sigma),
                      seen[track_id].copy())
        for track_id in sorted(raw)
        if seen[track_id].sum() >= MIN_TRACK_S * info.fps)
    result = VideoLandmarks(info, start, stop, tracks)
    _CACHE[key] = result
    return result
