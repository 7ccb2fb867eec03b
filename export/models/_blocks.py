"""Building blocks shared by the method networks (conv stacks, losses)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["conv2d", "conv3d", "up2d", "info_nce", "masked_mse", "count_params", "split_channels",
           "frame_bce", "with_auxiliary"]

Loss = tuple[torch.Tensor, dict[str, float]]


def conv2d(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


def conv3d(cin: int, cout: int, stride: tuple[int, int, int] = (1, 1, 1),
           kernel: tuple[int, int, int] = (3, 3, 3)) -> nn.Sequential:
    """3-D convolution (same padding), batch norm, ReLU."""
    padding = tuple(k // 2 for k in kernel)
    return nn.Sequential(nn.Conv3d(cin, cout, kernel, stride, padding, bias=False),
                         nn.BatchNorm3d(cout), nn.ReLU(inplace=True))


def up2d(cin: int, cout: int) -> nn.Sequential:
    """x2 transposed convolution, batch norm, ReLU."""
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float,
             same: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE between row-aligned embeddings ``a`` and ``b`` ``(B, D)``.

    ``same`` ``(B, B) bool`` marks extra positive pairs (e.g. equal labels);
    their probability mass is shared (multi-positive cross-entropy).
    """
    a = F.normalize(a, dim=1)
    b = F.normalize(b, dim=1)
    logits = a @ b.t() / temperature
    target = torch.eye(len(a), device=a.device)
    if same is not None:
        target = torch.maximum(target, same.float())
    target = target / target.sum(dim=1, keepdim=True)
    loss_ab = -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    loss_ba = -(target.t() * F.log_softmax(logits.t(), dim=1)).sum(dim=1).mean()
    return 0.5 * (loss_ab + loss_ba)


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
               visible_weight: float = 0.1) -> torch.Tensor:
    """MSE on masked elements plus ``visible_weight`` x MSE on the visible ones."""
    error = (prediction - target) ** 2
    masked = (error * mask).sum() / mask.sum().clamp(min=1.0)
    visible = (error * (1 - mask)).sum() / (1 - mask).sum().clamp(min=1.0)
    return masked + visible_weight * visible


def frame_bce(logits: torch.Tensor, labels: torch.Tensor, scored_step: int,
              scored_weight: float = 4.0) -> torch.Tensor:
    """Per-step BCE of ``(B, T)`` spotting logits; the step the exported score reads weighs more."""
    weights = torch.ones_like(labels)
    weights[:, scored_step] = scored_weight
    return F.binary_cross_entropy_with_logits(logits, labels, weight=weights)


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def split_channels(clip: torch.Tensor, channels: tuple[str, ...], wanted: tuple[str, ...]
                   ) -> torch.Tensor:
    """Select named channels of a ``(B, T, C, S, S)`` clip (missing: zeros)."""
    parts = []
    for name in wanted:
        if name in channels:
            index = channels.index(name)
            parts.append(clip[:, :, index:index + 1])
        else:
            parts.append(torch.zeros_like(clip[:, :, :1]))
    return torch.cat(parts, dim=2)


def with_auxiliary(loss: torch.Tensor, logs: dict[str, float], weight: float,
                   auxiliary: Callable[[], Loss]) -> Loss:
    """``loss + weight * auxiliary loss`` and both logs (the auxiliary is not computed at weight 0)."""
    if weight <= 0:
        return loss, logs
    extra, extra_logs = auxiliary()
    return loss + weight * extra, {**logs, **extra_logs}
