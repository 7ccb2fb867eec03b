"""``benchmarks/me_visibility.py``: an injected ME's own displacement, measured on a real bench."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from mer_edge._flow import ROI_NAMES, FlowEstimator

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "me_visibility.py"


def _script():
    spec = importlib.util.spec_from_file_location("me_visibility", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_injected_me_stands_out_of_the_re_encoding_floor(tiny_bench, videos, tmp_path):
    visibility = _script()
    split = tiny_bench / "test"
    manifest = json.loads((split / "manifest.json").read_text())
    flow = FlowEstimator("ultrafast")
    measured = []
    for entry in manifest["videos"]:
        found, skipped = visibility.measure_video(entry, split, videos, tmp_path, flow)
        injected = sum(event["kind"] == "ME" for event in entry["events"])
        assert len(found) + skipped == injected
        measured += found
        # --kind MaE measures only the macro-expressions, and the tiny bench injects none
        assert visibility.measure_video(entry, split, videos, tmp_path, flow, "MaE") == ([], 0)
    assert measured, "the tiny bench's test split has an ME on a tracked face"
    for item in measured:
        # at the apex the bench frame differs from its source by the ME; at the onset it does not
        assert item.signal_px > 3 * item.floor_px and item.region in ROI_NAMES
        assert item.motion_p95_px > 0 and item.visible == (item.signal_px > item.motion_p95_px)
