"""Turn a probe child's exit into a sentence a person can act on (pure functions)."""

from __future__ import annotations

import signal
from typing import Optional

# Windows NTSTATUS values, as Python reports them (unsigned); the signed form is the
# same 32 bits (3221226505 == -1073740791 & 0xFFFFFFFF).
_NTSTATUS = {
    0xC0000409: ("STATUS_STACK_BUFFER_OVERRUN, a fast-fail abort",
                 "a cuDNN/cuBLAS library failed to load or aborted"),
    0xC0000135: ("STATUS_DLL_NOT_FOUND", "a CUDA DLL the probe needs was not found"),
    0xC0000005: ("STATUS_ACCESS_VIOLATION", "a native library crashed"),
    0xC000001D: ("STATUS_ILLEGAL_INSTRUCTION", "a native library was built for another CPU"),
}

# The probe's own exit codes (sidecar/cuda/probe.py).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NO_DEVICE = 3
_PROBE = {
    EXIT_ERROR: "the probe raised an error while loading the model or encoding on CUDA",
    EXIT_USAGE: "the probe was started with bad arguments",
    EXIT_NO_DEVICE: "the probe found no CUDA device",
}


def describe_exit(exit_code: Optional[int], *, timed_out: bool = False,
                  timeout_s: Optional[float] = None) -> Optional[str]:
    """None for success, else "exit code N (meaning)" or the timeout sentence.

    Args:
        exit_code: the child's return code as subprocess reports it (negative for a
            POSIX signal; a large unsigned or negative number for a Windows NTSTATUS).
        timed_out: the child was stopped by the timeout.
        timeout_s: the timeout, for the sentence.
    """
    if timed_out:
        limit = f"{timeout_s:g} s" if timeout_s is not None else "its time limit"
        return f"did not finish within {limit} and was stopped (a hung CUDA driver or library?)"
    if exit_code == 0:
        return None
    if exit_code is None:
        return "did not run"
    if exit_code < 0 and -exit_code < 64:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        hint = (", typically a missing cuDNN sub-library" if name == "SIGABRT" else "")
        return f"exit code {exit_code} (killed by {name}: a native library aborted{hint})"
    unsigned = exit_code & 0xFFFFFFFF
    if unsigned in _NTSTATUS:
        status, meaning = _NTSTATUS[unsigned]
        return f"exit code {exit_code} (0x{unsigned:08X}, {status}: {meaning})"
    if exit_code in _PROBE:
        return f"exit code {exit_code} ({_PROBE[exit_code]})"
    if 128 < exit_code < 192:  # a shell reporting a signal as 128+N
        inner = describe_exit(128 - exit_code) or ""
        return inner.replace(f"exit code {128 - exit_code}", f"exit code {exit_code}", 1)
    return f"exit code {exit_code}"
