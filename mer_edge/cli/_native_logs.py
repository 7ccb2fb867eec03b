"""Drop the informational chatter MediaPipe's native code writes to stderr.

MediaPipe 0.10.14 logs through absl and TensorFlow Lite straight to file
descriptor 2 (``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``,
``WARNING: All log messages before absl::InitializeLog() ...``,
``W0000 ... inference_feedback_manager.cc ...``).  Neither ``GLOG_minloglevel``
nor ``TF_CPP_MIN_LOG_LEVEL`` reaches those loggers, and absl's own switches
are not exported, so the command line filters the descriptor instead: while a
command runs, fd 2 is a pipe read by a thread that forwards everything except
those informational and warning lines.  Native errors (``E...``/``F...``
lines) and everything Python prints still reach the terminal, as they come.
Set ``MER_EDGE_NATIVE_LOGS=1`` to see the native logs unfiltered.
"""
from __future__ import annotations

import os
import re
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

__all__ = ["filter_native_logs", "is_noise", "KEEP_ENV"]

#: Environment variable that, when set to anything but ``0``/empty, turns the filter off.
KEEP_ENV = "MER_EDGE_NATIVE_LOGS"

_NOISE = re.compile(
    rb"^(?:[IW]\d{4} \S+ +\d+ [^\]]+\] "  # absl/glog INFO and WARNING
    rb"|INFO: "  # TensorFlow Lite's minimal logger
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called)")


def is_noise(line: bytes) -> bool:
    """Whether ``line`` (one native stderr line) is informational chatter to drop."""
    return _NOISE.match(line) is not None


def _forward(read_fd: int, write_fd: int) -> None:
    """Copy ``read_fd`` to ``write_fd`` until EOF, dropping whole noise lines.

    If the real stderr cannot be written (a full disk, a closed pipe), the
    pipe is still drained to EOF: a writer blocked on a full pipe would hang
    the command.
    """
    pending = b""
    writable = True

    def forward(data: bytes) -> None:
        nonlocal writable
        if writable and data:
            try:
                os.write(write_fd, data)
            except OSError:
                writable = False

    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        kept = b"".join(line + b"\n" for line in lines if not is_noise(line))
        if pending and not is_noise(pending):  # a progress bar redrawn with \r, no newline
            kept, pending = kept + pending, b""
        forward(kept)
    if pending and not is_noise(pending):
        forward(pending)


@contextmanager
def filter_native_logs() -> Iterator[None]:
    """Filter fd 2 for the duration of the block (does nothing if :data:`KEEP_ENV` is set)."""
    if os.environ.get(KEEP_ENV, "0") not in ("", "0"):
        yield
        return
    try:
        sys.stderr.flush()
        original = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (embedded interpreter, closed stderr)
        yield
        return
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    forwarder = threading.Thread(target=_forward, args=(read_fd, original),
                                 name="mer_edge-native-logs", daemon=True)
    forwarder.start()
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(original, 2)  # the pipe's last writer closes: the forwarder sees EOF
        forwarder.join(5.0)
        if not forwarder.is_alive():  # else a child still holds the pipe: leave it to the thread
            os.close(read_fd)
        os.close(original)
