"""``mer-edge eval --dataset``: the engine scored on a real dataset's layout.

The tiny bench is written in the CAS(ME)² and CASME II layouts, so a copy
without its manifest is exactly what a user's dataset folder looks like.
"""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from mer_edge import DatasetError, InputError
from mer_edge._dataset_eval import dataset_inputs
from mer_edge.evaluation import evaluate_bench, evaluate_dataset

#: Frame number of the first image in the frame-folder copy (CASME II clips start mid-video).
FIRST_FRAME = 101


def _sheet(split: Path) -> Path:
    (sheet,) = [path for path in split.glob("*.csv")]
    return sheet


def _sheet_rows(root: Path) -> list[list[str]]:
    with _sheet(root).open(newline="") as handle:
        return list(csv.reader(handle))


def _rewrite_sheet(root: Path, change) -> list[list[str]]:
    """Apply ``change(rows)`` to the CSV sheet of a copy; return the new rows."""
    rows = _sheet_rows(root)
    change(rows)
    with _sheet(root).open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return rows


@pytest.fixture(scope="module")
def casme_copy(tiny_bench: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny test split as a user's CAS(ME)² folder: ``rawvideo/`` and the sheet, no manifest."""
    split = tiny_bench / "test"
    root = tmp_path_factory.mktemp("casme_sq")
    shutil.copytree(split / "rawvideo", root / "rawvideo")
    shutil.copy(_sheet(split), root / _sheet(split).name)
    return root


@pytest.fixture(scope="module")
def casme_frames(casme_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same videos as ``rawpic/`` frame folders numbered from FIRST_FRAME, the sheet to match."""
    root = tmp_path_factory.mktemp("casme_sq_frames")
    for video in sorted((casme_copy / "rawvideo").glob("*/*.avi")):
        folder = root / "rawpic" / video.parent.name / video.stem
        folder.mkdir(parents=True)
        capture = cv2.VideoCapture(str(video))
        number = FIRST_FRAME
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            cv2.imwrite(str(folder / f"img{number}.png"), frame)  # lossless: same pixels
            number += 1
        capture.release()
    source = _sheet(casme_copy)
    rows = _sheet_rows(casme_copy)
    for row in rows:
        for column in (2, 3, 4):  # onset, apex, offset
            row[column] = str(int(row[column]) + FIRST_FRAME - 1)
    with (root / source.name).open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return root


def _injected(report: dict) -> dict[str, dict]:
    """Per-video records of the videos with truth, by clip name."""
    return {record["video"].split("/")[-1].split(":")[-1]: record
            for record in report["per_video"] if record["truth"]}


def test_a_real_layout_copy_of_the_bench_scores_as_the_bench(tiny_bench, casme_copy, tmp_path):
    bench = evaluate_bench(tiny_bench / "test")
    dataset = evaluate_dataset("casme_sq", casme_copy, out_dir=tmp_path)
    assert dataset["dataset"] == "casme_sq"
    assert dataset["truth"] == bench["truth"]
    assert dataset["recognition"] == bench["recognition"]
    ours, theirs = _injected(dataset), _injected(bench)
    assert set(ours) == set(theirs) and ours
    for clip, record in ours.items():
        assert record["truth"] == theirs[clip]["truth"]
        assert record["detections"] == theirs[clip]["detections"]
    # The sheet lists only videos with intervals: the bench's clean copies are not in it.
    assert dataset["videos"] == len(ours) < bench["videos"]
    assert json.loads((tmp_path / "report.json").read_text())["root"] == str(casme_copy)


def test_frame_folders_are_matched_to_the_sheet_by_the_number_in_each_image_name(
        casme_copy, casme_frames):
    from_video = dataset_inputs("casme_sq", casme_copy)
    from_frames = dataset_inputs("casme_sq", casme_frames)
    assert from_frames.truth == from_video.truth  # sheet number 101 is the engine's frame 0
    assert all(video.path.is_dir() and video.fps == 30.0 for video in from_frames.videos)
    video = evaluate_dataset("casme_sq", casme_copy)
    frames = evaluate_dataset("casme_sq", casme_frames)
    assert frames["recognition"] == video["recognition"]
    assert [r["detections"] for r in frames["per_video"]] == [r["detections"] for r in video["per_video"]]


def test_a_row_whose_frames_are_missing_is_skipped_and_named(casme_frames, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(casme_frames, root)
    truth = dataset_inputs("casme_sq", root).truth[0]
    folder = next((root / "rawpic").glob(f"*/{truth.video_id.split('/')[-1]}"))
    (folder / f"img{truth.offset + FIRST_FRAME}.png").unlink()
    inputs = dataset_inputs("casme_sq", root)
    assert len(inputs.truth) == len(dataset_inputs("casme_sq", casme_frames).truth) - 1
    (skipped,) = inputs.skipped
    assert skipped.video_id == truth.video_id
    assert f"offset frame {truth.offset + FIRST_FRAME}" in skipped.reason and skipped.row is not None


def test_an_unreadable_video_is_listed_and_the_others_still_scored(casme_copy, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(casme_copy, root)
    broken = sorted((root / "rawvideo").glob("*/*.avi"))[0]
    broken.write_bytes(b"not a video" * 100)
    report = evaluate_dataset("casme_sq", root, out_dir=tmp_path / "out")
    (failed,) = report["failed_videos"]
    assert broken.stem in failed["video"] and "cannot open" in failed["error"]
    whole = evaluate_dataset("casme_sq", casme_copy)
    assert report["videos"] == whole["videos"] - 1
    assert json.loads((tmp_path / "out" / "report.json").read_text())["failed_videos"] == [failed]


def test_a_truncated_video_file_is_a_failed_video(casme_copy, tmp_path):
    """OpenCV just stops returning frames of a truncated file: its container's frame count
    tells it ended early, and the video is listed as failed, not scored on its first part."""
    root = tmp_path / "copy"
    shutil.copytree(casme_copy, root)
    cut = sorted((root / "rawvideo").glob("*/*.avi"))[0]
    data = cut.read_bytes()
    cut.write_bytes(data[:len(data) * 6 // 10])
    capture = cv2.VideoCapture(str(cut))
    declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    command = [sys.executable, "-m", "mer_edge.cli", "eval", "--dataset", "casme_sq",
               "--root", str(root), "--out", str(tmp_path / "out")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (failed,) = report["failed_videos"]
    assert cut.stem in failed["video"]
    assert failed["error"].startswith("stopped after ")
    assert f" of the {declared} frames the container of {cut} declares" in failed["error"]
    assert failed["error"] in result.stderr
    assert report["videos"] == len(dataset_inputs("casme_sq", casme_copy).videos) - 1


def test_per_video_records_agree_with_the_pooled_scores(casme_copy):
    report = evaluate_dataset("casme_sq", casme_copy)
    detections = [d for record in report["per_video"] for d in record["detections"]]
    truth = [t for record in report["per_video"] for t in record["truth"]]
    spotting = report["spotting"]["all"]
    assert len(detections) == spotting["tp"] + spotting["fp"]
    assert sum(d["true_positive"] for d in detections) == spotting["tp"]
    assert sum(t["matched_detection"] is not None for t in truth) == spotting["tp"]
    assert len(truth) == spotting["tp"] + spotting["fn"]
    recognised = [t for t in truth if "predicted" in t]
    assert len(recognised) == report["recognition"]["samples"] + report["recognition"]["no_face"]


def test_a_clip_dataset_is_scored_for_recognition_only(tiny_bench):
    report = evaluate_dataset("casme2", tiny_bench / "test" / "recognition")
    assert "spotting" not in report
    clips = dataset_inputs("casme2", tiny_bench / "test" / "recognition")
    labelled = [t for t in clips.truth if t.label is not None]
    assert labelled and report["recognition"]["samples"] == len(labelled)
    assert all(t.onset >= 0 and t.onset <= t.apex <= t.offset for t in clips.truth)
    assert report["videos"] == len(clips.videos)


def test_subjects_restrict_the_evaluation_and_an_unknown_one_is_named(casme_copy):
    inputs = dataset_inputs("casme_sq", casme_copy)
    subject = inputs.videos[0].subject
    only = dataset_inputs("casme_sq", casme_copy, subjects=[subject])
    assert only.videos and all(video.subject == subject for video in only.videos)
    with pytest.raises(DatasetError, match=f"no interval of subjects.*'{subject}'"):
        dataset_inputs("casme_sq", casme_copy, subjects=["nobody"])
    with pytest.raises(InputError, match="unknown variant"):
        dataset_inputs("casme_sq", casme_copy, variant="cropped")


def test_eval_command_on_a_dataset(casme_copy, tmp_path):
    command = [sys.executable, "-m", "mer_edge.cli", "eval"]
    result = subprocess.run(command + ["--dataset", "casme_sq", "--root", str(casme_copy),
                                       "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary["spotting"]) == {"ME", "MaE", "all"}
    assert set(summary["recognition"]) == {"accuracy", "uf1", "uar"}
    assert (tmp_path / "report.json").is_file()
    wrong = subprocess.run(command + ["--dataset", "casme_sq"], capture_output=True, text=True,
                           timeout=60)
    assert wrong.returncode != 0 and "--dataset needs --root" in wrong.stderr


SAMM_LV_SHEET = "SAMM_LongVideos_V2_Release.xlsx"


@pytest.fixture(scope="module")
def samm_lv_partial(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A partial SAMM long-video copy: the real sheet, and 121 frames (300..420) of video 006_1.

    The frames are a real face (lp_d19), named as SAMM numbers them; they cover the
    sheet's ME 006_1_4 (frames 324-403 at 200 fps) and no other interval.
    """
    root = tmp_path_factory.mktemp("samm_lv")
    shutil.copy(shared_data / "annotations" / SAMM_LV_SHEET, root / SAMM_LV_SHEET)
    folder = root / "SAMM_longvideos" / "006_1"
    folder.mkdir(parents=True)
    capture = cv2.VideoCapture(str(shared_data / "videos" / "lp_d19.mp4"))
    for number in range(300, 421):
        ok, frame = capture.read()
        assert ok
        cv2.imwrite(str(folder / f"006_1_{number:04d}.jpg"), frame)
    capture.release()
    return root


def test_a_partial_samm_long_video_copy_is_scored_on_what_is_there(samm_lv_partial, tmp_path):
    inputs = dataset_inputs("samm_lv", samm_lv_partial, subjects=["006"])
    (video,) = inputs.videos
    assert video.fps == 200.0 and video.video_id == "006/006_1"
    (truth,) = inputs.truth
    assert (truth.onset, truth.apex, truth.offset, truth.kind) == (24, 68, 103, "ME")
    reasons = [s.reason for s in inputs.skipped]
    assert len(reasons) == 33  # subject 006 has 34 intervals in the real sheet
    assert sum("media not found" in r for r in reasons) == 27  # videos 006_2 .. 006_7
    assert sum("is not among its frames" in r for r in reasons) == 6  # 006_1 outside 300..420
    report = evaluate_dataset("samm_lv", samm_lv_partial, subjects=["006"], out_dir=tmp_path)
    assert report["videos"] == 1 and report["truth"] == {"ME": 1, "MaE": 0}
    assert report["spotting"]["all"]["tp"] + report["spotting"]["all"]["fn"] == 1
    assert report["recognition"]["samples"] == 0  # SAMM long videos carry no emotion labels
    (record,) = report["per_video"]
    assert record["frames"] == 121 and record["seconds"] == pytest.approx(120 / 200, abs=1e-3)
    assert len(report["skipped_intervals"]) == 33


def test_a_copy_without_any_media_is_refused(samm_lv_partial, tmp_path):
    shutil.copy(samm_lv_partial / SAMM_LV_SHEET, tmp_path / SAMM_LV_SHEET)
    with pytest.raises(DatasetError, match="media of none of the .* intervals were found.*"
                                           "SAMM_longvideos"):
        dataset_inputs("samm_lv", tmp_path)


def test_a_clip_without_a_face_is_counted_not_scored(tiny_bench, tmp_path):
    root = tmp_path / "casme2"
    shutil.copytree(tiny_bench / "test" / "recognition", root)
    whole = evaluate_dataset("casme2", root)
    clip = sorted(root.glob("CASME2_RAW_selected/*/*"))[0]
    for image in clip.iterdir():  # the same frames with the face painted out
        frame = cv2.imread(str(image))
        frame[:] = 128
        cv2.imwrite(str(image), frame)
    report = evaluate_dataset("casme2", root)
    assert report["recognition"]["no_face"] == 1
    assert report["recognition"]["samples"] == whole["recognition"]["samples"] - 1
    (record,) = [r for r in report["per_video"] if r["path"] == str(clip)]
    assert record["truth"][0]["predicted"] is None


def test_a_row_without_offset_is_scored_from_onset_to_apex(casme_copy, tmp_path):
    """CAS(ME)² offset 0 = not annotated: the truth ends at the apex, and is recognised."""
    root = tmp_path / "copy"
    shutil.copytree(casme_copy, root)
    whole = dataset_inputs("casme_sq", casme_copy).truth[0]

    def drop_first_offset(rows: list[list[str]]) -> None:
        rows[0][4] = "0"

    rows = _rewrite_sheet(root, drop_first_offset)
    truth = dataset_inputs("casme_sq", root).truth[0]
    apex = int(rows[0][3]) - 1
    assert (truth.onset, truth.apex, truth.offset) == (whole.onset, apex, apex)
    assert truth.offset > truth.onset
    report = evaluate_dataset("casme_sq", root)
    (entry,) = [t for r in report["per_video"] for t in r["truth"]
                if (t["onset"], t["offset"]) == (truth.onset, apex)]
    assert entry["apex"] == apex
    assert truth.kind == "ME" and truth.label is not None and "predicted" in entry


def test_macos_appledouble_files_beside_the_frames_change_nothing(tiny_bench, tmp_path):
    root = tmp_path / "casme2"
    shutil.copytree(tiny_bench / "test" / "recognition", root)
    clips = sorted(root.glob("CASME2_RAW_selected/*/*"))
    for clip in clips:
        for image in list(clip.iterdir()):
            (clip / f"._{image.name}").write_bytes(b"\0\5\26\7" + b"\0" * 4092)
    clean = evaluate_dataset("casme2", tiny_bench / "test" / "recognition")
    copied = evaluate_dataset("casme2", root)
    assert "failed_videos" not in copied and copied["videos"] == len(clips)
    assert copied["recognition"] == clean["recognition"]
    assert [r["truth"] for r in copied["per_video"]] == [r["truth"] for r in clean["per_video"]]


def test_an_image_folder_that_stops_early_is_a_failed_clip(tiny_bench, tmp_path):
    """A truncated JPEG mid-clip: the clip is listed as failed, not scored on its first frames."""
    root = tmp_path / "casme2"
    shutil.copytree(tiny_bench / "test" / "recognition", root)
    clips = sorted(root.glob("CASME2_RAW_selected/*/*"))
    images = sorted(clips[0].iterdir(), key=lambda path: int(path.stem.rpartition("g")[2]))
    broken = images[len(images) // 2]
    broken.write_bytes(broken.read_bytes()[:300])
    report = evaluate_dataset("casme2", root, out_dir=tmp_path / "out")
    (failed,) = report["failed_videos"]
    assert failed["error"] == (f"stopped after {len(images) // 2} of {len(images)} images: "
                               f"{broken} cannot be decoded")
    assert str(clips[0]) not in [record["path"] for record in report["per_video"]]
    whole = evaluate_dataset("casme2", tiny_bench / "test" / "recognition")
    assert report["videos"] == whole["videos"] - 1 == len(clips) - 1
    assert report["truth"]["ME"] == whole["truth"]["ME"] - 1
    assert (report["recognition"]["samples"] + report["recognition"]["no_face"]
            == whole["recognition"]["samples"] + whole["recognition"]["no_face"] - 1)
    command = [sys.executable, "-m", "mer_edge.cli", "eval", "--dataset", "casme2",
               "--root", str(root), "--out", str(tmp_path / "cli")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and f"{broken} cannot be decoded" in result.stderr


def test_truth_past_the_end_of_a_video_is_skipped_not_missed(casme_copy, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(casme_copy, root)
    whole = evaluate_dataset("casme_sq", casme_copy)
    rows = _sheet_rows(root)
    video = root / "rawvideo" / rows[0][10].split("/")[0] / f"{rows[0][10].split('/')[1]}.avi"
    capture = cv2.VideoCapture(str(video))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()

    def end_after_the_video(rows: list[list[str]]) -> None:
        rows[0][4] = str(frames + 5)  # onset and apex inside, offset past the last frame

    _rewrite_sheet(root, end_after_the_video)
    report = evaluate_dataset("casme_sq", root, out_dir=tmp_path / "out")
    (skipped,) = report["skipped_intervals"]
    assert skipped["row"] == 1 and skipped["video"].endswith(video.stem)
    assert f"{frames} frames were decoded" in skipped["reason"]
    assert "failed_videos" not in report
    total = {kind: whole["truth"][kind] for kind in whole["truth"]}
    total[dataset_inputs("casme_sq", root).truth[0].kind] -= 1
    assert report["truth"] == total
    spotting = report["spotting"]["all"]
    assert spotting["tp"] + spotting["fn"] == sum(total.values())
    written = json.loads((tmp_path / "out" / "report.json").read_text())
    assert written["skipped_intervals"] == [skipped]


@pytest.mark.parametrize("copy", ["CASME2_RAW_selected/CASME2_RAW_selected", "."])
def test_common_casme2_copies_give_the_same_inputs(tiny_bench, tmp_path, copy):
    """The raw-frames zip extracted twice, or its subject folders straight in the root."""
    distributed = tiny_bench / "test" / "recognition"
    root = tmp_path / "casme2"
    shutil.copytree(distributed / "CASME2_RAW_selected", root / copy)
    shutil.copy(_sheet(distributed), root / _sheet(distributed).name)
    ours, theirs = dataset_inputs("casme2", root), dataset_inputs("casme2", distributed)
    assert ours.truth == theirs.truth and not ours.skipped
    assert [v.path.relative_to(root / copy) for v in ours.videos] == \
        [v.path.relative_to(distributed / "CASME2_RAW_selected") for v in theirs.videos]
