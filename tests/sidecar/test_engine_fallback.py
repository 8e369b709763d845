"""A CUDA error during a transcription re-runs the same request on the CPU and says why (the preload's
and a live stream's fallback: test_cpu_fallback.py).

No GPU is needed: the CUDA "model" is a stand-in whose transcribe raises the error CTranslate2
raises when the GPU runs out of memory; the CPU model is the real one.
"""

import threading
import time
from pathlib import Path

from client import AUDIO, HELLO_MAX_WER, fixture_text, wer

from sidecar.cuda.verify import ProbeRun
from sidecar.engine.gpu import Gpu
from sidecar.config import Config
from sidecar.engine import Engine, is_cuda_failure
from sidecar.params import transcribe_params


class OutOfMemoryModel:
    def transcribe(self, *args, **kwargs):
        raise RuntimeError("CUDA failed with error out of memory")


def real_cpu_model(key):
    from faster_whisper import WhisperModel

    return WhisperModel(key[0], device="cpu", compute_type="int8")


def make_engine(cache_dir, events, loader=None):
    """An engine on a verified GPU (injected: one device and a probe that passes) whose CUDA models come
    from ``loader`` (by default one whose transcribe runs out of memory) and CPU models are real."""
    def default_loader(key):
        return OutOfMemoryModel() if key[1] == "cuda" else real_cpu_model(key)

    gpu = Gpu(Path(cache_dir), ("passing-probe",), count=lambda: 1,
              runner=lambda argv, timeout_s, env: ProbeRun(0, False, "", 0.0))
    engine = Engine(Config(cache_dir=Path(cache_dir), preload=False, model="base"),
                    lambda m, p: events.append((m, p)), loader or default_loader, gpu=gpu)
    assert engine.start().result(60).device == "cuda"
    events.clear()
    return engine


def test_cuda_error_mid_request_falls_back_to_cpu_with_a_reason(cache_dir):
    events = []
    engine = make_engine(cache_dir, events)
    params = transcribe_params({"path": str(AUDIO / "hello.flac")})
    result = engine.transcribe("r1", params, threading.Event(), time.monotonic()).to_dict()
    assert result["device"] == "cpu"
    assert "CUDA failed" in result["fallback_reason"] and "out of memory" in result["fallback_reason"]
    assert wer(fixture_text("hello"), result["text"]) <= HELLO_MAX_WER
    stages = [p["stage"] for m, p in events if m == "status" and p["request_id"] == "r1"]
    assert "fallback" in stages and stages[-1] == "done"
    fallback = next(p for m, p in events if m == "status" and p["stage"] == "fallback")
    assert "retrying with CPU" in fallback["message"]
    # later requests stay on the CPU until a recheck
    status = engine.gpu_report().to_dict()
    assert status["device"] == "cpu" and "out of memory" in status["fallback_reason"]


def test_errors_that_are_not_cuda_are_not_retried():
    assert is_cuda_failure(RuntimeError("cuBLAS failed with status CUBLAS_STATUS_NOT_INITIALIZED"))
    assert is_cuda_failure(RuntimeError("Library libcublas.so.12 is not found or cannot be loaded"))
    assert not is_cuda_failure(ValueError("invalid beam size"))
