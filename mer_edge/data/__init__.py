"""Dataset annotations: one interval schema, loaders for the public ME datasets.

>>> from mer_edge.data import load_sheet, summarise          # doctest: +SKIP
>>> summarise(load_sheet("casme2", "CASME2-coding-20140508.xlsx"))  # doctest: +SKIP
{'rows': 255, 'micro': 255, 'macro': 0, 'subjects': 26, 'offset_not_annotated': 0, 'emotions': {...}}
"""
from __future__ import annotations

from ._au import au_options, parse_aus
from .loaders import (
    DATASET_VARIANTS,
    DATASETS,
    SHEET_LOADERS,
    dataset_loader,
    inspect_main,
    load_dataset,
    load_sheet,
    summarise,
)
from .schema import (
    CASME2_CLASSES,
    DATASET_FPS,
    EMOTIONS,
    MEGC_CLASSES,
    SMIC_FPS,
    Interval,
    IntervalKind,
    casme2_class,
    megc_class,
    normalise_emotion,
)

__all__ = [
    "Interval",
    "IntervalKind",
    "DATASETS",
    "DATASET_VARIANTS",
    "DATASET_FPS",
    "SMIC_FPS",
    "SHEET_LOADERS",
    "EMOTIONS",
    "MEGC_CLASSES",
    "CASME2_CLASSES",
    "dataset_loader",
    "load_sheet",
    "load_dataset",
    "summarise",
    "inspect_main",
    "normalise_emotion",
    "megc_class",
    "casme2_class",
    "parse_aus",
    "au_options",
]
