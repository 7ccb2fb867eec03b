"""The error hierarchy and ``reworded``: an error re-raised with context keeps what it is."""
from __future__ import annotations

import sys
import traceback

import pytest

from mer_edge import DatasetError, InputError, MerEdgeError
from mer_edge._errors import reworded


class _Located(InputError):
    """An error whose constructor takes more than a message (as a user's subclass may)."""

    def __init__(self, what: str, where: int) -> None:
        super().__init__(f"{what} at {where}")
        self.where = where


def _raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as caught:  # noqa: BLE001 - the test hands every kind back
        return caught


def test_a_dataset_error_keeps_its_class_and_location():
    original = _raised(DatasetError("expected a frame number", path="sheet.csv", row=4,
                                    column="onset"))
    copy = reworded(original, prefix="fold of held-out subject 07: ", suffix=" (see --help)")
    assert type(copy) is DatasetError and isinstance(copy, ValueError)
    assert (copy.path, copy.row, copy.column) == ("sheet.csv", 4, "onset")
    assert str(copy) == ("fold of held-out subject 07: expected a frame number "
                         "(file sheet.csv, row 4, column 'onset') (see --help)")
    assert copy.__cause__ is original and copy.__suppress_context__
    assert str(original) == "expected a frame number (file sheet.csv, row 4, column 'onset')"


def test_a_class_whose_constructor_takes_other_arguments_is_reworded_too():
    original = _raised(_Located("bad timestamp", 12))
    copy = reworded(original, prefix="clip.mp4, frame 12: ")
    assert type(copy) is _Located and copy.where == 12
    assert str(copy) == "clip.mp4, frame 12: bad timestamp at 12"


def test_the_copy_raises_with_the_original_traceback():
    original = _raised(InputError("resolution changed"))
    with pytest.raises(InputError) as caught:
        raise reworded(original, prefix="video.mp4, frame 3: ")
    frames = [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert "_raised" in frames  # where the error really happened is not lost
    assert str(caught.value) == "video.mp4, frame 3: resolution changed"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="notes are Python 3.11+")
def test_notes_travel_with_the_copy():
    original = _raised(MerEdgeError("x"))
    original.add_note("a note")
    assert reworded(original, prefix="p: ").__notes__ == ["a note"]
