"""The shapes configure() returns; JSON only through ``to_dict()``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass
class LibraryStatus:
    """One library family (cuBLAS or cuDNN) after search and load.

    ``not_loaded`` names optional files that were found but not loaded, with why (the cuDNN
    engine that links the NVIDIA driver, on a machine without one); they do not make
    ``loaded`` false.
    """

    name: str
    required: bool
    found: bool = False
    dir: Optional[str] = None
    files: List[str] = field(default_factory=list)
    loaded: bool = False
    error: Optional[str] = None
    source: Optional[str] = None
    not_loaded: Dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "found": self.found,
            "dir": self.dir,
            "files": list(self.files),
            "loaded": self.loaded,
            "error": self.error,
            "required": self.required,
            "source": self.source,
            "not_loaded": dict(self.not_loaded),
        }


@dataclass
class LibraryReport:
    """What configure() found, loaded and concluded."""

    paths_configured: bool
    cuda_major_needed: Optional[int]
    ctranslate2_version: Optional[str]
    cublas: LibraryStatus
    cudnn: LibraryStatus
    searched: List[str] = field(default_factory=list)
    reason: Optional[str] = None
    notes: List[str] = field(default_factory=list)

    @property
    def configured_dirs(self) -> List[str]:
        """The folders put on the search path, cuBLAS first, without repeats."""
        dirs: List[str] = []
        for lib in (self.cublas, self.cudnn):
            if lib.found and lib.dir and lib.dir not in dirs:
                dirs.append(lib.dir)
        return dirs

    @property
    def library_files(self) -> List[str]:
        """Full paths of every library file found (for the verdict cache key)."""
        import os

        return [os.path.join(lib.dir, name) for lib in (self.cublas, self.cudnn)
                if lib.dir for name in lib.files]

    def to_dict(self) -> Dict[str, Any]:
        return {
            "paths_configured": self.paths_configured,
            "cuda_major_needed": self.cuda_major_needed,
            "ctranslate2_version": self.ctranslate2_version,
            "libraries": {"cublas": self.cublas.to_dict(), "cudnn": self.cudnn.to_dict()},
            "searched": list(self.searched),
            "reason": self.reason,
            "notes": list(self.notes),
        }
