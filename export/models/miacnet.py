"""MA2MI pre-training + MIACNet recognition.

*MA2MI* (macro to micro): an action encoder sees two frames of a
macro-expression (grey onset, grey later frame and the flow between them)
and a decoder predicts the *next* frame, at the same gap; predicting facial
motion forward teaches the encoder facial action features.

*MIACNet*: two branches decouple facial *position* features (where the face
parts are: from the onset grey frame) from facial *action* features (the
pre-trained action encoder on onset/apex and their flow).  The position
branch produces a spatial attention map that weights the action features;
both pooled embeddings are fused for classification, and an orthogonality
penalty keeps the two embeddings decoupled.

Input ``(B, 2, C, S, S)``: onset and apex, channels ``gray``, ``flow_x``,
``flow_y`` (flow of step 1 is onset -> apex).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ._blocks import conv2d, split_channels, up2d

__all__ = ["ActionEncoder", "MIACNet"]

_WANTED = ("gray", "flow_x", "flow_y")


class ActionEncoder(nn.Module):
    """``(B, 4, S, S)`` (onset grey, later grey, flow x, flow y) -> ``(B, 4w, S/4, S/4)``."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(conv2d(4, width), conv2d(width, 2 * width, 2),
                                    conv2d(2 * width, 4 * width, 2), conv2d(4 * width, 4 * width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class MIACNet(nn.Module):
    """Position branch + action branch, attention fusion, classifier."""

    def __init__(self, channels: tuple[str, ...], size: int, n_classes: int, width: int = 16,
                 embed_dim: int = 64) -> None:
        super().__init__()
        if size % 4:
            raise ValueError(f"miacnet needs size % 4 == 0, got {size}")
        self.channels = tuple(channels)
        self.action = ActionEncoder(width)
        self.predictor = nn.Sequential(up2d(4 * width, 2 * width), up2d(2 * width, width),
                                       nn.Conv2d(width + 1, 1, 3, 1, 1))
        self.position = nn.Sequential(conv2d(1, width), conv2d(width, 2 * width, 2),
                                      conv2d(2 * width, 2 * width, 2))
        self.attention = nn.Conv2d(2 * width, 1, 1)
        self.position_embed = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                            nn.Linear(2 * width, embed_dim))
        self.action_embed = nn.Sequential(conv2d(4 * width, 4 * width, 2), nn.AdaptiveAvgPool2d(1),
                                          nn.Flatten(), nn.Linear(4 * width, embed_dim))
        self.classifier = nn.Sequential(nn.ReLU(), nn.Dropout(0.3), nn.Linear(2 * embed_dim, n_classes))

    def _inputs(self, clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = split_channels(clip, self.channels, _WANTED)
        action_in = torch.cat([x[:, 0, :1], x[:, -1, :1], x[:, -1, 1:3]], dim=1)
        return action_in, x[:, 0, :1]

    def _embeddings(self, clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        action_in, onset = self._inputs(clip)
        position = self.position(onset)
        weight = torch.sigmoid(self.attention(position))
        action = self.action(action_in) * (1.0 + weight)
        return self.position_embed(position), self.action_embed(action)

    def logits(self, clip: torch.Tensor) -> torch.Tensor:
        position, action = self._embeddings(clip)
        return self.classifier(torch.cat([position, action], dim=1))

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(clip), dim=1)

    def pretrain_loss(self, clip: torch.Tensor, target: torch.Tensor
                      ) -> tuple[torch.Tensor, dict[str, float]]:
        """MA2MI: predict the future grey frame ``target`` ``(B, 1, S, S)``."""
        action_in, _ = self._inputs(clip)
        features = self.predictor[:2](self.action(action_in))
        latest = action_in[:, 1:2]
        prediction = self.predictor[2](torch.cat([features, latest], dim=1)) + latest
        loss = F.l1_loss(prediction, target)
        return loss, {"pred": loss.item()}

    def finetune_loss(self, clip: torch.Tensor, labels: torch.Tensor, aux_weight: float,
                      class_weights: torch.Tensor | None = None, **_: object
                      ) -> tuple[torch.Tensor, dict[str, float]]:
        position, action = self._embeddings(clip)
        ce = F.cross_entropy(self.classifier(torch.cat([position, action], dim=1)), labels,
                             weight=class_weights)
        ortho = (F.cosine_similarity(position, action, dim=1) ** 2).mean()
        return ce + aux_weight * ortho, {"ce": ce.item(), "ortho": ortho.item()}
