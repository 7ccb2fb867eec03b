"""Dataset folder layouts: find the sheet(s) and attach frame folders and videos.

:func:`load_dataset` knows where each dataset keeps its annotation sheet and
its media, in the layout the dataset owners distribute (``<root>`` is the
folder given by the caller; the first existing candidate wins):

``casme2``
    sheet ``CASME2-coding*.xlsx``; variant ``raw``:
    ``<root>/CASME2_RAW_selected/sub01/EP02_01f/img46.jpg``; variant
    ``cropped``: ``<root>/Cropped/sub01/EP02_01f/reg_img46.jpg``.  Two
    common copies are accepted too: the variant's folder extracted twice
    (``<root>/CASME2_RAW_selected/CASME2_RAW_selected/sub01/``) and the
    subject folders straight in the root (``<root>/sub01/EP02_01f/``), the
    latter only when its images are the chosen variant's (``reg_img46.jpg``
    is cropped, ``img46.jpg`` raw), so a flat copy is never read as the other
    variant.
``samm``
    sheet ``SAMM_Micro_FACS_Codes*.xlsx`` (or ``SAMM*FACS*.xlsx``); frames
    ``<root>/SAMM/006/006_1_2/006_05562.jpg`` or ``<root>/006/006_1_2/``.
``smic``
    no sheet: ``<root>/SMIC_all_raw/HS/s1/micro/negative/s1_ne_01/image*.bmp``
    (or ``<root>/HS/...``); the variant picks the camera (``HS``, ``VIS``,
    ``NIR``); the class comes from the folder name, onset and offset from the
    first and last image number; no apex.
``casme_sq``
    sheet ``*code_final*.csv`` (the updated CSV) before ``*code_final*.xlsx``, then
    ``spotting.csv`` (the name ``mer-edge data make-bench`` writes);
    frames ``<root>/rawpic/s15/15_0101disgustingteeth/img1.jpg`` and video
    ``<root>/rawvideo/s15/15_0101disgustingteeth.avi`` (either is enough).
``casme3``
    every sheet ``*part_A*label*.xlsx``/``.csv`` (the ME and the MaE sheet);
    two sheets that annotate the same interval (an old and a ``v2`` copy of
    one sheet) are refused, naming both: the dataset gives no rule that says
    which copy is current.  Frames
    ``<root>/data/part_A/spNO.1/a/color/`` (also ``<root>/part_A/...`` and
    ``<root>/spNO.1/a/color/``).
``samm_lv``
    sheet ``SAMM_LongVideos*.xlsx``; frames ``<root>/SAMM_longvideos/006_1/``
    or ``<root>/006_1/``.
``mmew``
    sheet ``*MMEW*.xlsx``/``.csv``; frames ``<root>/Micro_Expression/<emotion>/<Filename>/``
    or ``<root>/<emotion>/<Filename>/``.

Sheets are looked for in ``<root>`` and in its direct sub-folders.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .._errors import DatasetError, InputError
from .._sources import IMAGE_EXTENSIONS, image_files
from ._parsers import dataset_loader, load_sheet
from .schema import SMIC_FPS, Interval, normalise_emotion

__all__ = ["load_dataset", "media_candidates", "frame_number", "DATASET_VARIANTS"]

_SMIC_CLASSES = ("positive", "negative", "surprise")
#: CASME II variant -> the folder its media come in, and the prefix of cropped images.
_CASME2_FOLDERS = {"raw": "CASME2_RAW_selected", "cropped": "Cropped"}
_CASME2_CROPPED_PREFIX = "reg_"
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")

#: Media locator: (root, variant, interval) -> candidate frame folders, candidate videos.
_Locator = Callable[[Path, str, Interval], tuple[list[Path], list[Path]]]


@dataclass(frozen=True)
class _Layout:
    """Where one dataset keeps its sheet(s) and media."""

    sheet_patterns: tuple[str, ...]
    locate: _Locator
    variants: tuple[str, ...] = ("raw",)
    all_sheets: bool = False


def _casme2(root: Path, variant: str, item: Interval) -> tuple[list[Path], list[Path]]:
    folder = _CASME2_FOLDERS[variant]
    clip = Path(f"sub{item.subject}") / item.clip
    flat = root / clip
    folders = [root / folder / clip, root / folder / folder / clip]
    if _casme2_variant_of(flat) in (None, variant):
        folders.append(flat)
    return folders, []


def _casme2_variant_of(clip_dir: Path) -> str | None:
    """``"cropped"`` for a folder of ``reg_img46.jpg``, ``"raw"`` for ``img46.jpg``,
    None when ``clip_dir`` holds no images."""
    images = image_files(clip_dir) if clip_dir.is_dir() else []
    if not images:
        return None
    return "cropped" if Path(images[0]).name.startswith(_CASME2_CROPPED_PREFIX) else "raw"


def _samm(root: Path, variant: str, item: Interval) -> tuple[list[Path], list[Path]]:
    return [root / "SAMM" / item.subject / item.clip, root / item.subject / item.clip], []


def _casme_sq(root: Path, variant: str, item: Interval) -> tuple[list[Path], list[Path]]:
    return ([root / "rawpic" / item.subject / item.clip],
            [root / "rawvideo" / item.subject / f"{item.clip}.avi"])


def _casme3(root: Path, variant: str, item: Interval) -> tuple[list[Path], list[Path]]:
    tail = Path(item.subject) / item.clip / "color"
    return [root / "data" / "part_A" / tail, root / "part_A" / tail, root / tail], []


def _samm_lv(root: Path, variant: str, item: Interval) -> tuple[list[Path], list[Path]]:
    return [root / "SAMM_longvideos" / item.clip, root / item.clip], []


def _mmew(root: Path, variant: str, item: Interval) -> tuple[list[Path], list[Path]]:
    return [root / "Micro_Expression" / item.emotion / item.clip,
            root / item.emotion / item.clip], []


_LAYOUTS: dict[str, _Layout] = {
    "casme2": _Layout(("CASME2-coding*.xlsx", "CASME2-coding*.csv"), _casme2,
                      variants=tuple(_CASME2_FOLDERS)),
    "samm": _Layout(("SAMM_Micro_FACS_Codes*.xlsx", "SAMM*FACS*.xlsx"), _samm),
    "casme_sq": _Layout(("*code_final*.csv", "*code_final*.xlsx", "spotting.csv"), _casme_sq),
    "casme3": _Layout(("*part_A*label*.xlsx", "*part_A*label*.csv"), _casme3,
                      all_sheets=True),
    "samm_lv": _Layout(("SAMM_LongVideos*.xlsx",), _samm_lv),
    "mmew": _Layout(("*MMEW*.xlsx", "*MMEW*.csv"), _mmew),
}

#: Dataset name -> the media variants :func:`load_dataset` accepts (first = default).
DATASET_VARIANTS: dict[str, tuple[str, ...]] = {
    **{name: layout.variants for name, layout in _LAYOUTS.items()},
    "smic": tuple(SMIC_FPS),
}


def load_dataset(dataset: str, root: str | Path, *, variant: str | None = None,
                 require_media: bool = True) -> list[Interval]:
    """Load a dataset from its folder in the layout its owners distribute.

    Finds the annotation sheet(s) under *root*, reads them with
    :func:`~mer_edge.data.loaders.load_sheet` and sets ``frames_dir`` /
    ``video_path`` on every interval (SMIC has no sheet: its intervals come
    from the frame folders).

    Args:
        dataset: one of ``casme2 samm smic casme_sq casme3 samm_lv mmew``.
        root: the dataset folder.
        variant: which media to attach, from :data:`DATASET_VARIANTS`
            (CASME II ``raw``/``cropped``; SMIC camera ``HS``/``VIS``/``NIR``);
            ``None`` takes the dataset's first variant.
        require_media: raise when an interval's frames (or video) are
            missing; when ``False`` such intervals keep ``None`` paths.

    Raises:
        InputError: unknown dataset or variant (the message lists the valid ones).
        DatasetError: *root*, the sheet or required media are missing, or a
            sheet is malformed.
    """
    dataset_loader(dataset)  # validates the name
    variants = DATASET_VARIANTS[dataset]
    chosen = variants[0] if variant is None else variant
    if chosen not in variants:
        raise InputError(f"unknown variant {variant!r} for {dataset}; expected one of: "
                         f"{' '.join(variants)}")
    base = Path(root)
    if not base.is_dir():
        raise DatasetError("dataset folder not found", path=str(base))
    if dataset == "smic":
        return _load_smic_folders(base, chosen)
    layout = _LAYOUTS[dataset]
    loaded = [(sheet, load_sheet(dataset, sheet)) for sheet in _find_sheets(base, layout)]
    _refuse_copies_of_one_sheet(loaded)
    return [_attach(base, chosen, item, layout.locate, sheet, require_media)
            for sheet, items in loaded for item in items]


def _refuse_copies_of_one_sheet(loaded: Sequence[tuple[Path, list[Interval]]]) -> None:
    """Refuse sheets that annotate the same interval: versions of one sheet would count it twice.

    Raises:
        DatasetError: naming both sheets, their rows and the interval.
    """
    seen: dict[tuple[str, str, int, int | None], tuple[Path, Interval]] = {}
    for sheet, items in loaded:
        for item in items:
            key = (item.subject, item.clip, item.onset, item.offset)
            other, first = seen.setdefault(key, (sheet, item))
            if other != sheet:
                raise DatasetError(
                    f"several versions of one annotation sheet: {other} (row {first.row}) and "
                    f"{sheet} (row {item.row}) both annotate {item.subject}/{item.clip} frames "
                    f"{item.onset}-{item.offset}; keep one", path=str(sheet.parent))


def _find_sheets(root: Path, layout: _Layout) -> list[Path]:
    """The sheet(s) of a dataset: the first pattern that matches wins."""
    folders = [root] + sorted(path for path in root.iterdir() if path.is_dir())
    for pattern in layout.sheet_patterns:
        found = sorted({path for folder in folders for path in folder.glob(pattern)
                        if path.is_file() and not path.name.startswith("~$")})
        if len(found) > 1 and not layout.all_sheets:
            raise DatasetError(f"several annotation sheets match {pattern!r}: "
                               f"{', '.join(str(path) for path in found)}; keep one",
                               path=str(root))
        if found:
            return found
    raise DatasetError(f"no annotation sheet matching {' or '.join(layout.sheet_patterns)} "
                       f"in the folder or its sub-folders", path=str(root))


def _first_existing(candidates: Sequence[Path], want_dir: bool) -> Path | None:
    for candidate in candidates:
        if (candidate.is_dir() if want_dir else candidate.is_file()):
            return candidate
    return None


def media_candidates(dataset: str, root: str | Path, item: Interval,
                     variant: str | None = None) -> list[Path]:
    """Where :func:`load_dataset` looks for ``item``'s media: frame folders, then videos.

    For SMIC, whose intervals come from their folders, the clip's own folder.
    """
    if dataset == "smic":
        return [path for path in [item.frames_dir] if path is not None]
    layout = _LAYOUTS[dataset]
    folders, videos = layout.locate(Path(root), variant or layout.variants[0], item)
    return [*folders, *videos]


def _attach(root: Path, variant: str, item: Interval, locate: _Locator,
            sheet: Path, require_media: bool) -> Interval:
    folders, videos = locate(root, variant, item)
    frames_dir = _first_existing(folders, want_dir=True)
    video_path = _first_existing(videos, want_dir=False)
    if require_media and frames_dir is None and video_path is None:
        looked = ", ".join(str(path) for path in [*folders, *videos])
        raise DatasetError(f"media of clip {item.clip!r} (subject {item.subject}) not "
                           f"found; looked for {looked}", path=str(sheet), row=item.row)
    return dataclasses.replace(item, frames_dir=frames_dir, video_path=video_path)


# ---------------------------------------------------------------------------
# SMIC: intervals from folders
# ---------------------------------------------------------------------------
def _load_smic_folders(root: Path, camera: str) -> list[Interval]:
    candidates = [root / "SMIC_all_raw" / camera, root / camera]
    base = _first_existing(candidates, want_dir=True)
    if base is None:
        raise DatasetError(f"SMIC {camera} folder not found; looked for "
                           f"{', '.join(str(path) for path in candidates)}", path=str(root))
    intervals = []
    for subject_dir in sorted(path for path in base.iterdir() if path.is_dir()):
        micro = subject_dir / "micro"
        if not micro.is_dir():
            continue
        for class_dir in sorted(path for path in micro.iterdir() if path.is_dir()):
            label = normalise_emotion(class_dir.name)
            if label not in _SMIC_CLASSES:
                raise DatasetError(f"unexpected SMIC class folder {class_dir.name!r}; "
                                   f"expected one of {', '.join(_SMIC_CLASSES)}",
                                   path=str(class_dir))
            for clip_dir in sorted(path for path in class_dir.iterdir() if path.is_dir()):
                onset, offset = _frame_range(clip_dir)
                intervals.append(Interval(
                    dataset="smic", subject=subject_dir.name, clip=clip_dir.name,
                    name=clip_dir.name, onset=onset, apex=None, offset=offset,
                    fps=SMIC_FPS[camera], kind="ME", emotion=label, frames_dir=clip_dir))
    if not intervals:
        raise DatasetError("no SMIC clips found (expected sN/micro/<class>/<clip>/ folders)",
                           path=str(base))
    return intervals


def _frame_range(clip_dir: Path) -> tuple[int, int]:
    """First and last frame number of the images in *clip_dir* (``image0106583.bmp``)."""
    numbers = []
    for path in image_files(clip_dir):
        number = frame_number(path)
        if number is None:
            raise DatasetError("image name without a frame number", path=str(path))
        numbers.append(number)
    if not numbers:
        raise DatasetError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in clip folder",
                           path=str(clip_dir))
    return min(numbers), max(numbers)


def frame_number(image: str | Path) -> int | None:
    """The frame number an image's name carries: its last run of digits.

    ``img46.jpg`` -> 46, ``reg_img46.jpg`` -> 46, ``006_05562.jpg`` -> 5562,
    ``image0106583.bmp`` -> 106583; None when the name has no digit.
    """
    match = _LAST_NUMBER.search(Path(image).stem)
    return None if match is None else int(match.group(1))
