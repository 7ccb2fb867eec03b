"""Emotion labels from AU combinations, in the manner of CASME II.

:data:`EMOTION_RECIPES` lists, per CASME II emotion, the AU combinations the
generator samples (CASME II codes emotions from the AUs it observes:
happiness AU6+AU12 or AU12; disgust AU9, AU10 or AU4+AU7; repression AU14,
AU15, AU17, AU24; surprise AU1+AU2; ``others`` mostly AU4 alone).  One-sided
variants (``L12``) appear as often in the real sheets as bilateral ones.

The MEGC composite class (negative / positive / surprise, ``None`` for
``others``) comes from :func:`mer_edge.data.schema.megc_class`, so the bench
and the loaders share one mapping.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..._errors import InputError
from ..schema import megc_class
from ._facs import parse_recipe

__all__ = ["EMOTION_RECIPES", "DEFAULT_EMOTION_WEIGHTS", "Recipe", "sample_recipe",
           "category_of"]

#: CASME II emotion -> AU combinations (tuples of AU tokens) the generator uses.
EMOTION_RECIPES: dict[str, tuple[tuple[str, ...], ...]] = {
    "happiness": (("6", "12"), ("12",), ("L12",), ("R12",), ("6", "L12")),
    "disgust": (("9",), ("10",), ("L10",), ("4", "7"), ("4", "9"), ("4", "L10")),
    "repression": (("14",), ("L14",), ("R14",), ("15",), ("17",), ("24",), ("15", "17"),
                   ("17", "24")),
    "surprise": (("1", "2"), ("L1", "L2"), ("R1", "R2")),
    "others": (("4",), ("R4",), ("7",), ("L2",), ("R2",)),
}

#: Default sampling weight of each emotion (a flattened CASME II distribution).
DEFAULT_EMOTION_WEIGHTS: dict[str, float] = {
    "happiness": 0.22, "disgust": 0.22, "repression": 0.18, "surprise": 0.18, "others": 0.20,
}


@dataclass(frozen=True)
class Recipe:
    """An AU combination and the labels it implies.

    Attributes:
        aus: normalised AU tokens (``("4", "L12")``).
        emotion: CASME II emotion label.
        category: CAS(ME)^2 emotion category: ``negative``, ``positive``,
            ``surprise`` or ``others`` (the MEGC class, ``others`` for none).
    """

    aus: tuple[str, ...]
    emotion: str
    category: str


def category_of(emotion: str) -> str:
    """CAS(ME)^2 category of an emotion: its MEGC class, or ``"others"``."""
    return megc_class(emotion) or "others"


def sample_recipe(rng: np.random.Generator,
                  weights: Mapping[str, float] | None = None) -> Recipe:
    """Draw an emotion by *weights*, then one of its recipes (uniformly).

    *weights* default to :data:`DEFAULT_EMOTION_WEIGHTS`.

    Raises:
        InputError: unknown emotion names or weights that are negative or all zero.
    """
    table = dict(DEFAULT_EMOTION_WEIGHTS if weights is None else weights)
    unknown = sorted(set(table) - set(EMOTION_RECIPES))
    if unknown:
        raise InputError(f"emotion weights: unknown emotions {unknown}; expected some of "
                         f"{', '.join(EMOTION_RECIPES)}")
    names = sorted(table)
    values = np.array([table[name] for name in names], dtype=np.float64)
    if (values < 0).any() or values.sum() <= 0:
        raise InputError(f"emotion weights: expected non-negative with a positive sum, got {table}")
    emotion = names[int(rng.choice(len(names), p=values / values.sum()))]
    options = EMOTION_RECIPES[emotion]
    aus = parse_recipe(options[int(rng.integers(len(options)))])
    return Recipe(aus=aus, emotion=emotion, category=category_of(emotion))
