"""Recognise the sheet of another dataset before reading it as the wrong one.

The readers match headers loosely (``Onset`` and ``OnsetFrame`` are one
column), so without a check the CASME II sheet reads as a SAMM, MMEW or
CAS(ME)^3 sheet.  A known dataset's sheets carry a mark that the others'
lack; a reader refuses a sheet that carries another dataset's mark and names
the mark it found:

* SAMM: an ``Inducement Code`` column beside an ``Estimated Emotion`` column;
* SAMM long videos: an ``Inducement Code`` column beside a ``Type`` column;
* CASME II: every clip named ``EP<number>...`` (``EP02_01f``, ``EP09f``);
* CAS(ME)^3: every subject named ``spNO.<number>``;
* CAS(ME)^2: no header row, and column H holds ``micro-expression`` or
  ``macro-expression``.

SMIC and MMEW sheets carry no mark of their own: only the marks of the
others keep them apart.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import DatasetError
from ._sheets import HEADER_SEARCH_ROWS, normalise_header

__all__ = ["DATASET_TITLES", "SheetMark", "sheet_mark", "refuse_other_dataset"]

#: Dataset name -> how the dataset calls itself, for messages.
DATASET_TITLES: dict[str, str] = {
    "casme2": "CASME II",
    "samm": "SAMM",
    "smic": "SMIC",
    "casme_sq": "CAS(ME)^2",
    "casme3": "CAS(ME)^3",
    "samm_lv": "SAMM long videos",
    "mmew": "MMEW",
}

_CASME2_CLIP = re.compile(r"^EP\d+")
_CASME3_SUBJECT = re.compile(r"^spNO\.\d+$")
_CASME_SQ_TYPES = ("micro-expression", "macro-expression")


@dataclass(frozen=True)
class SheetMark:
    """The dataset a sheet belongs to, and the evidence (for messages)."""

    dataset: str
    evidence: str


def _header(rows: Sequence[tuple[int, tuple[Any, ...]]]) -> tuple[int, dict[str, int]] | None:
    """Position of the first row naming a Subject and a Filename column, and its columns."""
    for position, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns: dict[str, int] = {}
        for index, cell in enumerate(cells):
            columns.setdefault(normalise_header(cell), index)
        if "subject" in columns and "filename" in columns:
            return position, columns
    return None


def _every_cell_matches(body: Sequence[tuple[Any, ...]], column: int,
                        pattern: re.Pattern[str]) -> bool:
    """Whether column ``column`` has text in some row and matches ``pattern`` wherever it has."""
    cells = [str(cells[column]).strip() for cells in body
             if column < len(cells) and cells[column] is not None and str(cells[column]).strip()]
    return bool(cells) and all(pattern.match(cell) for cell in cells)


def _headerless_mark(rows: Sequence[tuple[int, tuple[Any, ...]]]) -> SheetMark | None:
    cells = rows[0][1] if rows else ()
    if len(cells) > 7 and str(cells[7]).strip().lower() in _CASME_SQ_TYPES:
        return SheetMark("casme_sq", f"no header row, and column H holds {cells[7]!r}")
    return None


def sheet_mark(rows: Sequence[tuple[int, tuple[Any, ...]]]) -> SheetMark | None:
    """The dataset whose mark the sheet ``rows`` (from ``read_rows``) carries, if any."""
    header = _header(rows)
    if header is None:
        return _headerless_mark(rows)
    position, columns = header
    body = [cells for _, cells in rows[position + 1:]]
    if "inducementcode" in columns and "estimatedemotion" in columns:
        return SheetMark("samm", "an 'Inducement Code' and an 'Estimated Emotion' column")
    if "inducementcode" in columns and "type" in columns:
        return SheetMark("samm_lv", "an 'Inducement Code' and a 'Type' column")
    if _every_cell_matches(body, columns["filename"], _CASME2_CLIP):
        return SheetMark("casme2", "every clip named like 'EP02_01f'")
    if _every_cell_matches(body, columns["subject"], _CASME3_SUBJECT):
        return SheetMark("casme3", "every subject named like 'spNO.1'")
    return None


def refuse_other_dataset(dataset: str, path: Path,
                         rows: Sequence[tuple[int, tuple[Any, ...]]]) -> None:
    """Refuse the sheet ``rows`` of ``path`` when it carries another dataset's mark.

    Raises:
        DatasetError: naming the dataset the sheet belongs to, the mark found,
            and the name to read it with.
    """
    mark = sheet_mark(rows)
    if mark is not None and mark.dataset != dataset:
        raise DatasetError(
            f"this sheet belongs to {DATASET_TITLES[mark.dataset]} ({mark.evidence}), not to "
            f"{DATASET_TITLES[dataset]}; read it as {mark.dataset!r}", path=str(path))
