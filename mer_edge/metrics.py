"""Evaluation metrics of the MEGC protocols: spotting, recognition, LOSO folds.

Spotting (:func:`spotting_scores`)
    Intervals are ``(video, onset, offset, kind)`` with inclusive frame
    numbers and ``kind`` ``"ME"`` or ``"MaE"``.  A prediction is a true
    positive when its IoU with a ground-truth interval of the same video and
    the same kind is at least the threshold (0.5 in MEGC), where
    ``IoU = |A ∩ B| / |A ∪ B|`` counts frames inclusively (an interval has
    ``offset - onset + 1`` frames).  Each truth and each prediction is matched
    at most once: candidate pairs are taken greedily from the highest IoU
    down (ties: earlier truth, then earlier prediction, in input order), so
    the result is deterministic.  Unmatched predictions are false positives,
    unmatched truths false negatives; counts are pooled over all videos.

Precision, recall and F1 are 0.0 when their denominator is 0 (no
predictions, no truth, or neither): an empty evaluation scores 0, never NaN.

Recognition (:func:`recognition_scores`)
    Accuracy, UF1 (unweighted F1: the mean of per-class F1) and UAR
    (unweighted average recall: the mean of per-class recall), as in the MEGC
    composite evaluation.  Both means run over the classes that occur in the
    ground truth; a class listed in ``class_names`` but absent from the truth
    keeps its row and column in the confusion matrix but has no recall and is
    left out of both means.

Leave-one-subject-out (:func:`loso_folds`, :func:`split_train_val`)
    Each fold holds one subject out for testing.  Model selection (early
    stopping, thresholds) must use a validation split drawn from the training
    subjects only: :func:`split_train_val` refuses a split that would contain
    the held-out subject.
"""
from __future__ import annotations

import numbers
import random
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import Any

from ._errors import InputError

__all__ = [
    "SpottingItem",
    "interval_iou",
    "spotting_scores",
    "scored_matches",
    "spotting_matches",
    "recognition_scores",
    "loso_folds",
    "split_train_val",
]

#: ``(video, onset, offset, kind)``: inclusive frame numbers, kind ``"ME"``/``"MaE"``.
SpottingItem = tuple[Hashable, int, int, str]

_KINDS = ("ME", "MaE")


def _ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, or 0.0 when the denominator is 0."""
    return numerator / denominator if denominator else 0.0


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    return {"tp": tp, "fp": fp, "fn": fn,
            "precision": precision, "recall": recall, "f1": f1}


def interval_iou(a_onset: int, a_offset: int, b_onset: int, b_offset: int) -> float:
    """IoU of two inclusive frame intervals (``offset - onset + 1`` frames each)."""
    inter = max(0, min(a_offset, b_offset) - max(a_onset, b_onset) + 1)
    union = (a_offset - a_onset + 1) + (b_offset - b_onset + 1) - inter
    return inter / union


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _validate_items(items: Iterable[Any], name: str) -> list[tuple[Hashable, int, int, str]]:
    """Check spotting items; raise :class:`InputError` naming the offending item."""
    checked = []
    for index, item in enumerate(items):
        where = f"{name}[{index}]"
        if not isinstance(item, (tuple, list)) or len(item) != 4:
            raise InputError(f"{where}: expected (video, onset, offset, kind), got {item!r}")
        video, onset, offset, kind = item
        if not isinstance(video, Hashable):
            raise InputError(f"{where}: video id must be hashable, got {type(video).__name__}")
        if not (_is_int(onset) and _is_int(offset)):
            raise InputError(f"{where}: onset and offset must be integer frames, "
                             f"got {onset!r}, {offset!r}")
        if onset < 0 or onset > offset:
            raise InputError(f"{where}: expected 0 <= onset <= offset, got onset {onset}, "
                             f"offset {offset}")
        if kind not in _KINDS:
            raise InputError(f"{where}: kind must be one of {', '.join(_KINDS)}, got {kind!r}")
        checked.append((video, int(onset), int(offset), kind))
    return checked


def _match_pairs(truth: Sequence[tuple[int, int]], pred: Sequence[tuple[int, int]],
                 threshold: float) -> list[tuple[int, int]]:
    """One-to-one ``(truth, pred)`` index pairs, greedy from the highest IoU (deterministic)."""
    pairs = []
    for t_index, (t_on, t_off) in enumerate(truth):
        for p_index, (p_on, p_off) in enumerate(pred):
            iou = interval_iou(t_on, t_off, p_on, p_off)
            if iou >= threshold:
                pairs.append((-iou, t_index, p_index))
    pairs.sort()
    used_truth: set[int] = set()
    used_pred: set[int] = set()
    matched = []
    for _, t_index, p_index in pairs:
        if t_index not in used_truth and p_index not in used_pred:
            used_truth.add(t_index)
            used_pred.add(p_index)
            matched.append((t_index, p_index))
    return matched


def _check_threshold(iou_threshold: float) -> float:
    if isinstance(iou_threshold, bool) or not isinstance(iou_threshold, numbers.Real) \
            or not 0.0 < float(iou_threshold) <= 1.0:
        raise InputError(f"iou_threshold: expected a number in (0, 1], got {iou_threshold!r}")
    return float(iou_threshold)


def _grouped_matches(truth: Iterable[SpottingItem], pred: Iterable[SpottingItem],
                     iou_threshold: float) -> tuple[list[SpottingItem], list[SpottingItem],
                                                    list[tuple[int, int]]]:
    """Validated items and their MEGC matches as ``(truth index, pred index)`` pairs."""
    threshold = _check_threshold(iou_threshold)
    truth_items = _validate_items(truth, "truth")
    pred_items = _validate_items(pred, "pred")
    groups: dict[tuple[str, Hashable], tuple[list[int], list[int]]] = {}
    for index, (video, _, _, kind) in enumerate(truth_items):
        groups.setdefault((kind, video), ([], []))[0].append(index)
    for index, (video, _, _, kind) in enumerate(pred_items):
        groups.setdefault((kind, video), ([], []))[1].append(index)
    matches = []
    for truth_indices, pred_indices in groups.values():
        spans_truth = [truth_items[i][1:3] for i in truth_indices]
        spans_pred = [pred_items[i][1:3] for i in pred_indices]
        matches += [(truth_indices[t], pred_indices[p])
                    for t, p in _match_pairs(spans_truth, spans_pred, threshold)]
    return truth_items, pred_items, sorted(matches)


def spotting_matches(truth: Iterable[SpottingItem], pred: Iterable[SpottingItem],
                     iou_threshold: float = 0.5) -> list[tuple[int, int]]:
    """The MEGC one-to-one matches behind :func:`spotting_scores`.

    Returns:
        ``(truth index, pred index)`` pairs, in truth order: the true
        positives.  A truth or prediction in no pair is a false negative or a
        false positive.

    Raises:
        InputError: as :func:`spotting_scores`.
    """
    return _grouped_matches(truth, pred, iou_threshold)[2]


def spotting_scores(truth: Iterable[SpottingItem], pred: Iterable[SpottingItem],
                    iou_threshold: float = 0.5) -> dict[str, dict[str, float | int]]:
    """Score spotted intervals against ground truth with the MEGC protocol.

    Args:
        truth: ground-truth ``(video, onset, offset, kind)`` items.
        pred: predicted items, same form.
        iou_threshold: minimum IoU for a true positive, in ``(0, 1]``.

    Returns:
        ``{"ME": scores, "MaE": scores, "all": scores}`` with ``scores`` =
        ``{"tp", "fp", "fn", "precision", "recall", "f1"}``; ``all`` sums the
        two kinds' counts before computing its ratios.

    Raises:
        InputError: a malformed item (not a 4-tuple, non-integer frames,
            onset > offset, negative onset, unknown kind) or a threshold
            outside ``(0, 1]``; the message names the item (``pred[3]``).
    """
    return scored_matches(truth, pred, iou_threshold)[0]


def scored_matches(truth: Iterable[SpottingItem], pred: Iterable[SpottingItem],
                   iou_threshold: float = 0.5
                   ) -> tuple[dict[str, dict[str, float | int]], list[tuple[int, int]]]:
    """:func:`spotting_scores` and :func:`spotting_matches` from one matching.

    Raises:
        InputError: as :func:`spotting_scores`.
    """
    truth_items, pred_items, matches = _grouped_matches(truth, pred, iou_threshold)
    counts = {kind: [0, 0, 0] for kind in _KINDS}
    for _, _, _, kind in truth_items:
        counts[kind][2] += 1
    for _, _, _, kind in pred_items:
        counts[kind][1] += 1
    for t_index, _ in matches:
        kind = truth_items[t_index][3]
        counts[kind][0] += 1
        counts[kind][1] -= 1
        counts[kind][2] -= 1
    result = {kind: _prf(*counts[kind]) for kind in _KINDS}
    result["all"] = _prf(*(sum(counts[kind][i] for kind in _KINDS) for i in range(3)))
    return result, matches


def recognition_scores(true_labels: Sequence[Hashable], pred_labels: Sequence[Hashable],
                       class_names: Sequence[Hashable] | None = None) -> dict[str, Any]:
    """Accuracy, UF1, UAR and the confusion matrix of a classification.

    Args:
        true_labels: ground-truth label per sample.
        pred_labels: predicted label per sample, same length.
        class_names: class order of the confusion matrix; by default the
            sorted union of the labels seen.  Every label must be listed.

    Returns:
        ``{"accuracy", "uf1", "uar", "confusion", "classes", "per_class"}``:
        ``confusion[i][j]`` counts samples of true class ``classes[i]``
        predicted as ``classes[j]``; ``per_class`` maps each class to its
        ``{"support", "precision", "recall", "f1"}`` (``recall`` is ``None``
        for a class without truth samples).  UF1 and UAR average over the
        classes present in the truth; all scores are 0.0 for empty input.

    Raises:
        InputError: different lengths, duplicate class names, or a label not
            in *class_names* (the message names the sample index).
    """
    truth = list(true_labels)
    pred = list(pred_labels)
    if len(truth) != len(pred):
        raise InputError(f"expected as many predictions as labels, got {len(pred)} "
                         f"predictions for {len(truth)} labels")
    if class_names is None:
        classes = sorted(set(truth) | set(pred), key=lambda label: (str(type(label)), label))
    else:
        classes = list(class_names)
        if len(set(classes)) != len(classes):
            raise InputError(f"class_names: expected unique names, got {classes!r}")
    position = {name: index for index, name in enumerate(classes)}
    for name, labels in (("true_labels", truth), ("pred_labels", pred)):
        for index, label in enumerate(labels):
            if label not in position:
                raise InputError(f"{name}[{index}]: label {label!r} is not one of "
                                 f"{classes!r}")
    size = len(classes)
    confusion = [[0] * size for _ in range(size)]
    for label, guess in zip(truth, pred):
        confusion[position[label]][position[guess]] += 1
    per_class: dict[Hashable, dict[str, Any]] = {}
    f1s, recalls = [], []
    for index, name in enumerate(classes):
        tp = confusion[index][index]
        support = sum(confusion[index])
        predicted = sum(row[index] for row in confusion)
        recall = _ratio(tp, support) if support else None
        f1 = _ratio(2 * tp, support + predicted)
        per_class[name] = {"support": support, "precision": _ratio(tp, predicted),
                           "recall": recall, "f1": f1}
        if support:
            f1s.append(f1)
            recalls.append(recall)
    correct = sum(confusion[i][i] for i in range(size))
    return {
        "accuracy": _ratio(correct, len(truth)),
        "uf1": _ratio(sum(f1s), len(f1s)),
        "uar": _ratio(sum(recalls), len(recalls)),
        "confusion": confusion,
        "classes": classes,
        "per_class": per_class,
    }


def _unique_subjects(subjects: Iterable[Hashable], name: str) -> list[Hashable]:
    unique = sorted(set(subjects), key=lambda subject: (str(type(subject)), subject))
    if not unique:
        raise InputError(f"{name}: expected at least one subject, got none")
    return unique


def loso_folds(subjects: Iterable[Hashable]) -> Iterator[tuple[Hashable, tuple[Hashable, ...]]]:
    """Yield leave-one-subject-out folds ``(held_out_subject, train_subjects)``.

    Args:
        subjects: subject ids, e.g. one per sample; duplicates are merged.

    Yields:
        One fold per distinct subject, in sorted order; ``train_subjects``
        (sorted) never contains the held-out subject.

    Raises:
        InputError: fewer than two distinct subjects (no training data).
    """
    unique = _unique_subjects(subjects, "subjects")
    if len(unique) < 2:
        raise InputError(f"subjects: LOSO needs at least 2 distinct subjects, got {unique!r}")
    for held_out in unique:
        yield held_out, tuple(subject for subject in unique if subject != held_out)


def split_train_val(train_subjects: Iterable[Hashable], val_fraction: float, seed: int, *,
                    held_out: Hashable | None = None,
                    ) -> tuple[tuple[Hashable, ...], tuple[Hashable, ...]]:
    """Split a fold's training subjects into train and validation subjects.

    Model selection inside a LOSO fold must never see the held-out subject:
    pass it as *held_out* and the call fails if it slipped into
    *train_subjects*.  The split is by subject (no subject on both sides) and
    deterministic for a given *seed*.

    Args:
        train_subjects: the fold's training subjects (duplicates merged).
        val_fraction: share of subjects for validation, in ``(0, 1)``; at
            least one subject goes to each side.
        seed: seed of the shuffle.
        held_out: the fold's test subject, checked to be absent.

    Returns:
        ``(train, val)``: sorted tuples of subject ids.

    Raises:
        InputError: *held_out* is among the training subjects, fewer than two
            subjects, or *val_fraction* outside ``(0, 1)``.
    """
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, numbers.Real) \
            or not 0.0 < float(val_fraction) < 1.0:
        raise InputError(f"val_fraction: expected a number in (0, 1), got {val_fraction!r}")
    unique = _unique_subjects(train_subjects, "train_subjects")
    if held_out is not None and held_out in unique:
        raise InputError(f"held-out subject {held_out!r} is among the training subjects: "
                         "model selection would see the test subject")
    if len(unique) < 2:
        raise InputError(f"train_subjects: need at least 2 subjects to split, got {unique!r}")
    shuffled = list(unique)
    random.Random(seed).shuffle(shuffled)
    n_val = min(max(1, round(len(shuffled) * float(val_fraction))), len(shuffled) - 1)
    order = {subject: index for index, subject in enumerate(unique)}
    val = tuple(sorted(shuffled[:n_val], key=order.__getitem__))
    train = tuple(sorted(shuffled[n_val:], key=order.__getitem__))
    return train, val
