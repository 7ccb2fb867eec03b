"""Shared fixtures: where the third-party test material lives, and helpers for child processes."""
from __future__ import annotations

import signal
from pathlib import Path
from typing import Callable

import numpy as np
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


@pytest.fixture(scope="session")
def pinned_detection() -> dict[str, float | None]:
    """``spotting_overrides`` pinning every interval-detection parameter to flowmag_spotter
    0.3.0's calibration (p 0.2 of the history's maximum, runs from 100 ms, still-face check
    0.35 over 1.5 s).

    For the tests of a mechanism that need a particular interval on a real video (an ME still
    open at a given frame, a rise the detector closes alone, an ME the still-face or the
    neutral check holds back), given as ``spotting_overrides`` or over the engine's
    ``SpottingParams``: with the parameters pinned, a re-calibration of the shipped spotter
    does not take their scenario away.
    """
    return {"min_score": 0.1, "p": 0.2, "peak_quantile": 1.0, "min_interval_ms": 100.0,
            "smooth_ms": 0.0, "offset_lag": 0.25, "rise_onset_ms": None,
            "me_quiet_ratio": 0.35, "me_quiet_ms": 1500.0}


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


@pytest.fixture(scope="session")
def neutral_crop(videos: Path) -> np.ndarray:
    """The engine's aligned crop of the first face of default.wmv (a real face)."""
    import cv2

    import mer_edge as me

    capture = cv2.VideoCapture(str(videos / "default.wmv"))
    ok, frame = capture.read()
    capture.release()
    assert ok
    crops: list[np.ndarray] = []
    with me.Engine.from_options(me.EngineOptions(recognize=False)) as engine:
        engine.add_crop_observer(lambda track, index, stamp, crop: crops.append(crop.copy()))
        engine.process(frame, 0.0)
    return crops[0]
