"""How many CUDA devices, which ones, and the compute type to use on a device."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Dict, List, Optional

from .paths import configure

_SMI_TIMEOUT_S = 10


def device_count() -> int:
    """``ctranslate2.get_cuda_device_count()`` after configure(); 0 on any error.

    This only asks the driver: a count above 0 does not prove cuBLAS/cuDNN load
    (that is what verify() is for).
    """
    configure()
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # noqa: BLE001 - no driver, CPU-only build, broken install: all mean 0
        return 0


def _nvidia_smi(query: str) -> Optional[List[List[str]]]:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, f"--query-gpu={query}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=_SMI_TIMEOUT_S,
                             stdin=subprocess.DEVNULL, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return [[cell.strip() for cell in line.split(",")] for line in out.splitlines() if line.strip()]


def driver_version() -> Optional[str]:
    """The NVIDIA driver version (nvidia-smi, else /proc/driver/nvidia/version), or None."""
    rows = _nvidia_smi("driver_version")
    if rows and rows[0] and rows[0][0]:
        return rows[0][0]
    try:
        with open("/proc/driver/nvidia/version", encoding="utf-8") as f:
            return f.readline().strip() or None
    except OSError:
        return None


def gpus(count: Optional[int] = None) -> List[Dict[str, object]]:
    """[{index, name, memory_mb}] for each of ``count`` CUDA devices (default: device_count());
    names and memory when nvidia-smi can say (and sees the same devices, i.e. no
    CUDA_VISIBLE_DEVICES), else None."""
    try:
        count = device_count() if count is None else count
        devices: List[Dict[str, object]] = [
            {"index": i, "name": None, "memory_mb": None} for i in range(count)]
        if not count or os.environ.get("CUDA_VISIBLE_DEVICES"):
            return devices
        rows = _nvidia_smi("index,name,memory.total") or []
        if len(rows) != count:
            return devices
        for device, row in zip(devices, rows):
            if len(row) >= 3:
                device["name"] = row[1] or None
                device["memory_mb"] = int(row[2]) if row[2].isdigit() else None
        return devices
    except Exception:  # noqa: BLE001 - a status report must never fail
        return []


def _supported(device: str) -> set:
    configure()
    try:
        import ctranslate2

        return set(ctranslate2.get_supported_compute_types(device))
    except Exception:  # noqa: BLE001 - e.g. "CUDA driver version is insufficient"
        return set()


_PREFERENCE = {"cuda": ("float16", "int8_float16", "float32"), "cpu": ("int8", "float32")}


def supported_compute_type(device: str, requested: Optional[str] = None) -> str:
    """The compute type to load a model with on ``device`` ("cuda" or "cpu").

    A requested type the device supports wins; otherwise float16 on CUDA (int8_float16
    where fp16 is missing), int8 on the CPU, else float32.
    """
    supported = _supported(device)
    if requested and requested not in ("auto", "default") and requested in supported:
        return requested
    for candidate in _PREFERENCE.get(device, ("float32",)):
        if candidate in supported:
            return candidate
    return "float32"
