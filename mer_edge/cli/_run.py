"""``mer-edge run SOURCE``: spot micro-expressions in a camera, file, folder or stream.

SOURCE is a webcam index (``0``), a video file, a folder of images, an image,
an ``rtsp://``/``http://`` URL or a GStreamer pipeline (a string with ``!``).
Cameras and streams are live: read in the background, the oldest frames
dropped when processing falls behind (counted and printed at the end), and
the engine runs in ``"live"`` mode with a result callback.  Files and folders
run in ``"file"`` mode: every frame is processed, with a progress bar.

Outputs, all flushed as they are produced so nothing is lost on an error:
``--out`` events (``.jsonl`` or ``.csv``), ``--tracks`` one JSON line per
face per frame, ``--save-video`` the overlay, ``--show`` a window.
"""
from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import _still_check as still_check

_QUIT_KEYS = (ord("q"), ord("Q"), 27)
_WINDOW = "mer-edge"


def register(subparsers: Any) -> None:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run", help="spot and recognise micro-expressions in a video source",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="webcam index, video file, image folder, image, "
                                       "rtsp/http URL or GStreamer pipeline")
    io = parser.add_argument_group("outputs")
    io.add_argument("--out", metavar="EVENTS", help="write events to a .jsonl or .csv file")
    io.add_argument("--tracks", metavar="TRACKS", help="write face tracks to a .jsonl file")
    io.add_argument("--save-video", metavar="PATH", help="write the overlay video (.mp4/.avi)")
    io.add_argument("--show", action="store_true", help="show the overlay in a window (q quits)")
    io.add_argument("--quiet", action="store_true", help="do not print events as they happen")
    io.add_argument("--no-progress", action="store_true", help="no progress bar for files")
    src = parser.add_argument_group("source")
    src.add_argument("--fps", type=float, help="frame rate of an image folder, or override a "
                                               "file's (high-speed recordings)")
    src.add_argument("--live", action="store_true",
                     help="read a file as if it were a camera (paced, frames may drop)")
    src.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    eng = parser.add_argument_group("engine")
    eng.add_argument("--models", metavar="DIR",
                     help="folder with the spotting and recognition .onnx models")
    eng.add_argument("--spotter", metavar="PATH", help="spotting model (.onnx)")
    eng.add_argument("--recognizer", metavar="PATH", help="recognition model (.onnx)")
    eng.add_argument("--no-recognize", action="store_true", help="spotting only")
    eng.add_argument("--backend", default="onnxruntime",
                     help="onnxruntime, onnxruntime-cuda, onnxruntime-tensorrt or tensorrt")
    eng.add_argument("--allow-fallback", action="store_true",
                     help="let a GPU backend fall back to the CPU (reported)")
    eng.add_argument("--max-faces", type=int, default=4, help="most faces tracked at once")
    still_check.add_argument(eng)
    parser.set_defaults(handler=run)


def resolve_models(folder: str | None, spotter: str | None,
                   recognizer: str | None) -> tuple[str | None, str | None]:
    """Spotting and recognition model paths from ``--models`` and the explicit options.

    A model named with ``--spotter``/``--recognizer`` wins; otherwise the
    folder must hold exactly one ``.onnx`` file of that task (read from its
    metadata).  ``None`` means the shipped default.
    """
    from .._errors import InputError, ModelError
    from .._models import Model

    if folder is None:
        return spotter, recognizer
    directory = Path(folder)
    if not directory.is_dir():
        raise InputError(f"--models: no such folder {folder}")
    by_task: dict[str, list[str]] = {}
    for path in sorted(directory.glob("*.onnx")):
        model = Model(path)
        by_task.setdefault(model.info.task, []).append(str(path))
        model.close()
    chosen = []
    for task, explicit in (("spotting", spotter), ("recognition", recognizer)):
        if explicit is not None:
            chosen.append(explicit)
            continue
        found = by_task.get(task, [])
        if len(found) != 1:
            what = "no" if not found else f"{len(found)} ({', '.join(found)})"
            raise ModelError(f"--models {folder}: {what} {task} models; expected one "
                             f"(or name it with --{'spotter' if task == 'spotting' else 'recognizer'})")
        chosen.append(found[0])
    return chosen[0], chosen[1]


class _Session:
    """Everything done with each result: outputs, printing, overlay, window."""

    def __init__(self, args: argparse.Namespace, stack: ExitStack) -> None:
        self.args = args
        self.stack = stack
        self.image: np.ndarray | None = None
        self.events: list[Any] = []
        self.stop = False
        self.frames = 0
        self.event_writer: Any = None
        self.track_writer: Any = None
        self.video: Any = None
        self.renderer: Any = None
        self.echo: Callable[[str], None] = print

    def open_outputs(self, class_names: tuple[str, ...], fps: float, threshold: float) -> None:
        from .._overlay import OverlayRenderer
        from .._sinks import TrackWriter, VideoWriter, open_event_writer

        args = self.args
        if args.out:
            self.event_writer = self.stack.enter_context(open_event_writer(args.out, class_names))
        if args.tracks:
            self.track_writer = self.stack.enter_context(TrackWriter(args.tracks))
        if args.save_video:
            self.video = self.stack.enter_context(VideoWriter(args.save_video, fps))
        if args.save_video or args.show:
            self.renderer = OverlayRenderer(threshold=threshold)

    def on_result(self, result: Any) -> None:
        """Handle one :class:`FrameResult` (the live callback, or called per file frame)."""
        self.frames += 1
        if self.track_writer is not None:
            self.track_writer.write(result.faces)
        self.on_events(result.events)
        if self.renderer is not None and self.image is not None:
            overlay = self.renderer.draw(self.image, result.timestamp_ms, result.faces,
                                         result.events)
            if self.video is not None:
                self.video.write(overlay)
            if self.args.show:
                self._show(overlay)
        if self.args.max_frames is not None and self.frames >= self.args.max_frames:
            self.stop = True

    def on_events(self, events: list[Any]) -> None:
        for event in events:
            self.events.append(event)
            if self.event_writer is not None:
                self.event_writer.write(event)
            if not self.args.quiet:
                self.echo(describe_event(event))

    def _show(self, overlay: np.ndarray) -> None:
        import cv2

        try:
            cv2.imshow(_WINDOW, overlay)
            key = cv2.waitKey(1) & 0xFF
        except cv2.error as exc:
            from .._errors import BackendError

            raise BackendError(f"--show: OpenCV cannot open a window here ({exc.msg.strip()})") from None
        if key in _QUIT_KEYS:
            self.stop = True


def describe_event(event: Any) -> str:
    """One line for an event, as printed while running."""
    iv = event.interval
    return (f"event  track {iv.track_id}  {iv.kind:<3} {event.label:<9} score {iv.score:.2f}  "
            f"frames {iv.onset_frame}-{iv.apex_frame}-{iv.offset_frame}  "
            f"({iv.onset_ms / 1000:.2f}-{iv.offset_ms / 1000:.2f} s)")


def _check_arguments(args: argparse.Namespace) -> None:
    from .._errors import InputError
    from .._overlay import require_gui
    from .._sinks import VIDEO_CODECS

    if args.max_frames is not None and args.max_frames < 1:
        raise InputError(f"--max-frames must be >= 1, got {args.max_frames}")
    if args.max_faces < 1:
        raise InputError(f"--max-faces must be >= 1, got {args.max_faces}")
    if args.out and Path(args.out).suffix.lower() not in (".jsonl", ".json", ".ndjson", ".csv"):
        raise InputError(f"--out {args.out}: use a .jsonl or .csv file")
    if args.save_video and Path(args.save_video).suffix.lower() not in VIDEO_CODECS:
        raise InputError(f"--save-video {args.save_video}: use one of {sorted(VIDEO_CODECS)}")
    for option, value in (("--spotter", args.spotter), ("--recognizer", args.recognizer)):
        if value is not None and not Path(value).is_file():
            raise InputError(f"{option}: no such file {value}")
    if args.show:
        require_gui()


def run(args: argparse.Namespace) -> int:
    """Handler of ``mer-edge run``."""
    _check_arguments(args)
    from .._engine import Engine
    from .._options import EngineOptions
    from .._sources import open_source

    spotter, recognizer = resolve_models(args.models, args.spotter, args.recognizer)
    with ExitStack() as stack:
        frames = stack.enter_context(
            open_source(args.source, fps=args.fps, live=True if args.live else None))
        live = frames.is_live
        session = _Session(args, stack)
        options = EngineOptions(
            running_mode="live" if live else "file",
            result_callback=session.on_result if live else None,
            spotting_model=spotter, recognition_model=recognizer,
            recognize=not args.no_recognize, backend=args.backend,
            allow_fallback=args.allow_fallback, max_faces=args.max_faces,
            fps_hint=frames.fps,
            spotting_overrides=still_check.spotting_overrides(args))
        engine = stack.enter_context(Engine.from_options(options))
        recognition = engine.models.get("recognition")
        class_names = recognition.info.class_names if recognition is not None else ()
        session.open_outputs(class_names, frames.fps or 30.0, engine.spotting_params.min_score)
        if args.show:
            import cv2

            stack.callback(cv2.destroyAllWindows)
        bar = _progress(args, frames, live)
        if bar is not None:
            stack.callback(bar.close)
            session.echo = bar.write
        dropped_at_start = frames.dropped  # while the engine was loading
        for frame in frames:
            session.image = frame.image
            result = engine.process(frame.image, frame.timestamp_ms)
            if not live:  # in live mode the engine calls session.on_result itself
                session.on_result(result)
            if bar is not None:
                bar.update(1)
            if session.stop:
                break
        session.on_events(engine.flush())
        if bar is not None:
            bar.close()
            session.echo = print
        _summary(session, engine.stats(), frames, live, dropped_at_start)
    return 0


def _progress(args: argparse.Namespace, frames: Any, live: bool) -> Any:
    if live or args.no_progress:
        return None
    from tqdm import tqdm

    total = frames.frame_count
    if args.max_frames is not None:
        total = min(total, args.max_frames) if total else args.max_frames
    return tqdm(total=total, unit="frame", desc="mer-edge", leave=False, file=sys.stderr)


def _summary(session: _Session, stats: dict[str, Any], frames: Any, live: bool,
             dropped_at_start: int) -> None:
    kinds = [event.kind for event in session.events]
    faces = stats["faces"] / max(stats["frames"], 1)
    print(f"run: {stats['frames']} frames, {faces:.2f} faces/frame, {len(kinds)} events "
          f"({kinds.count('ME')} ME, {kinds.count('MaE')} MaE), {stats['fps']:.1f} fps processing")
    if stats["me_not_still"]:
        print(f"run: {stats['me_not_still']} short movements of a face that was already moving "
              f"were not reported as MEs (--no-still-check reports them)")
    if live:
        print(f"run: live source, {frames.dropped - dropped_at_start} frames dropped while "
              f"processing, {dropped_at_start} while starting ({frames.frames_read} read)")
    if frames.error:
        print(f"run: warning: the source stopped early: {frames.error}", file=sys.stderr)
    outputs = [(session.event_writer, "events"), (session.track_writer, "track rows"),
               (session.video, "video frames")]
    for writer, what in outputs:
        if writer is not None:
            print(f"run: {writer.count} {what} -> {writer.path}")
