"""Which subjects a leave-one-subject-out run holds out, and benchmarks as dataset copies."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from mer_edge._errors import DatasetError
from mer_edge.data.schema import Interval, megc_label

from .data import DatasetCopy, check_subjects, check_task_fits_datasets

__all__ = ["FoldPlan", "plan_folds", "chosen_folds", "bench_copies"]


@dataclass(frozen=True)
class FoldPlan:
    """The folds of a LOSO run.

    Attributes:
        task: ``recognition`` or ``spotting`` (the method's).
        subjects: every subject of the sheet, sorted.
        folds: the subjects held out in turn, in order.
        without_samples: subjects that cannot be a fold (no MEGC-labelled ME
            for a recognizer); they still train the other folds' models.
    """

    task: str
    subjects: tuple[str, ...]
    folds: tuple[str, ...]
    without_samples: tuple[str, ...]


def plan_folds(intervals: Sequence[Interval], task: str, datasets: Sequence[str]) -> FoldPlan:
    """Which subjects are held out in turn (``datasets``: the copies' dataset names).

    A recognizer's folds are the subjects with at least one labelled ME; a
    spotter's are all subjects (their videos also count false positives).

    Raises:
        InputError: a spotter on a clip dataset.
        DatasetError: fewer than three subjects (a fold needs a training and
            a validation subject besides the held-out one).
    """
    check_task_fits_datasets(task, datasets)
    subjects = tuple(sorted({item.subject for item in intervals}))
    if len(subjects) < 3:
        raise DatasetError(f"leave-one-subject-out needs at least 3 subjects (one held out, one to "
                           f"train on, one to validate on); the sheet has {list(subjects)}")
    if task == "recognition":
        usable = {item.subject for item in intervals
                  if item.kind == "ME" and megc_label(item) is not None}
    else:
        usable = set(subjects)
    return FoldPlan(task, subjects, tuple(s for s in subjects if s in usable),
                    tuple(s for s in subjects if s not in usable))


def chosen_folds(plan: FoldPlan, only: Sequence[str]) -> set[str]:
    """The folds to run: ``only`` (checked to be folds), else every fold.

    Raises:
        DatasetError: ``only`` names a subject that is not a fold.
    """
    check_subjects(only, plan.folds, "--subjects", "folds")
    return set(only or plan.folds)


def _subject_identities(bench: Path) -> dict[str, str]:
    identities: dict[str, str] = {}
    for manifest in sorted(bench.glob("*/manifest.json")):
        for video in json.loads(manifest.read_text(encoding="utf-8")).get("videos", []):
            identities[video["subject"]] = video["identity"]
    return identities


def bench_copies(benches: Sequence[str | Path], task: str) -> tuple[DatasetCopy, ...]:
    """``make_bench`` benchmarks' splits as dataset copies, for leave-one-identity-out.

    Recognition reads each split's CASME II folder (``SPLIT/recognition``),
    spotting each split's CAS(ME)² folder (``SPLIT``).  A benchmark numbers
    its subjects by identity across its splits, so a subject is one identity;
    several benchmarks (other seeds) pool their movements by subject, and
    must number the same identities alike.

    Raises:
        DatasetError: a folder is not a benchmark, or two benchmarks give one
            subject number to different identities.
    """
    from mer_edge.data.synth.bench import SPLITS

    name, folder = ("casme_sq", "") if task == "spotting" else ("casme2", "recognition")
    copies: list[DatasetCopy] = []
    first: dict[str, str] = {}
    for bench in map(Path, benches):
        found = [DatasetCopy(name, bench / split / folder) for split in SPLITS
                 if (bench / split / folder).is_dir()]
        if not found:
            raise DatasetError("not a make_bench benchmark (no train/ val/ test/ folders)",
                               path=str(bench))
        identities = _subject_identities(bench)
        clash = {s: (first[s], i) for s, i in identities.items() if first.setdefault(s, i) != i}
        if clash:
            raise DatasetError(f"this benchmark numbers its subjects unlike {benches[0]} "
                               f"(subject: (there, here)) {clash}; pool benchmarks built on one "
                               "layout", path=str(bench))
        copies += found
    return tuple(copies)
