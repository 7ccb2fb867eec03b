"""Reading a bench split back as intervals with the right frame rates.

The sheets of a split are read by the real loaders
(:func:`~mer_edge.data.loaders.load_dataset` with ``casme_sq`` and
``casme2``), which attach the media paths; the split's ``manifest.json``
then supplies what the real layouts cannot say: each video's native frame
rate (the loaders assume 30 and 200 fps) and which videos are clean.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..._errors import DatasetError
from ..loaders import load_dataset
from ..schema import Interval

__all__ = ["BenchVideo", "BenchSplit", "read_bench_split", "BENCH_DATASET"]

#: ``Interval.dataset`` of intervals read from a bench.
BENCH_DATASET = "synth"


@dataclass(frozen=True)
class BenchVideo:
    """One long video of a split.

    Attributes:
        path: the ``.avi`` file.
        subject: subject folder (``"s01"``).
        clip: video name (``"01_0101default"``), the intervals' ``clip``.
        identity: who it shows.
        source: the source file it was cut from.
        fps: native frame rate.
        frames: frame count.
        clean: nothing was injected (false-positive material).
    """

    path: Path
    subject: str
    clip: str
    identity: str
    source: str
    fps: float
    frames: int
    clean: bool

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return self.frames / self.fps


@dataclass(frozen=True)
class BenchSplit:
    """A split of the bench: its videos and both kinds of annotation.

    Attributes:
        root: the split folder.
        videos: every long video, clean copies included.
        spotting: CAS(ME)^2-style intervals (MEs and macro distractors) with
            ``video_path`` and the native ``fps``.
        recognition: CASME II-style ME clips with ``frames_dir`` and ``fps``.
    """

    root: Path
    videos: tuple[BenchVideo, ...]
    spotting: tuple[Interval, ...]
    recognition: tuple[Interval, ...]

    @property
    def clean_videos(self) -> tuple[BenchVideo, ...]:
        """Videos without any injected movement."""
        return tuple(video for video in self.videos if video.clean)


def _manifest(root: Path) -> dict[str, Any]:
    path = root / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read the split manifest: {exc}", path=str(path)) from exc


def read_bench_split(split_dir: str | Path) -> BenchSplit:
    """Read ``DIR/<split>`` of a bench written by :func:`~.bench.make_bench`.

    Raises:
        DatasetError: the manifest, a sheet or media are missing or do not match.
    """
    root = Path(split_dir)
    manifest = _manifest(root)
    videos = tuple(BenchVideo(root / v["video"], v["subject"], v["clip"], v["identity"],
                              v["source"], float(v["fps"]), int(v["frames"]), bool(v["clean"]))
                   for v in manifest.get("videos", []))
    fps_by_clip = {video.clip: video.fps for video in videos}
    fps_by_episode = {(c["subject"], c["filename"]): float(c["fps"])
                      for c in manifest.get("recognition_clips", [])}
    spotting: list[Interval] = []
    if manifest.get("micro", 0) + manifest.get("macro", 0) > 0:
        for item in load_dataset("casme_sq", root):
            if item.clip not in fps_by_clip:
                raise DatasetError(f"video {item.clip!r} of row {item.row} is not in the "
                                   f"manifest", path=str(root / "manifest.json"))
            spotting.append(dataclasses.replace(item, dataset=BENCH_DATASET,
                                                fps=fps_by_clip[item.clip]))
    recognition: list[Interval] = []
    if manifest.get("recognition_clips"):
        for item in load_dataset("casme2", root / "recognition"):
            key = (item.subject, item.clip)
            if key not in fps_by_episode:
                raise DatasetError(f"clip {item.clip!r} of subject {item.subject} is not in "
                                   f"the manifest", path=str(root / "manifest.json"))
            recognition.append(dataclasses.replace(item, dataset=BENCH_DATASET,
                                                   fps=fps_by_episode[key]))
    return BenchSplit(root, videos, tuple(spotting), tuple(recognition))
