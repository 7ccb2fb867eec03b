"""What happens to a face's spotting scores: its intervals detected, judged and followed.

Per face and spotter lane, after scoring, the engine feeds each score update
to the face's :class:`~mer_edge._spotting.IntervalDetector`; a MaE it closes
after a still face may turn out an ME that ended sooner, at the face's return
to rest (:meth:`~mer_edge._classify.IntervalClassifier.ended_at_rest`); an
interval is kept only of the lane's kind, then only if the face's brightness
did not move over it (:mod:`mer_edge._lighting`), then the
:class:`~mer_edge._classify.IntervalClassifier` names it, with the face's
:class:`~mer_edge._follow.DisplacementFollower` holding what the face has
not come back from.  Each frame the face is seen the follower takes a step;
at the face's end the detector is flushed and the follower releases all.

:class:`FaceIntervals` is that per face and lane, :class:`IntervalStage` what
the faces of one engine share.  The detection calibration's replay
(``export/detection_replay.py``) runs the same objects, so it reports what
the engine reports.
"""
from __future__ import annotations

from ._classify import IntervalClassifier
from ._follow import DisplacementFollower
from ._lighting import brightness_change, is_lighting_change
from ._results import ExpressionKind, MicroExpression, SpottedInterval
from ._ringbuffer import FrameRing
from ._spotting import IntervalDetector, SpottingParams

__all__ = ["FaceIntervals", "IntervalStage"]


class IntervalStage:
    """What every face's :class:`FaceIntervals` of one engine share.

    Args:
        classify: names the closed intervals (and follows the displaced ones).
        max_brightness_change: ``EngineOptions.max_brightness_change``: an
            interval over which the face's brightness moved by more than this
            fraction is not reported (None: the check is off).
        follow_displaced: ``EngineOptions.follow_displaced``: each face's
            follower's hold ratio (None: no following).
        fps_hint: the frame rate the detectors' smoothing is sized for.
        me_ends_at_rest: ``EngineOptions.me_ends_at_rest``: a MaE after a still
            face that came back to rest within an ME's duration is an ME ending
            there (:meth:`IntervalClassifier.ended_at_rest`).

    Attributes:
        lighting_changes: intervals left out by the lighting check so far.
    """

    def __init__(self, classify: IntervalClassifier, *, max_brightness_change: float | None,
                 follow_displaced: float | None, fps_hint: float,
                 me_ends_at_rest: bool) -> None:
        self.classify = classify
        self.me_ends_at_rest = me_ends_at_rest
        self._lighting_limit = max_brightness_change
        self._follow_displaced = follow_displaced
        self._fps_hint = fps_hint
        self.lighting_changes = 0

    def face(self, track_id: int, ring: FrameRing, params: SpottingParams, *,
             kept_kind: ExpressionKind | None = None) -> "FaceIntervals":
        """A new face's intervals with detection ``params``, on the crops of its ``ring``,
        reporting only ``kept_kind`` (None: every kind)."""
        return FaceIntervals(self, IntervalDetector(track_id, params, self._fps_hint),
                             DisplacementFollower.for_detection(self._follow_displaced, params,
                                                                kept_kind=kept_kind),
                             ring, kept_kind)

    def not_lighting(self, ring: FrameRing,
                     intervals: list[SpottedInterval]) -> list[SpottedInterval]:
        """``intervals`` without those over which the face's brightness (its crops in
        ``ring``) changed: lighting, counted in :attr:`lighting_changes`."""
        limit = self._lighting_limit
        if limit is None:
            return intervals
        kept = []
        for interval in intervals:
            if is_lighting_change(brightness_change(ring, interval), limit):
                self.lighting_changes += 1
            else:
                kept.append(interval)
        return kept


class FaceIntervals:
    """One face's interval detection on one spotter lane, and what judges its intervals.

    Made by :meth:`IntervalStage.face`.

    Attributes:
        detector: the face's interval detector (its ``latest_ms``, ``not_still``).
    """

    def __init__(self, stage: IntervalStage, detector: IntervalDetector,
                 follower: DisplacementFollower | None, ring: FrameRing,
                 kept_kind: ExpressionKind | None) -> None:
        self._stage = stage
        self.detector = detector
        self._follower = follower
        self._ring = ring
        self._kept_kind = kept_kind

    def scored(self, frame_index: int, timestamp_ms: float,
               score: float | None) -> list[MicroExpression]:
        """Feed the detector one score (None: the face was not scored then); the events of
        the intervals it closes."""
        closed = self.detector.update(frame_index, timestamp_ms, score)
        return self._judged(closed) if closed else []

    def seen(self) -> list[MicroExpression]:
        """The face's newest crop is in the ring: the events the follower releases there."""
        follower = self._follower
        if not follower:
            return []
        return self._stage.classify.follow(self._ring, follower)

    def ended(self) -> list[MicroExpression]:
        """The face's stream ended: the events of its open intervals and of all held ones."""
        events = self._judged(self.detector.flush())
        if self._follower is not None:
            events += self._stage.classify.follow(self._ring, self._follower, end=True)
        return events

    def _judged(self, intervals: list[SpottedInterval]) -> list[MicroExpression]:
        """The events of ``intervals`` just closed: a MaE that may end at rest, the lane's
        kind, the lighting check, then the classifier (with the face's follower)."""
        if self._stage.me_ends_at_rest and self._kept_kind != "MaE":
            intervals = [self._at_rest(interval) for interval in intervals]
        if self._kept_kind is not None:
            intervals = [interval for interval in intervals if interval.kind == self._kept_kind]
        if not intervals:
            return []
        stage = self._stage
        return stage.classify(self._ring, stage.not_lighting(self._ring, intervals),
                              self._follower)

    def _at_rest(self, interval: SpottedInterval) -> SpottedInterval:
        """``interval``, or the ME it is when a MaE after a still face came back to rest
        within an ME's duration (the still face, rule 6, as the detector asks of an ME)."""
        if interval.kind != "MaE" or not self.detector.after_stillness(interval):
            return interval
        return self._stage.classify.ended_at_rest(self._ring, interval,
                                                  self.detector.params.me_max_ms)
