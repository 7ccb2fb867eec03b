"""Tests of mer_edge.data: AU parsing, the interval schema, sheet and folder loaders.

Real annotation sheets are read from ``../shared/data/annotations`` next to
the repository (skipped when absent); the other datasets use small fixture
sheets and fake frame folders written into ``tmp_path`` by the tests.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pytest

from mer_edge._errors import DatasetError, InputError
from mer_edge.data import (
    DATASETS,
    Interval,
    casme2_class,
    inspect_main,
    load_dataset,
    load_sheet,
    megc_class,
    parse_aus,
    summarise,
)

ANNOTATIONS = Path(__file__).resolve().parents[2] / "../shared/data/annotations"


def _real(name: str) -> Path:
    path = ANNOTATIONS / name
    if not path.is_file():
        pytest.skip(f"real annotation sheet {name} not available")
    return path


def write_sheet(path: Path, rows: list[list[Any]]) -> Path:
    """Write *rows* as .xlsx (openpyxl) or .csv depending on the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)
    else:
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        for row in rows:
            sheet.append(row)
        workbook.save(path)
    return path


def write_frames(folder: Path, names: list[str]) -> Path:
    """Create *folder* with tiny images named *names*."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    pixel = np.zeros((2, 2, 3), np.uint8)
    for name in names:
        assert cv2.imwrite(str(folder / name), pixel)
    return folder


SAMM_HEADER = ["Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame",
               "Offset Frame", "Duration", "Micro", "Action Units", "Estimated Emotion",
               "Objective Classes", "Notes"]
SAMM_PREAMBLE = [["SAMM Micro-Movement Database - FACS Codes"], [], ["Symbol Key:"], []]
CASME3_HEADER = ["Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class",
                 "emotion"]
MMEW_HEADER = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "AU",
               "Estimated Emotion"]
SMIC_HEADER = ["Subject", "Filename", "Emotion", "OnsetFrame", "OffsetFrame"]
CASME2_HEADER = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame",
                 "Action Units", "Estimated Emotion"]


# ---------------------------------------------------------------------------
# AU parsing
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(("cell", "expected"), [
    (None, ()),
    ("", ()),
    (12, ("12",)),
    (12.0, ("12",)),
    ("4+L10", ("4", "L10")),
    ("R6+R12", ("R6", "R12")),
    ("A12B", ("12",)),
    ("AU12+AU4", ("12", "4")),
    ("4(B/C)+7B", ("4", "7")),
    ("(L/A)12(B/A)", ("L12/12",)),
    ("R(12or14)B", ("R12/R14",)),
    ("(R6 or R12)+R15", ("R6/R12", "R15")),
    ("10or11", ("10/11",)),
    ("23/24", ("23/24",)),
    ("10A/B", ("10",)),
    ("1+2+25,24", ("1", "2", "25", "24")),
    ("ref(7)+24", ("7", "24")),
    ("31?", ("31?",)),
    ("12B ?", ("12?",)),
    ("?", ("?",)),
    ("NULL", ()),
    ("4+glare", ("4",)),
    ("Chewing", ()),
    ("double 45", ("45?",)),
    ("(1B+2A)or(loses AU4)", ("1?", "2?", "4?")),
    ("6C/D+ref(7)12E+25", ("6", "7?", "12?", "25")),
    ("4+7+4", ("4", "7")),
])
def test_parse_aus(cell: Any, expected: tuple[str, ...]) -> None:
    assert parse_aus(cell) == expected


# ---------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------
def _interval(**changes: Any) -> Interval:
    fields: dict[str, Any] = dict(dataset="casme2", subject="01", clip="EP02_01f", onset=46,
                                  apex=59, offset=86, fps=200.0, aus=("12",),
                                  emotion="happiness", kind="ME")
    fields.update(changes)
    return Interval(**fields)


@pytest.mark.parametrize(("changes", "message"), [
    ({"onset": -1}, "onset"),
    ({"onset": 1.5}, "onset"),
    ({"offset": 40}, "offset"),
    ({"apex": 45}, "apex"),
    ({"fps": 0}, "fps"),
    ({"fps": float("nan")}, "fps"),
    ({"kind": "micro"}, "kind"),
    ({"aus": ["12"]}, "aus"),
    ({"aus": ("AU12",)}, "aus"),
    ({"emotion": "Happiness"}, "emotion"),
    ({"subject": ""}, "subject"),
    ({"frames_dir": "frames"}, "frames_dir"),
])
def test_interval_rejects(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        _interval(**changes)


def test_interval_accepts_unknown_apex_and_offset() -> None:
    item = _interval(apex=None, offset=None)
    assert item.duration_frames is None and item.duration_s is None
    assert item.end_frame == 46  # neither offset nor apex: the onset
    assert _interval(offset=None).end_frame == 59  # no offset: the apex
    assert _interval().end_frame == 86
    assert _interval().duration_frames == 41
    assert _interval().duration_s == pytest.approx(41 / 200)


@pytest.mark.parametrize(("emotion", "megc", "casme2"), [
    ("happiness", "positive", "happiness"),
    ("Happy", "positive", "happiness"),
    ("disgust", "negative", "disgust"),
    ("repression", "negative", "repression"),
    ("fear", "negative", "others"),
    ("sadness", "negative", "others"),
    ("anger", "negative", "others"),
    ("contempt", "negative", "others"),
    ("surprise", "surprise", "surprise"),
    ("others", None, "others"),
    ("Other", None, "others"),
])
def test_class_maps(emotion: str, megc: str | None, casme2: str) -> None:
    assert megc_class(emotion) == megc
    assert casme2_class(emotion) == casme2


def test_class_maps_reject_unknown_labels() -> None:
    with pytest.raises(InputError, match="negative"):
        megc_class("helpless")
    with pytest.raises(InputError, match="unknown emotion"):
        casme2_class("bored")


def test_interval_megc_class_prefers_dataset_category() -> None:
    assert _interval(emotion="helpless", category="negative").megc_class == "negative"
    assert _interval(emotion="happiness", category="others").megc_class is None
    assert _interval(emotion="").megc_class is None


# ---------------------------------------------------------------------------
# Real sheets
# ---------------------------------------------------------------------------
def test_real_casme2_sheet() -> None:
    intervals = load_sheet("casme2", _real("CASME2-coding-20140508.xlsx"))
    summary = summarise(intervals)
    assert summary == {"rows": 255, "micro": 255, "macro": 0, "subjects": 26,
                       "offset_not_annotated": 0, "emotions": {
        "disgust": 63, "fear": 2, "happiness": 32, "others": 99, "repression": 27,
        "sadness": 7, "surprise": 25}}
    first = intervals[0]
    assert (first.subject, first.clip, first.onset, first.apex, first.offset) == \
        ("01", "EP02_01f", 46, 59, 86)
    assert (first.fps, first.row, first.aus) == (200.0, 2, ("12",))
    by_row = {item.row: item for item in intervals}
    assert by_row[9].aus == ("4", "L10")
    assert sum(item.aus == ("?",) for item in intervals) == 5


@pytest.mark.parametrize("name", ["CAS(ME)^2_code_final.xlsx",
                                  "CAS(ME)^2code_final(Updated).csv"])
def test_real_casme_sq_sheets(name: str) -> None:
    intervals = load_sheet("casme_sq", _real(name))
    summary = summarise(intervals)
    assert (summary["rows"], summary["macro"], summary["micro"], summary["subjects"]) == \
        (357, 300, 57, 22)
    assert summary["emotions"]["happiness"] == 147  # incl. the "happyiness" typo
    first = intervals[0]
    assert (first.subject, first.clip, first.name, first.row) == \
        ("s15", "15_0401girlcrashing", "anger1_1", 1)
    assert first.category == "negative" and first.kind == "MaE" and first.fps == 30.0
    assert sum(item.offset is None for item in intervals) == 44  # offset 0 = unknown
    assert sum(item.apex is None for item in intervals) == 1     # apex 0 = unknown
    micro = [item.duration_frames for item in intervals if item.kind == "ME"]
    assert min(micro) >= 9 and max(micro) <= 17


def test_real_casme_sq_xlsx_and_csv_agree_on_videos() -> None:
    from_xlsx = load_sheet("casme_sq", _real("CAS(ME)^2_code_final.xlsx"))
    from_csv = load_sheet("casme_sq", _real("CAS(ME)^2code_final(Updated).csv"))
    assert [(a.subject, a.clip) for a in from_xlsx] == [(b.subject, b.clip) for b in from_csv]


def test_real_samm_lv_sheet() -> None:
    intervals = load_sheet("samm_lv", _real("SAMM_LongVideos_V2_Release.xlsx"))
    assert summarise(intervals) == {"rows": 502, "micro": 159, "macro": 343,
                                    "subjects": 30, "offset_not_annotated": 0, "emotions": {}}
    first = intervals[0]
    assert (first.row, first.subject, first.clip, first.name) == (11, "006", "006_1", "006_1_1")
    assert (first.onset, first.apex, first.offset) == (566, 648, 743)  # 566.4, 647.6, 743.2
    assert first.aus == ("4", "7") and first.au_text == "4(B/C)+7B"
    assert sum(item.apex is None for item in intervals) == 6  # apex -1


REAL_SHEETS = {"casme2": "CASME2-coding-20140508.xlsx",
               "samm_lv": "SAMM_LongVideos_V2_Release.xlsx",
               "casme_sq": "CAS(ME)^2code_final(Updated).csv"}


@pytest.mark.parametrize("owner", sorted(REAL_SHEETS))
@pytest.mark.parametrize("dataset", DATASETS)
def test_a_real_sheet_read_as_another_dataset_is_refused(owner: str, dataset: str) -> None:
    """The CASME II sheet read as SAMM gave 255 SAMM MEs (as CAS(ME)^3: 255 macro-expressions)."""
    sheet = _real(REAL_SHEETS[owner])
    if dataset == owner:
        assert load_sheet(dataset, sheet)
        return
    with pytest.raises(DatasetError, match=f"read it as '{owner}'") as info:
        load_sheet(dataset, sheet)
    assert info.value.path == str(sheet) and "this sheet belongs to" in str(info.value)


@pytest.mark.parametrize(("owner", "rows", "mark"), [
    ("samm", [*SAMM_PREAMBLE, SAMM_HEADER,
              ["006", "006_1_2", 1, 5562, 5588, 5632, 71, "Micro", "4+7", "Anger", 1, None]],
     "'Inducement Code' and an 'Estimated Emotion' column"),
    ("casme3", [CASME3_HEADER, ["spNO.1", "a", 0, 5, 14, "4", 1, "disgust"],
                ["spNO.12", "b", 0, 5, 14, "4", 1, "disgust"]], "subject named like 'spNO.1'"),
])
def test_a_fixture_sheet_read_as_another_dataset_names_its_mark(
        tmp_path: Path, owner: str, rows: list[list[Any]], mark: str) -> None:
    sheet = write_sheet(tmp_path / "sheet.xlsx", rows)
    assert load_sheet(owner, sheet)
    for dataset in sorted(set(DATASETS) - {owner}):
        with pytest.raises(DatasetError, match=f"belongs to .*{mark}.*read it as '{owner}'"):
            load_sheet(dataset, sheet)


def test_inspect_main_returns_json_summary() -> None:
    summary = inspect_main("casme_sq", str(_real("CAS(ME)^2code_final(Updated).csv")))
    assert json.loads(json.dumps(summary)) == summary
    assert set(summary) == {"rows", "micro", "macro", "subjects", "offset_not_annotated",
                            "emotions"}
    assert summary["offset_not_annotated"] == 44


def test_real_casme_sq_rows_without_offset_end_at_their_apex() -> None:
    """Offset 0 (44 macro-expressions of the real sheet): the truth runs onset..apex."""
    from mer_edge.evaluation import truth_from_interval

    sheet = _real("CAS(ME)^2code_final(Updated).csv")
    with sheet.open(newline="") as handle:
        unannotated = {number for number, row in enumerate(csv.reader(handle), start=1)
                       if int(row[4]) == 0}
    intervals = [item for item in load_sheet("casme_sq", sheet) if item.row in unannotated]
    assert len(intervals) == 44 and {item.kind for item in intervals} == {"MaE"}
    for item in intervals:
        truth = truth_from_interval(item)
        assert (truth.onset, truth.apex, truth.offset) == (item.onset - 1, item.apex - 1,
                                                           item.apex - 1)
        assert truth.offset > truth.onset  # an interval IoU can match, not one frame


# ---------------------------------------------------------------------------
# Fixture sheets of the other datasets
# ---------------------------------------------------------------------------
def test_samm_sheet_with_preamble(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx", SAMM_PREAMBLE + [
        SAMM_HEADER,
        ["006", "006_1_2", 1, 5562, 5588, 5632, 71, "Micro", "4+7", "Anger", 1, None],
        [7, "007_3_1", 3, 100, -1, 150, 51, "Micro", "R12?", "Other", 7, "note"],
        [], [None, None],
    ])
    first, second = load_sheet("samm", sheet)
    assert (first.subject, first.clip, first.row, first.emotion) == ("006", "006_1_2", 6, "anger")
    assert first.objective_class == "1" and first.fps == 200.0
    assert (second.subject, second.apex, second.aus, second.emotion) == \
        ("007", None, ("R12?",), "others")


@pytest.mark.parametrize(("sheet_name", "modality", "fps"), [
    ("SMIC_HS_annotation.xlsx", None, 100.0),
    ("smic-vis.csv", None, 25.0),
    ("annotation.csv", "NIR", 25.0),
])
def test_smic_sheet_camera(tmp_path: Path, sheet_name: str, modality: str | None,
                           fps: float) -> None:
    header = SMIC_HEADER + (["Modality"] if modality else [])
    row = ["1", "s1_ne_01", "negative", 10, 30] + ([modality] if modality else [])
    (item,) = load_sheet("smic", write_sheet(tmp_path / sheet_name, [header, row]))
    assert (item.subject, item.fps, item.apex, item.emotion) == ("s1", fps, None, "negative")


def test_smic_sheet_without_camera(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path / "annotation.csv", [SMIC_HEADER, ["s1", "c", "positive", 1, 5]])
    with pytest.raises(DatasetError, match="HS, VIS or NIR"):
        load_sheet("smic", sheet)


def test_casme3_kind_from_duration_or_type(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path / "part_A_label.xlsx", [CASME3_HEADER,
                        ["spNO.1", "a", 0, 5, 14, "4+L12", 1, "disgust"],    # 15 frames
                        ["spNO.1", "a", 100, 105, 115, "12", 2, "happy"]])  # 16 frames
    micro, macro = load_sheet("casme3", sheet)
    assert (micro.kind, macro.kind) == ("ME", "MaE")
    assert (micro.onset, micro.objective_class, macro.emotion) == (0, "1", "happiness")
    typed = write_sheet(tmp_path / "typed.csv", [CASME3_HEADER + ["Type"],
                        ["spNO.2", "b", 0, 5, 100, "4", "1", "anger", "micro-expression"]])
    assert load_sheet("casme3", typed)[0].kind == "ME"


def test_mmew_sheet(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path / "MMEW_Micro_Exp.csv", [
        MMEW_HEADER, ["S01", "S01_happiness_1", "12", "20", "31", "6+12", "happiness"], [""] * 7])
    (item,) = load_sheet("mmew", sheet)
    assert (item.subject, item.fps, item.aus, item.kind) == ("S01", 90.0, ("6", "12"), "ME")


def test_casme2_oddities(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path / "CASME2-coding.xlsx", [
        CASME2_HEADER,
        ["01", "EP02_01f", 46, "/", 86, "4+L10", " Happiness "],
        [2, "EP03_02", 31.0, 40, 61, "?", "others"],
        [], [], [None] * 7,
    ])
    first, second = load_sheet("casme2", sheet)
    assert first.apex is None and first.emotion == "happiness"
    assert (second.subject, second.onset, second.aus) == ("02", 31, ("?",))


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------
def test_unknown_dataset_lists_valid_names(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="casme2 samm smic casme_sq casme3 samm_lv mmew"):
        load_sheet("casme4", tmp_path / "x.xlsx")
    assert DATASETS == ("casme2", "samm", "smic", "casme_sq", "casme3", "samm_lv", "mmew")


@pytest.mark.parametrize(("rows", "row", "column"), [
    ([CASME2_HEADER, ["01", "EP1", "abc", 5, 9, "4", "others"]], 2, "C (OnsetFrame)"),
    ([CASME2_HEADER, ["01", "EP1", 1, 5, 9, "4", "others"],
      ["01", "EP2", 10, 12, 9, "4", "others"]], 3, "E (OffsetFrame)"),
    ([CASME2_HEADER, ["01", "EP1", 1, 5, 9, "4", None]], 2, "G (Estimated Emotion)"),
    ([CASME2_HEADER, ["01", None, 1, 5, 9, "4", "others"]], 2, "B (Filename)"),
    ([CASME2_HEADER, ["01", "EP1", -3, 5, 9, "4", "others"]], 2, "C (OnsetFrame)"),
])
def test_malformed_cells_name_row_and_column(tmp_path: Path, rows: list[list[Any]],
                                             row: int, column: str) -> None:
    sheet = write_sheet(tmp_path / "CASME2-coding.xlsx", rows)
    with pytest.raises(DatasetError) as info:
        load_sheet("casme2", sheet)
    assert (info.value.path, info.value.row, info.value.column) == (str(sheet), row, column)
    assert "CASME2-coding.xlsx" in str(info.value) and f"row {row}" in str(info.value)


@pytest.mark.parametrize(("dataset", "name", "rows", "match"), [
    ("casme2", "missing.xlsx", None, "not found"),
    ("casme2", "sheet.txt", [["a"]], "unsupported"),
    ("casme2", "noheader.xlsx", [["Subject", "Filename"], ["01", "EP1"]], "no header row"),
    ("casme2", "empty.csv", [CASME2_HEADER], "no interval rows"),
    ("samm_lv", "lv.xlsx", [["Subject", "Filename", "Onset", "Apex", "Offset", "Type",
                             "Action Units"], ["006", "006_1_1", 1, 2, 3, "Tiny", "4"]],
     "micro or macro"),
    ("samm_lv", "lv.xlsx", [["Subject", "Filename", "Onset", "Apex", "Offset", "Type",
                             "Action Units"], ["006", "0061", 1, 2, 3, "Macro", "4"]],
     "006_1_2"),
    ("casme_sq", "cas.csv", [["1", "anger1_1", "5", "6"]], "expected a value"),
    ("casme_sq", "cas.csv", [["1", "sleepy1_1", "5", "6", "9", "4", "others",
                              "micro-expression", "others"]], "unknown CAS"),
    ("casme_sq", "cas.csv", [["99", "anger1_1", "5", "6", "9", "4", "others",
                              "micro-expression", "others"]], "subject index"),
    ("casme_sq", "cas.csv", [["1", "anger1_1", "5", "6", "9", "4", "others",
                              "micro-expression", "others", "4", "15_0401"]], "sNN/NN"),
    ("casme3", "a.csv", [CASME3_HEADER, ["sp1", "a", 5, "", "x", "4", "1", "anger"]],
     "frame number"),
])
def test_malformed_sheets(tmp_path: Path, dataset: str, name: str,
                          rows: list[list[Any]] | None, match: str) -> None:
    path = tmp_path / name
    if rows is not None:
        if path.suffix == ".txt":
            path.write_text("a\n")
        else:
            write_sheet(path, rows)
    with pytest.raises(DatasetError, match=match):
        load_sheet(dataset, path)


def test_corrupt_workbook(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"not a zip file")
    with pytest.raises(DatasetError, match="cannot read workbook"):
        load_sheet("casme2", path)


def test_csv_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"1,anger1_1,\xe9\n")
    with pytest.raises(DatasetError, match="UTF-8"):
        load_sheet("casme_sq", path)


# ---------------------------------------------------------------------------
# Dataset folders
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(("variant", "folder", "image"), [
    (None, "CASME2_RAW_selected", "img46.jpg"),
    ("cropped", "Cropped", "reg_img46.jpg"),
])
def test_load_dataset_casme2(tmp_path: Path, variant: str | None, folder: str,
                             image: str) -> None:
    write_sheet(tmp_path / "CASME2-coding-20140508.xlsx",
                [CASME2_HEADER, ["01", "EP02_01f", 46, 59, 86, 12, "happiness"]])
    frames = write_frames(tmp_path / folder / "sub01" / "EP02_01f", [image])
    (item,) = load_dataset("casme2", tmp_path, variant=variant)
    assert item.frames_dir == frames and item.video_path is None


@pytest.mark.parametrize("copy", ["CASME2_RAW_selected/CASME2_RAW_selected", "."])
def test_load_dataset_casme2_common_copies(tmp_path: Path, copy: str) -> None:
    """A zip extracted twice, or the subject folders straight in the root."""
    write_sheet(tmp_path / "CASME2-coding-20140508.xlsx",
                [CASME2_HEADER, ["01", "EP02_01f", 46, 59, 86, 12, "happiness"]])
    frames = write_frames(tmp_path / copy / "sub01" / "EP02_01f", ["img46.jpg"])
    (item,) = load_dataset("casme2", tmp_path)
    assert item.frames_dir == frames


def test_a_flat_casme2_copy_is_read_only_as_its_own_variant(tmp_path: Path) -> None:
    write_sheet(tmp_path / "CASME2-coding-20140508.xlsx",
                [CASME2_HEADER, ["01", "EP02_01f", 46, 59, 86, 12, "happiness"]])
    frames = write_frames(tmp_path / "sub01" / "EP02_01f", ["reg_img46.jpg", "reg_img47.jpg"])
    (item,) = load_dataset("casme2", tmp_path, variant="cropped")
    assert item.frames_dir == frames
    with pytest.raises(DatasetError, match="media of clip 'EP02_01f'.*not found") as info:
        load_dataset("casme2", tmp_path)  # raw: cropped frames are not taken for it
    assert str(tmp_path / "CASME2_RAW_selected" / "sub01" / "EP02_01f") in str(info.value)


def test_load_dataset_missing_media(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path / "CASME2-coding-20140508.xlsx",
                        [CASME2_HEADER, ["01", "EP02_01f", 46, 59, 86, 12, "happiness"]])
    with pytest.raises(DatasetError, match="EP02_01f") as info:
        load_dataset("casme2", tmp_path)
    assert (info.value.path, info.value.row) == (str(sheet), 2)
    (item,) = load_dataset("casme2", tmp_path, require_media=False)
    assert item.frames_dir is None


def test_load_dataset_samm_and_samm_lv(tmp_path: Path) -> None:
    write_sheet(tmp_path / "SAMM_Micro_FACS_Codes_v2.xlsx", SAMM_PREAMBLE + [
        SAMM_HEADER, ["006", "006_1_2", 1, 5562, 5588, 5632, 71, "Micro", "4", "Anger", 1]])
    frames = write_frames(tmp_path / "SAMM" / "006" / "006_1_2", ["006_05562.jpg"])
    assert load_dataset("samm", tmp_path)[0].frames_dir == frames

    lv_root = tmp_path / "lv"
    write_sheet(lv_root / "SAMM_LongVideos_V2_Release.xlsx", [
        ["SAMM Long Videos Dataset - FACS Codes"], [],
        ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration",
         "Type", "Action Units", "Notes"],
        ["006", "006_1_2", 1, 3562, 3588, 3632, None, "Micro - 1/2", "4+7", None]])
    video = write_frames(lv_root / "SAMM_longvideos" / "006_1", ["006_1_0001.jpg"])
    (item,) = load_dataset("samm_lv", lv_root)
    assert (item.clip, item.frames_dir, item.kind) == ("006_1", video, "ME")


def test_load_dataset_casme_sq_prefers_updated_csv(tmp_path: Path) -> None:
    row = ["1", "disgust1_1", "10", "12", "0", "4", "negative", "micro-expression", "disgust"]
    write_sheet(tmp_path / "CAS(ME)^2_code_final.xlsx", [row])
    write_sheet(tmp_path / "CAS(ME)^2code_final(Updated).csv",
                [row + ["-10", "s15/15_0101disgustingteeth"]])
    video = tmp_path / "rawvideo" / "s15" / "15_0101disgustingteeth.avi"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"")
    frames = write_frames(tmp_path / "rawpic" / "s15" / "15_0101disgustingteeth", ["img1.jpg"])
    (item,) = load_dataset("casme_sq", tmp_path)
    assert (item.video_path, item.frames_dir, item.offset) == (video, frames, None)


def test_load_dataset_casme3_and_mmew(tmp_path: Path) -> None:
    write_sheet(tmp_path / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx",
                [CASME3_HEADER, ["spNO.1", "a", 0, 5, 14, "4", 1, "disgust"]])
    write_sheet(tmp_path / "cas(me)3_part_A_MaE_label_JpgIndex_v2.xlsx",
                [CASME3_HEADER, ["spNO.1", "a", 100, 120, 300, "12", 2, "happy"]])
    color = write_frames(tmp_path / "data" / "part_A" / "spNO.1" / "a" / "color", ["0.jpg"])
    items = load_dataset("casme3", tmp_path)
    assert sorted(item.kind for item in items) == ["ME", "MaE"]
    assert {item.frames_dir for item in items} == {color}

    mmew = tmp_path / "mmew"
    write_sheet(mmew / "MMEW_Micro_Exp.xlsx",
                [MMEW_HEADER, ["S01", "S01_h1", 1, 5, 9, "12", "happiness"]])
    clip = write_frames(mmew / "Micro_Expression" / "happiness" / "S01_h1", ["1.jpg"])
    assert load_dataset("mmew", mmew)[0].frames_dir == clip


def test_load_dataset_casme3_refuses_two_versions_of_one_sheet(tmp_path: Path) -> None:
    """An old and a v2 ME sheet side by side would count their common MEs twice."""
    rows = [["spNO.1", "a", 0, 5, 14, "4", 1, "disgust"],
            ["spNO.1", "a", 40, 44, 50, "12", 2, "happy"]]
    old = write_sheet(tmp_path / "cas(me)3_part_A_ME_label_JpgIndex.xlsx", [CASME3_HEADER, *rows])
    new = write_sheet(tmp_path / "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx",
                      [CASME3_HEADER, rows[0], ["spNO.1", "a", 41, 44, 50, "12", 2, "happy"]])
    write_sheet(tmp_path / "cas(me)3_part_A_MaE_label_JpgIndex_v2.xlsx",
                [CASME3_HEADER, ["spNO.1", "a", 100, 120, 300, "12", 2, "happy"]])
    write_frames(tmp_path / "data" / "part_A" / "spNO.1" / "a" / "color", ["0.jpg"])
    with pytest.raises(DatasetError, match="several versions of one annotation sheet") as info:
        load_dataset("casme3", tmp_path)
    assert f"{old} (row 2) and {new} (row 2)" in str(info.value)
    assert "spNO.1/a frames 0-14" in str(info.value)
    old.unlink()
    assert len(load_dataset("casme3", tmp_path)) == 3


def test_load_dataset_smic_folders(tmp_path: Path) -> None:
    micro = tmp_path / "SMIC_all_raw" / "HS" / "s1" / "micro"
    neg = write_frames(micro / "negative" / "s1_ne_01",
                       ["image106583.bmp", "image106584.bmp", "image106590.bmp"])
    (neg / "._image106500.bmp").write_bytes(b"\0" * 4096)  # a macOS AppleDouble file
    write_frames(micro / "surprise" / "s1_sur_01", ["image000010.bmp"])
    write_frames(tmp_path / "SMIC_all_raw" / "VIS" / "s1" / "micro" / "positive" / "s1_po_01",
                 ["image01.bmp", "image02.bmp"])
    items = load_dataset("smic", tmp_path)
    assert [(i.clip, i.emotion, i.onset, i.offset, i.apex, i.fps) for i in items] == [
        ("s1_ne_01", "negative", 106583, 106590, None, 100.0),
        ("s1_sur_01", "surprise", 10, 10, None, 100.0)]
    assert items[0].frames_dir == neg
    (vis,) = load_dataset("smic", tmp_path, variant="VIS")
    assert (vis.fps, vis.emotion) == (25.0, "positive")
    with pytest.raises(DatasetError, match="NIR folder not found"):
        load_dataset("smic", tmp_path, variant="NIR")


def test_load_dataset_smic_bad_class_folder(tmp_path: Path) -> None:
    write_frames(tmp_path / "HS" / "s1" / "micro" / "happy" / "c1", ["image1.bmp"])
    with pytest.raises(DatasetError, match="unexpected SMIC class folder"):
        load_dataset("smic", tmp_path)


def test_load_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="raw cropped"):
        load_dataset("casme2", tmp_path, variant="aligned")
    with pytest.raises(DatasetError, match="dataset folder not found"):
        load_dataset("casme2", tmp_path / "nope")
    with pytest.raises(DatasetError, match="no annotation sheet"):
        load_dataset("samm_lv", tmp_path)
    write_sheet(tmp_path / "CASME2-coding-a.xlsx", [CASME2_HEADER])
    write_sheet(tmp_path / "sub" / "CASME2-coding-b.xlsx", [CASME2_HEADER])
    with pytest.raises(DatasetError, match="several annotation sheets"):
        load_dataset("casme2", tmp_path)
