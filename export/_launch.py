"""The ``mer-edge-train`` and ``mer-edge-loso`` commands, and the PyTorch check they share.

A runtime install (``pip install mer-edge``) puts them on the PATH too, but the
tools need PyTorch, which only the ``train`` extra brings: without it they say
so in one line instead of failing on ``import torch`` with a traceback.  The
modules users run as ``python -m mer_edge_export.<module>`` (train, loso,
onnx_export, recipe, linear_recognizer) make the same check with
:func:`require_torch_to_run` before their first ``import torch``.

This module imports nothing beyond the standard library, so the torch-free
modules (and the runtime) can import it.
"""
from __future__ import annotations

import importlib
import sys
from importlib.machinery import ModuleSpec

__all__ = ["train", "loso", "require_torch", "require_torch_to_run"]

TRAIN_INSTALL = "pip install 'mer-edge[train]' (from a checkout: bash scripts/install.sh --train)"


def require_torch(program: str) -> None:
    """Ends the process with one ``program: error: ...`` line (exit 1) when ``torch`` is missing.

    Only a missing ``torch`` itself is reworded: a PyTorch that is installed
    but fails to import (a missing dependency of its own) keeps its error.
    """
    try:
        importlib.import_module("torch")
    except ModuleNotFoundError as error:
        if error.name != "torch":
            raise
        sys.exit(f"{program}: error: PyTorch is not installed (the runtime install leaves it "
                 f"out): {TRAIN_INSTALL}")


def require_torch_to_run(spec: ModuleSpec) -> None:
    """:func:`require_torch` for a module run as ``python -m`` (``spec``: its ``__spec__``).

    Call it from the module's top, under ``if __name__ == "__main__":`` and
    before anything that imports torch; imported as a library, the module
    keeps Python's own ``ModuleNotFoundError``.
    """
    require_torch(f"python -m {spec.name}")


def _run(module: str, program: str) -> None:
    """Runs ``module.main()`` once PyTorch is known to be importable."""
    require_torch(program)
    importlib.import_module(module).main()


def train() -> None:
    """``mer-edge-train``: :func:`mer_edge_export.train.main`."""
    _run("mer_edge_export.train", "mer-edge-train")


def loso() -> None:
    """``mer-edge-loso``: :func:`mer_edge_export.loso.main`."""
    _run("mer_edge_export.loso", "mer-edge-loso")
