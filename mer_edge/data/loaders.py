"""Public loader API: read annotation sheets and dataset folders, summarise them.

* :func:`load_sheet` reads one annotation sheet in a dataset's real format
  (formats: :mod:`mer_edge.data._parsers`);
* :func:`load_dataset` finds the sheet(s) in a dataset folder and attaches
  frame folders and videos (layouts: :mod:`mer_edge.data._layouts`);
* :func:`summarise` and :func:`inspect_main` count what was loaded; they back
  ``mer-edge data inspect DATASET SHEET``.

Dataset names: ``casme2 samm smic casme_sq casme3 samm_lv mmew``.  An unknown
name raises :class:`~mer_edge._errors.InputError` listing them; a missing or
malformed file raises :class:`~mer_edge._errors.DatasetError` naming the
file, the 1-based row and the column.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from ._layouts import DATASET_VARIANTS, load_dataset
from ._parsers import DATASETS, SHEET_LOADERS, dataset_loader, load_sheet
from .schema import Interval

__all__ = [
    "DATASETS",
    "DATASET_VARIANTS",
    "SHEET_LOADERS",
    "dataset_loader",
    "load_sheet",
    "load_dataset",
    "summarise",
    "inspect_main",
]


def summarise(intervals: Iterable[Interval]) -> dict[str, Any]:
    """Count what a list of intervals holds.

    Returns:
        ``{"rows": int, "micro": int, "macro": int, "subjects": int,
        "offset_not_annotated": int, "emotions": {label: count}}``:
        ``micro``/``macro`` count ``ME``/``MaE`` intervals, ``subjects``
        counts distinct (dataset, subject) pairs, ``offset_not_annotated``
        counts the intervals whose offset the sheet leaves out (CAS(ME)^2
        offset 0: evaluations end them at the apex, see
        :attr:`~mer_edge.data.schema.Interval.end_frame`), and ``emotions`` is
        sorted by label and leaves out intervals without an emotion label
        (SAMM long videos annotate none).
    """
    items = list(intervals)
    emotions = Counter(item.emotion for item in items if item.emotion)
    return {
        "rows": len(items),
        "micro": sum(1 for item in items if item.kind == "ME"),
        "macro": sum(1 for item in items if item.kind == "MaE"),
        "subjects": len({(item.dataset, item.subject) for item in items}),
        "offset_not_annotated": sum(1 for item in items if item.offset is None),
        "emotions": dict(sorted(emotions.items())),
    }


def inspect_main(dataset: str, sheet: str) -> dict[str, Any]:
    """Back end of ``mer-edge data inspect DATASET SHEET``: load *sheet*, return its summary.

    The CLI prints the returned dict as its last line, as JSON.

    Raises:
        InputError: unknown dataset name.
        DatasetError: missing or malformed sheet.
    """
    return summarise(load_sheet(dataset, sheet))
