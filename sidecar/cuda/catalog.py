"""What each ctranslate2 release needs from CUDA, and what those libraries are called.

Pure data: the search and the loader read these tables and never hard-code a file name.
Sources: the ctranslate2 changelog and the faster-whisper README ("ctranslate2 3.24.0 for
CUDA 11 + cuDNN 8, 4.4.0 for CUDA 12 + cuDNN 8, 4.5.0+ needs cuDNN 9"); from 4.6.3 on,
ctranslate2 no longer links cuDNN, so only cuBLAS 12 is needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

Version = Tuple[int, int, int]


@dataclass(frozen=True)
class Requirement:
    """The CUDA libraries a range of ctranslate2 versions [low, high) needs."""

    low: Version
    high: Version
    cuda_major: int
    cublas_major: int
    cudnn_major: int
    cudnn_required: bool


REQUIREMENTS: Tuple[Requirement, ...] = (
    Requirement((3, 0, 0), (4, 0, 0), cuda_major=11, cublas_major=11, cudnn_major=8, cudnn_required=True),
    Requirement((4, 0, 0), (4, 5, 0), cuda_major=12, cublas_major=12, cudnn_major=8, cudnn_required=True),
    Requirement((4, 5, 0), (4, 6, 3), cuda_major=12, cublas_major=12, cudnn_major=9, cudnn_required=True),
    Requirement((4, 6, 3), (5, 0, 0), cuda_major=12, cublas_major=12, cudnn_major=9, cudnn_required=False),
)


@dataclass(frozen=True)
class LibrarySpec:
    """One NVIDIA library family at one major version, per platform.

    ``files`` maps a platform name ("linux", "windows") to the file names in load order
    (dependencies first). ``required`` files must all be present for a folder to count as
    complete; the others are loaded when present. ``needs_driver`` files link the NVIDIA
    driver itself (libcuda / nvcuda), so they cannot load on a machine without one.
    ``family`` is a glob per platform with ``{major}`` left open, used to notice other
    majors (a CUDA 13 cuBLAS beside the 12 we need) and files newer than this table.
    """

    key: str
    name: str
    major: int
    files: Dict[str, Tuple[str, ...]]
    required: Dict[str, Tuple[str, ...]]
    needs_driver: Dict[str, Tuple[str, ...]]
    family: Dict[str, str]
    wheel_dirs: Tuple[str, ...]
    # cuDNN file names do not carry the CUDA major, the wheel's dist-info name does.
    wheel_dist: Optional[str] = None
    # Environment variables naming an install root of this library alone.
    env_roots: Tuple[str, ...] = ()

    def files_for(self, platform: str) -> Tuple[str, ...]:
        return self.files[platform]

    def required_for(self, platform: str) -> Tuple[str, ...]:
        return self.required[platform]

    def needs_driver_for(self, platform: str) -> Tuple[str, ...]:
        return self.needs_driver.get(platform, ())

    def family_glob(self, platform: str, major: str = "*") -> str:
        return self.family[platform].format(major=major)

    def primary_for(self, platform: str) -> str:
        """The front library (libcublas.so.12, libcudnn.so.9): loaded last, named in reports."""
        return self.required[platform][-1]


def _cublas(major: int) -> LibrarySpec:
    # libnvblas is deliberately absent: it interposes the BLAS symbols of every library
    # loaded after it when loaded RTLD_GLOBAL, and ctranslate2 does not use it.
    linux = (f"libcublasLt.so.{major}", f"libcublas.so.{major}")
    windows = (f"cublasLt64_{major}.dll", f"cublas64_{major}.dll")
    return LibrarySpec(
        key="cublas",
        name="cuBLAS",
        major=major,
        files={"linux": linux, "windows": windows},
        required={"linux": linux, "windows": windows},
        needs_driver={},
        family={"linux": "libcublas*.so.{major}", "windows": "cublas*64_{major}.dll"},
        wheel_dirs=("cublas",),
    )


_CUDNN_PARTS = {
    # In dependency order: graph is the base of every sub-library, the front library last.
    9: ("_graph", "_engines_precompiled", "_engines_runtime_compiled", "_engines_tensor_ir",
        "_heuristic", "_ops", "_cnn", "_adv", "_ext", ""),
    8: ("_ops_infer", "_ops_train", "_cnn_infer", "_cnn_train", "_adv_infer", "_adv_train", ""),
}
_CUDNN_REQUIRED = {
    9: ("_graph", "_engines_precompiled", "_heuristic", "_ops", "_cnn", "_adv", ""),
    8: ("_ops_infer", "_cnn_infer", "_adv_infer", ""),
}
_CUDNN_NEEDS_DRIVER = {9: ("_engines_runtime_compiled",), 8: ()}


def _cudnn(major: int, cuda_major: int) -> LibrarySpec:
    def linux(parts):
        return tuple(f"libcudnn{p}.so.{major}" for p in parts)

    def windows(parts):
        return tuple(f"cudnn{p}64_{major}.dll" for p in parts)

    parts = _CUDNN_PARTS.get(major, ("",))
    required = _CUDNN_REQUIRED.get(major, ("",))
    driver = _CUDNN_NEEDS_DRIVER.get(major, ())
    return LibrarySpec(
        key="cudnn",
        name="cuDNN",
        major=major,
        files={"linux": linux(parts), "windows": windows(parts)},
        required={"linux": linux(required), "windows": windows(required)},
        needs_driver={"linux": linux(driver), "windows": windows(driver)},
        family={"linux": "libcudnn*.so.{major}", "windows": "cudnn*64_{major}.dll"},
        wheel_dirs=("cudnn",),
        wheel_dist=f"nvidia_cudnn_cu{cuda_major}",
        env_roots=("CUDNN_PATH",),
    )


def parse_version(text: Optional[str]) -> Optional[Version]:
    """"4.6.3" / "4.5.0.dev1" / "4.4" -> (4, 6, 3); None when it is not a version."""
    if not text:
        return None
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def requirement_for(ctranslate2_version: Optional[str]) -> Optional[Requirement]:
    """The requirement row for an installed ctranslate2 version, or None if unknown."""
    version = parse_version(ctranslate2_version)
    if version is None:
        return None
    for row in REQUIREMENTS:
        if row.low <= version < row.high:
            return row
    return None


def specs_for(requirement: Requirement) -> Tuple[LibrarySpec, LibrarySpec]:
    """(cuBLAS spec, cuDNN spec) for a requirement row."""
    return _cublas(requirement.cublas_major), _cudnn(requirement.cudnn_major, requirement.cuda_major)
