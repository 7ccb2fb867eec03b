"""What a mer_edge model file says about itself.

Every model the runtime loads carries its description in ONNX
``metadata_props`` under keys ``mer_edge.<field>`` (values are JSON).  The
runtime never guesses what a model is from its tensor shapes: a file without
this metadata, or whose metadata disagrees with the graph or the SDK, is
refused with a :class:`~mer_edge.ModelError` that says what is wrong.

Inputs are described as a clip ``(B, T, C, H, W) float32``: ``B`` faces,
``T`` time steps, ``C`` named channels at ``H x W``.  Channel names are the
contract between the engine (which builds them) and the model:

* ``gray``: the aligned grey crop, ``(pixel/255 - mean) / std``.
* ``flow_x``, ``flow_y``: head-motion-compensated optical flow in crop pixels
  (of a ``CROP_SIZE`` crop), multiplied by ``flow_scale``.
* ``flow_mag``: the flow magnitude, same scale.

Flow is computed with the DIS preset ``flow_preset`` the model was trained with, and
residual head motion removed as its ``flow_compensation`` says (``"translation"``, the
default of files that do not say, or ``"similarity"``; :mod:`mer_edge._flow`).

For *spotting*, time step ``t`` holds the flow from frame ``t - k`` to ``t``
(``k`` from ``window.k_ms``) and the grey crop of frame ``t``; the last step is
the frame being scored.  For *recognition*, ``T`` frames are sampled evenly
from onset to apex; flow is from the onset frame to each sampled frame.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Mapping

from ._alignment import CROP_SIZE, TEMPLATE_NAME
from ._errors import ModelError
from ._flow import FLOW_COMPENSATIONS

__all__ = ["InputSpec", "ModelInfo", "CHANNELS", "FLOW_PRESETS", "TASKS", "METADATA_PREFIX"]

METADATA_PREFIX = "mer_edge."
TASKS = ("spotting", "recognition")
CHANNELS = ("gray", "flow_x", "flow_y", "flow_mag")
#: DIS optical-flow presets a model may have been trained with.
FLOW_PRESETS = ("ultrafast", "fast", "medium")
_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class InputSpec:
    """The model input: ``(B, frames, len(channels), size, size) float32``."""

    name: str
    frames: int
    channels: tuple[str, ...]
    size: int
    flow_scale: float = 1.0
    gray_mean: float = 0.5
    gray_std: float = 0.25
    flow_preset: str = "ultrafast"
    flow_compensation: str = "translation"

    def __post_init__(self) -> None:
        if self.flow_preset not in FLOW_PRESETS:
            raise ModelError(f"input flow_preset {self.flow_preset!r}: valid presets are "
                             f"{list(FLOW_PRESETS)}")
        if self.flow_compensation not in FLOW_COMPENSATIONS:
            raise ModelError(f"input flow_compensation {self.flow_compensation!r}: valid "
                             f"compensations are {list(FLOW_COMPENSATIONS)}")
        unknown = [c for c in self.channels if c not in CHANNELS]
        if unknown or not self.channels:
            raise ModelError(f"input channels {list(self.channels)}: unknown {unknown}; "
                             f"valid channels are {list(CHANNELS)}")
        if not (1 <= self.frames <= 512):
            raise ModelError(f"input frames must be in [1, 512], got {self.frames}")
        if not (8 <= self.size <= CROP_SIZE):
            raise ModelError(f"input size must be in [8, {CROP_SIZE}], got {self.size}")
        if self.gray_std <= 0 or self.flow_scale <= 0:
            raise ModelError("gray_std and flow_scale must be > 0, got "
                             f"{self.gray_std} and {self.flow_scale}")

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        """Shape with ``-1`` for the dynamic batch (faces)."""
        return (-1, self.frames, len(self.channels), self.size, self.size)


@dataclass(frozen=True)
class ModelInfo:
    """The metadata of a mer_edge model file.

    Attributes:
        name: short identifier, e.g. ``"flowmag-spotter"``.
        task: ``"spotting"`` (output ``(B,)`` score in [0, 1]) or
            ``"recognition"`` (output ``(B, n_classes)`` probabilities).
        method: the method it implements (paper short name); training-free
            stand-ins say ``"placeholder-..."`` (e.g. ``"placeholder-flow-magnitude"``).
        version: model version string.
        placeholder: True for training-free or stand-in models; the engine
            reports it so no one mistakes it for a trained model.
        input: the input specification.
        window: spotting time parameters: ``k_ms`` (motion lag),
            ``fps`` (frame rate the model was trained at) and optionally
            ``lag_ms``: the score of a window ending at ``t`` belongs to the
            frame at ``t - lag_ms`` (a model that looks ahead; 0 by default).
        detection: interval-detection parameters calibrated for this
            spotter's score on validation data (any fields of
            :class:`~mer_edge.SpottingParams`, e.g. ``p``, ``min_score``).
        class_names: recognition classes, in output order.
        alignment: template name the crops must follow.
        sdk_version: SDK version that exported the file.
        training_data: free text: what it was trained on.
        metrics: measured figures, free-form JSON.
    """

    name: str
    task: Literal["spotting", "recognition"]
    method: str
    version: str
    input: InputSpec
    placeholder: bool = False
    window: Mapping[str, float] = field(default_factory=dict)
    detection: Mapping[str, Any] = field(default_factory=dict)
    class_names: tuple[str, ...] = ()
    alignment: str = TEMPLATE_NAME
    sdk_version: str = ""
    training_data: str = ""
    metrics: Mapping[str, Any] = field(default_factory=dict)
    output_name: str = "output"

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ModelError(f"task: expected one of {TASKS}, got {self.task!r}")
        if self.task == "recognition" and len(self.class_names) < 2:
            raise ModelError(f"a recognition model needs >= 2 class_names, got {list(self.class_names)}")
        if self.task == "spotting" and float(self.window.get("k_ms", 0)) <= 0:
            raise ModelError(f"a spotting model needs window.k_ms > 0, got {dict(self.window)}")
        if self.task == "spotting" and float(self.window.get("lag_ms", 0)) < 0:
            raise ModelError(f"window.lag_ms must be >= 0, got {dict(self.window)}")
        if self.alignment != TEMPLATE_NAME:
            raise ModelError(f"model aligned with template {self.alignment!r}, this SDK uses "
                             f"{TEMPLATE_NAME!r}: re-export it with this SDK")

    # -- serialisation -----------------------------------------------------
    def to_metadata(self) -> dict[str, str]:
        """``metadata_props`` entries (all values JSON strings)."""
        plain = asdict(self)
        plain["schema"] = _SCHEMA_VERSION
        return {METADATA_PREFIX + key: json.dumps(value, sort_keys=True)
                for key, value in plain.items()}

    def to_summary(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``mer-edge models`` prints)."""
        plain = asdict(self)
        plain["input"]["shape"] = list(self.input.shape)
        return plain

    @classmethod
    def from_metadata(cls, props: Mapping[str, str], *, source: str = "model") -> "ModelInfo":
        """Parse and validate ``metadata_props``; raise :class:`ModelError` when absent/bad."""
        ours = {k[len(METADATA_PREFIX):]: v for k, v in props.items() if k.startswith(METADATA_PREFIX)}
        if not ours:
            raise ModelError(f"{source}: no mer_edge metadata (keys '{METADATA_PREFIX}*' in ONNX "
                             "metadata_props); export it with mer_edge's exporter")
        try:
            values = {k: json.loads(v) for k, v in ours.items()}
        except json.JSONDecodeError as exc:
            raise ModelError(f"{source}: metadata is not valid JSON: {exc}") from None
        schema = values.pop("schema", None)
        if schema != _SCHEMA_VERSION:
            raise ModelError(f"{source}: metadata schema {schema!r}, this SDK reads {_SCHEMA_VERSION}")
        missing = [k for k in ("name", "task", "method", "version", "input") if k not in values]
        if missing:
            raise ModelError(f"{source}: metadata lacks {missing}")
        known = set(cls.__dataclass_fields__)
        extra = sorted(set(values) - known)
        if extra:
            raise ModelError(f"{source}: unknown metadata fields {extra}")
        try:
            spec = values.pop("input")
            spec["channels"] = tuple(spec["channels"])
            values["class_names"] = tuple(values.get("class_names", ()))
            return cls(input=InputSpec(**spec), **values)
        except (TypeError, KeyError) as exc:
            raise ModelError(f"{source}: malformed metadata: {exc}") from None
