"""Keep stdout for the protocol alone.

Native libraries (CTranslate2, cuDNN, PyAV's FFmpeg) and stray ``print()`` calls write to fd 1. Before any
of them is imported, :func:`claim_stdout` keeps a private duplicate of fd 1 for the protocol and points
fd 1 at stderr, so nothing but protocol lines can ever reach the parent's stdout pipe.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading

import orjson

log = logging.getLogger(__name__)


class ProtocolWriter:
    """Writes one JSON message per line to a file descriptor, serialized across threads."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self.closed = False

    def send(self, message: dict) -> bool:
        """Write ``message`` as one line. Returns False once the reader has gone away."""
        try:
            data = orjson.dumps(message, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"
        except (TypeError, orjson.JSONEncodeError):
            # Integers beyond 64 bits or lone surrogates echoed from a request: the stdlib writes both
            # (surrogates as \u escapes), so the reply still goes out.
            data = json.dumps(message, ensure_ascii=True, default=str).encode() + b"\n"
        with self._lock:
            if self.closed:
                return False
            view = memoryview(data)
            try:
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
            except OSError as e:  # EPIPE: the parent closed our stdout
                log.warning("protocol stream closed: %s", e)
                self.closed = True
                return False
        return True


def claim_stdout() -> ProtocolWriter:
    """Take fd 1 for the protocol and send everything else written to fd 1 to stderr."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    if sys.platform == "win32":  # binary mode: never "\r\n"
        import msvcrt

        msvcrt.setmode(protocol_fd, os.O_BINARY)
    # Python-level prints go to stderr too, line-buffered.
    sys.stdout = sys.stderr
    return ProtocolWriter(protocol_fd)


def setup_logging(level: str = "INFO") -> None:
    """Logs to stderr at ``level`` (Config.log_level, WHISPER_LOG_LEVEL, or the entry point's default)."""
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def write_text(writer: ProtocolWriter, text: str) -> None:
    """For the command line: print ``text`` on the real stdout (which the protocol fd is)."""
    data = text.encode("utf-8")
    with writer._lock:
        view = memoryview(data)
        while view:
            view = view[os.write(writer._fd, view):]
