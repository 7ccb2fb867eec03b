"""``mer-edge models``: the models shipped in the package and their metadata.

Prints one readable line per model, then, as the last line, the JSON list of
:func:`~mer_edge.shipped_models` summaries (name, task, method, version,
input spec, class names...) for scripts to parse.

Also home of the model choice shared by ``run`` and ``eval``
(``--macro-spotter`` among it): model files
grouped by the task their metadata names (:func:`models_by_task`), one per
task (:func:`one_model`), and the report of the provider each model really
runs on (:func:`report_providers`).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

#: Task -> the option that names a model of that task explicitly.
TASK_OPTIONS: dict[str, str] = {"spotting": "--spotter", "recognition": "--recognizer"}


def register(subparsers: Any) -> None:
    """Add the ``models`` subcommand."""
    parser = subparsers.add_parser(
        "models", help="list the shipped models and their metadata",
        description="List the models shipped in the package. The last line is a JSON list.")
    parser.add_argument("--json-only", action="store_true",
                        help="print only the JSON line")
    parser.set_defaults(handler=run)


def describe(summary: dict[str, Any]) -> str:
    """One human-readable line for a model summary."""
    spec = summary.get("input", {})
    shape = "x".join("B" if d == -1 else str(d) for d in spec.get("shape", ()))
    classes = summary.get("class_names") or ()
    tags = [t for t, on in (("default", summary.get("default")),
                            ("placeholder", summary.get("placeholder"))) if on]
    parts = [f"{summary.get('file', '?')}: {summary['name']} {summary['version']}",
             f"task={summary['task']}", f"method={summary['method']}",
             f"input={spec.get('name', '?')}[{shape}] {'+'.join(spec.get('channels', ()))}"]
    if classes:
        parts.append("classes=" + ",".join(classes))
    if tags:
        parts.append("(" + ", ".join(tags) + ")")
    return "  ".join(parts)


def run(args: argparse.Namespace) -> int:
    from .._models import shipped_models

    summaries = shipped_models()
    if not args.json_only:
        for summary in summaries:
            print(describe(summary))
    print(json.dumps(summaries, sort_keys=True), flush=True)
    return 0


def add_backend_arguments(parser: Any) -> None:
    """``--backend`` and ``--allow-fallback``, the same for ``run`` and ``eval``."""
    from .._backends import BACKENDS, DEFAULT_BACKEND

    parser.add_argument("--backend", default=DEFAULT_BACKEND,
                        help=f"{', '.join(BACKENDS)} (default {DEFAULT_BACKEND})")
    parser.add_argument("--allow-fallback", action="store_true",
                        help="let a GPU backend fall back to the CPU (the output names the "
                             "provider each model ran on)")


def add_macro_spotter_argument(parser: Any) -> None:
    """``--macro-spotter``, the same for ``run`` and ``eval`` (``EngineOptions.macro_spotting_model``)."""
    parser.add_argument("--macro-spotter", metavar="PATH", default=None,
                        help="a second spotting model whose macro-expressions replace the "
                             "spotter's (e.g. the shipped regional_tcn_spotter.onnx); the "
                             "spotter's micro-expressions are kept")


def check_model_paths(named: Iterable[tuple[str, str | os.PathLike | None]]) -> None:
    """Refuse an option (``--spotter``, ``--macro-spotter``...) naming a model file that is no file.

    ``named``: ``(option as typed, its value or None)`` pairs; an option
    given several times (``eval --models A B``) comes once per value.
    """
    from .._errors import InputError

    for option, value in named:
        if value is None or Path(value).is_file():
            continue
        if Path(value).is_dir():
            raise InputError(f"{option}: {value} is a folder, expected a model file")
        raise InputError(f"{option}: no such file {value}")


def models_by_task(paths: Iterable[str | os.PathLike],
                   backend: str = "onnxruntime") -> dict[str, list[str]]:
    """The model files ``paths`` grouped by the task their metadata names, in order.

    Each must be a file ``backend`` opens (a ``.engine`` for ``tensorrt``, an
    ONNX file otherwise); engine headers are read without a GPU.
    """
    from .._models import model_file_info

    by_task: dict[str, list[str]] = {}
    for path in paths:
        check_model_file(path, backend)
        by_task.setdefault(model_file_info(path).task, []).append(os.fspath(path))
    return by_task


def check_model_file(path: str | os.PathLike, backend: str) -> None:
    """Refuse a model file that ``backend`` cannot open, saying what to do instead."""
    from .._backends._tensorrt import BUILD_COMMAND
    from .._errors import ModelError
    from .._models import ENGINE_SUFFIX, model_suffix

    is_engine = Path(path).suffix == ENGINE_SUFFIX
    if is_engine and model_suffix(backend) != ENGINE_SUFFIX:
        raise ModelError(f"{path} is a TensorRT engine: it runs with --backend tensorrt, "
                         f"not {backend}")
    if not is_engine and model_suffix(backend) == ENGINE_SUFFIX:
        raise ModelError(f"{path}: --backend tensorrt runs TensorRT engines ({ENGINE_SUFFIX}); "
                         f"build one on this device with `{BUILD_COMMAND}`")


def report_providers(command: str, providers: Mapping[str, str], backend: str) -> None:
    """Print the provider each model (task -> provider) runs on, unless on the CPU default.

    A model that runs elsewhere than ``backend`` asks (an allowed fallback)
    gets a warning on stderr naming the provider it fell back to.
    """
    from .._backends import DEFAULT_BACKEND, requested_provider

    if backend == DEFAULT_BACKEND or not providers:
        return
    print(f"{command}: " + ", ".join(f"{task}: {provider}" for task, provider in providers.items()))
    wanted = requested_provider(backend)
    if wanted is None:  # a backend of the user's own: no known provider to compare with
        return
    fallen: dict[str, list[str]] = {}
    for task, provider in providers.items():
        if provider != wanted:
            fallen.setdefault(provider, []).append(task)
    if fallen:
        where = "; ".join(f"{provider} ({', '.join(tasks)})" for provider, tasks in fallen.items())
        print(f"{command}: warning: --backend {backend} asked for {wanted}; fell back to {where}",
              file=sys.stderr)


def one_model(task: str, found: list[str], origin: str, *, required: bool) -> str | None:
    """The single ``task`` model among ``found`` (from ``origin``, an option as typed).

    Several are refused, naming them; none is refused when ``required``,
    otherwise ``None`` (the shipped default).
    """
    from .._errors import ModelError

    if len(found) == 1 or (not found and not required):
        return found[0] if found else None
    what = "no" if not found else f"{len(found)} ({', '.join(found)})"
    hint = f" (or name it with {TASK_OPTIONS[task]})" if required else ""
    raise ModelError(f"{origin}: {what} {task} models; expected "
                     f"{'one' if required else 'at most one'}{hint}")
