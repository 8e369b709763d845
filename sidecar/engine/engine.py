"""The warm faster-whisper engine: device setup (state.py, device.py), the model cache, and
transcription with progress, cancel and the CPU re-run after a CUDA error (transcription.py).

Heavy imports (faster_whisper, and through it ctranslate2) happen only after the CUDA libraries are
configured, in :meth:`Engine._setup`.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable, Optional

from .. import cuda
from . import audio, device, models
from ..config import Config
from ..errors import Cancelled, ModelError, SidecarError
from .gpu import Gpu
from .modelcache import Key, ModelCache
from .report import GpuReport
from .results import LoadedModel, ModelList, Timings, Transcription
from .state import DeviceState
from .fallback import is_cuda_failure, with_cpu_fallback
from .transcription import WindowedTranscription
from ..params import TranscribeParams

log = logging.getLogger(__name__)

Notify = Callable[[str, dict], None]


def _versions() -> dict:
    from importlib import metadata

    out = {}
    for dist, key in (("ctranslate2", "ctranslate2_version"), ("faster-whisper", "faster_whisper_version")):
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = None
    return out


class Engine:
    def __init__(self, config: Config, notify: Notify, loader: Optional[Callable[[Key], Any]] = None,
                 gpu: Optional[Gpu] = None) -> None:
        """
        Args:
            notify: (method, params) for the ``status`` and ``segment`` notifications.
            loader: builds a model for a (folder, device, compute type) key; WhisperModel by default.
            gpu: the way to the GPU; by default sidecar.cuda with the Config's cache folder and probe.
        """
        self.config = config
        self._notify = notify
        self._gpu = gpu or Gpu.from_config(config)
        self.device_state = DeviceState(self._setup, self._announce)  # the decision, behind one lock
        self._setup_error: Optional[str] = None
        self._models = ModelCache(loader or self._load, config.max_models)
        self._started = time.monotonic()
        self._resolved: dict = {}  # model name -> ResolvedModel, for models already loaded

    # ---- status lines -------------------------------------------------------------------------
    def status(self, request_id: Any, stage: str, message: str, progress: Optional[float] = None,
               device_name: Optional[str] = None) -> None:
        log.info("%s", message)
        latest = self.device_state.latest()
        self._notify("status", {
            "request_id": request_id,
            "stage": stage,
            "message": message,
            "progress": progress,
            "device": device_name or (latest.device if latest else None),
        })

    # ---- setup --------------------------------------------------------------------------------
    def start(self) -> Future:
        """Decide the device on a background thread (see :meth:`preload` for the model).
        Returns a future of the decision."""
        return self.device_state.start()

    def recheck(self) -> Future:
        """Run the GPU check anew (ignoring the cached verdict) and switch devices if it changed.
        One probe at a time (see state.py). Returns a future of the decision."""
        return self.device_state.recheck()

    def settled(self) -> Future:
        """A future of the decision: resolved now when decided, else when the running setup ends."""
        return self.device_state.settled()

    def _announce(self, decision: device.DeviceDecision, recheck: bool) -> None:
        if decision.device == "cuda":
            self.status(None, "gpu_setup", f"Using CUDA ({decision.compute_type})", device_name="cuda")
        else:
            self.status(None, "fallback", f"Using CPU: {decision.fallback_reason}", device_name="cpu")
        if recheck:
            self._models.drop()

    def _setup(self, recheck: bool = False) -> device.DeviceDecision:
        try:
            self.status(None, "gpu_setup", "Initializing CUDA processing...")
            decision = device.decide(
                self.config,
                self._gpu,
                lambda name: self._resolve(None, name).path,
                lambda stage, message: self.status(None, stage, message),
                recheck=recheck,
            )
        except Exception as e:  # never leave the engine without a device
            log.exception("device setup failed")
            decision = device.cpu_decision(self.config, f"device setup failed: {type(e).__name__}: {e}")
        return decision

    def preload(self) -> dict:
        """Load the default model for the decided device.

        Call it on the thread that will run the transcriptions (the server queues it as the first
        job): CTranslate2's CPU build uses GNU OpenMP, and a model loaded on a thread that then exits
        ran 2-6x slower on a busy CPU in the benchmark (bench/RESULTS.md).
        """
        on_cuda = self.decision().device == "cuda"
        try:
            with_cpu_fallback(self, on_cuda, lambda reason: self.model_for(None, None, "cpu" if reason else None),
                              during="while loading the model",
                              announce=lambda reason, e: self.status(None, "fallback", f"Using CPU: {reason}",
                                                                     device_name="cpu"))
        except SidecarError as e:
            log.warning("preloading the default model failed: %s", e.message)
            self._setup_error = e.message
        except Exception as e:
            log.exception("preloading the default model failed")
            self._setup_error = f"{type(e).__name__}: {e}"
        return {}

    def decided(self) -> bool:
        return self.device_state.decided()

    def decision(self, timeout: Optional[float] = None) -> device.DeviceDecision:
        return self.device_state.wait(timeout)

    def fall_back_to_cpu(self, reason: str) -> None:
        self.device_state.replace(lambda old: device.cpu_decision(
            self.config,
            reason,
            cuda_device_count=old.cuda_device_count if old else 0,
            gpus=old.gpus if old else [],
            libraries=old.libraries if old else {},
            verification=old.verification if old else None,
        ))
        self._models.drop(lambda key: key[1] == "cuda")

    # ---- models -------------------------------------------------------------------------------
    def _resolve(self, request_id: Any, name: str) -> models.ResolvedModel:
        return models.resolve(
            name,
            self.config.cache_dir,
            on_download=lambda n: self.status(request_id, "downloading_model",
                                              f"Downloading Whisper model ({n})..."),
            offline=self.config.hub_offline,
            endpoint=self.config.hub_endpoint,
        )

    def _load(self, key: Key) -> Any:
        from faster_whisper import WhisperModel

        path, device_name, compute_type = key
        try:
            return WhisperModel(
                path,
                device=device_name,
                compute_type=compute_type,
                cpu_threads=self.config.cpu_threads,
                # the live worker's decoders on the CPU run at once only on as many CTranslate2 replicas
                num_workers=max(self.config.num_workers, self.config.live_decoders if device_name == "cpu" else 1),
            )
        except Exception as e:
            if device_name == "cuda" and is_cuda_failure(e):
                raise
            raise ModelError(f"Loading the model at {path} failed: {e}", model=path) from e

    def model_for(self, request_id: Any, name: Optional[str], device_name: Optional[str]) -> LoadedModel:
        """Load (or reuse) a model: ``name`` (None: the device's default) on ``device_name`` ("cpu",
        "cuda", "auto" or None: as decided)."""
        decision = self.decision()
        device_name, compute_type = self._device_for(device_name, decision)
        name = name or (decision.default_model if device_name == decision.device
                        else self.config.model or device.CPU_DEFAULT_MODEL)
        t0 = time.monotonic()
        resolved = self._resolved.get(name)
        if resolved is None or (resolved.path, device_name, compute_type) not in self._models.keys():
            # Resolve (and checksum) only when the model must be loaded: a warm model skips the disk.
            resolved = self._resolved[name] = self._resolve(request_id, name)
        key = (resolved.path, device_name, compute_type)
        if key not in self._models.keys():
            self.status(request_id, "loading_model", f"Loading Whisper model ({resolved.name})...",
                        device_name=device_name)
        model, _ = self._models.get(key)
        return LoadedModel(model, resolved, device_name, compute_type, time.monotonic() - t0)

    def device_for(self, requested: Optional[str]) -> str:
        """The device a request asking for ``requested`` ("cpu", "cuda", "auto" or None) runs on now."""
        return self._device_for(requested, self.decision())[0]

    def _device_for(self, requested: Optional[str], decision: device.DeviceDecision):
        if requested in (None, "auto") or requested == decision.device:
            return decision.device, decision.compute_type
        if requested == "cpu":
            return "cpu", cuda.supported_compute_type("cpu", self.config.compute_type)
        # cuda asked for, but not verified: the CPU it is, and the result says why
        return decision.device, decision.compute_type

    # ---- transcription ------------------------------------------------------------------------
    def transcribe(self, request_id: Any, params: TranscribeParams, cancel: threading.Event,
                   enqueued_at: float) -> Transcription:
        queue_s = time.monotonic() - enqueued_at
        # The header only: a file over MAX_AUDIO_S is refused before a sample is decoded.
        header = audio.read_header(params.path, self.config.max_audio_s)
        decision = self.decision()
        if cancel.is_set():
            raise Cancelled("Request cancelled")
        # from the first window again after a fallback: its status line tells clients the segments restart
        return with_cpu_fallback(
            self, self._device_for(params.device, decision)[0] == "cuda",
            lambda reason: self._run(request_id, params, header, "cpu" if reason else params.device, cancel,
                                     queue_s, reason),
            during="during transcription", then="re-ran on the CPU",
            announce=lambda reason, e: self.status(request_id, "fallback",
                                                   f"CUDA error detected, retrying with CPU mode: {e}",
                                                   device_name="cpu"))

    def _run(self, request_id, params: TranscribeParams, header: audio.Header, device_name, cancel,
             queue_s: float, fallback_reason: Optional[str]) -> Transcription:
        loaded = self.model_for(request_id, params.model, device_name)
        device_name = loaded.device
        if fallback_reason is None and device_name == "cpu":
            fallback_reason = self.decision().fallback_reason
        label = "CUDA" if device_name == "cuda" else "CPU"
        self.status(request_id, "transcribing", f"Transcribing with {label}...", 0.0, device_name)
        t0 = time.monotonic()
        reached = [0.0]

        def progress(at_s: float) -> None:
            if cancel.is_set():
                raise Cancelled("Request cancelled")
            if header.declared_s:  # the header's duration: the decoded one is known only at the end
                reached[0] = done = max(reached[0], min(1.0, at_s / header.declared_s))
                self.status(request_id, "transcribing", f"Transcribing with {label}... {done:.0%}",
                            round(done, 4), device_name)

        run = WindowedTranscription(loaded.model, params, self.config, header)
        out = []
        for segment in run.segments(on_window=progress):
            out.append(segment)
            self._notify("segment", {"request_id": request_id, "segment": segment.to_dict()})
            progress(segment.end)
        if cancel.is_set():
            raise Cancelled("Request cancelled")
        transcribe_s = time.monotonic() - t0
        self.status(request_id, "done", f"Transcription complete! Used: {label}", 1.0, device_name)
        return Transcription(
            segments=tuple(out), language=run.language, language_probability=run.language_probability,
            duration=run.duration, device=device_name, compute_type=loaded.compute_type,
            model=loaded.resolved.name, fallback_reason=fallback_reason,
            timings=Timings(queue_s, loaded.load_s, transcribe_s), batch_size=run.batch_size)

    # ---- reports ------------------------------------------------------------------------------
    def list_models(self) -> ModelList:
        """The models the cache folder has, the default one and the names the hub has; after the device
        decision (the default depends on it, and faster-whisper is imported only after the CUDA setup)."""
        default = self.decision().default_model
        return ModelList(None if models.is_folder(default) else default,
                         tuple(models.cached(self.config.cache_dir)), tuple(models.short_names()))


    def gpu_report(self, wait_s: float = 0.0) -> GpuReport:
        """What the engine knows of its device and models now (after up to ``wait_s`` for the decision)."""
        return GpuReport(
            decision=self.device_state.current(wait_s),
            configured_model=self.config.model or None,
            loaded=tuple(self._models.keys()),
            model_error=self._setup_error,
            cache_dir=self.config.cache_dir,
            versions=_versions(),
        )

    def idle_unload(self) -> None:
        if self.config.idle_unload_s and self._models.idle_for() > self.config.idle_unload_s:
            if self._models.drop():
                log.info("unloaded models after %.0f s idle", self.config.idle_unload_s)
