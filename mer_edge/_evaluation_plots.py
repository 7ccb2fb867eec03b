"""Figures written by ``mer-edge eval``: score timelines and a confusion matrix."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["save_plots"]


def _file_safe(video_id: str) -> str:
    """A file-name form of a video id (pooled ids carry their folder)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", video_id).strip("_")[-80:]


def save_plots(out: Path, runs: Mapping[str, Any], truth: Sequence[Any],
               recognition: Mapping[str, Any]) -> None:
    """Write ``timeline_<video>.png`` per video and ``confusion.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for video_id, run in runs.items():
        figure, axis = plt.subplots(figsize=(12, 3))
        track = run.main_track
        if track is not None and run.scores.get(track):
            frames = sorted(run.scores[track])
            axis.plot(frames, [run.scores[track][f] for f in frames], lw=0.8, label="score")
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
