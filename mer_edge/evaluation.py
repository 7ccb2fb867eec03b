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
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Collection, Mapping, Sequence

import numpy as np

from ._engine import Engine
from ._errors import DatasetError, InputError, MerEdgeError, SourceError
from ._features import recognition_clip, sample_positions
from ._flow import FlowEstimator
from ._lighting import crop_brightness
from ._models import Model, default_model_path
from ._options import EngineOptions
from ._results import MicroExpression
from ._sources import FrameSource, open_source
from .data.schema import MEGC_CLASSES, Interval, megc_label
from .metrics import recognition_scores, scored_matches

__all__ = ["BenchVideo", "TruthInterval", "VideoRun", "open_evaluation_engine", "run_video",
           "evaluate", "evaluate_bench", "evaluate_dataset", "truth_from_interval"]


@dataclass(frozen=True)
class BenchVideo:
    """One long video of a benchmark split."""

    video_id: str
    path: Path
    subject: str
    clean: bool = False
    fps: float | None = None  # frame rate of an image folder; None: the file's own


@dataclass(frozen=True)
class TruthInterval:
    """A ground-truth interval in 0-based frames of its video."""

    video_id: str
    onset: int
    apex: int
    offset: int
    kind: str
    label: str | None = None  # MEGC class, None when outside the protocol
    row: int | None = None  # the sheet row it was read from, when known


#: ``Engine.stats()`` counts of intervals the engine's checks did not report.
_NOT_REPORTED = ("me_not_still", "lighting_changes")


@dataclass
class VideoRun:
    """What the engine produced on one video.

    ``frames`` counts the frames decoded and played; ``declared_frames`` is
    what the source announced (an image folder's images; a video file's
    container count, which may be an estimate), None when unknown.
    ``stopped_early`` is the source's own account (``FrameSource.error``) of
    why it ended early: the image of a folder that cannot be decoded, with
    the images played, or a video file that ends well short of the frame
    count its container declares; None when it played to the end.
    ``not_reported`` counts the intervals the engine's checks left out
    (``Engine.stats()``: ``me_not_still``, ``lighting_changes``).

    What replaying the engine's interval detection needs
    (:func:`mer_edge_export.calibrate.replay`), recorded only when
    :func:`run_video` is asked to (``record_replay``): ``detector_inputs``, per
    track, every ``(frame, timestamp_ms, score or None)`` its detector was
    fed, in order (``Engine.add_score_observer``; a look-ahead spotter's
    score under its lagged frame), and ``brightness``, per track and frame,
    the aligned crop's mean grey level the lighting check judges
    (``_lighting.crop_brightness``).  ``scores`` keeps each score under the
    frame its window ends at.  Other runs, and runs recorded before these
    two fields existed, have them empty.

    ``macro_scores`` keeps the macro spotter's scores
    (``FaceTrack.macro_score``) as ``scores`` keeps the main spotter's;
    empty without a macro spotter.
    """

    video: BenchVideo
    frames: int = 0
    declared_frames: int | None = None
    stopped_early: str | None = None
    duration_ms: float = 0.0
    not_reported: dict[str, int] = field(default_factory=dict)
    events: list[MicroExpression] = field(default_factory=list)
    scores: dict[int, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    macro_scores: dict[int, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    timestamps_ms: dict[int, float] = field(default_factory=dict)
    detector_inputs: dict[int, list[tuple[int, float, float | None]]] = field(
        default_factory=lambda: defaultdict(list))
    brightness: dict[int, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    crops: dict[int, dict[int, np.ndarray]] = field(default_factory=lambda: defaultdict(dict))

    @property
    def main_track(self) -> int | None:
        """The track seen in most frames (the injected face in a benchmark)."""
        if not self.crops and not self.scores:
            return None
        source = self.crops or self.scores
        return max(source, key=lambda track: len(source[track]))


def run_video(video: BenchVideo, options: EngineOptions | Engine, *,
              keep_crops: bool | Collection[int] = True, record_replay: bool = False) -> VideoRun:
    """Run the engine over one video, keeping events, scores and crops.

    ``options``: the engine's options (an engine is opened for this video and
    closed after it, in ``file`` mode, without a result callback), or an open
    ``file``-mode :class:`~mer_edge.Engine` to reuse across videos (its run
    starts a new stream; the models stay loaded; a video that raises ends
    its stream, so the next video's run holds nothing of it).
    ``keep_crops``: True keeps every aligned crop, False none, a collection
    of frame indices only those frames' (what recognising a few intervals of
    a long video needs).
    ``record_replay``: also record each face's brightness and detector inputs
    (:attr:`VideoRun.brightness`, :attr:`VideoRun.detector_inputs`), what the
    detection calibration replays; off, a plain evaluation skips that work.
    """
    if isinstance(options, Engine):
        return _run_with(options, video, keep_crops, record_replay)
    with open_evaluation_engine(options) as engine:
        return _run_with(engine, video, keep_crops, record_replay)


def open_evaluation_engine(options: EngineOptions) -> Engine:
    """An engine for :func:`run_video` over many videos: ``file`` mode, no result callback.

    Close it after use (it is a context manager).
    """
    return Engine.from_options(replace(options, running_mode="file", result_callback=None))


def _run_with(engine: Engine, video: BenchVideo, keep_crops: bool | Collection[int],
              record_replay: bool) -> VideoRun:
    """:func:`run_video` on an open engine; its observers are removed again after the video."""
    run = VideoRun(video)
    wanted = None if isinstance(keep_crops, bool) else frozenset(keep_crops)

    def keep(track_id: int, frame_index: int, _stamp: float, crop: np.ndarray) -> None:
        if wanted is None or frame_index in wanted:
            run.crops[track_id][frame_index] = crop.copy()

    def note_brightness(track_id: int, frame_index: int, _stamp: float, crop: np.ndarray) -> None:
        run.brightness[track_id][frame_index] = float(crop_brightness(crop[None])[0])

    def note_detector_input(track_id: int, frame_index: int, stamp: float,
                            score: float | None) -> None:
        run.detector_inputs[track_id].append((frame_index, stamp, score))

    crop_observers = (([note_brightness] if record_replay else [])
                      + ([keep] if keep_crops is not False else []))
    score_observers = [note_detector_input] if record_replay else []
    for observer in crop_observers:
        engine.add_crop_observer(observer)
    for score_observer in score_observers:
        engine.add_score_observer(score_observer)
    counted_before = _not_reported_counts(engine)
    try:
        with open_source(video.path, fps=video.fps, live=False) as frames:
            run.declared_frames = frames.frame_count
            _play(engine, frames, run)
            run.stopped_early = frames.error  # what the source saw, not the folder listed again
    except BaseException:
        _abandon_stream(engine)
        raise
    finally:
        for observer in crop_observers:
            engine.remove_crop_observer(observer)
        for score_observer in score_observers:
            engine.remove_score_observer(score_observer)
    counted_after = _not_reported_counts(engine)
    run.not_reported = {key: counted_after[key] - counted_before[key] for key in _NOT_REPORTED}
    return run


def _abandon_stream(engine: Engine) -> None:
    """End the stream of a video that failed mid-way, dropping the intervals it left open.

    Without it the engine's next run (the next video) handed them on as its
    own first events, with that video's frame count and start time.  An
    engine that cannot be reset (closed meanwhile) is left as it is: the
    error that stopped the video is the one to report.
    """
    with suppress(MerEdgeError):
        engine.reset()


def _not_reported_counts(engine: Engine) -> dict[str, int]:
    """The engine's running counts of the intervals its checks left out."""
    stats = engine.stats()
    return {key: int(stats[key]) for key in _NOT_REPORTED}


def _play(engine: Engine, frames: FrameSource, run: VideoRun) -> None:
    """Play ``frames`` through ``engine``, keeping events, scores and times in ``run``."""
    first = last = None
    for result in engine.run(frames):
        run.events.extend(result.events)
        run.timestamps_ms.setdefault(result.frame_index, result.timestamp_ms)
        for face in result.faces:
            for kept, score in ((run.scores, face.score), (run.macro_scores, face.macro_score)):
                if score is not None and np.isfinite(score):
                    kept[face.track_id][face.frame_index] = score
        if result.faces or result.events or first is None:
            first = result.timestamp_ms if first is None else first
        last = result.timestamp_ms
        run.frames = max(run.frames, result.frame_index + 1)
    run.duration_ms = 0.0 if first is None else float(last - first)


#: The report's ``recognition_skipped`` (its ``recognition`` is None then).
RECOGNITION_SKIPPED = "not run: EngineOptions(recognize=False), spotting only"

#: Frames kept on either side of a recognised interval, for faces missed at its ends.
_CROP_MARGIN = 5


def _recognised(item: TruthInterval) -> bool:
    return item.kind == "ME" and item.label is not None


def _crop_window(item: TruthInterval) -> range:
    """The frames whose crops recognising ``item`` may use: onset..apex and a margin."""
    return range(max(0, item.onset - _CROP_MARGIN), item.apex + _CROP_MARGIN + 1)


def _frames_to_keep(truth: Sequence[TruthInterval]) -> set[int]:
    """Frames whose crops recognising ``truth`` (one video's) may use."""
    return {frame for item in truth if _recognised(item) for frame in _crop_window(item)}


def _recognise(run: VideoRun, item: TruthInterval, recognizer: Model, flow: FlowEstimator) -> str | None:
    """The class ``recognizer`` gives ``item`` from the run's crops; None without a face.

    The face is the track seen in most frames around the interval (a long
    video's face may be tracked anew after it left the picture).
    """
    counts = {track: sum(frame in crops for frame in _crop_window(item))
              for track, crops in run.crops.items()}
    if not counts or max(counts.values()) == 0:
        return None
    spec = recognizer.info.input
    crops_by_frame = run.crops[max(counts, key=lambda track: counts[track])]
    known = np.array(sorted(crops_by_frame))
    positions = sample_positions(item.onset, item.apex, max(spec.frames, 2))
    nearest = [int(known[np.argmin(np.abs(known - p))]) for p in positions]
    if any(abs(n - p) > _CROP_MARGIN for n, p in zip(nearest, positions)):
        return None
    clip = recognition_clip(spec, [crops_by_frame[f] for f in nearest], flow)
    probabilities = recognizer(clip[None])[0]
    return recognizer.info.class_names[int(np.argmax(probabilities))]


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


#: A run's recognised class for a truth interval (None: no face around it).
_Recognise = Callable[[VideoRun, TruthInterval], "str | None"]


def _recogniser(engine: Engine) -> _Recognise | None:
    """How :func:`evaluate` recognises a truth ME with the engine's recognizer; None without one."""
    recognizer = engine.models.get("recognition")
    if recognizer is None:
        return None
    flow = FlowEstimator.for_input(recognizer.info.input)
    return lambda run, item: _recognise(run, item, recognizer, flow)


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


def _recognition_report(truth: Sequence[TruthInterval],
                        predicted_class: dict[int, str | None]) -> dict[str, Any]:
    """MEGC three-class scores of the recognised MEs, with how many had no face."""
    pairs = [(truth[i].label, label) for i, label in sorted(predicted_class.items())
             if label is not None]
    y_true = [t for t, _ in pairs]
    y_pred = [p for _, p in pairs]
    recognition = (recognition_scores(y_true, y_pred, class_names=list(MEGC_CLASSES))
                   if y_true else {"accuracy": 0.0, "uf1": 0.0, "uar": 0.0, "confusion": [],
                                   "classes": list(MEGC_CLASSES)})
    recognition["samples"] = len(y_true)
    recognition["no_face"] = sum(label is None for label in predicted_class.values())
    return recognition


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


def truth_from_interval(item: Interval, *, video_id: str | None = None,
                        index_of: Callable[[int], int | None] | None = None) -> TruthInterval:
    """A sheet interval in the engine's 0-based frames.

    Args:
        item: the interval, in its sheet's frame numbers.
        video_id: the id of its video (default: ``item.clip``).
        index_of: frame number -> engine frame, None for a number the media
            lacks (default: 1-based numbers, CAS(ME)^2 style, ``N - 1``).

    An unannotated offset ends the interval at its apex
    (:attr:`~mer_edge.data.schema.Interval.end_frame`, the MEGC practice for
    CAS(ME)^2 offset 0), so it is recognised from onset to apex as usual; an
    unannotated apex (or one the media lacks) is the middle frame; an apex
    outside ``[onset, offset]`` is clamped into it.

    Raises:
        DatasetError: ``index_of`` finds no frame for the onset or offset.
    """
    engine_frame = index_of or (lambda number: number - 1)

    def frame(number: int, what: str) -> int:
        index = engine_frame(number)
        if index is None:
            raise DatasetError(f"{what} frame {number} of clip {item.clip!r} is not among its "
                               f"frames", row=item.row)
        return index

    onset = frame(item.onset, "onset")
    end = "offset" if item.offset is not None else "apex (the end of an interval without offset)"
    offset = frame(item.end_frame, end)
    apex_index = None if item.apex is None else engine_frame(item.apex)
    apex = (onset + offset) // 2 if apex_index is None else apex_index
    apex = min(max(apex, onset), offset)
    return TruthInterval(video_id or item.clip, onset, apex, offset, item.kind, megc_label(item),
                         item.row)


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
