"""Streaming interval detection on a per-frame spotting score.

The score at frame ``t`` measures facial motion between ``t - k`` and ``t``.
A movement with onset ``o``, apex ``a`` and offset ``f`` therefore raises the
score from about ``o`` until about ``f + k`` (the return to neutral is motion
too).  The detector:

1. smooths the score (a named :mod:`~mer_edge._smoothing` strategy);
2. keeps a running window of past scores and sets the MEGC-style adaptive
   threshold ``mean + p * (peak - mean)``, never below ``min_score`` (so a still
   face does not turn sensor noise into events).  ``peak`` is the history's
   maximum (MEGC's rule) or, with ``peak_quantile`` below 1, that quantile of
   it: one macro-expression in the history otherwise lifts the threshold over
   every small movement for the ``history_ms`` after it;
3. tracks runs of frames above threshold; peaks closer than ``k`` merge into
   one run (the rise and the fall of one movement are two bumps);
4. when a run closes (the score stays below threshold for ``close_gap_ms``,
   ``k`` by default, or it reaches ``max_interval_ms``) it emits
   ``[onset, offset]`` with apex the run's highest score, offset the run's
   end minus ``offset_lag * k`` (not before the apex) and onset where the
   score began its climb: from the first frame above threshold, back while
   the score keeps falling and stays above the history's median, by at most
   ``rise_onset_ms`` (None: the first frame above threshold, which is
   usually near the apex);
5. names the interval ``"ME"`` when it lasts at most ``me_max_ms``, else
   ``"MaE"``;
6. keeps an ME only if the face was quiet just before it: the mean smoothed
   score over the ``me_quiet_ms`` before the run crossed the threshold must be at most
   ``me_quiet_ratio`` times its peak.  A micro-expression is a brief movement
   of an otherwise still face; a short burst inside speech or an ongoing
   expression cannot be told from it by motion, and reporting such bursts is
   what floods talking faces with false MEs.  ``me_quiet_ratio=None`` turns
   the check off (every short run is an ME).  A MaE is reported whatever the
   face did before it; :meth:`IntervalDetector.after_stillness` tells whether
   it passed the check all the same (an ME whose score noise held up may be
   found to end sooner on the face's crops, :mod:`mer_edge._apex`).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from ._errors import InputError
from ._features import TIME_TOLERANCE_MS
from ._results import ExpressionKind, SpottedInterval
from ._smoothing import make_smoother

__all__ = ["SpottingParams", "IntervalDetector"]


@dataclass(frozen=True)
class SpottingParams:
    """Parameters of :class:`IntervalDetector` (times in milliseconds).

    Attributes:
        k_ms: motion lag of the score (from the spotting model's metadata).
        p: adaptive threshold fraction in ``[0, 1]``.
        min_score: absolute floor of the threshold.
        history_ms: length of the running window for the threshold.
        me_max_ms: longest micro-expression (MEs last at most 0.5 s).
        min_interval_ms: shorter runs are dropped as noise.
        max_interval_ms: a run is closed when it gets this long.
        smoother: smoother name; ``smooth_ms`` its window.
        close_gap_ms: a run closes after this long below threshold
            (None: ``k_ms``, so the rise and the fall of one movement merge).
        offset_lag: offset = end of the run - ``offset_lag * k_ms``.
        warmup_ms: scores of a track's first ``warmup_ms`` are ignored
            (alignment settling on a new face).
        me_quiet_ms: how far before an ME's threshold crossing (its first
            frame above threshold, not the onset of rule 4) the face must be
            quiet.
        me_quiet_ratio: an ME is kept only if the mean smoothed score over
            ``me_quiet_ms`` before its threshold crossing is at most this
            fraction of its peak score; None keeps every short run.
        me_quiet_min_ms: an ME crossing less than ``me_quiet_ms`` after the
            warm-up is judged on the scored history it has, if that is at
            least this long; with less (or with None: less than
            ``me_quiet_ms``) the face has not been watched long enough to
            call it still, and the ME is dropped.  The default 250 ms was
            chosen on the validation benches (docs/benchmarks.md, "Session
            13"): waiting for the whole ``me_quiet_ms`` dropped every ME of a
            track's first 1.4-1.9 s.
        rise_onset_ms: how far the onset may be moved back along the
            score's rise (rule 4); None: no further than the first frame
            above threshold.
        peak_quantile: the adaptive threshold's ``peak`` (rule 2) is this
            quantile of the history's scores, by nearest rank: the
            ``ceil(peak_quantile * n)``-th smallest of ``n``.  1 takes the
            maximum, MEGC's rule.  Below 1, the few frames of a large
            movement stop setting the threshold for the 20 s after them
            (docs/benchmarks.md, "Session 14").
    """

    k_ms: float = 200.0
    p: float = 0.5
    min_score: float = 0.3
    history_ms: float = 20_000.0
    me_max_ms: float = 500.0
    min_interval_ms: float = 100.0
    max_interval_ms: float = 6_000.0
    smoother: str = "moving_average"
    smooth_ms: float = 70.0
    close_gap_ms: float | None = None
    offset_lag: float = 0.25
    warmup_ms: float = 400.0
    me_quiet_ms: float = 1000.0
    me_quiet_ratio: float | None = 0.4
    me_quiet_min_ms: float | None = 250.0
    rise_onset_ms: float | None = 200.0
    peak_quantile: float = 1.0

    def __post_init__(self) -> None:
        checks = {
            "k_ms": self.k_ms > 0, "p": 0.0 <= self.p <= 1.0,
            "history_ms": self.history_ms > self.k_ms, "me_max_ms": self.me_max_ms > 0,
            "min_interval_ms": self.min_interval_ms >= 0,
            "max_interval_ms": self.max_interval_ms > self.me_max_ms,
            "smooth_ms": self.smooth_ms >= 0,
            "close_gap_ms": self.close_gap_ms is None or self.close_gap_ms > 0,
            "offset_lag": 0.0 <= self.offset_lag <= 1.0, "warmup_ms": self.warmup_ms >= 0,
            "me_quiet_ms": 0 < self.me_quiet_ms < self.history_ms,
            "me_quiet_ratio": self.me_quiet_ratio is None or 0.0 <= self.me_quiet_ratio <= 1.0,
            "me_quiet_min_ms": self.me_quiet_min_ms is None or self.me_quiet_min_ms > 0,
            "rise_onset_ms": self.rise_onset_ms is None or self.rise_onset_ms >= 0,
            "peak_quantile": 0.0 < self.peak_quantile <= 1.0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise InputError(f"invalid spotting parameters {bad}: got "
                             + ", ".join(f"{n}={getattr(self, n)}" for n in bad))


def _not_below(value_ms: float, bound_ms: float) -> bool:
    """``value_ms >= bound_ms`` within float rounding of timestamps.

    Durations of whole frames land on the rules' limits exactly (6 frames at
    30 fps are 200 ms), and only rounding would decide which side: this keeps
    ``i * 1000 / 30`` and ``(i / 30) * 1000`` timestamps to the same events.
    """
    return value_ms >= bound_ms - TIME_TOLERANCE_MS


def _peak(values: np.ndarray, quantile: float) -> float:
    """The ``quantile`` of ``values`` by nearest rank (1: the maximum)."""
    if quantile >= 1.0:
        return float(values.max())
    rank = max(math.ceil(quantile * len(values)) - 1, 0)
    return float(np.partition(values, rank)[rank])


@dataclass
class _Run:
    start: int  # position in history
    peak: int
    last_above: int


class IntervalDetector:
    """Turns one track's score stream into :class:`SpottedInterval` events.

    Args:
        track_id: the face the scores belong to.
        params: detection parameters.
        fps_hint: frame rate used to size the smoothing window before the
            real rate is known from timestamps.
    """

    def __init__(self, track_id: int, params: SpottingParams, fps_hint: float = 30.0) -> None:
        self.track_id = track_id
        self.params = params
        window = max(1, int(round(params.smooth_ms * fps_hint / 1000.0)))
        self._smoother = make_smoother(params.smoother, window)
        self._frames: deque[int] = deque()
        self._times: deque[float] = deque()
        self._scores: deque[float] = deque()
        self._offset = 0  # absolute position of _frames[0]
        self._run: _Run | None = None
        self._start_ms: float | None = None
        #: Short movements not reported as MEs because the face was moving before them (rule 6).
        self.not_still = 0
        #: ``(onset_frame, offset_frame)`` of the MaEs the latest update or flush closed after
        #: a still face (what :meth:`after_stillness` answers).
        self._macro_after_stillness: set[tuple[int, int]] = set()

    # -- history -------------------------------------------------------------
    def _value(self, position: int) -> float:
        return self._scores[position - self._offset]

    def _time(self, position: int) -> float:
        return self._times[position - self._offset]

    def _frame(self, position: int) -> int:
        return self._frames[position - self._offset]

    def _trim(self) -> None:
        keep_from = self._times[-1] - self.params.history_ms
        oldest_needed = self._run.start if self._run else len(self._scores) + self._offset
        while self._times and self._times[0] < keep_from and self._offset < oldest_needed:
            self._frames.popleft(); self._times.popleft(); self._scores.popleft()
            self._offset += 1

    def threshold(self) -> float:
        """The current adaptive threshold."""
        if not self._scores:
            return self.params.min_score
        values = np.fromiter(self._scores, dtype=np.float64)
        mean, peak = float(values.mean()), _peak(values, self.params.peak_quantile)
        return max(self.params.min_score, mean + self.params.p * (peak - mean))

    @property
    def latest_ms(self) -> float:
        """Timestamp of the newest update (``-inf`` before the first)."""
        return self._times[-1] if self._times else -math.inf

    # -- streaming -----------------------------------------------------------
    def after_stillness(self, interval: SpottedInterval) -> bool:
        """Whether the face was still before ``interval``, a MaE the latest :meth:`update`
        or :meth:`flush` returned (rule 6, which an ME must pass; always true with the check
        off)."""
        return (interval.onset_frame, interval.offset_frame) in self._macro_after_stillness

    def update(self, frame_index: int, timestamp_ms: float, score: float | None) -> list[SpottedInterval]:
        """Feed the score of one frame (None: the face was not seen)."""
        self._macro_after_stillness.clear()
        if self._times and timestamp_ms < self._times[-1]:
            raise InputError(f"timestamp {timestamp_ms} ms goes backwards "
                             f"(previous {self._times[-1]} ms)")
        if score is not None and not np.isfinite(score):
            raise InputError(f"spotting score must be finite, got {score}")
        if self._start_ms is None:
            self._start_ms = float(timestamp_ms)
        if not _not_below(timestamp_ms - self._start_ms, self.params.warmup_ms):
            score = None
        smoothed = self._smoother.update(score)
        self._frames.append(frame_index)
        self._times.append(float(timestamp_ms))
        self._scores.append(smoothed)
        position = self._offset + len(self._scores) - 1
        events = self._advance(position, smoothed)
        self._trim()
        return events

    def _advance(self, position: int, value: float) -> list[SpottedInterval]:
        params = self.params
        threshold = self.threshold()
        now = self._time(position)
        run = self._run
        if value >= threshold:
            if run is None:
                run = self._run = _Run(start=position, peak=position, last_above=position)
            else:
                run.last_above = position
                if value > self._value(run.peak):
                    run.peak = position
            if _not_below(now - self._time(run.start), params.max_interval_ms):
                return self._close()
            return []
        gap = params.k_ms if params.close_gap_ms is None else params.close_gap_ms
        if run is not None and _not_below(now - self._time(run.last_above), gap):
            return self._close()
        return []

    def _quiet_before(self, run: _Run) -> bool:
        """Whether the face was still over ``me_quiet_ms`` before the run (rule 6)."""
        ratio = self.params.me_quiet_ratio
        if ratio is None:
            return True
        if self._start_ms is None:
            return False
        watched_from = self._start_ms + self.params.warmup_ms
        least = min(self.params.me_quiet_min_ms or math.inf, self.params.me_quiet_ms)
        if not _not_below(self._time(run.start) - least, watched_from):
            return False  # the face has not been watched long enough to call it still
        earliest = max(self._time(run.start) - self.params.me_quiet_ms, watched_from)
        context = []
        for position in range(run.start - 1, self._offset - 1, -1):  # backwards in time
            if not _not_below(self._time(position), earliest):
                break
            context.append(self._value(position))
        return bool(context) and float(np.mean(context)) <= ratio * self._value(run.peak)

    def _rise_start(self, run: _Run) -> int:
        """Where the score began its climb to the run (rule 4): the onset.

        The first frame above threshold is part way up the rise; walk back
        while the score keeps falling and stays above the history's median, by
        at most ``rise_onset_ms``.  (It cannot reach into the previous event:
        the score dipped below threshold after that one's offset, and the walk
        stops at the dip.)
        """
        limit = self.params.rise_onset_ms
        if limit is None:
            return run.start
        baseline = float(np.median(np.fromiter(self._scores, dtype=np.float64)))
        start = run.start
        while (start - 1 >= self._offset and _not_below(limit, self._time(run.start) - self._time(start - 1))
               and baseline < self._value(start - 1) < self._value(start)):
            start -= 1
        return start

    def flush(self) -> list[SpottedInterval]:
        """Close an open run at the end of the stream."""
        self._macro_after_stillness.clear()
        return self._close() if self._run is not None else []

    def _close(self) -> list[SpottedInterval]:
        run, self._run = self._run, None
        if run is None:
            return []
        params = self.params
        end_time = self._time(run.last_above) - params.offset_lag * params.k_ms
        # Offset: the last frame at or before end_time, not before the apex.
        offset = run.peak
        for position in range(run.last_above, run.peak - 1, -1):
            if _not_below(end_time, self._time(position)):
                offset = max(position, run.peak)
                break
        onset = self._rise_start(run)
        onset_ms, offset_ms = self._time(onset), self._time(offset)
        if not _not_below(offset_ms - self._time(run.start), params.min_interval_ms):
            return []  # judged on the run itself: the rise does not make noise an event
        duration = offset_ms - onset_ms
        kind: ExpressionKind = "ME" if _not_below(params.me_max_ms, duration) else "MaE"
        still_before = self._quiet_before(run)
        if kind == "ME" and not still_before:
            self.not_still += 1
            return []
        if kind == "MaE" and still_before:
            self._macro_after_stillness.add((self._frame(onset), self._frame(offset)))
        return [SpottedInterval(
            track_id=self.track_id,
            onset_frame=self._frame(onset), apex_frame=self._frame(run.peak),
            offset_frame=self._frame(offset),
            onset_ms=onset_ms, apex_ms=self._time(run.peak), offset_ms=offset_ms,
            score=float(self._value(run.peak)), kind=kind)]
