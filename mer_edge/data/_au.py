"""Parsing the action-unit (AU) cells of the annotation sheets.

The sheets write FACS codes in several dialects: ``12`` (a number cell),
``"4+L10"``, ``"R6+R12"``, ``"A12B"`` (asymmetric, intensity B),
``"4(B/C)+7B"`` (intensity B or C), ``"(L/A)12(B/A)"``, ``"R(12or14)B"``,
``"10or11"``, ``"24,12"``, ``"ref(7)+24"``, ``"31?"`` and a lone ``"?"``, plus
free text such as ``"Chewing"`` or ``"4+glare"``.

Each AU becomes one normalised token:

* the number, with the side prefix ``L``/``R`` kept (``"L12"``, ``"4"``);
* the asymmetry prefix ``A``, the other qualifiers ``T``/``B``, an ``AU``
  prefix and the intensity letter ``A``-``E`` dropped (``"A12B"`` -> ``"12"``);
* alternatives (``/``, ``or``, parenthesised groups) kept together in one
  token, each option normalised and joined by ``/``: ``"(23/24)"`` ->
  ``"23/24"``, ``"R(12or14)B"`` -> ``"R12/R14"``; options that normalise to the
  same AU collapse (``"10A/B"`` -> ``"10"``);
* a trailing ``?`` marks an uncertain token (``"31?"``, ``"L12/L14?"``); a
  cell holding only ``?`` gives the single token ``"?"`` (an AU was seen but
  not identified);
* ``ref(...)`` wrappers are removed and the AU inside is kept;
* parts that do not follow this grammar but contain AU numbers (``"double
  45"``, ``"(1B+2A)or(loses AU4)"``) keep every AU number found, each marked
  uncertain; parts without any number (``"glare"``, ``"NULL"``) are dropped.

The cell text itself is kept on :class:`~mer_edge.data.schema.Interval` as
``au_text``, so nothing of the annotation is lost.
"""
from __future__ import annotations

import re
from typing import Any

__all__ = ["parse_aus", "au_options", "is_au_token", "UNKNOWN_AU"]

#: Token meaning "an action unit was seen but not identified".
UNKNOWN_AU = "?"

_TOKEN = re.compile(r"^[LR]?\d{1,3}(/[LR]?\d{1,3})*\??$")
_OPTION = re.compile(r"^(?P<pre>[LRATB]{0,2})(?P<num>\d{1,3})(?P<int>[A-E]?)$")
_AU_NUMBER = re.compile(r"(?<![0-9])(?P<side>[LR]?)(?P<num>\d{1,3})(?![0-9])")
_REF = re.compile(r"ref\s*\(", re.IGNORECASE)
_AU_PREFIX = re.compile(r"\bAU\s*(?=\d)", re.IGNORECASE)
_OR = re.compile(r"\s*\bor\b\s*|(?<=[0-9A-Za-z])or(?=[0-9])", re.IGNORECASE)
_GROUP = re.compile(r"\(([^()]*)\)")
_NULL_WORDS = {"null", "none", "nan", "n/a", "-", ""}


class _Irregular(Exception):
    """Internal: a part does not follow the AU grammar (use the fallback)."""


def is_au_token(token: str) -> bool:
    """Whether *token* is a well-formed normalised AU token (``"L12"``, ``"23/24?"``, ``"?"``)."""
    return token == UNKNOWN_AU or bool(_TOKEN.match(token))


def au_options(token: str) -> tuple[str, ...]:
    """Split a token into its alternatives without the uncertainty mark.

    >>> au_options("L12/L14?")
    ('L12', 'L14')
    """
    return tuple(option for option in token.rstrip("?").split("/") if option)


def parse_aus(cell: Any) -> tuple[str, ...]:
    """Normalise one AU cell into a tuple of tokens (see the module docstring).

    Args:
        cell: the raw cell: ``None``, an int/float AU number, or text.

    Returns:
        The tokens in the order written, duplicates removed.
    """
    if cell is None or isinstance(cell, bool):
        return ()
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    text = str(cell).strip()
    if text.lower() in _NULL_WORDS:
        return ()
    if text == UNKNOWN_AU:
        return (UNKNOWN_AU,)
    text = _AU_PREFIX.sub("", _REF.sub("(", text))
    tokens: list[str] = []
    for part in _split_top_level(text):
        for token in _parse_part(part):
            if token not in tokens:
                tokens.append(token)
    return tuple(tokens)


def _split_top_level(text: str) -> list[str]:
    """Split at ``+`` and ``,`` outside parentheses (unbalanced ``)`` tolerated)."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        if char in "+," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def _parse_part(part: str) -> list[str]:
    uncertain = "?" in part
    body = part.replace("?", "").strip()
    try:
        options = _expand(body)
    except _Irregular:
        return _fallback(body)
    if not options:
        return [UNKNOWN_AU] if uncertain and not body else []
    return ["/".join(options) + ("?" if uncertain else "")]


def _expand(body: str) -> list[str]:
    """Expand alternatives into normalised options; raise :class:`_Irregular` if off-grammar."""
    if not any(char.isdigit() for char in body):
        if body.strip():
            raise _Irregular(body)
        return []
    compact = re.sub(r"\s+", "", _OR.sub("/", body))
    candidates = [compact]
    while any("(" in candidate for candidate in candidates):
        candidates = [expanded for candidate in candidates
                      for expanded in _expand_first_group(candidate)]
    options: list[str] = []
    for candidate in candidates:
        for piece in _borrow_numbers(candidate.split("/")):
            option = _normalise_option(piece)
            if option not in options:
                options.append(option)
    return options


def _expand_first_group(candidate: str) -> list[str]:
    match = _GROUP.search(candidate)
    if match is None:  # an unbalanced "(": not the grammar
        raise _Irregular(candidate)
    inner = match.group(1)
    before, after = candidate[:match.start()], candidate[match.end():]
    if "+" in inner:
        raise _Irregular(candidate)
    if any(char.isdigit() for char in inner) and (
            before[-1:].isdigit() or after[:1].isdigit()):
        raise _Irregular(candidate)  # "(7)12E": two AUs written together
    choices = _borrow_numbers(inner.split("/")) if inner else [""]
    return [before + choice + after for choice in choices]


def _borrow_numbers(pieces: list[str]) -> list[str]:
    """Give number-less alternatives the AU of their nearest numbered sibling.

    ``["10A", "B"]`` (intensity A or B) -> ``["10A", "10B"]``;
    ``["A", "L12"]`` (asymmetric or left) -> ``["A12", "L12"]``.
    """
    numbered = [i for i, piece in enumerate(pieces) if _OPTION.match(piece)]
    if not numbered:
        return pieces
    result = []
    for i, piece in enumerate(pieces):
        if any(char.isdigit() for char in piece) or not piece:
            result.append(piece)
            continue
        nearest = min(numbered, key=lambda j: (abs(j - i), j))
        sibling = _OPTION.match(pieces[nearest])
        if sibling is None:  # cannot happen: *numbered* holds matching pieces
            raise _Irregular(pieces[nearest])
        if i < nearest:
            result.append(piece + sibling["num"])
        else:
            result.append(sibling["pre"] + sibling["num"] + piece)
    return result


def _normalise_option(piece: str) -> str:
    match = _OPTION.match(piece)
    if match is None:
        raise _Irregular(piece)
    prefix = match["pre"]
    sides = {char for char in prefix if char in "LR"}
    if len(sides) > 1:
        raise _Irregular(piece)
    return (sides.pop() if sides else "") + str(int(match["num"]))


def _fallback(body: str) -> list[str]:
    """Keep every AU number of an off-grammar part, each marked uncertain."""
    tokens = []
    for match in _AU_NUMBER.finditer(body):
        token = f"{match['side']}{int(match['num'])}?"
        if token not in tokens:
            tokens.append(token)
    return tokens
