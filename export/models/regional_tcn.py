"""Regional-flow temporal CNN spotter: a learned score on a second of regional motion.

Each time step's flow field (``flow_x``, ``flow_y`` from ``k`` ms earlier)
is pooled over the runtime's facial regions of interest
(:func:`mer_edge._flow.roi_masks`) into mean x, mean y and mean magnitude
per region.  A stack of dilated 1-D convolutions reads that ``(3R, T)``
sequence and gives a logit per time step.  The exported score is the one of
step ``T - 1 - lag``: the network sees ``lag`` steps after the frame it
scores, so it can tell a movement that returns to neutral within half a
second (a micro-expression) from sustained motion such as speech.  The
engine hands such a score to the frame ``lag_ms`` before the window's end
(``window.lag_ms`` in the metadata).

Pooling before any learned layer keeps the network small and makes it
indifferent to the texture of the face it was trained on, which is what a
detector trained on a handful of identities needs.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mer_edge._flow import roi_masks

from ._blocks import frame_bce, split_channels

__all__ = ["RegionalTemporalSpotter"]

_FLOW = ("flow_x", "flow_y")


class RegionalTemporalSpotter(nn.Module):
    """``(B, T, C, S, S)`` clips -> per-step logits over pooled regional flow.

    Args:
        channels: input channel names (must include ``flow_x`` and ``flow_y``).
        frames: window length ``T``.
        size: crop size ``S`` of the flow maps.
        width: convolution channels.
        lag: steps after the scored one that the network may look at.
    """

    def __init__(self, channels: tuple[str, ...], frames: int, size: int, width: int = 16,
                 lag: int = 0) -> None:
        super().__init__()
        if not set(_FLOW) <= set(channels):
            raise ValueError(f"the regional spotter needs flow_x and flow_y channels, got {channels}")
        if not 0 <= lag < frames:
            raise ValueError(f"lag must be in [0, frames), got lag={lag}, frames={frames}")
        self.channels = tuple(channels)
        self.frames = frames
        self.lag = lag
        masks = roi_masks(size).reshape(-1, size * size).astype(np.float32)
        pool = torch.from_numpy((masks / masks.sum(axis=1, keepdims=True)).T.copy())
        self.register_buffer("region_pool", pool)  # (S*S, R)
        regions = pool.shape[1]
        layers: list[nn.Module] = []
        cin = 3 * regions
        for dilation in (1, 2, 4):
            layers += [nn.Conv1d(cin, width, 5, padding=2 * dilation, dilation=dilation), nn.ReLU()]
            cin = width
        self.body = nn.Sequential(*layers)
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Conv1d(width, 1, 1)

    def regional_motion(self, clip: torch.Tensor) -> torch.Tensor:
        """``(B, 3R, T)``: mean flow x, mean flow y, mean magnitude per region and step."""
        flow = split_channels(clip, self.channels, _FLOW)  # (B, T, 2, S, S)
        flat = flow.flatten(3)  # (B, T, 2, S*S)
        magnitude = torch.sqrt(flat[:, :, 0] ** 2 + flat[:, :, 1] ** 2 + 1e-12)
        pooled = torch.cat([flat[:, :, 0] @ self.region_pool, flat[:, :, 1] @ self.region_pool,
                            magnitude @ self.region_pool], dim=2)  # (B, T, 3R)
        return pooled.transpose(1, 2)

    def frame_logits(self, clip: torch.Tensor) -> torch.Tensor:
        """Per-step logits ``(B, T)``."""
        return self.head(self.dropout(self.body(self.regional_motion(clip)))).squeeze(1)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        """Score ``(B,)`` in [0, 1] of step ``T - 1 - lag``."""
        return torch.sigmoid(self.frame_logits(clip)[:, self.frames - 1 - self.lag])

    def finetune_loss(self, clip: torch.Tensor, labels: torch.Tensor, aux_weight: float
                      ) -> tuple[torch.Tensor, dict[str, float]]:
        """Per-step BCE; the scored step weighs 4x (``aux_weight`` is unused: no auxiliary task)."""
        bce = frame_bce(self.frame_logits(clip), labels, self.frames - 1 - self.lag)
        return bce, {"bce": bce.item()}
