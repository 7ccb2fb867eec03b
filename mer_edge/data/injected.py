"""A benchmark video beside the clean source it was made from.

A ``make_bench`` video is a segment of a real video with movements warped in,
so aligning both and taking the optical flow from the source crop to the
bench crop at the same frame measures the injected movement alone, without
the person's own motion.  ``benchmarks/me_visibility.py`` uses this to ask
whether an ME is visible at all; ``export.linear_recognizer`` (and
``export.train`` with ``train_signal`` ``"injected"``) can learn from this clean
displacement instead of the onset->apex flow, whose natural motion belongs to
the few training identities.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from .._errors import DatasetError
from .._features import frame_channels
from .._flow import FlowEstimator
from .._modelmeta import InputSpec
from .prepare import AlignedVideo, cached_tracks

__all__ = ["SourcePair", "source_pairs"]


def _main_track(tracks: Sequence[AlignedVideo]) -> AlignedVideo | None:
    """The track with the most frames where the face was found."""
    return max(tracks, key=lambda track: int(track.found.sum()), default=None)


@dataclass(frozen=True)
class SourcePair:
    """The main face track of a bench video and of its source segment.

    Attributes:
        entry: the video's entry in the split's ``manifest.json`` (``events``,
            ``source``, ``source_frames``, ``fps``, ...).
        bench: aligned main face track of the bench video (None: no face found).
        source: aligned main face track of the source video (None: no face found).
    """

    entry: Mapping[str, Any]
    bench: AlignedVideo | None
    source: AlignedVideo | None

    def crops(self, frame: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Aligned crops ``(bench, source)`` of bench frame ``frame``.

        Frames are numbered as in the ground truth; None where either face was
        not found at that frame.
        """
        if self.bench is None or self.source is None:
            return None
        first_source_frame = int(self.entry["source_frames"][0])
        found = []
        for track, number in ((self.bench, frame), (self.source, first_source_frame + frame)):
            position = track.index_of(number)
            if track.frames[position] != number or not track.found[position]:
                return None
            found.append(track.crops[position])
        return found[0], found[1]

    def injected_input(self, frame: int, spec: InputSpec, flow: FlowEstimator) -> np.ndarray | None:
        """The injected movement alone at ``frame``, as a one-step model input ``(C, S, S)``.

        The flow from the source crop to the bench crop of the same frame,
        turned into ``spec``'s channels; None where either face was not found.
        """
        crops = self.crops(frame)
        if crops is None:
            return None
        bench_crop, source_crop = crops
        return frame_channels(spec, bench_crop, flow(source_crop, bench_crop))

    def injected_clip(self, positions: Sequence[int], spec: InputSpec, flow: FlowEstimator
                      ) -> np.ndarray | None:
        """The injected movement alone as a recognition input ``(T, C, S, S)``.

        ``positions`` are the frames the input is sampled at, onset first
        (:func:`~mer_edge.data.prepare.recognition_positions`).  Step ``t`` is
        :meth:`injected_input` at ``positions[t]``: the bench crop, with the flow
        from the source crop to it.  The onset step's grey image is the source
        crop at the apex (the last position), so the grey images of the two
        ends differ by the injected movement, not by the person's own motion.
        With ``T == 1`` the single step is the apex, as in the engine's input.
        None where either face was not found at one of the frames.
        """
        chosen = [int(frame) for frame in (positions[-1:] if spec.frames == 1 else positions)]
        steps = [self.injected_input(frame, spec, flow) for frame in chosen]
        if any(step is None for step in steps):
            return None
        clip = np.stack(steps)  # type: ignore[arg-type]
        grey = [index for index, name in enumerate(spec.channels) if name == "gray"]
        if len(chosen) > 1 and grey:
            _, source_apex = self.crops(chosen[-1])  # type: ignore[misc]  # found: a step above
            clip[0, grey] = frame_channels(spec, source_apex, None)[grey]
        return clip

    def events(self, kind: str) -> list[Mapping[str, Any]]:
        """The injected events of ``kind`` (``"ME"`` or ``"MaE"``)."""
        return [event for event in self.entry["events"] if event["kind"] == kind]


def source_pairs(split_dir: str | Path, videos_dir: str | Path, cache_dir: str | Path, *,
                 kind: str = "ME") -> Iterator[SourcePair]:
    """Each bench video of a split that holds movements of ``kind``, with its source.

    Clean videos are skipped.  Alignments are cached in ``cache_dir``.

    Raises:
        DatasetError: a source video is not in ``videos_dir``.
    """
    split_dir, videos_dir = Path(split_dir), Path(videos_dir)
    manifest = json.loads((split_dir / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["videos"]:
        if entry.get("clean") or not any(e["kind"] == kind for e in entry["events"]):
            continue
        source_video = videos_dir / entry["source"]
        if not source_video.is_file():
            raise DatasetError(f"the source video of {entry['clip']} is not in {videos_dir} "
                               "(give the folder the benchmark was built from)",
                               path=str(source_video))
        fps = float(entry["fps"])
        bench = _main_track(cached_tracks(split_dir / entry["video"], cache_dir, fps=fps))
        source = _main_track(cached_tracks(source_video, cache_dir, fps=fps))
        yield SourcePair(entry, bench, source)
