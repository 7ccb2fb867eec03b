"""Running videos through the engine for an evaluation: what it produced on each.

:func:`run_video` plays one :class:`BenchVideo` through an engine (its own, or
one opened by :func:`open_evaluation_engine` and reused across videos) and
keeps, in a :class:`VideoRun`, its events, per-frame scores and, on request,
the aligned crops and what replaying its interval detection needs.  Part of
:mod:`mer_edge.evaluation`, which exports these names.
"""
from __future__ import annotations

from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Collection

import numpy as np

from ._engine import Engine
from ._errors import MerEdgeError
from ._lighting import crop_brightness
from ._options import EngineOptions
from ._results import MicroExpression
from ._sources import FrameSource, open_source
from ._spotter_lane import SpotterLane

__all__ = ["BenchVideo", "RecordedSpotter", "VideoRun", "open_evaluation_engine", "run_video"]


@dataclass(frozen=True)
class BenchVideo:
    """One long video of a benchmark split."""

    video_id: str
    path: Path
    subject: str
    clean: bool = False
    fps: float | None = None  # frame rate of an image folder; None: the file's own


@dataclass(frozen=True)
class RecordedSpotter:
    """What replaying a run's interval detection needs of the spotter that scored it.

    Attributes:
        lag_ms: its look-ahead (``window.lag_ms``; 0 without one), which sizes
            each face's frame ring.
        flow_preset: the DIS preset of its flow (``input.flow_preset``).
        flow_compensation: its flow's head-motion compensation
            (``input.flow_compensation``).
    """

    lag_ms: float
    flow_preset: str
    flow_compensation: str

    @classmethod
    def of(cls, engine: Engine) -> "RecordedSpotter":
        """The main spotter of ``engine``."""
        lane = SpotterLane(engine.models["spotting"], engine.spotting_params)
        spec = lane.model.info.input
        return cls(lane.lag_ms, spec.flow_preset, spec.flow_compensation)


#: ``Engine.stats()`` counts of intervals the engine's checks did not report.
_NOT_REPORTED = ("me_not_still", "lighting_changes", "me_still_displaced")


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
    (``Engine.stats()``: ``me_not_still``, ``lighting_changes``, ``me_still_displaced``).

    What replaying the engine's interval detection needs
    (:func:`mer_edge_export.calibrate.replay`), recorded only when
    :func:`run_video` is asked to (``record_replay``): ``detector_inputs``, per
    track, every ``(frame, timestamp_ms, score or None)`` its detector was
    fed, in order (``Engine.add_score_observer``; a look-ahead spotter's
    score under its lagged frame), and ``brightness``, per track and frame,
    the aligned crop's mean grey level the lighting check judges
    (``_lighting.crop_brightness``), ``detector_fed_at``, per track, the
    frame the engine was processing when it fed each of ``detector_inputs``
    (the face's newest frame: later than the input's own for a look-ahead
    spotter), and ``spotter``, the main spotter's :class:`RecordedSpotter`.
    With ``crops`` kept too, the replay also follows displaced faces and
    checks their return to neutral as the engine does.  ``scores`` keeps
    each score under the frame its window ends at.  Other runs, and runs
    recorded before these fields existed, have them empty (``spotter`` None).

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
    detector_fed_at: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    spotter: RecordedSpotter | None = None
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
        seen = run.brightness.get(track_id)  # the face's frames so far, the newest last
        newest = next(reversed(seen)) if seen else frame_index
        run.detector_fed_at[track_id].append(max(frame_index, newest))

    crop_observers = (([note_brightness] if record_replay else [])
                      + ([keep] if keep_crops is not False else []))
    score_observers = [note_detector_input] if record_replay else []
    for observer in crop_observers:
        engine.add_crop_observer(observer)
    for score_observer in score_observers:
        engine.add_score_observer(score_observer)
    if record_replay:
        run.spotter = RecordedSpotter.of(engine)
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
