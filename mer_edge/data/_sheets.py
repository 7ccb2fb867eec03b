"""Reading annotation sheets (.xlsx and .csv) into typed cells.

Every sheet is read into :class:`SheetRow` objects that remember the file and
the 1-based spreadsheet row they came from, so every conversion error can name
the file, the row and the column (``DatasetError``).

Conventions shared by all datasets:

* ``.xlsx``/``.xlsm`` files are read with openpyxl in read-only mode with the
  cached values of formulas (``data_only=True``); the first worksheet holds
  the annotations.  ``.csv`` files are read with :mod:`csv` as UTF-8 (a byte
  order mark is accepted).
* Rows whose cells are all empty are skipped wherever they are (trailing blank
  rows are common in the real sheets).
* Headers are matched after lower-casing and removing everything but letters
  and digits, so ``"Onset Frame"``, ``"OnsetFrame"`` and ``"onset_frame"``
  are the same column.  Rows before the header (a preamble) are ignored.
* Frame numbers may be stored as text, integers or floats.  Fractional frame
  numbers (the real SAMM long-video sheet has 143 rows such as ``566.4``) are
  rounded to the nearest frame, halves upwards.
"""
from __future__ import annotations

import csv
import math
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import DatasetError

__all__ = ["SheetRow", "read_rows", "find_header", "column_letter", "normalise_header"]

#: How many rows are searched for a header row before giving up.
HEADER_SEARCH_ROWS = 60

_XLSX_SUFFIXES = (".xlsx", ".xlsm")
_CSV_SUFFIXES = (".csv",)
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def column_letter(index: int) -> str:
    """Return the spreadsheet letter of the 0-based column *index* (0 -> ``A``)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def normalise_header(text: Any) -> str:
    """Lower-case *text* and keep only letters and digits (``"Onset Frame"`` -> ``onsetframe``)."""
    return _NON_ALNUM.sub("", str(text).lower()) if text is not None else ""


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass(frozen=True)
class SheetRow:
    """One non-empty row of a sheet, with typed accessors that report errors.

    Attributes:
        path: the sheet file, for error messages.
        number: 1-based spreadsheet row number.
        cells: the raw cell values, column A first.
        columns: field name -> 0-based column index.
        labels: field name -> column label used in error messages
            (``"D (Apex Frame)"``).
    """

    path: Path
    number: int
    cells: tuple[Any, ...]
    columns: Mapping[str, int]
    labels: Mapping[str, str]

    # -- raw access -------------------------------------------------------
    def has(self, field: str) -> bool:
        """Whether the sheet has a column for *field*."""
        return field in self.columns

    def raw(self, field: str) -> Any:
        """The raw value of *field* (``None`` for a missing or short row)."""
        index = self.columns[field]
        return self.cells[index] if index < len(self.cells) else None

    def error(self, field: str | None, message: str) -> DatasetError:
        """Build a :class:`DatasetError` located at this row (and *field*'s column)."""
        column = self.labels.get(field, field) if field is not None else None
        return DatasetError(message, path=str(self.path), row=self.number, column=column)

    # -- typed access -----------------------------------------------------
    def text(self, field: str, *, required: bool = True) -> str:
        """The cell as stripped text; empty cells raise when *required*, else give ``""``."""
        value = self.raw(field)
        if _is_blank(value):
            if required:
                raise self.error(field, "empty cell, expected a value")
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value).strip()

    def integer(self, field: str) -> int:
        """The cell as an integer (whole-valued floats and digit strings accepted)."""
        value = self.raw(field)
        number = _to_number(value)
        if number is None or not float(number).is_integer():
            raise self.error(field, f"expected an integer, got {value!r}")
        return int(number)

    def frame(self, field: str, *, unknown: Iterable[int] = (),
              unknown_text: bool = False, required: bool = True) -> int | None:
        """The cell as a frame number, or ``None`` when it means "not annotated".

        Args:
            field: column to read.
            unknown: numeric codes that mean "not annotated" (``-1``, ``0``...).
            unknown_text: whether non-numeric text (``"/"``, ``"-"``) means
                "not annotated" instead of being an error.
            required: whether an empty cell is an error (else ``None``).

        Raises:
            DatasetError: the cell is empty (when required), not a number,
                or negative.
        """
        value = self.raw(field)
        if _is_blank(value):
            if required:
                raise self.error(field, "empty cell, expected a frame number")
            return None
        number = _to_number(value)
        if number is None:
            if unknown_text:
                return None
            raise self.error(field, f"expected a frame number, got {value!r}")
        frame = math.floor(number + 0.5)
        if frame in tuple(unknown):
            return None
        if frame < 0:
            raise self.error(field, f"expected a frame number >= 0, got {value!r}")
        return frame


def _to_number(value: Any) -> float | int | None:
    """Convert a cell to a number, or ``None`` when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


# ---------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------
def read_rows(path: str | Path) -> list[tuple[int, tuple[Any, ...]]]:
    """Read every non-empty row of a sheet as ``(row_number, cells)``.

    Row numbers are 1-based spreadsheet rows (CSV: the line where the record
    starts).  Only the first worksheet of a workbook is read.

    Raises:
        DatasetError: the file is missing, has an unsupported extension, or
            cannot be parsed.
    """
    sheet = Path(path)
    if not sheet.is_file():
        raise DatasetError("annotation sheet not found", path=str(sheet))
    suffix = sheet.suffix.lower()
    if suffix in _XLSX_SUFFIXES:
        rows = _read_xlsx(sheet)
    elif suffix in _CSV_SUFFIXES:
        rows = _read_csv(sheet)
    else:
        raise DatasetError(
            f"unsupported annotation sheet type {suffix or '(none)'!r}; expected one of "
            f"{', '.join(_XLSX_SUFFIXES + _CSV_SUFFIXES)}", path=str(sheet))
    return [(number, cells) for number, cells in rows
            if not all(_is_blank(value) for value in cells)]


def _read_xlsx(path: Path) -> list[tuple[int, tuple[Any, ...]]]:
    import openpyxl  # deferred: only needed for workbooks
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise DatasetError(f"cannot read workbook: {exc}", path=str(path)) from exc
    try:
        if not workbook.worksheets:
            raise DatasetError("workbook has no worksheet", path=str(path))
        sheet = workbook.worksheets[0]
        return [(number, tuple(cells)) for number, cells in
                enumerate(sheet.iter_rows(min_row=1, min_col=1, values_only=True), start=1)]
    finally:
        workbook.close()


def _read_csv(path: Path) -> list[tuple[int, tuple[Any, ...]]]:
    rows: list[tuple[int, tuple[Any, ...]]] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            start = 1
            for cells in reader:
                rows.append((start, tuple(cells)))
                start = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise DatasetError(f"not UTF-8 text: {exc.reason} at byte {exc.start}",
                           path=str(path)) from exc
    except csv.Error as exc:
        raise DatasetError(f"malformed CSV: {exc}", path=str(path)) from exc
    return rows


# ---------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------
def find_header(path: Path, rows: Sequence[tuple[int, tuple[Any, ...]]],
                required: Mapping[str, Sequence[str]],
                optional: Mapping[str, Sequence[str]] | None = None,
                ) -> tuple[int, dict[str, int], dict[str, str]]:
    """Locate the header row of a sheet with a preamble.

    Args:
        path: the sheet, for error messages.
        rows: the rows from :func:`read_rows`.
        required: field name -> accepted header spellings; every field must
            be present in the header row.
        optional: like *required*, but the columns may be absent.

    Returns:
        ``(position, columns, labels)``: the index in *rows* of the header
        row, field -> 0-based column, field -> label for error messages.

    Raises:
        DatasetError: no row among the first :data:`HEADER_SEARCH_ROWS`
            contains all required columns.
    """
    wanted = {**(optional or {}), **required}
    spellings = {field: {normalise_header(name) for name in names}
                 for field, names in wanted.items()}
    for position, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        found = {normalise_header(value): index for index, value in enumerate(cells)
                 if not _is_blank(value)}
        columns: dict[str, int] = {}
        for field, names in spellings.items():
            hits = [found[name] for name in names if name in found]
            if hits:
                columns[field] = min(hits)
        if all(field in columns for field in required):
            labels = {field: f"{column_letter(index)} ({cells[index]})"
                      for field, index in columns.items()}
            return position, columns, labels
    expected = ", ".join(names[0] for names in required.values())
    raise DatasetError(
        f"no header row with the columns {expected} in the first "
        f"{HEADER_SEARCH_ROWS} non-empty rows", path=str(path))
