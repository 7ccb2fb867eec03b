"""The interface every inference backend implements, and what backends share."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable, Mapping

import numpy as np

from .._errors import BackendError

__all__ = ["InferenceSession", "run_in_batches", "closed_error", "DEFAULT_MAX_BATCH"]

#: Largest batch (faces at once) a GPU engine is built for when nobody says:
#: ``export``'s TensorRT engines and the ONNX Runtime TensorRT profile.
DEFAULT_MAX_BATCH = 8


class InferenceSession(ABC):
    """A loaded model ready to run.

    Attributes:
        provider: the execution provider that actually runs the model, e.g.
            ``"CPUExecutionProvider"`` (reported, never guessed).
    """

    provider: str = "unknown"

    @property
    @abstractmethod
    def metadata(self) -> Mapping[str, str]:
        """The model's ``metadata_props`` (custom metadata map)."""

    @property
    @abstractmethod
    def input_shapes(self) -> dict[str, tuple[int | str | None, ...]]:
        """Input name -> shape as declared in the graph (dynamic dims as str/None)."""

    @property
    @abstractmethod
    def output_names(self) -> list[str]:
        """Graph output names, in order."""

    @abstractmethod
    def run(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Run the graph; returns the outputs in :attr:`output_names` order."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release native resources (idempotent)."""


def closed_error() -> BackendError:
    """The error of a session used after :meth:`InferenceSession.close`."""
    return BackendError("the inference session is closed")


def run_in_batches(run: Callable[[Mapping[str, np.ndarray]], list[np.ndarray]],
                   inputs: Mapping[str, np.ndarray], max_batch: int | None) -> list[np.ndarray]:
    """``run(inputs)`` on at most ``max_batch`` items (axis 0) at a time, outputs joined.

    A GPU engine is built for batches up to a maximum (its optimisation
    profile); a larger batch (more faces than that) runs as several.  Every
    output must have the batch on axis 0.  ``None`` runs everything at once.
    """
    batch = len(next(iter(inputs.values()))) if inputs else 0
    if max_batch is None or batch <= max_batch:
        return run(inputs)
    parts = [run({name: array[start:start + max_batch] for name, array in inputs.items()})
             for start in range(0, batch, max_batch)]
    return [np.concatenate(pieces, axis=0) for pieces in zip(*parts)]
