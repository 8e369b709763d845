"""Which device runs the model, which model each device gets by default, and why.

Policy (as the old relay meant it): CUDA when the crash-safe probe verified it, else the CPU with a
sentence saying why. ``medium`` on the GPU, ``base`` on the CPU, both overridable by WHISPER_MODEL or a
request's ``model``; when the GPU model cannot be had offline, the embedded base model runs on the GPU.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from .. import cuda
from ..config import Config
from ..errors import ModelUnavailable
from .gpu import Gpu

log = logging.getLogger(__name__)

GPU_DEFAULT_MODEL = "medium"
CPU_DEFAULT_MODEL = "base"


@dataclass
class DeviceDecision:
    device: str  # "cuda" | "cpu"
    compute_type: str
    fallback_reason: Optional[str]
    default_model: str
    cuda_device_count: int = 0
    gpus: list = field(default_factory=list)
    libraries: dict = field(default_factory=dict)
    verification: Optional[dict] = None
    decided_at: float = field(default_factory=time.time)

    @property
    def verified(self) -> Optional[bool]:
        return None if self.verification is None else bool(self.verification.get("ok"))


def cpu_decision(config: Config, reason: Optional[str], **extra) -> DeviceDecision:
    return DeviceDecision(
        device="cpu",
        compute_type=cuda.supported_compute_type("cpu", config.compute_type),
        fallback_reason=reason,
        default_model=config.model or CPU_DEFAULT_MODEL,
        **extra,
    )


def decide(
    config: Config,
    gpu: Gpu,
    resolve_model: Callable[[str], str],
    on_status: Callable[[str, str], None],
    recheck: bool = False,
) -> DeviceDecision:
    """Configure the CUDA libraries, count GPUs, verify one in a child process and pick the device.

    Args:
        gpu: the way to the CUDA libraries, the device count and the probe child.
        resolve_model: model name -> folder; raises ModelUnavailable.
        on_status: (stage, message) for the human status lines.
    """
    report = gpu.configure(refresh=recheck)
    libraries = report.to_dict()
    if config.force_cpu:
        return cpu_decision(config, "FORCE_CPU=1 is set, so the GPU is not used", libraries=libraries)
    if config.device == "cpu":
        return cpu_decision(config, "CPU requested (WHISPER_DEVICE=cpu)", libraries=libraries)
    count = gpu.device_count()
    extra = {"libraries": libraries, "cuda_device_count": count, "gpus": gpu.gpus(count) if count else []}
    if count == 0:
        return cpu_decision(
            config, "no CUDA device: CTranslate2 sees no NVIDIA GPU (no GPU, or no NVIDIA driver)", **extra
        )
    # Libraries our search did not find may still come from the system loader (LD_LIBRARY_PATH, a
    # CUDA toolkit): the probe is the judge, and its reason then says what the search missed too.
    missing = None if libraries.get("paths_configured") else (
        libraries.get("reason") or "the CUDA libraries were not found")
    model_name = config.model or GPU_DEFAULT_MODEL
    try:
        model_path = resolve_model(model_name)
    except ModelUnavailable as e:
        if config.model:
            return cpu_decision(config, f"the GPU check could not load model {model_name}: {e.message}", **extra)
        on_status("loading_model", f"{model_name} is not available offline ({e.message}); "
                  f"using the embedded {CPU_DEFAULT_MODEL} model on the GPU")
        model_name = CPU_DEFAULT_MODEL
        model_path = resolve_model(model_name)
    compute_type = cuda.supported_compute_type("cuda", config.compute_type)
    on_status("gpu_setup", f"Verifying the GPU with model {model_name} ({compute_type})...")
    verification = gpu.verify(
        model_path, compute_type=compute_type, timeout_s=config.probe_timeout_s, recheck=recheck
    )
    extra["verification"] = verification.to_dict()
    if not verification.ok:
        reason = verification.reason or "the GPU check failed"
        return cpu_decision(config, f"{missing}; {reason}" if missing else reason, **extra)
    return DeviceDecision(
        device="cuda",
        compute_type=compute_type,
        fallback_reason=None,
        default_model=model_name,
        **extra,
    )
