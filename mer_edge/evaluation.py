"""Evaluate the engine on a benchmark split: spotting and recognition figures.

``mer-edge eval --bench DIR/test`` runs the engine over every long video of
a split (the layout written by ``mer-edge data make-bench``, which follows
CAS(ME)²: videos plus a ``spotting.csv`` sheet), then scores:

* **spotting**: MEGC protocol (:func:`mer_edge.metrics.spotting_scores`) on the
  engine's events against the sheet's intervals, per kind and overall;
* **recognition**: the recognition model applied to each ground-truth
  micro-expression (onset..apex crops of the tracked face, exactly as the
  engine would), scored in the MEGC three classes;
* **false_me_per_minute_clean**: micro-expression events per minute on the
  videos the manifest marks clean (nothing injected).

It writes ``report.json``, a confusion-matrix plot and one score timeline
per video (truth shaded, detections marked) to ``out_dir``.
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ._engine import Engine
from ._errors import DatasetError
from ._features import recognition_clip, sample_positions
from ._flow import FlowEstimator
from ._models import Model, default_model_path
from ._options import EngineOptions
from ._results import MicroExpression
from .data.schema import MEGC_CLASSES, Interval
from .metrics import recognition_scores, spotting_scores

__all__ = ["BenchVideo", "TruthInterval", "VideoRun", "run_video", "evaluate", "evaluate_bench",
           "truth_from_interval"]


@dataclass(frozen=True)
class BenchVideo:
    """One long video of a benchmark split."""

    video_id: str
    path: Path
    subject: str
    clean: bool = False


@dataclass(frozen=True)
class TruthInterval:
    """A ground-truth interval in 0-based frames of its video."""

    video_id: str
    onset: int
    apex: int
    offset: int
    kind: str
    label: str | None = None  # MEGC class, None when outside the protocol


@dataclass
class VideoRun:
    """What the engine produced on one video."""

    video: BenchVideo
    frames: int = 0
    duration_ms: float = 0.0
    events: list[MicroExpression] = field(default_factory=list)
    scores: dict[int, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    timestamps_ms: dict[int, float] = field(default_factory=dict)
    crops: dict[int, dict[int, np.ndarray]] = field(default_factory=lambda: defaultdict(dict))

    @property
    def main_track(self) -> int | None:
        """The track seen in most frames (the injected face in a benchmark)."""
        if not self.crops and not self.scores:
            return None
        source = self.crops or self.scores
        return max(source, key=lambda track: len(source[track]))


def run_video(video: BenchVideo, options: EngineOptions, *, keep_crops: bool = True) -> VideoRun:
    """Run the engine over one video, keeping events, scores and (optionally) crops."""
    run = VideoRun(video)

    def keep(track_id: int, frame_index: int, _stamp: float, crop: np.ndarray) -> None:
        run.crops[track_id][frame_index] = crop.copy()

    with Engine.from_options(replace(options, running_mode="file", result_callback=None)) as engine:
        if keep_crops:
            engine.add_crop_observer(keep)
        first = last = None
        for result in engine.run(video.path):
            run.events.extend(result.events)
            run.timestamps_ms.setdefault(result.frame_index, result.timestamp_ms)
            for face in result.faces:
                if np.isfinite(face.score):
                    run.scores[face.track_id][face.frame_index] = face.score
            if result.faces or result.events or first is None:
                first = result.timestamp_ms if first is None else first
            last = result.timestamp_ms
            run.frames = max(run.frames, result.frame_index + 1)
        run.duration_ms = 0.0 if first is None else float(last - first)
    return run


def _recognise_truth(runs: dict[str, VideoRun], truth: Sequence[TruthInterval],
                     recognizer: Model) -> tuple[list[str], list[str]]:
    spec = recognizer.info.input
    flow = FlowEstimator(spec.flow_preset)
    names = recognizer.info.class_names
    y_true: list[str] = []
    y_pred: list[str] = []
    for item in truth:
        label = item.label
        run = runs.get(item.video_id)
        if item.kind != "ME" or label is None or run is None or run.main_track is None:
            continue
        crops_by_frame = run.crops[run.main_track]
        if not crops_by_frame:
            continue
        known = np.array(sorted(crops_by_frame))
        positions = sample_positions(item.onset, item.apex, max(spec.frames, 2))
        nearest = [int(known[np.argmin(np.abs(known - p))]) for p in positions]
        clip = recognition_clip(spec, [crops_by_frame[f] for f in nearest], flow)
        probabilities = recognizer(clip[None])[0]
        y_true.append(label)
        y_pred.append(names[int(np.argmax(probabilities))])
    return y_true, y_pred


def evaluate(videos: Sequence[BenchVideo], truth: Sequence[TruthInterval], *,
             options: EngineOptions | None = None, out_dir: str | os.PathLike | None = None,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the engine over ``videos`` and score it against ``truth``."""
    options = options or EngineOptions(running_mode="file")
    runs: dict[str, VideoRun] = {}
    for video in videos:
        if progress is not None:
            progress(video.video_id)
        runs[video.video_id] = run_video(video, options)
    predicted = [(video_id, e.interval.onset_frame, e.interval.offset_frame, e.kind)
                 for video_id, run in runs.items() for e in run.events]
    expected = [(t.video_id, t.onset, t.offset, t.kind) for t in truth]
    spotting = spotting_scores(expected, predicted)
    recognizer = Model(options.recognition_model or default_model_path("recognition"),
                       backend=options.backend, expected_task="recognition",
                       allow_fallback=options.allow_fallback)
    y_true, y_pred = _recognise_truth(runs, truth, recognizer)
    recognition = (recognition_scores(y_true, y_pred, class_names=list(MEGC_CLASSES))
                   if y_true else {"accuracy": 0.0, "uf1": 0.0, "uar": 0.0, "confusion": [],
                                   "classes": list(MEGC_CLASSES)})
    recognition["samples"] = len(y_true)
    report: dict[str, Any] = {
        "spotting": spotting,
        "recognition": recognition,
        "videos": len(videos),
        "truth": {"ME": sum(t.kind == "ME" for t in truth), "MaE": sum(t.kind == "MaE" for t in truth)},
        "models": {"spotting": str(options.spotting_model or default_model_path("spotting")),
                   "recognition": str(recognizer.path)},
    }
    clean = [runs[v.video_id] for v in videos if v.clean]
    if clean:
        minutes = sum(r.duration_ms for r in clean) / 60_000.0
        false_me = sum(1 for r in clean for e in r.events if e.kind == "ME")
        report["false_me_per_minute_clean"] = false_me / minutes if minutes > 0 else 0.0
        report["clean_minutes"] = minutes
    if out_dir is not None:
        from ._evaluation_plots import save_plots

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(report, indent=2))
        save_plots(out, runs, truth, recognition)
    return report


def evaluate_bench(split_dirs: str | os.PathLike | Sequence[str | os.PathLike], *,
                   options: EngineOptions | None = None,
                   out_dir: str | os.PathLike | None = None,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Evaluate on one or more ``make-bench`` split folders, pooled.

    Several folders (e.g. the test splits of benches built with other seeds)
    are pooled as MEGC pools videos; video ids are prefixed by their folder
    when more than one is given.
    """
    from .data.synth import read_bench_split

    folders = [split_dirs] if isinstance(split_dirs, (str, os.PathLike)) else list(split_dirs)
    videos: list[BenchVideo] = []
    truth: list[TruthInterval] = []
    for folder in folders:
        split = read_bench_split(Path(folder))
        if not split.videos:
            raise DatasetError("the benchmark split has no videos", path=str(folder))
        prefix = f"{folder}:" if len(folders) > 1 else ""
        videos += [BenchVideo(prefix + v.clip, v.path, v.subject, v.clean) for v in split.videos]
        truth += [replace(t, video_id=prefix + t.video_id)
                  for t in map(truth_from_interval, split.spotting)]
    return evaluate(videos, truth, options=options, out_dir=out_dir, progress=progress)


def truth_from_interval(item: Interval) -> TruthInterval:
    """A sheet interval (1-based frames, CAS(ME)^2 style) in the engine's 0-based frames."""
    onset = item.onset - 1
    offset = (item.offset if item.offset is not None else item.onset) - 1
    apex = (item.apex - 1) if item.apex is not None else (onset + offset) // 2
    apex = min(max(apex, onset), offset)
    try:
        label = item.megc_class
    except ValueError:
        label = None
    return TruthInterval(item.clip, onset, apex, offset, item.kind, label)
