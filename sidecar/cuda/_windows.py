"""Windows: wheels put DLLs in nvidia\\<lib>\\bin (CUDA 13: nvidia\\cu13\\bin\\x86_64).

ctranslate2 loads cuBLAS with a plain ``LoadLibraryA("cublas64_12.dll")``, which ignores
``os.add_dll_directory`` and searches ``PATH``; cuDNN loads its sub-libraries the same way.
So each folder is both added as a DLL directory (for our own loads and for libraries
loaded with LOAD_LIBRARY_SEARCH_DEFAULT_DIRS) and prepended to this process's ``PATH``.
Every function works on plain strings and injected callables, so the tests run this
module on Linux against fake layouts.
"""

from __future__ import annotations

import os
from typing import Callable, Dict, List, MutableMapping, Optional

NAME = "windows"
PATHSEP = ";"
_DRIVER = "nvcuda.dll"
# os.add_dll_directory returns a handle; closing it (or losing it to the garbage collector
# in some Python builds) removes the folder again, so keep them for the process lifetime.
_DLL_DIRECTORY_HANDLES: List[object] = []


def _join(*parts: str) -> str:
    return os.path.join(*parts)


def wheel_lib_dirs(nvidia_root: str, wheel_dirs, cuda_major: int) -> List[str]:
    dirs = [_join(nvidia_root, name, "bin") for name in wheel_dirs]
    dirs.append(_join(nvidia_root, f"cu{cuda_major}", "bin", "x86_64"))
    dirs.append(_join(nvidia_root, f"cu{cuda_major}", "bin"))
    return dirs


def toolkit_dirs(root: str) -> List[str]:
    # CUDA 13 toolkits moved the DLLs to bin\x64.
    return [_join(root, "bin"), _join(root, "bin", "x64")]


def conda_dirs(prefix: str) -> List[str]:
    return [_join(prefix, "Library", "bin"), _join(prefix, "bin")]


def system_dirs(env: MutableMapping[str, str]) -> List[str]:
    """The folders LoadLibrary falls back to: PATH, in order."""
    return [d for d in env.get("PATH", "").split(PATHSEP) if d]


def loader_cache() -> Dict[str, str]:
    """Windows has no loader cache; PATH (system_dirs) is the system search."""
    return {}


def load_library(path: str):
    import ctypes  # WinDLL only exists on Windows

    return ctypes.WinDLL(path)


def driver_present(load: Optional[Callable[[str], object]] = None) -> bool:
    try:
        (load or load_library)(_DRIVER)
    except (OSError, AttributeError):
        return False
    return True


def driver_library() -> str:
    return _DRIVER


def _same(a: str, b: str) -> bool:
    return os.path.normpath(a).lower() == os.path.normpath(b).lower()


def add_search_dirs(dirs, env: MutableMapping[str, str],
                    add_dll_directory: Optional[Callable[[str], object]] = None) -> List[str]:
    """Add each folder as a DLL directory and put them, in order, at the front of PATH.

    Returns notes for the report (folders that could not be added).
    """
    add = add_dll_directory or getattr(os, "add_dll_directory", None)
    notes: List[str] = []
    for folder in dirs:
        if add is None:
            notes.append("os.add_dll_directory is unavailable; relying on PATH only")
            break
        try:
            _DLL_DIRECTORY_HANDLES.append(add(folder))
        except OSError as e:
            notes.append(f"os.add_dll_directory({folder!r}) failed: {e}")
    rest = [p for p in env.get("PATH", "").split(PATHSEP)
            if p and not any(_same(p, d) for d in dirs)]
    env["PATH"] = PATHSEP.join(list(dirs) + rest)
    return notes


def guard_env(env: MutableMapping[str, str], required_file: str) -> Optional[str]:
    """Drop a CUDA_PATH that points at a toolkit without the cuBLAS we need.

    A CUDA_PATH left behind by an uninstalled or other-major toolkit makes tools (and
    older ctranslate2 builds) add its bin folder ahead of ours, or fail on a folder that
    no longer exists. Returns a note for the report when it removed one.
    """
    value = env.get("CUDA_PATH")
    if not value:
        return None
    if any(os.path.isfile(_join(d, required_file)) for d in toolkit_dirs(value)):
        return None
    env.pop("CUDA_PATH", None)
    return (f"ignored stale CUDA_PATH={value!r}: no {required_file} in its bin folder; "
            "removed it from this process's environment")


def child_popen_kwargs() -> dict:
    """No console window for the probe; its own process group."""
    import subprocess

    flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0) | getattr(subprocess, "CREATE_NO_WINDOW", 0)
    return {"creationflags": flags}


def kill_child(proc) -> None:
    proc.kill()  # TerminateProcess; the probe starts no children of its own
