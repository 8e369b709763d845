"""The device report as a typed object; it becomes the ``gpu_status`` JSON only at the edge
(``GpuReport.to_dict``, called by the endpoint and the command line)."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from .. import __version__
from .device import DeviceDecision
from .modelcache import Key


@dataclass(frozen=True)
class QueueDepth:
    queued: int
    running: int
    streams: int

    def to_dict(self) -> dict:
        return {"queued": self.queued, "running": self.running, "streams": self.streams}


@dataclass(frozen=True)
class GpuReport:
    decision: Optional[DeviceDecision]  # None while the device is being decided
    configured_model: Optional[str]  # WHISPER_MODEL, shown while undecided
    loaded: Tuple[Key, ...]  # (folder, device, compute type) of each model in memory
    model_error: Optional[str]
    cache_dir: Path  # models and the GPU verdict; the relay lists models here
    versions: dict  # {ctranslate2_version, faster_whisper_version}
    queue: Optional[QueueDepth] = None  # the endpoint's, when it reports

    def to_dict(self) -> dict:
        d = self.decision
        out = {
            "device": d.device if d else None,
            "compute_type": d.compute_type if d else None,
            "model": d.default_model if d else self.configured_model,
            "model_loaded": any(k[1] == (d.device if d else None) for k in self.loaded),
            "loaded_models": [{"path": k[0], "device": k[1], "compute_type": k[2]} for k in self.loaded],
            "setup_complete": d is not None,
            "cuda_device_count": d.cuda_device_count if d else None,
            "gpus": d.gpus if d else [],
            "verified": d.verified if d else None,
            "verification": d.verification if d else None,
            "fallback_reason": d.fallback_reason if d else None,
            "model_error": self.model_error,
            "cache_dir": str(self.cache_dir),
            "python": platform.python_version(),
            "platform": f"{sys.platform}-{platform.machine()}",
            "sidecar_version": __version__,
            **self.versions,
        }
        libs = d.libraries if d else {}
        out["libraries"] = libs.get("libraries", {})
        out["paths_configured"] = libs.get("paths_configured")
        out["cuda_major_needed"] = libs.get("cuda_major_needed")
        out["library_reason"] = libs.get("reason")
        if self.queue is not None:
            out["queue"] = self.queue.to_dict()
        return out
