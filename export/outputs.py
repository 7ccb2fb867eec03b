"""Where exported models may be written: the shipped models folder is guarded.

The package's ``mer_edge/models`` holds the models the engine loads by
default; a test (``--tiny``) model must never land there, and replacing a
shipped file is said, never silent.  Torch-free.
"""
from __future__ import annotations

from pathlib import Path

import mer_edge
from mer_edge._errors import InputError

__all__ = ["SHIPPED_MODELS_DIR", "is_shipped_location", "check_model_output"]

#: The installed (or checked-out) package's models folder.
SHIPPED_MODELS_DIR = Path(mer_edge.__file__).resolve().parent / "models"


def is_shipped_location(path: str | Path) -> bool:
    """Whether ``path`` (a file or a folder) is in the package's shipped models folder."""
    resolved = Path(path).resolve()
    return resolved == SHIPPED_MODELS_DIR or SHIPPED_MODELS_DIR in resolved.parents


def check_model_output(path: str | Path, *, option: str = "--out", replace_shipped: bool = False
                       ) -> Path:
    """Check an ONNX output path; returns it.

    Raises:
        InputError: it does not end in ``.onnx``, or it is an existing shipped
            model and ``replace_shipped`` is off.
    """
    out = Path(path)
    if out.suffix != ".onnx":
        raise InputError(f"{option} {out}: an ONNX model file must end in .onnx")
    if out.is_file() and is_shipped_location(out) and not replace_shipped:
        raise InputError(f"{option} {out} is a model shipped with mer_edge: write elsewhere, or "
                         "pass --replace-shipped to overwrite it")
    return out
