"""One normalised interval schema for every micro-expression dataset.

Every loader turns its sheet rows into :class:`Interval` objects: one
annotated facial movement (a micro- or macro-expression) inside one clip.
Frame numbers are the dataset's own frame numbers exactly as annotated (CASME
II ``img46.jpg`` is frame 46), so they index the dataset's media directly.

This module also holds the per-dataset constants (frame rates) and the label
maps used by the standard protocols: MEGC composite classes
(negative/positive/surprise) and the CASME II five classes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .._errors import InputError
from ._au import is_au_token

__all__ = [
    "Interval",
    "IntervalKind",
    "DATASET_FPS",
    "SMIC_FPS",
    "EMOTIONS",
    "MEGC_CLASSES",
    "CASME2_CLASSES",
    "normalise_emotion",
    "megc_class",
    "megc_label",
    "casme2_class",
    "LONG_VIDEO_DATASETS",
]

IntervalKind = Literal["ME", "MaE"]
_KINDS = ("ME", "MaE")

#: Frame rate of each dataset's recordings, frames per second.  SMIC depends
#: on the camera: see :data:`SMIC_FPS`.
DATASET_FPS: dict[str, float] = {
    "casme2": 200.0,
    "samm": 200.0,
    "samm_lv": 200.0,
    "casme_sq": 30.0,
    "casme3": 30.0,
    "mmew": 90.0,
}

#: Datasets of long videos, where spotting is scored (the others are clips cut around each ME).
LONG_VIDEO_DATASETS: tuple[str, ...] = ("casme_sq", "casme3", "samm_lv")

#: SMIC frame rate per camera: high speed, visual and near-infrared.
SMIC_FPS: dict[str, float] = {"HS": 100.0, "VIS": 25.0, "NIR": 25.0}

#: Spelling variants found in the sheets -> normalised emotion label.  The
#: table is explicit: a label not listed here is only lower-cased.
_EMOTION_ALIASES: dict[str, str] = {
    "happy": "happiness",
    "happyiness": "happiness",  # a typo in the real CAS(ME)^2 sheet
    "sad": "sadness",
    "angry": "anger",
    "other": "others",
    "disgusted": "disgust",
    "surprised": "surprise",
    "fearful": "fear",
}

#: MEGC composite classes.
MEGC_CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")

#: The CASME II five-class protocol.
CASME2_CLASSES: tuple[str, ...] = ("happiness", "disgust", "repression", "surprise", "others")

#: Normalised emotion label -> MEGC composite class (``None``: excluded).
_MEGC_MAP: dict[str, str | None] = {
    "happiness": "positive",
    "positive": "positive",
    "surprise": "surprise",
    "negative": "negative",
    "anger": "negative",
    "contempt": "negative",
    "disgust": "negative",
    "fear": "negative",
    "sadness": "negative",
    "repression": "negative",
    "others": None,
}

#: Every emotion label the label maps know.  Loaders accept other labels
#: (lower-cased) too; only the class maps reject them.
EMOTIONS: frozenset[str] = frozenset(_MEGC_MAP) | {
    "helpless", "pain", "confused", "sympathy",
}


def normalise_emotion(label: str) -> str:
    """Lower-case and strip *label*, then apply the explicit spelling table.

    >>> normalise_emotion(" Happy ")
    'happiness'
    """
    text = " ".join(str(label).split()).lower()
    return _EMOTION_ALIASES.get(text, text)


def megc_class(emotion: str) -> str | None:
    """Map an emotion to its MEGC composite class, ``None`` for ``others``.

    Negative groups anger, contempt, disgust, fear, sadness and repression;
    positive is happiness; surprise stays surprise.  Labels without a
    composite class in the MEGC protocol (``helpless``, ``pain`` ...) raise:
    use the dataset's own category (``Interval.category``) for those.

    Raises:
        InputError: *emotion* has no MEGC mapping; the message lists the
            labels that have one.
    """
    label = normalise_emotion(emotion)
    if label not in _MEGC_MAP:
        raise InputError(f"emotion {emotion!r} has no MEGC composite class; "
                         f"expected one of {', '.join(sorted(_MEGC_MAP))}")
    return _MEGC_MAP[label]


def casme2_class(emotion: str) -> str:
    """Map an emotion to the CASME II five classes.

    Happiness, disgust, repression and surprise keep their label; every other
    known emotion (fear, sadness, anger, ... and ``others``) becomes
    ``"others"``, as in the CASME II protocol.

    Raises:
        InputError: *emotion* is not a known label (see :data:`EMOTIONS`).
    """
    label = normalise_emotion(emotion)
    if label not in EMOTIONS:
        raise InputError(f"unknown emotion {emotion!r}; expected one of "
                         f"{', '.join(sorted(EMOTIONS))}")
    return label if label in CASME2_CLASSES else "others"


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InputError(message)


def _is_frame(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class Interval:
    """One annotated movement (micro- or macro-expression) in one clip.

    Attributes:
        dataset: registry name of the dataset (``"casme2"``, ``"samm_lv"``...).
        subject: subject id as the dataset writes it (``"01"``, ``"006"``, ``"s15"``).
        clip: the clip or long video the interval lies in (``"EP02_01f"``,
            ``"006_1"``, ``"15_0101disgustingteeth"``); intervals of one clip
            share its frame numbering.
        onset: first frame of the movement, the dataset's frame number (>= 0).
        apex: frame of the peak, ``None`` when not annotated.  It is >= onset;
            the real CAS(ME)^2 sheet has three apexes just after the offset,
            kept as annotated.
        offset: last frame, ``None`` when not annotated (CAS(ME)^2 offset 0);
            evaluations then end the movement at :attr:`end_frame`.
        fps: frame rate of the recording, frames per second (> 0).
        aus: normalised action-unit tokens (``"L12"``, ``"4"``, ``"23/24"``,
            ``"31?"``, ``"?"``); see :mod:`mer_edge.data._au`.
        emotion: normalised lower-case emotion label, ``""`` when the dataset
            does not annotate emotions (SAMM long videos).
        kind: ``"ME"`` (micro-expression) or ``"MaE"`` (macro-expression).
        name: the sheet's own id of the interval (``"EP02_01f"``,
            ``"006_1_2"``, ``"disgust1_1"``).
        category: the dataset's own coarse emotion category when it gives one
            (CAS(ME)^2 ``negative``/``positive``/``surprise``/``others``).
        objective_class: objective class (SAMM, CAS(ME)^3), as text.
        au_text: the AU cell exactly as written, ``""`` when empty.
        frames_dir: folder of the clip's frames, once attached.
        video_path: the clip's video file, once attached.
        row: 1-based spreadsheet row the interval was read from, if any.
    """

    dataset: str
    subject: str
    clip: str
    onset: int
    apex: int | None
    offset: int | None
    fps: float
    aus: tuple[str, ...] = ()
    emotion: str = ""
    kind: IntervalKind = "ME"
    name: str = ""
    category: str | None = None
    objective_class: str | None = None
    au_text: str = ""
    frames_dir: Path | None = None
    video_path: Path | None = None
    row: int | None = None

    def __post_init__(self) -> None:
        for field in ("dataset", "subject", "clip"):
            value = getattr(self, field)
            _require(isinstance(value, str) and bool(value.strip()),
                     f"{field}: expected a non-empty str, got {value!r}")
        _require(_is_frame(self.onset), f"onset: expected an int >= 0, got {self.onset!r}")
        _require(self.offset is None or _is_frame(self.offset),
                 f"offset: expected an int >= 0 or None, got {self.offset!r}")
        _require(self.offset is None or self.offset >= self.onset,
                 f"offset: expected >= onset {self.onset}, got {self.offset}")
        _require(self.apex is None or _is_frame(self.apex),
                 f"apex: expected an int >= 0 or None, got {self.apex!r}")
        _require(self.apex is None or self.apex >= self.onset,
                 f"apex: expected >= onset {self.onset}, got {self.apex}")
        _require(isinstance(self.fps, (int, float)) and not isinstance(self.fps, bool)
                 and math.isfinite(self.fps) and self.fps > 0,
                 f"fps: expected a finite number > 0, got {self.fps!r}")
        object.__setattr__(self, "fps", float(self.fps))
        _require(self.kind in _KINDS, f"kind: expected one of {_KINDS}, got {self.kind!r}")
        _require(isinstance(self.aus, tuple), f"aus: expected a tuple, got {type(self.aus).__name__}")
        bad = [token for token in self.aus if not (isinstance(token, str) and is_au_token(token))]
        _require(not bad, f"aus: expected tokens like 'L12', '4', '23/24', '31?', got {bad!r}")
        _require(isinstance(self.emotion, str) and self.emotion == normalise_emotion(self.emotion),
                 f"emotion: expected a normalised lower-case label, got {self.emotion!r}")
        for field in ("frames_dir", "video_path"):
            value = getattr(self, field)
            _require(value is None or isinstance(value, Path),
                     f"{field}: expected a Path or None, got {type(value).__name__}")

    @property
    def end_frame(self) -> int:
        """The last frame evaluations use: the offset, else the apex, else the onset.

        44 rows of the real CAS(ME)^2 sheet (all macro-expressions with an
        apex) leave the offset unannotated (0).  MEGC spotting evaluations of
        CAS(ME)^2 end such an interval at its apex (the SOFTNet-family
        ground-truth readers: "take apex if offset is 0"), so the truth keeps
        the annotated onset-to-apex phase instead of shrinking to one frame.
        """
        if self.offset is not None:
            return self.offset
        return self.apex if self.apex is not None else self.onset

    @property
    def duration_frames(self) -> int | None:
        """Inclusive length ``offset - onset + 1`` in frames, ``None`` if the offset is unknown."""
        return None if self.offset is None else self.offset - self.onset + 1

    @property
    def duration_s(self) -> float | None:
        """Inclusive length in seconds, ``None`` if the offset is unknown."""
        frames = self.duration_frames
        return None if frames is None else frames / self.fps

    @property
    def megc_class(self) -> str | None:
        """MEGC composite class: the dataset's category when given, else from the emotion.

        ``None`` for ``others`` and for datasets without emotion labels.

        Raises:
            InputError: the emotion has no MEGC mapping and no category is given.
        """
        if self.category is not None:
            return None if self.category == "others" else megc_class(self.category)
        return megc_class(self.emotion) if self.emotion else None


def megc_label(interval: Interval) -> str | None:
    """The interval's MEGC class, or None (``others``, or an emotion with no MEGC class)."""
    try:
        return interval.megc_class
    except ValueError:
        return None
