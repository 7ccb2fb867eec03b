"""Replaying the engine's interval detection on a recorded run, with the engine's code.

The spotting score of a video does not depend on the detection parameters,
so the detection calibration (:mod:`mer_edge_export.calibrate`) runs the
engine once per video (``run_video(..., record_replay=True)``) and replays
here, for each parameter combination, what the engine does after scoring:

* each face's :class:`~mer_edge._spotting.IntervalDetector` is fed exactly the
  updates the engine fed it (a look-ahead spotter's scores under their
  lagged frames, the face's own span of frames);
* the lighting check (``EngineOptions.max_brightness_change``) judges each
  interval the detector closes;
* when the run kept the aligned crops (``keep_crops=True``), a
  :class:`~mer_edge._ringbuffer.FrameRing` sized as the engine sizes it is fed
  each face's crops at their timestamps, in the engine's order, and the
  engine's own per-face stage, :class:`~mer_edge._interval_stage.FaceIntervals`
  (detector, lighting check, :class:`~mer_edge._classify.IntervalClassifier`
  and :class:`~mer_edge._follow.DisplacementFollower`), judges the intervals on it:
  the return-to-neutral check (``EngineOptions.max_me_residual``) and the
  following of a face that has not come back to its return
  (``EngineOptions.follow_displaced``) are replayed as the engine applies
  them, and so is the end of a MaE at the face's return to rest
  (``EngineOptions.me_ends_at_rest``).  Their flows between the same two
  crops are the same at every parameter combination, so each run measures
  each pair once.

A run recorded without what a check needs (an older or lighter recording:
no brightness, no crops) is replayed without that check, with a warning
naming it.
"""
from __future__ import annotations

import warnings
import weakref
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Iterable, Sequence

import numpy as np

from mer_edge._alignment import CROP_SIZE
from mer_edge._classify import IntervalClassifier
from mer_edge._flow import FlowEstimator
from mer_edge._interval_stage import IntervalStage
from mer_edge._lighting import is_lighting_change, recorded_brightness_change
from mer_edge._options import EngineOptions
from mer_edge._results import MicroExpression, SpottedInterval
from mer_edge._ringbuffer import FrameRing, frames_over_horizon
from mer_edge._spotter_lane import ring_horizon_ms
from mer_edge._spotting import IntervalDetector, SpottingParams
from mer_edge._telemetry import StageTimer
from mer_edge.evaluation import VideoRun

__all__ = ["ENGINE_BRIGHTNESS_LIMIT", "ENGINE_ENDS_AT_REST", "ENGINE_FOLLOW_RATIO",
           "ENGINE_RESIDUAL_LIMIT", "EngineChecks", "FaceStep", "Found", "MeasuredOnceFlow",
           "crops_recorded", "lighting_recorded", "replay", "replay_all", "replay_face"]

#: The engine's lighting limit (``EngineOptions.max_brightness_change``), the replay's default.
ENGINE_BRIGHTNESS_LIMIT: float | None = EngineOptions.max_brightness_change
#: The engine's return-to-neutral limit (``EngineOptions.max_me_residual``), the replay's default.
ENGINE_RESIDUAL_LIMIT: float | None = EngineOptions.max_me_residual
#: The engine's hold ratio of a displaced face (``EngineOptions.follow_displaced``), the
#: replay's default.
ENGINE_FOLLOW_RATIO: float | None = EngineOptions.follow_displaced
#: Whether the engine ends a MaE at the face's return to rest (``EngineOptions.me_ends_at_rest``),
#: the replay's default.
ENGINE_ENDS_AT_REST: bool = EngineOptions.me_ends_at_rest

#: One interval found by a replay: ``(video_id, onset_frame, offset_frame, kind)``.
Found = tuple[str, int, int, str]

_NO_LANDMARKS = np.zeros((0, 2), dtype=np.float32)


def lighting_recorded(run: VideoRun) -> bool:
    """Whether ``run`` holds the brightness of every face it scored (older recordings do not)."""
    return all(track_id in run.brightness for track_id in run.scores)


def crops_recorded(run: VideoRun) -> bool:
    """Whether ``run`` holds what the neutral check and the follower measure on: the spotter
    it was recorded with, when each detector input was fed, and every face's crop at every
    frame it was seen (a run recorded with ``keep_crops=True, record_replay=True``)."""
    return run.spotter is not None and all(
        len(run.crops.get(track_id, ())) == len(seen) and track_id in run.detector_fed_at
        for track_id, seen in run.brightness.items())


def _detector_inputs(run: VideoRun) -> dict[int, list[tuple[int, float, float | None]]]:
    """Per track, the updates the engine fed its interval detector.

    A run recorded before they were kept gets every frame of the video with
    the face's score where it had one (exact only for a spotter without
    look-ahead and a face tracked from the first frame to the last).
    """
    if run.detector_inputs:
        return run.detector_inputs
    frames = sorted(run.timestamps_ms)
    return {track_id: [(frame, run.timestamps_ms[frame], scores.get(frame)) for frame in frames]
            for track_id, scores in run.scores.items()}


def _brightness_series(run: VideoRun, track_id: int) -> tuple[np.ndarray, np.ndarray]:
    """The frames (ascending) at which ``track_id`` was seen, and its recorded brightness there."""
    recorded = run.brightness[track_id]
    frames = sorted(recorded)
    return np.array(frames, dtype=np.int64), np.array([recorded[f] for f in frames])


class MeasuredOnceFlow(FlowEstimator):
    """A spotter's flow (its ``preset`` and ``compensation``), each :meth:`displacement`
    between two crops measured once.

    Keyed by the two crops' contents: a replay of many parameter combinations
    measures the same pairs (a face's neutral reference and its later frames)
    again and again, and the flow between two crops does not depend on them.
    """

    def __init__(self, preset: str, compensation: str) -> None:
        super().__init__(preset, compensation)
        self._measured: dict[tuple[int, int], float] = {}

    @property
    def measured_pairs(self) -> int:
        """Pairs of crops measured so far."""
        return len(self._measured)

    def displacement(self, reference: np.ndarray, crop: np.ndarray) -> float:
        key = (hash(reference.tobytes()), hash(crop.tobytes()))
        known = self._measured.get(key)
        if known is None:
            known = self._measured[key] = super().displacement(reference, crop)
        return known


#: One step of a face's replay: a frame of the engine, the face's ``(timestamp_ms, crop)``
#: there (None where it was not seen) and the detector inputs the engine fed it then.
FaceStep = tuple[int, "tuple[float, np.ndarray] | None", "list[tuple[int, float, float | None]]"]


class _RecordedFaces:
    """What a run's replays share, whatever the parameters: each face's steps, in the
    engine's order, and the flow measured once (:class:`MeasuredOnceFlow`)."""

    def __init__(self, run: VideoRun) -> None:
        assert run.spotter is not None  # crops_recorded
        self.lag_ms = run.spotter.lag_ms
        self.flow = MeasuredOnceFlow(run.spotter.flow_preset, run.spotter.flow_compensation)
        self.steps = {track_id: self._steps(run, track_id) for track_id in run.detector_fed_at}

    @staticmethod
    def _steps(run: VideoRun, track_id: int) -> list[FaceStep]:
        """``track_id``'s frames (seen, or fed with a score) in order, each with what happened."""
        fed: dict[int, list[tuple[int, float, float | None]]] = defaultdict(list)
        for at, update in zip(run.detector_fed_at[track_id], run.detector_inputs[track_id]):
            fed[at].append(update)
        crops = run.crops[track_id]
        return [(frame, (run.timestamps_ms[frame], crops[frame]) if frame in crops else None,
                 fed.get(frame, [])) for frame in sorted(crops.keys() | fed.keys())]


#: Each recorded run's shared replay state, by ``id(run)``; an entry goes when its run does.
_RECORDED: dict[int, _RecordedFaces] = {}


def _recorded_faces(run: VideoRun) -> _RecordedFaces:
    """``run``'s :class:`_RecordedFaces`, made on its first replay, kept as long as the run."""
    recorded = _RECORDED.get(id(run))
    if recorded is None:
        recorded = _RECORDED[id(run)] = _RecordedFaces(run)
        weakref.finalize(run, _RECORDED.pop, id(run), None)
    return recorded


@dataclass(frozen=True)
class EngineChecks:
    """The engine's checks after its interval detector, as a replay applies them: its
    :class:`~mer_edge.EngineOptions` of these names (None, False: that check is off; the
    defaults are the engine's)."""

    max_brightness_change: float | None = ENGINE_BRIGHTNESS_LIMIT
    max_me_residual: float | None = ENGINE_RESIDUAL_LIMIT
    follow_displaced: float | None = ENGINE_FOLLOW_RATIO
    me_ends_at_rest: bool = ENGINE_ENDS_AT_REST

    @classmethod
    def of(cls, options: EngineOptions) -> "EngineChecks":
        """The checks ``options`` run the engine with."""
        return cls(max_brightness_change=options.max_brightness_change,
                   max_me_residual=options.max_me_residual,
                   follow_displaced=options.follow_displaced,
                   me_ends_at_rest=options.me_ends_at_rest)

    def on_crops(self) -> list[str]:
        """The checks that measure the faces' crops and are on, each named with its value
        (empty: a replay needs no crops)."""
        valued = (("follow_displaced", self.follow_displaced),
                  ("max_me_residual", self.max_me_residual))
        return ([f"{name} {value:g}" for name, value in valued if value is not None]
                + ["me_ends_at_rest"] * self.me_ends_at_rest)


def replay_face(steps: Sequence[FaceStep], params: SpottingParams, flow: FlowEstimator, *,
                checks: EngineChecks = EngineChecks(), lag_ms: float = 0.0,
                fps_hint: float = 30.0, track_id: int = 0) -> list[MicroExpression]:
    """One face's crops and detector inputs played through the engine's per-face stages
    after scoring, in the engine's order: its frame ring, then its
    :class:`~mer_edge._interval_stage.FaceIntervals` (interval detector, lighting check,
    classifier and follower, with ``checks``); the face's events, as the engine reports
    them.

    ``flow`` is the spotter's (the engine's classifier measures on it without a
    recognizer); ``lag_ms`` the spotter's look-ahead (its scores reach the detector that
    much later, and the ring holds that much more); ``fps_hint`` the frame rate the
    engine sizes the smoothing and the ring with.
    """
    horizon_ms = ring_horizon_ms(params, lag_ms)
    ring = FrameRing(frames_over_horizon(horizon_ms, fps_hint), (CROP_SIZE, CROP_SIZE), 0, (0,))
    classify = IntervalClassifier(flow, params.k_ms, None, StageTimer(), checks.max_me_residual)
    stage = IntervalStage(classify, max_brightness_change=checks.max_brightness_change,
                          follow_displaced=checks.follow_displaced, fps_hint=fps_hint,
                          me_ends_at_rest=checks.me_ends_at_rest)
    face = stage.face(track_id, ring, params)
    events: list[MicroExpression] = []
    for frame, seen, updates in steps:
        if seen is not None:  # the engine's _spot
            ring.fit(horizon_ms)
            ring.push(frame, seen[0], seen[1], _NO_LANDMARKS)
        for update in updates:  # its _detect_intervals
            events += face.scored(*update)
        if seen is not None:
            events += face.seen()
    return events + face.ended()  # its _end_track


def _lighting_limit(run: VideoRun, limit: float | None) -> float | None:
    """The lighting limit ``run`` can be replayed with: ``limit``, or None (with a warning)
    when the run holds no brightness."""
    if limit is not None and not lighting_recorded(run):
        warnings.warn(f"{run.video.video_id}: recorded without the face's brightness: the "
                      f"lighting check (max_brightness_change {limit:g}) is not replayed, "
                      "its intervals are all kept", stacklevel=3)
        return None
    return limit


def _crop_checks(run: VideoRun, checks: EngineChecks) -> bool:
    """Whether the checks on the crops are replayed: one of ``checks`` is on and ``run``
    holds the crops (else, with a check on, a warning names what is not replayed)."""
    named = checks.on_crops()
    if not named:
        return False
    if crops_recorded(run):
        return True
    warnings.warn(f"{run.video.video_id}: recorded without the faces' crops: following a "
                  "displaced face, the return-to-neutral check and the end at rest "
                  f"({', '.join(named)}) are not replayed, the intervals are scored as the "
                  "detector closes them", stacklevel=3)
    return False


def _detector_intervals(run: VideoRun, track_id: int,
                        updates: list[tuple[int, float, float | None]], params: SpottingParams,
                        limit: float | None, fps_hint: float) -> list[SpottedInterval]:
    """``track_id``'s intervals from its detector alone, the lighting check on the brightness
    recorded (what a replay without the crops does)."""
    detector = IntervalDetector(track_id, params, fps_hint)
    intervals = [iv for update in updates for iv in detector.update(*update)]
    intervals += detector.flush()
    if limit is not None and intervals:  # the face's series is read once, not per interval
        series = _brightness_series(run, track_id)
        intervals = [iv for iv in intervals if not is_lighting_change(
            recorded_brightness_change(*series, iv), limit)]
    return intervals


def replay(run: VideoRun, params: SpottingParams, checks: EngineChecks = EngineChecks(), *,
           fps_hint: float = 30.0) -> list[Found]:
    """Intervals the engine would report on a recorded run with ``params``.

    Each face's detector gets the updates the engine gave it; an interval
    over which the face's brightness moved by more than
    ``checks.max_brightness_change`` is left out, an ME the face has not come
    back from (``max_me_residual``) is dropped and a movement it has not come
    back from is followed to its return (``follow_displaced``) and a MaE the
    face came back from within an ME's duration ends there as an ME
    (``me_ends_at_rest``), as the engine does with its options of those
    names (:class:`EngineChecks`; the engine's by default).
    ``fps_hint`` is the frame rate the engine sized the smoothing and the
    frame rings with (the spotter's ``window.fps`` unless
    ``EngineOptions.fps_hint`` says otherwise).

    A run recorded without the faces' brightness (an older recording) keeps
    every interval the lighting check would judge, and one recorded without
    the crops (``keep_crops=False``) scores the intervals as the detector
    closes them, each with a warning that the check was not replayed.
    """
    limit = _lighting_limit(run, checks.max_brightness_change)
    on_crops = _crop_checks(run, checks)
    checks = replace(checks, max_brightness_change=limit)
    found = []
    for track_id, updates in _detector_inputs(run).items():
        if on_crops:
            recorded = _recorded_faces(run)
            intervals = [event.interval for event in replay_face(
                recorded.steps[track_id], params, recorded.flow, checks=checks,
                lag_ms=recorded.lag_ms, fps_hint=fps_hint, track_id=track_id)]
        else:
            intervals = _detector_intervals(run, track_id, updates, params, limit, fps_hint)
        found += [(run.video.video_id, iv.onset_frame, iv.offset_frame, iv.kind)
                  for iv in intervals]
    return found


def replay_all(runs: Iterable[VideoRun], params: SpottingParams,
               checks: EngineChecks = EngineChecks(), *, fps_hint: float = 30.0) -> list[Found]:
    """Intervals the engine would report on every recorded run (:func:`replay` of each)."""
    return [item for run in runs for item in replay(run, params, checks, fps_hint=fps_hint)]
