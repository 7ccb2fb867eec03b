"""``mer-edge data make-bench``: a semi-synthetic spotting and recognition benchmark.

Real face videos get micro-expressions (and macro-expression distractors)
injected with known ground truth (:mod:`._inject`), and are written in the
layouts of the real datasets, split by identity (a person never appears in
two splits)::

    DIR/manifest.json                  seed, sources + sha256, splits, counts
    DIR/<split>/manifest.json          per video: fps, frames, clean, events
    DIR/<split>/spotting.csv
        CAS(ME)^2 updated-CSV layout, no header, 1-based frames
        (load_sheet("casme_sq", ...) / load_dataset("casme_sq", DIR/<split>))
    DIR/<split>/rawvideo/sNN/NN_0101title.avi
        the long videos, MJPG; clean copies end in "clean" and have no rows
    DIR/<split>/recognition/CASME2-coding-synth.csv
        CASME II coding-sheet layout (load_dataset("casme2", DIR/<split>/recognition))
    DIR/<split>/recognition/CASME2_RAW_selected/subNN/EPvv_kk/img1.jpg ...
        one raw (unaligned, full-frame) clip per micro-expression, from a few
        frames before its onset to a few after its offset

``<split>`` is ``train``, ``val`` and ``test``.  The sheets follow the real
layouts exactly, so their loaders assume the real datasets' frame rates
(CAS(ME)^2 30 fps, CASME II 200 fps); the bench keeps each video's native
rate, given in the manifests: read a split with :func:`read_bench_split`,
which puts the right ``fps`` (and media paths) on every interval.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..._errors import DatasetError, InputError
from ..._version import __version__
from ._inject import Injector, SynthEvent, plan_events
from ._landmarks import VideoInfo, VideoLandmarks, iter_frames, video_info, video_landmarks
from ._timing import EventStats
from ._writers import (JPEG_QUALITY, VIDEO_FOURCC, Casme2Row, CasmeSqRow, VideoSink,
                       write_casme2_sheet, write_casme_sq_sheet, write_jpeg)

__all__ = ["BenchSource", "DEFAULT_LAYOUT", "TINY_LAYOUT", "SPLITS", "GENERATOR_VERSION",
           "VIDEOS_ENV", "CHECKOUT_VIDEOS", "SPOTTING_SHEET", "RECOGNITION_SHEET", "make_bench",
           "default_videos_dir"]

#: Version of the generator, written into every manifest.
GENERATOR_VERSION = "1"
#: Environment variable naming the folder of source videos.
VIDEOS_ENV = "MER_EDGE_VIDEOS"
#: Where a developer checkout keeps the team's face videos: beside the repository.
CHECKOUT_VIDEOS = Path("..") / "shared" / "data" / "videos"
#: Split names, in build order.
SPLITS: tuple[str, ...] = ("train", "val", "test")
#: File name of each split's CAS(ME)^2-style sheet (the interface name of make-bench).
SPOTTING_SHEET = "spotting.csv"
#: File name of each split's CASME II-style sheet (matches ``CASME2-coding*.csv``).
RECOGNITION_SHEET = "CASME2-coding-synth.csv"
_RECOGNITION_FRAMES = "CASME2_RAW_selected"
#: Longest video written, frames.
MAX_FRAMES = 600
#: Frames kept before the onset and after the offset of a recognition clip, seconds.
CLIP_PAD_S = 0.2


@dataclass(frozen=True)
class BenchSource:
    """One long video of the bench: frames ``[start, stop)`` of a source file.

    Attributes:
        file: path relative to the videos folder.
        identity: the person (or group of people) it shows; splits never share one.
        title: letters/digits used in file and interval names.
        start: first source frame (0-based).
        stop: end frame (exclusive), at most ``start + MAX_FRAMES``; ``None``
            for the end of the file, or ``MAX_FRAMES`` frames if it is longer.
        clean: write the frames without any injected movement (for false
            positives per minute); a clean copy of an injected segment shares
            its landmark pass.
        variant: tells apart two injected versions of one segment (each
            draws its own movements).
    """

    file: str
    identity: str
    title: str
    start: int = 0
    stop: int | None = None
    clean: bool = False
    variant: int = 1

    def __post_init__(self) -> None:
        if not self.title.isalnum():
            raise InputError(f"title: expected letters and digits only, got {self.title!r}")
        if self.start < 0 or (self.stop is not None and self.stop <= self.start):
            raise InputError(f"segment [{self.start}, {self.stop}) of {self.file} is empty")
        if self.stop is not None and self.stop - self.start > MAX_FRAMES:
            raise InputError(f"segment [{self.start}, {self.stop}) of {self.file} is longer "
                             f"than {MAX_FRAMES} frames; cut it into several sources")


_S = BenchSource
#: The default bench: ~5800 frames, 8 identities (identities checked by eye:
#: lp_d9 and lp_d19 are different men; the office man of 2015-10-15 may be the
#: near man of multi_face, so both are one group; default/changeLighting are
#: one man).
DEFAULT_LAYOUT: dict[str, tuple[BenchSource, ...]] = {
    "train": (
        _S("lp_d6.mp4", "lp_d6_woman", "expressive", 0, 504),
        _S("lp_d6.mp4", "lp_d6_woman", "expressive", 504, 1008),
        _S("2015-10-15-15-14.avi", "office_group", "office", 0, 421),
        _S("2015-10-15-15-14.avi", "office_group", "office", 421, 842),
        _S("multi_face.avi", "office_group", "group", 0, 351),
        _S("multi_face.avi", "office_group", "group", 351, 702),
        _S("new_face_video-90.mp4", "selfie_pair", "selfie"),
    ),
    "val": (
        _S("lp_d9.mp4", "lp_d9_man", "glasses"),
        _S("lp_d3.mp4", "lp_d3_woman", "frown"),
        _S("lp_d0.mp4", "lp_d0_man", "studio"),
    ),
    "test": (
        _S("default.wmv", "openface_man", "default"),
        _S("default.wmv", "openface_man", "default", variant=2),
        _S("default.wmv", "openface_man", "default", clean=True),
        _S("changeLighting.wmv", "openface_man", "lighting", clean=True),
        _S("lp_d19.mp4", "lp_d19_man", "subtle"),
        _S("lp_d19.mp4", "lp_d19_man", "subtle", variant=2),
        _S("lp_d19.mp4", "lp_d19_man", "subtle", clean=True),
    ),
}
#: A small bench for tests: 75-frame segments, one clean copy in test.
TINY_LAYOUT: dict[str, tuple[BenchSource, ...]] = {
    "train": (_S("lp_d6.mp4", "lp_d6_woman", "expressive", 0, 75),),
    "val": (_S("lp_d3.mp4", "lp_d3_woman", "frown", 0, 75),),
    "test": (_S("lp_d19.mp4", "lp_d19_man", "subtle", 0, 75),
             _S("lp_d19.mp4", "lp_d19_man", "subtle", 0, 75, clean=True)),
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_videos_dir() -> Path | None:
    """The folder of source face videos when the caller names none.

    ``$MER_EDGE_VIDEOS`` when it is set (even to a missing folder, so the
    error names it); else :data:`CHECKOUT_VIDEOS` of a developer checkout,
    seen from the working directory (the repository root) or from this
    package's source tree; else None: an installed package has neither.
    """
    env = os.environ.get(VIDEOS_ENV)
    if env:
        return Path(env)
    beside_source = Path(__file__).resolve().parents[3] / CHECKOUT_VIDEOS
    for folder in (CHECKOUT_VIDEOS, beside_source):
        if folder.is_dir():
            return folder
    return None


def _videos_dir(videos_dir: str | os.PathLike[str] | None) -> Path:
    if videos_dir is None:
        env = os.environ.get(VIDEOS_ENV)
        if not env:
            raise InputError(f"make_bench needs the folder of source face videos: pass "
                             f"videos_dir=... (CLI: --videos DIR) or set {VIDEOS_ENV}")
        videos_dir = env
    folder = Path(videos_dir)
    if not folder.is_dir():
        raise DatasetError("videos folder not found", path=str(folder))
    return folder


def _check_layout(layout: Mapping[str, Sequence[BenchSource]], folder: Path) -> None:
    unknown = sorted(set(layout) - set(SPLITS))
    if unknown or not layout:
        raise InputError(f"layout splits: expected some of {SPLITS}, got {sorted(layout)}")
    owners: dict[str, str] = {}
    for split, sources in layout.items():
        for source in sources:
            other = owners.setdefault(source.identity, split)
            if other != split:
                raise InputError(f"identity {source.identity!r} is in splits {other!r} and "
                                 f"{split!r}; a person must stay in one split")
    missing = sorted({s.file for sources in layout.values() for s in sources
                      if not (folder / s.file).is_file()})
    if missing:
        raise DatasetError(f"source videos missing: {', '.join(missing)}", path=str(folder))


@dataclass
class _SplitOutput:
    """What one split accumulates while it is written."""

    root: Path
    spotting: list[CasmeSqRow] = field(default_factory=list)
    coding: list[Casme2Row] = field(default_factory=list)
    videos: list[dict[str, Any]] = field(default_factory=list)
    clips: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Version:
    """One output video of a segment: its source entry and names."""

    source: BenchSource
    subject: int
    clip: str
    name_prefix: str


def _prepare_root(out_dir: Path, overwrite: bool) -> None:
    owned = [out_dir / "manifest.json", *(out_dir / split for split in SPLITS)]
    if out_dir.exists() and any(out_dir.iterdir()):
        if not overwrite:
            raise InputError(f"output folder {out_dir} is not empty; pass overwrite=True "
                             f"(CLI: --overwrite) to replace a previous bench")
        for path in owned:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


@dataclass
class _Plan:
    """The movements of one injected version and its recognition clips."""

    version: _Version
    events: list[SynthEvent]
    injector: Injector
    clips: list[tuple[int, int, int, str]]  # event index, first frame, end frame, name


def _plan(version: _Version, landmarks: VideoLandmarks, seed: int, stats: EventStats,
          emotion_weights: Mapping[str, float] | None, episode: int, pad: int) -> _Plan:
    source = version.source
    key = f"{source.file}:{source.start}:{landmarks.stop}:{source.variant}".encode()
    rng = np.random.default_rng([int(seed), zlib.crc32(key)])
    events = plan_events(landmarks, rng, stats, emotion_weights=emotion_weights)
    clips = []
    for index, event in enumerate(events):
        if event.kind == "ME":
            name = f"EP{episode:02d}_{len(clips) + 1:02d}"
            clips.append((index, max(0, event.timing.onset - pad),
                          min(landmarks.frames, event.timing.offset + pad + 1), name))
    return _Plan(version, events, Injector(landmarks, events), clips)


def _write_segment(out: _SplitOutput, folder: Path, versions: Sequence[_Version],
                   seed: int, stats: EventStats, emotion_weights: Mapping[str, float] | None,
                   episode: int) -> int:
    """Write every version of one source segment; return the next episode number."""
    first = versions[0].source
    info = video_info(folder / first.file)
    stop = min(info.frames if first.stop is None else first.stop, first.start + MAX_FRAMES)
    if stop > info.frames:
        raise DatasetError(f"segment [{first.start}, {stop}) is past the end "
                           f"({info.frames} frames)", path=str(info.path))
    pad = max(1, int(round(CLIP_PAD_S * info.fps)))
    plans: dict[str, _Plan] = {}
    if any(not v.source.clean for v in versions):
        landmarks = video_landmarks(info.path, first.start, stop)
        for version in versions:
            if not version.source.clean:
                plans[version.clip] = _plan(version, landmarks, seed, stats, emotion_weights,
                                            episode, pad)
                episode += 1 if plans[version.clip].clips else 0
    sinks = [VideoSink(out.root / "rawvideo" / f"s{v.subject:02d}" / f"{v.clip}.avi",
                       info.fps, (info.width, info.height)) for v in versions]
    clip_root = out.root / "recognition" / _RECOGNITION_FRAMES / f"sub{versions[0].subject:02d}"
    try:
        for index, frame in enumerate(iter_frames(info.path, first.start, stop)):
            for version, sink in zip(versions, sinks):
                plan = plans.get(version.clip)
                moved = frame if plan is None else plan.injector.render(index, frame)
                sink.write(moved)
                for _, begin, end, name in plan.clips if plan is not None else ():
                    if begin <= index < end:
                        write_jpeg(clip_root / name / f"img{index - begin + 1}.jpg", moved)
    finally:
        for sink in sinks:
            sink.close()
    for version, sink in zip(versions, sinks):
        _record(out, version, plans.get(version.clip), info, (first.start, stop), sink.frames)
    return episode


def _record(out: _SplitOutput, version: _Version, plan: _Plan | None, info: VideoInfo,
            segment: tuple[int, int], frames: int) -> None:
    """Add one written video's rows and manifest entries to *out*."""
    subject = f"s{version.subject:02d}"
    video = f"rawvideo/{subject}/{version.clip}.avi"
    entry: dict[str, Any] = {
        "video": video, "subject": subject, "clip": version.clip,
        "identity": version.source.identity, "source": version.source.file,
        "source_frames": list(segment), "fps": info.fps, "frames": frames,
        "width": info.width, "height": info.height, "clean": plan is None, "events": []}
    out.videos.append(entry)
    if plan is None:
        return
    names = []
    for number, event in enumerate(plan.events, start=1):
        timing = event.timing
        row = CasmeSqRow(version.subject, f"{version.name_prefix}_{number}",
                         timing.onset + 1, timing.apex + 1, timing.offset + 1,
                         event.aus_text, event.recipe.category, event.kind,
                         event.recipe.emotion, f"{subject}/{version.clip}")
        out.spotting.append(row)
        names.append(row.name)
        warp = plan.injector.field(timing.apex)
        description = event.to_dict()
        description.update(name=row.name, onset=row.onset, apex=row.apex, offset=row.offset,
                           face_box_apex=None if warp is None else [int(v) for v in warp.box])
        entry["events"].append(description)
    for index, begin, end, name in plan.clips:
        event, timing = plan.events[index], plan.events[index].timing
        out.coding.append(Casme2Row(f"{version.subject:02d}", name, timing.onset - begin + 1,
                                    timing.apex - begin + 1, timing.offset - begin + 1,
                                    event.aus_text, event.recipe.emotion))
        out.clips.append({
            "folder": f"recognition/{_RECOGNITION_FRAMES}/sub{version.subject:02d}/{name}",
            "subject": f"{version.subject:02d}", "filename": name, "fps": info.fps,
            "frames": end - begin, "video": video, "video_first_frame": begin + 1,
            "event": names[index], "category": event.recipe.category,
            "amplitude_iod": round(event.amplitude, 5)})


def _name_versions(layout: Mapping[str, Sequence[BenchSource]]) -> dict[str, list[list[_Version]]]:
    """Subject numbers, video names and segment grouping of a layout."""
    subjects: dict[str, int] = {}
    file_numbers: dict[tuple[str, str], int] = {}
    copies: dict[tuple[str, str], int] = {}
    grouped: dict[str, list[list[_Version]]] = {}
    for split in SPLITS:
        segments: dict[tuple[str, int, int | None], list[_Version]] = {}
        for source in layout.get(split, ()):
            subject = subjects.setdefault(source.identity, len(subjects) + 1)
            per_subject = [k for k in file_numbers if k[0] == source.identity]
            file_no = file_numbers.setdefault((source.identity, source.file), len(per_subject) + 1)
            copy = copies[(source.identity, source.file)] = copies.get(
                (source.identity, source.file), 0) + 1
            suffix = "clean" if source.clean else ""
            clip = f"{subject:02d}_{file_no:02d}{copy:02d}{source.title}{suffix}"
            version = _Version(source, subject, clip, f"{source.title}{copy}")
            segments.setdefault((source.file, source.start, source.stop), []).append(version)
        # Injected versions first: they define the recognition clips.
        grouped[split] = [sorted(group, key=lambda v: v.source.clean)
                          for group in segments.values()]
    return grouped


def make_bench(out_dir: str | os.PathLike[str], seed: int, *,
               videos_dir: str | os.PathLike[str] | None = None, tiny: bool = False,
               layout: Mapping[str, Sequence[BenchSource]] | None = None,
               stats: EventStats | None = None,
               emotion_weights: Mapping[str, float] | None = None,
               overwrite: bool = False,
               progress: Callable[[str], None] | None = None) -> Path:
    """Build the semi-synthetic benchmark (layout in the module docstring).

    Args:
        out_dir: output folder (created; must be empty unless *overwrite*).
        seed: fixes every random choice; the same seed, sources and version
            give the same sheets and frames.
        videos_dir: folder of the source videos; default: the
            ``MER_EDGE_VIDEOS`` environment variable.
        tiny: build :data:`TINY_LAYOUT` (seconds, for tests) instead of
            :data:`DEFAULT_LAYOUT`.
        layout: a custom split -> sources table (overrides *tiny*).
        stats: timing and amplitude ranges (default :class:`EventStats`).
        emotion_weights: sampling weight per emotion (default
            :data:`~._recipes.DEFAULT_EMOTION_WEIGHTS`).
        overwrite: replace the bench files of a previous run in *out_dir*.
        progress: called with one line per written video.

    Returns:
        The output folder.

    Raises:
        InputError: no videos folder given, an identity in two splits, bad
            arguments, or a non-empty *out_dir* without *overwrite*.
        DatasetError: a source video is missing or shorter than its segment.
        SourceError: a source video cannot be decoded.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed: expected an int >= 0, got {seed!r}")
    started = time.monotonic()
    folder = _videos_dir(videos_dir)
    chosen = layout if layout is not None else (TINY_LAYOUT if tiny else DEFAULT_LAYOUT)
    _check_layout(chosen, folder)
    stats = EventStats() if stats is None else stats
    root = Path(out_dir)
    _prepare_root(root, overwrite)
    splits: dict[str, Any] = {}
    for split, groups in _name_versions(chosen).items():
        out = _SplitOutput(root / split)
        out.root.mkdir(parents=True, exist_ok=True)
        episode = 1
        for versions in groups:
            episode = _write_segment(out, folder, versions, int(seed), stats, emotion_weights,
                                     episode)
            if progress is not None:
                for entry in out.videos[-len(versions):]:
                    progress(f"{split}: {entry['video']} ({entry['frames']} frames, "
                             f"{len(entry['events'])} movements)")
        write_casme_sq_sheet(out.root / SPOTTING_SHEET, out.spotting)
        write_casme2_sheet(out.root / "recognition" / RECOGNITION_SHEET, out.coding)
        splits[split] = _split_summary(out)
        _write_json(out.root / "manifest.json", {
            "split": split, "generator_version": GENERATOR_VERSION,
            "spotting_sheet": SPOTTING_SHEET,
            "recognition_sheet": f"recognition/{RECOGNITION_SHEET}",
            "frame_numbers": "1-based, as in the sheets", **splits[split],
            "videos": out.videos, "recognition_clips": out.clips})
    sources = sorted({s.file: s for sources in chosen.values() for s in sources}.values(),
                     key=lambda s: s.file)
    _write_json(root / "manifest.json", {
        "generator": "mer_edge.data.synth", "generator_version": GENERATOR_VERSION,
        "mer_edge_version": __version__, "seed": int(seed), "tiny": bool(tiny and layout is None),
        "codec": VIDEO_FOURCC, "jpeg_quality": JPEG_QUALITY, "clip_pad_s": CLIP_PAD_S,
        "stats": stats.to_dict(), "emotion_weights": dict(emotion_weights or {}) or "default",
        "sources": {s.file: _source_entry(folder / s.file, s.identity) for s in sources},
        "splits": splits, "build_seconds": round(time.monotonic() - started, 1)})
    return root


def _source_entry(path: Path, identity: str) -> dict[str, Any]:
    info = video_info(path)
    return {"sha256": _sha256(path), "identity": identity, "fps": info.fps,
            "frames": info.frames, "width": info.width, "height": info.height}


def _split_summary(out: _SplitOutput) -> dict[str, Any]:
    frames = sum(v["frames"] for v in out.videos)
    seconds = sum(v["frames"] / v["fps"] for v in out.videos)
    return {
        "identities": sorted({v["identity"] for v in out.videos}),
        "videos": len(out.videos),
        "clean_videos": sum(1 for v in out.videos if v["clean"]),
        "frames": frames, "seconds": round(seconds, 2),
        "clean_seconds": round(sum(v["frames"] / v["fps"] for v in out.videos if v["clean"]), 2),
        "micro": sum(1 for row in out.spotting if row.kind == "ME"),
        "macro": sum(1 for row in out.spotting if row.kind == "MaE"),
        "recognition_clips": len(out.clips),
        "fps": sorted({v["fps"] for v in out.videos}),
    }


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
