"""Drawing what the engine sees on the frame: faces, ids, scores, events.

:class:`OverlayRenderer` is stateful only in what it needs to be: the recent
score of each track (for the live sparkline) and the events still on
display.  It never changes the input frame; :meth:`OverlayRenderer.draw`
returns a copy.

:func:`gui_available` tells whether this OpenCV build can open windows
(``opencv-python-headless`` cannot); :func:`require_gui` turns that into a
:class:`~mer_edge.BackendError` with the fix in its message.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from ._errors import BackendError
from ._results import FaceTrack, MicroExpression

__all__ = ["OverlayRenderer", "track_color", "draw_label", "gui_available", "require_gui"]

_FONT = cv2.FONT_HERSHEY_SIMPLEX
# Colours (BGR) chosen to stay readable on skin and dark backgrounds.
_PALETTE = ((80, 200, 255), (255, 160, 60), (120, 230, 120), (230, 110, 230),
            (60, 230, 230), (255, 255, 120), (140, 140, 255), (200, 200, 200))
_EVENT_COLOR = {"ME": (40, 40, 255), "MaE": (0, 190, 255)}


def track_color(track_id: int) -> tuple[int, int, int]:
    """A stable BGR colour per track id."""
    return _PALETTE[track_id % len(_PALETTE)]


def gui_available() -> bool:
    """Whether this OpenCV build has a GUI backend (``cv2.imshow`` works)."""
    info = cv2.getBuildInformation()
    for line in info.splitlines():
        stripped = line.strip()
        if stripped.startswith("GUI:"):
            return stripped.split(":", 1)[1].strip().upper() not in ("NONE", "NO", "")
    return hasattr(cv2, "imshow")


def require_gui() -> None:
    """Raise :class:`BackendError` when windows cannot be opened here."""
    if not gui_available():
        raise BackendError("--show needs an OpenCV build with a GUI, but this one has none "
                           "(opencv-python-headless); install opencv-python, or use "
                           "--save-video PATH to write the overlay to a file")


@dataclass
class _Shown:
    event: MicroExpression
    until_ms: float


class OverlayRenderer:
    """Draws faces, track ids, landmarks, live scores and recent events.

    Args:
        event_hold_ms: how long a spotted event stays on screen.
        history_ms: length of each track's score sparkline.
        threshold: score level drawn on the sparklines (None: not drawn).
        landmarks: draw the face-mesh points.
    """

    def __init__(self, *, event_hold_ms: float = 2_000.0, history_ms: float = 4_000.0,
                 threshold: float | None = None, landmarks: bool = True) -> None:
        self.event_hold_ms = float(event_hold_ms)
        self.history_ms = float(history_ms)
        self.threshold = threshold
        self.landmarks = landmarks
        self._history: dict[int, deque[tuple[float, float]]] = {}
        self._shown: list[_Shown] = []

    def reset(self) -> None:
        """Forget score histories and events on display."""
        self._history.clear()
        self._shown.clear()

    def draw(self, frame: np.ndarray, timestamp_ms: float, faces: Sequence[FaceTrack],
             events: Sequence[MicroExpression] = ()) -> np.ndarray:
        """A copy of ``frame`` (``(H, W, 3) uint8`` BGR) with the overlay drawn.

        Args:
            frame: the source frame.
            timestamp_ms: its time, for histories and event display.
            faces: the faces of this frame (:attr:`FrameResult.faces`).
            events: events closed at this frame (:attr:`FrameResult.events`).
        """
        canvas = frame.copy()
        self._remember(timestamp_ms, faces, events)
        for face in faces:
            self._draw_face(canvas, face)
        self._draw_sparklines(canvas, timestamp_ms)
        self._draw_events(canvas, faces)
        return canvas

    # -- state ------------------------------------------------------------------
    def _remember(self, now: float, faces: Sequence[FaceTrack],
                  events: Sequence[MicroExpression]) -> None:
        for face in faces:
            history = self._history.setdefault(face.track_id, deque())
            history.append((now, face.score))
        for track_id in list(self._history):
            history = self._history[track_id]
            while history and history[0][0] < now - self.history_ms:
                history.popleft()
            if not history:
                del self._history[track_id]
        self._shown = [s for s in self._shown if s.until_ms >= now]
        self._shown.extend(_Shown(event, now + self.event_hold_ms) for event in events)

    # -- drawing ----------------------------------------------------------------
    def _draw_face(self, canvas: np.ndarray, face: FaceTrack) -> None:
        color = track_color(face.track_id)
        x0, y0, x1, y1 = (int(round(v)) for v in face.box)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), color, 2, cv2.LINE_AA)
        if self.landmarks:
            _dots(canvas, face.landmarks, color)
        score = "--" if math.isnan(face.score) else f"{face.score:.2f}"
        draw_label(canvas, f"id {face.track_id}  score {score}", (x0, y0 - 6), color)
        # Vertical score bar on the right of the box.
        height = max(y1 - y0, 1)
        level = 0.0 if math.isnan(face.score) else min(max(face.score, 0.0), 1.0)
        bx = min(x1 + 6, canvas.shape[1] - 6)
        cv2.rectangle(canvas, (bx, y0), (bx + 5, y1), (60, 60, 60), -1)
        cv2.rectangle(canvas, (bx, y1 - int(level * height)), (bx + 5, y1), color, -1)

    def _draw_sparklines(self, canvas: np.ndarray, now: float) -> None:
        width, row = min(220, canvas.shape[1] // 3), 40
        for slot, (track_id, history) in enumerate(sorted(self._history.items())):
            top = canvas.shape[0] - (slot + 1) * (row + 6)
            if top < 0:
                break
            left = 6
            region = canvas[top:top + row, left:left + width]
            region[:] = (region * 0.35).astype(np.uint8)
            if self.threshold is not None:
                y = top + row - 1 - int(self.threshold * (row - 1))
                cv2.line(canvas, (left, y), (left + width - 1, y), (90, 90, 200), 1)
            points = [(left + int((t - now + self.history_ms) / self.history_ms * (width - 1)),
                       top + row - 1 - int(min(max(s, 0.0), 1.0) * (row - 1)))
                      for t, s in history if not math.isnan(s)]
            if len(points) >= 2:
                cv2.polylines(canvas, [np.array(points, np.int32)], False,
                              track_color(track_id), 1, cv2.LINE_AA)
            draw_label(canvas, f"id {track_id}", (left + 3, top + 12), track_color(track_id), 0.4)

    def _draw_events(self, canvas: np.ndarray, faces: Sequence[FaceTrack]) -> None:
        boxes = {face.track_id: face.box for face in faces}
        banner_row = 0
        for shown in self._shown:
            event = shown.event
            iv = event.interval
            text = (f"{iv.kind} {event.label} {iv.score:.2f} "
                    f"[{iv.onset_frame}-{iv.apex_frame}-{iv.offset_frame}]")
            color = _EVENT_COLOR.get(iv.kind, (255, 255, 255))
            box = boxes.get(event.track_id)
            if box is not None:
                x0, y1 = int(box[0]), int(box[3])
                draw_label(canvas, text, (x0, min(y1 + 20, canvas.shape[0] - 4)), color, 0.55)
            else:
                banner_row += 1
                draw_label(canvas, f"id {event.track_id}: {text}", (8, 20 * banner_row), color, 0.5)


def _dots(canvas: np.ndarray, landmarks: np.ndarray, color: tuple[int, int, int]) -> None:
    """Single-pixel landmark dots (fast: one fancy-indexing assignment)."""
    points = np.round(landmarks).astype(np.int64)
    height, width = canvas.shape[:2]
    inside = (points[:, 0] >= 0) & (points[:, 0] < width) & (points[:, 1] >= 0) & (points[:, 1] < height)
    points = points[inside]
    canvas[points[:, 1], points[:, 0]] = color


def draw_label(canvas: np.ndarray, text: str, origin: tuple[int, int],
           color: tuple[int, int, int], scale: float = 0.5) -> None:
    """Text on a dark box so it reads on any background.

    ``origin`` is the left end of the baseline, moved inside the frame when
    the text would not fit.
    """
    (width, height), baseline = cv2.getTextSize(text, _FONT, scale, 1)
    x = min(max(origin[0], 0), max(canvas.shape[1] - width - 2, 0))
    y = min(max(origin[1], height + 2), canvas.shape[0] - baseline - 1)
    top, bottom = y - height - 2, y + baseline
    region = canvas[max(top, 0):bottom, max(x - 2, 0):x + width + 2]
    region[:] = (region * 0.3).astype(np.uint8)
    cv2.putText(canvas, text, (x, y), _FONT, scale, color, 1, cv2.LINE_AA)
