"""One spotting model inside the engine: its detection, look-ahead and time window.

The engine runs its spotting model and, when
``EngineOptions.macro_spotting_model`` names one, a second spotter whose
macro-expressions replace the first one's.  Each runs as a
:class:`SpotterLane`: the model, the interval-detection parameters it was
calibrated with, the lag of its look-ahead, and the kinds of events it
reports.  Both read the same per-face flow (computed once), so they must
agree on the motion lag ``k`` and the flow preset (:func:`check_macro_spotter`).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Optional

import numpy as np

from ._errors import InputError, ModelError, reworded
from ._features import scored_time, window_times
from ._models import Model
from ._results import ExpressionKind
from ._spotting import IntervalDetector, SpottingParams

if TYPE_CHECKING:
    from ._options import EngineOptions
    from ._ringbuffer import FrameRing

__all__ = ["RING_MARGIN_MS", "SpotterLane", "check_macro_spotter", "detection_params",
           "ring_horizon_ms"]

#: Time a face's frame ring keeps beyond what its detection needs (:func:`ring_horizon_ms`).
RING_MARGIN_MS = 1_500.0


def ring_horizon_ms(params: SpottingParams, lag_ms: float) -> float:
    """Time a face's frame ring must cover for detection ``params`` with a look-ahead of
    ``lag_ms``: the longest interval, its motion lag ``k``, the look-ahead and a margin."""
    return params.max_interval_ms + params.k_ms + lag_ms + RING_MARGIN_MS


@dataclass(frozen=True)
class SpotterLane:
    """A spotting model with the detection it feeds.

    Attributes:
        model: the open spotting model.
        params: interval-detection parameters of its detectors.
        kept_kind: the one kind of event this lane reports (``"ME"`` or
            ``"MaE"``); None reports every event.
    """

    model: Model
    params: SpottingParams
    kept_kind: Optional[ExpressionKind] = None

    @property
    def lag_ms(self) -> float:
        """A look-ahead spotter scores the frame ``lag`` ms before its window's end."""
        return float(self.model.info.window.get("lag_ms", 0.0))

    @property
    def fps(self) -> float:
        """The frame rate the model was trained at (its window's time step)."""
        return float(self.model.info.window.get("fps", 30.0))

    def window(self, ring: FrameRing, features: np.ndarray, stamp: float) -> np.ndarray:
        """The model's ``T`` time steps of ``features`` (a ring's array), at its own frame rate.

        A model trained at 30 fps sees 30 fps steps from a 15 or 200 fps camera
        (nearest stored frame at or before each step time).
        """
        frames = self.model.info.input.frames
        if frames == 1:
            return features[ring.newest_slot][None]
        return features[ring.slots_at_times(window_times(stamp, frames, self.fps))]

    @property
    def ring_horizon_ms(self) -> float:
        """Time a face's frame ring must cover for this lane (:func:`ring_horizon_ms`)."""
        return ring_horizon_ms(self.params, self.lag_ms)

    def scored_frame(self, ring: FrameRing, detector: IntervalDetector, index: int,
                     stamp: float) -> tuple[int, float] | None:
        """(frame index, timestamp) the current score belongs to; None if already scored.

        Without a look-ahead that is the current frame.  A spotter with
        ``window.lag_ms`` scores the track's newest frame at or before
        ``stamp - lag``; the last ``lag`` ms of a track are never scored.
        """
        if self.lag_ms <= 0:
            return index, stamp
        slot = ring.slot_at_or_before(float(scored_time(stamp, self.lag_ms)))
        if slot is None:
            return None
        lagged_stamp = float(ring.timestamps_ms[slot])
        if lagged_stamp <= detector.latest_ms:
            return None
        return int(ring.frame_indices[slot]), lagged_stamp


def check_macro_spotter(main: Model, macro: Model) -> None:
    """Refuse a macro spotter that cannot share the main spotter's flow.

    Raises:
        ModelError: the two disagree on ``window.k_ms`` or the flow preset (both
            values named).  They may differ in ``input.flow_compensation``: the DIS flow is
            shared and each gets its own compensation of it.
    """
    pairs = {"window.k_ms": (float(main.info.window["k_ms"]), float(macro.info.window["k_ms"])),
             "input.flow_preset": (main.info.input.flow_preset, macro.info.input.flow_preset)}
    for name, (ours, theirs) in pairs.items():
        if ours != theirs:
            raise ModelError(f"macro_spotting_model {macro.path}: {name} is {theirs!r}, the "
                             f"spotting model {main.path.name} has {ours!r}; both spotters read "
                             f"the same flow, so they must agree")


def detection_params(spotter: Model, options: EngineOptions, *,
                     calibration_only: bool = False) -> SpottingParams:
    """Interval-detection parameters of an engine running ``spotter`` with ``options``.

    The user's ``options.spotting``, else the spotter's calibrated ``detection``
    metadata over the :class:`SpottingParams` defaults; then
    ``options.spotting_overrides`` over that; ``k_ms`` from the options, else
    the model's window.  ``calibration_only`` (the macro spotter) ignores
    ``options.spotting`` and ``options.spotting_overrides``, which are the
    main spotter's.
    """
    if options.spotting is not None and not calibration_only:
        params = options.spotting
    else:
        known = {f.name for f in fields(SpottingParams)}
        calibrated = dict(spotter.info.detection)
        unknown = sorted(set(calibrated) - known)
        if unknown:
            raise ModelError(f"{spotter.path}: unknown detection parameters {unknown}; "
                             f"valid: {sorted(known)}")
        params = SpottingParams(**calibrated)
    overrides = {} if calibration_only else dict(options.spotting_overrides or {})
    try:
        return replace(params, k_ms=options.k_ms or float(spotter.info.window["k_ms"]), **overrides)
    except InputError as error:
        if not overrides:
            raise
        raise reworded(error, prefix=f"spotting_overrides {overrides} over the detection "
                                     f"parameters of {spotter.path.name}: ") from error
