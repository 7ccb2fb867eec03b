"""The ``mer-edge`` command line: a thin dispatcher over one module per subcommand.

Each subcommand lives in its own module that exposes::

    def register(subparsers) -> None:
        parser = subparsers.add_parser("name", help=...)
        ...
        parser.set_defaults(handler=run)   # run(args) -> int

and keeps its heavy imports (the engine, MediaPipe, matplotlib) inside the
handler, so ``mer-edge --help`` and ``mer-edge models`` stay fast.  To add a
subcommand, add its module name to :data:`COMMAND_MODULES`.
``python -m mer_edge.cli`` runs the same :func:`main`.

Errors: every :class:`~mer_edge.MerEdgeError` (and an ``OSError`` about a
file) is printed as one line ``mer-edge: error: ...`` on stderr and exits
with status 2; argparse usage errors exit 2 too.  A command that finished but
left something out (a source that stopped early, videos that could not be
read) exits 1.  Ctrl-C exits 130.  MediaPipe's native informational logs are
filtered out of stderr (:mod:`._native_logs`; ``MER_EDGE_NATIVE_LOGS=1``
keeps them).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from typing import Sequence

from .._errors import MerEdgeError
from .._version import __version__
from ._native_logs import filter_native_logs

__all__ = ["main", "build_parser", "COMMAND_MODULES", "PLANNED_MODULES", "EXIT_OK",
           "EXIT_PARTIAL", "EXIT_ERROR"]

#: Modules (relative to this package) that register a subcommand, in help order.
COMMAND_MODULES: tuple[str, ...] = ("._run", "._demo", "._models")
#: Hooks for subcommands whose modules are written separately: ``data``
#: (``make-bench``, ``inspect``) and ``eval``.  Each is registered as soon as
#: its module exists; move it to :data:`COMMAND_MODULES` once it always does.
PLANNED_MODULES: tuple[str, ...] = ("._data", "._eval")

EXIT_OK = 0
#: Exit status of a command that finished but left part of its input out.
EXIT_PARTIAL = 1
#: Exit status of a usage error or any error the SDK reports (bad source, missing file...).
EXIT_ERROR = 2
_EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """The full parser, every module in :data:`COMMAND_MODULES` registered."""
    parser = argparse.ArgumentParser(
        prog="mer-edge",
        description="Real-time facial micro-expression spotting and recognition.")
    parser.add_argument("--version", action="version", version=f"mer_edge {__version__}")
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    planned = tuple(m for m in PLANNED_MODULES if importlib.util.find_spec(m, __name__) is not None)
    for name in COMMAND_MODULES + planned:
        importlib.import_module(name, __name__).register(subparsers)
    return parser


def error_line(message: object) -> str:
    """The one-line form of an error, as printed on stderr."""
    text = " ".join(str(message).split())
    return f"mer-edge: error: {text}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (never raises for user errors)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        with filter_native_logs():
            return int(handler(args))
    except MerEdgeError as exc:
        print(error_line(exc), file=sys.stderr, flush=True)
        return EXIT_ERROR
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(error_line(f"{where}{exc.strerror or exc}"), file=sys.stderr, flush=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("mer-edge: interrupted", file=sys.stderr, flush=True)
        return _EXIT_INTERRUPTED
