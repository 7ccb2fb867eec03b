"""Validation metrics used for model selection (never computed on test).

* spotting: frame-level ROC AUC of the last-frame score, and MEGC interval
  F1 (IoU >= 0.5) of the events the engine's per-face stages report from the
  score stream and the aligned crops of each validation video: its interval
  detector, lighting check, return-to-neutral check, end at rest and
  following of a displaced face
  (:func:`mer_edge_export.detection_replay.replay_face`);
* recognition: accuracy, UF1 and UAR in the MEGC three classes.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable

import numpy as np

from mer_edge._flow import FlowEstimator
from mer_edge._spotting import SpottingParams
from mer_edge.data.schema import MEGC_CLASSES
from mer_edge.metrics import recognition_scores, spotting_scores

from .data import RecognitionSet, SpottingSet, SpotVideo
from .detection_replay import EngineChecks, FaceStep, MeasuredOnceFlow, replay_face

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


def _face_steps(video: SpotVideo, scores: np.ndarray, look_ahead: bool) -> list[FaceStep]:
    """``video``'s frames as the engine meets them (:data:`FaceStep`): the crop where the
    face was found, and the score of each window at the frame that ends it, under the frame
    it belongs to (the first window wins a frame, as in the engine).  Without
    ``look_ahead`` a frame without a score still advances the detector (None), as the
    engine's detector of a face without a look-ahead spotter does."""
    aligned, stamps = video.video, video.video.timestamps_ms
    fed: dict[int, list[tuple[int, float, float | None]]] = defaultdict(list)
    given: set[int] = set()
    for end, frame in zip(video.ends.tolist(), video.scored.tolist()):
        if frame not in given:
            given.add(frame)
            score = float(scores[frame])
            fed[end].append((frame, float(stamps[frame]), None if np.isnan(score) else score))
    steps: list[FaceStep] = []
    for position in range(len(aligned)):
        stamp = float(stamps[position])
        seen = (stamp, aligned.crops[position]) if aligned.found[position] else None
        unscored = [] if look_ahead else [(position, stamp, None)]
        steps.append((position, seen, fed.get(position) or unscored))
    return steps


def _split_flow(data: SpottingSet) -> MeasuredOnceFlow:
    """The flow the engine's checks measure ``data``'s crops on (its spec's), each pair once."""
    return MeasuredOnceFlow(data.spec.flow_preset, data.spec.flow_compensation)


def spotting_metrics(data: SpottingSet, predict: Predict,
                     params: SpottingParams | None = None,
                     scored: list[np.ndarray] | None = None, *,
                     checks: EngineChecks = EngineChecks(),
                     flow: FlowEstimator | None = None) -> dict[str, Any]:
    """Frame AUC and MEGC interval scores of a spotter on a split.

    ``scored`` reuses the output of :func:`score_videos` (e.g. to compare
    detector parameters without running the model again).  The intervals
    scored are the events the engine's per-face stages report from each
    video's scores and aligned crops
    (:func:`~mer_edge_export.detection_replay.replay_face`): the detector's
    intervals, judged by the engine's checks after it, ``checks`` (the
    engine's by default: the lighting check, the return-to-neutral check,
    the end at rest, following a displaced face), on the split's own flow
    (``data.spec``): ``flow`` when given (a :class:`MeasuredOnceFlow` shared by
    calls on the same crops measures each pair once), else a new one.
    Scores of the PyTorch model are not bit for bit the exported model's, so
    this is close to, not exactly, what ``mer-edge eval`` reports for the
    exported file.
    """
    params = params or SpottingParams(k_ms=data.k_ms)
    flow = flow or _split_flow(data)
    lag_ms = 1000.0 * data.lag_frames / data.model_fps
    all_scores, all_labels = [], []
    truth, pred = [], []
    if scored is None:
        scored = score_videos(data, predict)
    for video, scores in zip(data.videos, scored):
        valid = np.isfinite(scores)
        all_scores.append(scores[valid])
        all_labels.append(video.labels[valid])
        for interval in video.truth:
            onset = video.video.index_of(interval.onset)
            offset = video.video.index_of(interval.end_frame)
            truth.append((video.key, onset, max(onset, offset), interval.kind))
        events = replay_face(_face_steps(video, scores, lag_ms > 0), params, flow, checks=checks,
                             lag_ms=lag_ms, fps_hint=video.video.fps)
        pred.extend((video.key, e.interval.onset_frame, e.interval.offset_frame, e.interval.kind)
                    for e in events)
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
    flow = _split_flow(data)  # the checks measure the same crops at every grid point
    rows = []
    for p in grid["p"]:
        for floor in grid["min_score"]:
            params = SpottingParams(k_ms=data.k_ms, p=p, min_score=floor)
            metrics = spotting_metrics(data, predict, params, scored, flow=flow)
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
