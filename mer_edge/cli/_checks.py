"""The flags that turn the engine's checks off, shared by ``mer-edge run`` and ``eval``.

By default the engine reports a micro-expression only from a still face
(:attr:`~mer_edge.SpottingParams.me_quiet_ratio`) that goes back towards its
neutral state after it (:attr:`~mer_edge.EngineOptions.max_me_residual`), and
no interval over which the face's brightness changed
(:attr:`~mer_edge.EngineOptions.max_brightness_change`).  ``--no-still-check``
turns the first off while keeping every other detection parameter the
spotter was calibrated with, which is what a comparison with published MEGC
spotting figures needs; ``--no-neutral-check`` the second and
``--no-lighting-check`` the third.  A movement the face has not come back
from when the detector closes it is followed to the face's return
(:attr:`~mer_edge.EngineOptions.follow_displaced`); ``--no-follow`` reports
its first burst of motion alone, as the detector closed it.  A MaE after a
still face that came back to rest within an ME's duration is an ME ending
there (:attr:`~mer_edge.EngineOptions.me_ends_at_rest`); ``--no-end-at-rest``
keeps the kind the score gave it.
"""
from __future__ import annotations

import argparse
from typing import Any


def add_arguments(parser: Any) -> None:
    """Add the flags to a subcommand's parser (or argument group)."""
    parser.add_argument("--no-still-check", action="store_true",
                        help="report every movement up to 0.5 s as an ME, also when the face was "
                             "moving just before it (the plain MEGC rule)")
    parser.add_argument("--no-neutral-check", action="store_true",
                        help="also report MEs after which the face stays displaced (the first "
                             "rise of a longer movement)")
    parser.add_argument("--no-follow", action="store_true",
                        help="report a movement the face has not come back from as the detector "
                             "closed it (its rise alone), instead of following it to the face's "
                             "return")
    parser.add_argument("--no-end-at-rest", action="store_true",
                        help="keep a movement the score timed longer than an ME a MaE, also when "
                             "the face was back at rest within an ME's duration")
    parser.add_argument("--no-lighting-check", action="store_true",
                        help="also report intervals over which the face's brightness changed "
                             "by more than 15%% (a lamp, auto-exposure)")


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """:class:`~mer_edge.EngineOptions` fields for the flags (the defaults when absent)."""
    options: dict[str, Any] = {
        "spotting_overrides": {"me_quiet_ratio": None} if args.no_still_check else None}
    if args.no_neutral_check:
        options["max_me_residual"] = None
    if args.no_follow:
        options["follow_displaced"] = None
    if args.no_end_at_rest:
        options["me_ends_at_rest"] = False
    if args.no_lighting_check:
        options["max_brightness_change"] = None
    return options
