"""MoExt: motion extraction from onset/apex by shape-texture separation.

A feature separator splits each frame into *shape* features (where facial
parts are: changes with expression) and *texture* features (appearance:
constant within a clip).  A motion extractor derives motion features from
the onset's and the apex's shape features, and a reconstructor rebuilds the
apex from the onset's texture plus the motion.  Pre-training (macro-
expressions) combines that reconstruction loss with a contrastive loss that
makes the onset's and apex's textures of one clip agree against other clips;
fine-tuning classifies the motion features (reconstruction kept as an
auxiliary loss).

Input ``(B, 2, C, S, S)``: onset and apex, channel ``gray``; with ``flow_x``
and ``flow_y`` channels too, the onset -> apex flow is a second input of the
motion extractor (the shape-difference path stays the core).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ._blocks import conv2d, info_nce, split_channels, up2d, with_auxiliary

__all__ = ["FeatureSeparator", "MotionExtractor", "MoExt"]


class FeatureSeparator(nn.Module):
    """``(B, 1, S, S)`` -> shape and texture features ``(B, 2w, S/4, S/4)`` each."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv2d(1, width), conv2d(width, 2 * width, 2))
        self.shape = nn.Sequential(conv2d(2 * width, 2 * width, 2), conv2d(2 * width, 2 * width))
        self.texture = nn.Sequential(conv2d(2 * width, 2 * width, 2), conv2d(2 * width, 2 * width))

    def forward(self, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stem = self.stem(frame)
        return self.shape(stem), self.texture(stem)


class MotionExtractor(nn.Module):
    """Motion features from the onset's and apex's shape features (and optionally flow)."""

    def __init__(self, width: int, flow_channels: int = 0) -> None:
        super().__init__()
        self.flow_channels = flow_channels
        if flow_channels:
            self.flow = nn.Sequential(conv2d(flow_channels, width), conv2d(width, width, 2),
                                      conv2d(width, width, 2))
        self.layers = nn.Sequential(conv2d(6 * width + (width if flow_channels else 0), 2 * width),
                                    conv2d(2 * width, 2 * width))

    def forward(self, onset: torch.Tensor, apex: torch.Tensor,
                flow: torch.Tensor | None = None) -> torch.Tensor:
        parts = [onset, apex, apex - onset]
        if self.flow_channels and flow is not None:
            parts.append(self.flow(flow))
        return self.layers(torch.cat(parts, dim=1))


class MoExt(nn.Module):
    """Separator + motion extractor + reconstructor + classifier."""

    def __init__(self, channels: tuple[str, ...], size: int, n_classes: int, width: int = 16,
                 embed_dim: int = 64, temperature: float = 0.1) -> None:
        super().__init__()
        if size % 8:
            raise ValueError(f"moext needs size % 8 == 0, got {size}")
        self.channels = tuple(channels)
        self.temperature = temperature
        self.separator = FeatureSeparator(width)
        self.use_flow = "flow_x" in self.channels and "flow_y" in self.channels
        self.motion = MotionExtractor(width, 2 if self.use_flow else 0)
        self.reconstructor = nn.Sequential(up2d(4 * width, 2 * width), up2d(2 * width, width),
                                           nn.Conv2d(width, 1, 3, 1, 1))
        self.texture_proj = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                          nn.Linear(2 * width, embed_dim))
        self.classifier = nn.Sequential(conv2d(2 * width, 4 * width, 2), nn.AdaptiveAvgPool2d(1),
                                        nn.Flatten(), nn.Dropout(0.3), nn.Linear(4 * width, embed_dim),
                                        nn.ReLU(inplace=True), nn.Linear(embed_dim, n_classes))

    def _encode(self, clip: torch.Tensor) -> dict[str, torch.Tensor]:
        gray = split_channels(clip, self.channels, ("gray",))
        onset, apex = gray[:, 0], gray[:, -1]
        shape_o, texture_o = self.separator(onset)
        shape_a, texture_a = self.separator(apex)
        flow = None
        if self.use_flow:  # onset -> apex flow of the last step
            flow = split_channels(clip, self.channels, ("flow_x", "flow_y"))[:, -1]
        return {"onset": onset, "apex": apex, "texture_o": texture_o, "texture_a": texture_a,
                "motion": self.motion(shape_o, shape_a, flow)}

    def logits(self, clip: torch.Tensor) -> torch.Tensor:
        return self.classifier(self._encode(clip)["motion"])

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(B, n_classes)``."""
        return torch.softmax(self.logits(clip), dim=1)

    def _self_supervised(self, parts: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        apex_hat = self.reconstructor(torch.cat([parts["texture_o"], parts["motion"]], dim=1))
        rec = F.l1_loss(apex_hat, parts["apex"])
        contrast = info_nce(self.texture_proj(parts["texture_o"]),
                            self.texture_proj(parts["texture_a"]), self.temperature)
        return rec + 0.1 * contrast, {"rec": rec.item(), "nce": contrast.item()}

    def pretrain_loss(self, clip: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Reconstruction of the apex + texture contrastive loss (onset/apex pairs)."""
        return self._self_supervised(self._encode(clip))

    def finetune_loss(self, clip: torch.Tensor, labels: torch.Tensor, aux_weight: float,
                      class_weights: torch.Tensor | None = None, **_: object
                      ) -> tuple[torch.Tensor, dict[str, float]]:
        parts = self._encode(clip)
        ce = F.cross_entropy(self.classifier(parts["motion"]), labels, weight=class_weights)
        return with_auxiliary(ce, {"ce": ce.item()}, aux_weight,
                              lambda: self._self_supervised(parts))
