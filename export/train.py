"""Train one method: ``mer-edge-train CONFIG_OR_METHOD --bench DIR``.

(``python -m mer_edge_export.train`` anywhere; ``python -m export.train`` in a checkout.)

Two stages, each resumable epoch by epoch (``--resume``):

1. ``pretrain`` (self-supervised, method specific): masked flow/grey
   reconstruction (ssl3d), apex reconstruction + texture contrast (moext),
   future-frame prediction (miacnet/MA2MI); attrclip has none (its text
   encoder comes pre-trained).
2. ``finetune`` on the labelled training split; after every epoch the model
   is scored on the **validation** split and the best epoch is kept
   (``best.safetensors``).  The test split is never read.

Data: ``--bench DIR`` (``make_bench`` folder with ``train/ val/ test/``) or a
real dataset ``--dataset casme2 --root DIR`` split by subject (``--val-fraction``,
``--test-subjects`` held out entirely).

``--loso`` runs the leave-one-subject-out protocol instead (one model per
held-out subject, pooled MEGC figures): the other arguments are those of
:mod:`export.loso` (``mer-edge-loso``).  Ctrl-C stops at once; the epochs
finished are kept and ``--resume`` goes on from the last one (exit status 130).
"""
from __future__ import annotations

if __name__ == "__main__":  # run as python -m: without PyTorch, one line, not a traceback
    from ._launch import require_torch_to_run
    require_torch_to_run(__spec__)

import argparse
import json
import random
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm import tqdm

from mer_edge._errors import DatasetError, InputError, MerEdgeError, reworded
from mer_edge.data.prepare import AlignedVideo, cached_alignment
from mer_edge.data.schema import Interval

from .checkpoint import RunDir, load_run_weights
from .config import TRAIN_SIGNALS, TrainConfig, load_config
from .data import (DatasetCopy, InjectedMovements, RecognitionSet, Split, SpottingSet,
                   check_pair_sources, check_subjects, check_task_fits_datasets, keyed_intervals,
                   load_bench_split, pair_pool, recognition_items, shared_video, shared_videos_dir,
                   split_intervals, split_tracks, unlabelled_windows)
from .evaluate import recognition_metrics, spotting_metrics, tune_detector
from .models import METHOD_NAMES, build_model, count_params
from .threads import add_threads_option, use_threads

__all__ = ["main", "train", "DataSource", "add_pretrain_videos_option", "check_common_options",
           "pair_pretrain_material", "interrupted_message", "PAIR_PRETRAINING"]


class DataSource:
    """Where the splits come from: a benchmark folder, or a real dataset (or several).

    ``dataset`` and ``root`` name one copy of a real dataset; ``copies``
    several, pooled by subject (see :func:`export.data.keyed_intervals`).
    ``videos_dir`` holds the source videos a benchmark was made from (training
    on its injected movements; default :func:`export.data.shared_videos_dir`).
    """

    def __init__(self, bench: Path | None = None, dataset: str | None = None,
                 root: Path | None = None, val_fraction: float = 0.2, seed: int = 0,
                 test_subjects: tuple[str, ...] = (), extra_train: tuple[Path, ...] = (),
                 extra_val: tuple[Path, ...] = (), copies: tuple[DatasetCopy, ...] = (),
                 videos_dir: Path | None = None) -> None:
        if dataset is not None:
            if root is None:
                raise MerEdgeError(f"--dataset {dataset} needs --root DIR: the folder of your copy")
            copies = (DatasetCopy(dataset, Path(root)), *copies)
        if (bench is None) == (not copies):
            raise MerEdgeError("give either --bench DIR or --dataset NAME --root DIR")
        if bench is not None and test_subjects:
            raise InputError("--test-subjects holds subjects of a --dataset out; a --bench "
                             "benchmark's test identities are never read already")
        self.bench, self.copies = bench, copies
        self._intervals: list[Interval] | None = None  # the copies', loaded once
        self.extra_train, self.extra_val = extra_train, extra_val
        self.val_fraction, self.seed, self.test_subjects = val_fraction, seed, test_subjects
        self.videos_dir = videos_dir

    def split(self, name: str) -> Split:
        if name == "test":
            raise MerEdgeError("training never reads the test split")
        if self.bench is not None:
            split = load_bench_split(self.bench, name)
            for extra in self.extra_train if name == "train" else self.extra_val:
                split = split.merge(load_bench_split(extra, name))
            return split
        return split_intervals(self._dataset_intervals(), name, val_fraction=self.val_fraction,
                               seed=self.seed, test_subjects=self.test_subjects)

    def injected_train_dirs(self, option: str) -> list[Path]:
        """The train split folders of the benchmark and its extra seeds, for learning from
        their injected movements.

        Raises:
            DatasetError: the data is not a ``make_bench`` benchmark (the message
                names ``option``, what asked for them).
        """
        if self.bench is None:
            raise DatasetError(f"{option} learns from the movements injected into a make_bench "
                               f"benchmark (--bench), measured against its clean source videos; "
                               f"{self.label()} has none: train on the observed input instead")
        return [folder / "train" for folder in (self.bench, *self.extra_train)]

    def _dataset_intervals(self) -> list[Interval]:
        """The copies' intervals, loaded once; the held-out subjects checked to be among them."""
        if self._intervals is None:
            intervals = [interval for _, _, interval in keyed_intervals(self.copies)]
            check_subjects(self.test_subjects, sorted({i.subject for i in intervals}),
                           "--test-subjects", "subjects")
            self._intervals = intervals
        return self._intervals

    def check_task(self, task: str) -> None:
        """Refuse a spotter on clip datasets (see :func:`export.data.check_task_fits_datasets`)."""
        check_task_fits_datasets(task, [copy.name for copy in self.copies])

    def identity(self) -> dict[str, Any]:
        """What defines the data (JSON values): a resumed run must be given the same."""
        if self.bench is not None:
            return {"bench": str(self.bench.resolve()),
                    "extra_train": [str(p.resolve()) for p in self.extra_train],
                    "extra_val": [str(p.resolve()) for p in self.extra_val]}
        return {"copies": [copy.identity() for copy in self.copies],
                "val_fraction": self.val_fraction, "split_seed": self.seed,
                "test_subjects": sorted(self.test_subjects)}

    def label(self) -> str:
        """A short name of the data for messages: the benchmark folder or the dataset copies."""
        if self.bench is not None:
            return f"benchmark {self.bench}"
        return " + ".join(copy.describe() for copy in self.copies)

    def describe(self) -> str:
        if self.bench is not None:
            manifest = self.bench / "manifest.json"
            note = ""
            if manifest.is_file():
                data = json.loads(manifest.read_text(encoding="utf-8"))
                note = f" (seed {data.get('seed')}, generator v{data.get('generator_version')})"
            extra = (f" plus the train splits of {len(self.extra_train)} more benchmark seeds "
                     "(same training identities, other injected movements)") if self.extra_train else ""
            extra_val = (f" plus the val splits of {len(self.extra_val)} more seeds (same val "
                         "identities)") if self.extra_val else ""
            return (f"mer_edge semi-synthetic benchmark {self.bench.name}{note}: synthetic "
                    "micro-/macro-expressions injected into a handful of real identities; train "
                    f"split for training{extra}; val split (other identities){extra_val} for "
                    "model selection; test identities never used")
        held_out = (f"; subjects {', '.join(self.test_subjects)} held out"
                    if self.test_subjects else "")
        return (f"{' + '.join(copy.describe() for copy in self.copies)}, subject-disjoint "
                f"train/val split{held_out}")


def _seed_everything(seed: int) -> np.random.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def _predictor(model: torch.nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    def predict(clips: np.ndarray) -> np.ndarray:
        model.eval()
        with torch.no_grad():
            return model(torch.from_numpy(np.ascontiguousarray(clips, np.float32))).numpy()
    return predict


def _real_videos(config: TrainConfig, cache: Path) -> list:
    videos = []
    for name in config.pretrain_videos:
        videos.append(cached_alignment(shared_video(name), cache / "align"))
    return videos


#: What asks for the injected movements, as error messages name it.
_INJECTED_OPTION = 'train_signal "injected" (--train-signal)'
#: Methods pre-trained on frame pairs drawn from video (:func:`pair_pretrain_material`).
PAIR_PRETRAINING = ("moext", "miacnet")


def pair_pretrain_material(config: TrainConfig, train_split: Split, cache: Path
                           ) -> tuple[list[AlignedVideo], list[tuple[AlignedVideo, Interval]]]:
    """What moext/miacnet pre-train on: videos, and the macro-expressions found in them.

    Real expressive video (the config's ``pretrain_videos``), else the training
    identities' own video (unlabelled): long videos, or the short clips of a
    CASME II-style dataset.

    Raises:
        DatasetError: no video is long enough to draw pairs from and there is no
            macro-expression (the message names ``--pretrain-videos``).
    """
    tracks = split_tracks(train_split, cache, max_videos=config.max_videos)
    macro = [(track, i) for _, track, intervals in tracks for i in intervals if i.kind == "MaE"]
    videos = _real_videos(config, cache) or [track for _, track, _ in tracks]
    if not videos and not macro:
        clips_used = train_split.recognition[: 8 * config.max_videos or None]
        videos = [cached_alignment(i.video_path or i.frames_dir, cache / "align",  # type: ignore[arg-type]
                                   fps=i.fps) for i in clips_used]
    check_pair_sources(videos, macro)
    return videos, macro


class _Trainer:
    """Holds data and model for one run; the stages are its methods."""

    def __init__(self, config: TrainConfig, source: DataSource, run: RunDir, cache: Path,
                 rng: np.random.Generator, log: Callable[[str], None]) -> None:
        self.config, self.source, self.run, self.cache, self.rng, self.log = \
            config, source, run, cache, rng, log
        self.spec = config.spec
        self.train_split = source.split("train")
        self.val_split = source.split("val")
        self.model = build_model(config)
        #: Frame rate the model's time windows are sampled at (written into its metadata).
        self.model_fps = float(np.median(list(self.train_split.fps.values()) or [30.0]))
        self._finetune_sets: tuple[Any, Any] | None = None
        self._pretrain_batches: Callable[[], tuple[torch.Tensor, ...]] | None = None

    def prepare(self) -> None:
        """Build the data of the stages still to run: a data problem stops the run before
        any training (and before the run folder is made)."""
        self._finetune_sets = (self._spotting_sets() if self.config.task == "spotting"
                               else self._recognition_sets())
        if (self.run.state.stage == "pretrain" and self.config.pretrain_epochs > 0
                and hasattr(self.model, "pretrain_loss")):
            self._pretrain_batches = self.pretrain_batches()

    # -- data -------------------------------------------------------------------
    def _spotting_sets(self) -> tuple[SpottingSet, SpottingSet]:
        kw = {"max_videos": self.config.max_videos, "progress": self.log,
              "model_fps": self.model_fps, "lag_frames": self.config.lag_frames}
        return (SpottingSet(self.train_split, self.spec, self.config.k_ms, self.cache, **kw),
                SpottingSet(self.val_split, self.spec, self.config.k_ms, self.cache, **kw))

    def _recognition_sets(self) -> tuple[RecognitionSet, RecognitionSet]:
        cap = self.config.max_videos
        kw = {"max_videos": cap, "progress": self.log}
        where = self.source.label()
        injected, signal = None, ""
        if self.config.train_signal == "injected":
            split_dirs = self.source.injected_train_dirs(_INJECTED_OPTION)
            injected = InjectedMovements(split_dirs, self.source.videos_dir or shared_videos_dir(),
                                         self.cache, self.config.train_kinds)
            signal = " (injected movements measured against their source videos)"
        train = RecognitionSet(recognition_items(self.train_split, self.cache,
                                                 kinds=self.config.train_kinds, **kw), self.spec,
                               self.cache, shifts=(0, -1, 1) if not cap else (0,), max_items=8 * cap,
                               label=f"the train split of {where}{signal}", injected=injected)
        val = RecognitionSet(recognition_items(self.val_split, self.cache, **kw), self.spec,
                             self.cache, max_items=8 * cap, label=f"the val split of {where}")
        return train, val

    # -- stages -----------------------------------------------------------------
    def pretrain_batches(self) -> Callable[[], tuple[torch.Tensor, ...]]:
        config, batch = self.config, self.config.batch_size
        if config.method == "ssl3d":
            videos = _real_videos(config, self.cache)
            videos += [track for _, track, _ in split_tracks(self.train_split, self.cache,
                                                              max_videos=config.max_videos)]
            pools = [f for f in unlabelled_windows(videos, self.spec, config.k_ms, self.cache)
                     if len(f) > config.frames + 1]
            if not pools:
                raise DatasetError(f"no video of more than {config.frames + 1} frames for "
                                   f"self-supervised pre-training in the train split of "
                                   f"{self.source.label()}: pass --pretrain-videos with face videos")

            def ssl_batch() -> tuple[torch.Tensor, ...]:
                clips = []
                for _ in range(batch):
                    features = pools[int(self.rng.integers(len(pools)))]
                    end = int(self.rng.integers(config.frames + 1, len(features)))
                    clips.append(features[end - config.frames:end])
                return (torch.from_numpy(np.stack(clips)),)
            return ssl_batch
        videos, macro = pair_pretrain_material(config, self.train_split, self.cache)
        count = min(3000, config.steps_per_epoch * batch)
        clips, targets = pair_pool(videos, macro, self.spec, self.rng, count=count)
        self.log(f"pre-training pool: {len(clips)} pairs ({len(macro)} synthetic macro-expressions)")

        def pair_batch() -> tuple[torch.Tensor, ...]:
            picks = self.rng.choice(len(clips), batch)
            if config.method == "miacnet":
                return torch.from_numpy(clips[picks]), torch.from_numpy(targets[picks])
            return (torch.from_numpy(clips[picks]),)
        return pair_batch

    def _optimizer(self, epochs: int) -> tuple[torch.optim.Optimizer, Any]:
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.config.lr,
                                      weight_decay=self.config.weight_decay)
        total = max(1, epochs * self.config.steps_per_epoch)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, self.config.lr, total_steps=total,
                                                        pct_start=0.15)
        return optimizer, scheduler

    def _loop(self, stage: str, epochs: int, step: Callable[[], tuple[torch.Tensor, dict]],
              evaluate: Callable[[], tuple[float, dict]] | None) -> None:
        optimizer, scheduler = self._optimizer(epochs)
        start = self.run.restore(self.model, optimizer, stage, self.rng)
        with warnings.catch_warnings():  # fast-forward the schedule of a resumed stage
            warnings.simplefilter("ignore", UserWarning)
            for _ in range(start * self.config.steps_per_epoch):
                scheduler.step()
        for epoch in range(start, epochs):
            self.model.train()
            totals: dict[str, float] = {}
            bar = tqdm(range(self.config.steps_per_epoch), desc=f"{stage} {epoch + 1}/{epochs}",
                       leave=False, file=sys.stderr, disable=None)
            for _ in bar:
                loss, logs = step()
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
                optimizer.step()
                scheduler.step()
                for key, value in logs.items():
                    totals[key] = totals.get(key, 0.0) + value / self.config.steps_per_epoch
                bar.set_postfix(loss=f"{loss.item():.4f}")
            record: dict[str, Any] = {"train": totals}
            if evaluate is not None:
                score, metrics = evaluate()
                record["val"] = metrics
                if score > self.run.state.best_score:
                    self.run.save_best(self.model, score, epoch, metrics)
            self.run.save_epoch(self.model, optimizer, stage, epoch, record, self.rng)
            self.log(f"{stage} epoch {epoch + 1}/{epochs}: " + json.dumps(record, default=float)[:400])

    def pretrain(self) -> None:
        if self._pretrain_batches is None:  # no pre-training, or it finished before a resume
            return
        batches = self._pretrain_batches

        def step() -> tuple[torch.Tensor, dict]:
            return self.model.pretrain_loss(*batches())
        self._loop("pretrain", self.config.pretrain_epochs, step, None)

    def _calibrate(self, val: SpottingSet) -> dict[str, Any]:
        """Detection parameters for the best epoch, chosen on the validation split.

        The engine's defaults are kept unless a grid point beats them on val
        interval F1 by more than 0.01 (a few dozen intervals: small gains are noise).
        """
        load_run_weights(self.run.path, self.model, "best")
        predict = _predictor(self.model)
        default = spotting_metrics(val, predict)
        rows = tune_detector(val, predict)
        best = rows[0] if rows and rows[0]["f1"] > default["f1"] + 0.01 else None
        detection = {"p": best["p"], "min_score": best["min_score"]} if best else {}
        self.log(f"detection parameters {detection or 'engine defaults'}: val F1 "
                 f"{(best or default)['f1']:.3f} (defaults {default['f1']:.3f})")
        return {"detection": detection, "val_default_detection": default,
                "val_calibrated": best or default}

    def finetune(self) -> dict[str, Any]:
        config = self.config
        assert self._finetune_sets is not None, "prepare() builds the data first"
        if config.task == "spotting":
            train, val = self._finetune_sets
            self.log(f"spotting windows: train {len(train)} ({len(train.positive)} positive), "
                     f"val {len(val)}")

            def spot_step() -> tuple[torch.Tensor, dict]:
                clips, labels = train.sample(self.rng, config.batch_size)
                return self.model.finetune_loss(torch.from_numpy(clips), torch.from_numpy(labels),
                                                config.aux_weight)

            def spot_eval() -> tuple[float, dict]:
                metrics = spotting_metrics(val, _predictor(self.model))
                # interval F1 is what the engine delivers but is noisy on a few dozen
                # intervals; frame AUC is steadier: select on their sum
                return metrics["f1"] + metrics["frame_auc"], metrics
            self._loop("finetune", config.epochs, spot_step, spot_eval)
            return {"train_windows": len(train), "val_windows": len(val), **self._calibrate(val)}
        train_rec, val_rec = self._finetune_sets
        self.log(f"recognition samples: train {len(train_rec)}, val {len(val_rec)}")
        weights = torch.from_numpy(train_rec.class_weights())
        texts = None
        if config.method == "attrclip":
            from .text import TextEmbedder, au_text
            strings = [au_text(a) for a in train_rec.aus]
            vocabulary = sorted(set(strings))
            ids = np.array([vocabulary.index(s) for s in strings])
            texts = (torch.from_numpy(TextEmbedder(self.cache / "text")(strings)), torch.from_numpy(ids))

        def rec_step() -> tuple[torch.Tensor, dict]:
            clips, labels, picks = train_rec.sample(self.rng, config.batch_size)
            extra = {}
            if texts is not None:
                extra = {"text": texts[0][picks], "text_ids": texts[1][picks]}
            return self.model.finetune_loss(torch.from_numpy(clips), torch.from_numpy(labels),
                                            config.aux_weight, class_weights=weights, **extra)

        def rec_eval() -> tuple[float, dict]:
            metrics = recognition_metrics(val_rec, _predictor(self.model))
            return metrics["uf1"] + 0.01 * metrics["uar"], metrics
        self._loop("finetune", config.epochs, rec_step, rec_eval)
        return {"train_samples": len(train_rec), "val_samples": len(val_rec)}


def train(config: TrainConfig, source: DataSource, out: Path, *, seed: int = 0,
          resume: bool = False, cache: Path | None = None,
          log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run both stages and write ``result.json``; returns it.

    The data of both stages is built before any training and before the run
    folder is made, so a data problem leaves no folder behind.  A resumed run
    (``resume``) must have the config, data source and seed of the original,
    and goes on exactly as the uninterrupted run would have (the random
    generators are checkpointed with the weights).

    Raises:
        InputError: the run folder holds a run (no ``resume``) or one with other
            settings; a spotter on a clip dataset.
        DatasetError: the data cannot train this method (the message names the
            split, and ``--resume`` when finished epochs were kept).
    """
    log = log or (lambda line: print(line, flush=True))
    source.check_task(config.task)
    if config.train_signal == "injected":  # a real dataset: refused before reading it
        source.injected_train_dirs(_INJECTED_OPTION)
    run = RunDir(out, config, resume=resume, settings={"data": source.identity(), "seed": seed})
    rng = _seed_everything(seed)
    cache = cache or out.parent / "_cache"
    started = time.monotonic()
    trainer = _Trainer(config, source, run, cache, rng, log)
    trainer.prepare()
    run.start()
    try:
        if run.state.epoch >= 0:
            run.load_weights(trainer.model, "last")
        trainer.pretrain()
        sizes = trainer.finetune()
    except MerEdgeError as error:
        if run.state.epoch < 0:
            raise
        raise reworded(error, suffix=f" ({out} keeps the epochs finished so far: go on with "
                                     "--resume once this is mended)") from error
    result = {
        "config": config.to_json(), "method": METHOD_NAMES[config.method], "seed": seed,
        "params": count_params(trainer.model), "val_metrics": run.state.best_metrics,
        "best_epoch": run.state.best_epoch, "training_data": _training_data(config, source),
        "fps": trainer.model_fps, "data": sizes,
        "train_seconds": round(time.monotonic() - started, 1),
    }
    run.write_result(result)
    return result


def _training_data(config: TrainConfig, source: DataSource) -> str:
    """The metadata's ``training_data``: the data, and for a recognizer what it learned from."""
    if config.task != "recognition":
        return source.describe()
    return f"{source.describe()}; trained on {TRAIN_SIGNALS[config.train_signal]}"


def interrupted_message(out: Path) -> str:
    """What a Ctrl-C left in the run folder ``out``, and how to go on."""
    state = out / "state.json"
    if not state.is_file():
        return f"interrupted before the first epoch finished: nothing saved in {out}"
    saved = json.loads(state.read_text(encoding="utf-8"))
    return (f"interrupted: state saved in {out} after {saved['stage']} epoch {saved['epoch'] + 1}; "
            "run the same command with --resume to go on")


def add_pretrain_videos_option(parser: argparse.ArgumentParser) -> None:
    """``--pretrain-videos``: the videos self-supervised pre-training reads, instead of the config's."""
    parser.add_argument("--pretrain-videos", nargs="*", default=None, metavar="VIDEO",
                        help="face videos for self-supervised pre-training instead of the config's "
                             "(moext and miacnet name lp_d6.mp4 of the team's shared videos); "
                             "with no value, pre-train on the training data alone")


def check_common_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse out-of-range values of the options train and LOSO share (``--val-fraction``)."""
    if not 0 < args.val_fraction < 1:
        parser.error(f"--val-fraction must be between 0 and 1, got {args.val_fraction}")


def main(argv: list[str] | None = None) -> None:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if "--loso" in arguments:  # one training CLI: the cross-validation runs through it too
        from .loso import main as loso_main

        loso_main([a for a in arguments if a != "--loso"])
        return
    parser = argparse.ArgumentParser(prog="mer-edge-train", description=__doc__.splitlines()[0])
    parser.add_argument("config", help="method name (ssl3d, regional_tcn, moext, miacnet, attrclip) "
                                       "or a JSON config (linear: see python -m "
                                       "mer_edge_export.linear_recognizer)")
    parser.add_argument("--bench", type=Path, help="make_bench folder with train/ val/ test/")
    parser.add_argument("--extra-train", type=Path, action="append", default=[],
                        help="another make_bench folder whose train split is added (repeatable)")
    parser.add_argument("--extra-val", type=Path, action="append", default=[],
                        help="another make_bench folder whose val split is added (repeatable)")
    parser.add_argument("--dataset", help="real dataset name (casme2, samm, casme_sq, ...)")
    parser.add_argument("--root", type=Path, help="the real dataset's folder")
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--test-subjects", default="", help="comma-separated subjects held out")
    parser.add_argument("--out", type=Path, help="run folder (default runs/<config name>)")
    parser.add_argument("--cache", type=Path, help="alignment/feature cache (default <out>/../_cache)")
    parser.add_argument("--tiny", action="store_true", help="tiny configuration (tests)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--train-signal", choices=sorted(TRAIN_SIGNALS), default=None,
                        help="what a recognizer learns from, instead of the config's "
                             "train_signal: observed (the onset->apex input) or injected (the "
                             "movements injected into a --bench benchmark alone, measured "
                             "against its source videos; validation stays observed)")
    parser.add_argument("--videos", type=Path, default=None,
                        help="the source videos of the --bench benchmark, for --train-signal "
                             "injected (default: $MER_EDGE_VIDEOS, else ../shared/data/videos)")
    add_threads_option(parser)
    add_pretrain_videos_option(parser)
    parser.add_argument("--loso", action="store_true",
                        help="leave-one-subject-out cross-validation instead of one run: the other "
                             "arguments go to mer-edge-loso (see its --help)")
    args = parser.parse_args(arguments)
    check_common_options(parser, args)
    if args.config == "linear":
        parser.error("linear (the FACS-linear recognizer) has no torch training run: train it with "
                     "python -m mer_edge_export.linear_recognizer --bench DIR --out FILE.onnx, "
                     "cross-validate it with mer-edge-loso linear, or rebuild the shipped one "
                     "with python -m mer_edge_export.recipe")
    use_threads(args.threads)
    out = args.out
    try:
        config = load_config(args.config, tiny=args.tiny, pretrain_videos=args.pretrain_videos,
                             train_signal=args.train_signal)
        source = DataSource(args.bench, args.dataset, args.root, args.val_fraction, args.seed,
                            tuple(s for s in args.test_subjects.split(",") if s),
                            tuple(args.extra_train), tuple(args.extra_val),
                            videos_dir=args.videos)
        out = args.out or Path("runs") / config.name
        result = train(config, source, out, seed=args.seed, resume=args.resume, cache=args.cache)
    except MerEdgeError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    except KeyboardInterrupt:
        parser.exit(130, f"{parser.prog}: {interrupted_message(out)}\n" if out is not None
                    else f"{parser.prog}: interrupted\n")
    print(json.dumps({k: result[k] for k in ("method", "params", "best_epoch", "val_metrics")},
                     indent=2, default=float))


if __name__ == "__main__":
    main()
