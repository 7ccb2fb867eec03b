"""Event, track and video writers: formats, flushing, refusals."""
from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

import mer_edge as me
from mer_edge._sinks import (EVENT_COLUMNS, CsvEventWriter, JsonlEventWriter, TrackWriter,
                             VideoWriter, open_event_writer, open_first_video_writer)

CLASSES = ("negative", "positive", "surprise")


def _event(onset: int = 10, label: str = "positive", kind: str = "ME") -> me.MicroExpression:
    interval = me.SpottedInterval(track_id=1, onset_frame=onset, apex_frame=onset + 3,
                                  offset_frame=onset + 8, onset_ms=onset * 33.3,
                                  apex_ms=(onset + 3) * 33.3, offset_ms=(onset + 8) * 33.3,
                                  score=0.7, kind=kind)
    probs = {"negative": 0.1, "positive": 0.7, "surprise": 0.2}
    return me.MicroExpression(interval, label, probs)


def _face(frame: int, track_id: int = 0, score: float = float("nan")) -> me.FaceTrack:
    return me.FaceTrack(track_id, frame, frame * 40.0, np.array([1, 2, 30, 40], np.float32),
                        np.zeros((468, 2), np.float32), score)


def test_jsonl_events_are_readable_while_the_writer_is_open(tmp_path):
    path = tmp_path / "e.jsonl"
    with JsonlEventWriter(path) as writer:
        writer.write(_event(10))
        first = path.read_text().splitlines()
        writer.write(_event(40))
        second = path.read_text().splitlines()
    assert len(first) == 1 and len(second) == 2
    record = json.loads(first[0])
    assert set(record) >= set(EVENT_COLUMNS) | {"probs"}
    assert record["type"] == "ME" and record["onset_frame"] == 10 and record["track_id"] == 1
    assert record["probs"] == {"negative": 0.1, "positive": 0.7, "surprise": 0.2}


def test_csv_writes_header_first_and_flattens_probs(tmp_path):
    path = tmp_path / "e.csv"
    with CsvEventWriter(path, CLASSES) as writer:
        header_only = path.read_text()
        writer.write(_event(5))
        rows = list(csv.DictReader(path.open()))
    assert header_only.strip().split(",") == list(EVENT_COLUMNS) + [f"prob_{c}" for c in CLASSES]
    assert len(rows) == 1
    assert rows[0]["label"] == "positive" and float(rows[0]["prob_surprise"]) == pytest.approx(0.2)
    assert int(rows[0]["apex_frame"]) == 8


def test_csv_refuses_a_class_that_has_no_column(tmp_path):
    with CsvEventWriter(tmp_path / "e.csv", ("negative", "positive")) as writer:
        with pytest.raises(me.InputError, match="surprise"):
            writer.write(_event())


def test_events_without_recognition_have_no_prob_columns(tmp_path):
    path = tmp_path / "e.csv"
    interval = _event().interval
    with CsvEventWriter(path) as writer:
        writer.write(me.MicroExpression(interval, "unknown", {}))
    header, row = path.read_text().splitlines()
    assert header.split(",") == list(EVENT_COLUMNS)
    assert row.split(",")[-1] == "unknown"


@pytest.mark.parametrize("name, kind", [("a.jsonl", JsonlEventWriter), ("a.JSONL", JsonlEventWriter),
                                        ("a.csv", CsvEventWriter)])
def test_format_follows_the_suffix(tmp_path, name, kind):
    with open_event_writer(tmp_path / name, CLASSES) as writer:
        assert isinstance(writer, kind)


@pytest.mark.parametrize("name", ["events.txt", "events", "events.xlsx"])
def test_unknown_event_format_is_refused(tmp_path, name):
    with pytest.raises(me.InputError, match="jsonl or .csv"):
        open_event_writer(tmp_path / name)


def test_unwritable_path_is_an_input_error(tmp_path):
    with pytest.raises(me.InputError, match="cannot write events"):
        JsonlEventWriter(tmp_path / "missing" / "e.jsonl")


def test_writing_after_close_is_refused_and_close_is_idempotent(tmp_path):
    writer = JsonlEventWriter(tmp_path / "e.jsonl")
    writer.close()
    writer.close()
    with pytest.raises(me.InputError, match="closed"):
        writer.write(_event())


def test_tracks_one_line_per_face_per_frame(tmp_path):
    path = tmp_path / "t.jsonl"
    with TrackWriter(path) as writer:
        writer.write([_face(0, 0), _face(0, 1, 0.25)])
        writer.write([])
        assert len(path.read_text().splitlines()) == 2
        writer.write([_face(1, 0)])
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["frame"], r["track_id"]) for r in rows] == [(0, 0), (0, 1), (1, 0)]
    assert rows[0]["box"] == [1.0, 2.0, 30.0, 40.0] and rows[0]["score"] is None
    assert rows[1]["score"] == 0.25 and rows[2]["timestamp_ms"] == 40.0
    assert set(rows[0]) >= {"frame", "timestamp_ms", "track_id", "box"}


def test_video_writer_opens_on_first_frame_and_checks_size(tmp_path):
    import cv2

    path = tmp_path / "v.avi"
    frame = np.zeros((48, 64, 3), np.uint8)
    with VideoWriter(path, 15) as writer:
        writer.write(frame)
        writer.write(frame)
        with pytest.raises(me.InputError, match="differs"):
            writer.write(np.zeros((50, 64, 3), np.uint8))
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened() and int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 2
    capture.release()


@pytest.mark.parametrize("name, message", [("v.gif", "unsupported suffix"), ("v", "unsupported")])
def test_video_writer_refuses_unknown_suffix(tmp_path, name, message):
    with pytest.raises(me.InputError, match=message):
        VideoWriter(tmp_path / name, 30)


def test_first_writable_video_format_is_used(tmp_path):
    writer = open_first_video_writer([tmp_path / "nope" / "v.mp4", tmp_path / "v.avi"], 30, (64, 48))
    with writer:
        writer.write(np.zeros((48, 64, 3), np.uint8))
    assert writer.path == tmp_path / "v.avi" and writer.path.stat().st_size > 0
    with pytest.raises(me.InputError, match="no video format"):
        open_first_video_writer([tmp_path / "nope" / "v.mp4"], 30, (64, 48))


needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")


@needs_dev_full
@pytest.mark.parametrize("make, record, what", [
    (JsonlEventWriter, _event(), "events"),
    (lambda path: CsvEventWriter(path), None, "events"),  # the header already fails
    (TrackWriter, [_face(0)], "tracks"),
])
def test_a_full_disk_names_the_file_and_close_does_not_fail_again(tmp_path, make, record, what):
    path = tmp_path / "full.out"
    path.symlink_to("/dev/full")
    with pytest.raises(me.InputError, match=f"cannot write {what} to {path}: No space left"):
        writer = make(path)
        writer.write(record)
    if record is not None:
        writer.close()  # the failed write abandoned the file: nothing left to flush
        with pytest.raises(me.InputError, match="closed"):
            writer.write(record)


def test_video_path_that_cannot_be_created_is_named_not_blamed_on_the_codec(tmp_path):
    folder = tmp_path / "v.avi"
    folder.mkdir()
    with pytest.raises(me.InputError, match=r"cannot write video to .*v\.avi: Is a directory") \
            as caught:
        VideoWriter(folder, 30).open((64, 48))
    assert "suffix" not in str(caught.value)
    written = tmp_path / "ok.avi"
    with VideoWriter(written, 30) as writer:  # the writability check keeps normal writes working
        writer.write(np.zeros((48, 64, 3), np.uint8))
    assert written.stat().st_size > 0
