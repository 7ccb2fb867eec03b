"""Attribute embedding with cross-modal contrastive learning.

A two-stream 3-D CNN (grey sequence, flow sequence) is fused into a visual
embedding.  In training, the FACS action units of each sample, written as
text ("AU4 brow lowerer, AU7 lid tightener"), are embedded by a frozen
pre-trained sentence encoder (see :mod:`..text`); an InfoNCE loss aligns a
projection of the visual embedding with the text embedding, next to the
classification loss.  Only the visual network is exported.

Input ``(B, T, C, S, S)`` with channels ``gray``, ``flow_x``, ``flow_y``.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ._blocks import conv3d, info_nce, split_channels

__all__ = ["AttrClip"]


def _stream(cin: int, width: int, frames: int) -> nn.Sequential:
    temporal = 2 if frames >= 4 else 1
    return nn.Sequential(conv3d(cin, width, (1, 2, 2), (1, 3, 3)),
                         conv3d(width, 2 * width, (temporal, 2, 2)),
                         conv3d(2 * width, 4 * width, (1, 2, 2)),
                         nn.AdaptiveAvgPool3d((1, 2, 2)), nn.Flatten())


class AttrClip(nn.Module):
    """Visual network (exported) + text projection (training only)."""

    def __init__(self, channels: tuple[str, ...], frames: int, n_classes: int, width: int = 12,
                 embed_dim: int = 64, text_dim: int = 384, temperature: float = 0.1) -> None:
        super().__init__()
        self.channels = tuple(channels)
        self.temperature = temperature
        self.gray_stream = _stream(1, width, frames)
        self.flow_stream = _stream(2, width, frames)
        self.fuse = nn.Sequential(nn.Linear(2 * 4 * width * 4, embed_dim), nn.ReLU(inplace=True),
                                  nn.Dropout(0.3))
        self.classifier = nn.Linear(embed_dim, n_classes)
        self.visual_proj = nn.Linear(embed_dim, embed_dim)
        self.text_proj = nn.Linear(text_dim, embed_dim)

    def embed(self, clip: torch.Tensor) -> torch.Tensor:
        gray = split_channels(clip, self.channels, ("gray",)).transpose(1, 2)
        flow = split_channels(clip, self.channels, ("flow_x", "flow_y")).transpose(1, 2)
        return self.fuse(torch.cat([self.gray_stream(gray), self.flow_stream(flow)], dim=1))

    def logits(self, clip: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(clip))

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(clip), dim=1)

    def finetune_loss(self, clip: torch.Tensor, labels: torch.Tensor, aux_weight: float,
                      class_weights: torch.Tensor | None = None, text: torch.Tensor | None = None,
                      text_ids: torch.Tensor | None = None, **_: object
                      ) -> tuple[torch.Tensor, dict[str, float]]:
        """Cross-entropy + ``aux_weight`` x InfoNCE(visual, AU text); equal texts are positives."""
        embedding = self.embed(clip)
        ce = F.cross_entropy(self.classifier(embedding), labels, weight=class_weights)
        loss, logs = ce, {"ce": ce.item()}
        if text is not None and aux_weight > 0:
            same = None if text_ids is None else text_ids[:, None] == text_ids[None, :]
            nce = info_nce(self.visual_proj(embedding), self.text_proj(text), self.temperature, same)
            loss = loss + aux_weight * nce
            logs["nce"] = nce.item()
        return loss, logs
