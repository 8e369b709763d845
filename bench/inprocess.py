"""faster-whisper called directly in this process, with the settings the sidecar uses."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional


@lru_cache(maxsize=None)
def model_path(name: str = "base") -> str:
    """The folder the sidecar loads for ``name`` (the embedded base model by default)."""
    from sidecar.engine import models
    from sidecar.config import default_cache_dir

    return models.resolve(name, default_cache_dir()).path


@dataclass
class Run:
    wall_s: float  # decode + transcribe + every segment consumed
    text: str
    duration: float
    decode_s: float


class InProcess:
    def __init__(self, compute_type: str = "int8", device: str = "cpu", cpu_threads: int = 0,
                 num_workers: int = 1, path: Optional[str] = None) -> None:
        from faster_whisper import WhisperModel

        t0 = time.monotonic()
        self.model = WhisperModel(path or model_path(), device=device, compute_type=compute_type,
                                  cpu_threads=cpu_threads, num_workers=num_workers)
        self.load_s = time.monotonic() - t0
        self.compute_type = compute_type

    def transcribe(self, path: str, batch_size: Optional[int] = None) -> Run:
        """Like the sidecar: decode to 16 kHz, then the sequential or the batched pipeline (VAD on)."""
        from faster_whisper import BatchedInferencePipeline, decode_audio

        t0 = time.monotonic()
        samples = decode_audio(path, sampling_rate=16000)
        decode_s = time.monotonic() - t0
        if batch_size:
            segments, _ = BatchedInferencePipeline(self.model).transcribe(
                samples, batch_size=batch_size, vad_filter=True)
        else:
            segments, _ = self.model.transcribe(samples, vad_filter=False)
        text = "".join(s.text for s in segments).strip()
        return Run(time.monotonic() - t0, text, len(samples) / 16000, decode_s)
