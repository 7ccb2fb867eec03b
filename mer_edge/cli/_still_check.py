"""``--no-still-check``, shared by ``mer-edge run`` and ``mer-edge eval``.

By default the engine reports a micro-expression only from a still face
(:attr:`~mer_edge.SpottingParams.me_quiet_ratio`).  The flag turns that off
while keeping every other detection parameter the spotter was calibrated
with, which is what a comparison with published MEGC spotting figures needs.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from .._spotting import SpottingParams


def add_argument(parser: Any) -> None:
    """Add ``--no-still-check`` to a subcommand's parser (or argument group)."""
    parser.add_argument("--no-still-check", action="store_true",
                        help="report every movement up to 0.5 s as an ME, also when the face was "
                             "moving just before it (the plain MEGC rule)")


def spotting_params(args: argparse.Namespace, spotter: str | None) -> SpottingParams | None:
    """Detection parameters for :class:`~mer_edge.EngineOptions`; None keeps the engine's own.

    The spotter is opened on the CPU only to read its calibrated parameters.
    """
    if not args.no_still_check:
        return None
    from .._engine import detection_params
    from .._models import Model, default_model_path
    from .._options import EngineOptions

    model = Model(spotter or default_model_path("spotting"), expected_task="spotting")
    try:
        return replace(detection_params(model, EngineOptions()), me_quiet_ratio=None)
    finally:
        model.close()
