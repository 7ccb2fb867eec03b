"""Reproduce the shipped trained models in one command.

``python -m mer_edge_export.recipe --bench DIR [--methods linear,...] [--extra-seeds 18] [--extra-val-seeds 10] [--out runs] [--models DIR]``

1. builds ``--extra-seeds`` more *training-only* benchmarks (the default
   layout's training identities with other injected movements, seeds
   1..N) and ``--extra-val-seeds`` *validation-only* ones (seeds 101..;
   used for model selection only); the test identities are never touched;
2. trains each method on the bench's train split plus those extra train
   splits, selecting epochs (or the L2 strength) on the val splits;
3. exports it to ONNX with its metadata (the networks with a PyTorch/ONNX
   Runtime parity check) into ``--models`` (default: the package's models
   folder, replacing the shipped files; with ``--tiny``, ``OUT/models``: a
   test model never goes into the package).

By default it makes the engine's default recognizer, ``linear`` (the FACS
regional linear model, learned from the injected displacement, mirrored, on
similarity-compensated flow).
The default spotter is training-free (``python -m mer_edge_export.placeholders``).

Each run resumes if its folder already holds a checkpoint, so the recipe
can be re-run after an interruption.
"""
from __future__ import annotations

if __name__ == "__main__":  # run as python -m: without PyTorch, one line, not a traceback
    from ._launch import require_torch_to_run
    require_torch_to_run(__spec__)

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from mer_edge._errors import InputError, MerEdgeError

from .config import load_config
from .linear_recognizer import train_linear
from .onnx_export import export_run
from .outputs import SHIPPED_MODELS_DIR, is_shipped_location
from .train import DataSource, train

__all__ = ["DEFAULT_METHODS", "RECIPE_SETTINGS", "SHIPPED_FILES", "build_extra_benches", "run_recipe", "main"]

#: Methods the recipe trains unless told otherwise: the engine's trained default.
DEFAULT_METHODS = ("linear",)
#: Settings the recipe trains a method with over its config (``export/configs``), which
#: stays fit for any data (a real dataset has no source videos to learn the injected
#: movement from): the shipped MoExt and MIACNet learn from the benchmark's injected
#: movements alone on similarity-compensated flow, chosen on the pooled validation
#: (docs/benchmarks.md, session 12).
_FROM_INJECTED = {"flow_compensation": "similarity", "train_signal": "injected", "version": "1.1.0"}
RECIPE_SETTINGS: dict[str, dict[str, str]] = {"moext": _FROM_INJECTED, "miacnet": _FROM_INJECTED}
#: Method -> file name under ``mer_edge/models``.
SHIPPED_FILES = {"linear": "facs_linear_recognizer.onnx",
                 "ssl3d": "ssl3d_spotter.onnx", "regional_tcn": "regional_tcn_spotter.onnx",
                 "moext": "moext_recognizer.onnx",
                 "miacnet": "miacnet_recognizer.onnx", "attrclip": "attrclip_recognizer.onnx"}


def build_extra_benches(out: Path, seeds: int, videos_dir: Path | None = None, *,
                        split: str = "train", first_seed: int = 1) -> list[Path]:
    """Benchmarks of one ``split`` of the default layout, seeds ``first_seed..``, under ``out``.

    Only that split's identities are rendered (other injected movements on
    the same people); folders that already hold it are reused.
    """
    from mer_edge.data.synth import DEFAULT_LAYOUT, make_bench

    folders = []
    for number in range(1, seeds + 1):
        folder = out / f"seed{number}"
        if not (folder / split / "manifest.json").is_file():
            make_bench(folder, first_seed + number - 1, videos_dir=videos_dir,
                       layout={split: DEFAULT_LAYOUT[split]}, overwrite=True)
        folders.append(folder)
    return folders


def run_recipe(bench: Path, *, out: Path, models: Path, methods: tuple[str, ...],
               extra_seeds: int = 0, extra_val_seeds: int = 0, videos_dir: Path | None = None,
               tiny: bool = False, seed: int = 0) -> dict[str, Any]:
    """Train and export ``methods``; returns the export summaries by method.

    Raises:
        InputError: ``tiny`` with ``models`` in the package's models folder.
    """
    if tiny and is_shipped_location(models):
        raise InputError(f"--models {models} is the package's models folder: a --tiny run "
                         "never writes there (leave --models out: it writes into OUT/models)")
    extra = tuple(build_extra_benches(out / "bench_extra", extra_seeds, videos_dir))
    extra_val = tuple(build_extra_benches(out / "bench_extra_val", extra_val_seeds, videos_dir,
                                          split="val", first_seed=101))
    source = DataSource(bench, extra_train=extra, extra_val=extra_val, videos_dir=videos_dir)
    summaries: dict[str, Any] = {}
    for method in methods:
        if method == "linear":
            summaries[method] = train_linear(source, models / SHIPPED_FILES[method], signal="injected",
                                             mirror=True, videos_dir=videos_dir, cache=out / "_cache",
                                             flow_compensation="similarity")
            continue
        config = replace(load_config(method, tiny=tiny), **RECIPE_SETTINGS.get(method, {}))
        run_dir = out / config.name
        if not (run_dir / "result.json").is_file():  # finished runs are only re-exported
            train(config, source, run_dir, seed=seed, resume=(run_dir / "state.json").is_file(),
                  cache=out / "_cache")
        summaries[method] = export_run(run_dir, models / SHIPPED_FILES[method])
    return summaries


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mer_edge_export.recipe",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, required=True, help="make_bench folder")
    parser.add_argument("--out", type=Path, default=Path("runs"))
    parser.add_argument("--models", type=Path, default=None,
                        help=f"where the ONNX files go (default {SHIPPED_MODELS_DIR}, replacing the "
                             "shipped ones; with --tiny: OUT/models)")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help=f"comma-separated, from {sorted(SHIPPED_FILES)}")
    parser.add_argument("--extra-seeds", type=int, default=18,
                        help="extra training-only benchmark seeds 1..N (0: none)")
    parser.add_argument("--extra-val-seeds", type=int, default=10,
                        help="extra validation-only benchmark seeds 101..100+N (0: none)")
    parser.add_argument("--videos", type=Path, help="source videos of make_bench (MER_EDGE_VIDEOS)")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    methods = tuple(m for m in args.methods.split(",") if m)
    unknown = sorted(set(methods) - set(SHIPPED_FILES))
    if unknown:
        parser.error(f"unknown methods {unknown}; valid: {sorted(SHIPPED_FILES)}")
    models = args.models or (args.out / "models" if args.tiny else SHIPPED_MODELS_DIR)
    try:
        summaries = run_recipe(args.bench, out=args.out, models=models, methods=methods,
                               extra_seeds=args.extra_seeds, extra_val_seeds=args.extra_val_seeds,
                               videos_dir=args.videos, tiny=args.tiny, seed=args.seed)
    except MerEdgeError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    print(json.dumps(summaries, indent=2, default=float))
    print(f"wrote {', '.join(str(models / SHIPPED_FILES[m]) for m in methods)}")


if __name__ == "__main__":
    main()
