"""Engine options: one dataclass, validated on construction."""
from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, Optional, Union

from ._errors import InputError
from ._spotting import SpottingParams
from ._timestamps import MAX_FPS

if TYPE_CHECKING:
    from ._engine import FrameResult
    from ._models import Model

__all__ = ["EngineOptions", "RunningMode", "RUNNING_MODES"]

RunningMode = Literal["push", "file", "live"]
RUNNING_MODES = ("push", "file", "live")


@dataclass(frozen=True)
class EngineOptions:
    """How the :class:`~mer_edge.Engine` runs.

    Attributes:
        running_mode: ``"push"`` (call :meth:`Engine.process` yourself),
            ``"file"`` (iterate :meth:`Engine.run` over a video; nothing is
            dropped) or ``"live"`` (:meth:`Engine.run_live` on a camera or
            stream; results go to ``result_callback``; a slow consumer drops
            the oldest frames and counts them).
        result_callback: called with each :class:`~mer_edge.FrameResult` in
            live mode; must be None in the other modes.  An exception it
            raises reaches the caller of ``process()`` / ``run_live()`` as
            :class:`~mer_edge.ResultCallbackError`, whose ``result`` is the
            result it was given (``__cause__``: its exception); the engine
            goes on with its open intervals.
        spotting_model, recognition_model: ``.onnx`` paths; None uses the
            models shipped in the package.
        macro_spotting_model: a second spotting model (``.onnx``) for
            macro-expressions, e.g. the shipped ``regional_tcn_spotter.onnx``;
            None (the default) runs one spotter.  When set, every face is also
            scored by it, with its own interval detector (the ``detection``
            parameters of its metadata, behind its own look-ahead lag), and
            the engine reports the spotting model's ``"ME"`` events plus this
            one's ``"MaE"`` events.  It must share the spotting model's
            ``window.k_ms`` and flow preset (the flow is computed once);
            ``spotting`` and ``spotting_overrides`` stay the spotting model's.
        backend: inference backend name (``onnxruntime``, ``onnxruntime-cuda``,
            ``onnxruntime-tensorrt``, ``tensorrt``).
        allow_fallback: let a GPU backend fall back to CPU (reported).
        max_faces: most faces tracked at once.
        redetect_every: frames between full face detections (tracking in between).
        max_missed_frames: a track survives this many frames without its face.
        alignment_smoothing: landmark jitter damping in ``[0, 1)``.
        spotting: interval detection parameters; None takes those the
            spotting model was calibrated with (its ``detection`` metadata)
            over the :class:`~mer_edge.SpottingParams` defaults.
        spotting_overrides: individual :class:`~mer_edge.SpottingParams`
            fields set over those (e.g. ``{"me_quiet_ratio": None}`` turns
            the still-face check off and keeps the rest of the spotter's
            calibration); ``k_ms`` is set by the option of that name.
        k_ms: motion lag; None takes the spotting model's ``window.k_ms``.
        fps_hint: frame rate assumed before timestamps reveal it (None: 30).
        recognize: classify spotted intervals (False: spotting only).
        max_brightness_change: an interval over which the face's mean
            brightness moves by more than this fraction of its onset value is
            a lighting change (a lamp, auto-exposure), not an expression: it
            is not reported (``Engine.stats()["lighting_changes"]`` counts
            them).  None reports every interval.
        max_me_residual: a micro-expression is brief, so when the detector
            closes one the face should be back near its neutral (pre-onset)
            state.  An ME after which the face is still displaced by more
            than this fraction of its apex displacement is the first rise of
            a longer movement (a smile that stays) and is not reported
            (``Engine.stats()["me_still_displaced"]`` counts them).  The
            default 1.0 drops only MEs the face has moved further from since
            their apex.  None reports every ME.
        follow_displaced: the spotting score sees motion, so a movement that
            rises, holds and returns (a smile, a macro-expression) makes two
            bursts of it, and the detector closes the rise alone.  An interval
            after which the face is still displaced from its neutral reference
            by more than this fraction of its apex displacement is held, and
            followed (one optical flow every 100 ms of the face) until the face
            is back below half that fraction of its largest displacement (or
            ``max_interval_ms``); it is then reported from its onset to that
            frame, as an ME or a MaE by its new duration, and the intervals
            closed meanwhile are part of it (``Engine.stats()["followed_to_return"]``
            counts them; ``mer_edge._follow``).  Such an ME is then followed
            rather than dropped by ``max_me_residual``.  A displacement below
            ``mer_edge._follow.NOISE_FLOOR_PX`` is never followed (noise).  The
            default 0.7 was chosen on the validation benches among 0.3-0.85
            (docs/benchmarks.md, "Session 13").  None turns it off.
        me_ends_at_rest: the detector times a movement by its score, and on
            a noisy face (a grainy camera, heavy compression) the noise can
            keep a brief movement's score above threshold after the face is
            back, so that it lasts longer than an ME may and is called a MaE.
            With this on, a MaE after a still face (the still-face check of an
            ME) whose displacement from its neutral reference went beyond
            ``mer_edge._apex.NOISE_FLOOR_PX`` and came back within it no later
            than ``me_max_ms`` after its onset is reported as an ME ending at
            that frame (``mer_edge._apex.return_to_rest``; at most 16 optical
            flows per such MaE).  False: the kind follows the score alone.
        prefetch_landmarks: in :meth:`Engine.run` and :meth:`Engine.run_live`,
            compute each frame's face landmarks on a worker thread while the
            engine works on the frame before (MediaPipe lets go of the GIL,
            so on two cores or more most of the landmark time is hidden).
            The results are those of frame-by-frame processing, errors
            included (a frame the engine refuses raises after the result of
            the frame before it).  The source's next frame is read before the
            current one is processed (a live source's only when it is already
            waiting), so a run that stops early (``should_stop``, a ``break``,
            an exception) has had the landmarker see one frame more than it
            reported; a later run starts a new stream anyway.  While a run has
            a frame under way, :meth:`Engine.process` on the same engine is
            refused.  :meth:`Engine.process` itself is never prefetched.  The
            ``face`` stage of ``Engine.stats()`` is then the time waited for
            the worker, not MediaPipe's own time.  False: one frame at a time,
            on the caller's thread (one core, or a reader that reuses its
            image buffer).
    """

    running_mode: RunningMode = "push"
    result_callback: Optional[Callable[["FrameResult"], object]] = None
    spotting_model: Optional[str] = None
    recognition_model: Optional[str] = None
    macro_spotting_model: Optional[Union[str, "os.PathLike[str]"]] = None
    backend: str = "onnxruntime"
    allow_fallback: bool = False
    max_faces: int = 4
    redetect_every: int = 15
    max_missed_frames: int = 10
    alignment_smoothing: float = 0.5
    spotting: Optional[SpottingParams] = None
    spotting_overrides: Optional[Mapping[str, Any]] = None
    k_ms: Optional[float] = None
    fps_hint: Optional[float] = None
    recognize: bool = True
    max_brightness_change: Optional[float] = 0.15
    max_me_residual: Optional[float] = 1.0
    follow_displaced: Optional[float] = 0.7
    me_ends_at_rest: bool = True
    prefetch_landmarks: bool = True

    def open_model(self, task: str) -> "Model":
        """The ``task`` model these options name (or the shipped default), on their backend.

        Every place that runs a model for an engine (the engine itself, the
        evaluation's recognizer, the CLI's provider check) opens it here, so
        a TensorRT profile is built for the same batch range everywhere.
        ``task`` ``"macro_spotting"`` opens ``macro_spotting_model`` (a
        spotting model; there is no default).
        """
        from ._models import Model, default_model_path

        if task == "macro_spotting":
            if self.macro_spotting_model is None:
                raise InputError("macro_spotting_model is not set")
            path, expected = self.macro_spotting_model, "spotting"
        else:
            named = self.spotting_model if task == "spotting" else self.recognition_model
            path, expected = named or default_model_path(task), task
        return Model(path, backend=self.backend, expected_task=expected,
                     allow_fallback=self.allow_fallback, max_batch=self.max_faces)

    def __post_init__(self) -> None:
        if self.running_mode not in RUNNING_MODES:
            raise InputError(f"running_mode: expected one of {RUNNING_MODES}, got {self.running_mode!r}")
        if self.running_mode == "live" and self.result_callback is None:
            raise InputError("running_mode 'live' needs a result_callback")
        if self.result_callback is not None and not callable(self.result_callback):
            raise InputError(f"result_callback must be callable, got "
                             f"{type(self.result_callback).__name__}")
        if self.spotting is not None and not isinstance(self.spotting, SpottingParams):
            raise InputError(f"spotting: expected SpottingParams (or spotting_overrides for a "
                             f"mapping of fields), got {type(self.spotting).__name__}")
        if self.running_mode != "live" and self.result_callback is not None:
            raise InputError(f"result_callback is only used in 'live' mode, got running_mode "
                             f"{self.running_mode!r}")
        counts = {"max_faces": 1, "redetect_every": 1, "max_missed_frames": 0}
        for name, least in counts.items():
            value = getattr(self, name)
            if not _is_whole(value) or value < least:
                raise InputError(f"{name} must be a whole number >= {least}, got {value!r}")
        optional = {"fps_hint": self.fps_hint, "k_ms": self.k_ms,
                    "max_brightness_change": self.max_brightness_change,
                    "max_me_residual": self.max_me_residual,
                    "follow_displaced": self.follow_displaced}
        for name, value in {"alignment_smoothing": self.alignment_smoothing, **optional}.items():
            if not (_is_number(value) or (name in optional and value is None)):
                raise InputError(f"{name} must be a number, got {value!r}")
        for name in ("me_ends_at_rest", "prefetch_landmarks"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if not 0 <= self.alignment_smoothing < 1:
            raise InputError(f"alignment_smoothing must be in [0, 1), got {self.alignment_smoothing}")
        if self.fps_hint is not None and not 0 < self.fps_hint <= MAX_FPS:
            raise InputError(f"fps_hint must be in (0, {MAX_FPS:g}], got {self.fps_hint}")
        if self.k_ms is not None and self.k_ms <= 0:
            raise InputError(f"k_ms must be > 0, got {self.k_ms}")
        for name in ("max_brightness_change", "max_me_residual", "follow_displaced"):
            if optional[name] is not None and optional[name] <= 0:
                raise InputError(f"{name} must be > 0 or None, got {optional[name]}")
        if self.spotting_overrides is not None:
            object.__setattr__(self, "spotting_overrides",
                               MappingProxyType(_checked_overrides(self.spotting_overrides)))


def _is_whole(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(float(value)))


def _checked_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``spotting_overrides`` whose keys are :class:`SpottingParams` fields.

    The values are checked when the engine combines them with the spotter's
    calibration (:meth:`SpottingParams.__post_init__`), since only the
    combination can be judged.
    """
    if not isinstance(overrides, Mapping):
        raise InputError(f"spotting_overrides: expected a mapping of SpottingParams fields, "
                         f"got {type(overrides).__name__}")
    valid = sorted(f.name for f in fields(SpottingParams) if f.name != "k_ms")
    for name in overrides:
        if name == "k_ms":
            raise InputError("spotting_overrides: set the motion lag with the k_ms option")
        if name not in valid:
            raise InputError(f"spotting_overrides: unknown parameter {name!r}; valid: {valid}")
    return dict(overrides)
