"""Find the folder that holds one CUDA library, in a declared order of search steps.

Never ``nvidia.cublas.__file__``: current nvidia-*-cu12 wheels are namespace packages,
whose ``__file__`` is None, and the user site and the system site may each hold a part.
Every input (platform module, sys.path, site folders, environment, loader cache) comes in
through :class:`SearchContext`, so tests build fake layouts for Linux and Windows alike.
"""

from __future__ import annotations

import fnmatch
import os
import site
import sys
from dataclasses import dataclass, field
from types import ModuleType
from typing import Callable, Iterator, List, Mapping, MutableMapping, Optional, Sequence, Tuple

from ._platform import CURRENT
from .catalog import LibrarySpec


@dataclass(frozen=True)
class SearchContext:
    """Everything the search reads from the outside world."""

    platform: ModuleType
    sys_path: Sequence[str]
    site_dirs: Sequence[str]
    env: MutableMapping[str, str]
    loader_cache: Callable[[], Mapping[str, str]]

    @classmethod
    def current(cls) -> "SearchContext":
        """The running interpreter: sys.path, site-packages, the user site, os.environ."""
        return cls(platform=CURRENT, sys_path=list(sys.path), site_dirs=_site_dirs(),
                   env=os.environ, loader_cache=CURRENT.loader_cache)


def _site_dirs() -> List[str]:
    dirs: List[str] = []
    try:
        dirs.extend(site.getsitepackages())
    except AttributeError:  # some virtualenv builds of site.py lack it
        pass
    try:
        dirs.append(site.getusersitepackages())
    except AttributeError:
        pass
    return dirs


@dataclass
class Finding:
    """Where one library was found (``dir`` None: not found), and what was seen on the way."""

    spec: LibrarySpec
    dir: Optional[str] = None
    source: Optional[str] = None
    files: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    searched: List[str] = field(default_factory=list)
    other_majors: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return self.dir is not None


# A candidate: (step name, folder, site root for wheel folders or None, usable).
# Folders of another CUDA major (nvidia/cu13 when 12 is needed) are looked at only to
# say what was there; a library is never taken from them.
Candidate = Tuple[str, str, Optional[str], bool]


def _other_cuda_majors(nvidia: str, cuda_major: int) -> List[int]:
    names = [n for n in _list(nvidia) if n.startswith("cu") and n[2:].isdigit()]
    return sorted(int(n[2:]) for n in names if int(n[2:]) != cuda_major)


def _wheel_candidates(step: str, roots: Sequence[str], spec: LibrarySpec, ctx: SearchContext,
                      cuda_major: int) -> Iterator[Candidate]:
    for root in roots:
        nvidia = os.path.join(root, "nvidia")
        if not os.path.isdir(nvidia):
            yield step, nvidia, None, True
            continue
        for folder in ctx.platform.wheel_lib_dirs(nvidia, spec.wheel_dirs, cuda_major):
            yield step, folder, root, True
        for other in _other_cuda_majors(nvidia, cuda_major):
            for folder in ctx.platform.wheel_lib_dirs(nvidia, (), other):
                yield step, folder, root, False


def _candidates(spec: LibrarySpec, ctx: SearchContext, cuda_major: int) -> Iterator[Candidate]:
    """Every folder to look in, in the declared order (first complete hit wins)."""
    plat, env = ctx.platform, ctx.env
    # "" (the current folder) and zip files or import-hook entries cannot hold libraries;
    # skipping "" also keeps a planted nvidia/ folder in the working directory out.
    on_path = [p for p in ctx.sys_path if p and os.path.isdir(p)]
    yield from _wheel_candidates("sys.path", on_path, spec, ctx, cuda_major)
    yield from _wheel_candidates("site-packages", ctx.site_dirs, spec, ctx, cuda_major)
    if env.get("CONDA_PREFIX"):
        for folder in plat.conda_dirs(env["CONDA_PREFIX"]):
            yield "CONDA_PREFIX", folder, None, True
    for var in spec.env_roots + ("CUDA_PATH", "CUDA_HOME"):
        if env.get(var):
            for folder in plat.toolkit_dirs(env[var]):
                yield var, folder, None, True
    cache = ctx.loader_cache()
    for name in spec.required_for(plat.NAME):
        if name in cache:
            yield "system loader cache", os.path.dirname(cache[name]), None, True
    for folder in plat.system_dirs(env):
        yield "system search path", folder, None, True


def _list(folder: str) -> List[str]:
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []


def _wrong_wheel(spec: LibrarySpec, site_root: Optional[str]) -> Optional[str]:
    """A note when the wheel in ``site_root`` is built for another CUDA major."""
    if not spec.wheel_dist or not site_root:
        return None
    family = spec.wheel_dist.rstrip("0123456789")  # nvidia_cudnn_cu
    dists = [n for n in _list(site_root) if n.startswith(family) and n.endswith(".dist-info")]
    if not dists or any(n.startswith(spec.wheel_dist + "-") for n in dists):
        return None
    return f"skipped {site_root}: its cuDNN wheel is {', '.join(dists)}, not {spec.wheel_dist}"


def _examine(spec: LibrarySpec, folder: str, platform: str) -> Tuple[List[str], List[str], List[str]]:
    """(present files in load order, missing required files, files of other majors)."""
    names = _list(folder)
    present = set(names)
    known = spec.files_for(platform)
    ordered = [n for n in known if n in present]
    mine = fnmatch.filter(names, spec.family_glob(platform, str(spec.major)))
    # Sub-libraries newer than the catalog load before the front library.
    extra = [n for n in mine if n not in known]
    if ordered and extra and ordered[-1] == spec.primary_for(platform):
        ordered = ordered[:-1] + extra + ordered[-1:]
    else:
        ordered += extra
    missing = [n for n in spec.required_for(platform) if n not in present]
    others = [n for n in fnmatch.filter(names, spec.family_glob(platform)) if n not in mine]
    return ordered, missing, others


def find_library(spec: LibrarySpec, ctx: SearchContext, cuda_major: int) -> Finding:
    """Search every candidate folder for ``spec``; the first complete folder wins.

    A folder holding the front library but missing a required sub-library is only used
    when no complete folder exists, and the finding then lists what is missing.
    """
    platform = ctx.platform.NAME
    finding = Finding(spec=spec)
    partial: Optional[Tuple[str, str, List[str], List[str]]] = None
    seen = set()
    for step, folder, site_root, usable in _candidates(spec, ctx, cuda_major):
        key = os.path.normcase(os.path.normpath(folder))
        if key in seen:
            continue
        seen.add(key)
        finding.searched.append(folder)
        if not os.path.isdir(folder):
            continue
        files, missing, others = _examine(spec, folder, platform)
        finding.other_majors.extend(os.path.join(folder, n) for n in others)
        if not usable:
            finding.other_majors.extend(os.path.join(folder, n) for n in files)
            continue
        if not files:
            continue
        note = _wrong_wheel(spec, site_root)
        if note:
            finding.notes.append(note)
            continue
        if not missing:
            finding.dir, finding.source, finding.files = folder, step, files
            return finding
        if partial is None and spec.primary_for(platform) in files:
            partial = (folder, step, files, missing)
    if partial is not None:
        finding.dir, finding.source, finding.files, finding.missing = partial
    return finding
