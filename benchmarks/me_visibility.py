"""How visible are a benchmark's injected MEs against the face's own motion?

    python benchmarks/me_visibility.py BENCH/test [BENCH2/test ...] [--videos DIR] [--cache DIR]

A bench video is a clean source segment with movements warped in, so the
injected motion can be measured exactly: both the bench video and its source
segment are aligned by the engine's front end, and the optical flow from the
source crop to the bench crop at the apex is the ME's own displacement.  For
each micro-expression (``--kind MaE``: macro-expression) it prints, in crop pixels (``CROP_SIZE`` crops, 54 px
between the outer eye corners):

* ``signal``: the largest regional mean of that displacement at the apex, as
  the engine's pipeline sees it (a movement near the nose also shifts the
  alignment and the reference region, and that shift is part of it);
* ``floor``: the same measure in the same region at the onset, where
  nothing is injected yet (re-encoding and alignment differences);
* ``motion p95``: the 95th percentile of the same region's motion in the
  clean source over the ME's own rise time (``t - rise -> t``), within 2 s of
  the ME: what the face does there anyway;
* ``visible``: whether the signal exceeds that motion;
* ``matched``: the same comparison for an oracle matched filter, which knows
  the ME's exact displacement pattern ``s`` at the apex (over the regions'
  pixels): its signal is ``|s|``, and the face's own motion counts only along
  ``s / |s|`` (the 95th percentile of that signed projection over the same
  stretch, leaving out the frames whose flow spans part of the ME: there the
  face's own motion adds to the ME instead of competing with it);
* ``course``: the same with the ME's time course known too: the frame-to-frame
  change of its displacement along ``s`` (bench against source, onset to
  offset) is correlated with the clean source's frame-to-frame flow along
  ``s`` within 2 s of the ME, away from it (a spatio-temporal matched
  filter).  ``yes`` when the ME's own energy exceeds the 95th percentile of
  those scores; the summary also counts the MEs above the largest of them.
  The frame-to-frame flow of the injected displacement carries DIS noise,
  which only adds to the signal, so this count leans in the ME's favour.

Against unstructured noise no score linear in the flow, whatever its weights
over space and time, separates an ME better than its own matched filter, so
the two bound what learned or template-based scores can gain over the
regional mean (a filter that also suppresses the face's structured motion
could do somewhat better).

A motion-based spotter cannot find an ME that is not visible in this sense.
The last line sums it up.  The source videos are looked up by name in
``--videos`` (default: ``$MER_EDGE_VIDEOS``, else ``../shared/data/videos``).
"""
from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from mer_edge._flow import ROI_NAMES, FlowEstimator, roi_masks, roi_means
from mer_edge.data.injected import SourcePair, source_pairs
from mer_edge.data.synth.bench import default_videos_dir

#: Around each ME, the source's motion is sampled this far on either side.
CONTEXT_S = 2.0

#: The pixels of the crop that lie in some region: the matched filter's support.
_REGION_PIXELS = roi_masks().any(axis=0)


@dataclass(frozen=True)
class Visibility:
    """The measured visibility of one injected movement (ME or MaE)."""

    video: str
    name: str
    aus: str
    amplitude_iod: float
    region: str
    signal_px: float
    floor_px: float
    motion_p95_px: float
    matched_signal_px: float
    matched_motion_p95_px: float
    course_signal: float
    course_motion_p95: float
    course_motion_max: float

    @property
    def visible(self) -> bool:
        """The regional signal exceeds the region's own motion."""
        return self.signal_px > self.motion_p95_px

    @property
    def visible_to_matched_filter(self) -> bool:
        """The ME's whole pattern exceeds the face's own motion along that pattern."""
        return self.matched_signal_px > self.matched_motion_p95_px

    @property
    def visible_to_course_filter(self) -> bool:
        """The ME's pattern and time course exceed the face's own motion filtered with them."""
        return self.course_signal > self.course_motion_p95


def _regional_motion(flow: FlowEstimator, earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
    """``(R,)`` magnitudes of the regional mean flow from ``earlier`` to ``later``."""
    return np.linalg.norm(roi_means(flow(earlier, later)), axis=1)


def _along(field: np.ndarray, direction: np.ndarray) -> float:
    """``field``'s region pixels projected on ``direction`` (unit, over the same pixels)."""
    return float((field[_REGION_PIXELS] * direction).sum())


def _course_filter(pair: SourcePair, flow: FlowEstimator, event: Mapping[str, Any],
                   direction: np.ndarray, context: int) -> tuple[float, np.ndarray]:
    """The spatio-temporal matched filter of one ME (see ``course`` in the module docstring):
    the ME's energy, and the filter's scores on the clean source at the windows that start
    within ``context`` frames before or after it without overlapping it (windows where the
    face was lost left out)."""
    course = []
    for frame in range(event["onset"] - 1, event["offset"] + 1):
        crops = pair.crops(frame)
        course.append(0.0 if crops is None else _along(flow(crops[1], crops[0]), direction))
    velocity = np.diff(course)
    energy = float(np.linalg.norm(velocity))
    own = []
    span = velocity.size  # frames a window covers
    first = event["onset"] - context - span
    for frame in range(first, event["offset"] + context + span + 1):
        now, before = pair.crops(frame), pair.crops(frame - 1)
        own.append(np.nan if now is None or before is None
                   else _along(flow(before[1], now[1]), direction))
    scores = np.correlate(np.asarray(own), velocity / max(energy, 1e-9), mode="valid")
    starts = first + np.arange(scores.size)  # each window's first frame
    away = (starts + span - 1 < event["onset"]) | (starts > event["offset"])
    return energy, scores[away & np.isfinite(scores)]  # a window with a frame lost is left out


def measure_video(pair: SourcePair, flow: FlowEstimator, kind: str = "ME"
                  ) -> tuple[list[Visibility], int]:
    """Visibility of every movement of ``kind`` ("ME" or "MaE") in one bench video; also the
    number of them it could not measure."""
    entry, events = pair.entry, pair.events(kind)
    if pair.bench is None or pair.source is None:
        return [], len(events)
    results, skipped = [], 0
    context = int(round(CONTEXT_S * float(entry["fps"])))
    for event in events:
        # the sheets and the aligned tracks both number a video's frames from 1
        onset, apex = event["onset"], event["apex"]
        at_apex, at_onset = pair.crops(apex), pair.crops(onset)
        if at_apex is None or at_onset is None:
            skipped += 1
            continue
        injected_field = flow(at_apex[1], at_apex[0])
        injected = np.linalg.norm(roi_means(injected_field), axis=1)
        region = int(np.argmax(injected))
        floor = _regional_motion(flow, at_onset[1], at_onset[0])[region]
        pattern = injected_field[_REGION_PIXELS]
        pattern_norm = float(np.linalg.norm(pattern))
        direction = pattern / max(pattern_norm, 1e-9)
        rise = max(1, apex - onset)
        natural, along_pattern = [], []
        # the regional measure keeps session 4's stretch (up to ``context`` after the apex); the
        # matched filter's reaches as far past the ME and skips the flows that span part of it
        for frame in range(onset - context, event["offset"] + rise + context + 1):
            now, before = pair.crops(frame), pair.crops(frame - rise)
            if now is None or before is None:
                continue
            own_motion = flow(before[1], now[1])
            if frame <= apex + context:
                natural.append(np.linalg.norm(roi_means(own_motion), axis=1)[region])
            if frame < onset or frame - rise > event["offset"]:
                along_pattern.append(_along(own_motion, direction))
        course_energy, course_scores = _course_filter(pair, flow, event, direction, context)
        if not natural or not along_pattern or course_scores.size == 0:
            skipped += 1
            continue
        results.append(Visibility(entry["clip"], event["name"], event["aus"], event["amplitude_iod"],
                                  ROI_NAMES[region], float(injected[region]), float(floor),
                                  float(np.percentile(natural, 95)), pattern_norm,
                                  float(np.percentile(along_pattern, 95)), course_energy,
                                  float(np.percentile(course_scores, 95)),
                                  float(course_scores.max())))
    return results, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("splits", nargs="+", type=Path, help="bench split folders (e.g. bench/test)")
    parser.add_argument("--videos", type=Path, default=None,
                        help="folder of the source videos the bench was built from")
    parser.add_argument("--cache", type=Path, default=None, help="alignment cache folder")
    parser.add_argument("--kind", choices=("ME", "MaE"), default="ME",
                        help="measure the micro-expressions (default) or the macro-expressions")
    args = parser.parse_args()
    videos_dir = args.videos or default_videos_dir()
    if videos_dir is None:
        parser.error("pass --videos DIR (the benches' source videos) or set MER_EDGE_VIDEOS")
    cache_dir = args.cache or Path(tempfile.mkdtemp(prefix="mer_edge_visibility_"))
    flow = FlowEstimator("ultrafast")
    measured: list[Visibility] = []
    skipped = 0
    for split_dir in args.splits:
        for pair in source_pairs(split_dir, videos_dir, cache_dir, kind=args.kind):
            found, missed = measure_video(pair, flow, args.kind)
            measured += found
            skipped += missed
    print(f"{'video':24s} {args.kind:14s} {'AUs':8s} {'amp IOD':>7s} {'region':12s} "
          f"{'signal':>7s} {'floor':>6s} {'motion p95':>10s} visible {'matched':>8s} {'along p95':>9s} matched {'course':>7s} {'p95':>6s} {'max':>6s} course")
    for item in measured:
        print(f"{item.video:24s} {item.name:14s} {item.aus:8s} {item.amplitude_iod:7.3f} "
              f"{item.region:12s} {item.signal_px:7.2f} {item.floor_px:6.2f} {item.motion_p95_px:10.2f} "
              f"{'yes' if item.visible else 'no':7s} {item.matched_signal_px:8.2f} "
              f"{item.matched_motion_p95_px:9.2f} {'yes' if item.visible_to_matched_filter else 'no':7s} {item.course_signal:7.2f} "
              f"{item.course_motion_p95:6.2f} {item.course_motion_max:6.2f} "
              f"{'yes' if item.visible_to_course_filter else 'no'}")
    if measured:
        signal = np.median([item.signal_px for item in measured])
        motion = np.median([item.motion_p95_px for item in measured])
        floor = np.median([item.floor_px for item in measured])
        visible = sum(item.visible for item in measured)
        matched = sum(item.visible_to_matched_filter for item in measured)
        course = sum(item.visible_to_course_filter for item in measured)
        course_max = sum(item.course_signal > item.course_motion_max for item in measured)
        print(f"{len(measured)} {args.kind}s measured ({skipped} skipped: face not found): median signal "
              f"{signal:.2f} px (floor {floor:.2f}), median motion p95 {motion:.2f} px, "
              f"visible {visible}/{len(measured)}, to the oracle matched filter {matched}/{len(measured)}, "
              f"with the time course {course}/{len(measured)} (above the largest score: "
              f"{course_max}/{len(measured)})")
    else:
        print(f"no {args.kind} could be measured ({skipped} skipped: face not found)")


if __name__ == "__main__":
    main()
