"""export.calibrate: what it refuses, that it never rewrites a model for nothing, and that
its replay of recorded scores reports what the engine reports."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import onnx
import pytest

import mer_edge as me
from mer_edge._errors import InputError
from export.calibrate import (OBJECTIVES, STILL_CHECK_GRID, _report_still_check, main,
                              ranking_key, replay, replay_all, search, search_still_check,
                              validation_minutes, write_detection)
from export.detection_replay import EngineChecks, _recorded_faces
from export.outputs import SHIPPED_MODELS_DIR
from mer_edge._modelmeta import METADATA_PREFIX
from mer_edge.evaluation import BenchVideo, VideoRun, run_video

SPOTTER = SHIPPED_MODELS_DIR / "regional_tcn_spotter.onnx"


@pytest.fixture()
def spotter(tmp_path: Path) -> Path:
    """A copy of a shipped spotter (never calibrate the shipped file in a test)."""
    return Path(shutil.copy(SPOTTER, tmp_path / "spotter.onnx"))


def _refused(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    return err


def test_refuses_what_is_not_a_validation_split(spotter, tiny_bench, tmp_path, capsys):
    before = spotter.read_bytes()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "manifest.json").write_text(json.dumps({"videos": []}))
    recognizer = SHIPPED_MODELS_DIR / "facs_linear_recognizer.onnx"
    cases = [([str(spotter), "--bench", str(tiny_bench / "test")], "never on the test split"),
             ([str(spotter), "--bench", str(tiny_bench)], f"such as {tiny_bench / 'val'}"),
             ([str(spotter), "--bench", str(empty)], "0 videos and 0 labelled intervals"),
             ([str(spotter), "--bench", str(tmp_path / "nope")], "no such split folder"),
             ([str(spotter), "--bench", str(tiny_bench / "val"), str(tmp_path / "nope2")],
              "nope2"),  # several folders after one --bench: each is read
             ([str(recognizer), "--bench", str(tiny_bench / "val")], "is a recognition model"),
             ([str(tmp_path / "none.onnx"), "--bench", str(tiny_bench / "val")], "not found"),
             ([str(spotter), "--bench", str(tiny_bench / "val"), "--out", "x.txt"], ".onnx"),
             ([str(spotter), "--bench", str(tiny_bench / "val"), "--max-brightness-change", "0"],
              "--max-brightness-change: expected a fraction > 0 (e.g. 0.15) or none, got '0'")]
    for argv, message in cases:
        assert message in _refused(argv, capsys)
    assert spotter.read_bytes() == before


@pytest.mark.parametrize(("flags", "checks", "line"), [
    ([], {"max_brightness_change": 0.15, "max_me_residual": 1.0, "follow_displaced": 0.7,
          "me_ends_at_rest": True},
     "replayed with the lighting check at max_brightness_change 0.15, the return-to-neutral "
     "check at max_me_residual 1, following displaced faces at follow_displaced 0.7, ending a "
     "MaE at rest (me_ends_at_rest)"),
    (["--no-neutral-check", "--no-follow", "--no-end-at-rest"],
     {"max_brightness_change": 0.15, "max_me_residual": None, "follow_displaced": None,
      "me_ends_at_rest": False},
     "no return-to-neutral check (--no-neutral-check), no following displaced faces "
     "(--no-follow), no ending a MaE at rest (--no-end-at-rest)")])
def test_no_candidate_above_zero_keeps_the_model(spotter, tiny_bench, tmp_path, capsys, flags,
                                                 checks, line):
    """The tiny test split (--allow-test) has an interval no grid point finds: nothing is
    written; the output names each check the replay applied (the engine's by default)."""
    before = spotter.read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        main([str(spotter), "--bench", str(tiny_bench / "test"), "--allow-test",
              "--out", str(tmp_path / "copy.onnx"), *flags])
    out, err = capsys.readouterr()
    assert json.loads(out)["val"]["all"]["f1"] == 0.0
    assert {name: json.loads(out)["val"][name] for name in checks} == checks
    assert line in err
    assert exit_info.value.code == 1 and "keeps its detection parameters" in err
    assert spotter.read_bytes() == before and not (tmp_path / "copy.onnx").exists()


def test_out_writes_a_copy(spotter, tmp_path):
    before = spotter.read_bytes()
    detection = {"p": 0.5, "min_score": 0.4}
    written = write_detection(spotter, detection, {"all": {"f1": 0.5}}, tmp_path / "copy.onnx")
    props = {p.key: p.value for p in onnx.load(str(written)).metadata_props}
    assert written == tmp_path / "copy.onnx"
    assert json.loads(props[METADATA_PREFIX + "detection"]) == detection
    assert spotter.read_bytes() == before


def _events(found) -> list[tuple[int, int, str]]:
    return sorted((onset, offset, kind) for _, onset, offset, kind in found)


def _engine_and_replayed(video: BenchVideo, spotter_name: str, option_sets: list[dict],
                         **base) -> list[tuple[list, list]]:
    """For each of ``option_sets`` (engine options over ``base``): the engine's events, and
    those a replay of one recording (``base``, crops kept) reports with those options."""
    options = me.EngineOptions(running_mode="file", recognize=False,
                               spotting_model=str(SHIPPED_MODELS_DIR / f"{spotter_name}.onnx"),
                               **base)
    with me.Engine.from_options(options) as engine:
        params = engine.spotting_params
    recorded = run_video(video, options, keep_crops=True, record_replay=True)
    pairs = []
    for checks in option_sets:
        run = (run_video(video, replace(options, **checks), keep_crops=False) if checks
               else recorded)
        reported = _events((video.video_id, e.interval.onset_frame, e.interval.offset_frame,
                            e.kind) for e in run.events)
        pairs.append((reported, _events(replay(recorded, params, EngineChecks(**checks)))))
    return pairs


@pytest.mark.parametrize("spotter_name", ["flowmag_spotter", "regional_tcn_spotter"])
def test_replay_reports_what_the_engine_reports(videos, spotter_name):
    """The lamp of changeLighting.wmv: an interval the engine's lighting check leaves out.

    Replaying the recorded run with the engine's parameters gives the engine's
    events, check on and off, following and the neutral check on (the
    engine's defaults); the regional spotter looks ahead, so its scores must
    be replayed under their lagged frames.
    """
    video = BenchVideo("lamp", videos / "changeLighting.wmv", "s")
    pairs = _engine_and_replayed(video, spotter_name, [{}, {"max_brightness_change": None}])
    for reported, replayed in pairs:
        assert replayed == reported
    (checked, _), (unchecked, _) = pairs
    assert len(unchecked) > len(checked), "the lamp's interval is judged by the check"


@pytest.mark.parametrize("spotter_name", ["flowmag_spotter", "regional_tcn_spotter"])
def test_replay_follows_and_checks_the_return_to_neutral_as_the_engine(videos, spotter_name,
                                                                        pinned_detection):
    """lp_d9.mp4 with the still-face check off: rises the engine follows into longer
    movements, and, without following, MEs it drops because the face has not come back.

    One recording (crops kept) replayed with each engine's options gives that
    engine's events; each check changes them, so each is really replayed.  A
    second replay of the run measures no flow again.
    """
    video = BenchVideo("d9", videos / "lp_d9.mp4", "s")
    option_sets = [{}, {"follow_displaced": None},
                   {"follow_displaced": None, "max_me_residual": None}]
    # the scenario needs an ME the face has not come back from: the flowmag spotter's 0.3.0
    # detection finds one on lp_d9 (its 0.4.0 one reports none that the check drops)
    first_stage = pinned_detection if spotter_name == "flowmag_spotter" else {}
    pairs = _engine_and_replayed(video, spotter_name, option_sets,
                                 spotting_overrides={**first_stage, "me_quiet_ratio": None})
    for (reported, replayed), checks in zip(pairs, option_sets):
        assert replayed == reported, checks
    (followed, _), (neutral_checked, _), (unchecked, _) = pairs
    assert followed != neutral_checked, "following must change the events"
    assert len(neutral_checked) < len(unchecked), "the neutral check must drop an ME"


def test_a_second_replay_measures_no_flow_again(videos):
    """The flows of the neutral check and the follower are measured once per run, whatever
    the parameters replayed; the replay reports the same."""
    options = me.EngineOptions(running_mode="file", recognize=False)
    with me.Engine.from_options(options) as engine:
        params = engine.spotting_params
    run = run_video(BenchVideo("d19", videos / "lp_d19.mp4", "s"), options, record_replay=True)
    first = replay(run, params)
    measured = _recorded_faces(run).flow
    pairs = measured.measured_pairs
    assert pairs > 0 and replay(run, params) == first and measured.measured_pairs == pairs
    replay(run, replace(params, p=0.35))
    assert _recorded_faces(run).flow is measured  # the same run's flows, kept


# a recording of scores alone: the detector's rules, without the checks on the crops
@pytest.mark.filterwarnings("ignore:.*recorded without the faces' crops")
def test_an_older_recording_without_brightness_is_replayed_with_a_warning(videos):
    """A run recorded without the face's brightness keeps its intervals and says why."""
    options = me.EngineOptions(running_mode="file", recognize=False)
    with me.Engine.from_options(options) as engine:
        params = engine.spotting_params
    recorded = run_video(BenchVideo("lamp", videos / "changeLighting.wmv", "s"), options,
                         keep_crops=False, record_replay=True)
    older = VideoRun(recorded.video, frames=recorded.frames, scores=recorded.scores,
                     timestamps_ms=recorded.timestamps_ms)
    with pytest.warns(UserWarning, match="lamp: recorded without the face's brightness: the "
                                         r"lighting check \(max_brightness_change 0.15\) is "
                                         "not replayed"):
        kept = replay(older, params)
    assert _events(kept) == _events(replay(recorded, params,
                                           EngineChecks(max_brightness_change=None)))
    assert kept and not replay(recorded, params)


def test_a_recording_without_crops_is_replayed_without_following_with_a_warning(videos):
    """A run recorded without the crops (``keep_crops=False``) scores the intervals as the
    detector closes them, and says that following, the neutral check and the end at rest
    were not replayed: on lp_d19.mp4, whose smile the engine follows, that is not what it reports."""
    options = me.EngineOptions(running_mode="file", recognize=False)
    with me.Engine.from_options(options) as engine:
        params = engine.spotting_params
    run = run_video(BenchVideo("d19", videos / "lp_d19.mp4", "s"), options, keep_crops=False,
                    record_replay=True)
    with pytest.warns(UserWarning, match=r"d19: recorded without the faces' crops: following a "
                                         r"displaced face, the return-to-neutral check and the "
                                         r"end at rest \(follow_displaced 0.7, max_me_residual 1, "
                                         r"me_ends_at_rest\) are not replayed"):
        kept = replay(run, params)
    assert kept == replay(run, params, EngineChecks(follow_displaced=None, max_me_residual=None,
                                                    me_ends_at_rest=False))
    reported = _events(("d19", e.interval.onset_frame, e.interval.offset_frame, e.kind)
                       for e in run.events)
    assert _events(kept) != reported


def test_engine_checks_follow_the_engine_options():
    """The replay's checks are the engine's, option for option, and name the ones that need
    the crops (what ``record_runs`` keeps them for)."""
    assert EngineChecks.of(me.EngineOptions()) == EngineChecks()
    options = me.EngineOptions(follow_displaced=None, max_me_residual=None, me_ends_at_rest=False,
                               max_brightness_change=0.2)
    assert EngineChecks.of(options) == EngineChecks(max_brightness_change=0.2,
                                                    follow_displaced=None, max_me_residual=None,
                                                    me_ends_at_rest=False)
    assert EngineChecks.of(options).on_crops() == []
    assert EngineChecks.of(replace(options, max_me_residual=1.5)).on_crops() == ["max_me_residual 1.5"]


# a recording of scores alone: the detector's rules, without the checks on the crops
@pytest.mark.filterwarnings("ignore:.*recorded without the faces' crops")
def test_the_objective_picks_the_best_f1_of_that_kind(videos, pinned_detection):
    """``--objective``: the point chosen has the grid's best F1 of the kind asked for.

    The truth is what the default spotter reports on lp_d9.mp4 with other
    detection parameters (an ME and macro-expressions), so the grid's points
    score differently per kind.
    """
    options = me.EngineOptions(running_mode="file", recognize=False)
    run = run_video(BenchVideo("d9", videos / "lp_d9.mp4", "s"), options, keep_crops=False,
                    record_replay=True)
    with me.Engine.from_options(options) as engine:
        params = engine.spotting_params
    # the truth needs both kinds: the 0.3.0 detection at these p and floor reports both on lp_d9
    truth = replay(run, replace(params, **{**pinned_detection, "p": 0.35, "min_score": 0.25}))
    assert {kind for *_, kind in truth} == {"ME", "MaE"}
    grid = {"p": (0.2, 0.5, 0.8), "min_score": (0.1, 0.3, 0.6)}
    best = {}
    for objective in OBJECTIVES:
        chosen, scores = search([run], truth, params.k_ms, grid, objective=objective)
        each = [search([run], truth, params.k_ms, {"p": (p,), "min_score": (m,)},
                       objective=objective)[1] for p in grid["p"] for m in grid["min_score"]]
        assert scores[objective]["f1"] == max(point[objective]["f1"] for point in each) > 0
        best[objective] = scores
    assert best["MaE"]["MaE"]["f1"] >= best["all"]["MaE"]["f1"]
    assert best["ME"]["ME"]["f1"] >= best["all"]["ME"]["f1"]
    with pytest.raises(InputError, match="objective must be one of"):
        search([run], truth, params.k_ms, grid, objective="micro")


def test_one_kind_outranks_the_overall_f1_when_it_is_the_objective():
    """The ranking of --objective MaE/ME: that kind's F1 first, then the overall one."""
    def scores(me_f1: float, mae_f1: float, all_f1: float) -> dict:
        return {"ME": {"f1": me_f1}, "MaE": {"f1": mae_f1}, "all": {"f1": all_f1}}
    macro_heavy, balanced = scores(0.0, 0.6, 0.3), scores(0.5, 0.3, 0.4)
    assert ranking_key(balanced) > ranking_key(macro_heavy)
    assert ranking_key(macro_heavy, "MaE") > ranking_key(balanced, "MaE")
    assert ranking_key(balanced, "ME") > ranking_key(macro_heavy, "ME")
    assert ranking_key(scores(0.2, 0.4, 0.3), "MaE") > ranking_key(scores(0.1, 0.4, 0.2), "MaE")


@pytest.fixture(scope="module")
def talking_and_clean(shared_data, pinned_detection):
    """lp_d9.mp4 and default.wmv recorded once with the shipped spotter, its 0.3.0 detection
    parameters, and a truth that makes the still-face check trade true MEs for false ones.

    The truth is lp_d9's macro-expressions and every other ME the replay reports
    there with the check off; default.wmv has no truth (a clean video): its
    MEs are all false.
    """
    options = me.EngineOptions(running_mode="file", recognize=False)
    with me.Engine.from_options(options) as engine:
        # the still-face check's trade needs MEs on lp_d9: the 0.3.0 detection reports them
        params = replace(engine.spotting_params, **pinned_detection)
    runs = [run_video(BenchVideo(name, shared_data / "videos" / name, "s"), options,
                      keep_crops=False, record_replay=True)
            for name in ("lp_d9.mp4", "default.wmv")]
    found = replay(runs[0], replace(params, me_quiet_ratio=None))
    micro = sorted(item for item in found if item[3] == "ME")
    truth = [item for item in found if item[3] == "MaE"] + micro[::2]
    return runs, params, truth


def _minutes(run: VideoRun) -> float:
    return (max(run.timestamps_ms.values()) - min(run.timestamps_ms.values())) / 60_000


# a recording of scores alone: the detector's rules, without the checks on the crops
@pytest.mark.filterwarnings("ignore:.*recorded without the faces' crops")
def test_still_check_picks_the_best_me_f1_within_the_rate(talking_and_clean):
    """Every setting is replayed; the best ME F1 among those within the rate is chosen, and
    the false MEs are counted per minute of all videos, the clean one included."""
    runs, params, truth = talking_and_clean
    minutes = _minutes(runs[0]) + _minutes(runs[1])
    assert validation_minutes(runs) == pytest.approx(minutes) and _minutes(runs[1]) > 0.2
    chosen, points = search_still_check(runs, truth, params, max_false_me_per_min=2.0)
    assert [(p.me_quiet_ratio, p.me_quiet_ms) for p in points] == list(STILL_CHECK_GRID)
    for point in points:
        replayed = replay_all(runs, replace(params, **point.detection))
        false_me = point.scores["ME"]["fp"]
        assert false_me == sum(kind == "ME" for *_, kind in replayed) - point.scores["ME"]["tp"]
        assert point.false_me_per_min == pytest.approx(false_me / minutes)
    within = [p for p in points if p.false_me_per_min <= 2.0]
    best_of_all = max(p.scores["ME"]["f1"] for p in points)
    assert chosen in within and chosen.scores["ME"]["f1"] == max(
        p.scores["ME"]["f1"] for p in within) > 0
    assert best_of_all > chosen.scores["ME"]["f1"], "the rate must have excluded a better F1"
    free, _ = search_still_check(runs, truth, params, max_false_me_per_min=1e6)
    assert free.scores["ME"]["f1"] == best_of_all and free.me_quiet_ratio is None
    with pytest.raises(InputError, match="max_false_me_per_min must be >= 0, got -1"):
        search_still_check(runs, truth, params, max_false_me_per_min=-1)


# a recording of scores alone: the detector's rules, without the checks on the crops
@pytest.mark.filterwarnings("ignore:.*recorded without the faces' crops")
def test_a_rate_nobody_meets_keeps_the_fewest_false_mes_and_says_so(talking_and_clean, capsys):
    """No setting within the rate: the fewest false MEs per minute (ties: the best ME F1) is
    kept, not the check off, and the table ends with a warning naming the rate reached."""
    runs, params, truth = talking_and_clean
    settings = [(None, 1000.0), (0.35, 1000.0), (0.5, 1000.0), (0.4, 1500.0)]
    chosen, points = search_still_check(runs, truth, params, settings, max_false_me_per_min=0.5)
    fewest = min(p.false_me_per_min for p in points)
    assert fewest > 0.5 and chosen.false_me_per_min == fewest
    assert chosen.scores["ME"]["f1"] == max(p.scores["ME"]["f1"] for p in points
                                            if p.false_me_per_min == fewest)
    assert chosen.me_quiet_ratio is not None
    _report_still_check("calibrate", chosen, points, 0.5)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 + len(settings)
    assert [line.startswith("* ") for line in lines[1:-1]] == [p is chosen for p in points]
    assert lines[-1] == ("calibrate: warning: no still-face check setting keeps val false MEs "
                         f"within 0.5 per minute: kept the fewest, {fewest:.2f} per minute")


# a recording of scores alone: the detector's rules, without the checks on the crops
@pytest.mark.filterwarnings("ignore:.*recorded without the faces' crops")
def test_the_chosen_still_check_is_written_and_the_engine_uses_it(talking_and_clean, spotter,
                                                                   tmp_path):
    """Both quiet fields go into the detection metadata beside the first stage's, and an
    engine on the written model runs with them."""
    runs, params, truth = talking_and_clean
    chosen, _ = search_still_check(runs, truth, params, max_false_me_per_min=2.0)
    assert (chosen.me_quiet_ratio, chosen.me_quiet_ms) != (params.me_quiet_ratio,
                                                           params.me_quiet_ms)
    first_stage = {"p": 0.35, "min_score": 0.2, "offset_lag": 0.5}
    written = write_detection(spotter, {**first_stage, **chosen.detection},
                              {"all": {"f1": 0.5}}, tmp_path / "still.onnx")
    stored = {p.key: p.value for p in onnx.load(str(written)).metadata_props}
    detection = json.loads(stored[METADATA_PREFIX + "detection"])
    assert detection == {**first_stage, "me_quiet_ratio": chosen.me_quiet_ratio,
                         "me_quiet_ms": chosen.me_quiet_ms}
    options = me.EngineOptions(running_mode="file", recognize=False, spotting_model=str(written))
    with me.Engine.from_options(options) as engine:
        used = engine.spotting_params
    assert (used.me_quiet_ratio, used.me_quiet_ms, used.p, used.min_score) == (
        chosen.me_quiet_ratio, chosen.me_quiet_ms, 0.35, 0.2)


@pytest.mark.parametrize(("flags", "message"), [
    (["--still-check", "--max-false-me-per-min", "-1"],
     "--max-false-me-per-min: expected false MEs per minute >= 0 (e.g. 1), got '-1'"),
    (["--still-check", "--max-false-me-per-min", "nan"],
     "--max-false-me-per-min: expected false MEs per minute >= 0 (e.g. 1), got 'nan'"),
    (["--max-false-me-per-min", "2"],
     "--max-false-me-per-min applies to the still-face check: add --still-check"),
    (["--still-check", "--objective", "MaE"],
     "--still-check tunes which MEs are reported: not with --objective MaE")])
def test_still_check_flags_are_validated(spotter, tmp_path, flags, message, capsys):
    """A wrong still-check flag is one error line (exit 2) before any video runs."""
    before = spotter.read_bytes()
    err = _refused([str(spotter), "--bench", str(tmp_path), *flags], capsys)
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0]
    assert spotter.read_bytes() == before
