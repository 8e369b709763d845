"""Memory and CPU time of a process from /proc/<pid>/ (Linux; psutil is not a dependency)."""

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


def cpu_seconds(pid: int) -> Optional[float]:
    """User + system CPU seconds of a process so far (all its threads), or None where /proc is missing."""
    import os

    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
