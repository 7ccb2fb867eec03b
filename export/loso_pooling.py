"""MEGC figures of leave-one-subject-out folds, pooled from their ``report.json`` records.

Each fold's report is what :func:`mer_edge.evaluation.evaluate_dataset` gives
for the held-out subject; its ``per_video`` records hold the truth (with the
class recognised for each ME) and the detections.  Pooling concatenates them
over folds, as the MEGC protocols pool predictions before scoring.
"""
from __future__ import annotations

from typing import Any

from mer_edge.data.schema import MEGC_CLASSES
from mer_edge.metrics import recognition_scores, spotting_scores

__all__ = ["pooled_figures", "fold_figures"]


def _recognition_pairs(report: dict[str, Any]) -> tuple[list[str], list[str], int]:
    """True and predicted classes of a fold's recognised MEs, and how many had no face."""
    truth, predicted, no_face = [], [], 0
    for video in report["per_video"]:
        for item in video["truth"]:
            if "predicted" not in item:
                continue
            if item["predicted"] is None:
                no_face += 1
            else:
                truth.append(item["label"])
                predicted.append(item["predicted"])
    return truth, predicted, no_face


def _spotting_items(report: dict[str, Any], subject: str
                    ) -> tuple[list[tuple[str, int, int, str]], list[tuple[str, int, int, str]]]:
    truth, predicted = [], []
    for video in report["per_video"]:
        key = f"{subject}:{video['video']}"
        truth += [(key, t["onset"], t["offset"], t["kind"]) for t in video["truth"]]
        predicted += [(key, d["onset"], d["offset"], d["kind"]) for d in video["detections"]]
    return truth, predicted


def _rounded(scores: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()}


def pooled_figures(task: str, fold_reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The MEGC figures of all folds' predictions pooled (a fold: held-out subject -> report)."""
    if task == "recognition":
        truth, predicted, no_face = [], [], 0
        for report in fold_reports.values():
            fold_truth, fold_predicted, fold_no_face = _recognition_pairs(report)
            truth.extend(fold_truth)
            predicted.extend(fold_predicted)
            no_face += fold_no_face
        if not truth:
            return {"samples": 0, "no_face": no_face}
        scores = recognition_scores(truth, predicted, class_names=list(MEGC_CLASSES))
        return {**_rounded({k: scores[k] for k in ("accuracy", "uf1", "uar")}),
                "confusion": scores["confusion"], "classes": list(MEGC_CLASSES),
                "samples": len(truth), "no_face": no_face}
    truth_items, predicted_items = [], []
    for subject, report in fold_reports.items():
        fold_truth_items, fold_predicted_items = _spotting_items(report, subject)
        truth_items.extend(fold_truth_items)
        predicted_items.extend(fold_predicted_items)
    scores = spotting_scores(truth_items, predicted_items)
    return {kind: _rounded(dict(values)) for kind, values in scores.items()}


def fold_figures(task: str, subject: str, report: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of one fold (recognition scores, or TP/FP/FN/F1 per kind)."""
    figures = pooled_figures(task, {subject: report})
    if task == "recognition":
        return {k: figures[k] for k in ("accuracy", "uf1", "uar", "samples", "no_face") if k in figures}
    return {kind: {k: figures[kind][k] for k in ("tp", "fp", "fn", "f1")} for kind in figures}
