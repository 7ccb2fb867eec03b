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

It writes ``report.json`` (the figures, plus under ``per_video`` every
video's truth and detections with their matches and recognised classes), a
confusion-matrix plot and one score timeline per video (truth shaded,
detections marked; with a macro spotter its score is a second line) to
``out_dir``.

``mer-edge eval --dataset NAME --root DIR`` (:func:`evaluate_dataset`) does
the same on a user's copy of a real dataset in the layout its owners
distribute: spotting and recognition on the long-video datasets, recognition
on the clip datasets.

Running the videos lives in :mod:`mer_edge._evaluation_runs`, the truth and
its recognition in :mod:`mer_edge._evaluation_truth`; their public names are
exported here.
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ._engine import Engine
from ._errors import DatasetError, InputError, SourceError
from ._evaluation_runs import (_NOT_REPORTED, BenchVideo, VideoRun, open_evaluation_engine,
                               run_video)
from ._evaluation_truth import (TruthInterval, _frames_to_keep, _recogniser, _recognised,
                                _recognition_report, truth_from_interval)
from ._models import default_model_path
from ._options import EngineOptions
from ._results import MicroExpression
from .metrics import scored_matches

__all__ = ["BenchVideo", "TruthInterval", "VideoRun", "open_evaluation_engine", "run_video",
           "evaluate", "evaluate_bench", "evaluate_dataset", "truth_from_interval"]


#: The report's ``recognition_skipped`` (its ``recognition`` is None then).
RECOGNITION_SKIPPED = "not run: EngineOptions(recognize=False), spotting only"


def _event_record(event: MicroExpression) -> dict[str, Any]:
    iv = event.interval
    return {"onset": iv.onset_frame, "apex": iv.apex_frame, "offset": iv.offset_frame,
            "kind": iv.kind, "label": event.label, "score": round(float(iv.score), 5),
            "track_id": iv.track_id}


def _per_video(videos: Sequence[BenchVideo], runs: dict[str, VideoRun],
               truth: Sequence[TruthInterval], predicted_class: dict[int, str | None],
               spotting: bool) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Per-video records (truth, detections, matches) and the pooled spotting scores.

    ``predicted_class`` maps an index of ``truth`` to the class recognised for it.
    """
    events = [(v.video_id, event) for v in videos for event in runs[v.video_id].events]
    expected = [(t.video_id, t.onset, t.offset, t.kind) for t in truth]
    predicted = [(video_id, e.interval.onset_frame, e.interval.offset_frame, e.kind)
                 for video_id, e in events]
    scores, match_pairs = scored_matches(expected, predicted) if spotting else (None, [])
    matches = dict(match_pairs)
    matched_events = set(matches.values())
    records = {v.video_id: {"video": v.video_id, "path": str(v.path), "subject": v.subject,
                            "clean": v.clean, "frames": runs[v.video_id].frames,
                            "seconds": round(runs[v.video_id].duration_ms / 1000.0, 3),
                            "truth": [], "detections": []} for v in videos}
    position_in_video: dict[int, int] = {}
    for index, (video_id, event) in enumerate(events):
        detections = records[video_id]["detections"]
        position_in_video[index] = len(detections)
        record = _event_record(event)
        if spotting:
            record["true_positive"] = index in matched_events
        detections.append(record)
    for index, item in enumerate(truth):
        entry: dict[str, Any] = {"onset": item.onset, "apex": item.apex, "offset": item.offset,
                                 "kind": item.kind, "label": item.label}
        if spotting:
            entry["matched_detection"] = (position_in_video[matches[index]]
                                          if index in matches else None)
        if index in predicted_class:
            entry["predicted"] = predicted_class[index]
        records[item.video_id]["truth"].append(entry)
    return list(records.values()), scores


@dataclass
class _Outcome:
    """The engine's runs over a list of videos, and what could not be scored.

    ``runs``: the videos played to the end (crops dropped); ``failed``: the
    ``failed_videos`` records of the others; ``skipped``: index in the truth
    -> ``skipped_intervals`` record of a truth interval past its video's end;
    ``predicted_class``: index in the truth -> class recognised for a
    labelled ME (None: no face around it).
    """

    runs: dict[str, VideoRun] = field(default_factory=dict)
    failed: list[dict[str, str]] = field(default_factory=list)
    skipped: dict[int, dict[str, Any]] = field(default_factory=dict)
    predicted_class: dict[int, str | None] = field(default_factory=dict)


def _past_the_end(item: TruthInterval, run: VideoRun) -> str | None:
    """Why ``item`` lies (partly) past the last frame ``run`` played; None when it does not."""
    if item.offset < run.frames:
        return None
    declared = (f" (the source declares {run.declared_frames})"
                if run.declared_frames is not None and run.declared_frames != run.frames else "")
    return (f"{item.kind} at frames {item.onset}-{item.offset} (0-based) ends past the end of "
            f"the video: {run.frames} frames were decoded{declared}")


def _run_and_recognise(videos: Sequence[BenchVideo], truth: Sequence[TruthInterval],
                       engine: Engine, progress: Callable[[str], None] | None) -> _Outcome:
    """Run every video through ``engine``, then recognise its labelled MEs that lie within it.

    An engine without a recognizer (``recognize=False``) keeps no crops and
    recognises nothing: ``predicted_class`` stays empty.
    """
    recognise = _recogniser(engine)
    truth_by_video: dict[str, list[tuple[int, TruthInterval]]] = defaultdict(list)
    for index, item in enumerate(truth):
        truth_by_video[item.video_id].append((index, item))
    outcome = _Outcome()
    for video in videos:
        if progress is not None:
            progress(video.video_id)
        own = truth_by_video.get(video.video_id, [])
        keep = _frames_to_keep([t for _, t in own]) if recognise is not None else False
        try:
            run = run_video(video, engine, keep_crops=keep)
        except SourceError as error:
            outcome.failed.append({"video": video.video_id, "error": str(error)})
            continue
        if run.stopped_early is not None:
            outcome.failed.append({"video": video.video_id, "error": run.stopped_early})
            continue
        for index, item in own:
            reason = _past_the_end(item, run)
            if reason is not None:
                outcome.skipped[index] = {"video": item.video_id, "row": item.row,
                                          "reason": reason}
            elif recognise is not None and _recognised(item):
                outcome.predicted_class[index] = recognise(run, item)
        run.crops.clear()
        outcome.runs[video.video_id] = run
    return outcome


def evaluate(videos: Sequence[BenchVideo], truth: Sequence[TruthInterval], *,
             options: EngineOptions | None = None, out_dir: str | os.PathLike | None = None,
             progress: Callable[[str], None] | None = None,
             spotting: bool = True, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run the engine over ``videos`` and score it against ``truth``.

    Each video's labelled MEs are recognised as soon as the engine is done
    with it, keeping only the crops they need, so long datasets fit in
    memory.  With ``options.recognize`` False no recognizer is opened: the
    report's ``recognition`` is None, ``recognition_skipped`` says why, and
    the spotting figures are those of a full evaluation.

    A video that cannot be read (:class:`~mer_edge.SourceError`),
    an image folder that stops before its last image (one that cannot be
    decoded), or a video file that ends well short of the frame count its
    container declares (truncated), is listed under ``failed_videos`` and
    its truth left out of the scores; the other videos are still evaluated.  Truth that ends past
    the last frame its video decoded is listed under ``skipped_intervals``
    (appended to any the ``context`` brings) and left out too.

    Args:
        videos: the videos to run.
        truth: their intervals in 0-based frames.
        options: engine options (default: the shipped models, file mode).
        out_dir: folder for ``report.json`` and the plots (None: nothing written).
        progress: called with each video id before it runs.
        spotting: score spotting (False for pre-cut clips, where only
            recognition is meaningful; the report then has no ``spotting``).
        context: entries that open the report (what was evaluated).

    Raises:
        InputError: ``options.recognize`` is False and ``spotting`` too
            (nothing would be evaluated).
    """
    options = options or EngineOptions(running_mode="file")
    if not options.recognize and not spotting:
        raise InputError("EngineOptions(recognize=False) on clips scored for recognition only: "
                         "nothing to evaluate; evaluate them with recognition on")
    with open_evaluation_engine(options) as engine:
        recognizer = engine.models.get("recognition")
        macro_spotter = engine.models.get("macro_spotting")
        outcome = _run_and_recognise(videos, truth, engine, progress)
        providers = {task: model.provider for task, model in engine.models.items()}
    runs, predicted_class = outcome.runs, outcome.predicted_class
    kept = [v for v in videos if v.video_id in runs]
    scored = [index for index, item in enumerate(truth)
              if item.video_id in runs and index not in outcome.skipped]
    scored_truth = [truth[index] for index in scored]
    per_video, spotting_report = _per_video(
        kept, runs, scored_truth,
        {new: predicted_class[old] for new, old in enumerate(scored) if old in predicted_class},
        spotting)
    recognition = (_recognition_report(truth, predicted_class) if recognizer is not None
                   else None)
    report: dict[str, Any] = dict(context or {})
    if spotting_report is not None:
        report["spotting"] = spotting_report
    report["recognition"] = recognition
    if recognition is None:
        report["recognition_skipped"] = RECOGNITION_SKIPPED
    report.update({
        "videos": len(kept),
        "truth": {"ME": sum(t.kind == "ME" for t in scored_truth),
                  "MaE": sum(t.kind == "MaE" for t in scored_truth)},
        "models": {"spotting": str(options.spotting_model or default_model_path("spotting")),
                   "recognition": None if recognizer is None else str(recognizer.path),
                   "macro_spotting": None if macro_spotter is None else str(macro_spotter.path)},
        "providers": providers,
    })
    report["not_reported"] = {key: sum(r.not_reported.get(key, 0) for r in runs.values())
                              for key in _NOT_REPORTED}
    clean = [runs[v.video_id] for v in kept if v.clean]
    if clean:
        minutes = sum(r.duration_ms for r in clean) / 60_000.0
        false_me = sum(1 for r in clean for e in r.events if e.kind == "ME")
        report["false_me_per_minute_clean"] = false_me / minutes if minutes > 0 else 0.0
        report["clean_minutes"] = minutes
    if outcome.skipped:
        report["skipped_intervals"] = [*report.get("skipped_intervals", []),
                                       *(outcome.skipped[i] for i in sorted(outcome.skipped))]
    if outcome.failed:
        report["failed_videos"] = outcome.failed
    report["per_video"] = per_video
    if out_dir is not None:
        from ._evaluation_plots import save_plots

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(report, indent=2))
        save_plots(out, runs, scored_truth, recognition or {})
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
    return evaluate(videos, truth, options=options, out_dir=out_dir, progress=progress,
                    context={"bench": [str(folder) for folder in folders]})


def evaluate_dataset(dataset: str, root: str | os.PathLike, *, variant: str | None = None,
                     subjects: Sequence[str] | None = None,
                     options: EngineOptions | None = None,
                     out_dir: str | os.PathLike | None = None,
                     progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Evaluate the engine on a user's copy of a real dataset.

    Long-video datasets (CAS(ME)², CAS(ME)³, SAMM long videos) are scored
    for spotting and recognition as :func:`evaluate_bench` scores a bench;
    clip datasets (CASME II, SAMM, SMIC, MMEW) for recognition only.  Sheet
    rows whose frames or media the copy lacks are listed under
    ``skipped_intervals``.  See :mod:`mer_edge._dataset_eval` for how frame
    numbers are matched.

    Raises:
        InputError: unknown dataset or variant.
        DatasetError: the folder or its sheet is missing, or no interval's
            media are there.
    """
    from ._dataset_eval import dataset_inputs

    inputs = dataset_inputs(dataset, root, variant=variant, subjects=subjects)
    context: dict[str, Any] = {"dataset": dataset, "root": str(root)}
    if variant is not None:
        context["variant"] = variant
    if subjects:
        context["subjects"] = list(subjects)
    if inputs.skipped:
        context["skipped_intervals"] = [
            {"video": s.video_id, "row": s.row, "reason": s.reason} for s in inputs.skipped]
    return evaluate(inputs.videos, inputs.truth, options=options, out_dir=out_dir,
                    progress=progress, spotting=inputs.spotting, context=context)
