"""Shared fixtures: where the third-party test material lives."""
from __future__ import annotations

from pathlib import Path

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
