"""Still-face source videos from portraits (``mer-edge data animate-portrait``) and a bench built on them."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mer_edge._errors import InputError
from mer_edge._frontend import FaceLandmarker
from mer_edge._portrait_video import animate_portrait
from mer_edge.cli import main


@pytest.fixture
def portrait(shared_data: Path) -> Path:
    return shared_data / "images" / "sample5.jpg"


def _frames(path: Path) -> tuple[list[np.ndarray], float]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return frames, fps


def test_the_video_shows_the_portrait_moving_with_no_expression(portrait, tmp_path):
    path = animate_portrait(portrait, tmp_path / "s5.avi", seconds=2.0, seed=4)
    frames, fps = _frames(path)
    assert len(frames) == 60 and fps == pytest.approx(30.0) and frames[0].shape == (480, 640, 3)
    with FaceLandmarker(max_faces=1) as landmarker:
        first, last = landmarker.detect(frames[0]), landmarker.detect(frames[-1])
    assert len(first) == len(last) == 1
    eyes = [33, 263]
    iod = np.linalg.norm(first[0].landmarks[eyes[0]] - first[0].landmarks[eyes[1]])
    assert 80 < iod < 110  # scaled to the demo's 95 px
    # the head moves (similarity motion), so the face's landmarks shift between frames
    assert np.abs(first[0].landmarks[:468] - last[0].landmarks[:468]).mean() > 0.5
    again = animate_portrait(portrait, tmp_path / "again.avi", seconds=2.0, seed=4)
    assert np.array_equal(_frames(again)[0][30], frames[30])  # a seed fixes motion and noise


def test_bad_arguments_are_refused(portrait, tmp_path):
    with pytest.raises(InputError, match="must end in .avi"):
        animate_portrait(portrait, tmp_path / "s5.mp4", seconds=1.0)
    with pytest.raises(InputError, match="at least two frames"):
        animate_portrait(portrait, tmp_path / "s5.avi", seconds=0.01)
    assert not list(tmp_path.iterdir())


def test_cli_writes_one_video_per_portrait_and_a_bench_injects_into_them(
        portrait, shared_data, tmp_path, capsys):
    other = shared_data / "images" / "meds-aa-S029-01.jpg"
    videos = tmp_path / "videos"
    assert main(["data", "animate-portrait", str(portrait), str(other), "--out-dir", str(videos),
                 "--seconds", "3"]) == 0
    written = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert written == [str(videos / "sample5.avi"), str(videos / "meds-aa-S029-01.avi")]
    layout = tmp_path / "layout.json"
    layout.write_text(json.dumps({"test": [{"file": "sample5.avi", "identity": "s5"},
                                           {"file": "meds-aa-S029-01.avi", "identity": "s029"}]}))
    assert main(["data", "make-bench", "--out", str(tmp_path / "bench"), "--videos", str(videos),
                 "--layout", str(layout)]) == 0
    manifest = json.loads((tmp_path / "bench" / "test" / "manifest.json").read_text())
    assert manifest["identities"] == ["s029", "s5"] and manifest["micro"] >= 2


@pytest.mark.parametrize("args, message", [
    (["{missing}"], "mer-edge: error: portrait {missing} is not a file"),
    (["{portrait}", "{portrait}"], "would both be written to"),
    (["{portrait}", "--seconds", "nan"], "at least two frames"),
])
def test_cli_refuses_what_it_cannot_write(portrait, tmp_path, capsys, args, message):
    names = {"missing": tmp_path / "missing.jpg", "portrait": portrait}
    argv = [a.format(**names) for a in args]
    assert main(["data", "animate-portrait", *argv, "--out-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mer-edge: error: ") and message.format(**names) in err
    assert not (tmp_path / "out").exists()


def test_cli_keeps_an_existing_video_unless_told(portrait, tmp_path, capsys):
    target = tmp_path / "sample5.avi"
    target.write_bytes(b"keep me")
    assert main(["data", "animate-portrait", str(portrait), "--out-dir", str(tmp_path)]) == 2
    assert "exists: pass --overwrite" in capsys.readouterr().err
    assert target.read_bytes() == b"keep me"
    assert main(["data", "animate-portrait", str(portrait), "--out-dir", str(tmp_path),
                 "--seconds", "1", "--overwrite"]) == 0
    assert len(_frames(target)[0]) == 30
