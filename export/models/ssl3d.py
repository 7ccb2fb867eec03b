"""Self-supervised 3-D spotting features (the default spotter).

Two 3-D CNN encoder-decoders with the same structure and separate weights
learn, from unlabelled aligned face video, to reconstruct (a) the optical
flow sequence and (b) the grey face sequence from inputs with a pixel-level
random mask.  A spotting head on both encoders' features is then trained on
the per-frame labels of a short window; the exported graph scores the last
frame of the window.

Input ``(B, T, C, S, S)`` with channels including ``flow_x``, ``flow_y`` and
``gray``; encoders downsample ``T`` by 4 and ``S`` by 8.
"""
from __future__ import annotations

import torch
from torch import nn

from ._blocks import conv3d, frame_bce, masked_mse, split_channels, with_auxiliary

__all__ = ["Encoder3D", "Decoder3D", "SSL3DSpotter"]

_FLOW = ("flow_x", "flow_y")
_GRAY = ("gray",)


class Encoder3D(nn.Module):
    """``(B, C, T, S, S)`` -> ``(B, 4w, T/4, S/8, S/8)``."""

    def __init__(self, cin: int, width: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            conv3d(cin, width, (1, 2, 2), (1, 3, 3)),
            conv3d(width, 2 * width, (2, 2, 2)),
            conv3d(2 * width, 4 * width, (2, 2, 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Decoder3D(nn.Module):
    """Mirror of :class:`Encoder3D`: features -> ``(B, C, T, S, S)``."""

    def __init__(self, cout: int, width: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.ConvTranspose3d(4 * width, 2 * width, 4, 2, 1), nn.ReLU(inplace=True),
            nn.ConvTranspose3d(2 * width, width, 4, 2, 1), nn.ReLU(inplace=True),
            nn.ConvTranspose3d(width, cout, (3, 4, 4), (1, 2, 2), (1, 1, 1)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z)


class SSL3DSpotter(nn.Module):
    """Flow and grey masked auto-encoders plus a per-frame spotting head."""

    def __init__(self, channels: tuple[str, ...], frames: int, size: int, width: int = 8,
                 embed_dim: int = 32, mask_ratio: float = 0.6) -> None:
        super().__init__()
        if frames % 4 or size % 8:
            raise ValueError(f"ssl3d needs frames % 4 == 0 and size % 8 == 0, got {frames}, {size}")
        self.channels = tuple(channels)
        self.frames = frames
        self.mask_ratio = mask_ratio
        self.flow_encoder = Encoder3D(2, width)
        self.gray_encoder = Encoder3D(1, width)
        self.flow_decoder = Decoder3D(2, width)
        self.gray_decoder = Decoder3D(1, width)
        features = 2 * 4 * width * (frames // 4) * (size // 8) ** 2
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(features, embed_dim),
                                  nn.ReLU(inplace=True), nn.Linear(embed_dim, frames))

    def _streams(self, clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flow = split_channels(clip, self.channels, _FLOW).transpose(1, 2)
        gray = split_channels(clip, self.channels, _GRAY).transpose(1, 2)
        return flow, gray

    def frame_logits(self, clip: torch.Tensor) -> torch.Tensor:
        """Per-frame logits ``(B, T)`` of a ``(B, T, C, S, S)`` clip."""
        flow, gray = self._streams(clip)
        features = torch.cat([self.flow_encoder(flow), self.gray_encoder(gray)], dim=1)
        return self.head(features)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        """Spotting score ``(B,)`` in [0, 1] of the clip's last frame."""
        return torch.sigmoid(self.frame_logits(clip)[:, -1])

    def pretrain_loss(self, clip: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Masked reconstruction of the flow and the grey sequences."""
        flow, gray = self._streams(clip)
        batch, _, frames, height, width = flow.shape
        mask = (torch.rand(batch, 1, frames, height, width) < self.mask_ratio).float()
        flow_hat = self.flow_decoder(self.flow_encoder(flow * (1 - mask)))
        gray_hat = self.gray_decoder(self.gray_encoder(gray * (1 - mask)))
        flow_loss = masked_mse(flow_hat, flow, mask.expand_as(flow))
        gray_loss = masked_mse(gray_hat, gray, mask)
        return flow_loss + gray_loss, {"flow_rec": flow_loss.item(), "gray_rec": gray_loss.item()}

    def finetune_loss(self, clip: torch.Tensor, labels: torch.Tensor, aux_weight: float
                      ) -> tuple[torch.Tensor, dict[str, float]]:
        """Per-frame BCE (last frame weighted x4) plus ``aux_weight`` x reconstruction."""
        bce = frame_bce(self.frame_logits(clip), labels, -1)
        return with_auxiliary(bce, {"bce": bce.item()}, aux_weight,
                              lambda: self.pretrain_loss(clip))
