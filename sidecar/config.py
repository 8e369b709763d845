"""Configuration from the environment: the one place the sidecar reads its variables (the CUDA
search in ``sidecar/cuda/`` reads the loader's own). A request's params win over these values."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Tuple

_TRUE = {"1", "true", "yes", "on"}


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in _TRUE


def _number(env: Mapping[str, str], name: str, default, cast=int):
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return cast(value)
    except ValueError:
        raise SystemExit(f"{name}={value!r} is not a number") from None


def cpu_count() -> int:
    """The CPUs this process may run on (a container's or `taskset`'s limit, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # Windows, macOS
        return os.cpu_count() or 1


def default_cpu_threads(cpus: int) -> int:
    """One thread per decode on a machine with two CPUs or fewer, else CTranslate2's default (0).

    Measured on a 2-CPU Xeon (bench/RESULTS.md, "One thread per decode"): a live decode took 0.45 s with
    one thread against 0.75-1.16 s with two or the default, and a 72-s file 8.5 s against 13.5-15.7 s.
    """
    return 1 if cpus <= 2 else 0


def default_live_decoders(cpus: int, cpu_threads: int) -> int:
    """As many live decoders as CPUs where each decode has one thread on two CPUs or fewer, else one.

    Measured side by side on a 2-CPU Xeon (bench/RESULTS.md, "Live decoders by default"): three streams
    with one thread and one decoder fell behind (final p50 6.9-7.5 s), with two decoders they kept real
    time (p50 3.4-3.9 s). One decoder of one thread leaves the second CPU to the VAD and the audio decoder.
    """
    return max(1, cpus) if cpu_threads == 1 and cpus <= 2 else 1


def default_cache_dir(env: Mapping[str, str] = os.environ, platform: str = sys.platform) -> Path:
    """WHISPER_CACHE_DIR (``~`` expanded), else the platform's per-user cache folder.

    The one place the cache folder is decided: models and the GPU verdict both go under it.
    """
    if env.get("WHISPER_CACHE_DIR"):
        return Path(env["WHISPER_CACHE_DIR"]).expanduser()
    if platform == "win32":
        base = env.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
    elif platform == "darwin":
        base = str(Path.home() / "Library" / "Caches")
    else:
        base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "whisper-sidecar"


@dataclass(frozen=True)
class Config:
    model: Optional[str] = None  # None: medium on the GPU, base on the CPU
    device: str = "auto"  # auto | cuda | cpu
    compute_type: Optional[str] = None
    cpu_threads: int = 0  # WHISPER_CPU_THREADS; 0: CTranslate2's default; unset: default_cpu_threads()
    num_workers: int = 1
    force_cpu: bool = False
    preload: bool = True
    cache_dir: Path = field(default_factory=default_cache_dir)
    queue_size: int = 64
    max_models: int = 2
    idle_unload_s: float = 0.0  # 0: never
    batch_threshold_s: float = 300.0  # batched from 5 min of audio on (bench: faster, WER no worse); 0: off
    default_batch_size: int = 8
    probe_timeout_s: float = 180.0
    max_streams: int = 16  # live streams open at once
    live_decoders: int = 1  # WHISPER_LIVE_DECODERS: live decodes at once on the CPU (default_live_decoders)
    live_context_s: float = 8.0  # WHISPER_LIVE_CONTEXT_S: final audio a live decode hears again (0: none, cheapest)
    max_audio_s: float = 43200.0  # MAX_AUDIO_S: the longest file transcribed (12 h); 0: no limit
    window_s: float = 120.0  # a file is decoded and transcribed this many seconds at a time
    hub_offline: bool = False  # HF_HUB_OFFLINE: a model not cached is not looked for on the hub
    hub_endpoint: Optional[str] = None  # HF_ENDPOINT: the hub mirror whose host is asked
    log_level: Optional[str] = None  # WHISPER_LOG_LEVEL; None: INFO when serving, WARNING on the command line
    # The GPU check's command, before its --model/--compute-type/--deadline-s arguments.
    # None: this interpreter running sidecar.cuda.probe.
    probe_command: Optional[Tuple[str, ...]] = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Config":
        device = (env.get("WHISPER_DEVICE") or "auto").strip().lower()
        if device not in ("auto", "cuda", "cpu"):
            raise SystemExit(f"WHISPER_DEVICE={device!r}: expected auto, cuda or cpu")
        cpus = cpu_count()
        threads = max(0, _number(env, "WHISPER_CPU_THREADS", default_cpu_threads(cpus)))
        return cls(
            model=(env.get("WHISPER_MODEL") or "").strip() or None,
            device=device,
            compute_type=(env.get("WHISPER_COMPUTE_TYPE") or "").strip() or None,
            cpu_threads=threads,
            num_workers=max(1, _number(env, "WHISPER_NUM_WORKERS", 1)),
            force_cpu=_flag(env, "FORCE_CPU", False),
            preload=_flag(env, "WHISPER_PRELOAD", True),
            cache_dir=default_cache_dir(env),
            queue_size=max(1, _number(env, "WHISPER_QUEUE_SIZE", 64)),
            max_models=max(1, _number(env, "WHISPER_MAX_MODELS", 2)),
            idle_unload_s=_number(env, "WHISPER_IDLE_UNLOAD_S", 0.0, float),
            batch_threshold_s=_number(env, "WHISPER_BATCH_THRESHOLD_S", 300.0, float),
            default_batch_size=max(1, _number(env, "WHISPER_BATCH_SIZE", 8)),
            probe_timeout_s=_number(env, "WHISPER_PROBE_TIMEOUT_S", 180.0, float),
            max_streams=max(1, _number(env, "WHISPER_MAX_STREAMS", 16)),
            live_decoders=max(1, min(8, _number(env, "WHISPER_LIVE_DECODERS", default_live_decoders(cpus, threads)))),
            live_context_s=min(20.0, max(0.0, _number(env, "WHISPER_LIVE_CONTEXT_S", 8.0, float))),
            max_audio_s=max(0.0, _number(env, "MAX_AUDIO_S", 43200.0, float)),
            window_s=max(30.0, _number(env, "WHISPER_WINDOW_S", 120.0, float)),
            hub_offline=_flag(env, "HF_HUB_OFFLINE", False),
            hub_endpoint=(env.get("HF_ENDPOINT") or "").strip() or None,
            log_level=(env.get("WHISPER_LOG_LEVEL") or "").strip().upper() or None,
        )
