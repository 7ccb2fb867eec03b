"""A benchmark layout written by the user: which of their videos go to which split.

``mer-edge data make-bench --layout LAYOUT.json --videos DIR`` builds a
benchmark from any face videos, not only the team's.  The file maps each
split to its sources::

    {
      "train": [{"file": "anna.mp4", "identity": "anna"},
                {"file": "ben.mp4", "identity": "ben", "start": 0, "stop": 600}],
      "val":   [{"file": "cleo.mp4", "identity": "cleo"}],
      "test":  [{"file": "dan.mp4", "identity": "dan"},
                {"file": "dan.mp4", "identity": "dan", "clean": true}]
    }

Each source takes the fields of :class:`~.bench.BenchSource`: ``file``
(relative to the videos folder) and ``identity`` are required; ``title``
(letters and digits, default: the file name's) names the output videos;
``start``/``stop`` pick frames (at most ``MAX_FRAMES`` of them: cut a long
recording into several sources); ``clean`` writes a copy with nothing
injected (false positives per minute); ``variant`` tells two injected copies
of one segment apart.  One person stays in one split.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..._errors import InputError, reworded
from .bench import SPLITS, BenchSource

__all__ = ["read_layout"]

_REQUIRED = ("file", "identity")


def read_layout(path: str | os.PathLike[str]) -> dict[str, tuple[BenchSource, ...]]:
    """The split -> sources table of a layout file (see the module docstring).

    Raises:
        InputError: the file is missing or not JSON, or an entry is malformed
            (the message names the file and the entry, e.g. ``train[2]``).
    """
    where = Path(path)
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"--layout {where}: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise InputError(f"--layout {where}: not JSON ({error.msg}, line {error.lineno})") from None
    if not isinstance(data, dict) or not data or set(data) - set(SPLITS):
        raise InputError(f"--layout {where}: expected an object with some of the splits "
                         f"{list(SPLITS)}, got {sorted(data) if isinstance(data, dict) else data!r}")
    return {split: tuple(_source(where, f"{split}[{index}]", entry)
                         for index, entry in enumerate(_entries(where, split, data[split])))
            for split in SPLITS if split in data}


def _entries(where: Path, split: str, entries: Any) -> list[Any]:
    if not isinstance(entries, list) or not entries:
        raise InputError(f"--layout {where}: {split} must be a non-empty list of sources")
    return entries


def _source(where: Path, name: str, entry: Any) -> BenchSource:
    known = [f.name for f in fields(BenchSource)]
    if not isinstance(entry, dict):
        raise InputError(f"--layout {where}: {name} must be an object with {list(_REQUIRED)}")
    unknown = sorted(set(entry) - set(known))
    missing = [key for key in _REQUIRED if key not in entry]
    if unknown or missing:
        what = f"unknown keys {unknown}" if unknown else f"missing {missing}"
        raise InputError(f"--layout {where}: {name}: {what}; valid keys: {known}")
    values = dict(entry)
    values.setdefault("title", re.sub(r"[^A-Za-z0-9]", "", Path(str(entry["file"])).stem) or "video")
    try:
        return BenchSource(**values)
    except InputError as error:
        raise reworded(error, prefix=f"--layout {where}: {name}: ") from None
    except TypeError as error:  # a value of the wrong type reached BenchSource
        raise InputError(f"--layout {where}: {name}: {error}") from None
