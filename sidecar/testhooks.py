"""Methods that exist only with WHISPER_SIDECAR_TEST_HOOKS=1, so tests can reach inside the process."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

from jsonrpcserver import Success


def write_stdout(ctx, text: str = "stray output on fd 1\n"):
    """Write to fd 1 the ways native code does: os.write and C printf."""
    os.write(1, text.encode())
    print(text, end="")
    if sys.platform != "win32":
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.printf(b"%s", text.encode())
        libc.fflush(None)
    return Success({"written": True})


def methods(server) -> dict:
    return {"_test_write_stdout": write_stdout}
