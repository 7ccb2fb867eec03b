"""Validation metrics used for model selection (never computed on test).

* spotting: frame-level ROC AUC of the last-frame score, and MEGC interval
  F1 (IoU >= 0.5) of the engine's own :class:`~mer_edge._spotting.IntervalDetector`
  run over the score stream of each validation video, its intervals judged
  by the engine's lighting check (``EngineOptions.max_brightness_change``,
  :mod:`mer_edge._lighting`) on the video's aligned crops;
* recognition: accuracy, UF1 and UAR in the MEGC three classes.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from mer_edge._lighting import crop_brightness, is_lighting_change, recorded_brightness_change
from mer_edge._options import EngineOptions
from mer_edge._results import SpottedInterval
from mer_edge._spotting import IntervalDetector, SpottingParams
from mer_edge.data.prepare import AlignedVideo
from mer_edge.data.schema import MEGC_CLASSES
from mer_edge.metrics import recognition_scores, spotting_scores

from .data import RecognitionSet, SpottingSet

__all__ = ["roc_auc", "spotting_metrics", "recognition_metrics", "score_videos", "tune_detector"]

Predict = Callable[[np.ndarray], np.ndarray]


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney); 0.5 when one class is missing."""
    labels = labels > 0.5
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), np.float64)
    sorted_scores = scores[order]
    # average ranks of ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for start, count in zip(first, counts):
        ranks[order[start:start + count]] = start + (count + 1) / 2.0
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def score_videos(data: SpottingSet, predict: Predict, batch: int = 256) -> list[np.ndarray]:
    """Per-video score arrays (NaN where the engine would not score).

    Windows are sampled in time like the engine's, and each score goes to
    the frame it belongs to (look-ahead spotters; the first score wins when
    two windows map to one frame, as in the engine).
    """
    results = []
    for number, video in enumerate(data.videos):
        scores = np.full(len(video.video), np.nan, np.float32)
        for start in range(0, len(video.ends), batch):
            ends = video.ends[start:start + batch]
            clips = np.stack([data.video_window(number, int(e))[0] for e in ends])
            for frame, score in zip(video.scored[start:start + batch], predict(clips)):
                if np.isnan(scores[frame]):
                    scores[frame] = score
        results.append(scores)
    return results


def _lit(video: AlignedVideo, interval: SpottedInterval, limit: float | None) -> bool:
    """Whether the engine's lighting check leaves out ``interval`` (frames are positions in ``video``)."""
    if limit is None:
        return False
    first = interval.onset_frame
    seen = first + np.flatnonzero(video.found[first:interval.offset_frame + 1])
    change = recorded_brightness_change(seen, crop_brightness(video.crops[seen]), interval)
    return is_lighting_change(change, limit)


def spotting_metrics(data: SpottingSet, predict: Predict,
                     params: SpottingParams | None = None,
                     scored: list[np.ndarray] | None = None, *,
                     max_brightness_change: float | None = EngineOptions.max_brightness_change
                     ) -> dict[str, Any]:
    """Frame AUC and MEGC interval scores of a spotter on a split.

    ``scored`` reuses the output of :func:`score_videos` (e.g. to compare
    detector parameters without running the model again).  Intervals over
    which the face's brightness moved by more than ``max_brightness_change``
    (the engine's option; None: no check) are left out, as the engine
    leaves them out.  The engine's checks on the crops after that, its
    return-to-neutral check and its following of a displaced face
    (``EngineOptions.max_me_residual``, ``follow_displaced``), are not
    applied: these are the detector's intervals, the figure training selects
    a model by, not the engine's events (``mer_edge_export.calibrate`` replays
    those).
    """
    params = params or SpottingParams(k_ms=data.k_ms)
    all_scores, all_labels = [], []
    truth, pred = [], []
    for video, scores in zip(data.videos, scored if scored is not None else score_videos(data, predict)):
        valid = np.isfinite(scores)
        all_scores.append(scores[valid])
        all_labels.append(video.labels[valid])
        for interval in video.truth:
            onset = video.video.index_of(interval.onset)
            offset = video.video.index_of(interval.end_frame)
            truth.append((video.key, onset, max(onset, offset), interval.kind))
        detector = IntervalDetector(0, params, video.video.fps)
        spotted = []
        for index, (stamp, score) in enumerate(zip(video.video.timestamps_ms, scores)):
            spotted.extend(detector.update(index, float(stamp), None if np.isnan(score) else float(score)))
        spotted.extend(detector.flush())
        pred.extend((video.key, s.onset_frame, s.offset_frame, s.kind) for s in spotted
                    if not _lit(video.video, s, max_brightness_change))
    scores_all = np.concatenate(all_scores) if all_scores else np.zeros(0)
    labels_all = np.concatenate(all_labels) if all_labels else np.zeros(0)
    megc = spotting_scores(truth, pred)
    return {"frame_auc": roc_auc(scores_all, labels_all),
            "f1": megc["all"]["f1"], "f1_me": megc["ME"]["f1"], "f1_mae": megc["MaE"]["f1"],
            "precision": megc["all"]["precision"], "recall": megc["all"]["recall"],
            "truth": len(truth), "predicted": len(pred)}


def tune_detector(data: SpottingSet, predict: Predict,
                  grid: dict[str, tuple[float, ...]] | None = None) -> list[dict[str, Any]]:
    """Interval F1 on ``data`` for a grid of detector parameters, best first.

    Use it on the validation split only; it recommends ``p`` / ``min_score``
    for :class:`~mer_edge._spotting.SpottingParams`.
    """
    grid = grid or {"p": (0.25, 0.35, 0.5, 0.7), "min_score": (0.2, 0.3, 0.5)}
    scored = score_videos(data, predict)
    rows = []
    for p in grid["p"]:
        for floor in grid["min_score"]:
            params = SpottingParams(k_ms=data.k_ms, p=p, min_score=floor)
            metrics = spotting_metrics(data, predict, params, scored)
            rows.append({"p": p, "min_score": floor, **metrics})
    return sorted(rows, key=lambda row: -row["f1"])


def recognition_metrics(data: RecognitionSet, predict: Predict, batch: int = 128) -> dict[str, Any]:
    """Accuracy, UF1 and UAR (one prediction per interval: the unshifted sample)."""
    probabilities = np.concatenate([predict(data.clips[i:i + batch])
                                    for i in range(0, len(data), batch)])
    guesses = [MEGC_CLASSES[int(k)] for k in probabilities.argmax(1)]
    truths = [MEGC_CLASSES[int(k)] for k in data.labels]
    scores = recognition_scores(truths, guesses, MEGC_CLASSES)
    return {"accuracy": scores["accuracy"], "uf1": scores["uf1"], "uar": scores["uar"],
            "confusion": scores["confusion"], "samples": len(data)}
