"""The ``mer-edge-train`` and ``mer-edge-loso`` commands.

A runtime install (``pip install mer-edge``) puts them on the PATH too, but the
tools need PyTorch, which only the ``train`` extra brings: without it they say
so in one line instead of failing on ``import torch`` with a traceback.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys

__all__ = ["train", "loso"]

TRAIN_INSTALL = "pip install 'mer-edge[train]' (from a checkout: bash scripts/install.sh --train)"


def _run(module: str, program: str) -> None:
    """Runs ``module.main()`` once PyTorch is known to be importable."""
    if importlib.util.find_spec("torch") is None:
        sys.exit(f"{program}: error: PyTorch is not installed (the runtime install leaves it "
                 f"out): {TRAIN_INSTALL}")
    importlib.import_module(module).main()


def train() -> None:
    """``mer-edge-train``: :func:`mer_edge_export.train.main`."""
    _run("mer_edge_export.train", "mer-edge-train")


def loso() -> None:
    """``mer-edge-loso``: :func:`mer_edge_export.loso.main`."""
    _run("mer_edge_export.loso", "mer-edge-loso")
