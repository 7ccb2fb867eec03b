"""One context-manager protocol for everything that holds native resources."""
from __future__ import annotations

from types import TracebackType
from typing import TypeVar

__all__ = ["Closeable"]

_Self = TypeVar("_Self", bound="Closeable")


class Closeable:
    """Base for objects with an idempotent :meth:`close`.

    Gives ``with`` support and a best-effort close when garbage collected
    (a finaliser never raises).
    """

    def close(self) -> None:  # pragma: no cover - overridden
        """Release resources; calling it again does nothing."""

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass
