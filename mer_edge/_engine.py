"""The streaming engine: frames in, tracked faces and micro-expressions out.

Per frame: face landmarks (MediaPipe) -> track ids -> alignment to the
template -> optical flow between the frame and the one ``k`` ms earlier ->
spotting model (all faces in one batch) -> streaming interval detection per
track -> recognition of each closed interval (onset..apex crops).  With a
macro spotter (``EngineOptions.macro_spotting_model``) every face is scored by
both models from the same flow, each with its own detector: the first one's
micro-expressions and the second one's macro-expressions are reported.
"""
from __future__ import annotations

import math
import os
import time
from contextlib import ExitStack, closing, contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, TypeVar

import numpy as np

from ._alignment import CROP_SIZE, FaceAligner
from ._call_guard import CallGuard
from ._classify import IntervalClassifier
from ._errors import InputError, ModelError, reworded
from ._features import frame_channels
from ._flow import FlowEstimator, compensate
from ._frame_result import EngineStats, FrameResult, ResultCallbackError
from ._frontend import FaceLandmarker, FaceObservation, validate_bgr
from ._interval_stage import FaceIntervals, IntervalStage
from ._lifecycle import Closeable
from ._modelmeta import InputSpec
from ._models import Model
from ._options import EngineOptions
from ._prefetch import AheadStep, LandmarkPrefetch, Prefetched
from ._results import FaceTrack, MicroExpression
from ._ringbuffer import FrameRing, frames_over_horizon
from ._spotter_lane import SpotterLane, check_macro_spotter, detection_params
from ._spotting import SpottingParams
from ._stream_driver import play_file, play_live
from ._telemetry import StageTimer
from ._timestamps import FrameRateCheck
from ._tracking import FaceTracker

if TYPE_CHECKING:
    from ._sources import FrameSource

__all__ = ["Engine", "EngineStats", "FrameResult", "ResultCallbackError", "CropObserver",
           "ScoreObserver"]

#: ``(track_id, frame_index, timestamp_ms, crop) -> None``
CropObserver = Callable[[int, int, float, np.ndarray], None]
#: ``(track_id, frame_index, timestamp_ms, score or None) -> None``
ScoreObserver = Callable[[int, int, float, Optional[float]], None]

_LANDMARKS = 478
_MIN_FRAME_SIDE = 16


class _Track:
    """Per-face state: frame ring, and for each spotter lane (the main one, the macro one if
    any) the face's :class:`FaceIntervals` on it (its detector and follower)."""

    def __init__(self, track_id: int, ring: FrameRing, per_lane: list[FaceIntervals]) -> None:
        self.track_id = track_id
        self.ring = ring
        #: The face's intervals on each lane, in the engine's lane order.
        self.per_lane = per_lane

    @property
    def main(self) -> FaceIntervals:
        """The face's intervals on the main spotter (the first lane)."""
        return self.per_lane[0]


class Engine(Closeable):
    """Spots and recognises micro-expressions in a video stream.

    Build it with :meth:`from_options`; use it as a context manager or call
    :meth:`close`.  Three ways to feed it:

    * ``for result in engine.run("video.mp4")`` (``running_mode="file"``);
    * ``engine.run_live(0)`` with ``result_callback`` (``running_mode="live"``);
    * ``engine.process(frame_bgr, timestamp_ms)`` (any mode; ``"push"`` is the default).

    One engine is one stream and is not thread-safe: feed it from one thread
    at a time (one engine per camera or thread; several engines in one
    process are fine).  A call to :meth:`process`, :meth:`flush` or
    :meth:`reset` while another is still running on the same engine (from
    another thread, or from a crop observer) raises :class:`InputError`
    instead of corrupting it; :meth:`close` waits for the frame in progress,
    but never for an observer (see there); :meth:`stats` may be read from
    any thread.  The result callback runs in
    the thread that called :meth:`process` (or :meth:`run_live`), after the
    frame's work is done, so it may call the engine back (``stats()``,
    ``reset()``).  An exception it raises reaches that caller as
    :class:`ResultCallbackError`, whose ``result`` is the result the callback
    was given and whose ``__cause__`` is the callback's exception; the engine
    keeps its state (the next frame goes on, :meth:`flush` still returns the
    open intervals).
    """

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        #: One call at a time; close() never waits for an observer (see :meth:`_exclusive`).
        self._guard = CallGuard()
        self._closed = True  # until every resource below is open: a failed constructor has none
        with ExitStack() as opened:  # a step that fails closes what the steps before it opened
            self._spotter = opened.enter_context(closing(options.open_model("spotting")))
            self._recognizer: Model | None = None
            if options.recognize:
                self._recognizer = opened.enter_context(closing(options.open_model("recognition")))
            self._params = detection_params(self._spotter, options)
            self._macro: SpotterLane | None = None
            if options.macro_spotting_model is not None:
                self._macro = self._macro_lane(opened.enter_context(closing(self._open_macro())))
            self._main = SpotterLane(self._spotter, self._params,
                                     None if self._macro is None else "ME")
            #: Each lane's flow compensation (the one its model was trained with), in lane order.
            self._lane_compensations = [lane.model.info.input.flow_compensation
                                        for lane in self._lanes]
            #: Time each track's ring must cover: the longest interval, its lags and a margin.
            self._ring_horizon_ms = max(lane.ring_horizon_ms for lane in self._lanes)
            self._fps_hint = options.fps_hint or self._main.fps
            self._landmarker = opened.enter_context(FaceLandmarker(
                max_faces=options.max_faces, redetect_every=options.redetect_every))
            self._tracker = FaceTracker(max_missed=options.max_missed_frames)
            self._aligner = FaceAligner(options.alignment_smoothing)
            # Each model gets flow computed the way it was trained (its metadata says how).
            self._spot_flow = FlowEstimator.for_input(self._spotter.info.input)
            opened.pop_all()
        self._tracks: dict[int, _Track] = {}
        self._not_still_of_ended_tracks = 0
        self._frame_shape: tuple[int, ...] | None = None
        self._last_timestamp: float | None = None
        self._frame_index = 0
        self._rate_check = FrameRateCheck()
        self.timer = StageTimer()
        self._classify = IntervalClassifier(self._spot_flow, self._params.k_ms, self._recognizer,
                                            self.timer, options.max_me_residual)
        self._intervals = IntervalStage(self._classify,
                                        max_brightness_change=options.max_brightness_change,
                                        follow_displaced=options.follow_displaced,
                                        fps_hint=self._fps_hint,
                                        me_ends_at_rest=options.me_ends_at_rest)
        self._crop_observers: list[CropObserver] = []
        self._score_observers: list[ScoreObserver] = []
        #: The landmark worker of the run under way (``prefetch_landmarks``; :meth:`_prefetching`).
        self._ahead: LandmarkPrefetch | None = None
        self._closed = False

    def _open_macro(self) -> Model:
        """The macro spotting model; an error opening it names the option.

        Raises:
            ModelError: the file is no spotting model or cannot be opened.
        """
        try:
            return self.options.open_model("macro_spotting")
        except ModelError as error:
            raise reworded(error, prefix="macro_spotting_model: ") from error

    def _macro_lane(self, macro: Model) -> SpotterLane:
        """The macro spotter's lane: its own calibration, reporting its macro-expressions.

        Raises:
            ModelError: it cannot share the spotting model's flow.
        """
        check_macro_spotter(self._spotter, macro)
        return SpotterLane(macro, detection_params(macro, self.options, calibration_only=True),
                           "MaE")

    @property
    def _lanes(self) -> list[SpotterLane]:
        """The spotters run on every face: the main one, then the macro one if any."""
        return [self._main] if self._macro is None else [self._main, self._macro]

    @classmethod
    def from_options(cls, options: EngineOptions | None = None, **overrides: Any) -> "Engine":
        """Build an engine; keyword overrides replace fields of ``options``.

        Raises:
            InputError: an override names no :class:`EngineOptions` field (the
                valid ones are listed), or a value is invalid.
        """
        from dataclasses import fields, replace

        options = options or EngineOptions()
        valid = sorted(f.name for f in fields(EngineOptions))
        unknown = sorted(set(overrides) - set(valid))
        if unknown:
            raise InputError(f"unknown EngineOptions field(s) {unknown}; valid: {valid}")
        return cls(replace(options, **overrides) if overrides else options)

    def close(self) -> None:
        """Release models and the landmarker (idempotent).

        Waits for the call another thread is running (one frame of the
        engine's own work), never for your code: while that call runs a crop
        or score observer, which may be waiting for this very ``close()`` (a
        thread it started, then joined), ``close()`` returns at once and the
        engine closes as soon as that call returns.  Its frame is finished and
        returned; later calls raise :class:`InputError` ("the engine is
        closed").  Intervals still open are not reported: call :meth:`flush`
        first to get them.

        Raises:
            InputError: called on the thread running a call on this engine (from
                an observer): close it after that call returns.
        """
        self._guard.close(self._release)

    def _release(self) -> None:
        """Close the models and the landmarker, once."""
        if self._closed:
            return
        self._closed = True
        ahead = self._ahead  # read once: the run may end (and forget it) meanwhile
        if ahead is not None:  # the landmarker must not be running on its worker
            ahead.close()
        self._landmarker.close()
        self._spotter.close()
        if self._macro is not None:
            self._macro.model.close()
        if self._recognizer is not None:
            self._recognizer.close()

    @contextmanager
    def _exclusive(self, call: str) -> Iterator[None]:
        """Run the body of ``call`` alone on an open engine (:meth:`CallGuard.exclusive`).

        Raises:
            InputError: another call is running on this engine, or it is closed.
        """
        with self._guard.exclusive(call, self._release):
            if self._closed:
                raise InputError("the engine is closed")
            yield

    # -- public info ----------------------------------------------------------
    @property
    def models(self) -> dict[str, Model]:
        models = {"spotting": self._spotter}
        if self._macro is not None:
            models["macro_spotting"] = self._macro.model
        if self._recognizer is not None:
            models["recognition"] = self._recognizer
        return models

    @property
    def spotting_params(self) -> SpottingParams:
        return self._params

    def add_crop_observer(self, observer: "CropObserver") -> None:
        """Call ``observer(track_id, frame_index, timestamp_ms, crop)`` with every aligned crop.

        ``crop`` is the ``(128, 128) uint8`` grey face in template coordinates
        (a view: copy it to keep it).  Useful to save aligned faces or to
        evaluate a recognizer on known intervals.
        """
        self._crop_observers.append(observer)

    def add_score_observer(self, observer: "ScoreObserver") -> None:
        """Call ``observer(track_id, frame_index, timestamp_ms, score)`` with every detector input.

        Each face's interval detector is fed one score per update, in order:
        ``score`` None where the face was not scored (warming up, missed);
        the frame is the one the score belongs to (for a look-ahead spotter
        the lagged frame, not the newest).  Replaying these updates through an
        :class:`~mer_edge._spotting.IntervalDetector` gives the intervals the
        engine's detector gave (what the detection calibration does).
        """
        self._score_observers.append(observer)

    def remove_crop_observer(self, observer: "CropObserver") -> None:
        """Stop calling ``observer`` (added by :meth:`add_crop_observer`); unknown ones are ignored."""
        self._crop_observers = _without(self._crop_observers, observer)

    def remove_score_observer(self, observer: "ScoreObserver") -> None:
        """Stop calling ``observer`` (added by :meth:`add_score_observer`); unknown ones are ignored."""
        self._score_observers = _without(self._score_observers, observer)

    def stats(self) -> EngineStats:
        """Per-stage ms/frame, fps, face count and held-back intervals so far."""
        tracks = list(self._tracks.values())  # one step: another thread may be processing
        not_still = self._not_still_of_ended_tracks + sum(
            track.main.detector.not_still for track in tracks)
        return EngineStats(frames=self.timer.frames, faces=self.timer.faces, fps=self.timer.fps(),
                           ms_per_stage=self.timer.ms_per_frame(), me_not_still=not_still,
                           lighting_changes=self._intervals.lighting_changes,
                           me_still_displaced=self._classify.me_still_displaced,
                           followed_to_return=self._classify.followed_to_return)

    # -- feeding ----------------------------------------------------------------
    def _check_frame(self, frame_bgr: object, timestamp_ms: object) -> tuple[np.ndarray, float]:
        frame = validate_bgr(frame_bgr, min_side=_MIN_FRAME_SIDE)
        if self._frame_shape is not None and frame.shape != self._frame_shape:
            raise InputError(f"resolution changed mid-stream: {self._frame_shape[1]}x"
                             f"{self._frame_shape[0]} -> {frame.shape[1]}x{frame.shape[0]}; "
                             "call reset() (or use a new Engine) for a new stream")
        if isinstance(timestamp_ms, (str, bytes, bool)):
            raise InputError(f"timestamp_ms must be a number of milliseconds, got {timestamp_ms!r}")
        try:
            stamp = float(timestamp_ms)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InputError(f"timestamp_ms must be a number, got {timestamp_ms!r}") from None
        if not math.isfinite(stamp):
            raise InputError(f"timestamp_ms must be finite, got {stamp}")
        if self._last_timestamp is not None and stamp <= self._last_timestamp:
            raise InputError(f"timestamp_ms {stamp} is not after the previous {self._last_timestamp}")
        self._rate_check.check(stamp)
        return frame, stamp

    def process(self, frame_bgr: np.ndarray, timestamp_ms: float) -> FrameResult:
        """Process one frame; returns its faces and any events that closed.

        Raises :class:`InputError` (a ``ValueError``) for a frame that is not
        ``(H, W, 3) uint8``, a resolution change, a timestamp that does not
        increase, or timestamps that look like seconds (frames in a row far
        closer together than :data:`~mer_edge._timestamps.MAX_FPS` allows);
        the engine's state is untouched then.  Raises
        :class:`ResultCallbackError` carrying the frame's result when the
        result callback raised.  See the class documentation for threads and
        the result callback.  Raises :class:`InputError` while a :meth:`run`
        or :meth:`run_live` with ``prefetch_landmarks`` has its next frame
        under way on this engine (between two of its results): the frames
        of the two would interleave in the landmarker.
        """
        with self._exclusive("process"):
            ahead = self._ahead
            if ahead is not None and ahead.pending:
                raise InputError("Engine.process() called while run() or run_live() has its next "
                                 "frame under way on this engine (prefetch_landmarks); finish or "
                                 "close that run first, or set prefetch_landmarks=False")
            result = self._process(frame_bgr, timestamp_ms)
        self._call_back(result)
        return result

    def _call_back(self, result: FrameResult) -> None:
        """Hand ``result`` to the result callback, if any; its exception comes back wrapped.

        As :class:`ResultCallbackError` carrying ``result``, so the caller
        still gets it.  A ``KeyboardInterrupt`` or ``SystemExit`` passes
        through as it is.
        """
        callback = self.options.result_callback
        if callback is None:
            return
        try:
            callback(result)
        except Exception as error:
            raise ResultCallbackError(result, error) from error

    def _process(self, frame_bgr: np.ndarray, timestamp_ms: float) -> FrameResult:
        frame, stamp = self._check_frame(frame_bgr, timestamp_ms)
        started = time.perf_counter()
        index = self._begin_frame(frame, stamp)
        with self.timer.stage("face"):
            observations = self._landmarker.detect(frame)
        return self._after_landmarks(frame, index, stamp, observations, started)

    def _begin_frame(self, frame: np.ndarray, stamp: float) -> int:
        """Make a checked frame the stream's newest (size, time, number); its frame number."""
        self._frame_shape = frame.shape
        self._last_timestamp = stamp
        self._rate_check.observe(stamp)
        index = self._frame_index
        self._frame_index += 1
        return index

    def _after_landmarks(self, frame: np.ndarray, index: int, stamp: float,
                         observations: list[FaceObservation], started: float) -> FrameResult:
        """Everything after the face stage for frame ``index``: track, align, flow, spot, classify.

        ``started`` (``time.perf_counter()``) is when the frame's work began,
        for the frame rate of :meth:`stats`.
        """
        with self.timer.stage("track"):
            matched = self._tracker.update(observations, index)
            ended = list(self._tracker.ended_tracks())
        events = [event for track_id in ended for event in self._end_track(track_id)]
        faces, scored = self._spot(frame, index, stamp, matched)
        events.extend(self._detect_intervals(index, stamp, scored))
        self.timer.count_frame(len(faces), time.perf_counter() - started)
        return FrameResult(index, stamp, faces, events)

    # -- landmarks one frame ahead (the drivers, with prefetch_landmarks) --------------
    @contextmanager
    def _prefetching(self) -> Iterator[LandmarkPrefetch]:
        """A landmark worker for one run of a driver, known to the engine while the run lasts.

        :meth:`reset` and :meth:`close` drop the frame it has under way (the
        landmarker is reset or closed after it has finished, never under it);
        a later run takes the engine over (the earlier one's worker ends, and
        that run, if resumed, goes on without it).  The worker thread ends
        when the run does, however it ends.
        """
        prefetch = LandmarkPrefetch(self._landmarker.detect)
        earlier, self._ahead = self._ahead, prefetch
        try:
            if earlier is not None:
                earlier.close()
            yield prefetch
        finally:
            if self._ahead is prefetch:
                self._ahead = None
            prefetch.close()

    def _start_ahead(self, prefetch: LandmarkPrefetch, frame_bgr: np.ndarray,
                     timestamp_ms: float) -> Prefetched | None:
        """Check a frame as :meth:`process` does and start its landmarks on ``prefetch``.

        Returns its ticket, or None, touching nothing, when another run has
        taken the engine over (the frame must go through :meth:`process`).

        Raises:
            InputError: what :meth:`process` raises for the frame (the engine
                is untouched).
        """
        with self._exclusive("process"):
            if self._ahead is not prefetch:
                return None
            return prefetch.start(*self._check_frame(frame_bgr, timestamp_ms))

    def _process_ahead(self, ticket: Prefetched, following: tuple[np.ndarray, float] | None
                       ) -> AheadStep | None:
        """:meth:`process` for a frame whose landmarks were started ahead; starts the next one's.

        ``following`` is the next frame and its timestamp, or None.  It is
        checked (against this frame's time) and its landmarks start on the
        worker before this frame is tracked, aligned, flowed and scored; a
        check that fails comes back in the step, to be raised after this
        frame's result.  Returns None, touching nothing, when ``ticket`` is no
        longer under way (a :meth:`reset` or :meth:`close` since, or another
        run took the engine over): the frame must go through :meth:`process`.
        The ``face`` stage of :meth:`stats` is the time waited for the worker.

        Raises:
            InputError: the engine is closed, or another call is running.
            BackendError: MediaPipe failed on this frame (the engine has taken
                the frame's number and time, as :meth:`process` does).
        """
        with self._exclusive("process"):
            prefetch = self._ahead
            if prefetch is None or not prefetch.holds(ticket):
                return None
            started = time.perf_counter()
            index = self._begin_frame(ticket.frame, ticket.stamp)
            with self.timer.stage("face"):
                observations = prefetch.take(ticket)
            upcoming: Prefetched | None = None
            refused: Exception | None = None
            if following is not None:
                try:
                    upcoming = prefetch.start(*self._check_frame(*following))
                except InputError as error:  # process() would raise it for that frame, later
                    refused = error
            result = self._after_landmarks(ticket.frame, index, ticket.stamp, observations,
                                           started)
        return AheadStep(result, upcoming, refused)

    def flush(self) -> list[MicroExpression]:
        """End of stream: close every open interval and return its events."""
        with self._exclusive("flush"):
            return self._flush()

    def _flush(self) -> list[MicroExpression]:
        events: list[MicroExpression] = []
        for track_id in list(self._tracks):
            events.extend(self._end_track(track_id))
        return events

    def reset(self) -> list[MicroExpression]:
        """Start a new stream: close open intervals and forget faces and time.

        Returns the events of the intervals still open (as :meth:`flush`).
        After it, frame numbers start again at 0 and timestamps may start
        anew (a second video from its own 0 ms); the models stay loaded.
        Track ids keep counting up (an id never names two faces), and
        :meth:`stats` counts over the engine's whole life.
        :meth:`run` and :meth:`run_live` call it themselves when the engine
        has already seen frames, so one engine can run several files.
        """
        with self._exclusive("reset"):
            events = self._flush()
            self._forget_stream()
            return events

    def _forget_stream(self) -> None:
        """Forget faces, frame numbers and time (what :meth:`reset` does after the flush)."""
        ahead = self._ahead
        if ahead is not None:  # a run's next frame: the landmarker is reset after it
            ahead.drop()
        self._tracker.reset()
        self._landmarker.reset()
        self._frame_shape = None
        self._last_timestamp = None
        self._frame_index = 0
        self._rate_check.reset()

    # -- stages -----------------------------------------------------------------
    def _new_track(self, track_id: int) -> _Track:
        capacity = self._frames_over_horizon(self._fps_hint)
        shapes = [_feature_shape(lane.model.info.input) for lane in self._lanes]
        ring = FrameRing(capacity, (CROP_SIZE, CROP_SIZE), _LANDMARKS, *shapes)
        per_lane = [self._intervals.face(track_id, ring, lane.params, kept_kind=lane.kept_kind)
                    for lane in self._lanes]
        track = _Track(track_id, ring, per_lane)
        self._tracks[track_id] = track
        return track

    def _lane_flows(self, reference: np.ndarray | None, crop: np.ndarray) -> list[np.ndarray | None]:
        """Each lane's flow from ``reference`` to ``crop`` (None without a reference): one DIS
        flow, compensated once per compensation the lanes' models ask for."""
        if reference is None:
            return [None] * len(self._lanes)
        raw = self._spot_flow.raw(reference, crop)
        kinds = self._lane_compensations
        last = len(set(kinds)) - 1  # the last kind may compensate the raw flow in place
        by_kind = {kind: compensate(raw if number == last else raw.copy(), kind)
                   for number, kind in enumerate(dict.fromkeys(kinds))}
        return [by_kind[kind] for kind in kinds]

    def _lane_features(self, ring: FrameRing) -> list[np.ndarray]:
        """Each spotter's per-frame features in ``ring`` (the macro spotter's second)."""
        return [ring.features] if self._macro is None else [ring.features, ring.second_features]

    def _end_track(self, track_id: int) -> list[MicroExpression]:
        track = self._tracks.pop(track_id, None)
        self._aligner.forget(track_id)
        if track is None:
            return []
        events = [event for face in track.per_lane for event in face.ended()]
        self._not_still_of_ended_tracks += track.main.detector.not_still
        return events

    def _spot(self, frame: np.ndarray, index: int, stamp: float,
              matched: list[tuple[int, FaceObservation]]
              ) -> tuple[list[FaceTrack], list[tuple[_Track, list[float | None]]]]:
        """Align, flow and score every matched face; returns faces and (track, score of each lane).

        The flow is computed once per face and frame; each spotter gets its
        own channels of it.
        """
        pending: list[tuple[_Track, FaceObservation, bool]] = []
        clips: list[list[np.ndarray]] = [[] for _ in self._lanes]
        for track_id, observation in matched:
            track = self._tracks.get(track_id) or self._new_track(track_id)
            with self.timer.stage("align"):
                aligned = self._aligner.align(frame, observation.landmarks, track_id)
                track.ring.fit(self._ring_horizon_ms)
                reference = track.ring.slot_at_or_before(stamp - self._params.k_ms)
                slot = track.ring.push(index, stamp, aligned.crop, observation.landmarks)
            self._notify(self._crop_observers, track_id, index, stamp, aligned.crop)
            features = self._lane_features(track.ring)
            with self.timer.stage("flow"):
                flows = self._lane_flows(track.ring.crops[reference] if reference is not None else None,
                                         aligned.crop)
                for lane, lane_features, flow in zip(self._lanes, features, flows):
                    lane_features[slot] = frame_channels(lane.model.info.input, aligned.crop, flow)
            pending.append((track, observation, reference is not None))
            if reference is not None:
                for lane, lane_features, lane_clips in zip(self._lanes, features, clips):
                    lane_clips.append(lane.window(track.ring, lane_features, stamp))
        scores = [self._scores(lane, lane_clips) for lane, lane_clips in zip(self._lanes, clips)]
        faces: list[FaceTrack] = []
        scored: list[tuple[_Track, list[float | None]]] = []
        for track, observation, ready in pending:
            row = [float(next(lane_scores)) if ready else math.nan for lane_scores in scores]
            faces.append(FaceTrack(track.track_id, index, stamp, observation.box,
                                   observation.landmarks, row[0],
                                   macro_score=None if self._macro is None else row[1]))
            scored.append((track, [None if math.isnan(score) else score for score in row]))
        return faces, scored

    def _scores(self, lane: SpotterLane, clips: list[np.ndarray]) -> Iterator[float]:
        """``lane``'s model run on ``clips`` (all faces in one batch): one score per clip."""
        if not clips:
            return iter(())
        with self.timer.stage("spot"):
            return iter(np.asarray(lane.model(np.stack(clips)), dtype=np.float64).reshape(-1))

    def _frames_over_horizon(self, fps: float) -> int:
        """Ring slots that hold the ring's horizon at ``fps`` (:func:`frames_over_horizon`)."""
        return frames_over_horizon(self._ring_horizon_ms, fps)

    def _detect_intervals(self, index: int, stamp: float,
                          scored: list[tuple[_Track, list[float | None]]]) -> list[MicroExpression]:
        seen = {track.track_id for track, _ in scored}
        closed: list[MicroExpression] = []
        for track, scores in scored:
            for lane, face, score in zip(self._lanes, track.per_lane, scores):
                target = lane.scored_frame(track.ring, face.detector, index, stamp)
                if target is not None:
                    closed.extend(self._update(track, face, *target, score))
                closed.extend(face.seen())
        for track_id, track in self._tracks.items():
            if track_id in seen:
                continue
            for lane, face in zip(self._lanes, track.per_lane):
                if lane.lag_ms <= 0:  # a lagged detector only advances with its own face's frames
                    closed.extend(self._update(track, face, index, stamp, None))
        return closed

    def _update(self, track: _Track, face: FaceIntervals, frame_index: int, stamp: float,
                score: float | None) -> list[MicroExpression]:
        """Feed one score to ``track``'s intervals ``face`` of one lane; the events it reports.

        The main lane's updates are shown to the score observers first (the
        macro spotter's are not).
        """
        if face is track.main:
            self._notify(self._score_observers, track.track_id, frame_index, stamp, score)
        return face.scored(frame_index, stamp, score)

    def _notify(self, observers: list[Callable[..., None]], *args: object) -> None:
        """Call each of ``observers`` with ``args`` as user code (:meth:`CallGuard.observer`);
        without observers, nothing to mark (a frame's worth of context managers saved)."""
        if not observers:
            return
        with self._guard.observer():
            for observer in observers:
                observer(*args)

    # -- sources ------------------------------------------------------------------
    def run(self, source: str | int | os.PathLike | FrameSource, *, fps: float | None = None,
            progress: Callable[[int, int | None], None] | None = None) -> Iterator[FrameResult]:
        """Iterate over a file, folder or stream (``running_mode="file"``).

        ``source`` is a path, camera index or URL, or a ``FrameSource``
        already opened (``mer_edge._sources.open_source``, not live) whose
        ``error`` the caller reads afterwards; the caller closes it.  The final :class:`FrameResult` carries the events closed
        by the end of the stream (``flush``).  Nothing is dropped.  With
        ``prefetch_landmarks`` (the default) each frame's landmarks are
        computed on a worker thread while the frame before is processed:
        the same results, sooner (see :class:`EngineOptions`).
        """
        if self.options.running_mode != "file":
            raise InputError(f"run() needs running_mode 'file', the engine is in "
                             f"{self.options.running_mode!r} mode")
        yield from play_file(self, source, fps=fps, progress=progress)

    def run_live(self, source: str | int | os.PathLike, *, fps: float | None = None,
                 should_stop: Callable[[], bool] | None = None) -> dict[str, int]:
        """Run on a live source until it ends or ``should_stop()`` is true.

        Results go to ``options.result_callback``.  Returns counts of frames
        processed and dropped (a slow consumer drops the oldest frames).  To
        stop from the callback, make ``should_stop`` return true.  A callback
        that raises stops the run with :class:`ResultCallbackError`, which
        carries the result it was given (:meth:`process`).
        """
        if self.options.running_mode != "live":
            raise InputError(f"run_live() needs running_mode 'live', the engine is in "
                             f"{self.options.running_mode!r} mode")
        return play_live(self, source, fps=fps, should_stop=should_stop)


def _feature_shape(spec: InputSpec) -> tuple[int, int, int]:
    """Shape ``(C, S, S)`` of one time step of a model's input."""
    return (len(spec.channels), spec.size, spec.size)


_Observer = TypeVar("_Observer", bound=Callable[..., None])


def _without(observers: list[_Observer], observer: _Observer) -> list[_Observer]:
    """A new list of ``observers`` without any registration of ``observer`` (equal: a bound
    method taken twice).

    New, not filtered in place: an observer may remove itself (or another) while the engine
    is calling the list, and the others must still get that frame.
    """
    return [known for known in observers if known != observer]
