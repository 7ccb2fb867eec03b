"""``--threads``: the torch threads of a training tool, one definition for every CLI.

``mer-edge-train`` and ``mer-edge-loso`` take it; a new tool that trains adds
it with :func:`add_threads_option` and applies it with :func:`use_threads`, so
the help and the check stay the same everywhere.  Torch-free until applied.
"""
from __future__ import annotations

import argparse

__all__ = ["THREADS_HELP", "add_threads_option", "threads_count", "use_threads"]

THREADS_HELP = ("torch threads, a positive whole number (default: PyTorch's own; folds run "
                "at once with mer-edge-loso --jobs share the cores out)")


def threads_count(text: str) -> int:
    """The value of ``--threads`` (an argparse ``type``): a positive whole number."""
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--threads N`` (default None: leave torch's own setting)."""
    parser.add_argument("--threads", type=threads_count, default=None, metavar="N",
                        help=THREADS_HELP)


def use_threads(threads: int | None) -> None:
    """Set torch's intra-op threads; None leaves its default."""
    if threads is None:
        return
    import torch

    torch.set_num_threads(threads)
