"""The four method networks, the regional temporal spotter, and a factory keyed by method name."""
from __future__ import annotations

from torch import nn

from ..config import TrainConfig
from ._blocks import count_params
from .attrclip import AttrClip
from .miacnet import MIACNet
from .moext import MoExt
from .regional_tcn import RegionalTemporalSpotter
from .ssl3d import SSL3DSpotter

__all__ = ["build_model", "count_params", "SSL3DSpotter", "MoExt", "MIACNet", "AttrClip",
           "RegionalTemporalSpotter", "METHOD_NAMES"]

#: Method key -> the method name written into model metadata.
METHOD_NAMES = {
    "ssl3d": "self-supervised-3d-spotting-features",
    "moext": "moext",
    "miacnet": "ma2mi-miacnet",
    "attrclip": "attribute-embedding-cross-modal-contrastive",
    "regional_tcn": "regional-flow-temporal-cnn",
}


def build_model(config: TrainConfig, n_classes: int = 3) -> nn.Module:
    """The network of ``config.method``, randomly initialised."""
    channels = tuple(config.channels)
    if config.method == "ssl3d":
        return SSL3DSpotter(channels, config.frames, config.size, config.width, config.embed_dim,
                            config.mask_ratio)
    if config.method == "regional_tcn":
        return RegionalTemporalSpotter(channels, config.frames, config.size, config.width,
                                       config.lag_frames)
    if config.method == "moext":
        return MoExt(channels, config.size, n_classes, config.width, config.embed_dim,
                     config.temperature)
    if config.method == "miacnet":
        return MIACNet(channels, config.size, n_classes, config.width, config.embed_dim)
    if config.method == "attrclip":
        return AttrClip(channels, config.frames, n_classes, config.width, config.embed_dim,
                        temperature=config.temperature)
    raise ValueError(f"unknown method {config.method!r}; valid: {sorted(METHOD_NAMES)}")
