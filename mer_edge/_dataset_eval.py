"""Evaluation inputs from a user's copy of a real micro-expression dataset.

:func:`dataset_inputs` turns the intervals :func:`mer_edge.data.load_dataset`
reads (sheet rows with their media attached) into the videos and the 0-based
truth that :func:`mer_edge.evaluation.evaluate` scores the engine on:

* long-video datasets (:data:`LONG_VIDEO_DATASETS`: CAS(ME)², CAS(ME)³, SAMM
  long videos): each long video is one evaluation video; spotting (MEGC) and
  the recognition of its labelled MEs are scored;
* clip datasets (CASME II, SAMM, SMIC, MMEW): each pre-cut clip is one short
  video holding one ME; only recognition is scored (finding an ME in a clip
  cut around it is not the MEGC spotting task).

Frame numbers.  A sheet numbers frames as the dataset's media do.  In a frame
folder, frame ``N`` is the image whose name carries ``N`` (``img46.jpg``,
``006_05562.jpg``), at the position the engine plays it; a clip folder that
starts at ``img46.jpg`` therefore maps onset 46 to the engine's frame 0.  In a
video file frame ``N`` is the ``N``-th frame (1-based: CAS(ME)²'s
``rawpic/.../img1.jpg`` is the first frame of its ``rawvideo``).  An interval
whose onset or offset is not among its folder's images, or whose media are
not in the copy at all (a partial download), is skipped and listed, not
silently dropped; when no interval has media the folder is refused.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._errors import DatasetError
from ._sources import image_files
from .data import load_dataset
from .data._layouts import frame_number, media_candidates
from .data.schema import LONG_VIDEO_DATASETS, Interval
from .evaluation import BenchVideo, TruthInterval, truth_from_interval

__all__ = ["LONG_VIDEO_DATASETS", "DatasetInputs", "SkippedInterval", "dataset_inputs"]

@dataclass(frozen=True)
class SkippedInterval:
    """A sheet row left out of the evaluation, and why."""

    video_id: str
    row: int | None
    reason: str


@dataclass(frozen=True)
class DatasetInputs:
    """What :func:`~mer_edge.evaluation.evaluate` needs, read from a dataset."""

    videos: list[BenchVideo]
    truth: list[TruthInterval]
    spotting: bool
    skipped: list[SkippedInterval]


def _folder_index(folder: Path) -> Callable[[int], int | None]:
    """Frame number -> position of that image in the order the engine plays the folder."""
    positions: dict[int, int] = {}
    for position, image in enumerate(image_files(folder)):
        number = frame_number(image)
        if number is not None:
            positions.setdefault(number, position)
    return positions.get


def dataset_inputs(dataset: str, root: str | os.PathLike[str], *, variant: str | None = None,
                   subjects: Sequence[str] | None = None) -> DatasetInputs:
    """Videos and 0-based truth of a dataset copy, for :func:`~mer_edge.evaluation.evaluate`.

    Args:
        dataset: one of ``casme2 samm smic casme_sq casme3 samm_lv mmew``.
        root: the dataset folder, in the layout its owners distribute
            (see :func:`mer_edge.data.load_dataset`).
        variant: the media variant (CASME II ``raw``/``cropped``, SMIC camera).
        subjects: evaluate only these subjects (as the sheet writes them),
            e.g. the held-out subject of a leave-one-subject-out fold.

    Raises:
        InputError: unknown dataset or variant.
        DatasetError: the folder or its sheet is missing, no interval's media
            are there, or no interval belongs to ``subjects`` (the message lists
            the subjects there are).
    """
    intervals = load_dataset(dataset, root, variant=variant, require_media=False)
    if subjects:
        wanted = set(subjects)
        present = sorted({item.subject for item in intervals})
        intervals = [item for item in intervals if item.subject in wanted]
        if not intervals:
            raise DatasetError(f"no interval of subjects {sorted(wanted)}; the sheet has "
                               f"subjects {present}", path=str(root))
    skipped: list[SkippedInterval] = []
    by_media: dict[Path, list[Interval]] = {}
    for item in intervals:
        media = item.video_path or item.frames_dir
        if media is None:
            looked = ", ".join(map(str, media_candidates(dataset, root, item, variant)))
            skipped.append(SkippedInterval(f"{item.subject}/{item.clip}", item.row,
                                           f"media not found; looked for {looked}"))
        else:
            by_media.setdefault(Path(media), []).append(item)
    if not by_media:
        raise DatasetError(f"the media of none of the {len(intervals)} intervals were found "
                           f"(first: {skipped[0].reason}); is this the dataset's folder and "
                           f"variant?", path=str(root))
    videos: list[BenchVideo] = []
    truth: list[TruthInterval] = []
    for media, items in by_media.items():
        first = items[0]
        video_id = f"{first.subject}/{first.clip}"
        is_folder = media.is_dir()
        index_of = _folder_index(media) if is_folder else None
        videos.append(BenchVideo(video_id, media, first.subject, clean=False,
                                 fps=first.fps if is_folder else None))
        for item in items:
            try:
                truth.append(truth_from_interval(item, video_id=video_id, index_of=index_of))
            except DatasetError as error:
                skipped.append(SkippedInterval(video_id, item.row, str(error)))
    return DatasetInputs(videos, truth, dataset in LONG_VIDEO_DATASETS, skipped)
