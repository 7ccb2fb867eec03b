"""make_bench: layout, manifests, sheets readable by the real loaders, identity splits."""
from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from mer_edge._errors import DatasetError, InputError
from mer_edge.data.loaders import load_dataset, load_sheet
from mer_edge.data.synth import (DEFAULT_LAYOUT, TINY_LAYOUT, BenchSource, iter_frames,
                                 make_bench, read_bench_split)
from mer_edge.data.synth.bench import (CHECKOUT_VIDEOS, MAX_FRAMES, RECOGNITION_SHEET, SPLITS,
                                       SPOTTING_SHEET, VIDEOS_ENV, default_videos_dir)
from mer_edge.data.synth._writers import CASME2_HEADER

SEED = 5


@pytest.fixture(scope="module")
def bench(videos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bench(tmp_path_factory.mktemp("bench"), SEED, videos_dir=videos, tiny=True)


def _manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_layout_on_disk(bench: Path) -> None:
    assert (bench / "manifest.json").is_file()
    for split in SPLITS:
        root = bench / split
        assert (root / "manifest.json").is_file()
        assert (root / SPOTTING_SHEET).is_file()
        assert (root / "recognition" / RECOGNITION_SHEET).is_file()
        manifest = _manifest(root)
        for video in manifest["videos"]:
            path = root / video["video"]
            assert path.is_file() and path.suffix == ".avi"
            assert path.parent.parent.name == "rawvideo" and path.parent.name == video["subject"]
            assert path.stem == video["clip"] and path.stem.startswith(video["subject"][1:] + "_")
        for clip in manifest["recognition_clips"]:
            folder = root / clip["folder"]
            assert folder.parent.parent.name == "CASME2_RAW_selected"
            numbers = sorted(int(p.stem[3:]) for p in folder.glob("img*.jpg"))
            assert numbers == list(range(1, clip["frames"] + 1))


def test_manifest_describes_the_build(bench: Path, videos: Path) -> None:
    manifest = _manifest(bench)
    assert manifest["seed"] == SEED and manifest["tiny"] is True
    assert manifest["generator_version"] and manifest["mer_edge_version"]
    for name, source in manifest["sources"].items():
        assert source["sha256"] == _sha(videos / name)
        assert source["fps"] > 0 and source["frames"] > 0
    owners: dict[str, str] = {}
    for split in SPLITS:
        summary = manifest["splits"][split]
        for identity in summary["identities"]:
            assert owners.setdefault(identity, split) == split, "identity in two splits"
        split_manifest = _manifest(bench / split)
        assert split_manifest["micro"] == summary["micro"] >= 1
        assert summary["frames"] == sum(v["frames"] for v in split_manifest["videos"])
    test = _manifest(bench / "test")
    assert any(v["clean"] and not v["events"] for v in test["videos"])
    assert test["clean_seconds"] > 0


def test_spotting_sheet_has_the_casme_sq_layout(bench: Path) -> None:
    for split in SPLITS:
        root = bench / split
        manifest = _manifest(root)
        frames = {v["clip"]: v["frames"] for v in manifest["videos"]}
        with (root / SPOTTING_SHEET).open(newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows and rows[0][0].isdigit(), "no header row"
        for row in rows:
            assert len(row) == 11
            onset, apex, offset = int(row[2]), int(row[3]), int(row[4])
            assert 1 <= onset < apex < offset <= frames[row[10].split("/")[1]]
            assert row[7] in ("micro-expression", "macro-expression")
            assert row[6] in ("negative", "positive", "surprise", "others")
            assert int(row[9]) == offset - onset
        intervals = load_sheet("casme_sq", root / SPOTTING_SHEET)
        assert len(intervals) == len(rows)
        attached = load_dataset("casme_sq", root)
        assert all(item.video_path is not None and item.video_path.is_file() for item in attached)


def test_recognition_sheet_has_the_casme2_layout(bench: Path) -> None:
    for split in SPLITS:
        folder = bench / split / "recognition"
        with (folder / RECOGNITION_SHEET).open(newline="") as handle:
            rows = list(csv.reader(handle))
        assert tuple(rows[0]) == CASME2_HEADER
        intervals = load_dataset("casme2", folder)
        assert len(intervals) == len(rows) - 1 == _manifest(bench / split)["micro"]
        for item in intervals:
            images = len(list(item.frames_dir.glob("img*.jpg")))
            assert 1 <= item.onset < item.apex < item.offset <= images
            assert item.emotion and item.aus


def test_read_bench_split_uses_native_frame_rates(bench: Path) -> None:
    test = read_bench_split(bench / "test")
    assert test.clean_videos and all(v.path.is_file() for v in test.videos)
    fps = {v.clip: v.fps for v in test.videos}
    assert test.spotting and all(item.fps == fps[item.clip] for item in test.spotting)
    assert test.recognition and all(item.fps == 30.0 for item in test.recognition)
    assert all(item.dataset == "synth" for item in test.spotting + test.recognition)


def test_clean_copy_differs_only_during_movements(bench: Path) -> None:
    manifest = _manifest(bench / "test")
    injected = next(v for v in manifest["videos"] if not v["clean"])
    clean = next(v for v in manifest["videos"] if v["clean"])
    assert injected["source_frames"] == clean["source_frames"]
    moving = np.zeros(injected["frames"], dtype=bool)
    for event in injected["events"]:
        moving[event["onset"]:event["offset"] - 1] = True  # 1-based, ends at rest
    pairs = zip(iter_frames(bench / "test" / injected["video"]),
                iter_frames(bench / "test" / clean["video"]))
    differs = [not np.array_equal(a, b) for a, b in pairs]
    assert len(differs) == injected["frames"]
    assert not any(d for d, m in zip(differs, moving) if not m)
    assert any(differs)


def test_same_seed_same_bench(bench: Path, videos: Path, tmp_path: Path) -> None:
    again = make_bench(tmp_path / "again", SEED, videos_dir=videos, tiny=True)
    for split in SPLITS:
        assert (again / split / SPOTTING_SHEET).read_bytes() == \
            (bench / split / SPOTTING_SHEET).read_bytes()
        assert _manifest(again / split) == _manifest(bench / split)
        for video in _manifest(bench / split)["videos"]:
            assert _sha(again / split / video["video"]) == _sha(bench / split / video["video"])
    other = make_bench(tmp_path / "other", SEED + 1, videos_dir=videos,
                       layout={"test": TINY_LAYOUT["test"][:1]})
    assert (other / "test" / SPOTTING_SHEET).read_bytes() != \
        (bench / "test" / SPOTTING_SHEET).read_bytes()


def test_videos_folder_comes_from_the_environment(videos: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VIDEOS_ENV, raising=False)
    with pytest.raises(InputError, match=VIDEOS_ENV):
        make_bench(tmp_path / "none", 0, tiny=True)
    monkeypatch.setenv(VIDEOS_ENV, str(videos))
    root = make_bench(tmp_path / "env", 0, layout={"val": TINY_LAYOUT["val"]})
    assert (root / "val" / SPOTTING_SHEET).is_file()


def test_default_videos_folder_is_the_environment_then_the_checkout(
        videos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VIDEOS_ENV, str(tmp_path / "missing"))
    assert default_videos_dir() == tmp_path / "missing"  # named even when missing: errors say so
    monkeypatch.delenv(VIDEOS_ENV)
    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # the repository root
    assert default_videos_dir() == CHECKOUT_VIDEOS and CHECKOUT_VIDEOS.resolve() == videos.resolve()
    monkeypatch.chdir(tmp_path)  # elsewhere: found beside this package's source tree
    assert default_videos_dir().resolve() == videos.resolve()


def test_make_bench_refuses_bad_requests(videos: Path, tmp_path: Path, bench: Path) -> None:
    with pytest.raises(InputError, match="not empty"):
        make_bench(bench, SEED, videos_dir=videos, tiny=True)
    shared = {"train": (BenchSource("lp_d3.mp4", "woman", "a", 0, 60),),
              "test": (BenchSource("lp_d3.mp4", "woman", "b", 60, 120),)}
    with pytest.raises(InputError, match="one split"):
        make_bench(tmp_path / "a", 0, videos_dir=videos, layout=shared)
    with pytest.raises(DatasetError, match="missing"):
        make_bench(tmp_path / "b", 0, videos_dir=videos,
                   layout={"test": (BenchSource("nope.mp4", "x", "x"),)})
    with pytest.raises(DatasetError):
        make_bench(tmp_path / "c", 0, videos_dir=tmp_path / "no-such-folder", tiny=True)
    for seed in (-1, 1.5, True):
        with pytest.raises(InputError):
            make_bench(tmp_path / "d", seed, videos_dir=videos, tiny=True)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        BenchSource("a.mp4", "x", "bad-title")
    with pytest.raises(InputError, match="longer"):
        BenchSource("a.mp4", "x", "long", 0, MAX_FRAMES + 1)


def test_default_layout_splits_by_identity() -> None:
    owners: dict[str, str] = {}
    for split, sources in DEFAULT_LAYOUT.items():
        for source in sources:
            assert owners.setdefault(source.identity, split) == split
            if source.stop is not None:
                assert source.stop - source.start <= MAX_FRAMES
    test = DEFAULT_LAYOUT["test"]
    assert len({s.identity for s in test}) >= 2
    assert any(s.clean for s in test) and any(not s.clean for s in test)
    assert {s.file for s in test if s.clean} >= {"default.wmv", "lp_d19.mp4"}


def _own_videos(videos: Path, folder: Path) -> Path:
    """A user's folder: three people's recordings under their own names."""
    import shutil

    folder.mkdir()
    for source, name in (("lp_d6.mp4", "anna.mp4"), ("lp_d3.mp4", "ben.mp4"),
                         ("lp_d19.mp4", "cleo-2.mp4")):
        shutil.copy(videos / source, folder / name)
    return folder


def test_a_layout_file_builds_a_bench_from_the_users_own_videos(videos: Path,
                                                                tmp_path: Path) -> None:
    from mer_edge.cli import main

    own = _own_videos(videos, tmp_path / "mine")
    layout = {"train": [{"file": "anna.mp4", "identity": "anna", "stop": 75}],
              "val": [{"file": "ben.mp4", "identity": "ben", "stop": 75}],
              "test": [{"file": "cleo-2.mp4", "identity": "cleo", "stop": 75},
                       {"file": "cleo-2.mp4", "identity": "cleo", "stop": 75, "clean": True}]}
    (tmp_path / "layout.json").write_text(json.dumps(layout))
    out = tmp_path / "bench"
    assert main(["data", "make-bench", "--out", str(out), "--seed", "1", "--videos", str(own),
                 "--layout", str(tmp_path / "layout.json")]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert {name: entry["identity"] for name, entry in manifest["sources"].items()} == {
        "anna.mp4": "anna", "ben.mp4": "ben", "cleo-2.mp4": "cleo"}
    test = _manifest(out / "test")
    assert len(test["videos"]) == 2 and sum(v["clean"] for v in test["videos"]) == 1
    assert all("cleo2" in v["clip"] for v in test["videos"])  # the title comes from the file name
    assert all(v["frames"] == 75 for split in SPLITS for v in _manifest(out / split)["videos"])


@pytest.mark.parametrize("layout, message", [
    ("{not json", "not JSON"),
    ('{"holdout": [{"file": "anna.mp4", "identity": "anna"}]}', "expected an object with some"),
    ('{"train": []}', "train must be a non-empty list"),
    ('{"train": [{"file": "anna.mp4"}]}', r"train\[0\]: missing \['identity'\]"),
    ('{"train": [{"file": "anna.mp4", "identity": "a", "speed": 2}]}', "unknown keys \\['speed'\\]"),
    ('{"train": [{"file": "anna.mp4", "identity": "a", "start": 9, "stop": 3}]}', "is empty"),
    ('{"train": [{"file": "anna.mp4", "identity": "a"}], "test": [{"file": "ben.mp4", '
     '"identity": "a"}]}', "a person must stay in one split"),
    ('{"train": [{"file": "nobody.mp4", "identity": "a"}]}', "source videos missing: nobody.mp4"),
])
def test_a_bad_layout_file_is_named(videos: Path, tmp_path: Path, capsys, layout: str,
                                    message: str) -> None:
    import re

    from mer_edge.cli import main

    own = _own_videos(videos, tmp_path / "mine")
    (tmp_path / "layout.json").write_text(layout)
    code = main(["data", "make-bench", "--out", str(tmp_path / "bench"), "--videos", str(own),
                 "--layout", str(tmp_path / "layout.json")])
    err = capsys.readouterr().err
    assert code == 2 and re.search(message, err), err
    assert not list((tmp_path / "bench").glob("*/manifest.json"))  # nothing half-built
