"""The one CUDA->CPU fallback (sidecar/engine/fallback.py) and each caller that goes through it: the
preload and a live stream's decode (a transcription's is in test_engine_fallback.py).

No GPU is needed: the "CUDA model" is a stand-in whose every use raises the error CTranslate2 raises
when the GPU runs out of memory; the CPU model is the real one.
"""

import time

import numpy as np
import pytest

from client import AUDIO, fixture_text, wer
from test_engine_fallback import make_engine, real_cpu_model

from sidecar.engine import with_cpu_fallback
from sidecar.errors import CudaError, InvalidParams
from sidecar.stream.manager import StreamManager
from sidecar.stream.session import StreamOptions

OOM = "CUDA failed with error out of memory"


class Switches:
    def __init__(self):
        self.reasons = []

    def fall_back_to_cpu(self, reason):
        self.reasons.append(reason)


def test_a_cuda_failure_on_cuda_reruns_once_with_the_reason():
    engine, told, calls = Switches(), [], []

    def attempt(reason):
        calls.append(reason)
        if reason is None:
            raise RuntimeError(OOM)
        return "on the cpu"

    out = with_cpu_fallback(engine, True, attempt, during="during a test", then="re-ran",
                            announce=lambda reason, e: told.append((reason, str(e))))
    assert out == "on the cpu"
    assert calls[0] is None and calls[1] == engine.reasons[0]
    assert engine.reasons == ["CUDA failed during a test (RuntimeError: CUDA failed with error out of memory); re-ran"]
    assert told == [(engine.reasons[0], OOM)]


@pytest.mark.parametrize("on_cuda,error", [
    (False, RuntimeError(OOM)),  # on the CPU already: nothing to fall back from
    (True, ValueError("invalid beam size")),  # not the GPU's fault
    (True, InvalidParams("beam_size", "must be 1 or more")),
])
def test_other_failures_are_raised_as_they_are(on_cuda, error):
    engine = Switches()

    def attempt(reason):
        raise error

    with pytest.raises(type(error)) as raised:
        with_cpu_fallback(engine, on_cuda, attempt, during="x", announce=lambda *a: None)
    assert raised.value is error and engine.reasons == []


def test_a_failed_cpu_rerun_is_a_cuda_error_naming_both():
    def attempt(reason):
        raise RuntimeError(OOM if reason is None else "the CPU broke too")

    with pytest.raises(CudaError) as raised:
        with_cpu_fallback(Switches(), True, attempt, during="x", announce=lambda *a: None)
    assert "out of memory" in raised.value.message and "the CPU broke too" in raised.value.message


class BrokenCudaModel:
    """Any use fails as a GPU out of memory does."""

    def __getattr__(self, name):
        raise RuntimeError(OOM)


def test_a_cuda_failure_while_preloading_moves_the_engine_to_the_cpu(cache_dir):
    events = []

    def loader(key):
        if key[1] == "cuda":
            raise RuntimeError(OOM)
        return real_cpu_model(key)

    engine = make_engine(cache_dir, events, loader)
    engine.preload()
    report = engine.gpu_report().to_dict()
    assert report["device"] == "cpu" and "while loading the model" in report["fallback_reason"]
    assert report["model_error"] is None
    fallback = [p for m, p in events if m == "status" and p["stage"] == "fallback"]
    assert len(fallback) == 1 and fallback[0]["message"] == f"Using CPU: {report['fallback_reason']}"


def test_a_cuda_failure_in_a_live_stream_continues_on_the_cpu(cache_dir):
    events = []
    engine = make_engine(cache_dir, events,
                         lambda key: BrokenCudaModel() if key[1] == "cuda" else real_cpu_model(key))
    manager = StreamManager(engine, lambda m, p: events.append((m, p)))
    try:
        from faster_whisper import decode_audio

        audio = decode_audio(str(AUDIO / "hello.flac"), sampling_rate=16000)
        pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
        sid = manager.open(StreamOptions(language="en", format="pcm_s16le"))["stream_id"]
        for i in range(0, len(pcm), 3200):
            manager.write(sid, pcm[i:i + 3200], None, False)
            time.sleep(0.01)
        result = manager.close(sid).result(timeout=300)
    finally:
        manager.stop()
    assert result["device"] == "cpu" and "during a live stream" in result["fallback_reason"]
    assert wer(fixture_text("hello"), result["text"]) <= 0.3, result["text"]
    fallback = [p for m, p in events if m == "status" and p.get("stage") == "fallback" and p.get("stream_id") == sid]
    assert fallback and "retrying with CPU mode" in fallback[0]["message"]
    assert engine.gpu_report().to_dict()["device"] == "cpu"
