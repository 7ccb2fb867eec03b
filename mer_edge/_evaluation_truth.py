"""Ground truth of an evaluation: intervals in the engine's frames, and recognising them.

:func:`truth_from_interval` turns a sheet interval into a :class:`TruthInterval`
in 0-based engine frames; the private helpers choose the frames whose crops a
run keeps for recognition, recognise a labelled micro-expression from a
:class:`~mer_edge._evaluation_runs.VideoRun`'s crops exactly as the engine
would, and score the recognised classes.  Part of :mod:`mer_edge.evaluation`,
which exports the public names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ._engine import Engine
from ._errors import DatasetError
from ._evaluation_runs import VideoRun
from ._features import recognition_clip, sample_positions
from ._flow import FlowEstimator
from ._models import Model
from .data.schema import MEGC_CLASSES, Interval, megc_label
from .metrics import recognition_scores

__all__ = ["TruthInterval", "truth_from_interval"]


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


#: A run's recognised class for a truth interval (None: no face around it).
_Recognise = Callable[[VideoRun, TruthInterval], "str | None"]


def _recogniser(engine: Engine) -> _Recognise | None:
    """How :func:`evaluate` recognises a truth ME with the engine's recognizer; None without one."""
    recognizer = engine.models.get("recognition")
    if recognizer is None:
        return None
    flow = FlowEstimator.for_input(recognizer.info.input)
    return lambda run, item: _recognise(run, item, recognizer, flow)


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
