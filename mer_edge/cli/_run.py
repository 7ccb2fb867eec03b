"""``mer-edge run SOURCE``: spot micro-expressions in a camera, file, folder or stream.

SOURCE is a webcam index (``0``), a video file, a folder of images, an image,
an ``rtsp://``/``http://`` URL or a GStreamer pipeline (a string with ``!``).
Cameras and streams are live: read in the background, the oldest frames
dropped when processing falls behind (counted and printed at the end), and
the engine runs in ``"live"`` mode with a result callback.  Files and folders
run in ``"file"`` mode: every frame is processed, with a progress bar.

Outputs, all flushed as they are produced so nothing is lost on an error:
``--out`` events (``.jsonl`` or ``.csv``), ``--tracks`` one JSON line per
face per frame, ``--save-video`` the overlay, ``--show`` a window.  No output
may be the source itself (or an image of a source folder) or another output.

Times: a file's are its presentation times; an image folder's are
``frame * 1000 / fps`` (30 fps unless ``--fps``).  A live source's
(cameras, streams, ``--live``) are the machine's monotonic clock at grab
(milliseconds, about the machine's uptime) in the ``--out``/``--tracks``
files; the event lines printed while running show seconds since the first
frame instead.

Exit status: 0; 1 when the source stopped early (an unreadable image or
frame, a video file well short of the frame count its container declares:
everything before it is written); 2 for an error; 130 when
interrupted (Ctrl-C: the open intervals and the summary are written first).  When the engine
fails mid-stream (a resolution change...), the events still open are
written and the summary printed before the error.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from . import EXIT_OK, EXIT_PARTIAL
from . import _checks as checks
from .._errors import InputError, MerEdgeError, reworded
from ._models import (TASK_OPTIONS, add_backend_arguments, add_macro_spotter_argument,
                      check_model_paths, models_by_task, one_model, report_providers)

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
                     help="folder with the spotting and recognition .onnx models "
                          "(.engine files with --backend tensorrt)")
    eng.add_argument("--spotter", metavar="PATH", help="spotting model (.onnx, or .engine)")
    eng.add_argument("--recognizer", metavar="PATH", help="recognition model (.onnx, or .engine)")
    add_macro_spotter_argument(eng)
    eng.add_argument("--no-recognize", action="store_true", help="spotting only")
    add_backend_arguments(eng)
    eng.add_argument("--max-faces", type=int, default=4, help="most faces tracked at once")
    checks.add_arguments(eng)
    parser.set_defaults(handler=run)


def resolve_models(folder: str | None, spotter: str | None, recognizer: str | None,
                   backend: str = "onnxruntime") -> tuple[str | None, str | None]:
    """Spotting and recognition model paths from ``--models`` and the explicit options.

    A model named with ``--spotter``/``--recognizer`` wins; otherwise the
    folder must hold exactly one model file of that task (read from its
    metadata): an ``.onnx`` file, or a ``.engine`` with ``--backend tensorrt``.
    ``None`` means the shipped default.
    """
    from .._models import model_suffix

    if folder is None:
        return spotter, recognizer
    directory = Path(folder)
    if not directory.is_dir():
        raise InputError(f"--models: no such folder {folder}")
    by_task = models_by_task(sorted(directory.glob("*" + model_suffix(backend))), backend)
    explicit = {"spotting": spotter, "recognition": recognizer}
    origin = f"--models {folder} (*{model_suffix(backend)} files)"
    chosen = {task: explicit[task] or one_model(task, by_task.get(task, []), origin,
                                                required=True)
              for task in TASK_OPTIONS}
    return chosen["spotting"], chosen["recognition"]


class _OutputError(InputError):
    """An output file could not be written (the message names its option and path)."""


@contextmanager
def _writing(option: str) -> Iterator[None]:
    """Prefix the error of an output writer with the option that named the output."""
    try:
        yield
    except MerEdgeError as exc:
        raise _OutputError(f"{option}: {exc}") from None


class _Session:
    """Everything done with each result: outputs, printing, overlay, window."""

    def __init__(self, args: argparse.Namespace, stack: ExitStack, *, live: bool) -> None:
        self.args = args
        self.live = live
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
        self.origin_ms: float | None = None
        """Time printed event lines count from: the first frame's for a live source, else 0."""

    def open_outputs(self, class_names: tuple[str, ...], fps: float, threshold: float) -> None:
        from .._overlay import OverlayRenderer
        from .._sinks import TrackWriter, VideoWriter, open_event_writer

        args = self.args
        if args.out:
            with _writing("--out"):
                self.event_writer = self.stack.enter_context(open_event_writer(args.out,
                                                                               class_names))
        if args.tracks:
            with _writing("--tracks"):
                self.track_writer = self.stack.enter_context(TrackWriter(args.tracks))
        if args.save_video:
            self.video = self.stack.enter_context(VideoWriter(args.save_video, fps))
        if args.save_video or args.show:
            self.renderer = OverlayRenderer(threshold=threshold)

    def on_result(self, result: Any) -> None:
        """Handle one :class:`FrameResult` (the live callback, or called per file frame)."""
        self.frames += 1
        if self.origin_ms is None:
            self.origin_ms = result.timestamp_ms if self.live else 0.0
        if self.track_writer is not None:
            with _writing("--tracks"):
                self.track_writer.write(result.faces)
        self.on_events(result.events)
        if self.renderer is not None and self.image is not None:
            overlay = self.renderer.draw(self.image, result.timestamp_ms, result.faces,
                                         result.events)
            if self.video is not None:
                with _writing("--save-video"):
                    self.video.write(overlay)
            if self.args.show:
                self._show(overlay)
        if self.args.max_frames is not None and self.frames >= self.args.max_frames:
            self.stop = True

    def on_events(self, events: list[Any]) -> None:
        for event in events:
            self.events.append(event)
            if self.event_writer is not None:
                with _writing("--out"):
                    self.event_writer.write(event)
            if not self.args.quiet:
                self.echo(describe_event(event, self.origin_ms or 0.0))

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


def describe_event(event: Any, origin_ms: float = 0.0) -> str:
    """One line for an event, as printed while running; times in s after ``origin_ms``."""
    iv = event.interval
    return (f"event  track {iv.track_id}  {iv.kind:<3} {event.label:<9} score {iv.score:.2f}  "
            f"frames {iv.onset_frame}-{iv.apex_frame}-{iv.offset_frame}  "
            f"({(iv.onset_ms - origin_ms) / 1000:.2f}-{(iv.offset_ms - origin_ms) / 1000:.2f} s)")


def _same_file(a: str, b: str) -> bool:
    """Whether paths ``a`` and ``b`` are one file (links followed; either may not exist yet)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def _check_output_paths(args: argparse.Namespace) -> None:
    """Refuse an output that would overwrite the source or another output."""
    from .._sources import IMAGE_EXTENSIONS

    outputs = [(option, value) for option, value in (
        ("--out", args.out), ("--tracks", args.tracks), ("--save-video", args.save_video))
        if value]
    source = args.source
    for index, (option, value) in enumerate(outputs):
        if os.path.isfile(source) and _same_file(value, source):
            raise InputError(f"{option} {value} is the source {source}; writing it would "
                             "destroy the input")
        if (os.path.isdir(source) and value.lower().endswith(IMAGE_EXTENSIONS)
                and _same_file(os.path.dirname(os.path.abspath(value)), source)):
            raise InputError(f"{option} {value} is an image of the source folder {source}; "
                             "writing it would destroy the input")
        for other, other_value in outputs[index + 1:]:
            if _same_file(value, other_value):
                raise InputError(f"{option} {value} and {other} {other_value} are the same file;"
                                 " give each output its own")


def _check_arguments(args: argparse.Namespace) -> None:
    from .._overlay import require_gui
    from .._sinks import VIDEO_CODECS

    if args.fps is not None and not (math.isfinite(args.fps) and args.fps > 0):
        raise InputError(f"--fps must be a positive number, got {args.fps:g}")
    if args.max_frames is not None and args.max_frames < 1:
        raise InputError(f"--max-frames must be >= 1, got {args.max_frames}")
    if args.max_faces < 1:
        raise InputError(f"--max-faces must be >= 1, got {args.max_faces}")
    if args.out and Path(args.out).suffix.lower() not in (".jsonl", ".json", ".ndjson", ".csv"):
        raise InputError(f"--out {args.out}: use a .jsonl or .csv file")
    if args.save_video and Path(args.save_video).suffix.lower() not in VIDEO_CODECS:
        raise InputError(f"--save-video {args.save_video}: use one of {sorted(VIDEO_CODECS)}")
    check_model_paths((("--spotter", args.spotter), ("--recognizer", args.recognizer),
                       ("--macro-spotter", args.macro_spotter)))
    _check_output_paths(args)
    if args.show:
        require_gui()


def run(args: argparse.Namespace) -> int:
    """Handler of ``mer-edge run``: 0, 1 when the source stopped early; raises on errors."""
    _check_arguments(args)
    from .._engine import Engine
    from .._options import EngineOptions
    from .._sources import DEFAULT_FPS, open_source

    spotter, recognizer = resolve_models(args.models, args.spotter, args.recognizer, args.backend)
    with ExitStack() as stack:
        frames = stack.enter_context(
            open_source(args.source, fps=args.fps, live=True if args.live else None))
        live = frames.is_live
        session = _Session(args, stack, live=live)
        options = EngineOptions(
            running_mode="live" if live else "file",
            result_callback=session.on_result if live else None,
            spotting_model=spotter, recognition_model=recognizer,
            macro_spotting_model=args.macro_spotter,
            recognize=not args.no_recognize, backend=args.backend,
            allow_fallback=args.allow_fallback, max_faces=args.max_faces,
            fps_hint=frames.fps,
            **checks.engine_options(args))
        engine = stack.enter_context(Engine.from_options(options))
        recognition = engine.models.get("recognition")
        class_names = recognition.info.class_names if recognition is not None else ()
        session.open_outputs(class_names, frames.fps or DEFAULT_FPS, engine.spotting_params.min_score)
        if args.show:
            import cv2

            stack.callback(cv2.destroyAllWindows)
        _note_assumed_fps(args, frames)
        bar = _progress(args, frames, live)
        if bar is not None:
            stack.callback(bar.close)
            session.echo = bar.write
        dropped_at_start = frames.dropped  # while the engine was loading
        failure = _feed(engine, frames, session, bar)
        try:
            session.on_events(engine.flush())  # the intervals still open, also after a failure
        except _OutputError:
            if failure is None:
                raise
            # the first failure (an engine error, Ctrl-C) is what the user must see
        if bar is not None:
            bar.close()
            session.echo = print
        _summary(session, engine.stats(), frames, live, dropped_at_start)
        report_providers("run", {task: model.provider for task, model in engine.models.items()},
                         args.backend)
    if failure is not None:
        raise failure
    return EXIT_PARTIAL if frames.error else EXIT_OK


def _feed(engine: Any, frames: Any, session: _Session, bar: Any) -> BaseException | None:
    """Every frame through the engine; what stopped it early, or None.

    The engine's error comes back naming the source and frame, Ctrl-C as
    KeyboardInterrupt, an output that cannot be written as its error: in each
    case the caller still flushes the open intervals to the outputs before
    raising it.
    """
    try:
        for frame in frames:
            session.image = frame.image
            try:
                result = _process(engine, frame)
            except _OutputError:
                raise
            except MerEdgeError as exc:  # the engine's own error stays reachable as __cause__
                return reworded(exc, prefix=f"{frames.name}, frame {frame.index}: ")
            if not frames.is_live:  # in live mode the engine calls session.on_result itself
                session.on_result(result)
            if bar is not None:
                bar.update(1)
            if session.stop:
                break
    except (KeyboardInterrupt, _OutputError) as stopped:  # the other outputs still get the rest
        return stopped
    return None


def _process(engine: Any, frame: Any) -> Any:
    """``engine.process`` on ``frame``; in live mode an error of ``session.on_result``
    (the engine's result callback) comes out as that method raised it, as in file mode."""
    from .._engine import ResultCallbackError

    try:
        return engine.process(frame.image, frame.timestamp_ms)
    except ResultCallbackError as exc:  # on_result had the result: nothing is lost
        raise exc.__cause__ or exc


def _note_assumed_fps(args: argparse.Namespace, frames: Any) -> None:
    """Say so when the frame rate (hence every time) is a default, not the source's."""
    from .._sources import DEFAULT_FPS

    if args.fps is not None or frames.is_live:
        return
    if os.path.isdir(args.source):
        what = f"image folder {args.source}"
    elif frames.fps is None:
        what = f"{args.source} states no frame rate"
    else:
        return
    print(f"run: {what}: {DEFAULT_FPS:g} fps assumed; --fps sets the frame rate",
          file=sys.stderr)


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
    if stats["lighting_changes"]:
        print(f"run: {stats['lighting_changes']} intervals over which the face's brightness changed "
              f"(a lamp, auto-exposure) were not reported (--no-lighting-check reports them)")
    if stats["me_still_displaced"]:
        print(f"run: {stats['me_still_displaced']} MEs after which the face stayed displaced "
              f"(a longer movement starting) were not reported (--no-neutral-check reports them)")
    if stats["followed_to_return"]:
        print(f"run: {stats['followed_to_return']} movements the face had not come back from "
              f"were followed to its return and reported whole (--no-follow reports their rise)")
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
