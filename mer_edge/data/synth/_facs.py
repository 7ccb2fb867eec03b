"""FACS action units as local displacements attached to face-mesh landmarks.

Each action unit (AU) is a small set of *controls*: an anchor (the mean of a
few MediaPipe FaceMesh landmarks), the direction in which the skin there
moves, a relative weight and a Gaussian radius.  :mod:`._field` turns the
controls of an AU combination into a dense, smooth displacement field.

Conventions:

* Directions are written in face units as ``(lateral, down)``: ``lateral``
  points away from the face midline on the control's own side (towards the
  ear), ``down`` towards the chin.  The field module rotates them with the
  face (roll) and scales them by the inter-ocular distance (IOD).
* Sides follow FACS: ``R`` is the subject's right, which is the *image left*
  of a non-mirrored video (landmarks 33, 61, 107...); ``L`` the subject's left
  (263, 291, 336...).  ``L12`` moves only the subject's left lip corner.
* Radii (``sigma``) are in IOD units.
* A bilateral AU (``12``) uses both sides and the midline; a one-sided AU
  (``L12``) only the controls of its side (the Gaussian tails of controls
  near the midline still reach it a little).

The table covers the AUs most frequent in CASME II and CAS(ME)^2 micro-
expressions: 1, 2, 4, 6, 7, 9, 10, 12, 14, 15, 17 and 24.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..._errors import InputError

__all__ = ["Side", "Control", "AU_NUMBERS", "parse_au_token", "parse_recipe",
           "controls_for", "recipe_text"]

#: Which half of the face a control belongs to (``C``: on the midline).
Side = Literal["L", "R", "C"]


@dataclass(frozen=True)
class Control:
    """One moving point of an action unit.

    Attributes:
        au: the AU number.
        side: ``"R"``, ``"L"`` or ``"C"`` (midline).
        anchor: MediaPipe FaceMesh indices whose mean is the moving point.
        lateral: direction component away from the midline (IOD units; on the
            midline it is the image-x component and should be 0).
        down: direction component towards the chin.
        weight: relative displacement in ``(0, 1]``; the strongest control of
            a field moves by the requested amplitude.
        sigma: Gaussian radius of the moving skin, IOD units.
    """

    au: int
    side: Side
    anchor: tuple[int, ...]
    lateral: float
    down: float
    weight: float
    sigma: float

    def direction(self) -> tuple[float, float]:
        """Unit ``(x, y)`` direction in the face frame (x towards the subject's left)."""
        sign = -1.0 if self.side == "R" else 1.0
        x, y = sign * self.lateral, self.down
        norm = float(np.hypot(x, y))
        return (x / norm, y / norm)


# (right anchor, left anchor, lateral, down, weight, sigma) for paired controls,
# (anchor, down, weight, sigma) for midline controls.
_Pair = tuple[tuple[int, ...], tuple[int, ...], float, float, float, float]
_Mid = tuple[tuple[int, ...], float, float, float]

_PAIRED: dict[int, tuple[_Pair, ...]] = {
    1: (((107, 55), (336, 285), -0.1, -1.0, 1.0, 0.12),        # inner brow up
        ((66, 65), (296, 295), 0.0, -1.0, 0.5, 0.12)),
    2: (((70, 46), (300, 276), 0.0, -1.0, 1.0, 0.12),          # outer brow up
        ((63, 53), (293, 283), 0.0, -1.0, 0.8, 0.12),
        ((105, 52), (334, 282), 0.0, -1.0, 0.4, 0.12)),
    4: (((107, 55), (336, 285), -0.5, 0.85, 1.0, 0.11),       # brows down and together
        ((66, 65), (296, 295), -0.3, 0.9, 0.6, 0.12)),
    6: (((117, 118), (346, 347), 0.1, -1.0, 1.0, 0.13),       # cheek up, eye narrows
        ((50, 101), (280, 330), 0.1, -1.0, 0.8, 0.13),
        ((145,), (374,), 0.0, -1.0, 0.4, 0.08)),
    7: (((145, 144, 153), (374, 373, 380), 0.0, -1.0, 1.0, 0.08),  # lower lid up
        ((159,), (386,), 0.0, 1.0, 0.3, 0.07)),                   # upper lid slightly down
    9: (((98, 64, 129), (327, 294, 358), 0.15, -1.0, 1.0, 0.10),  # nose wings up
        ((37,), (267,), 0.0, -1.0, 0.35, 0.10),
        ((55,), (285,), -0.2, 1.0, 0.3, 0.10)),                   # inner brow pulled down
    10: (((40, 39, 37), (270, 269, 267), 0.0, -1.0, 1.0, 0.10),  # upper lip up
         ((203, 206), (423, 426), 0.3, -1.0, 0.5, 0.10)),
    12: (((61,), (291,), 0.75, -0.66, 1.0, 0.12),               # lip corner up and out
         ((212, 202), (432, 422), 0.5, -0.85, 0.5, 0.12)),
    14: (((61,), (291,), 1.0, 0.0, 1.0, 0.09),                  # corner tightened sideways
         ((40, 91), (270, 321), 1.0, 0.0, 0.5, 0.09)),
    15: (((61,), (291,), 0.15, 1.0, 1.0, 0.12),                 # lip corner down
         ((91, 181), (321, 405), 0.0, 1.0, 0.4, 0.10)),
    17: (((208, 32), (428, 262), 0.0, -1.0, 0.6, 0.12),        # chin boss up
         ),
    24: (((61,), (291,), -1.0, 0.0, 1.0, 0.09),                # lips pressed: corners in,
         ((39,), (269,), 0.0, 1.0, 0.45, 0.08),                 # red of the lips thinner
         ((181,), (405,), 0.0, -1.0, 0.45, 0.08)),
}
_MIDLINE: dict[int, tuple[_Mid, ...]] = {
    10: (((0,), -1.0, 0.7, 0.08),),
    17: (((199, 200), -1.0, 1.0, 0.15),
         ((17,), -1.0, 0.6, 0.10)),
    24: (((0, 13), 1.0, 0.5, 0.08),
         ((17, 14), -1.0, 0.5, 0.08)),
}

#: The action units this module can synthesise, ascending.
AU_NUMBERS: tuple[int, ...] = tuple(sorted(_PAIRED))

_TOKEN = re.compile(r"^(?P<side>[LR]?)(?P<number>\d{1,2})$")


def parse_au_token(token: str) -> tuple[int, Side | None]:
    """Split ``"L12"`` into ``(12, "L")`` and ``"4"`` into ``(4, None)``.

    Raises:
        InputError: malformed token or an AU this module does not synthesise.
    """
    match = _TOKEN.match(str(token).strip().upper())
    if match is None:
        raise InputError(f"AU token: expected like '12', 'L12' or 'R4', got {token!r}")
    number = int(match["number"])
    if number not in _PAIRED:
        raise InputError(f"AU {number} cannot be synthesised; expected one of "
                         f"{', '.join(map(str, AU_NUMBERS))}")
    side = match["side"] or None
    return number, side  # type: ignore[return-value]


def parse_recipe(text: str | tuple[str, ...]) -> tuple[str, ...]:
    """Normalise an AU combination: ``"4+l12"`` or ``("4", "L12")`` -> ``("4", "L12")``.

    Raises:
        InputError: empty recipe, malformed token or the same AU twice.
    """
    tokens = text.split("+") if isinstance(text, str) else list(text)
    out: list[str] = []
    seen: set[int] = set()
    for token in tokens:
        number, side = parse_au_token(token)
        if number in seen:
            raise InputError(f"AU recipe {text!r}: AU {number} appears twice")
        seen.add(number)
        out.append(f"{side or ''}{number}")
    if not out:
        raise InputError("AU recipe: expected at least one AU, got none")
    return tuple(out)


def recipe_text(recipe: tuple[str, ...]) -> str:
    """The sheet spelling of a recipe: ``("4", "L12")`` -> ``"4+L12"``."""
    return "+".join(parse_recipe(recipe))


def controls_for(recipe: str | tuple[str, ...]) -> tuple[Control, ...]:
    """All controls of an AU combination (see the module docstring for sides)."""
    controls: list[Control] = []
    for token in parse_recipe(recipe):
        number, side = parse_au_token(token)
        for right, left, lateral, down, weight, sigma in _PAIRED[number]:
            if side in (None, "R"):
                controls.append(Control(number, "R", right, lateral, down, weight, sigma))
            if side in (None, "L"):
                controls.append(Control(number, "L", left, lateral, down, weight, sigma))
        if side is None:
            for anchor, down, weight, sigma in _MIDLINE.get(number, ()):
                controls.append(Control(number, "C", anchor, 0.0, down, weight, sigma))
    return tuple(controls)
