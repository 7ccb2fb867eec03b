"""The interface every inference backend implements."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Mapping

import numpy as np

__all__ = ["InferenceSession"]


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
