"""Fake CUDA layouts for both platforms, and real tiny ELF libraries for Linux.

A uniquely named helper module (not conftest) so tests can import it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, Iterable, List, Optional

import pytest

from sidecar.cuda import _linux, _windows
from sidecar.cuda.catalog import requirement_for, specs_for
from sidecar.cuda.search import SearchContext

REPO = Path(__file__).resolve().parents[3]
PLATFORMS = {"linux": _linux, "windows": _windows}


def lib_dir(site: Path, platform: str, lib: str) -> Path:
    """nvidia/<lib>/lib on Linux, nvidia/<lib>/bin on Windows."""
    return site / "nvidia" / lib / ("lib" if platform == "linux" else "bin")


def cu_dir(site: Path, platform: str, major: int) -> Path:
    """The CUDA 13-style shared folder: nvidia/cuN/lib or nvidia/cuN/bin/x86_64."""
    base = site / "nvidia" / f"cu{major}"
    return base / "lib" if platform == "linux" else base / "bin" / "x86_64"


def touch_all(folder: Path, names: Iterable[str]) -> List[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in names:
        (folder / name).write_bytes(b"not a real library")
        paths.append(folder / name)
    return paths


def names(platform: str, ct2: str = "4.8.5", which: str = "cublas", major: Optional[int] = None):
    """Every file name of cuBLAS/cuDNN for the ctranslate2 version (or another major)."""
    cublas, cudnn = specs_for(requirement_for(ct2))
    spec = cublas if which == "cublas" else cudnn
    files = spec.files_for(platform)
    if major is not None:
        files = tuple(f.replace(f".so.{spec.major}", f".so.{major}").replace(
            f"64_{spec.major}.dll", f"64_{major}.dll") for f in files)
    return files


def install_cublas(site: Path, platform: str, major: int = 12) -> Path:
    folder = lib_dir(site, platform, "cublas") if major == 12 else cu_dir(site, platform, major)
    touch_all(folder, names(platform, major=major))
    return folder


def install_cudnn(site: Path, platform: str, major: int = 9, ct2: str = "4.5.0") -> Path:
    folder = lib_dir(site, platform, "cudnn")
    touch_all(folder, names(platform, ct2=ct2 if major == 9 else "4.4.0", which="cudnn"))
    return folder


def context(platform: str, sys_path=(), site_dirs=(), env: Optional[Dict[str, str]] = None,
            loader_cache: Optional[Dict[str, str]] = None) -> SearchContext:
    return SearchContext(platform=PLATFORMS[platform], sys_path=[str(p) for p in sys_path],
                         site_dirs=[str(p) for p in site_dirs], env=dict(env or {}),
                         loader_cache=lambda: dict(loader_cache or {}))


class FakeLoader:
    """Records load order; fails for the names in ``fail``."""

    def __init__(self, fail: Iterable[str] = ()):
        self.loaded: List[str] = []
        self.fail = set(fail)

    def __call__(self, path: str):
        if os.path.basename(path) in self.fail:
            raise OSError(f"{path}: cannot open shared object file")
        self.loaded.append(path)
        return SimpleNamespace(path=path)


# --- real ELF libraries ---------------------------------------------------------------

CC = shutil.which("cc") or shutil.which("gcc")
needs_cc = pytest.mark.skipif(CC is None or not sys.platform.startswith("linux"),
                              reason="building real ELF test libraries needs cc on Linux")


def build_so(folder: Path, soname: str, source: str, needed: Iterable[Path] = ()) -> Path:
    """Compile ``source`` into folder/soname with that SONAME, linked against ``needed``
    (recorded as NEEDED by their sonames, with no rpath: the loader must find them)."""
    folder.mkdir(parents=True, exist_ok=True)
    src = folder / (soname + ".c")
    src.write_text(textwrap.dedent(source))
    out = folder / soname
    cmd = [CC, "-shared", "-fPIC", "-o", str(out), str(src), f"-Wl,-soname,{soname}"]
    cmd += [str(p) for p in needed]
    subprocess.run(cmd, check=True, capture_output=True)
    src.unlink()
    return out


def build_cublas(folder: Path, major: int = 12) -> Dict[str, Path]:
    lt = build_so(folder, f"libcublasLt.so.{major}", f"int cublasLtGetVersion(void) {{ return {major}0; }}")
    blas = build_so(folder, f"libcublas.so.{major}", f"""
        int cublasLtGetVersion(void);
        int cublasGetVersion_v2(void) {{ return cublasLtGetVersion() + {major}; }}
    """, needed=[lt])
    return {"lt": lt, "cublas": blas}


def build_cudnn9(folder: Path, driver_stub: Path) -> Dict[str, Path]:
    """cuDNN 9's files, graph first; engines_runtime_compiled needs libcuda.so.1, which
    ``driver_stub`` provides at link time only (it is deleted afterwards)."""
    graph = build_so(folder, "libcudnn_graph.so.9", "int cudnn_graph_version(void) { return 9; }")
    built = {"graph": graph}
    for part in ("engines_precompiled", "engines_tensor_ir", "heuristic", "ops", "cnn", "adv", "ext"):
        built[part] = build_so(folder, f"libcudnn_{part}.so.9", f"""
            int cudnn_graph_version(void);
            int cudnn_{part}_version(void) {{ return cudnn_graph_version(); }}
        """, needed=[graph])
    built["engines_runtime_compiled"] = build_so(folder, "libcudnn_engines_runtime_compiled.so.9", """
        int cuInit(unsigned int);
        int cudnn_rtc(void) { return cuInit(0); }
    """, needed=[graph, driver_stub])
    built["front"] = build_so(folder, "libcudnn.so.9", "int cudnnGetVersion(void) { return 91000; }")
    return built


def build_driver_stub(folder: Path) -> Path:
    return build_so(folder, "libcuda.so.1", "int cuInit(unsigned int f) { return 0; }")


def run_python(code: str, env_extra: Optional[Dict[str, str]] = None, timeout: float = 60):
    """Run ``code`` in a fresh interpreter (loading a library changes a process for good)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISPER_SIDECAR_")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=str(REPO))
