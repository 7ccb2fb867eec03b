"""Recognizers on what the engine sees, on the injected movement alone, and on a still face.

    python benchmarks/recognizers.py BENCH/test [BENCH2/test ...] [--models A.onnx ...]
        [--demo-seeds 20 [--demo-faces IMAGE ...]] [--videos DIR] [--cache DIR]

For every labelled ME of the bench splits (MEGC classes), each recognizer
classifies:

* ``observed``: the onset->apex input, as the engine and the training code
  build it (``mer_edge.data.prepare.recognition_sample`` on the cached
  aligned tracks, so within a few samples of ``mer-edge eval``);
* ``injected``: the injected movement alone, i.e. the flow from the clean
  source crop to the bench crop at the apex (``mer_edge.data.injected``);
  only for single-step flow models, whose input that flow is.

The gap between the two is what the person's own motion costs; ``injected``
on its own says how good the classifier is.  ``--demo-seeds N`` also runs the
default engine with each recognizer on the built-in still-face demo clips of
seeds ``0..N-1`` and scores the MEs that every recognizer's run found
(``--demo-faces``: the clips animate those portraits, each with every seed,
instead of the built-in one).  One UF1/UAR/accuracy line per recognizer and
input.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

import mer_edge as me
from mer_edge._flow import FlowEstimator
from mer_edge._models import MODELS_DIR
from mer_edge.data.injected import source_pairs
from mer_edge.data.prepare import recognition_sample
from mer_edge.data.schema import MEGC_CLASSES, Interval
from mer_edge.data.synth.bench import default_videos_dir
from mer_edge.metrics import recognition_scores


def _label(model: me.Model, clip: np.ndarray) -> str:
    return model.info.class_names[int(np.argmax(model(clip[None])[0]))]


def _flow_kind(spec: "me.InputSpec") -> tuple[str, str]:
    """What makes two models' flows the same: the DIS preset and the compensation."""
    return spec.flow_preset, spec.flow_compensation


def bench_predictions(models: Sequence[me.Model], split_dirs: Sequence[Path], videos_dir: Path,
                      cache_dir: Path) -> tuple[list[str], list[dict[str, list[str]]]]:
    """True MEGC classes and, per model (in order) and input (``observed``/``injected``),
    predictions: two versions of one model, with the same name, are kept apart."""
    flows = {_flow_kind(m.info.input): FlowEstimator.for_input(m.info.input) for m in models}
    truth: list[str] = []
    predicted: list[dict[str, list[str]]] = [{"observed": [], "injected": []} for _ in models]
    for split_dir in split_dirs:
        for pair in source_pairs(split_dir, videos_dir, cache_dir):
            for event in pair.events("ME"):
                if (event.get("category") not in MEGC_CLASSES or pair.crops(event["apex"]) is None
                        or pair.crops(event["onset"]) is None):
                    continue
                truth.append(event["category"])
                interval = Interval("synth", pair.entry["subject"], pair.entry["clip"],
                                    event["onset"], event["apex"], event["offset"],
                                    float(pair.entry["fps"]))
                for model, names in zip(models, predicted):
                    spec = model.info.input
                    flow = flows[_flow_kind(spec)]
                    observed = recognition_sample(pair.bench, interval, spec, flow)  # type: ignore[arg-type]
                    names["observed"].append(_label(model, observed))
                    if spec.frames == 1 and set(spec.channels) <= {"flow_x", "flow_y", "flow_mag"}:
                        injected = pair.injected_input(event["apex"], spec, flow)
                        names["injected"].append(_label(model, injected[None]))  # type: ignore[index]
    return truth, predicted


def demo_predictions(model_paths: Sequence[Path], seeds: int, faces: Sequence[Path | None] = (None,)
                     ) -> tuple[list[str], dict[str, list[str]]]:
    """MEGC classes of the demo MEs every model's engine run found, and each model's labels.

    ``faces``: portraits to animate (None: the built-in one), each with every seed.
    """
    from mer_edge._demo import DemoConfig, build_demo_clip, match_events
    from mer_edge.data.synth import category_of

    truth: list[str] = []
    labels: dict[str, list[str]] = {str(path): [] for path in model_paths}
    for face, seed in ((face, seed) for face in faces for seed in range(seeds)):
        clip = build_demo_clip(DemoConfig(seed=seed), face=face)
        frames = list(clip)
        runs = {}
        for path in model_paths:
            with me.Engine.from_options(me.EngineOptions(recognition_model=str(path))) as engine:
                events = [e for _, stamp, frame in frames for e in engine.process(frame, stamp).events]
                events += engine.flush()
            runs[str(path)] = match_events(clip.events, events)[0]
        for index, event in enumerate(clip.events):
            if all(matches[index].found for matches in runs.values()):
                truth.append(category_of(event.recipe.emotion))
                for name, matches in runs.items():
                    labels[name].append(matches[index].detection.label)  # type: ignore[union-attr]
    return truth, labels


def _line(name: str, what: str, truth: list[str], labels: list[str]) -> str:
    scores = recognition_scores(truth, labels, MEGC_CLASSES)
    return (f"{name:28s} {what:9s} n={len(truth):3d} UF1 {scores['uf1']:.3f} "
            f"UAR {scores['uar']:.3f} accuracy {scores['accuracy']:.3f}")


def _display_names(models: Sequence[me.Model], paths: Sequence[Path]) -> list[str]:
    """Each model's name, with its file added where two models share a name (two versions)."""
    names = [model.info.name for model in models]
    return [f"{name} ({path})" if names.count(name) > 1 else name for name, path in zip(names, paths)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("splits", nargs="+", type=Path, help="bench split folders (e.g. bench/test)")
    parser.add_argument("--models", nargs="+", type=Path, default=None,
                        help="recognizers (.onnx); default: every shipped recognizer")
    parser.add_argument("--demo-seeds", type=int, default=0, help="also score demo seeds 0..N-1")
    parser.add_argument("--demo-faces", nargs="+", type=Path, default=[None], metavar="IMAGE",
                        help="portraits the demo clips animate (default: the built-in one)")
    parser.add_argument("--videos", type=Path, default=None,
                        help="folder of the source videos the bench was built from")
    parser.add_argument("--cache", type=Path, default=None, help="alignment cache folder")
    args = parser.parse_args()
    paths = args.models or sorted(MODELS_DIR.glob("*_recognizer.onnx"))
    models = [me.Model(path) for path in paths]
    videos_dir = args.videos or default_videos_dir()
    if videos_dir is None:
        parser.error("pass --videos DIR (the benches' source videos) or set MER_EDGE_VIDEOS")
    cache_dir = args.cache or Path(tempfile.mkdtemp(prefix="mer_edge_recognizers_"))
    truth, predicted = bench_predictions(models, args.splits, videos_dir, cache_dir)
    shown = _display_names(models, paths)
    for name, model_predictions in zip(shown, predicted):
        for what, labels in model_predictions.items():
            if labels:
                print(_line(name, what, truth, labels))
    if args.demo_seeds:
        demo_truth, demo_labels = demo_predictions(paths, args.demo_seeds, args.demo_faces)
        for name, path in zip(shown, paths):
            print(_line(name, "demo", demo_truth, demo_labels[str(path)]))


if __name__ == "__main__":
    main()
