"""The four method networks: shapes, outputs in range, losses that backpropagate."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from export.config import METHOD_CONFIGS, load_config  # noqa: E402
from export.models import build_model, count_params  # noqa: E402


@pytest.fixture(params=sorted(METHOD_CONFIGS))
def tiny(request):
    return load_config(request.param, tiny=True)


def _clip(config, batch=3):
    return torch.randn(batch, config.frames, len(config.channels), config.size, config.size)


def test_forward_shape_and_range(tiny):
    model = build_model(tiny).eval()
    with torch.no_grad():
        out = model(_clip(tiny))
    if tiny.task == "spotting":
        assert out.shape == (3,)
        assert ((out >= 0) & (out <= 1)).all()
    else:
        assert out.shape == (3, 3)
        assert torch.allclose(out.sum(1), torch.ones(3), atol=1e-5)


def test_batch_of_one(tiny):
    model = build_model(tiny).eval()
    with torch.no_grad():
        assert model(_clip(tiny, 1)).shape[0] == 1


def test_finetune_loss_backpropagates(tiny):
    model = build_model(tiny).train()
    clip = _clip(tiny, 4)
    if tiny.task == "spotting":
        labels = torch.randint(0, 2, (4, tiny.frames)).float()
        loss, logs = model.finetune_loss(clip, labels, 0.1)
    else:
        extra = {"text": torch.randn(4, 384), "text_ids": torch.tensor([0, 1, 0, 2])} \
            if tiny.method == "attrclip" else {}
        loss, logs = model.finetune_loss(clip, torch.tensor([0, 1, 2, 0]), 0.5, **extra)
    loss.backward()
    assert torch.isfinite(loss) and logs
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("method", ["ssl3d", "moext", "miacnet"])
def test_pretrain_loss(method):
    config = load_config(method, tiny=True)
    model = build_model(config).train()
    args = [_clip(config, 4)]
    if method == "miacnet":
        args.append(torch.randn(4, 1, config.size, config.size))
    loss, logs = model.pretrain_loss(*args)
    loss.backward()
    assert torch.isfinite(loss) and logs


def test_default_sizes_are_small():
    # ME networks are small: every default stays well under 4M parameters.
    for method in METHOD_CONFIGS:
        assert count_params(build_model(load_config(method))) < 4_000_000


def test_ssl3d_rejects_bad_window():
    from export.models.ssl3d import SSL3DSpotter

    with pytest.raises(ValueError, match="frames % 4"):
        SSL3DSpotter(("flow_x", "flow_y", "gray"), 6, 32)
