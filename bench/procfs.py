"""Memory of a process from /proc/<pid>/status (Linux; psutil is not a dependency)."""

from __future__ import annotations

import sys
from typing import Optional


def memory_kb(pid: int) -> Optional[dict]:
    """``{"VmHWM": peak RSS, "VmRSS": current RSS}`` in KiB, or None where /proc is missing."""
    if not sys.platform.startswith("linux"):
        return None
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS"):
                    out[key] = int(value.split()[0])
    except OSError:
        return None
    return out or None


def mib(kb: Optional[int]) -> Optional[float]:
    return None if kb is None else round(kb / 1024, 1)
