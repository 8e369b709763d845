"""Linux: wheels put libraries in nvidia/<lib>/lib, and we preload them RTLD_GLOBAL.

ctranslate2 opens cuBLAS lazily with ``dlopen("libcublas.so.12")``; a library already
loaded with that soname satisfies the call, so loading the wheel's copy by full path
first is enough. LD_LIBRARY_PATH is read once at process start and cannot be changed
for the running process, so this module never touches the environment.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
from typing import Callable, Dict, List, MutableMapping, Optional

NAME = "linux"
PATHSEP = ":"
_DRIVER = "libcuda.so.1"
_DEFAULT_TOOLKITS = ("/usr/local/cuda",)
_IS_64BIT = ctypes.sizeof(ctypes.c_void_p) == 8


def wheel_lib_dirs(nvidia_root: str, wheel_dirs, cuda_major: int) -> List[str]:
    """Folders a pip wheel may use under one ``nvidia/`` folder."""
    dirs = [os.path.join(nvidia_root, name, "lib") for name in wheel_dirs]
    # CUDA 13 wheels share one folder: nvidia/cu13/lib.
    dirs.append(os.path.join(nvidia_root, f"cu{cuda_major}", "lib"))
    return dirs


def toolkit_dirs(root: str) -> List[str]:
    """Library folders of a CUDA toolkit or cuDNN tarball (CUDA_PATH, CUDA_HOME, CUDNN_PATH)."""
    return [os.path.join(root, "lib64"), os.path.join(root, "lib"),
            os.path.join(root, "targets", "x86_64-linux", "lib")]


def conda_dirs(prefix: str) -> List[str]:
    return [os.path.join(prefix, "lib")]


def system_dirs(env: MutableMapping[str, str]) -> List[str]:
    """LD_LIBRARY_PATH, then the usual toolkit location."""
    dirs = [d for d in env.get("LD_LIBRARY_PATH", "").split(PATHSEP) if d]
    for root in _DEFAULT_TOOLKITS:
        dirs.extend(toolkit_dirs(root))
    return dirs


def loader_cache() -> Dict[str, str]:
    """File name -> path for every library the system loader knows (``ldconfig -p``)."""
    ldconfig = shutil.which("ldconfig") or next(
        (p for p in ("/sbin/ldconfig", "/usr/sbin/ldconfig") if os.path.exists(p)), None)
    if not ldconfig:
        return {}
    try:
        out = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=10,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    cache: Dict[str, str] = {}
    for line in out.splitlines():
        match = re.match(r"\s*(\S+) \((.*?)\) => (\S+)", line)
        if not match:
            continue
        # Skip 32-bit entries ("libc6") from a 64-bit process ("libc6,x86-64", "AArch64").
        if _IS_64BIT and "64" not in match.group(2):
            continue
        cache.setdefault(match.group(1), match.group(3))
    return cache


def load_library(path: str):
    """Load one library for good, its symbols visible to later dlopen calls."""
    return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)


def driver_present(load: Optional[Callable[[str], object]] = None) -> bool:
    try:
        (load or ctypes.CDLL)(_DRIVER)
    except OSError:
        return False
    return True


def driver_library() -> str:
    return _DRIVER


def add_search_dirs(dirs, env, add_dll_directory=None) -> List[str]:
    """Nothing to do: preloading is what makes the libraries visible on Linux."""
    return []


def guard_env(env, required_file: str) -> Optional[str]:
    """Nothing to guard: no Linux loader reads CUDA_PATH."""
    return None


def child_popen_kwargs() -> dict:
    """Start the probe in its own session so a timeout can kill it and anything it spawned."""
    return {"start_new_session": True}


def kill_child(proc) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
