"""Annotation-sheet parsers for the public micro-expression datasets.

``load_sheet(dataset, path)`` reads one annotation sheet in the dataset's real
format and returns normalised :class:`~mer_edge.data.schema.Interval` objects.

Formats (``*`` marks optional columns; header matching ignores case, spaces
and punctuation, rows before the header are skipped):

``casme2``
    CASME II, 200 fps.  Subject, Filename, OnsetFrame, ApexFrame,
    OffsetFrame, Action Units, Estimated Emotion.  Non-numeric apex cells
    (``"/"``) mean "not annotated".
``samm``
    SAMM micro-movements, 200 fps.  Preamble rows, then Subject, Filename,
    Inducement Code, Onset Frame, Apex Frame, Offset Frame, Duration, Micro,
    Action Units, Estimated Emotion, Objective Classes*, Notes.  Apex -1 (or
    text) = not annotated.
``smic``
    SMIC, 100 fps (HS) or 25 fps (VIS, NIR).  Subject, Filename, Emotion
    (or Class), OnsetFrame, OffsetFrame, ApexFrame*, Modality*.  The camera
    comes from the Modality column or else from an ``HS``/``VIS``/``NIR``
    token in the file name; SMIC annotates no apex.
``casme_sq``
    CAS(ME)^2 long videos, 30 fps.  No header: subject index, interval name
    (``disgust1_1``), onset, apex, offset, AUs, emotion category, expression
    type (``macro-expression``/``micro-expression``), emotion, and in the
    updated CSV also duration and ``sNN/NN_0101disgustingteeth`` (the video).
    Offset 0 and apex 0 = not annotated (``None``); an interval without an
    offset ends at its apex in evaluations and training targets, as MEGC
    spotting evaluations of CAS(ME)^2 do (``Interval.end_frame``).  Without
    the video column the subject folder and video come from the CAS(ME)^2
    naming rules.
``casme3``
    CAS(ME)^3 part A, 30 fps.  Subject, Filename, Onset, Apex, Offset, AU,
    Objective class*, emotion, Type*.  Without a Type column an interval is
    an ME when it lasts at most 0.5 s.
``samm_lv``
    SAMM long videos, 200 fps.  Preamble rows, then Subject, Filename,
    Inducement Code, Onset, Apex, Offset, Duration, Type (``Macro`` or
    ``Micro - 1/2``), Action Units, Notes.  Apex -1 = not annotated; the
    video is the filename without its last ``_k`` (``006_1_2`` -> ``006_1``).
``mmew``
    MMEW, 90 fps.  Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame, AU,
    Estimated Emotion.

Every missing or malformed file or cell raises
:class:`~mer_edge._errors.DatasetError` naming the file, the 1-based row and
the column.  A sheet that carries the mark of another dataset (CASME II clip
names read as SAMM, say) is refused, naming the mark found: see
:mod:`mer_edge.data._identity`.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._errors import DatasetError, InputError
from ._au import parse_aus
from ._identity import refuse_other_dataset
from ._sheets import SheetRow, column_letter, find_header, read_rows
from .schema import DATASET_FPS, SMIC_FPS, Interval, IntervalKind, normalise_emotion

__all__ = ["DATASETS", "SHEET_LOADERS", "load_sheet", "dataset_loader"]

SheetLoader = Callable[[Path], list[Interval]]

# Accepted header spellings per field (compared after normalise_header).
_SUBJECT = ("Subject",)
_FILENAME = ("Filename", "File name", "Clip")
_ONSET = ("OnsetFrame", "Onset", "OnsetF")
_APEX = ("ApexFrame", "Apex", "ApexF")
_OFFSET = ("OffsetFrame", "Offset", "OffsetF")
_AUS = ("Action Units", "AU", "AUs", "Action Unit")
_EMOTION = ("Estimated Emotion", "Emotion", "Class", "Label")
_OBJECTIVE = ("Objective Classes", "Objective Class")
_TYPE = ("Type",)
_MODALITY = ("Modality", "Camera")
_INDUCEMENT = ("Inducement Code",)

_APEX_UNKNOWN = (-1,)

#: CAS(ME)^2 subject index (sheet column A) -> subject folder.
_CASME_SQ_SUBJECTS: dict[int, str] = dict(enumerate(
    ("s15", "s16", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27",
     "s29", "s30", "s31", "s32", "s33", "s34", "s35", "s36", "s37", "s38", "s40"),
    start=1))

#: CAS(ME)^2 naming rules: interval-name prefix -> video code and title, as
#: the dataset names its videos (``15_0101disgustingteeth.avi``).
_CASME_SQ_VIDEOS: dict[str, str] = {
    "disgust1": "0101disgustingteeth",
    "disgust2": "0102eatingworms",
    "anger1": "0401girlcrashing",
    "anger2": "0402beatingpregnantwoman",
    "happy1": "0502funnyerrors",
    "happy2": "0503unnyfarting",
    "happy3": "0505funnyinnovations",
    "happy4": "0507climbingthewall",
    "happy5": "0508funnydunkey",
}
_CASME_SQ_VIDEO_CELL = re.compile(r"^(?P<subject>s\d+)/(?P<clip>\d+_\d{4}\w*)$")
_CASME_SQ_COLUMNS = ("subject", "name", "onset", "apex", "offset", "aus",
                     "category", "type", "emotion", "duration", "video")
_CASME_SQ_TITLES = ("subject", "clip name", "onset", "apex", "offset", "AUs",
                    "emotion category", "expression type", "emotion", "duration", "video")
_SMIC_TOKEN = re.compile(r"(?<![A-Za-z])(HS|VIS|NIR)(?![A-Za-z])", re.IGNORECASE)
_MICRO_SECONDS = 0.5


# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------
def _dataset_rows(dataset: str, path: Path) -> list[tuple[int, tuple[Any, ...]]]:
    """The rows of a sheet of ``dataset``; a sheet marked as another dataset's is refused."""
    rows = read_rows(path)
    refuse_other_dataset(dataset, path, rows)
    return rows


def _table(dataset: str, path: Path, required: Mapping[str, Sequence[str]],
           optional: Mapping[str, Sequence[str]] | None = None) -> list[SheetRow]:
    """Read a sheet of ``dataset`` with a header row; return the rows after it."""
    rows = _dataset_rows(dataset, path)
    position, columns, labels = find_header(path, rows, required, optional)
    return [SheetRow(path, number, cells, columns, labels)
            for number, cells in rows[position + 1:]]


def _subject(row: SheetRow, width: int = 0, prefix: str = "") -> str:
    """Subject id as text; a bare number is zero-padded to *width* and prefixed."""
    text = row.text("subject")
    if text.isdigit():
        return prefix + text.zfill(width)
    return text


def _emotion(row: SheetRow, field: str = "emotion") -> str:
    return normalise_emotion(row.text(field))


def _kind_from_text(row: SheetRow, field: str) -> IntervalKind:
    """``ME`` for ``Micro...``/``micro-expression``/``ME``, ``MaE`` for macro."""
    text = row.text(field).lower()
    if text.startswith("micro") or text == "me":
        return "ME"
    if text.startswith("macro") or text == "mae":
        return "MaE"
    raise row.error(field, f"expected a micro or macro expression type "
                           f"('Micro - 1/2', 'Macro', 'micro-expression'), got {text!r}")


def _build(row: SheetRow, **fields: Any) -> Interval:
    """Create an :class:`Interval`, turning validation errors into located DatasetErrors."""
    fields.setdefault("row", row.number)
    try:
        return Interval(**fields)
    except InputError as exc:
        field = str(exc).split(":", 1)[0]
        raise row.error(field if field in row.columns else None,
                        f"invalid interval: {exc}") from exc


def _au_fields(row: SheetRow) -> dict[str, Any]:
    raw = row.raw("aus")
    return {"aus": parse_aus(raw), "au_text": row.text("aus", required=False)}


def _frames(row: SheetRow, apex_unknown: Iterable[int] = _APEX_UNKNOWN,
            offset_unknown: Iterable[int] = ()) -> dict[str, int | None]:
    """Onset, apex and offset of a row; apex text or a code in *apex_unknown* -> ``None``."""
    apex = (row.frame("apex", unknown=apex_unknown, unknown_text=True, required=False)
            if row.has("apex") else None)
    return {
        "onset": row.frame("onset"),
        "apex": apex,
        "offset": row.frame("offset", unknown=offset_unknown),
    }


# ---------------------------------------------------------------------------
# One parser per dataset
# ---------------------------------------------------------------------------
def _load_casme2(path: Path) -> list[Interval]:
    rows = _table("casme2", path,
                  {"subject": _SUBJECT, "name": _FILENAME, "onset": _ONSET, "apex": _APEX,
                   "offset": _OFFSET, "aus": _AUS, "emotion": _EMOTION})
    return [_build(row, dataset="casme2", subject=_subject(row, 2), clip=row.text("name"),
                   name=row.text("name"), fps=DATASET_FPS["casme2"], kind="ME",
                   emotion=_emotion(row), **_frames(row), **_au_fields(row))
            for row in rows]


def _load_samm(path: Path) -> list[Interval]:
    rows = _table("samm", path,
                  {"subject": _SUBJECT, "name": _FILENAME, "onset": _ONSET, "apex": _APEX,
                   "offset": _OFFSET, "aus": _AUS, "emotion": _EMOTION},
                  {"objective": _OBJECTIVE})
    return [_build(row, dataset="samm", subject=_subject(row, 3), clip=row.text("name"),
                   name=row.text("name"), fps=DATASET_FPS["samm"], kind="ME",
                   emotion=_emotion(row), objective_class=_objective(row),
                   **_frames(row), **_au_fields(row))
            for row in rows]


def _objective(row: SheetRow) -> str | None:
    if not row.has("objective"):
        return None
    return row.text("objective", required=False) or None


def _load_samm_lv(path: Path) -> list[Interval]:
    rows = _table("samm_lv", path,
                  {"subject": _SUBJECT, "name": _FILENAME, "onset": _ONSET, "apex": _APEX,
                   "offset": _OFFSET, "type": _TYPE, "aus": _AUS},
                  {"inducement": _INDUCEMENT})
    intervals = []
    for row in rows:
        name = row.text("name")
        video, sep, _ = name.rpartition("_")
        if not sep or not video:
            raise row.error("name", f"expected a name like '006_1_2' "
                                    f"(subject_inducement_index), got {name!r}")
        intervals.append(_build(
            row, dataset="samm_lv", subject=_subject(row, 3), clip=video, name=name,
            fps=DATASET_FPS["samm_lv"], kind=_kind_from_text(row, "type"),
            **_frames(row), **_au_fields(row)))
    return intervals


def _smic_camera(path: Path, row: SheetRow) -> str:
    if row.has("modality") and row.text("modality", required=False):
        camera = row.text("modality").upper()
        if camera not in SMIC_FPS:
            raise row.error("modality", f"expected one of {', '.join(SMIC_FPS)}, got {camera!r}")
        return camera
    tokens = {match.upper() for match in _SMIC_TOKEN.findall(path.stem)}
    if len(tokens) != 1:
        raise row.error("modality", "cannot tell the SMIC camera: give a Modality column "
                                    "(HS, VIS or NIR) or put one of HS, VIS, NIR in the file name")
    return tokens.pop()


def _load_smic(path: Path) -> list[Interval]:
    rows = _table("smic", path,
                  {"subject": _SUBJECT, "name": _FILENAME, "onset": _ONSET,
                   "offset": _OFFSET, "emotion": _EMOTION},
                  {"apex": _APEX, "modality": _MODALITY})
    return [_build(row, dataset="smic", subject=_subject(row, prefix="s"),
                   clip=row.text("name"), name=row.text("name"),
                   fps=SMIC_FPS[_smic_camera(path, row)], kind="ME",
                   emotion=_emotion(row), **_frames(row))
            for row in rows]


def _casme_sq_row(path: Path, number: int, cells: tuple[Any, ...]) -> SheetRow:
    columns = {field: index for index, field in enumerate(_CASME_SQ_COLUMNS)}
    labels = {field: f"{column_letter(index)} ({_CASME_SQ_TITLES[index]})"
              for field, index in columns.items()}
    return SheetRow(path, number, cells, columns, labels)


def _casme_sq_video(row: SheetRow) -> tuple[str, str]:
    """Subject folder and video name of a CAS(ME)^2 row (``"s15"``, ``"15_0101disgustingteeth"``)."""
    cell = row.text("video", required=False)
    if cell:
        match = _CASME_SQ_VIDEO_CELL.match(cell)
        if match is None:
            raise row.error("video", f"expected 'sNN/NN_0101name', got {cell!r}")
        return match["subject"], match["clip"]
    index = row.integer("subject")
    if index not in _CASME_SQ_SUBJECTS:
        raise row.error("subject", f"expected a subject index 1-{len(_CASME_SQ_SUBJECTS)}, "
                                   f"got {index}")
    subject = _CASME_SQ_SUBJECTS[index]
    prefix = row.text("name").rpartition("_")[0]
    if prefix not in _CASME_SQ_VIDEOS:
        raise row.error("name", f"unknown CAS(ME)^2 clip name {row.text('name')!r}; expected "
                                f"<{'|'.join(_CASME_SQ_VIDEOS)}>_<n>")
    return subject, f"{subject[1:]}_{_CASME_SQ_VIDEOS[prefix]}"


def _load_casme_sq(path: Path) -> list[Interval]:
    intervals = []
    for number, cells in _dataset_rows("casme_sq", path):
        row = _casme_sq_row(path, number, cells)
        subject, clip = _casme_sq_video(row)
        intervals.append(_build(
            row, dataset="casme_sq", subject=subject, clip=clip, name=row.text("name"),
            fps=DATASET_FPS["casme_sq"], kind=_kind_from_text(row, "type"),
            emotion=_emotion(row), category=_emotion(row, "category"),
            **_frames(row, apex_unknown=(0,), offset_unknown=(0,)), **_au_fields(row)))
    return intervals


def _load_casme3(path: Path) -> list[Interval]:
    rows = _table("casme3", path,
                  {"subject": _SUBJECT, "name": _FILENAME, "onset": _ONSET, "apex": _APEX,
                   "offset": _OFFSET, "aus": _AUS, "emotion": _EMOTION},
                  {"objective": _OBJECTIVE, "type": _TYPE})
    fps = DATASET_FPS["casme3"]
    intervals = []
    for row in rows:
        frames = _frames(row)
        if row.has("type") and row.text("type", required=False):
            kind = _kind_from_text(row, "type")
        elif frames["offset"] is None:
            raise row.error("offset", "no offset and no Type column: cannot tell ME from MaE")
        else:
            seconds = (frames["offset"] - frames["onset"] + 1) / fps
            kind = "ME" if seconds <= _MICRO_SECONDS else "MaE"
        intervals.append(_build(
            row, dataset="casme3", subject=_subject(row), clip=row.text("name"),
            name=row.text("name"), fps=fps, kind=kind, emotion=_emotion(row),
            objective_class=_objective(row), **frames, **_au_fields(row)))
    return intervals


def _load_mmew(path: Path) -> list[Interval]:
    rows = _table("mmew", path,
                  {"subject": _SUBJECT, "name": _FILENAME, "onset": _ONSET, "apex": _APEX,
                   "offset": _OFFSET, "aus": _AUS, "emotion": _EMOTION})
    return [_build(row, dataset="mmew", subject=_subject(row), clip=row.text("name"),
                   name=row.text("name"), fps=DATASET_FPS["mmew"], kind="ME",
                   emotion=_emotion(row), **_frames(row), **_au_fields(row))
            for row in rows]


# ---------------------------------------------------------------------------
# Registry and public entry points
# ---------------------------------------------------------------------------
#: Dataset name -> sheet loader.  The names are the ones the CLI accepts.
SHEET_LOADERS: dict[str, SheetLoader] = {
    "casme2": _load_casme2,
    "samm": _load_samm,
    "smic": _load_smic,
    "casme_sq": _load_casme_sq,
    "casme3": _load_casme3,
    "samm_lv": _load_samm_lv,
    "mmew": _load_mmew,
}

#: Every dataset name, in registry order.
DATASETS: tuple[str, ...] = tuple(SHEET_LOADERS)


def dataset_loader(dataset: str) -> SheetLoader:
    """Return the sheet loader registered under *dataset*.

    Raises:
        InputError: unknown name; the message lists the valid ones.
    """
    try:
        return SHEET_LOADERS[dataset]
    except (KeyError, TypeError):
        raise InputError(f"unknown dataset {dataset!r}; expected one of: "
                         f"{' '.join(SHEET_LOADERS)}") from None


def load_sheet(dataset: str, sheet_path: str | Path) -> list[Interval]:
    """Read one annotation sheet of *dataset* into intervals, in sheet order.

    Args:
        dataset: one of ``casme2 samm smic casme_sq casme3 samm_lv mmew``.
        sheet_path: the ``.xlsx`` or ``.csv`` annotation file.

    Raises:
        InputError: *dataset* is not a known name.
        DatasetError: the file is missing or malformed (names file, row, column).
    """
    loader = dataset_loader(dataset)
    path = Path(sheet_path)
    intervals = loader(path)
    if not intervals:
        raise DatasetError("annotation sheet has no interval rows", path=str(path))
    return intervals
