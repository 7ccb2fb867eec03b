"""``mer-edge models``: the models shipped in the package and their metadata.

Prints one readable line per model, then, as the last line, the JSON list of
:func:`~mer_edge.shipped_models` summaries (name, task, method, version,
input spec, class names...) for scripts to parse.

Also home of the model choice shared by ``run`` and ``eval``: model files
grouped by the task their metadata names (:func:`models_by_task`), one per
task (:func:`one_model`).
"""
from __future__ import annotations

import argparse
import json
import os
from typing import Any, Iterable

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


def models_by_task(paths: Iterable[str | os.PathLike]) -> dict[str, list[str]]:
    """The model files ``paths`` grouped by the task their metadata names, in order."""
    from .._models import Model

    by_task: dict[str, list[str]] = {}
    for path in paths:
        model = Model(path)
        try:
            by_task.setdefault(model.info.task, []).append(os.fspath(path))
        finally:
            model.close()
    return by_task


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
