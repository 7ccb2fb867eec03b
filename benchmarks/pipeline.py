"""Speed and memory of the mer_edge pipeline on one video.

Usage::

    python benchmarks/pipeline.py [VIDEO] [--frames 300] [--backend onnxruntime] [--max-faces 4]

Without VIDEO it uses ``$MER_EDGE_VIDEOS/default.wmv``, else
``../shared/data/videos/default.wmv`` beside the checkout.

Decoding is excluded from every figure: the first ``--frames`` frames are
decoded into memory first (the decode time is reported on its own).  Then

1. the engine runs over them as ``mer-edge run`` does, ``Engine.run`` on a
   source that hands out the in-memory frames (``running_mode="file"``,
   ``prefetch_landmarks`` on: each frame's landmarks computed on a worker
   thread while the engine works on the frame before): the end-to-end fps;
2. the engine runs over them in push mode (``Engine.process`` in a loop,
   one frame at a time, as the C API and push-mode callers do): its fps,
   and the per-stage ms/frame of the engine's own telemetry (there ``face``
   is MediaPipe's own time; in pass 1 it is only the time waited for the
   worker, reported as ``ms_per_stage_run``);
3. the same :class:`FaceLandmarker` class with the same options runs alone:
   the MediaPipe-landmarks-only fps, the ceiling of a one-core pipeline.

The passes alternate ``--repeat`` times (default 3) and the fastest run of
each is reported, so a burst of load on a shared machine skews none.  Pass 1
overlaps two threads, so it gains only when a second core is free.

The last line printed is a JSON object with ``fps_end_to_end`` (pass 1),
``fps_push`` (pass 2), ``fps_landmarks_only`` (pass 3), ``faces`` (mean
faces per frame), ``ms_per_stage`` (pass 2, stage -> ms/frame),
``ms_per_stage_run`` (pass 1) and ``peak_rss_mb``, plus the run's context.

``peak_rss_mb`` is the process's peak resident memory minus the decoded
frames the benchmark itself holds in memory to keep decoding out of the
timings (a product reads frames one at a time); the raw process peak is
printed as ``process_peak_rss_mb``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

_REPO = Path(__file__).resolve().parents[1]


def _use_checkout() -> None:
    """Import mer_edge from this checkout when it is not installed (``pip install -e .``)."""
    import importlib.util

    if importlib.util.find_spec("mer_edge") is None:
        sys.path.insert(0, str(_REPO))


def default_video() -> Path:
    """``$MER_EDGE_VIDEOS/default.wmv``, else ``../shared/data/videos/default.wmv``."""
    folder = os.environ.get("MER_EDGE_VIDEOS")
    base = Path(folder) if folder else _REPO.parent / "shared" / "data" / "videos"
    return base / "default.wmv"


def decode(video: Path, limit: int) -> tuple[list[np.ndarray], list[float], float, float]:
    """The first ``limit`` frames, their timestamps, the decode ms/frame and the source fps."""
    from mer_edge._sources import open_source

    images: list[np.ndarray] = []
    stamps: list[float] = []
    started = time.perf_counter()
    with open_source(str(video)) as frames:
        fps = float(frames.fps or 0.0)
        for frame in frames:
            images.append(frame.image)
            stamps.append(float(frame.timestamp_ms))
            if len(images) >= limit:
                break
    elapsed = time.perf_counter() - started
    return images, stamps, 1000.0 * elapsed / max(len(images), 1), fps


def _monotonic(stamps: list[float]) -> list[float]:
    """Strictly increasing copies of the source timestamps (engine requirement)."""
    out: list[float] = []
    for stamp in stamps:
        out.append(stamp if not out or stamp > out[-1] else out[-1] + 1e-3)
    return out


def run_engine(images: list[np.ndarray], stamps: list[float], options: object) -> dict:
    """Push-mode pass: the engine's stats plus wall-clock fps over the whole loop."""
    import mer_edge as me

    events = 0
    with me.Engine.from_options(options, running_mode="push") as engine:
        started = time.perf_counter()
        for image, stamp in zip(images, _monotonic(stamps)):
            events += len(engine.process(image, stamp).events)
        events += len(engine.flush())
        wall = time.perf_counter() - started
        return _engine_pass(engine, wall, events)


def run_file(images: list[np.ndarray], stamps: list[float], options: object) -> dict:
    """``Engine.run`` pass (``mer-edge run``'s path) over the in-memory frames."""
    import mer_edge as me
    from mer_edge._sources import memory_source

    events = 0
    with me.Engine.from_options(options, running_mode="file") as engine:
        started = time.perf_counter()
        for result in engine.run(memory_source(images, stamps)):
            events += len(result.events)
        wall = time.perf_counter() - started
        return _engine_pass(engine, wall, events)


def _engine_pass(engine: object, wall: float, events: int) -> dict:
    """What a pass of ``engine`` reports: wall time, its stats, events and providers."""
    providers = {task: model.provider for task, model in engine.models.items()}
    return {"wall_s": wall, "stats": engine.stats(), "events": events, "providers": providers}


def run_landmarks(images: list[np.ndarray], max_faces: int, redetect_every: int) -> dict:
    """Landmarks-only pass with the engine's :class:`FaceLandmarker` class and options."""
    from mer_edge._frontend import FaceLandmarker

    faces = 0
    with FaceLandmarker(max_faces=max_faces, redetect_every=redetect_every) as landmarker:
        started = time.perf_counter()
        for image in images:
            faces += len(landmarker.detect(image))
        wall = time.perf_counter() - started
    return {"wall_s": wall, "faces": faces}


def peak_rss_mb() -> float:
    """Peak resident memory of this process (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video", nargs="?", help="video file (default: %(default)s)",
                        default=str(default_video()))
    parser.add_argument("--frames", type=int, default=300, help="frames decoded and timed")
    parser.add_argument("--backend", default="onnxruntime", help="inference backend")
    parser.add_argument("--max-faces", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3,
                        help="alternating runs of both passes; the fastest of each is reported")
    parser.add_argument("--warmup", type=int, default=5,
                        help="frames run through both passes first and not timed")
    args = parser.parse_args(argv)
    _use_checkout()

    import mer_edge as me

    video = Path(args.video)
    if not video.is_file():
        print(f"pipeline.py: error: no such video {video}", file=sys.stderr)
        return 2
    if args.frames < 1:
        print(f"pipeline.py: error: --frames must be >= 1, got {args.frames}", file=sys.stderr)
        return 2
    images, stamps, decode_ms, source_fps = decode(video, args.frames)
    if not images:
        print(f"pipeline.py: error: no frame could be decoded from {video}", file=sys.stderr)
        return 2
    options = me.EngineOptions(backend=args.backend, max_faces=args.max_faces)
    if args.warmup:
        run_landmarks(images[: args.warmup], options.max_faces, options.redetect_every)
    files, engines, marks = [], [], []
    for _ in range(max(1, args.repeat)):  # alternate so load changes hit every pass alike
        files.append(run_file(images, stamps, options))
        engines.append(run_engine(images, stamps, options))
        marks.append(run_landmarks(images, options.max_faces, options.redetect_every))
    file_run = min(files, key=lambda run: run["wall_s"])
    engine = min(engines, key=lambda run: run["wall_s"])
    landmarks = min(marks, key=lambda run: run["wall_s"])

    count = len(images)
    frames_mb = sum(image.nbytes for image in images) / (1024.0 * 1024.0)
    stats = engine["stats"]
    ms_per_stage = {k: round(v, 3) for k, v in stats["ms_per_stage"].items()}
    height, width = images[0].shape[:2]
    print(f"video     {video.name}: {width}x{height} @ {source_fps:.2f} fps, {count} frames "
          f"in memory (decode {decode_ms:.2f} ms/frame, excluded below)")
    print(f"platform  {platform.machine()} {platform.system()}, python {platform.python_version()}, "
          f"providers {engine['providers']}")
    ms_per_stage_run = {k: round(v, 3) for k, v in file_run["stats"]["ms_per_stage"].items()}
    print("stage         ms/frame push   run (face: waited for the worker)")
    for stage, ms in ms_per_stage.items():
        print(f"  {stage:<10} {ms:8.3f}   {ms_per_stage_run[stage]:8.3f}")
    fps_push = count / engine["wall_s"]
    fps_e2e = count / file_run["wall_s"]
    fps_lm = count / landmarks["wall_s"]
    print(f"  {'total':<10} {1000.0 / fps_push:8.3f}   {1000.0 / fps_e2e:8.3f}")
    print(f"end to end (Engine.run, landmarks prefetched): {fps_e2e:.1f} fps "
          f"({file_run['events']} events); push mode (Engine.process): {fps_push:.1f} fps "
          f"({engine['events']} events)")
    print(f"landmarks alone: {1000.0 / fps_lm:.3f} ms/frame -> {fps_lm:.1f} fps "
          f"({landmarks['faces'] / count:.2f} faces/frame)")
    summary = {
        "video": video.name,
        "frames": count,
        "fps_end_to_end": round(fps_e2e, 2),
        "fps_push": round(fps_push, 2),
        "fps_landmarks_only": round(fps_lm, 2),
        "faces": round(stats["faces"] / max(stats["frames"], 1), 3),
        "ms_per_stage": ms_per_stage,
        "ms_per_stage_run": ms_per_stage_run,
        "decode_ms_per_frame": round(decode_ms, 3),
        "peak_rss_mb": round(peak_rss_mb() - frames_mb, 1),
        "process_peak_rss_mb": round(peak_rss_mb(), 1),
        "backend": args.backend,
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
