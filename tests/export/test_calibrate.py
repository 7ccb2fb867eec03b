"""export.calibrate: what it refuses, and that it never rewrites a model for nothing."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest

from export.calibrate import main, write_detection
from export.outputs import SHIPPED_MODELS_DIR
from mer_edge._modelmeta import METADATA_PREFIX

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
             ([str(recognizer), "--bench", str(tiny_bench / "val")], "is a recognition model"),
             ([str(tmp_path / "none.onnx"), "--bench", str(tiny_bench / "val")], "not found"),
             ([str(spotter), "--bench", str(tiny_bench / "val"), "--out", "x.txt"], ".onnx")]
    for argv, message in cases:
        assert message in _refused(argv, capsys)
    assert spotter.read_bytes() == before


def test_no_candidate_above_zero_keeps_the_model(spotter, tiny_bench, tmp_path, capsys):
    """The tiny test split (--allow-test) has an interval no grid point finds: nothing is written."""
    before = spotter.read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        main([str(spotter), "--bench", str(tiny_bench / "test"), "--allow-test",
              "--out", str(tmp_path / "copy.onnx")])
    out, err = capsys.readouterr()
    assert json.loads(out)["val"]["all"]["f1"] == 0.0
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
