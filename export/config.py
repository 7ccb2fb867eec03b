"""Training configurations: one JSON file per method, read into a dataclass.

A config names the method, the model input (frames, channels, size), the
model width and the schedule of its two stages (self-supervised
``pretrain`` and supervised ``finetune``).  The ``tiny`` block of a JSON
file overrides fields for the fast test configuration (``--tiny``).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Sequence

from mer_edge._errors import InputError, MerEdgeError
from mer_edge._modelmeta import InputSpec

__all__ = ["TrainConfig", "load_config", "CONFIG_DIR", "METHOD_CONFIGS", "METHOD_TASKS",
           "TRAIN_SIGNALS"]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
#: Method name -> the JSON file of its default configuration.
METHOD_CONFIGS = {
    "ssl3d": "ssl3d_spotter.json",
    "moext": "moext.json",
    "miacnet": "ma2mi_miacnet.json",
    "attrclip": "attrclip.json",
    "regional_tcn": "regional_tcn_spotter.json",
}
#: Method name -> the task its network does (its output head).
METHOD_TASKS = {"ssl3d": "spotting", "regional_tcn": "spotting", "moext": "recognition",
                "miacnet": "recognition", "attrclip": "recognition"}
#: Interval kinds a recognizer can train on.
TRAIN_KINDS = ("ME", "MaE")
#: What a recognizer can learn from (``train_signal``), as the model metadata describes it.
TRAIN_SIGNALS = {"observed": "the observed onset->apex input",
                 "injected": "the injected movement alone (source -> bench flow, onset->apex)"}
#: Fields that must be whole numbers, with their smallest valid value.
_INTEGER_FIELDS = {"frames": 1, "size": 1, "width": 1, "embed_dim": 1, "batch_size": 1,
                   "steps_per_epoch": 1, "pretrain_epochs": 0, "epochs": 0, "lag_frames": 0,
                   "max_videos": 0}
#: Fields that must be numbers above their bound (exclusive), or at least it (inclusive).
_POSITIVE_FIELDS = ("lr", "temperature", "flow_scale", "k_ms")
_NON_NEGATIVE_FIELDS = ("weight_decay", "aux_weight")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines one training run.

    Attributes:
        method: model family, a key of :data:`METHOD_CONFIGS`.
        name: model name written into the exported metadata.
        task: ``"spotting"`` or ``"recognition"``.
        frames, channels, size: the model input (see :class:`InputSpec`).
        flow_scale: multiplier of flow channels (crop pixels -> model units).
        k_ms: spotting motion lag (spotting only).
        lag_frames: look-ahead of a spotter: the score of a window belongs
            to its step ``frames - 1 - lag_frames`` (exported as
            ``window.lag_ms``; spotting only).
        flow_preset: DIS preset of the flow channels; written into the
            exported input spec, which the engine follows at run time.
        flow_compensation: how residual head motion is removed from the flow
            (``"translation"`` or ``"similarity"``, :mod:`mer_edge._flow`); exported
            the same way.
        width: base channel width of the networks.
        embed_dim: width of the feature embeddings.
        pretrain_epochs, epochs: epochs of the self-supervised and the
            supervised stage (0 skips a stage).
        steps_per_epoch: optimiser steps per epoch (windows are sampled).
        batch_size, lr, weight_decay: optimiser settings.
        mask_ratio: fraction of masked pixels (masked-reconstruction pre-training).
        temperature: InfoNCE temperature.
        aux_weight: weight of the auxiliary loss in fine-tuning.
        train_kinds: interval kinds used as recognition training samples
            (``ME``; adding ``MaE`` also trains on the macro-expressions'
            onset -> apex; validation always uses MEs only).
        train_signal: what a recognizer learns from: ``"observed"`` (the
            onset -> apex input, as the engine sees it) or ``"injected"`` (on a
            ``make_bench`` benchmark, the injected movement alone, measured
            against the clean source video: :mod:`mer_edge.data.injected`);
            validation always uses the observed input.
        pretrain_videos: extra real videos (names under the shared videos
            folder or paths) used for self-supervised pre-training.
        max_videos: cap on long videos per split (0: all).
        version: model version string.
    """

    method: str
    name: str
    task: str
    frames: int
    channels: tuple[str, ...]
    size: int
    flow_scale: float = 1.0
    k_ms: float = 200.0
    lag_frames: int = 0
    flow_preset: str = "ultrafast"
    flow_compensation: str = "translation"
    width: int = 8
    embed_dim: int = 32
    pretrain_epochs: int = 2
    epochs: int = 6
    steps_per_epoch: int = 60
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    mask_ratio: float = 0.6
    temperature: float = 0.1
    aux_weight: float = 0.5
    train_kinds: tuple[str, ...] = ("ME",)
    train_signal: str = "observed"
    pretrain_videos: tuple[str, ...] = ()
    max_videos: int = 0
    version: str = "1.0.0"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHOD_CONFIGS:
            raise InputError(f"unknown method {self.method!r}; valid: {sorted(METHOD_CONFIGS)}")
        if self.task != METHOD_TASKS[self.method]:
            raise InputError(f"task {self.task!r} does not fit method {self.method!r}: it is a "
                             f"{METHOD_TASKS[self.method]} method (set \"task\": "
                             f"\"{METHOD_TASKS[self.method]}\")")
        self._check_numbers()
        if not 0 <= int(self.lag_frames) < int(self.frames):
            raise InputError(f"lag_frames must be in [0, frames), got {self.lag_frames}")
        if not 0 < self.mask_ratio < 1:
            raise InputError(f"mask_ratio must be in (0, 1), got {self.mask_ratio}")
        unknown = sorted(set(self.train_kinds) - set(TRAIN_KINDS))
        if unknown or not self.train_kinds:
            raise InputError(f"train_kinds must be some of {list(TRAIN_KINDS)}, got "
                             f"{list(self.train_kinds)}")
        if self.train_signal not in TRAIN_SIGNALS:
            raise InputError(f"train_signal must be one of {list(TRAIN_SIGNALS)}, got "
                             f"{self.train_signal!r}")
        if self.train_signal != "observed" and self.task != "recognition":
            raise InputError(f"train_signal {self.train_signal!r} is for recognition methods; "
                             f"{self.method} is a spotter (leave train_signal out)")
        self.spec  # validates the input

    def _check_numbers(self) -> None:
        """Whole numbers where counts are meant; positive rates; JSON strings refused."""
        for name, least in _INTEGER_FIELDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InputError(f"{name} must be a whole number >= {least}, got {value!r}")
        for name in (*_POSITIVE_FIELDS, *_NON_NEGATIVE_FIELDS):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(f"{name} must be a number, got {value!r}")
            if value < 0 or (value == 0 and name in _POSITIVE_FIELDS):
                bound = "> 0" if name in _POSITIVE_FIELDS else ">= 0"
                raise InputError(f"{name} must be {bound}, got {value!r}")

    @property
    def spec(self) -> InputSpec:
        """The model's :class:`InputSpec` (input name ``clip``)."""
        return InputSpec(name="clip", frames=self.frames, channels=tuple(self.channels),
                         size=self.size, flow_scale=self.flow_scale, flow_preset=self.flow_preset,
                         flow_compensation=self.flow_compensation)

    def to_json(self) -> dict[str, Any]:
        plain = asdict(self)
        plain["channels"] = list(self.channels)
        plain["pretrain_videos"] = list(self.pretrain_videos)
        plain["train_kinds"] = list(self.train_kinds)
        return plain

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TrainConfig":
        """A config from its JSON object (its ``tiny`` block is checked, not applied)."""
        if not isinstance(data, dict):
            raise InputError(f"a config is a JSON object of fields, got {type(data).__name__}")
        _check_fields(data, "config fields", allowed_extra={"tiny"})
        missing = sorted(f.name for f in fields(cls) if f.name in _REQUIRED and f.name not in data)
        if missing:
            raise InputError(f"config lacks the required fields {missing}")
        tiny = data.get("tiny", {})
        if not isinstance(tiny, dict):
            raise InputError(f"the \"tiny\" block must be a JSON object, got {tiny!r}")
        _check_fields(tiny, "fields in the \"tiny\" block")
        return cls(**_tuples({k: v for k, v in data.items() if k != "tiny"}))


#: Fields without a default: every config must set them.
_REQUIRED = ("method", "name", "task", "frames", "channels", "size")


def _check_fields(data: dict[str, Any], what: str, allowed_extra: set[str] = frozenset()) -> None:
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(data) - known - allowed_extra)
    if unknown:
        raise InputError(f"unknown {what} {unknown}; valid: {sorted(known)}")


def _tuples(values: dict[str, Any]) -> dict[str, Any]:
    """JSON lists of the tuple fields as tuples."""
    out = dict(values)
    for key in ("channels", "pretrain_videos", "train_kinds"):
        if key in out:
            out[key] = tuple(out[key])
    return out


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"config {path} is not valid JSON: {error.msg} at line {error.lineno} "
                         f"column {error.colno}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read config {path}: {error}") from error


def load_config(name_or_path: str, *, tiny: bool = False,
                pretrain_videos: Sequence[str] | None = None,
                train_signal: str | None = None) -> TrainConfig:
    """A config from a method name (``ssl3d``...) or a JSON path.

    Args:
        name_or_path: a method name or a JSON config file.
        tiny: apply the config's ``tiny`` block (tests).
        pretrain_videos: replace the config's pre-training videos (paths, or
            names in the shared videos folder); empty: pre-train on the
            training split's own videos only.
        train_signal: replace the config's ``train_signal`` (None: keep it).
    """
    path = Path(name_or_path)
    if not path.suffix and name_or_path in METHOD_CONFIGS:
        path = CONFIG_DIR / METHOD_CONFIGS[name_or_path]
    if not path.is_file():
        raise InputError(f"config {name_or_path!r} is neither a method ({sorted(METHOD_CONFIGS)}) "
                         "nor a JSON file")
    data = _read_json(path)
    try:
        config = TrainConfig.from_json(data)
        if tiny:
            config = replace(config, **_tuples(data.get("tiny", {})))
        if train_signal is not None:
            config = replace(config, train_signal=train_signal)
    except MerEdgeError as error:
        raise InputError(f"config {path}: {error}") from error
    if pretrain_videos is not None:
        config = replace(config, pretrain_videos=tuple(str(v) for v in pretrain_videos))
    return config
