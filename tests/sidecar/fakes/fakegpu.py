"""A GPU that is not there: a device count and a probe command, handed to the real code.

Production code has no test switches; tests build its collaborators from these instead.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Mapping, Optional, Sequence

from sidecar.cuda.verify import ProbeRun, run_probe
from sidecar.engine.gpu import Gpu

HERE = Path(__file__).resolve().parent
FAKE_PROBE = HERE / "fake_probe.py"
sys.path.insert(0, str(HERE))
from fake_probe import EMULATED_EXIT_MARKER  # noqa: E402


def probe_command(behavior: str) -> tuple:
    """The probe command that behaves as ``behavior`` (abort, fastfail, hang, ok)."""
    return (sys.executable, str(FAKE_PROBE), behavior)


def effective_exit_code(exit_code: Optional[int], stderr: str) -> Optional[int]:
    """A probe that emulated a Windows code on POSIX (which keeps 8 bits) wrote it to stderr;
    read it back when the bits agree."""
    if exit_code is None:
        return exit_code
    for line in reversed(stderr.splitlines()):
        if line.startswith(EMULATED_EXIT_MARKER):
            value = line[len(EMULATED_EXIT_MARKER):].strip()
            if value.isdigit() and int(value) & 0xFF == exit_code & 0xFF:
                return int(value)
    return exit_code


def emulating_runner(argv: Sequence[str], timeout_s: float, env: Mapping[str, str]) -> ProbeRun:
    """run_probe, with the fake probe's emulated Windows exit code read back."""
    run = run_probe(argv, timeout_s, env)
    run.exit_code = effective_exit_code(run.exit_code, run.stderr)
    return run


def fake_gpu(cache_folder, devices: int = 1, behavior: Optional[str] = None) -> Gpu:
    """``devices`` CUDA devices; the fake probe behaving as ``behavior``, or the real probe (None)."""
    return Gpu(Path(cache_folder), probe_command(behavior) if behavior else None,
               count=lambda: devices, runner=emulating_runner)


def verify_kwargs(cache_folder, devices: int = 1, behavior: Optional[str] = None) -> dict:
    """The keyword arguments that point sidecar.cuda.verify at the same fakes."""
    return {"cache_folder": Path(cache_folder), "count_devices": lambda: devices,
            "probe_command": probe_command(behavior) if behavior else None, "runner": emulating_runner}
