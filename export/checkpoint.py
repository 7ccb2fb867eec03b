"""Run folders: resumable checkpoints (safetensors) and the run's record.

A run folder holds::

    config.json          the TrainConfig used
    settings.json        what else a resumed run must share: the data source, the seed
    state.json           stage, last finished epoch, best val score, history
    ckpt/last.safetensors   weights after the last finished epoch
    ckpt/optim.pt        optimiser state (torch.save; loaded with weights_only, never shipped)
    ckpt/rng.safetensors, ckpt/rng.json   random generators after the last finished
                         epoch (tensors, the rest as JSON), so that a resumed run
                         goes on exactly as the uninterrupted one would
    best.safetensors     weights of the best validation epoch
    result.json          what the exporter needs: config, val metrics, params
"""
from __future__ import annotations

import json
import os
import random
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from mer_edge._errors import InputError

from .config import TrainConfig

__all__ = ["RunState", "RunDir", "load_run_weights", "write_json_atomically", "changed_settings"]


def load_run_weights(run_dir: str | os.PathLike, model: nn.Module, which: str = "best") -> None:
    """Load ``best`` (best validation epoch) or ``last`` weights of a run into ``model``."""
    run = Path(run_dir)
    path = run / "best.safetensors" if which == "best" else run / "ckpt" / "last.safetensors"
    if not path.is_file():
        raise InputError(f"{run}: no {which} weights ({path.name})")
    model.load_state_dict(load_file(str(path)))


def _with_defaults(saved: Any) -> Any:
    """A run's saved config with the fields added since it was written at their defaults.

    A run started before a field existed trained as that field's default
    says, so it resumes under a config that leaves the field out or sets
    the default.  A saved config this version cannot read is compared as
    written (the difference is then named).
    """
    try:
        return TrainConfig.from_json(saved).to_json()
    except InputError:
        return saved


@contextmanager
def _interrupt_deferred() -> Iterator[None]:
    """Hold SIGINT back for the block; a Ctrl-C pressed inside it is raised at its end.

    Only the main thread can handle signals: elsewhere the block runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, _frame: caught.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


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


def changed_settings(previous: Mapping[str, Any], current: Mapping[str, Any]
                     ) -> dict[str, tuple[Any, Any]]:
    """The settings of ``current`` that differ from ``previous``: name -> (before, now).

    Both are compared as JSON (a tuple equals the list it was saved as).
    """
    before = json.loads(json.dumps(dict(previous), default=str))
    now = json.loads(json.dumps(dict(current), default=str))
    return {key: (before.get(key), value) for key, value in now.items() if before.get(key) != value}


def _tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}


def _save_tensors_atomically(tensors: dict[str, torch.Tensor], path: Path) -> None:
    partial = path.with_name(path.name + ".tmp")
    save_file(tensors, str(partial))
    os.replace(partial, path)


def _generator_state(rng: np.random.Generator) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Every random generator training draws from: tensors, and the rest as JSON."""
    _, keys, position, has_gauss, gauss = np.random.get_state()
    version, python_state, python_gauss = random.getstate()
    tensors = {"torch": torch.get_rng_state(), "numpy_keys": torch.from_numpy(keys.astype(np.int64))}
    plain = {"generator": rng.bit_generator.state,
             "numpy": {"pos": int(position), "has_gauss": int(has_gauss), "gauss": float(gauss)},
             "python": {"version": version, "state": list(python_state), "gauss": python_gauss}}
    return tensors, plain


def _set_generator_state(rng: np.random.Generator, tensors: dict[str, torch.Tensor],
                         plain: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch"])
    legacy = plain["numpy"]
    np.random.set_state(("MT19937", tensors["numpy_keys"].numpy().astype(np.uint32), legacy["pos"],
                         legacy["has_gauss"], legacy["gauss"]))
    python = plain["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss"]))
    rng.bit_generator.state = plain["generator"]


class RunDir:
    """A run folder (created if missing)."""

    def __init__(self, path: str | os.PathLike, config: TrainConfig, *, resume: bool,
                 settings: Mapping[str, Any] | None = None) -> None:
        """Check that the folder can hold this run; nothing is written until :meth:`start`.

        Args:
            path: the run folder.
            config: the training config.
            resume: go on with the run the folder holds.
            settings: what else a resumed run must share with the original
                (data source, seed; JSON values).

        Raises:
            InputError: the folder holds a run and ``resume`` is off, or
                ``resume`` is on and the config or a setting differs (named).
        """
        self.path = Path(path)
        self.ckpt = self.path / "ckpt"
        self.config, self.settings = config, dict(settings or {})
        saved = self.path / "config.json"
        if saved.is_file() and not resume and (self.path / "state.json").is_file():
            raise InputError(f"{self.path} already holds a run: pass --resume to continue it "
                             "or choose another --out")
        if resume and saved.is_file():
            self._check_same(_with_defaults(json.loads(saved.read_text(encoding="utf-8"))),
                             config.to_json(), "config",
                             "use the same config (and --tiny flag) as the original run")
        if resume and (self.path / "settings.json").is_file():
            self._check_same(json.loads((self.path / "settings.json").read_text(encoding="utf-8")),
                             self.settings, "data or seed",
                             "resume with the original data options and --seed, or choose "
                             "another --out")
        self.state = RunState()
        if resume and (self.path / "state.json").is_file():
            self.state = RunState(**json.loads((self.path / "state.json").read_text(encoding="utf-8")))

    def _check_same(self, previous: Mapping[str, Any], current: Mapping[str, Any], what: str,
                    advice: str) -> None:
        changed = changed_settings(previous, current)
        if changed:
            raise InputError(f"{self.path}: --resume with a different {what} (setting: (original, "
                             f"now)) {changed}; {advice}")

    def start(self) -> None:
        """Create the folder and record the config and settings (once the data is known good)."""
        self.ckpt.mkdir(parents=True, exist_ok=True)
        write_json_atomically(self.path / "config.json", self.config.to_json())
        write_json_atomically(self.path / "settings.json", self.settings)

    def save_epoch(self, model: nn.Module, optimizer: torch.optim.Optimizer, stage: str,
                   epoch: int, record: dict[str, Any], rng: np.random.Generator) -> None:
        """Checkpoint after ``epoch`` of ``stage`` (weights, optimiser, random generators, state).

        Each file is replaced whole; ``state.json``, written last, says which epoch they hold.
        Ctrl-C waits until all of them are written, so they never disagree.
        """
        with _interrupt_deferred():
            _save_tensors_atomically(_tensors(model), self.ckpt / "last.safetensors")
            partial = self.ckpt / "optim.pt.tmp"
            torch.save({"optimizer": optimizer.state_dict(), "stage": stage, "epoch": epoch},
                       partial)
            os.replace(partial, self.ckpt / "optim.pt")
            tensors, plain = _generator_state(rng)
            _save_tensors_atomically(tensors, self.ckpt / "rng.safetensors")
            write_json_atomically(self.ckpt / "rng.json", plain)
            self.state.stage, self.state.epoch = stage, epoch
            self.state.history.append({"stage": stage, "epoch": epoch, **record})
            write_json_atomically(self.path / "state.json", self.state.__dict__)

    def save_best(self, model: nn.Module, score: float, epoch: int, metrics: dict[str, Any]) -> None:
        _save_tensors_atomically(_tensors(model), self.path / "best.safetensors")
        self.state.best_score, self.state.best_epoch = score, epoch
        self.state.best_metrics = metrics
        write_json_atomically(self.path / "state.json", self.state.__dict__)

    def restore(self, model: nn.Module, optimizer: torch.optim.Optimizer | None, stage: str,
                rng: np.random.Generator | None = None) -> int:
        """Load the last checkpoint of ``stage``; returns the first epoch still to run.

        With ``rng``, the random generators (``rng``, torch's, numpy's and
        Python's) are also put back as they were after that epoch (a run
        checkpointed before they were saved keeps its fresh seed).
        """
        if self.state.stage != stage or self.state.epoch < 0:
            return 0
        model.load_state_dict(load_file(str(self.ckpt / "last.safetensors")))
        if optimizer is not None and (self.ckpt / "optim.pt").is_file():
            saved = torch.load(self.ckpt / "optim.pt", weights_only=True)
            if saved.get("stage") == stage:
                optimizer.load_state_dict(saved["optimizer"])
        if rng is not None and (self.ckpt / "rng.json").is_file():
            plain = json.loads((self.ckpt / "rng.json").read_text(encoding="utf-8"))
            _set_generator_state(rng, load_file(str(self.ckpt / "rng.safetensors")), plain)
        return self.state.epoch + 1

    def load_weights(self, model: nn.Module, which: str = "best") -> None:
        load_run_weights(self.path, model, which)

    def write_result(self, result: dict[str, Any]) -> None:
        write_json_atomically(self.path / "result.json", result)

    @staticmethod
    def read_result(path: str | os.PathLike) -> dict[str, Any]:
        file = Path(path) / "result.json"
        if not Path(path).is_dir():
            raise InputError(f"run folder {path} does not exist")
        if not file.is_file():
            raise InputError(f"{path}: no result.json: the run has not finished training")
        return json.loads(file.read_text(encoding="utf-8"))
