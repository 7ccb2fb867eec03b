"""The built-in demo: a clip with known micro-expressions, run through the engine.

The clip is made from the public-domain portrait shipped in the package
(``assets/astronaut.png``, NASA, Eileen Collins), or from a photo the user
gives (``face=``, ``mer-edge demo --face``), with nothing downloaded:

1. the face-mesh landmarks of the still photo are found once (its largest
   face is the sitter; any other face moves with it);
2. a few micro-expressions are scheduled at known frames (0.3-0.5 s long,
   at least ``gap_s`` apart, apex displacement 2-5 % of the inter-ocular
   distance) with AU combinations drawn per emotion;
3. every frame, the active micro-expression is injected into the photo by
   :class:`mer_edge.data.synth.Injector` (the same AU displacement fields,
   temporal profile and warping as the semi-synthetic benchmark);
4. the person (a soft ellipse around head and shoulders) is moved over a
   static, blurred copy of the scene by a smooth similarity transform (small
   translation, in-plane rotation and scale: head motion the engine must
   cancel), and Gaussian sensor noise is added.

:func:`run_demo` feeds the frames to an :class:`~mer_edge.Engine`, matches
its events to the truth with the MEGC rule (IoU >= 0.5,
:func:`mer_edge.metrics.spotting_scores`), and writes the overlay video and
the score timeline.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import cv2
import numpy as np

from ._errors import InputError, SourceError
from ._results import MicroExpression
from .data.synth import (EventStats, EventTiming, Injector, LandmarkTrack, SynthEvent,
                         VideoInfo, VideoLandmarks, sample_recipe, sample_timing)
from .metrics import interval_iou, spotting_scores

__all__ = ["DemoConfig", "DemoClip", "DemoMatch", "DemoReport", "DEMO_FACE",
           "build_demo_clip", "match_events", "format_table", "plot_timeline", "run_demo"]

#: The public-domain portrait the demo is made from.
DEMO_FACE = Path(__file__).resolve().parent / "assets" / "astronaut.png"
#: Emotions of the injected micro-expressions, cycled in a seed-dependent order.
_EMOTIONS = ("happiness", "surprise", "disgust", "repression")
_RIGHT_EYE, _LEFT_EYE = 33, 263
MATCHING_RULE = "MEGC: a truth is found when a detected ME interval has IoU >= 0.5 with it"


@dataclass(frozen=True)
class DemoConfig:
    """What the demo clip looks like.

    Attributes:
        seed: fixes the schedule, the AUs, the head motion and the noise.
        fps: frame rate, frames per second.
        size: ``(width, height)`` of the clip, pixels.
        events: number of micro-expressions.
        lead_s: still time before the first slot (the engine warms up).
        slot_s: each micro-expression lies in its own slot of this length.
        gap_s: least time from one offset to the next onset.
        duration_s: micro-expression length range, seconds.
        amplitude: apex displacement range, fraction of the inter-ocular distance.
        face_iod_px: inter-ocular distance of the face in the clip, pixels.
        translation_px, rotation_deg, scale: peak head motion.
        noise_sigma: sensor noise, grey levels (standard deviation).
    """

    seed: int = 0
    fps: float = 30.0
    size: tuple[int, int] = (640, 480)
    events: int = 4
    lead_s: float = 1.5
    slot_s: float = 2.8
    gap_s: float = 2.0
    duration_s: tuple[float, float] = (0.30, 0.50)
    amplitude: tuple[float, float] = (0.045, 0.05)
    face_iod_px: float = 95.0
    translation_px: float = 7.0
    rotation_deg: float = 1.5
    scale: float = 0.02
    noise_sigma: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.fps <= 1000:
            raise InputError(f"fps must be in (0, 1000], got {self.fps}")
        if self.events < 1:
            raise InputError(f"events must be >= 1, got {self.events}")
        if not 0.0 < self.amplitude[0] <= self.amplitude[1] <= 0.2:
            raise InputError(f"amplitude must be 0 < low <= high <= 0.2 IOD, got {self.amplitude}")
        if self.slot_s < self.gap_s + self.duration_s[1]:
            raise InputError(f"slot_s ({self.slot_s}) must hold gap_s ({self.gap_s}) plus the "
                             f"longest micro-expression ({self.duration_s[1]} s)")
        if self.size[0] < 64 or self.size[1] < 64:
            raise InputError(f"size must be at least 64x64, got {self.size}")

    @property
    def frames(self) -> int:
        """Length of the clip in frames."""
        return int(round((self.lead_s + self.events * self.slot_s) * self.fps))


#: Least inter-ocular distance, in the photo's pixels, of a face the demo animates.
MIN_FACE_IOD_PX = 24.0


def load_demo_face(path: str | os.PathLike | None = None) -> np.ndarray:
    """A portrait as ``(H, W, 3) uint8`` BGR: ``path``, or the built-in one.

    A file's EXIF orientation is applied (phone photos stand upright).
    """
    source = DEMO_FACE if path is None else Path(path)
    if path is not None and not source.is_file():
        what = "is a folder, not an image" if source.is_dir() else "does not exist"
        raise SourceError(f"demo face {source} {what}")
    image = cv2.imread(os.fspath(source), cv2.IMREAD_COLOR)
    if image is None:
        if path is None:
            raise SourceError(f"the demo face {DEMO_FACE} is missing or unreadable; reinstall mer_edge")
        raise SourceError(f"demo face {source}: not a readable image file (JPEG, PNG, ...)")
    return image


def _eye_distance(landmarks: np.ndarray) -> float:
    return float(np.hypot(*(landmarks[_LEFT_EYE] - landmarks[_RIGHT_EYE])))


def find_faces(image: np.ndarray, source: str | os.PathLike = DEMO_FACE) -> list[np.ndarray]:
    """``(468, 2)`` pixel landmarks of every face in a still image, the largest first.

    The largest is the one the demo animates and injects into; the others
    move with it (:class:`DemoClip`), so that none is torn by its mask.

    Raises:
        SourceError: no face in ``source``, or the largest too small to animate
            (inter-ocular distance under :data:`MIN_FACE_IOD_PX`).
    """
    from ._frontend import FaceLandmarker

    with FaceLandmarker(max_faces=4) as landmarker:
        faces = landmarker.detect(image)
    if not faces:
        raise SourceError(f"no face found in the demo image {source}: use a frontal portrait")
    found = sorted((face.landmarks[:468] for face in faces), key=_eye_distance, reverse=True)
    if _eye_distance(found[0]) < MIN_FACE_IOD_PX:
        raise SourceError(f"the face in the demo image {source} is too small: its eyes are "
                          f"{_eye_distance(found[0]):.0f} px apart, the demo needs at least "
                          f"{MIN_FACE_IOD_PX:.0f}; crop the photo closer to the face")
    return found


def find_face(image: np.ndarray, source: str | os.PathLike = DEMO_FACE) -> np.ndarray:
    """``(468, 2)`` pixel landmarks of the largest face in a still image (:func:`find_faces`)."""
    return find_faces(image, source)[0]


def load_portrait(face: str | os.PathLike | None = None
                  ) -> tuple[np.ndarray, Path, list[np.ndarray]]:
    """A portrait to animate: its pixels, its path and its faces (:func:`find_faces`).

    ``face`` None is the built-in portrait, :data:`DEMO_FACE`.
    """
    source = DEMO_FACE if face is None else Path(face)
    photo = load_demo_face(face)
    return photo, source, find_faces(photo, source)


def _schedule(config: DemoConfig, rng: np.random.Generator) -> list[SynthEvent]:
    """The micro-expressions: one per slot, randomly placed inside it."""
    stats = EventStats(me_duration_s=config.duration_s, me_amplitude=config.amplitude)
    emotions = [_EMOTIONS[i] for i in rng.permutation(len(_EMOTIONS))]
    events = []
    for slot in range(config.events):
        length, rise = sample_timing(rng, "ME", config.fps, stats)
        start = config.lead_s + slot * config.slot_s
        room = config.slot_s - config.gap_s - length / config.fps
        onset = int(round((start + rng.uniform(0.0, max(room, 0.0))) * config.fps))
        timing = EventTiming(onset, onset + rise, onset + length - 1)
        recipe = sample_recipe(rng, {emotions[slot % len(emotions)]: 1.0})
        amplitude = float(rng.uniform(*config.amplitude))
        events.append(SynthEvent(timing, "ME", recipe, amplitude, track_id=0))
    return events


def _similarity(center: tuple[float, float], angle_deg: float, scale: float,
                shift: tuple[float, float]) -> np.ndarray:
    """``3x3`` rotation/scale about ``center`` followed by a shift."""
    matrix = np.eye(3)
    matrix[:2] = cv2.getRotationMatrix2D(center, angle_deg, scale)
    matrix[0, 2] += shift[0]
    matrix[1, 2] += shift[1]
    return matrix


def _person_mask(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """``(height, width)`` soft ellipse over one face's head and shoulders, in photo pixels."""
    eyes = (landmarks[_RIGHT_EYE] + landmarks[_LEFT_EYE]) / 2
    iod = _eye_distance(landmarks)
    mask = np.zeros((height, width), np.float32)
    centre = (int(round(eyes[0])), int(round(eyes[1] + 1.1 * iod)))
    cv2.ellipse(mask, centre, (int(2.3 * iod), int(3.0 * iod)), 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(mask, (0, 0), 0.25 * iod)


class DemoClip:
    """The demo frames, rendered on demand (nothing is kept in memory).

    Built by :func:`build_demo_clip`.  ``events`` is the ground truth:
    0-based frames, ``onset``/``offset`` the last/first frames at rest.
    ``frame_count`` (default ``config.frames``) sets the length of a clip
    built without the demo's schedule (:mod:`mer_edge._portrait_video`).
    ``other_faces`` are the landmarks of the photo's other faces: each gets
    the sitter's ellipse too and moves with the sitter, where the sitter's
    ellipse alone would cut through it (half moving, half static: a face
    moving in a way no real head does, with nothing injected).
    """

    def __init__(self, config: DemoConfig, photo: np.ndarray, landmarks: np.ndarray,
                 events: Sequence[SynthEvent], rng: np.random.Generator,
                 face: Path = DEMO_FACE, frame_count: int | None = None, *,
                 other_faces: Sequence[np.ndarray] = ()) -> None:
        self.config = config
        self.events = tuple(events)
        self.fps = config.fps
        self.frame_count = config.frames if frame_count is None else frame_count
        if self.frame_count < 1:
            raise InputError(f"a clip needs at least one frame, got {self.frame_count}")
        self.face = face
        self._photo = photo
        height, width = photo.shape[:2]
        frames = self.frame_count
        track = LandmarkTrack(0, np.repeat(landmarks[None].astype(np.float32), frames, 0),
                              np.ones(frames, dtype=bool))
        info = VideoInfo(face, config.fps, frames, width, height)
        self._injector = Injector(VideoLandmarks(info, 0, frames, (track,)), self.events)
        self._noise_seed = int(rng.integers(2 ** 31))
        self._motion = rng.uniform(0.0, 2 * math.pi, size=(4, 2))
        self._rates = rng.uniform(0.12, 0.35, size=(4, 2))
        self._layout(landmarks, width, height)
        self._mask = np.maximum.reduce([_person_mask(person, width, height)
                                        for person in (landmarks, *other_faces)])

    def _layout(self, landmarks: np.ndarray, width: int, height: int) -> None:
        """Place the face in the clip; build the static background."""
        out_w, out_h = self.config.size
        eyes = (landmarks[_RIGHT_EYE] + landmarks[_LEFT_EYE]) / 2
        iod = _eye_distance(landmarks)
        scale = self.config.face_iod_px / iod
        self._anchor = (out_w / 2.0, out_h * 0.38)  # where the eye centre sits
        self._base = np.array([[scale, 0, self._anchor[0] - scale * eyes[0]],
                               [0, scale, self._anchor[1] - scale * eyes[1]], [0, 0, 1]])
        # Beyond the photo's borders the edge pixels are stretched: mirroring the photo
        # there put copies of a narrow portrait's face beside it, faces the engine tracked.
        scene = cv2.warpAffine(self._photo, self._base[:2], (out_w, out_h),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        self._background = (cv2.GaussianBlur(scene, (0, 0), 0.08 * self.config.face_iod_px)
                            .astype(np.float32) * np.float32(0.8))

    def head_transform(self, index: int) -> np.ndarray:
        """``2x3`` photo-to-clip similarity at frame ``index`` (smooth head motion)."""
        t = index / self.fps
        waves = np.sin(2 * math.pi * self._rates * t + self._motion).mean(axis=1)  # (4,) in [-1, 1]
        cfg = self.config
        motion = _similarity(self._anchor, cfg.rotation_deg * waves[0], 1.0 + cfg.scale * waves[1],
                             (cfg.translation_px * waves[2], 0.6 * cfg.translation_px * waves[3]))
        return (motion @ self._base)[:2]

    def truth_at(self, index: int) -> SynthEvent | None:
        """The micro-expression moving the face at frame ``index``, if any."""
        return self._injector.active(index)

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as ``(H, W, 3) uint8`` BGR (the same pixels every call)."""
        if not 0 <= index < self.frame_count:
            raise InputError(f"frame index must be in [0, {self.frame_count}), got {index}")
        size = self.config.size
        face = self._injector.render(index, self._photo)
        transform = self.head_transform(index)
        person = cv2.warpAffine(face, transform, size, flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT).astype(np.float32)
        alpha = cv2.warpAffine(self._mask, transform, size, flags=cv2.INTER_LINEAR)[..., None]
        image = self._background + alpha * (person - self._background)
        noise = np.random.default_rng((self._noise_seed, index))
        image += noise.standard_normal(image.shape, dtype=np.float32) * np.float32(self.config.noise_sigma)
        return np.clip(np.rint(image), 0, 255).astype(np.uint8)

    def __iter__(self) -> Iterator[tuple[int, float, np.ndarray]]:
        """``(index, timestamp_ms, image)`` for every frame."""
        for index in range(self.frame_count):
            yield index, index * 1000.0 / self.fps, self.frame(index)


def build_demo_clip(config: DemoConfig | None = None, *,
                    face: str | os.PathLike | None = None) -> DemoClip:
    """The demo clip for ``config`` (default: :class:`DemoConfig`).

    Args:
        config: the clip's schedule, motion and noise.
        face: a portrait to animate (its largest face); default the
            built-in public-domain one, :data:`DEMO_FACE`.
    """
    config = config or DemoConfig()
    rng = np.random.default_rng(config.seed)
    photo, source, (landmarks, *others) = load_portrait(face)
    return DemoClip(config, photo, landmarks, _schedule(config, rng), rng, source,
                    other_faces=others)


# -- scoring --------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoMatch:
    """One injected micro-expression and the detection closest to it (best IoU)."""

    truth: SynthEvent
    detection: MicroExpression | None
    iou: float
    found: bool


@dataclass
class DemoReport:
    """The outcome of :func:`run_demo`."""

    config: DemoConfig
    matches: list[DemoMatch]
    found: int
    detections: list[MicroExpression]
    false_positives: list[MicroExpression]
    scores: np.ndarray  # (frames,) best face score per frame, nan without one
    threshold: float
    files: dict[str, Path] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.matches)

    def last_line(self) -> str:
        return f"demo: found {self.found}/{self.total} injected micro-expressions"


def match_events(truth: Sequence[SynthEvent], detections: Sequence[MicroExpression]
                 ) -> tuple[list[DemoMatch], int, list[MicroExpression]]:
    """Match detections to the truth; returns per-truth matches, the count found
    (:func:`~mer_edge.metrics.spotting_scores` ME true positives) and the detections
    that overlap no truth interval."""
    truth_items = [("demo", t.timing.onset, t.timing.offset, t.kind) for t in truth]
    pred_items = [("demo", d.interval.onset_frame, d.interval.offset_frame, d.kind)
                  for d in detections]
    found = int(spotting_scores(truth_items, pred_items)["ME"]["tp"])
    matches = []
    for item in truth:
        best, best_iou = None, 0.0
        for detection in detections:
            iv = detection.interval
            iou = interval_iou(item.timing.onset, item.timing.offset, iv.onset_frame, iv.offset_frame)
            if iou > best_iou:
                best, best_iou = detection, iou
        hit = best is not None and best_iou >= 0.5 and best.kind == item.kind
        matches.append(DemoMatch(item, best, best_iou, hit))
    matched = {id(m.detection) for m in matches if m.detection is not None}
    extra = [d for d in detections if id(d) not in matched]
    return matches, found, extra


def format_table(report: DemoReport) -> str:
    """The truth-versus-detection table printed by ``mer-edge demo``."""
    fps = report.config.fps
    lines = [f"matching rule: {MATCHING_RULE} (mer_edge.metrics.spotting_scores)",
             f"{'#':>2}  {'AUs':<7} {'emotion':<10} {'truth on-apex-off':<19} {'time (s)':<11} "
             f"{'detected on-apex-off':<21} {'IoU':>4}  {'type':<4} {'label':<9} {'score':>5}  found"]
    for number, match in enumerate(report.matches, 1):
        t = match.truth.timing
        truth = f"{t.onset}-{t.apex}-{t.offset}"
        when = f"{t.onset / fps:.2f}-{t.offset / fps:.2f}"
        det = match.detection
        if det is None:
            detected, kind, label, score = "-", "-", "-", "-"
        else:
            iv = det.interval
            detected = f"{iv.onset_frame}-{iv.apex_frame}-{iv.offset_frame}"
            kind, label, score = iv.kind, det.label, f"{iv.score:.2f}"
        lines.append(f"{number:>2}  {match.truth.aus_text:<7} {match.truth.recipe.emotion:<10} "
                     f"{truth:<19} {when:<11} {detected:<21} {match.iou:>4.2f}  {kind:<4} "
                     f"{label:<9} {score:>5}  {'yes' if match.found else 'no'}")
    for det in report.false_positives:
        iv = det.interval
        lines.append(f"{'+':>2}  {'-':<7} {'(none)':<10} {'-':<19} "
                     f"{iv.onset_ms / 1000:.2f}-{iv.offset_ms / 1000:.2f}{'':<1} "
                     f"{f'{iv.onset_frame}-{iv.apex_frame}-{iv.offset_frame}':<21} {'':>4}  "
                     f"{iv.kind:<4} {det.label:<9} {iv.score:>5.2f}  false positive")
    return "\n".join(lines)


def plot_timeline(path: str | os.PathLike, report: DemoReport) -> Path:
    """Score per frame, truth intervals shaded, detections marked; written as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fps = report.config.fps
    figure = Figure(figsize=(12, 3.4), dpi=100)
    FigureCanvasAgg(figure)  # the Agg backend, set on this figure only (no global state)
    axis = figure.add_subplot(1, 1, 1)
    seconds = np.arange(report.scores.size) / fps
    axis.plot(seconds, report.scores, lw=1.0, color="tab:blue", label="spotting score")
    axis.axhline(report.threshold, color="grey", ls="--", lw=0.8, label="score floor")
    for number, match in enumerate(report.matches, 1):
        t = match.truth.timing
        axis.axvspan(t.onset / fps, t.offset / fps, color="tab:green", alpha=0.25,
                     label="injected ME" if number == 1 else None)
        axis.text((t.onset + t.offset) / 2 / fps, 1.02, f"{number}: {match.truth.aus_text}",
                  ha="center", va="bottom", fontsize=8, transform=axis.get_xaxis_transform())
    for index, det in enumerate(report.detections):
        iv = det.interval
        color = "tab:red" if iv.kind == "ME" else "tab:purple"
        axis.axvspan(iv.onset_ms / 1000, iv.offset_ms / 1000, ymin=0.0, ymax=0.06, color=color,
                     label="detection" if index == 0 else None)
        axis.plot([iv.apex_ms / 1000], [iv.score], marker="v", color=color)
    axis.set_xlim(0, max(seconds[-1] if seconds.size else 1.0, 1.0))
    axis.set_ylim(0, 1)
    axis.set_xlabel("time (s)")
    axis.set_ylabel("score")
    axis.set_title(report.last_line(), fontsize=10, pad=16)
    axis.legend(loc="upper right", fontsize=8, ncol=4)
    figure.tight_layout()
    target = Path(path)
    figure.savefig(target)
    return target


def _truth_banner(canvas: np.ndarray, event: SynthEvent | None) -> None:
    from ._overlay import draw_label

    if event is not None:
        draw_label(canvas, f"TRUTH: ME {event.recipe.emotion} AU {event.aus_text}",
                   (canvas.shape[1], 24), (90, 255, 90), 0.55)


def run_demo(config: DemoConfig | DemoClip | None = None, *, out_dir: str | os.PathLike = "mer_edge_demo",
             video: bool = True, plot: bool = True, engine_options: Any = None,
             progress: Callable[[int, int], None] | None = None,
             face: str | os.PathLike | None = None) -> DemoReport:
    """Build the demo clip, run the engine on it and score what it finds.

    Args:
        config: the clip's config (default :class:`DemoConfig`), or a clip
            already built by :func:`build_demo_clip` (then ``face`` must be
            None).
        out_dir: folder for ``demo_overlay.mp4`` (or ``.avi`` where no MPEG-4
            encoder exists), ``timeline.png`` and ``events.jsonl``; created.
        video: write the overlay video.
        plot: write the timeline plot.
        engine_options: :class:`~mer_edge.EngineOptions` in ``"push"`` mode
            (default: the shipped models).
        progress: called with ``(frames done, total)``.
        face: a portrait to animate instead of the built-in one
            (:func:`build_demo_clip`).
    """
    from contextlib import ExitStack

    from ._engine import Engine
    from ._options import EngineOptions
    from ._overlay import OverlayRenderer
    from ._sinks import JsonlEventWriter, open_first_video_writer

    if isinstance(config, DemoClip):
        if face is not None:
            raise InputError("run_demo: pass face= to build_demo_clip, not with a built clip")
        clip = config
    else:
        clip = build_demo_clip(config, face=face)
    config = clip.config
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    scores = np.full(clip.frame_count, np.nan)
    detections: list[MicroExpression] = []
    with ExitStack() as stack:
        engine = stack.enter_context(Engine.from_options(engine_options or EngineOptions(),
                                                         fps_hint=config.fps))
        events_file = stack.enter_context(JsonlEventWriter(folder / "events.jsonl"))
        files["events"] = events_file.path
        writer = renderer = None
        if video:
            writer = stack.enter_context(open_first_video_writer(
                [folder / "demo_overlay.mp4", folder / "demo_overlay.avi"], config.fps, config.size))
            renderer = OverlayRenderer(threshold=engine.spotting_params.min_score)
            files["video"] = writer.path
        for index, stamp, image in clip:
            result = engine.process(image, stamp)
            found = [face.score for face in result.faces if not math.isnan(face.score)]
            scores[index] = max(found) if found else np.nan
            detections.extend(result.events)
            events_file.write_all(result.events)
            if writer is not None and renderer is not None:
                canvas = renderer.draw(image, stamp, result.faces, result.events)
                _truth_banner(canvas, clip.truth_at(index))
                writer.write(canvas)
            if progress is not None:
                progress(index + 1, clip.frame_count)
        tail = engine.flush()
        detections.extend(tail)
        events_file.write_all(tail)
        threshold = engine.spotting_params.min_score
        stats = engine.stats()
        models = {task: f"{m.info.name} {m.info.version}" + (" (placeholder)" if m.info.placeholder else "")
                  for task, m in engine.models.items()}
    matches, found_count, extra = match_events(clip.events, detections)
    report = DemoReport(config, matches, found_count, detections, extra, scores, threshold,
                        files, stats, models)
    if plot:
        files["timeline"] = plot_timeline(folder / "timeline.png", report)
    return report
