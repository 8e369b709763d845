"""Test hooks, read only when WHISPER_SIDECAR_TEST_HOOKS=1 (see README.md)."""

from __future__ import annotations

import os
from typing import Mapping, Optional

ENABLE = "WHISPER_SIDECAR_TEST_HOOKS"
FAKE_DEVICES = "WHISPER_SIDECAR_FAKE_CUDA_DEVICES"
PROBE_BEHAVIOR = "WHISPER_SIDECAR_PROBE_BEHAVIOR"
PROBE_BEHAVIORS = ("abort", "fastfail", "hang", "ok")
# POSIX keeps 8 bits of an exit code, so the fastfail probe also writes the full code.
EMULATED_EXIT_MARKER = "whisper-sidecar-probe: emulated exit code "
FASTFAIL_EXIT_CODE = 3221226505  # 0xC0000409, STATUS_STACK_BUFFER_OVERRUN on Windows


def enabled(env: Optional[Mapping[str, str]] = None) -> bool:
    return (os.environ if env is None else env).get(ENABLE) == "1"


def fake_cuda_devices(env: Optional[Mapping[str, str]] = None) -> Optional[int]:
    """The device count to pretend, or None when not faking."""
    env = os.environ if env is None else env
    if not enabled(env) or not env.get(FAKE_DEVICES, "").strip().isdigit():
        return None
    return int(env[FAKE_DEVICES])


def probe_behavior(env: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """abort | fastfail | hang | ok, or None for the real probe."""
    env = os.environ if env is None else env
    value = env.get(PROBE_BEHAVIOR, "").strip().lower()
    return value if enabled(env) and value in PROBE_BEHAVIORS else None
