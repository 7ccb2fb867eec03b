"""``--no-still-check``, shared by ``mer-edge run`` and ``mer-edge eval``.

By default the engine reports a micro-expression only from a still face
(:attr:`~mer_edge.SpottingParams.me_quiet_ratio`).  The flag turns that off
while keeping every other detection parameter the spotter was calibrated
with, which is what a comparison with published MEGC spotting figures needs.
"""
from __future__ import annotations

import argparse
from typing import Any


def add_argument(parser: Any) -> None:
    """Add ``--no-still-check`` to a subcommand's parser (or argument group)."""
    parser.add_argument("--no-still-check", action="store_true",
                        help="report every movement up to 0.5 s as an ME, also when the face was "
                             "moving just before it (the plain MEGC rule)")


def spotting_overrides(args: argparse.Namespace) -> dict[str, Any] | None:
    """``EngineOptions.spotting_overrides`` for the flag; None keeps the spotter's calibration."""
    return {"me_quiet_ratio": None} if args.no_still_check else None
