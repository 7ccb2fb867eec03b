"""Shared fixtures: where the third-party test material lives, and helpers for child processes."""
from __future__ import annotations

import signal
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the checkout (skips when absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def videos(shared_data: Path) -> Path:
    return shared_data / "videos"


@pytest.fixture(scope="session")
def tiny_bench(videos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seconds-long semi-synthetic benchmark (``make-bench --tiny``), built once."""
    from mer_edge.data.synth import make_bench

    return make_bench(tmp_path_factory.mktemp("tiny_bench"), 3, videos_dir=videos, tiny=True)


def _default_sigint() -> None:
    """Give the calling process SIGINT's default handling back."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="session")
def interruptible() -> Callable[[], None]:
    """``preexec_fn`` for a child process that a test interrupts as Ctrl-C does (SIGINT).

    A suite started in the background (``pytest &``) runs with SIGINT ignored
    and its children inherit that, so Python installs no KeyboardInterrupt
    handler in them and the signal would be lost: this gives it back the
    default handling.
    """
    return _default_sigint
