"""``benchmarks/me_visibility.py``: an injected ME's own displacement, measured on a real bench."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from mer_edge._flow import ROI_NAMES, FlowEstimator
from mer_edge.data.injected import source_pairs

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
    pairs = list(source_pairs(split, videos, tmp_path))
    with_mes = [e for e in manifest["videos"] if not e.get("clean")
                and any(event["kind"] == "ME" for event in e["events"])]
    assert [pair.entry for pair in pairs] == with_mes
    for pair in pairs:
        found, skipped = visibility.measure_video(pair, flow)
        assert len(found) + skipped == len(pair.events("ME"))
        measured += found
        # --kind MaE measures only the macro-expressions, and the tiny bench injects none
        assert visibility.measure_video(pair, flow, "MaE") == ([], 0)
    assert not list(source_pairs(split, videos, tmp_path, kind="MaE"))
    assert measured, "the tiny bench's test split has an ME on a tracked face"
    for item in measured:
        # at the apex the bench frame differs from its source by the ME; at the onset it does not
        assert item.signal_px > 3 * item.floor_px and item.region in ROI_NAMES
        assert item.motion_p95_px > 0 and item.visible == (item.signal_px > item.motion_p95_px)
