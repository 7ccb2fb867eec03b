"""mer_edge: real-time micro-expression spotting and recognition at the edge.

Typical use::

    import mer_edge as me

    options = me.EngineOptions(running_mode="file")
    with me.Engine.from_options(options) as engine:
        for result in engine.run("face.mp4"):
            for event in result.events:
                print(event.to_dict())
"""
from __future__ import annotations

from ._engine import Engine, EngineStats, FrameResult, ResultCallbackError
from ._errors import (BackendError, DatasetError, InputError, MerEdgeError, ModelError,
                      SourceError, TimestampWarning)
from ._modelmeta import InputSpec, ModelInfo
from ._models import Model, shipped_models
from ._options import EngineOptions
from ._results import FaceTrack, MicroExpression, SpottedInterval
from ._spotting import SpottingParams
from ._version import __version__

__all__ = [
    "Engine",
    "EngineOptions",
    "EngineStats",
    "FrameResult",
    "FaceTrack",
    "SpottedInterval",
    "MicroExpression",
    "SpottingParams",
    "Model",
    "ModelInfo",
    "InputSpec",
    "shipped_models",
    "MerEdgeError",
    "InputError",
    "SourceError",
    "ModelError",
    "BackendError",
    "DatasetError",
    "ResultCallbackError",
    "TimestampWarning",
    "__version__",
]
