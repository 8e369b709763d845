"""configure(): find the CUDA libraries the installed ctranslate2 needs and load them.

Must run before ctranslate2 is imported (Windows resolves DLLs at import and at the first
encode; Linux dlopens cuBLAS at the first encode, which the preload satisfies).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from importlib import metadata
from typing import Callable, List, Optional

from .catalog import LibrarySpec, requirement_for, specs_for
from .report import LibraryReport, LibraryStatus
from .search import Finding, SearchContext, find_library

log = logging.getLogger(__name__)

_lock = threading.Lock()
_cached: Optional[LibraryReport] = None
_SHOWN = 6  # folders named in a reason; the report lists them all


def ctranslate2_version() -> Optional[str]:
    """The installed ctranslate2 version, read from its metadata (no import)."""
    try:
        return metadata.version("ctranslate2")
    except metadata.PackageNotFoundError:
        return None


def _load(finding: Finding, status: LibraryStatus, platform, load_library, driver_present) -> None:
    """Load ``finding``'s files in order into ``status`` (loaded, error, not_loaded)."""
    errors: List[str] = []
    optional = set(finding.spec.needs_driver_for(platform.NAME))
    for name in finding.files:
        path = os.path.join(finding.dir, name)
        try:
            load_library(path)
        except OSError as e:
            if name in optional and not driver_present():
                status.not_loaded[name] = (
                    f"optional: needs the NVIDIA driver ({platform.driver_library()}), "
                    "which this machine does not have")
            else:
                errors.append(f"{name}: {e}")
    if finding.missing:
        errors.insert(0, f"missing {', '.join(finding.missing)} in {finding.dir}")
    status.loaded = not errors
    status.error = "; ".join(errors) or None


def _status(finding: Finding, required: bool) -> LibraryStatus:
    return LibraryStatus(name=finding.spec.name, required=required, found=finding.found,
                         dir=finding.dir, files=list(finding.files), source=finding.source)


def _not_found(finding: Finding, platform: str) -> str:
    spec = finding.spec
    folders = finding.searched
    shown = ", ".join(folders[:_SHOWN]) + (f" and {len(folders) - _SHOWN} more" if len(folders) > _SHOWN else "")
    text = (f"{spec.name} {spec.major} ({', '.join(spec.required_for(platform))}) "
            f"not found in {len(folders)} searched folders ({shown or 'none'})")
    if finding.other_majors:
        shown = ", ".join(finding.other_majors[:4])
        text += f"; found only other versions, which are never loaded: {shown}"
    return text


def _reason(report: LibraryReport, findings, platform: str, needs: str) -> Optional[str]:
    if report.paths_configured:
        return None
    parts = []
    for lib, finding in zip((report.cublas, report.cudnn), findings):
        if not lib.required and not lib.found:
            continue
        if not lib.found:
            parts.append(_not_found(finding, platform))
        elif lib.required and not lib.loaded:
            parts.append(f"{lib.name} in {lib.dir} did not load: {lib.error}")
    parts.extend(n for f in findings for n in f.notes)
    return f"{needs}: " + "; ".join(parts) if parts else needs


def build_report(ctx: SearchContext, ct2_version: Optional[str], *,
                 load_library: Optional[Callable[[str], object]] = None,
                 add_dll_directory: Optional[Callable[[str], object]] = None,
                 driver_present: Optional[Callable[[], bool]] = None) -> LibraryReport:
    """Search, put the folders on the search path and preload; never raises for a miss.

    Args:
        ctx: where to look (platform module, sys.path, site folders, environment).
        ct2_version: the installed ctranslate2 version, None if not installed.
        load_library / add_dll_directory / driver_present: override the platform's, for tests.
    """
    plat = ctx.platform
    requirement = requirement_for(ct2_version)
    if requirement is None:
        why = ("ctranslate2 is not installed" if ct2_version is None else
               f"ctranslate2 {ct2_version} has no known CUDA requirement (known: 3.x, 4.x)")
        empty = LibraryStatus("cuBLAS", required=True), LibraryStatus("cuDNN", required=False)
        return LibraryReport(False, None, ct2_version, *empty, reason=why)
    cublas_spec, cudnn_spec = specs_for(requirement)
    notes: List[str] = []
    stale = plat.guard_env(ctx.env, cublas_spec.primary_for(plat.NAME))
    if stale:
        notes.append(stale)
    findings = (find_library(cublas_spec, ctx, requirement.cuda_major),
                find_library(cudnn_spec, ctx, requirement.cuda_major))
    cublas = _status(findings[0], required=True)
    cudnn = _status(findings[1], required=requirement.cudnn_required)
    searched: List[str] = []
    for finding in findings:
        searched.extend(d for d in finding.searched if d not in searched)
    report = LibraryReport(False, requirement.cuda_major, ct2_version, cublas, cudnn,
                           searched=searched, notes=notes)
    notes.extend(plat.add_search_dirs(report.configured_dirs, ctx.env, add_dll_directory))
    load = load_library or plat.load_library
    probe_driver = driver_present or plat.driver_present
    for finding, status in zip(findings, (cublas, cudnn)):
        if finding.found:
            _load(finding, status, plat, load, probe_driver)
    report.paths_configured = cublas.loaded and (cudnn.loaded or not cudnn.required)
    needs = (f"ctranslate2 {ct2_version} needs cuBLAS {cublas_spec.major}"
             + (f" and cuDNN {cudnn_spec.major}" if cudnn.required else "")
             + f" (CUDA {requirement.cuda_major})")
    report.reason = _reason(report, findings, plat.NAME, needs)
    return report


def log_report(report: LibraryReport, logger: logging.Logger = log) -> None:
    """The startup diagnostics the old relay meant to print, on stderr via logging."""
    if report.paths_configured:
        logger.info("GPU library paths configured (%d paths)", len(report.configured_dirs))
    else:
        logger.warning("GPU library paths NOT configured - GPU may not work")
        logger.warning("Reason: %s", report.reason)
    for lib in (report.cublas, report.cudnn):
        if lib.found:
            logger.info("%s: %s", lib.name, lib.dir)
        elif report.cuda_major_needed is not None:
            logger.info("%s: not found%s", lib.name, "" if lib.required else " (not needed)")
        for name, why in lib.not_loaded.items():
            logger.info("%s: %s not loaded (%s)", lib.name, name, why)
    for note in report.notes:
        logger.info("%s", note)


def configure(*, refresh: bool = False) -> LibraryReport:
    """Find and load the CUDA libraries the installed ctranslate2 needs.

    Call before importing ctranslate2. Cached after the first call unless ``refresh``.
    Never raises: an unexpected error becomes a report with paths_configured False.
    """
    global _cached
    with _lock:
        if _cached is not None and not refresh:
            return _cached
        version = ctranslate2_version()
        try:
            report = build_report(SearchContext.current(), version)
        except Exception as e:  # noqa: BLE001 - the sidecar must start on the CPU anyway
            log.exception("CUDA library search failed")
            report = LibraryReport(False, None, version, LibraryStatus("cuBLAS", True),
                                   LibraryStatus("cuDNN", False),
                                   reason=f"CUDA library search failed: {type(e).__name__}: {e}")
        if "ctranslate2" in sys.modules:
            report.notes.append("ctranslate2 was imported before configure(); "
                                "libraries it already resolved are not affected")
        log_report(report)
        _cached = report
        return report
