"""Planning synthetic movements on a video and rendering them frame by frame.

:func:`plan_events` places micro- and macro-expressions on the tracked faces
of a video segment: only where one face is seen, roughly frontal and large
enough for the whole movement, never overlapping, at least ``gap_s`` apart
and away from the ends.  Everything it draws comes from the caller's numpy
``Generator``, so a seed fixes the plan.

:class:`Injector` then warps each frame of the clean video by the field of
the movement active at that frame (if any), following the face's smoothed
landmarks.  Frames without an active movement are returned unchanged.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._errors import InputError
from ._facs import controls_for, recipe_text
from ._field import SharpnessCompensator, WarpField, apply_field, build_field, skin_mask
from ._landmarks import LandmarkTrack, VideoLandmarks
from ._recipes import Recipe, sample_recipe
from ._timing import EventStats, EventTiming, sample_amplitude, sample_timing, temporal_profile

__all__ = ["SynthEvent", "plan_events", "Injector", "MIN_IOD_PX"]

#: Faces with a smaller outer-eye-corner distance (pixels) get no movement.
MIN_IOD_PX = 40.0
#: A planned field whose Jacobian falls below this is weakened (no skin folds).
_MIN_JACOBIAN = 0.35
_PLACEMENT_TRIES = 4


@dataclass(frozen=True)
class SynthEvent:
    """One injected movement.

    Attributes:
        timing: onset / apex / offset, 0-based frames of the video segment.
        kind: ``"ME"`` or ``"MaE"``.
        recipe: the AUs and the labels they imply.
        amplitude: largest displacement at the apex, IOD units.
        track_id: the face (tracker id) that moves.
    """

    timing: EventTiming
    kind: str
    recipe: Recipe
    amplitude: float
    track_id: int

    def __post_init__(self) -> None:
        if self.kind not in ("ME", "MaE"):
            raise InputError(f"kind: expected 'ME' or 'MaE', got {self.kind!r}")
        if not (np.isfinite(self.amplitude) and self.amplitude > 0):
            raise InputError(f"amplitude: expected > 0 IOD, got {self.amplitude!r}")

    @property
    def aus_text(self) -> str:
        """The AU cell as the sheets write it (``"4+L12"``)."""
        return recipe_text(self.recipe.aus)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description with 0-based frames."""
        return {"onset": self.timing.onset, "apex": self.timing.apex,
                "offset": self.timing.offset, "kind": self.kind, "aus": self.aus_text,
                "emotion": self.recipe.emotion, "category": self.recipe.category,
                "amplitude_iod": round(self.amplitude, 5), "track_id": self.track_id}


def _usable(track: LandmarkTrack, min_iod: float, size: tuple[int, int]) -> np.ndarray:
    """Frames where the face is seen, roughly frontal, large enough and inside the frame."""
    marks = np.nan_to_num(track.landmarks, nan=-1.0)
    inside = ((marks >= 0).all(axis=(1, 2)) & (marks[..., 0] < size[0]).all(axis=1)
              & (marks[..., 1] < size[1]).all(axis=1))
    return track.frontal() & inside & (np.nan_to_num(track.iod(), nan=0.0) >= min_iod)


def _window_ok(mask: np.ndarray, length: int) -> np.ndarray:
    """``ok[t]``: ``mask[t:t+length]`` is all True (for every t with a full window)."""
    sums = np.concatenate([[0], np.cumsum(mask.astype(np.int64))])
    return (sums[length:] - sums[:-length]) == length


def _safe_amplitude(track: LandmarkTrack, recipe: Recipe, apex: int, amplitude: float,
                    size: tuple[int, int]) -> float:
    """Weaken *amplitude* until the apex field does not fold the skin."""
    controls = controls_for(recipe.aus)
    for _ in range(12):
        field = build_field(track.landmarks[apex], controls, size, amplitude)
        if field.min_jacobian() >= _MIN_JACOBIAN:
            break
        amplitude *= 0.85
    return amplitude


def plan_events(video: VideoLandmarks, rng: np.random.Generator,
                stats: EventStats | None = None, *,
                emotion_weights: Mapping[str, float] | None = None,
                min_iod: float = MIN_IOD_PX, min_micro: int = 1) -> list[SynthEvent]:
    """Place movements on the faces of *video* (see the module docstring).

    A face is usable where it is seen, roughly frontal
    (:meth:`~._landmarks.LandmarkTrack.frontal`), inside the frame and has an
    IOD of at least *min_iod* pixels.  The number of micro- (macro-)
    expressions is ``me_per_20s`` (``mae_per_20s``) per 20 s of frames where
    some face is usable, at least *min_micro* when any fits.  Returns the
    events sorted by onset (possibly empty: no usable face).
    """
    stats = EventStats() if stats is None else stats
    fps = video.info.fps
    total = video.frames
    size = (video.info.width, video.info.height)
    edge = int(np.ceil(stats.edge_s * fps))
    gap = int(np.ceil(stats.gap_s * fps))
    usable = {track.track_id: _usable(track, min_iod, size) for track in video.tracks}
    for mask in usable.values():
        mask[:edge] = False
        mask[max(total - edge, 0):] = False
    seconds = (np.any(list(usable.values()), axis=0).sum() / fps) if usable else 0.0
    n_micro = int(round(seconds / 20.0 * rng.uniform(*stats.me_per_20s)))
    n_macro = int(round(seconds / 20.0 * rng.uniform(*stats.mae_per_20s)))
    n_micro = max(n_micro, min_micro if seconds > 0 else 0)
    free = np.ones(total, dtype=bool)
    tracks = {track.track_id: track for track in video.tracks}
    events: list[SynthEvent] = []
    for kind in ["MaE"] * n_macro + ["ME"] * n_micro:
        for _ in range(_PLACEMENT_TRIES):
            length, rise = sample_timing(rng, kind, fps, stats)
            if length > total:
                continue
            # Outside the video counts as free: the ends are kept clear by edge_s.
            padded = np.ones(total + 2 * gap, dtype=bool)
            padded[gap:gap + total] = free
            clear = _window_ok(padded, length + 2 * gap)[:total]
            starts = clear[:total - length + 1]
            candidates = [(track_id, int(onset)) for track_id, mask in sorted(usable.items())
                          for onset in np.flatnonzero(_window_ok(mask, length) & starts)]
            if candidates:
                break
        else:
            continue
        track_id, onset = candidates[int(rng.integers(len(candidates)))]
        timing = EventTiming(onset, onset + rise, onset + length - 1)
        recipe = sample_recipe(rng, emotion_weights)
        amplitude = _safe_amplitude(tracks[track_id], recipe, timing.apex,
                                    sample_amplitude(rng, kind, stats), size)
        events.append(SynthEvent(timing, kind, recipe, amplitude, track_id))
        free[max(0, onset - gap):onset + length + gap] = False
    return sorted(events, key=lambda event: event.timing.onset)


class Injector:
    """Renders the movements of one video segment onto its clean frames.

    Args:
        video: the segment's smoothed landmark tracks.
        events: non-overlapping movements on its tracks.
        compensate: restore the high-frequency energy lost to resampling
            (:class:`~._field.SharpnessCompensator`, calibrated on the clean
            face at the first moving frame).

    Raises:
        InputError: overlapping events, or an event on an unknown track or
            outside the segment.
    """

    def __init__(self, video: VideoLandmarks, events: Sequence[SynthEvent], *,
                 compensate: bool = True) -> None:
        self.video = video
        self.events = tuple(sorted(events, key=lambda event: event.timing.onset))
        tracks = {track.track_id: track for track in video.tracks}
        for event in self.events:
            if event.track_id not in tracks:
                raise InputError(f"event on unknown track {event.track_id}; "
                                 f"tracks: {sorted(tracks)}")
            if event.timing.offset >= video.frames:
                raise InputError(f"event offset {event.timing.offset} is past the segment's "
                                 f"{video.frames} frames")
        for first, second in zip(self.events, self.events[1:]):
            if second.timing.onset <= first.timing.offset:
                raise InputError(f"events overlap: {first.timing} and {second.timing}")
        self._tracks = tracks
        self._controls = {event: controls_for(event.recipe.aus) for event in self.events}
        self._compensator: SharpnessCompensator | None = None
        self._compensate = compensate

    def active(self, index: int) -> SynthEvent | None:
        """The event moving the face at 0-based frame *index*, if any."""
        for event in self.events:
            if event.timing.onset < index < event.timing.offset:
                return event
        return None

    def field(self, index: int) -> WarpField | None:
        """The displacement field at frame *index* (``None`` when nothing moves)."""
        event = self.active(index)
        return None if event is None else self._field(event, index)

    def _field(self, event: SynthEvent, index: int) -> WarpField:
        intensity = float(temporal_profile(index, event.timing))
        landmarks = self._tracks[event.track_id].landmarks[index]
        size = (self.video.info.width, self.video.info.height)
        return build_field(landmarks, self._controls[event], size,
                           event.amplitude * intensity, spread=event.amplitude)

    def render(self, index: int, frame: np.ndarray) -> np.ndarray:
        """Frame *index* of the segment with the active movement applied (or *frame* itself)."""
        event = self.active(index)
        if event is None:
            return frame
        field = self._field(event, index)
        if self._compensate and self._compensator is None:
            x0, y0, x1, y1 = field.box
            landmarks = self._tracks[event.track_id].landmarks[index]
            self._compensator = SharpnessCompensator()
            self._compensator.calibrate(frame[y0:y1, x0:x1], skin_mask(landmarks, field.box))
        return apply_field(frame, field, self._compensator)
