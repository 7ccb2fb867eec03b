"""Training data: splits, spotting windows, recognition samples, pre-training pools.

Everything is built from the cached alignments of
:mod:`mer_edge.data.prepare` through the runtime's feature code, so the
networks train on exactly the inputs the engine gives them; the flow is the
one the :class:`InputSpec` names (``flow_preset``, ``flow_compensation``), as
the engine computes it for the exported model.  The same code
serves the synthetic benchmark (``--bench DIR`` with ``train/ val/ test/``)
and a user's real dataset (``--dataset NAME --root DIR``, split by subject).
"""
from __future__ import annotations


import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from mer_edge._errors import DatasetError, InputError
from mer_edge._features import (frame_channels, newest_at_or_before, recognition_clip, scored_time,
                                window_times)
from mer_edge._alignment import TEMPLATE_NAME
from mer_edge._flow import REFERENCE_ROI, FlowEstimator
from mer_edge._modelmeta import InputSpec
from mer_edge.data.injected import SourcePair, source_pairs
from mer_edge.data.prepare import (AlignedVideo, assign_intervals, cached_alignment,
                                   cached_tracks, recognition_positions, recognition_sample,
                                   spotting_features, spotting_labels, spotting_windows)
from mer_edge.data.schema import LONG_VIDEO_DATASETS, MEGC_CLASSES, Interval, megc_label
from mer_edge.data.synth.bench import CHECKOUT_VIDEOS, VIDEOS_ENV, default_videos_dir

__all__ = ["Split", "DatasetCopy", "check_pair_sources", "check_subjects", "check_task_fits_datasets", "keyed_intervals", "load_bench_split", "load_dataset_split",
           "split_intervals", "SpottingSet", "RecognitionSet", "pair_pool", "unlabelled_windows",
           "shared_video", "shared_videos_dir", "flip_clip", "augment", "split_tracks",
           "recognition_items", "InjectedMovements"]

Progress = Callable[[str], None]


@dataclass
class Split:
    """Intervals of one split.

    Attributes:
        name: ``train``, ``val`` or ``test``.
        videos: long videos (path -> intervals in it, possibly none).
        recognition: ME clips with media (CASME II-style), for recognition.
        boxes: (video path, interval name) -> face box at the apex (multi-face videos).
        fps: frame rate per long video.
    """

    name: str
    videos: dict[Path, list[Interval]] = field(default_factory=dict)
    recognition: list[Interval] = field(default_factory=list)
    boxes: dict[tuple[Path, str], list[float]] = field(default_factory=dict)
    fps: dict[Path, float] = field(default_factory=dict)

    def merge(self, other: "Split") -> "Split":
        """This split plus another (e.g. the train split of a second benchmark seed)."""
        return Split(self.name, {**self.videos, **other.videos}, self.recognition + other.recognition,
                     {**self.boxes, **other.boxes}, {**self.fps, **other.fps})


def shared_video(name: str) -> Path:
    """A pre-training video: a path, or a name in :func:`shared_videos_dir`."""
    path = Path(name)
    if path.is_file():
        return path
    folder = default_videos_dir()
    if folder is not None and (folder / name).is_file():
        return folder / name
    raise DatasetError(f"pre-training video {name!r} of the config's pretrain_videos is neither a "
                       f"file nor in the shared videos folder {folder}: set {VIDEOS_ENV} to the "
                       "folder that holds it, or pass --pretrain-videos with your own face videos "
                       "(no value: pre-train on the training data alone)", path=name)


def shared_videos_dir() -> Path:
    """The folder of real face videos benchmarks are built from (``$MER_EDGE_VIDEOS`` first)."""
    folder = default_videos_dir()
    if folder is None or not folder.is_dir():
        raise DatasetError(f"source video folder not found (set {VIDEOS_ENV})",
                           path=str(folder or CHECKOUT_VIDEOS))
    return folder


def load_bench_split(bench: Path, split: str) -> Split:
    """A split of a ``make_bench`` folder (read with :func:`read_bench_split`)."""
    from mer_edge.data.synth import read_bench_split

    root = Path(bench) / split
    bench_split = read_bench_split(root)
    result = Split(split, recognition=list(bench_split.recognition))
    for video in bench_split.videos:
        path = video.path.resolve()
        result.videos[path] = []
        result.fps[path] = video.fps
    for interval in bench_split.spotting:
        path = Path(interval.video_path).resolve()  # type: ignore[arg-type]
        result.videos.setdefault(path, []).append(interval)
        result.fps.setdefault(path, interval.fps)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest.get("videos", []):
        path = (root / entry["video"]).resolve()
        for event in entry.get("events", []):
            if event.get("face_box_apex") is not None:
                result.boxes[(path, event["name"])] = event["face_box_apex"]
    return result


@dataclass(frozen=True)
class DatasetCopy:
    """A user's copy of a licensed dataset.

    Attributes:
        name: its registry name (``casme2``, ``samm``, ``casme_sq``, ...).
        root: the folder, in the layout the dataset's owners distribute.
        variant: the media variant (CASME II ``raw``/``cropped``, SMIC camera).
    """

    name: str
    root: Path
    variant: str | None = None

    def describe(self) -> str:
        return f"{self.name} at {self.root}" + (f" ({self.variant})" if self.variant else "")

    def identity(self) -> list[str | None]:
        """``[name, resolved root, variant]``: what a resumed run compares."""
        return [self.name, str(self.root.resolve()), self.variant]


def keyed_intervals(copies: Sequence[DatasetCopy]) -> list[tuple[DatasetCopy, str, Interval]]:
    """Every interval of ``copies`` as ``(copy, subject as its sheet writes it, interval)``.

    The returned interval's ``subject`` is the subject's key across the
    copies: the sheet's own id when every copy is of one dataset (copies of
    one dataset share its subject numbering, e.g. the splits and seeds of
    ``make_bench`` benchmarks built on one layout), else ``dataset/subject``
    (a composite such as MEGC's CASME II + SAMM + SMIC).

    Raises:
        DatasetError: a copy cannot be read, or one folder is given twice.
    """
    from mer_edge.data.loaders import load_dataset

    roots = [copy.root.resolve() for copy in copies]
    twice = sorted({str(root) for root in roots if roots.count(root) > 1})
    if twice:
        raise DatasetError(f"the same copy is given twice: {twice}; its samples would count double")
    composite = len({copy.name for copy in copies}) > 1
    keyed: list[tuple[DatasetCopy, str, Interval]] = []
    for copy in copies:
        for interval in load_dataset(copy.name, copy.root, variant=copy.variant):
            key = f"{copy.name}/{interval.subject}" if composite else interval.subject
            keyed.append((copy, interval.subject, replace(interval, subject=key)))
    return keyed


def check_subjects(given: Sequence[str], valid: Sequence[str], option: str, kind: str) -> None:
    """Refuse subjects on the command line that are not among ``valid`` (listing them).

    Args:
        given: the subjects the user named.
        valid: the subjects they may name.
        option: the command-line option (``--subjects``, ``--test-subjects``).
        kind: what ``valid`` are (``folds``, ``subjects``).

    Raises:
        DatasetError: a given subject is not valid.
    """
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise DatasetError(f"{option} {unknown} are not {kind} of this dataset; its {kind} are "
                           f"{sorted(valid)}")


def check_task_fits_datasets(task: str, datasets: Sequence[str]) -> None:
    """Refuse a spotter on clip datasets (CASME II-style pre-cut clips have nothing to spot in).

    Raises:
        InputError: ``task`` is spotting and a dataset holds pre-cut clips.
    """
    clips = sorted(set(datasets) - set(LONG_VIDEO_DATASETS))
    if task == "spotting" and clips:
        raise InputError(f"a spotter is trained and cross-validated on long videos "
                         f"({', '.join(LONG_VIDEO_DATASETS)}); {', '.join(clips)} holds pre-cut "
                         "clips: use a recognizer (moext, miacnet, attrclip, linear) or --bench")


def load_dataset_split(copies: Sequence[DatasetCopy], split: str, *, val_fraction: float = 0.2,
                       seed: int = 0, test_subjects: Sequence[str] = ()) -> Split:
    """A subject-disjoint split of a user's real dataset(s) (``test_subjects`` held out).

    :func:`split_intervals` of the copies' :func:`keyed_intervals`.
    """
    return split_intervals([interval for _, _, interval in keyed_intervals(copies)], split,
                           val_fraction=val_fraction, seed=seed, test_subjects=test_subjects)


def split_intervals(intervals: Sequence[Interval], split: str, *, val_fraction: float = 0.2,
                    seed: int = 0, test_subjects: Sequence[str] = ()) -> Split:
    """One split of already loaded (keyed) intervals, subject-disjoint.

    Validation subjects are drawn from the subjects not held out, among
    those with an ME of a MEGC class when there are at least two (a subject
    whose MEs are all ``others``, as some SAMM subjects, cannot validate a
    recognizer; it trains).
    """
    from mer_edge.metrics import split_train_val

    subjects = sorted({i.subject for i in intervals} - set(test_subjects))
    labelled = sorted({i.subject for i in intervals if i.kind == "ME" and megc_label(i) is not None}
                      - set(test_subjects))
    if len(labelled) >= 2:
        train, val = split_train_val(labelled, val_fraction, seed)
        train = tuple(sorted(set(subjects) - set(val)))
    else:
        train, val = split_train_val(subjects, val_fraction, seed)
    chosen = {"train": set(train), "val": set(val), "test": set(test_subjects)}[split]
    result = Split(split)
    for interval in intervals:
        if interval.subject not in chosen:
            continue
        media = interval.video_path or interval.frames_dir
        if interval.dataset in LONG_VIDEO_DATASETS and media is not None:
            path = Path(media).resolve()
            result.videos.setdefault(path, []).append(interval)
            result.fps[path] = interval.fps
        elif interval.kind == "ME":
            result.recognition.append(interval)
    return result


def flip_clip(clip: np.ndarray, channels: Sequence[str]) -> np.ndarray:
    """Mirror ``(..., C, S, S)`` clips left-right; ``flow_x`` changes sign."""
    out = clip[..., ::-1].copy()
    if "flow_x" in channels:
        out[..., list(channels).index("flow_x"), :, :] *= -1.0
    return out


def augment(clips: np.ndarray, channels: Sequence[str], rng: np.random.Generator, *,
            max_shift: int = 2, gray_jitter: float = 0.2, flow_jitter: float = 0.2) -> np.ndarray:
    """Random mirror, small translation and intensity jitter of ``(B, T, C, S, S)`` clips.

    One draw per clip (all its time steps alike): a mirror (``flow_x``
    changes sign), a shift of up to ``max_shift`` pixels (edges repeated),
    grey gain/offset and a flow gain of ``1 +/- jitter``.
    """
    out = clips.copy()
    flip = rng.random(len(out)) < 0.5
    out[flip] = flip_clip(out[flip], channels)
    if max_shift > 0:
        size = out.shape[-1]
        pad = [(0, 0)] * (out.ndim - 3) + [(0, 0), (max_shift, max_shift), (max_shift, max_shift)]
        for index in range(len(out)):
            dy, dx = rng.integers(-max_shift, max_shift + 1, 2)
            padded = np.pad(out[index], pad[1:], mode="edge")
            out[index] = padded[..., max_shift + dy:max_shift + dy + size,
                                max_shift + dx:max_shift + dx + size]
    names = list(channels)
    for index in range(len(out)):
        for channel, name in enumerate(names):
            if name == "gray":
                gain, offset = 1 + rng.uniform(-gray_jitter, gray_jitter), rng.uniform(-gray_jitter, gray_jitter)
                out[index, :, channel] = out[index, :, channel] * gain + offset
            else:
                out[index, :, channel] *= 1 + rng.uniform(-flow_jitter, flow_jitter)
    return out


def _features_cached(video: AlignedVideo, spec: InputSpec, k_ms: float,
                     cache_dir: Path) -> np.ndarray:
    # the alignment template and the flow's reference region are part of the key:
    # features of an older runtime pipeline must never be reused
    key = json.dumps([video.source, video.track_id, len(video), spec.channels, spec.size,
                      spec.flow_scale, spec.gray_mean, spec.gray_std, k_ms, spec.flow_preset,
                      spec.flow_compensation, TEMPLATE_NAME, list(REFERENCE_ROI),
                      int(video.frames.sum())])
    path = cache_dir / "features" / f"{hashlib.sha1(key.encode()).hexdigest()[:20]}.npy"
    if path.is_file():
        return np.load(path)
    features = spotting_features(video, spec, k_ms)  # the flow ``spec`` names
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npy")
    np.save(partial, features)
    os.replace(partial, path)
    return features


@dataclass
class SpotVideo:
    key: str
    video: AlignedVideo
    features: np.ndarray
    labels: np.ndarray
    ends: np.ndarray
    truth: list[Interval]
    #: Per end, the frame its window's score belongs to (the end itself without look-ahead).
    scored: np.ndarray


def split_tracks(split: Split, cache_dir: Path, *, max_videos: int = 0,
                 progress: Progress | None = None
                 ) -> list[tuple[str, AlignedVideo, list[Interval]]]:
    """Every face track of the split's long videos with the intervals on it."""
    items = sorted(split.videos.items())
    if max_videos:  # keep videos with intervals first so a capped set has positives
        items = sorted(items, key=lambda kv: not kv[1])[:max_videos]
    result = []
    for path, intervals in items:
        if progress:
            progress(f"aligning {path.name}")
        tracks = cached_tracks(path, cache_dir / "align", fps=split.fps.get(path))
        boxes = {name: box for (video, name), box in split.boxes.items() if video == path}
        for track, assigned in zip(tracks, assign_intervals(tracks, intervals, boxes)):
            result.append((f"{path.stem}#{track.track_id}", track, assigned))
    return result


class SpottingSet:
    """Spotting windows of a split: ``(T, C, S, S)`` clips and ``(T,)`` frame labels."""

    def __init__(self, split: Split, spec: InputSpec, k_ms: float, cache_dir: Path, *,
                 max_videos: int = 0, model_fps: float = 30.0, lag_frames: int = 0,
                 progress: Progress | None = None) -> None:
        self.spec = spec
        self.k_ms = k_ms
        self.model_fps = model_fps
        #: The score of a window belongs to its step ``T - 1 - lag_frames`` (look-ahead spotters).
        self.lag_frames = lag_frames
        self.videos: list[SpotVideo] = []
        for key, video, intervals in split_tracks(split, cache_dir, max_videos=max_videos,
                                                  progress=progress):
            ends = spotting_windows(video, spec.frames, k_ms)
            if len(ends) < spec.frames:
                continue
            features = _features_cached(video, spec, k_ms, cache_dir)
            self.videos.append(SpotVideo(key, video, features,
                                          spotting_labels(video, intervals, k_ms), ends, intervals,
                                          self._scored_frames(video.timestamps_ms, ends)))
        self._index = [(v, int(e)) for v, item in enumerate(self.videos) for e in item.ends]
        scored = np.concatenate([item.labels[item.scored] for item in self.videos]
                                or [np.zeros(0, np.float32)])
        self.positive = np.flatnonzero(scored > 0.5)
        self.negative = np.flatnonzero(scored <= 0.5)

    def __len__(self) -> int:
        return len(self._index)

    def _positions(self, video_index: int, end: int) -> np.ndarray:
        """Frames of the window ending at frame ``end``, sampled at the model's fps like the engine."""
        stamps = self.videos[video_index].video.timestamps_ms
        return newest_at_or_before(stamps, window_times(float(stamps[end]), self.spec.frames,
                                                        self.model_fps))

    def _scored_frames(self, stamps: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """The frames the scores of the windows ending at ``ends`` belong to (engine rule)."""
        if not self.lag_frames:
            return ends
        return newest_at_or_before(
            stamps, scored_time(stamps[ends], 1000.0 * self.lag_frames / self.model_fps))

    def video_window(self, video_index: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Clip ``(T, C, S, S)`` and labels ``(T,)`` of the window of a video ending at ``end``."""
        video = self.videos[video_index]
        positions = self._positions(video_index, end)
        return video.features[positions], video.labels[positions]

    def window(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """Clip ``(T, C, S, S)`` and labels ``(T,)`` of window ``item`` (padded like the engine)."""
        return self.video_window(*self._index[item])

    def sample(self, rng: np.random.Generator, batch: int, positive_fraction: float = 0.5
               ) -> tuple[np.ndarray, np.ndarray]:
        """A balanced random batch, augmented (:func:`augment`)."""
        n_pos = int(round(batch * positive_fraction)) if len(self.positive) else 0
        picks = np.concatenate([rng.choice(self.positive, n_pos),
                                rng.choice(self.negative if len(self.negative) else self.positive,
                                           batch - n_pos)])
        clips, labels = zip(*(self.window(int(i)) for i in picks))
        return augment(np.stack(clips), self.spec.channels, rng), np.stack(labels)


def unlabelled_windows(videos: Sequence[AlignedVideo], spec: InputSpec, k_ms: float,
                       cache_dir: Path) -> list[np.ndarray]:
    """Per-video frame features for self-supervised pre-training."""
    return [_features_cached(video, spec, k_ms, cache_dir) for video in videos]


class InjectedMovements:
    """The movements injected into ``make_bench`` videos, measured against their sources.

    Built from split folders of benchmarks (``train/`` ...), the source videos
    they were made from and the alignment cache; gives the recognition input
    of a labelled interval of those videos with the injected movement alone
    (:meth:`~mer_edge.data.injected.SourcePair.injected_clip`).

    Raises:
        DatasetError: a source video is not in ``videos_dir``.
    """

    def __init__(self, split_dirs: Sequence[Path], videos_dir: Path, cache_dir: Path,
                 kinds: Sequence[str] = ("ME",)) -> None:
        self._pairs: dict[Path, SourcePair] = {}
        for split_dir in split_dirs:
            for kind in kinds:
                for pair in source_pairs(split_dir, videos_dir, cache_dir / "align", kind=kind):
                    self._pairs[(Path(split_dir) / pair.entry["video"]).resolve()] = pair

    def clip(self, interval: Interval, spec: InputSpec, flow: FlowEstimator, *, shift: int = 0
             ) -> np.ndarray | None:
        """The input ``(T, C, S, S)`` of ``interval`` with only its injected movement in it.

        Sampled where the engine samples it (``shift`` moves the apex); None
        where a face was not found, or the interval's video is none of these
        benchmarks' (a clean one).
        """
        pair = self._pairs.get(Path(interval.video_path or "").resolve())
        if pair is None:
            return None
        return pair.injected_clip(recognition_positions(interval, spec.frames, shift=shift), spec,
                                  flow)


class RecognitionSet:
    """Recognition samples ``(T, C, S, S)`` with MEGC labels and AU texts."""

    def __init__(self, items: Sequence[tuple[AlignedVideo | None, Interval]], spec: InputSpec,
                 cache_dir: Path, *, shifts: Sequence[int] = (0,), max_items: int = 0,
                 progress: Progress | None = None, label: str = "this split",
                 injected: InjectedMovements | None = None) -> None:
        """``label`` names the samples' split in the error raised when none is usable.

        ``injected``: build the inputs from the benchmark's injected movements
        alone instead of the observed video (items it cannot measure are left out).
        """
        self.spec = spec
        self.class_names = MEGC_CLASSES
        usable = [(v, i) for v, i in items if megc_label(i) is not None]
        if max_items:
            usable = usable[:max_items]
        flow = FlowEstimator.for_input(spec)
        clips, labels, aus, owners = [], [], [], []
        for number, (video, interval) in enumerate(usable):
            if progress and number % 20 == 0:
                progress(f"recognition samples {number}/{len(usable)}")
            if video is None and injected is None:
                video = cached_alignment(interval.video_path or interval.frames_dir,  # type: ignore[arg-type]
                                         cache_dir / "align", fps=interval.fps)
            for shift in shifts:
                if injected is not None:
                    clip = injected.clip(interval, spec, flow, shift=shift)
                else:
                    assert video is not None  # aligned above
                    clip = recognition_sample(video, interval, spec, flow, shift=shift)
                if clip is None:
                    continue
                clips.append(clip)
                labels.append(MEGC_CLASSES.index(megc_label(interval)))  # type: ignore[arg-type]
                aus.append(interval.aus)
                owners.append(number)
        if not clips:
            raise DatasetError(f"no recognition samples with a MEGC class ({', '.join(MEGC_CLASSES)}) "
                               f"in {label}: it needs MEs of those classes, not only 'others'")
        self.clips = np.stack(clips).astype(np.float32)
        self.labels = np.asarray(labels, np.int64)
        self.aus = aus
        self.owners = np.asarray(owners, np.int64)
        self.intervals = [interval for _, interval in usable]

    def __len__(self) -> int:
        return len(self.labels)

    def class_weights(self) -> np.ndarray:
        counts = np.bincount(self.labels, minlength=len(self.class_names)).astype(np.float32)
        weights = counts.sum() / np.maximum(counts, 1.0) / len(counts)
        return np.where(counts > 0, weights, 0.0).astype(np.float32)

    def sample(self, rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A random augmented batch: clips, labels, sample indices."""
        picks = rng.choice(len(self), batch)
        return augment(self.clips[picks], self.spec.channels, rng), self.labels[picks], picks


def recognition_items(split: Split, cache_dir: Path, *, max_videos: int = 0,
                      kinds: Sequence[str] = ("ME",), progress: Progress | None = None
                      ) -> list[tuple[AlignedVideo | None, Interval]]:
    """Labelled intervals of ``kinds`` of a split with the face track they are on.

    The intervals of the long videos (aligned in context, as the engine sees
    them) when there are any; else the short ME clips (CASME II-style datasets).
    """
    items: list[tuple[AlignedVideo | None, Interval]] = []
    for _, video, intervals in split_tracks(split, cache_dir, max_videos=max_videos,
                                            progress=progress):
        items += [(video, i) for i in intervals if i.kind in kinds]
    return items or [(None, i) for i in split.recognition]


def check_pair_sources(videos: Sequence[AlignedVideo], intervals: Sequence[object],
                       gaps: tuple[int, int] = (3, 12)) -> list[AlignedVideo]:
    """The videos long enough for :func:`pair_pool` to draw pairs from.

    Raises:
        DatasetError: none is, and there is no macro-expression interval either.
    """
    sources = [v for v in videos if len(v) > 2 * gaps[1] + 1]
    if not sources and not intervals:
        raise DatasetError(f"no video of more than {2 * gaps[1] + 1} frames nor macro-expression "
                           f"interval for self-supervised pre-training ({len(videos)} shorter "
                           "videos): pass --pretrain-videos with face videos, or a config with "
                           "pretrain_epochs 0")
    return sources


def pair_pool(videos: Sequence[AlignedVideo], intervals: Sequence[tuple[AlignedVideo, Interval]],
              spec: InputSpec, rng: np.random.Generator, *, count: int,
              gaps: tuple[int, int] = (3, 12)) -> tuple[np.ndarray, np.ndarray]:
    """Onset/apex-like pairs from macro-expression video for self-supervised pre-training.

    Returns clips ``(N, 2, C, S, S)`` built like recognition inputs (frames
    ``i`` and ``j = i + gap``) and the grey channel of the *next* frame
    ``k = j + gap`` ``(N, 1, S, S)`` (the MA2MI target).  Half the pairs come
    from random positions of ``videos``, the rest from (onset, apex) of the
    given macro-expression ``intervals`` when there are any.
    """
    two = replace(spec, frames=2)
    gray_only = replace(spec, frames=1, channels=("gray",), flow_scale=1.0)
    flow = FlowEstimator.for_input(spec)
    clips, targets = [], []
    sources = check_pair_sources(videos, intervals, gaps)
    for number in range(count):
        if intervals and (number % 2 or not sources):
            video, interval = intervals[int(rng.integers(len(intervals)))]
            i = video.index_of(interval.onset)
            j = video.index_of(interval.apex if interval.apex is not None else interval.offset or interval.onset)
            j = max(j, i + 1)
        else:  # check_pair_sources: there are sources when there are no intervals
            video = sources[int(rng.integers(len(sources)))]
            gap = int(rng.integers(gaps[0], gaps[1] + 1))
            i = int(rng.integers(0, len(video) - 2 * gap))
            j = i + gap
        k = min(len(video) - 1, j + (j - i))
        crops = video.crops
        clips.append(recognition_clip(two, [crops[i], crops[j]], flow))
        targets.append(frame_channels(gray_only, crops[k], None))
    return np.stack(clips).astype(np.float32), np.stack(targets).astype(np.float32)
