"""Still-face videos made from portraits: sources for ``mer-edge data make-bench``.

Micro-expression datasets film people who keep a neutral face; the team's
face videos show people talking, so a benchmark built from them measures
something else.  :func:`animate_portrait` renders a portrait photo the way
the demo does (a smooth similarity head motion over a blurred static scene,
plus Gaussian sensor noise; :class:`mer_edge._demo.DemoClip`) but with no
expression at all, and writes it as an MJPG video.  Such videos go into
``make-bench --layout LAYOUT.json --videos DIR`` like any face video: the
movements the bench injects then sit on a still face, and every split keeps
its own people.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from ._demo import DemoClip, DemoConfig, load_portrait
from ._errors import InputError
from .data.synth._writers import VideoSink

__all__ = ["animate_portrait"]


def animate_portrait(face: str | os.PathLike, out: str | os.PathLike, *, seconds: float = 20.0,
                     seed: int = 0, fps: float = 30.0,
                     progress: Callable[[int, int], None] | None = None) -> Path:
    """Write ``seconds`` of ``face`` (its largest face) moving as a still sitter does.

    Args:
        face: the portrait (JPEG, PNG...; EXIF orientation applied).
        out: the ``.avi`` file to write (MJPG, quality 95, 640x480).
        seconds: length of the video.
        seed: fixes the head motion and the noise.
        fps: frame rate of the video.
        progress: called with ``(frames written, total)``.

    Returns:
        ``out`` as a path.

    Raises:
        InputError: ``seconds`` or ``fps`` out of range, or ``out`` not an ``.avi``.
        SourceError: the portrait cannot be read or holds no face large enough.
        DatasetError: the video cannot be written.
    """
    config = DemoConfig(seed=seed, fps=fps)  # checks fps
    frames = int(round(seconds * fps)) if np.isfinite(seconds) else 0
    if frames < 2:
        raise InputError(f"seconds must give at least two frames at {fps:g} fps, got {seconds}")
    path = Path(out)
    if path.suffix.lower() != ".avi":
        raise InputError(f"{path}: the video is written as MJPG, so its name must end in .avi")
    photo, source, (landmarks, *others) = load_portrait(face)
    clip = DemoClip(config, photo, landmarks, (), np.random.default_rng(seed), source,
                    frame_count=frames, other_faces=others)
    with VideoSink(path, fps, config.size) as sink:
        for index, _, image in clip:
            sink.write(image)
            if progress is not None:
                progress(index + 1, frames)
    return path
