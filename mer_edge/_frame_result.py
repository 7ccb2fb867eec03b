"""What the engine hands back: a frame's result, its statistics, a failed result callback."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

from ._errors import MerEdgeError
from ._results import FaceTrack, MicroExpression

__all__ = ["EngineStats", "FrameResult", "ResultCallbackError"]


@dataclass(frozen=True)
class FrameResult:
    """What the engine found in one frame.

    Attributes:
        frame_index: 0-based index of the frame in the stream.
        timestamp_ms: its timestamp.
        faces: the tracked faces in this frame, with their current score.
        events: expressions whose interval closed at this frame (they
            happened earlier: see their onset/offset).
    """

    frame_index: int
    timestamp_ms: float
    faces: list[FaceTrack] = field(default_factory=list)
    events: list[MicroExpression] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``frame``, ``timestamp_ms``, and the ``faces`` and
        ``events`` as their own ``to_dict()`` gives them."""
        return {"frame": self.frame_index, "timestamp_ms": round(float(self.timestamp_ms), 3),
                "faces": [face.to_dict() for face in self.faces],
                "events": [event.to_dict() for event in self.events]}


class ResultCallbackError(MerEdgeError):
    """The result callback raised; the :class:`FrameResult` it was given is :attr:`result`.

    The engine had finished the frame (or closed the intervals) that result
    holds, so nothing is lost: the callback's own exception is this error's
    ``__cause__``, and the engine is ready for the next frame with its open
    intervals as they were.

    Attributes:
        result: the result the callback failed on.
    """

    def __init__(self, result: FrameResult, error: Exception) -> None:
        super().__init__(f"the result callback raised {type(error).__name__}: {error} (on the "
                         f"result of frame {result.frame_index}, which is this error's .result)")
        self.result = result


class EngineStats(TypedDict):
    """What :meth:`~mer_edge.Engine.stats` returns (over the engine's whole life).

    Attributes:
        frames: frames processed.
        faces: faces seen, summed over the frames.
        fps: frames per second of processing (decode excluded).
        ms_per_stage: mean milliseconds per frame of each stage, in pipeline
            order (``face``, ``track``, ``align``, ``flow``, ``spot``,
            ``classify``).  For the frames of a run with
            :attr:`EngineOptions.prefetch_landmarks`, ``face`` is the time the
            engine waited for the landmark worker (the part of MediaPipe's
            time not hidden behind the frame before), not MediaPipe's own time.
        me_not_still: short movements not reported as MEs because the face
            was moving before them (:attr:`SpottingParams.me_quiet_ratio`).
        lighting_changes: intervals not reported because the face's
            brightness changed over them
            (:attr:`EngineOptions.max_brightness_change`).
        me_still_displaced: MEs not reported because the face had not gone
            back towards its neutral state when they ended
            (:attr:`EngineOptions.max_me_residual`).
        followed_to_return: intervals the face had not come back from when
            they ended, held and followed to its return, then reported as one
            longer movement (:attr:`EngineOptions.follow_displaced`).
    """

    frames: int
    faces: int
    fps: float
    ms_per_stage: dict[str, float]
    me_not_still: int
    lighting_changes: int
    me_still_displaced: int
    followed_to_return: int
