"""The bench diagnostics of ``benchmarks/``, run on a real (tiny) bench.

``me_visibility.py``: an injected ME's own displacement; ``recognizers.py``:
recognizers on the observed and the injected movement, and on the still-face demo.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import mer_edge as me
from mer_edge._flow import ROI_NAMES, FlowEstimator
from mer_edge._models import MODELS_DIR, default_model_path
from mer_edge.data.schema import MEGC_CLASSES
from mer_edge.data.injected import source_pairs

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _script(name: str = "me_visibility"):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
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
        # the matched filter's signal is the whole pattern's norm: never below one region's mean
        assert item.matched_signal_px >= item.signal_px
        assert item.visible_to_matched_filter == (item.matched_signal_px > item.matched_motion_p95_px)
        # with the time course: an ME that moved has energy; the largest score bounds the 95th percentile
        assert item.course_signal > 0 and item.course_motion_max >= item.course_motion_p95
        assert item.visible_to_course_filter == (item.course_signal > item.course_motion_p95)


def test_recognizers_are_scored_on_observed_and_injected_movements(tiny_bench, videos, tmp_path):
    recognizers = _script("recognizers")
    splits = [tiny_bench / "val", tiny_bench / "test"]
    labelled = [event["category"] for split in splits
                for video in json.loads((split / "manifest.json").read_text())["videos"]
                for event in video["events"] if event["category"] in MEGC_CLASSES]
    models = [me.Model(default_model_path("recognition")),
              me.Model(MODELS_DIR / "moext_recognizer.onnx"),
              me.Model(default_model_path("recognition"))]  # one model twice: kept apart
    truth, predicted = recognizers.bench_predictions(models, splits, videos, tmp_path)
    assert truth == labelled and truth
    linear, moext, again = predicted
    assert again == linear and again is not linear
    assert len(linear["observed"]) == len(linear["injected"]) == len(truth)
    assert set(linear["observed"] + linear["injected"]) <= set(MEGC_CLASSES)
    # a two-frame grey+flow model has no input made of the injected flow alone
    assert len(moext["observed"]) == len(truth) and moext["injected"] == []


def test_demo_recognition_runs_on_a_given_portrait(shared_data):
    """``--demo-faces``: the demo MEs of another real face are found and named with MEGC classes."""
    recognizers = _script("recognizers")
    portrait = shared_data / "images" / "sample5.jpg"
    path = default_model_path("recognition")
    truth, labels = recognizers.demo_predictions([path], 1, [portrait])
    assert 1 <= len(truth) <= 4 and set(truth) <= set(MEGC_CLASSES)
    assert len(labels[str(path)]) == len(truth) and set(labels[str(path)]) <= set(MEGC_CLASSES)
