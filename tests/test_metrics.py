"""Tests of mer_edge.metrics: MEGC spotting, recognition scores and LOSO folds."""
from __future__ import annotations

from typing import Any

import pytest

from mer_edge._errors import InputError
from mer_edge.metrics import (
    interval_iou,
    loso_folds,
    recognition_scores,
    scored_matches,
    split_train_val,
    spotting_matches,
    spotting_scores,
)


def _counts(scores: dict[str, Any], kind: str) -> tuple[int, int, int]:
    return scores[kind]["tp"], scores[kind]["fp"], scores[kind]["fn"]


# ---------------------------------------------------------------------------
# IoU
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(("a", "b", "expected"), [
    ((0, 9), (0, 9), 1.0),
    ((0, 9), (5, 14), 5 / 15),
    ((0, 9), (10, 19), 0.0),
    ((5, 5), (5, 5), 1.0),           # one frame: inclusive counting
    ((0, 9), (0, 4), 0.5),
    ((0, 9), (9, 9), 0.1),
])
def test_interval_iou(a: tuple[int, int], b: tuple[int, int], expected: float) -> None:
    assert interval_iou(*a, *b) == pytest.approx(expected)
    assert interval_iou(*b, *a) == pytest.approx(expected)


# ---------------------------------------------------------------------------
# Spotting
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(("truth", "pred", "me", "mae"), [
    # empty inputs
    ([], [], (0, 0, 0), (0, 0, 0)),
    ([("v", 0, 9, "ME")], [], (0, 0, 1), (0, 0, 0)),
    ([], [("v", 0, 9, "MaE")], (0, 0, 0), (0, 1, 0)),
    # exact match
    ([("v", 10, 19, "ME")], [("v", 10, 19, "ME")], (1, 0, 0), (0, 0, 0)),
    # IoU exactly 0.5 (5 of 10 frames) is a hit; just below is not
    ([("v", 0, 9, "ME")], [("v", 0, 4, "ME")], (1, 0, 0), (0, 0, 0)),
    ([("v", 0, 9, "ME")], [("v", 0, 3, "ME")], (0, 1, 1), (0, 0, 0)),
    # inclusive counts: [0,9] vs [5,14] is 5/15, a miss
    ([("v", 0, 9, "ME")], [("v", 5, 14, "ME")], (0, 1, 1), (0, 0, 0)),
    # one prediction overlapping two truths: matched once
    ([("v", 0, 9, "ME"), ("v", 2, 11, "ME")], [("v", 1, 10, "ME")], (1, 0, 1), (0, 0, 0)),
    # two predictions on one truth: one TP, one FP
    ([("v", 0, 9, "ME")], [("v", 0, 9, "ME"), ("v", 1, 9, "ME")], (1, 1, 0), (0, 0, 0)),
    # kind mismatch: never matched across kinds
    ([("v", 0, 9, "ME")], [("v", 0, 9, "MaE")], (0, 0, 1), (0, 1, 0)),
    # another video: no match
    ([("a", 0, 9, "ME")], [("b", 0, 9, "ME")], (0, 1, 1), (0, 0, 0)),
    # pooled over videos and kinds
    ([("a", 0, 9, "ME"), ("b", 100, 199, "MaE"), ("b", 300, 309, "ME")],
     [("a", 0, 8, "ME"), ("b", 100, 160, "MaE"), ("b", 500, 520, "MaE")],
     (1, 0, 1), (1, 1, 0)),
])
def test_spotting_counts(truth: list[Any], pred: list[Any], me: tuple[int, int, int],
                         mae: tuple[int, int, int]) -> None:
    scores = spotting_scores(truth, pred)
    assert _counts(scores, "ME") == me
    assert _counts(scores, "MaE") == mae
    assert _counts(scores, "all") == tuple(x + y for x, y in zip(me, mae))


def test_spotting_greedy_prefers_highest_iou() -> None:
    # p0 overlaps t0 (IoU 0.67) and t1 (0.82); p1 only t0 (0.8).  Matching in
    # input order would pair p0-t0 and leave t1 unmatched; highest IoU first
    # pairs p0-t1 and p1-t0.
    truth = [("v", 0, 9, "ME"), ("v", 3, 12, "ME")]
    pred = [("v", 2, 11, "ME"), ("v", 0, 7, "ME")]
    assert _counts(spotting_scores(truth, pred), "ME") == (2, 0, 0)
    assert spotting_matches(truth, pred) == [(0, 1), (1, 0)]


def test_spotting_matches_pair_only_the_same_video_and_kind() -> None:
    truth = [("a", 10, 20, "ME"), ("b", 10, 20, "ME"), ("a", 50, 90, "MaE")]
    pred = [("b", 11, 20, "ME"), ("a", 50, 88, "ME"), ("a", 52, 90, "MaE"), ("a", 12, 19, "ME")]
    assert spotting_matches(truth, pred) == [(0, 3), (1, 0), (2, 2)]
    assert spotting_scores(truth, pred)["all"]["tp"] == 3
    assert spotting_matches(truth, pred, iou_threshold=0.95) == [(2, 2)]  # IoU 0.951


def test_scored_matches_gives_the_scores_and_matches_of_one_matching() -> None:
    truth = [("a", 10, 20, "ME"), ("b", 10, 20, "ME"), ("a", 50, 90, "MaE")]
    pred = [("b", 11, 20, "ME"), ("a", 50, 88, "ME"), ("a", 52, 90, "MaE"), ("a", 12, 19, "ME")]
    for threshold in (0.5, 0.95):
        scores, matches = scored_matches(truth, pred, threshold)
        assert scores == spotting_scores(truth, pred, threshold)
        assert matches == spotting_matches(truth, pred, threshold)
    with pytest.raises(InputError, match="pred"):
        scored_matches(truth, [("a", 9, 3, "ME")])


def test_spotting_ratios_and_zero_denominators() -> None:
    scores = spotting_scores([("v", 0, 9, "ME"), ("v", 20, 29, "ME")],
                             [("v", 0, 9, "ME"), ("v", 50, 59, "ME"), ("v", 70, 79, "ME")])
    assert scores["ME"]["precision"] == pytest.approx(1 / 3)
    assert scores["ME"]["recall"] == pytest.approx(1 / 2)
    assert scores["ME"]["f1"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert scores["MaE"] == {"tp": 0, "fp": 0, "fn": 0, "precision": 0.0, "recall": 0.0,
                             "f1": 0.0}


def test_spotting_threshold_and_numpy_ints() -> None:
    np = pytest.importorskip("numpy")
    truth = [("v", np.int64(0), np.int64(9), "ME")]
    pred = [("v", 5, 14, "ME")]
    assert _counts(spotting_scores(truth, pred, iou_threshold=0.3), "ME") == (1, 0, 0)


@pytest.mark.parametrize(("truth", "pred", "match"), [
    ([("v", 9, 0, "ME")], [], r"truth\[0\].*onset <= offset"),
    ([], [("v", 0, 9, "ME"), ("v", 0, 9, "micro")], r"pred\[1\].*kind"),
    ([("v", 0, 9)], [], r"truth\[0\].*\(video, onset, offset, kind\)"),
    ([("v", 0.5, 9, "ME")], [], r"truth\[0\].*integer"),
    ([("v", True, 9, "ME")], [], r"truth\[0\].*integer"),
    ([], [("v", -2, 9, "MaE")], r"pred\[0\]"),
    ([(["v"], 0, 9, "ME")], [], r"truth\[0\].*hashable"),
    (["v,0,9,ME"], [], r"truth\[0\]"),
])
def test_spotting_rejects_malformed_items(truth: list[Any], pred: list[Any],
                                          match: str) -> None:
    with pytest.raises(InputError, match=match):
        spotting_scores(truth, pred)


@pytest.mark.parametrize("threshold", [0, -0.1, 1.5, "0.5", True])
def test_spotting_rejects_bad_threshold(threshold: Any) -> None:
    with pytest.raises(InputError, match="iou_threshold"):
        spotting_scores([], [], iou_threshold=threshold)


# ---------------------------------------------------------------------------
# Recognition
# ---------------------------------------------------------------------------
def test_recognition_scores_known_values() -> None:
    truth = ["neg", "neg", "neg", "pos", "pos", "sur"]
    pred = ["neg", "neg", "pos", "pos", "neg", "sur"]
    scores = recognition_scores(truth, pred, ["neg", "pos", "sur"])
    assert scores["classes"] == ["neg", "pos", "sur"]
    assert scores["confusion"] == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert scores["accuracy"] == pytest.approx(4 / 6)
    f1 = [2 * 2 / (3 + 3), 2 * 1 / (2 + 2), 1.0]
    assert scores["uf1"] == pytest.approx(sum(f1) / 3)
    assert scores["uar"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)


@pytest.mark.parametrize(("truth", "pred", "names", "expected"), [
    ([], [], None, {"accuracy": 0.0, "uf1": 0.0, "uar": 0.0, "confusion": [], "classes": []}),
    (["a"], ["a"], None, {"accuracy": 1.0, "uf1": 1.0, "uar": 1.0, "confusion": [[1]],
                          "classes": ["a"]}),
    # a listed class without truth samples is in the matrix but not in the means
    (["a", "a"], ["a", "b"], ["a", "b", "c"],
     {"accuracy": 0.5, "uf1": pytest.approx(2 / 3), "uar": 0.5,
      "confusion": [[1, 1, 0], [0, 0, 0], [0, 0, 0]], "classes": ["a", "b", "c"]}),
])
def test_recognition_table(truth: list[str], pred: list[str], names: list[str] | None,
                           expected: dict[str, Any]) -> None:
    scores = recognition_scores(truth, pred, names)
    assert {key: scores[key] for key in expected} == expected


@pytest.mark.parametrize(("truth", "pred", "names", "match"), [
    (["a", "b"], ["a"], None, "as many predictions"),
    (["a", "x"], ["a", "a"], ["a", "b"], r"true_labels\[1\]"),
    (["a"], ["z"], ["a"], r"pred_labels\[0\]"),
    (["a"], ["a"], ["a", "a"], "unique"),
])
def test_recognition_rejects(truth: list[str], pred: list[str], names: list[str] | None,
                             match: str) -> None:
    with pytest.raises(InputError, match=match):
        recognition_scores(truth, pred, names)


# ---------------------------------------------------------------------------
# LOSO
# ---------------------------------------------------------------------------
def test_loso_folds_hold_out_each_subject_once() -> None:
    folds = list(loso_folds(["s2", "s1", "s2", "s3"]))
    assert folds == [("s1", ("s2", "s3")), ("s2", ("s1", "s3")), ("s3", ("s1", "s2"))]
    for held_out, train in folds:
        assert held_out not in train


@pytest.mark.parametrize("subjects", [[], ["s1", "s1"]])
def test_loso_folds_need_two_subjects(subjects: list[str]) -> None:
    with pytest.raises(InputError, match="subject"):
        list(loso_folds(subjects))


def test_split_train_val_is_deterministic_and_disjoint() -> None:
    subjects = [f"s{i:02d}" for i in range(10)]
    for held_out, train in loso_folds(subjects):
        fit, val = split_train_val(train, 0.2, seed=7, held_out=held_out)
        assert len(val) == 2 and len(fit) == 7
        assert not set(fit) & set(val)
        assert held_out not in fit + val
        assert set(fit) | set(val) == set(train)
        assert split_train_val(train, 0.2, seed=7, held_out=held_out) == (fit, val)


@pytest.mark.parametrize(("train", "fraction", "held_out", "match"), [
    (["s1", "s2", "s3"], 0.3, "s2", "held-out subject"),
    (["s1"], 0.5, None, "at least 2"),
    (["s1", "s2"], 0.0, None, "val_fraction"),
    (["s1", "s2"], 1.0, None, "val_fraction"),
])
def test_split_train_val_rejects(train: list[str], fraction: float, held_out: str | None,
                                 match: str) -> None:
    with pytest.raises(InputError, match=match):
        split_train_val(train, fraction, seed=0, held_out=held_out)


def test_split_train_val_keeps_one_subject_each_side() -> None:
    assert split_train_val(["a", "b"], 0.01, seed=1)[1] != ()
    fit, val = split_train_val(["a", "b"], 0.99, seed=1)
    assert len(fit) == 1 and len(val) == 1
