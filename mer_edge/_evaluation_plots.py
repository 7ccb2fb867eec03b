"""Figures written by ``mer-edge eval``: score timelines and a confusion matrix."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["plot_scores", "save_plots"]


def _file_safe(video_id: str) -> str:
    """A file-name form of a video id (pooled ids carry their folder)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", video_id).strip("_")[-80:]


def plot_scores(axis: Any, run: Any) -> bool:
    """Draw the main track's scores of ``run`` (a ``VideoRun``) on ``axis``; whether any were.

    One line per spotter that scored the track: ``spotter score``, and
    ``macro spotter score`` when the engine ran a macro spotter.
    """
    track = run.main_track
    drawn = False
    for label, scores in (("spotter score", run.scores), ("macro spotter score", run.macro_scores)):
        by_frame = scores.get(track) or {}
        if by_frame:
            frames = sorted(by_frame)
            axis.plot(frames, [by_frame[f] for f in frames], lw=0.8, label=label)
            drawn = True
    return drawn


def save_plots(out: Path, runs: Mapping[str, Any], truth: Sequence[Any],
               recognition: Mapping[str, Any]) -> None:
    """Write ``timeline_<video>.png`` per video and ``confusion.png``.

    A timeline shows the main track's scores (:func:`plot_scores`: the
    macro spotter's too when there is one), the truth shaded and the
    detections on top.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for video_id, run in runs.items():
        figure, axis = plt.subplots(figsize=(12, 3))
        if plot_scores(axis, run):
            axis.legend(loc="upper left", fontsize="small")
        for item in truth:
            if item.video_id == video_id:
                colour = "tab:green" if item.kind == "ME" else "tab:orange"
                axis.axvspan(item.onset, item.offset, color=colour, alpha=0.25)
        for event in run.events:
            iv = event.interval
            axis.axvspan(iv.onset_frame, iv.offset_frame, ymin=0.9, ymax=1.0,
                         color="tab:red" if iv.kind == "ME" else "tab:purple")
        axis.set_title(f"{video_id}: truth shaded (green ME, orange MaE), detections on top")
        axis.set_xlabel("frame")
        figure.tight_layout()
        figure.savefig(out / f"timeline_{_file_safe(str(video_id))}.png", dpi=80)
        plt.close(figure)
    confusion = recognition.get("confusion") or []
    if confusion:
        classes = recognition["classes"]
        figure, axis = plt.subplots(figsize=(4, 4))
        axis.imshow(confusion, cmap="Blues")
        axis.set_xticks(range(len(classes)), classes, rotation=45)
        axis.set_yticks(range(len(classes)), classes)
        for i, row in enumerate(confusion):
            for j, value in enumerate(row):
                axis.text(j, i, str(value), ha="center", va="center")
        axis.set_xlabel("predicted")
        axis.set_ylabel("truth")
        figure.tight_layout()
        figure.savefig(out / "confusion.png", dpi=100)
        plt.close(figure)
