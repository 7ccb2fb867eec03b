"""Calibrate a spotter's interval detection on validation videos.

The spotting score of a video does not depend on the detection parameters,
so the engine runs once per validation video and the detector is replayed
over the recorded scores for every parameter combination; the combination
with the best overall MEGC F1 (ties: best ME F1) is written into the model's
``detection`` metadata, where the engine picks it up.  Only validation
subjects are used: never the test split.

The grid covers the adaptive threshold, the score floor, smoothing, the
offset rule and how far the onset may walk back along the rise
(``rise_onset_ms``; ``None`` keeps the first frame above the threshold).  The
still-face check (``me_quiet_ratio``) is deliberately left at the engine's
default: its benefit is the false MEs it removes on faces with nothing
happening, which a validation F1 over labelled intervals cannot see.

    python -m export.calibrate mer_edge/models/NAME.onnx --bench bench/val

Torch-free: it needs the runtime and ``onnx`` only.
"""
from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import onnx

from mer_edge._modelmeta import METADATA_PREFIX
from mer_edge._options import EngineOptions
from mer_edge._spotting import IntervalDetector, SpottingParams
from mer_edge.data.synth import read_bench_split
from mer_edge.evaluation import BenchVideo, VideoRun, run_video, truth_from_interval
from mer_edge.metrics import spotting_scores

#: Parameter grid searched by default.
GRID: dict[str, Sequence[float | None]] = {
    "p": (0.2, 0.35, 0.5, 0.65, 0.8),
    "min_score": (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    "smooth_ms": (0.0, 70.0),
    "offset_lag": (0.25, 0.5),
    "rise_onset_ms": (None, 100.0, 200.0),
}


def replay(run: VideoRun, params: SpottingParams) -> list[tuple[str, int, int, str]]:
    """Intervals the detector finds in a recorded run with ``params``."""
    found = []
    frames = sorted(run.timestamps_ms)
    for track_id, scores in run.scores.items():
        detector = IntervalDetector(track_id, params)
        intervals = []
        for frame in frames:
            intervals += detector.update(frame, run.timestamps_ms[frame], scores.get(frame))
        intervals += detector.flush()
        found += [(run.video.video_id, iv.onset_frame, iv.offset_frame, iv.kind) for iv in intervals]
    return found


def search(runs: Sequence[VideoRun], truth: Sequence[tuple[str, int, int, str]], k_ms: float,
           grid: dict[str, Sequence[float | None]] = GRID
           ) -> tuple[dict[str, float | None], dict[str, Any]]:
    """Best parameters on the recorded runs and their scores."""
    best: tuple[tuple[float, float], dict[str, float | None], dict[str, Any]] | None = None
    names = sorted(grid)
    for values in itertools.product(*(grid[n] for n in names)):
        chosen = dict(zip(names, values))
        params = replace(SpottingParams(**chosen), k_ms=k_ms)
        predicted = [item for run in runs for item in replay(run, params)]
        scores = spotting_scores(truth, predicted)
        key = (scores["all"]["f1"], scores["ME"]["f1"])
        if best is None or key > best[0]:
            best = (key, chosen, scores)
    assert best is not None
    return best[1], best[2]


def record_runs(videos: Iterable[BenchVideo], options: EngineOptions) -> list[VideoRun]:
    return [run_video(video, options, keep_crops=False) for video in videos]


def write_detection(model_path: Path, detection: dict[str, float | None],
                    metrics: dict[str, Any]) -> None:
    """Store calibrated detection parameters (and val metrics) in the model's metadata."""
    model = onnx.load(str(model_path))
    props = {p.key: p.value for p in model.metadata_props}
    props[METADATA_PREFIX + "detection"] = json.dumps(detection, sort_keys=True)
    old_metrics = json.loads(props.get(METADATA_PREFIX + "metrics", "{}"))
    old_metrics["val_spotting"] = metrics
    props[METADATA_PREFIX + "metrics"] = json.dumps(old_metrics, sort_keys=True)
    del model.metadata_props[:]
    for key, value in sorted(props.items()):
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(model_path))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="spotting model (.onnx), updated in place")
    parser.add_argument("--bench", type=Path, action="append", required=True,
                        help="validation split folder(s), e.g. bench/val")
    args = parser.parse_args(argv)
    videos, truth = [], []
    for folder in args.bench:
        split = read_bench_split(folder)
        prefix = f"{folder}:"
        videos += [BenchVideo(prefix + v.clip, v.path, v.subject, v.clean) for v in split.videos]
        truth += [(prefix + t.video_id, t.onset, t.offset, t.kind)
                  for t in map(truth_from_interval, split.spotting)]
    options = EngineOptions(running_mode="file", spotting_model=str(args.model), recognize=False)
    runs = record_runs(videos, options)
    from mer_edge._models import Model

    k_ms = float(Model(args.model).info.window["k_ms"])
    detection, scores = search(runs, truth, k_ms)
    summary = {kind: {m: round(scores[kind][m], 4) for m in ("precision", "recall", "f1")}
               for kind in ("ME", "MaE", "all")}
    write_detection(args.model, detection, summary)
    print(json.dumps({"detection": detection, "val": summary}, sort_keys=True))


if __name__ == "__main__":
    main()
