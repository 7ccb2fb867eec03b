"""``mer-edge models``: the models shipped in the package and their metadata.

Prints one readable line per model, then, as the last line, the JSON list of
:func:`~mer_edge.shipped_models` summaries (name, task, method, version,
input spec, class names...) for scripts to parse.
"""
from __future__ import annotations

import argparse
import json
from typing import Any


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
