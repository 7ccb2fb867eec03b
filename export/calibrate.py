"""Calibrate a spotter's interval detection on validation videos.

The spotting score of a video does not depend on the detection parameters,
so the engine runs once per validation video and the detector is replayed
over the recorded scores for every parameter combination; the combination
with the best overall MEGC F1 (ties: best ME F1; ``--objective MaE`` or ``ME``:
the best F1 of that kind) is written into the model's
``detection`` metadata, where the engine picks it up.  Only validation
subjects are used: never the test split.

The replay (:mod:`mer_edge_export.detection_replay`) applies the engine's
rules with the engine's code: each face's detector is fed exactly the
updates the engine fed it, the lighting check
(``EngineOptions.max_brightness_change``) judges each interval, and, on the
faces' aligned crops recorded with the scores, the engine's classifier and
follower apply the return-to-neutral check (``EngineOptions.max_me_residual``)
and follow a movement the face has not come back from to its return
(``EngineOptions.follow_displaced``), and end a MaE the face came back from
within an ME's duration there, as an ME (``EngineOptions.me_ends_at_rest``):
replaying the engine's parameters gives the engine's events.
``--max-brightness-change`` sets the lighting limit the engine will run with
(default: the engine's, 0.15; ``none``: no check), ``--no-neutral-check``,
``--no-follow`` and ``--no-end-at-rest`` turn the other three off as
``mer-edge eval``'s flags of those names do; the output names the value of
each applied.  The crops cost 16 KiB a face and frame (0.4 GiB for 13
minutes of one face at 30 fps); each flow the checks measure between two
crops is measured once per video, whatever the grid point.

The grid covers the adaptive threshold (its fraction ``p`` and whether its
peak is the history's maximum or a quantile, ``peak_quantile``), the score
floor, the shortest run kept (``min_interval_ms``), smoothing, the offset
rule and how far the onset may walk back along the rise (``rise_onset_ms``;
``None`` keeps the first frame above the threshold): 2,400 points, replayed in
about half a second each on 13 minutes of validation video without the
checks on the crops, about twice that with them.  It
keeps the still-face check (``me_quiet_ratio``, ``me_quiet_ms``) at its
defaults (``SpottingParams``: 0.4 over 1 s), and so does the detection
written: the check's benefit is the false MEs it removes on faces with
nothing happening, which a validation F1 over labelled intervals cannot see.
``--still-check`` adds a second stage for it: with the grid's choice fixed,
each setting of :data:`STILL_CHECK_GRID` (the check off, ratios 0.2-0.5 over
1 s and 1.5 s) is replayed, and the best validation ME F1 among the settings
leaving at most ``--max-false-me-per-min`` (default 1) false MEs per minute of
validation video (clean videos count) is written with the rest.  When none
stays within the rate, the setting with the fewest false MEs per minute is
kept (closest to the rate asked for, rather than no check at all) and a
warning line names the rate it reached.  The table of every setting goes to
stderr.

    python -m mer_edge_export.calibrate MODEL.onnx --bench bench/val [--out COPY.onnx]
        [--max-brightness-change FRACTION|none] [--no-neutral-check] [--no-follow]
        [--no-end-at-rest]
        [--still-check [--max-false-me-per-min RATE]]

The model is updated in place unless ``--out`` names a copy to write.  A split
folder named ``test`` is refused (``--allow-test`` overrides, for a study that
knows it is tuning on its test data), as is a folder without videos or
labelled intervals; when no grid point finds anything (F1 0 for all), the
model keeps its parameters and nothing is written (exit status 1).

Torch-free: it needs the runtime and ``onnx`` only.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import onnx

from mer_edge._errors import DatasetError, InputError, MerEdgeError
from mer_edge._modelmeta import METADATA_PREFIX
from mer_edge._options import EngineOptions
from mer_edge._spotting import SpottingParams
from mer_edge.data.synth import read_bench_split
from mer_edge.evaluation import (BenchVideo, VideoRun, open_evaluation_engine, run_video,
                                 truth_from_interval)
from mer_edge.metrics import spotting_scores

from .detection_replay import (ENGINE_BRIGHTNESS_LIMIT, ENGINE_FOLLOW_RATIO, ENGINE_RESIDUAL_LIMIT,
                               EngineChecks, replay, replay_all)
from .outputs import check_model_output

__all__ = ["GRID", "MAX_FALSE_ME_PER_MIN", "OBJECTIVES", "STILL_CHECK_GRID", "StillCheckPoint",
           "main", "ranking_key", "read_validation", "record_runs", "replay", "replay_all",
           "search", "search_still_check", "validation_minutes", "write_detection"]

#: Parameter grid searched by default.  The score floor reaches down to 0.1 for the
#: training-free flow-magnitude spotter, whose score ``m / (m + 1)`` stays low on an ME.
#: ``peak_quantile`` 0.85 lets a threshold ignore the few frames of a large movement, and
#: ``min_interval_ms`` 200 drops the runs of a one-frame jump, whose score lasts ``k`` alone.
GRID: dict[str, Sequence[float | None]] = {
    "p": (0.2, 0.35, 0.5, 0.65, 0.8),
    "peak_quantile": (1.0, 0.85),
    "min_interval_ms": (100.0, 200.0),
    "min_score": (0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    "smooth_ms": (0.0, 70.0),
    "offset_lag": (0.25, 0.5),
    "rise_onset_ms": (None, 100.0, 200.0),
}

#: Settings of the still-face check tried by ``--still-check``: ``(me_quiet_ratio,
#: me_quiet_ms)``, the check off (None) once, then each ratio over 1 s and 1.5 s.
STILL_CHECK_GRID: tuple[tuple[float | None, float], ...] = ((None, 1000.0),) + tuple(
    itertools.product((0.2, 0.25, 0.3, 0.35, 0.4, 0.5), (1000.0, 1500.0)))

#: ``--max-false-me-per-min``'s default: validation false MEs per minute the check may leave.
MAX_FALSE_ME_PER_MIN: float = 1.0

#: What a calibration may maximise: the overall MEGC F1, or one kind's.
OBJECTIVES: tuple[str, ...] = ("all", "ME", "MaE")

def ranking_key(scores: dict[str, dict[str, float | int]], objective: str = "all"
                ) -> tuple[float, float]:
    """How :func:`search` ranks a grid point's :func:`~mer_edge.metrics.spotting_scores`.

    The F1 of ``objective`` first, then (ties) the ME F1 for ``"all"`` and the
    overall F1 for one kind.

    Raises:
        InputError: ``objective`` is not one of :data:`OBJECTIVES`.
    """
    _check_objective(objective)
    tie_break = "ME" if objective == "all" else "all"
    return float(scores[objective]["f1"]), float(scores[tie_break]["f1"])


def _check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise InputError(f"objective must be one of {list(OBJECTIVES)}, got {objective!r}")


def search(runs: Sequence[VideoRun], truth: Sequence[tuple[str, int, int, str]], k_ms: float,
           grid: dict[str, Sequence[float | None]] = GRID, *,
           checks: EngineChecks = EngineChecks(), fps_hint: float = 30.0,
           objective: str = "all"
           ) -> tuple[dict[str, float | None], dict[str, Any]]:
    """Best parameters on the recorded runs and their scores (replayed as :func:`replay` does,
    with ``checks`` and ``fps_hint``).

    ``objective``: the F1 maximised, ``"all"`` (ties: ME F1), or one kind,
    ``"ME"``/``"MaE"`` (ties: overall F1), for a spotter that will report only
    that kind (``EngineOptions.macro_spotting_model`` reports only MaEs).
    """
    _check_objective(objective)  # before any replay
    best: tuple[tuple[float, float], dict[str, float | None], dict[str, Any]] | None = None
    names = sorted(grid)
    for values in itertools.product(*(grid[n] for n in names)):
        chosen = dict(zip(names, values))
        params = replace(SpottingParams(**chosen), k_ms=k_ms)
        scores = spotting_scores(truth, replay_all(runs, params, checks, fps_hint=fps_hint))
        key = ranking_key(scores, objective)
        if best is None or key > best[0]:
            best = (key, chosen, scores)
    assert best is not None
    return best[1], best[2]


def validation_minutes(runs: Iterable[VideoRun]) -> float:
    """Minutes of video the recorded runs cover, labelled or clean.

    Each run counts the span of its frames' timestamps (first to last frame).
    """
    spans = (run.timestamps_ms.values() for run in runs)
    return sum((max(span) - min(span)) / 60_000.0 for span in spans if span)


@dataclass(frozen=True)
class StillCheckPoint:
    """One setting of the still-face check replayed on the validation runs.

    Attributes:
        me_quiet_ratio: ``SpottingParams.me_quiet_ratio`` (None: no check).
        me_quiet_ms: ``SpottingParams.me_quiet_ms``, ms (unused without the check).
        scores: :func:`~mer_edge.metrics.spotting_scores` of the replay.
        false_me_per_min: ME false positives per minute of validation video
            (:func:`validation_minutes`).
    """

    me_quiet_ratio: float | None
    me_quiet_ms: float
    scores: dict[str, dict[str, float | int]]
    false_me_per_min: float

    @property
    def detection(self) -> dict[str, float | None]:
        """The two ``detection`` metadata fields this setting sets."""
        return {"me_quiet_ratio": self.me_quiet_ratio, "me_quiet_ms": self.me_quiet_ms}

    def describe(self) -> str:
        """One line of the ``--still-check`` table: setting, ME F1 (TP/FP/FN), all F1, rate."""
        me = self.scores["ME"]
        if self.me_quiet_ratio is None:
            setting = "ratio none        "
        else:
            setting = f"ratio {self.me_quiet_ratio:<4g} {self.me_quiet_ms:5.0f} ms"
        return (f"{setting}  val ME F1 {me['f1']:.3f} ({me['tp']}/{me['fp']}/{me['fn']})  "
                f"all F1 {self.scores['all']['f1']:.3f}  false ME/min "
                f"{self.false_me_per_min:.2f}")


def _per_minute(count: int, minutes: float) -> float:
    if minutes > 0:
        return count / minutes
    return math.inf if count else 0.0


def _still_check_choice(points: Sequence[StillCheckPoint], max_false_me_per_min: float
                        ) -> StillCheckPoint:
    """The best ME F1 within the rate (ties: overall F1, then the first); else the fewest
    false MEs per minute (ties: ME F1, overall F1, the first)."""
    within = [point for point in points if point.false_me_per_min <= max_false_me_per_min]
    if within:  # max and min keep the first of equals
        return max(within, key=lambda point: (point.scores["ME"]["f1"], point.scores["all"]["f1"]))
    return min(points, key=lambda point: (point.false_me_per_min, -point.scores["ME"]["f1"],
                                          -point.scores["all"]["f1"]))


def search_still_check(runs: Sequence[VideoRun], truth: Sequence[tuple[str, int, int, str]],
                       params: SpottingParams,
                       settings: Sequence[tuple[float | None, float]] = STILL_CHECK_GRID, *,
                       max_false_me_per_min: float = MAX_FALSE_ME_PER_MIN,
                       checks: EngineChecks = EngineChecks(),
                       fps_hint: float = 30.0) -> tuple[StillCheckPoint, list[StillCheckPoint]]:
    """Second stage: the still-face check's ``(me_quiet_ratio, me_quiet_ms)`` for ``params``.

    ``params`` (the first stage's choice, :func:`search`) is replayed with
    each of ``settings`` in turn (with :func:`replay`'s ``checks`` and ``fps_hint``).  Chosen:
    the best ME F1 among the settings whose false MEs per minute of
    validation video (clean videos count) are at most
    ``max_false_me_per_min``; ties: the best overall F1, then the first in
    ``settings``.  When no setting is within the rate, the one with the fewest
    false MEs per minute (ties: ME F1, overall F1, the first): the check still
    does what it can, and the caller can tell from the chosen point's
    ``false_me_per_min`` that the rate was not met.

    Returns:
        The chosen setting and every setting's point, in ``settings``' order.

    Raises:
        InputError: no settings, or a negative ``max_false_me_per_min``.
    """
    if not settings:
        raise InputError("no still-face check settings to try")
    if not max_false_me_per_min >= 0:
        raise InputError(f"max_false_me_per_min must be >= 0, got {max_false_me_per_min!r}")
    minutes = validation_minutes(runs)
    points = []
    for ratio, quiet_ms in settings:
        scores = spotting_scores(truth, replay_all(
            runs, replace(params, me_quiet_ratio=ratio, me_quiet_ms=quiet_ms), checks,
            fps_hint=fps_hint))
        points.append(StillCheckPoint(ratio, quiet_ms, scores,
                                      _per_minute(int(scores["ME"]["fp"]), minutes)))
    return _still_check_choice(points, max_false_me_per_min), points


def record_runs(videos: Iterable[BenchVideo], options: EngineOptions) -> list[VideoRun]:
    """Run the engine over every video (one engine: the models load once), recording what
    :func:`replay` needs: the faces' crops too when ``options`` follow displaced faces,
    check their return to neutral or end a MaE at rest (``(128, 128) uint8``, 16 KiB a face
    and frame)."""
    keep_crops = bool(EngineChecks.of(options).on_crops())
    with open_evaluation_engine(options) as engine:
        return [run_video(video, engine, keep_crops=keep_crops, record_replay=True)
                for video in videos]


def write_detection(model_path: Path, detection: dict[str, float | None],
                    metrics: dict[str, Any], out: Path | None = None) -> Path:
    """Store calibrated detection parameters (and val metrics) in the model's metadata.

    Writes ``out`` (default: ``model_path`` itself, replaced whole); returns the path written.
    """
    model = onnx.load(str(model_path))
    props = {p.key: p.value for p in model.metadata_props}
    props[METADATA_PREFIX + "detection"] = json.dumps(detection, sort_keys=True)
    old_metrics = json.loads(props.get(METADATA_PREFIX + "metrics", "{}"))
    old_metrics["val_spotting"] = metrics
    props[METADATA_PREFIX + "metrics"] = json.dumps(old_metrics, sort_keys=True)
    del model.metadata_props[:]
    for key, value in sorted(props.items()):
        model.metadata_props.add(key=key, value=value)
    target = out or model_path
    partial = target.with_name(target.name + ".tmp")
    onnx.save(model, str(partial))
    os.replace(partial, target)
    return target


def read_validation(folders: Sequence[Path], *, allow_test: bool = False
                    ) -> tuple[list[BenchVideo], list[tuple[str, int, int, str]]]:
    """The videos and truth intervals of validation split folders (video ids prefixed by folder).

    Raises:
        InputError: a folder is named ``test`` and ``allow_test`` is off.
        DatasetError: a folder is missing, or holds no video or no labelled interval.
    """
    videos: list[BenchVideo] = []
    truth: list[tuple[str, int, int, str]] = []
    for folder in folders:
        if folder.resolve().name == "test" and not allow_test:
            raise InputError(f"--bench {folder} is a test split: calibrate on validation videos "
                             "(e.g. bench/val), never on the test split (--allow-test overrides)")
        if not folder.is_dir():
            raise DatasetError("no such split folder", path=str(folder))
        split = read_bench_split(folder)
        prefix = f"{folder}:"
        found = [BenchVideo(prefix + v.clip, v.path, v.subject, v.clean) for v in split.videos]
        labelled = [(prefix + t.video_id, t.onset, t.offset, t.kind)
                    for t in map(truth_from_interval, split.spotting)]
        if not found or not labelled:
            hint = (f": give a split folder such as {folder / 'val'}"
                    if (folder / "val").is_dir() else "")
            raise DatasetError(f"{len(found)} videos and {len(labelled)} labelled intervals: "
                               f"nothing to calibrate on{hint}", path=str(folder))
        videos += found
        truth += labelled
    return videos, truth


def _spotting_window(model_path: Path) -> tuple[float, float]:
    """The model's spotting lag ``k_ms`` and the frame rate its detectors assume.

    Refuses a missing file or a recognizer before any video runs.
    """
    from mer_edge._models import Model

    model = Model(model_path, expected_task="spotting")
    try:
        return float(model.info.window["k_ms"]), float(model.info.window.get("fps", 30.0))
    finally:
        model.close()


def _brightness_limit(text: str) -> float | None:
    """``--max-brightness-change``: ``none``, or a limit the engine accepts."""
    if text.strip().lower() == "none":
        return None
    try:
        return EngineOptions(max_brightness_change=float(text)).max_brightness_change
    except ValueError as error:  # InputError is a ValueError
        raise argparse.ArgumentTypeError(f"expected a fraction > 0 (e.g. 0.15) or none, "
                                         f"got {text!r}") from error


def _false_me_rate(text: str) -> float:
    """``--max-false-me-per-min``: a finite rate >= 0."""
    try:
        rate = float(text)
    except ValueError:
        rate = math.nan
    if not 0 <= rate < math.inf:
        raise argparse.ArgumentTypeError(f"expected false MEs per minute >= 0 (e.g. 1), "
                                         f"got {text!r}")
    return rate


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mer_edge_export.calibrate",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="spotting model (.onnx), updated in place "
                                                 "unless --out is given")
    parser.add_argument("--bench", type=Path, action="extend", nargs="+", required=True,
                        help="validation split folder(s), e.g. bench/val (several after one "
                             "--bench, or --bench repeated)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write the calibrated model here instead of in place")
    parser.add_argument("--allow-test", action="store_true",
                        help="accept a split folder named test (the figures then say nothing "
                             "about unseen data)")
    parser.add_argument("--max-brightness-change", type=_brightness_limit,
                        default=ENGINE_BRIGHTNESS_LIMIT, metavar="FRACTION|none",
                        help="the lighting limit the engine will run with "
                             "(EngineOptions.max_brightness_change; default "
                             f"{ENGINE_BRIGHTNESS_LIMIT}); none: the engine's check is off")
    parser.add_argument("--no-neutral-check", action="store_true",
                        help="the engine will run without the return-to-neutral check "
                             "(EngineOptions.max_me_residual None, as mer-edge eval "
                             "--no-neutral-check); default: the engine's, "
                             f"{ENGINE_RESIDUAL_LIMIT:g}")
    parser.add_argument("--no-follow", action="store_true",
                        help="the engine will run without following displaced faces to their "
                             "return (EngineOptions.follow_displaced None, as mer-edge eval "
                             f"--no-follow); default: the engine's, {ENGINE_FOLLOW_RATIO:g}")
    parser.add_argument("--no-end-at-rest", action="store_true",
                        help="the engine will run without ending a MaE at the face's return to "
                             "rest (EngineOptions.me_ends_at_rest False, as mer-edge eval "
                             "--no-end-at-rest)")
    parser.add_argument("--objective", choices=OBJECTIVES, default="all",
                        help="the F1 to maximise: all (default), or one kind for a spotter "
                             "that will report only it (MaE: a --macro-spotter)")
    parser.add_argument("--still-check", action="store_true",
                        help="then choose the still-face check (me_quiet_ratio, me_quiet_ms): "
                             "the best val ME F1 within --max-false-me-per-min")
    parser.add_argument("--max-false-me-per-min", type=_false_me_rate, default=None,
                        metavar="RATE",
                        help="with --still-check: the val false MEs per minute of video the "
                             f"check may leave (default {MAX_FALSE_ME_PER_MIN:g})")
    return parser


def _parse_args(argv: list[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.max_false_me_per_min is not None and not args.still_check:
        parser.error("--max-false-me-per-min applies to the still-face check: add --still-check")
    if args.still_check and args.objective == "MaE":
        parser.error("--still-check tunes which MEs are reported: not with --objective MaE "
                     "(a spotter reporting MaEs only)")
    if args.max_false_me_per_min is None:
        args.max_false_me_per_min = MAX_FALSE_ME_PER_MIN
    return parser, args


def _engine_checks(args: argparse.Namespace) -> EngineChecks:
    """The checks the flags say the engine will run with (the replay's and the recording
    engine's)."""
    return EngineChecks(max_brightness_change=args.max_brightness_change,
                        max_me_residual=None if args.no_neutral_check else ENGINE_RESIDUAL_LIMIT,
                        follow_displaced=None if args.no_follow else ENGINE_FOLLOW_RATIO,
                        me_ends_at_rest=not args.no_end_at_rest)


def _checks_line(checks: EngineChecks) -> str:
    """What the replay applied, for stderr: each check with its limit (or ``on``), or the
    flag that turned it off."""
    described = {"max_brightness_change": ("the lighting check", "--max-brightness-change none"),
                 "max_me_residual": ("the return-to-neutral check", "--no-neutral-check"),
                 "follow_displaced": ("following displaced faces", "--no-follow"),
                 "me_ends_at_rest": ("ending a MaE at rest", "--no-end-at-rest")}
    return ", ".join(_check_described(what, name, getattr(checks, name), flag)
                     for name, (what, flag) in described.items())


def _check_described(what: str, name: str, value: float | bool | None, flag: str) -> str:
    """One check of :func:`_checks_line`: ``what at NAME VALUE``, ``what (NAME)`` when a
    switch is on, ``no what (FLAG)`` when it is off."""
    if value is None or value is False:
        return f"no {what.removeprefix('the ')} ({flag})"
    return f"{what} ({name})" if value is True else f"{what} at {name} {value:g}"


def _val_summary(scores: dict[str, dict[str, float | int]]) -> dict[str, Any]:
    """Precision, recall and F1 per kind, rounded, as written into the model's metrics."""
    return {kind: {m: round(scores[kind][m], 4) for m in ("precision", "recall", "f1")}
            for kind in ("ME", "MaE", "all")}


def _scores_line(scores: dict[str, dict[str, float | int]]) -> str:
    return "  ".join(f"{kind} F1 {scores[kind]['f1']:.3f} ({scores[kind]['tp']}/"
                     f"{scores[kind]['fp']}/{scores[kind]['fn']})" for kind in ("ME", "MaE", "all"))


def _report_still_check(prog: str, chosen: StillCheckPoint, points: Sequence[StillCheckPoint],
                        max_false_me_per_min: float) -> None:
    """The ``--still-check`` table on stderr, the chosen line marked, and a warning line when
    no setting kept within the rate."""
    print(f"{prog}: still-face check (val false MEs per minute at most "
          f"{max_false_me_per_min:g}):", file=sys.stderr)
    for point in points:
        print(("* " if point is chosen else "  ") + point.describe(), file=sys.stderr)
    if chosen.false_me_per_min > max_false_me_per_min:
        print(f"{prog}: warning: no still-face check setting keeps val false MEs within "
              f"{max_false_me_per_min:g} per minute: kept the fewest, "
              f"{chosen.false_me_per_min:.2f} per minute", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser, args = _parse_args(argv)
    try:
        if args.out is not None:  # calibrating the shipped spotter is this tool's use
            check_model_output(args.out, replace_shipped=True)
        k_ms, fps_hint = _spotting_window(args.model)
        checks = _engine_checks(args)
        videos, truth = read_validation(args.bench, allow_test=args.allow_test)
        options = EngineOptions(running_mode="file", spotting_model=str(args.model),
                                recognize=False, **asdict(checks))
        runs = record_runs(videos, options)
        detection, scores = search(runs, truth, k_ms, checks=checks, fps_hint=fps_hint,
                                   objective=args.objective)
    except MerEdgeError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    summary = {**_val_summary(scores), **asdict(checks)}
    print(f"{parser.prog}: replayed with {_checks_line(checks)}", file=sys.stderr)
    if scores["all"]["f1"] <= 0:
        print(json.dumps({"detection": None, "val": summary}, sort_keys=True))
        parser.exit(1, f"{parser.prog}: no parameters find any interval of {len(truth)} on "
                       f"{len(videos)} videos (F1 0): {args.model} keeps its detection "
                       "parameters; nothing written\n")
    if args.still_check:
        print(f"{parser.prog}: stage 1, {json.dumps(detection, sort_keys=True)} with the "
              f"still-face check at its default: {_scores_line(scores)}", file=sys.stderr)
        chosen, points = search_still_check(
            runs, truth, replace(SpottingParams(**detection), k_ms=k_ms),
            max_false_me_per_min=args.max_false_me_per_min, checks=checks, fps_hint=fps_hint)
        _report_still_check(parser.prog, chosen, points, args.max_false_me_per_min)
        detection = {**detection, **chosen.detection}
        summary.update(_val_summary(chosen.scores))
        summary["false_me_per_min"] = round(chosen.false_me_per_min, 4)
        summary["max_false_me_per_min"] = args.max_false_me_per_min
    written = write_detection(args.model, detection, summary, args.out)
    print(json.dumps({"detection": detection, "val": summary, "written": str(written)},
                     sort_keys=True))
    print(f"wrote the detection parameters into {written}", file=sys.stderr)


if __name__ == "__main__":
    main()
