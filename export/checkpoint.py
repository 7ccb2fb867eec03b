"""Run folders: resumable checkpoints (safetensors) and the run's record.

A run folder holds::

    config.json          the TrainConfig used
    state.json           stage, last finished epoch, best val score, history
    ckpt/last.safetensors   weights after the last finished epoch
    ckpt/optim.pt        optimiser state (torch.save; never shipped)
    best.safetensors     weights of the best validation epoch
    result.json          what the exporter needs: config, val metrics, params
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from mer_edge._errors import InputError

from .config import TrainConfig

__all__ = ["RunState", "RunDir", "load_run_weights", "write_json_atomically"]


def load_run_weights(run_dir: str | os.PathLike, model: nn.Module, which: str = "best") -> None:
    """Load ``best`` (best validation epoch) or ``last`` weights of a run into ``model``."""
    run = Path(run_dir)
    path = run / "best.safetensors" if which == "best" else run / "ckpt" / "last.safetensors"
    if not path.is_file():
        raise InputError(f"{run}: no {which} weights ({path.name})")
    model.load_state_dict(load_file(str(path)))


@dataclass
class RunState:
    """Progress of a run: the stage and the last epoch finished in it."""

    stage: str = "pretrain"
    epoch: int = -1
    best_score: float = float("-inf")
    best_epoch: int = -1
    best_metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)


def write_json_atomically(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file: never a half-written file."""
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True, default=float), encoding="utf-8")
    os.replace(partial, path)


def _tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}


class RunDir:
    """A run folder (created if missing)."""

    def __init__(self, path: str | os.PathLike, config: TrainConfig, *, resume: bool) -> None:
        self.path = Path(path)
        self.ckpt = self.path / "ckpt"
        saved = self.path / "config.json"
        if saved.is_file() and not resume and (self.path / "state.json").is_file():
            raise InputError(f"{self.path} already holds a run: pass --resume to continue it "
                             "or choose another --out")
        if resume and saved.is_file():
            previous = json.loads(saved.read_text(encoding="utf-8"))
            if previous != config.to_json():
                raise InputError(f"{self.path}: --resume with a different config; "
                                 "use the same config (and --tiny flag) as the original run")
        self.ckpt.mkdir(parents=True, exist_ok=True)
        write_json_atomically(saved, config.to_json())
        self.state = RunState()
        if resume and (self.path / "state.json").is_file():
            self.state = RunState(**json.loads((self.path / "state.json").read_text(encoding="utf-8")))

    def save_epoch(self, model: nn.Module, optimizer: torch.optim.Optimizer, stage: str,
                   epoch: int, record: dict[str, Any]) -> None:
        """Checkpoint after ``epoch`` of ``stage`` (weights, optimiser, state)."""
        save_file(_tensors(model), str(self.ckpt / "last.safetensors"))
        torch.save({"optimizer": optimizer.state_dict(), "stage": stage, "epoch": epoch},
                   self.ckpt / "optim.pt")
        self.state.stage, self.state.epoch = stage, epoch
        self.state.history.append({"stage": stage, "epoch": epoch, **record})
        write_json_atomically(self.path / "state.json", self.state.__dict__)

    def save_best(self, model: nn.Module, score: float, epoch: int, metrics: dict[str, Any]) -> None:
        save_file(_tensors(model), str(self.path / "best.safetensors"))
        self.state.best_score, self.state.best_epoch = score, epoch
        self.state.best_metrics = metrics
        write_json_atomically(self.path / "state.json", self.state.__dict__)

    def restore(self, model: nn.Module, optimizer: torch.optim.Optimizer | None, stage: str) -> int:
        """Load the last checkpoint of ``stage``; returns the first epoch still to run."""
        if self.state.stage != stage or self.state.epoch < 0:
            return 0
        model.load_state_dict(load_file(str(self.ckpt / "last.safetensors")))
        if optimizer is not None and (self.ckpt / "optim.pt").is_file():
            saved = torch.load(self.ckpt / "optim.pt", weights_only=False)
            if saved.get("stage") == stage:
                optimizer.load_state_dict(saved["optimizer"])
        return self.state.epoch + 1

    def load_weights(self, model: nn.Module, which: str = "best") -> None:
        load_run_weights(self.path, model, which)

    def write_result(self, result: dict[str, Any]) -> None:
        write_json_atomically(self.path / "result.json", result)

    @staticmethod
    def read_result(path: str | os.PathLike) -> dict[str, Any]:
        file = Path(path) / "result.json"
        if not file.is_file():
            raise InputError(f"{path}: no result.json: the run has not finished training")
        return json.loads(file.read_text(encoding="utf-8"))
