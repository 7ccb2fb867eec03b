"""Video sources: files, folders, images, rotation, live dropping, bad inputs."""
from __future__ import annotations

import os
import time

import cv2
import numpy as np
import pytest

from mer_edge import InputError, SourceError
from mer_edge._sources import (DEFAULT_FPS, Frame, _CaptureReader, _ended_early, image_files,
                               open_source)

EYE_LIDS, UPPER_LIP = (159, 386), 13  # face-mesh indices


def upright(face) -> bool:
    """Eyes above the mouth: the eye-to-mouth vector points down the image."""
    down = face.landmarks[UPPER_LIP] - face.landmarks[list(EYE_LIDS)].mean(axis=0)
    return bool(down[1] > abs(down[0]))


@pytest.fixture(scope="module")
def landmarker():
    pytest.importorskip("mediapipe")
    from mer_edge._frontend import FaceLandmarker

    with FaceLandmarker(max_faces=4) as marker:
        yield marker


def need(path):
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return path


# -- Frame ---------------------------------------------------------------------------

@pytest.mark.parametrize("index, stamp, image, message", [
    (-1, 0.0, np.zeros((4, 4, 3), np.uint8), "index"),
    (0, float("nan"), np.zeros((4, 4, 3), np.uint8), "timestamp_ms"),
    (0, 0.0, np.zeros((4, 4), np.uint8), r"\(H, W, 3\) uint8 BGR, got shape \(4, 4\)"),
    (0, 0.0, np.zeros((4, 4, 3), np.float32), "float32"),
])
def test_frame_validates_itself(index, stamp, image, message):
    with pytest.raises(InputError, match=message):
        Frame(index, stamp, image)


# -- files -----------------------------------------------------------------------------

def test_default_video_has_a_face_on_every_frame(videos, landmarker):
    landmarker.reset()
    with open_source(need(videos / "default.wmv")) as frames:
        assert (frames.fps, frames.frame_count, frames.is_live) == (15.0, 288, False)
        count, stamps = 0, []
        for frame in frames:
            assert frame.index == count and frame.image.shape == (480, 640, 3)
            assert len(landmarker.detect(frame.image)) == 1, f"no face on frame {frame.index}"
            stamps.append(frame.timestamp_ms)
            count += 1
        assert count == 288 and frames.dropped == 0 and frames.error is None
    # The container's own presentation times (this WMV stores 64 ms steps).
    assert stamps[:3] == [0.0, 64.0, 128.0]
    assert np.all(np.diff(stamps) > 0)


def truncated(video, folder, keep=0.6):
    """A copy of ``video`` in ``folder`` cut after the first ``keep`` of its bytes."""
    data = video.read_bytes()
    copy = folder / video.name
    copy.write_bytes(data[:int(len(data) * keep)])
    return copy


def ended_early_message(path, read, declared):
    return (f"stopped after {read} of the {declared} frames the container of {path} declares: "
            "the file ends early (truncated or damaged)")


@pytest.mark.parametrize("read, declared, early", [
    (90, 90, False), (88, 90, False),  # a WMV's estimate: 2 short
    (87, 90, False), (86, 90, True),  # more than 3 frames short, and more than 2 %
    (0, 3, False), (0, 4, True),
    (9800, 10_000, False), (9799, 10_000, True),  # long files: 2 % of the count
    (91, 90, False),
])
def test_a_file_ended_early_only_beyond_a_containers_estimate(read, declared, early):
    assert _ended_early(read, declared) is early


@pytest.mark.parametrize("name", ["video_01.mp4", "2015-10-15-15-14.avi", "changeLighting.wmv"])
def test_a_truncated_video_file_is_said_to_have_stopped_early(videos, tmp_path, name):
    path = truncated(need(videos / name), tmp_path)
    with open_source(path) as frames:
        read = sum(1 for _ in frames)
        declared = frames.frame_count
        assert frames.error == ended_early_message(path, read, declared)
    assert 0 < read < declared - 3


def test_a_truncated_file_played_live_is_said_to_have_stopped_early(videos, tmp_path):
    path = truncated(need(videos / "video_01.mp4"), tmp_path)
    with open_source(path, live=True, fps=200) as frames:
        assert sum(1 for _ in frames) + frames.dropped == frames.frames_read
        assert frames.error == ended_early_message(path, frames.frames_read, frames.frame_count)


def test_no_whole_video_is_said_to_have_stopped_early(videos):
    """A false alarm would fail users' runs and evaluations: every shared video plays whole."""
    files = sorted(path for path in videos.iterdir() if path.is_file())
    assert len(files) >= 10
    stopped = {}
    for path in files:
        with open_source(path) as frames:
            read = sum(1 for _ in frames)
            if frames.error is not None or read == 0:
                stopped[path.name] = (read, frames.frame_count, frames.error)
    assert stopped == {}


def test_fps_overrides_the_container_time(videos):
    with open_source(need(videos / "default.wmv"), fps=100) as frames:
        stamps = [frame.timestamp_ms for _, frame in zip(range(5), frames)]
        assert frames.fps == 100
    assert stamps == pytest.approx([0, 10, 20, 30, 40])


def test_tiny_faces_give_no_face_and_no_error(videos, landmarker):
    landmarker.reset()
    with open_source(need(videos / "video_01.mp4")) as frames:
        found = [len(landmarker.detect(f.image)) for f in frames if f.index % 5 == 0]
    assert len(found) == 18 and sum(found) == 0


def test_rotation_flag_gives_upright_frames(videos, landmarker):
    """new_face_video-90.mp4 is stored portrait with rotate=90: frames come out landscape."""
    landmarker.reset()
    with open_source(need(videos / "new_face_video-90.mp4")) as frames:
        faces = []
        for frame in frames:
            if frame.index >= 150:
                break
            assert frame.image.shape == (480, 640, 3)
            if frame.index % 3 == 0:
                faces += landmarker.detect(frame.image)
    assert len(faces) >= 30
    assert np.mean([upright(face) for face in faces]) > 0.9


class _PortraitCapture:
    """A capture whose backend reports rotate=90 but cannot apply it."""

    def __init__(self):
        self.image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(6, 4, 3)  # 6 high, 4 wide

    def get(self, prop):
        return {cv2.CAP_PROP_ORIENTATION_META: 90.0, cv2.CAP_PROP_FPS: 25.0,
                cv2.CAP_PROP_FRAME_COUNT: 1.0}.get(prop, 0.0)

    def set(self, prop, value):
        return False

    def read(self):
        return True, self.image

    def release(self):
        pass


def test_rotation_is_applied_when_the_backend_cannot():
    capture = _PortraitCapture()
    reader = _CaptureReader(capture, fps=None)
    image = reader.read()
    assert image.shape == (4, 6, 3)
    np.testing.assert_array_equal(image, cv2.rotate(capture.image, cv2.ROTATE_90_CLOCKWISE))
    assert reader.fps == 25.0 and reader.frame_count == 1


def test_truncated_file_ends_cleanly(videos, tmp_path):
    data = need(videos / "multi_face.avi").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) * 2 // 5])
    with open_source(cut) as frames:
        count = sum(1 for _ in frames)
        assert 50 < count < 702 and frames.frames_read == count


# -- image folders and images ----------------------------------------------------------

def test_image_folder(videos):
    with open_source(need(videos / "openface_image_sequence")) as frames:
        assert (frames.fps, frames.frame_count) == (DEFAULT_FPS, 30)
        got = list(frames)
    assert [f.index for f in got] == list(range(30))
    stamps = [f.timestamp_ms for f in got]
    assert stamps == pytest.approx([i * 1000 / 30 for i in range(30)])
    assert all(f.image.shape == (480, 640, 3) for f in got)


def test_image_folder_natural_order_and_fps(tmp_path):
    for number in (10, 2, 1):
        cv2.imwrite(str(tmp_path / f"img{number}.png"), np.full((8, 8, 3), number, np.uint8))
    cv2.imwrite(str(tmp_path / "gray3.png"), np.full((8, 8), 3, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    with open_source(tmp_path, fps=10) as frames:
        got = list(frames)
    assert [int(f.image[0, 0, 0]) for f in got] == [3, 1, 2, 10]  # gray3, img1, img2, img10
    assert all(f.image.shape == (8, 8, 3) for f in got)
    assert [f.timestamp_ms for f in got] == pytest.approx([0, 100, 200, 300])


def test_hidden_files_of_an_image_folder_are_not_frames(tmp_path):
    """A macOS copy leaves an AppleDouble ``._img1.jpg`` (metadata, not JPEG) beside each image."""
    for number in (1, 2):
        cv2.imwrite(str(tmp_path / f"img{number}.jpg"), np.full((8, 8, 3), number, np.uint8))
        (tmp_path / f"._img{number}.jpg").write_bytes(b"\0\5\26\7" + b"\0" * 4092)
    (tmp_path / ".thumbnail.png").write_bytes(b"")
    assert [os.path.basename(p) for p in image_files(tmp_path)] == ["img1.jpg", "img2.jpg"]
    with open_source(tmp_path) as frames:
        assert len(list(frames)) == 2 and frames.error is None


def test_a_path_with_an_exclamation_mark_is_not_a_pipeline(tmp_path):
    path = tmp_path / "wow!.png"
    cv2.imwrite(str(path), np.zeros((8, 8, 3), np.uint8))
    with open_source(str(path)) as frames:
        assert len(list(frames)) == 1


def test_unreadable_image_mid_folder_ends_cleanly(tmp_path):
    for number in (1, 2, 4):
        cv2.imwrite(str(tmp_path / f"{number}.jpg"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "3.jpg").write_bytes(b"not a jpeg")
    with open_source(tmp_path) as frames:
        assert [f.index for f in frames] == [0, 1]
        assert "3.jpg" in frames.error


def test_exif_orientation_is_applied(shared_data, landmarker):
    path = need(shared_data / "images" / "meds-aa-S001-01-exif-rotation.jpg")
    with open_source(path) as frames:
        (frame,) = list(frames)
    assert frame.timestamp_ms == 0.0
    stored = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    assert frame.image.shape == (600, 480, 3) and stored.shape == (480, 600, 3)
    landmarker.reset()
    faces = landmarker.detect(frame.image)
    assert len(faces) == 1 and upright(faces[0])
    landmarker.reset()
    assert not any(upright(face) for face in landmarker.detect(stored))


# -- live ------------------------------------------------------------------------------

def test_slow_consumer_drops_the_oldest_frames(videos):
    """A file played live at 200 fps into a 2-frame queue, read at ~25 fps."""
    with open_source(need(videos / "default.wmv"), live=True, fps=200, queue_size=2) as frames:
        assert frames.is_live
        got = []
        for frame in frames:
            got.append(frame)
            time.sleep(0.04)
            if len(got) == 12:
                break
        dropped, read = frames.dropped, frames.frames_read
    assert dropped > 10
    indices = [f.index for f in got]
    assert indices == sorted(indices) and indices[-1] > len(got)  # gaps where frames dropped
    assert read >= len(got) + dropped
    stamps = [f.timestamp_ms for f in got]
    assert np.all(np.diff(stamps) > 0)
    assert abs(stamps[-1] - time.monotonic() * 1000) < 5000  # monotonic clock at grab


def test_a_queue_that_holds_the_burst_drops_nothing(videos):
    folder = need(videos / "openface_image_sequence")
    with open_source(folder, live=True, fps=300, queue_size=32) as frames:
        got = list(frames)
        assert len(got) == 30 and frames.dropped == 0 and frames.frames_read == 30
    assert [f.index for f in got] == list(range(30))


def test_close_is_idempotent_and_stops_the_reader(videos):
    frames = open_source(need(videos / "default.wmv"), live=True)
    next(iter(frames))
    started = time.monotonic()
    frames.close()
    frames.close()
    assert time.monotonic() - started < 2.0
    with pytest.raises(SourceError, match="closed"):
        iter(frames)


# -- bad inputs ------------------------------------------------------------------------

def _bad_sources(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "only_text").mkdir()
    (tmp_path / "only_text" / "a.txt").write_text("x")
    (tmp_path / "notes.mp4").write_text("not a video")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return [
        (tmp_path / "missing.mp4", "missing.mp4"),
        (str(tmp_path / "empty"), "empty holds no"),
        (tmp_path / "only_text", "only_text holds no"),
        (tmp_path / "notes.mp4", "cannot open video file .*notes.mp4"),
        (tmp_path / "broken.jpg", "cannot decode image .*broken.jpg"),
        ("", "empty path"),
        (-1, "camera -1"),
        (97, "camera 97"),
        ("97", "camera 97"),
        ("videotestsrc ! fakesink", "GStreamer pipeline 'videotestsrc ! fakesink'"),
        ("rtsp://user:secret@127.0.0.1:1/stream", r"stream rtsp://\*\*\*@127.0.0.1:1/stream"),
    ]


def test_bad_sources_name_the_source(tmp_path):
    for source, message in _bad_sources(tmp_path):
        with pytest.raises(SourceError, match=message) as caught:
            open_source(source)
        assert "secret" not in str(caught.value)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"fps": 0}, InputError, "fps"),
    ({"fps": float("inf")}, InputError, "fps"),
    ({"queue_size": 0}, InputError, "queue_size"),
    ({"live": "yes"}, InputError, "live"),
])
def test_bad_options(kwargs, error, message, tmp_path):
    with pytest.raises(error, match=message):
        open_source(tmp_path, **kwargs)


@pytest.mark.parametrize("source", [None, 2.5, True, b"video.mp4"])
def test_bad_source_types(source):
    with pytest.raises(InputError, match="source"):
        open_source(source)
