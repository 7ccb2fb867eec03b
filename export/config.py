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

from mer_edge._errors import InputError
from mer_edge._modelmeta import InputSpec

__all__ = ["TrainConfig", "load_config", "CONFIG_DIR", "METHOD_CONFIGS"]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
#: Method name -> the JSON file of its default configuration.
METHOD_CONFIGS = {
    "ssl3d": "ssl3d_spotter.json",
    "moext": "moext.json",
    "miacnet": "ma2mi_miacnet.json",
    "attrclip": "attrclip.json",
    "regional_tcn": "regional_tcn_spotter.json",
}


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
    pretrain_videos: tuple[str, ...] = ()
    max_videos: int = 0
    version: str = "1.0.0"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHOD_CONFIGS:
            raise InputError(f"unknown method {self.method!r}; valid: {sorted(METHOD_CONFIGS)}")
        if self.task not in ("spotting", "recognition"):
            raise InputError(f"task must be spotting or recognition, got {self.task!r}")
        for name in ("frames", "size", "width", "embed_dim", "batch_size", "steps_per_epoch"):
            if int(getattr(self, name)) <= 0:
                raise InputError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 <= int(self.lag_frames) < int(self.frames):
            raise InputError(f"lag_frames must be in [0, frames), got {self.lag_frames}")
        self.spec  # validates the input

    @property
    def spec(self) -> InputSpec:
        """The model's :class:`InputSpec` (input name ``clip``)."""
        return InputSpec(name="clip", frames=self.frames, channels=tuple(self.channels),
                         size=self.size, flow_scale=self.flow_scale, flow_preset=self.flow_preset)

    def to_json(self) -> dict[str, Any]:
        plain = asdict(self)
        plain["channels"] = list(self.channels)
        plain["pretrain_videos"] = list(self.pretrain_videos)
        plain["train_kinds"] = list(self.train_kinds)
        return plain

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"tiny"})
        if unknown:
            raise InputError(f"unknown config fields {unknown}; valid: {sorted(known)}")
        values = {k: v for k, v in data.items() if k in known}
        for key in ("channels", "pretrain_videos", "train_kinds"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


def load_config(name_or_path: str, *, tiny: bool = False,
                pretrain_videos: Sequence[str] | None = None) -> TrainConfig:
    """A config from a method name (``ssl3d``...) or a JSON path.

    Args:
        name_or_path: a method name or a JSON config file.
        tiny: apply the config's ``tiny`` block (tests).
        pretrain_videos: replace the config's pre-training videos (paths, or
            names in the shared videos folder); empty: pre-train on the
            training split's own videos only.
    """
    path = Path(name_or_path)
    if not path.suffix and name_or_path in METHOD_CONFIGS:
        path = CONFIG_DIR / METHOD_CONFIGS[name_or_path]
    if not path.is_file():
        raise InputError(f"config {name_or_path!r} is neither a method ({sorted(METHOD_CONFIGS)}) "
                         "nor a JSON file")
    data = json.loads(path.read_text(encoding="utf-8"))
    config = TrainConfig.from_json(data)
    if tiny:
        overrides = dict(data.get("tiny", {}))
        for key in ("channels", "pretrain_videos", "train_kinds"):
            if key in overrides:
                overrides[key] = tuple(overrides[key])
        config = replace(config, **overrides)
    if pretrain_videos is not None:
        config = replace(config, pretrain_videos=tuple(str(v) for v in pretrain_videos))
    return config
