"""Live-stream decoding with the real model (Whisper base, CPU int8, one model for this module): the
short encoder window, batches of several streams' windows, and capacity refusals from a spawned sidecar.
"""

import base64
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from client import AUDIO, fixture_text, wer
from sidecar.engine.models import ResolvedModel
from sidecar.engine.results import LoadedModel
from sidecar.stream.guards import compression_ratio, repetition_start
from sidecar.stream.manager import StreamManager
from sidecar.stream.session import LiveStream, StreamOptions
from sidecar.stream.step import Window, decode_batch, decode_window

SR = 16000


def load(name: str) -> np.ndarray:
    from faster_whisper import decode_audio

    return decode_audio(str(AUDIO / f"{name}.flac"), sampling_rate=SR)


@pytest.fixture(scope="module")
def model(cache_dir):
    from faster_whisper import WhisperModel

    from sidecar.engine import models

    return WhisperModel(models.resolve("base", Path(cache_dir)).path, device="cpu", compute_type="int8")


class Engine:
    """What StreamManager asks of the sidecar's Engine, around one warm model."""

    def __init__(self, model):
        self.model = model

    def model_for(self, request_id, name, device):
        return LoadedModel(self.model, ResolvedModel("base", "", "embedded"), "cpu", "int8", 0.0)

    def decision(self):
        return SimpleNamespace(fallback_reason=None)

    def device_for(self, requested):
        return "cpu"


def pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


def write_together(manager: StreamManager, data: dict) -> None:
    """100 ms of each stream's PCM in turn, at 4x real time: their windows come due together."""
    for i in range(0, max(len(d) for d in data.values()), 3200):
        for sid, d in data.items():
            if i < len(d):
                manager.write(sid, d[i:i + 3200], None, False)
        time.sleep(0.025)


def drive(stream: LiveStream, model, audio: np.ndarray, chunk: int = 1600) -> None:
    """Feed ``audio`` in 100-ms pieces, decoding whatever the stream plans after each, then close it."""
    def step():
        plan = stream.plan(now=time.monotonic())
        if plan is None:
            return False
        beam = plan.beam(stream.options)
        result = decode_window(model, stream.window(plan), language="en", task="transcribe", beam_size=beam,
                               prompt=stream.prompt())
        stream.apply(plan, result, decode_s=0.0)
        return True

    for i in range(0, audio.size, chunk):
        stream.add_audio(audio[i:i + chunk])
        step()
    stream.end_input()
    for _ in range(50):
        if stream.finished() or not step():
            break
    assert stream.finished()


@pytest.mark.parametrize("seconds", [1.0, 1.4, 2.0])
def test_a_second_of_speech_in_a_short_window_does_not_loop_into_a_final(model, seconds):
    clip = load("hello")[: int(seconds * SR)]
    direct = decode_window(model, clip, language="en", task="transcribe", beam_size=1)
    said = "".join(p.text for p in direct.pieces)
    most = 4 * seconds + 1  # words a second of speech can hold, with room; a loop says dozens
    assert len(said.split()) <= most and repetition_start(said.split()) is None, said
    for vad in (True, False):
        sent = []
        stream = LiveStream("s1", StreamOptions(language="en", vad=vad), lambda m, p: sent.append((m, p)))
        drive(stream, model, np.concatenate([clip, np.zeros(SR, np.float32)]))
        text = stream.result()["text"]
        assert len(text.split()) <= most, (vad, text)
        assert repetition_start(text.split()) is None and compression_ratio(text) < 2.0, (vad, text)


def test_finals_of_a_few_seconds_come_while_the_speaker_goes_on(model):
    audio = load("story")  # 16 s without a pause long enough to close the turn
    sent = []
    stream = LiveStream("s1", StreamOptions(language="en"), lambda m, p: sent.append((m, p)))
    drive(stream, model, audio)
    finals = [p["segment"] for m, p in sent if m == "segment" and p["segment"]["final"]]
    spoken = [f for f in finals if not f.get("gap")]
    assert len(spoken) >= 5, [f["text"] for f in spoken]
    assert max(f["end"] - f["start"] for f in spoken) <= 8.0, [(f["start"], f["end"]) for f in spoken]
    for a, b in zip(finals, finals[1:]):
        assert b["start"] >= a["end"] - 0.01 and b["id"] == a["id"] + 1
    assert wer(fixture_text("story"), stream.result()["text"]) <= 0.2, stream.result()["text"]


def test_two_windows_in_one_batch_each_get_their_own_text(model):
    a, b = load("weather"), load("numbers")
    results = decode_batch(model, [Window(a, None), Window(b, "Hello.")], language="en", task="transcribe",
                           beam_size=1)
    texts = ["".join(p.text for p in r.pieces) for r in results]
    assert wer(fixture_text("weather"), texts[0]) <= 0.2, texts
    assert wer(fixture_text("numbers"), texts[1]) <= 0.2, texts
    for r, audio in zip(results, (a, b)):
        times = [w.end for p in r.pieces for w in p.words]
        assert times == sorted(times) and times[-1] <= audio.size / SR + 0.01, "word times within the window"


def test_two_streams_written_together_are_decoded_in_shared_batches(model):
    sent = []
    manager = StreamManager(Engine(model), lambda m, p: sent.append((m, p)))
    try:
        a = manager.open(StreamOptions(language="en", format="pcm_s16le"))["stream_id"]
        b = manager.open(StreamOptions(language="en", format="pcm_s16le"))["stream_id"]
        # written in step: a window due on one stream takes the other's along when it is half due
        # (manager.JOIN_SHARE), so the two share decodes whatever the machine's speed
        pcm = {a: load("weather"), b: load("numbers")}
        write_together(manager, {sid: pcm16(audio) for sid, audio in pcm.items()})
        results = {sid: manager.close(sid).result(timeout=300) for sid in pcm}
    finally:
        manager.stop()
    assert wer(fixture_text("weather"), results[a]["text"]) <= 0.25, results[a]["text"]
    assert wer(fixture_text("numbers"), results[b]["text"]) <= 0.25, results[b]["text"]
    sizes = manager.capacity.batch_sizes
    assert sizes.get(2, 0) >= 1, f"no window of the two streams went in one batch: {dict(sizes)}"


def test_two_decoders_decode_two_streams_at_once_each_with_its_own_text(cache_dir, monkeypatch):
    """On 2 CPUs two one-thread decodes at once gave 1.6x the throughput of one (bench/RESULTS.md)."""
    from faster_whisper import WhisperModel

    from sidecar.engine import models
    from sidecar.stream import manager as manager_module

    spans, real = [], manager_module.decode_batch

    def timed(model, windows, **kw):
        t0 = time.monotonic()
        out = real(model, windows, **kw)
        spans.append((t0, time.monotonic(), len(windows)))
        return out

    monkeypatch.setattr(manager_module, "decode_batch", timed)
    two = WhisperModel(models.resolve("base", Path(cache_dir)).path, device="cpu", compute_type="int8",
                       cpu_threads=1, num_workers=2)
    manager = StreamManager(Engine(two), lambda m, p: None, decoders=2)
    try:
        pcm = {manager.open(StreamOptions(language="en", format="pcm_s16le"))["stream_id"]: load(name)
               for name in ("weather", "numbers")}
        write_together(manager, {sid: pcm16(audio) for sid, audio in pcm.items()})
        closing = {sid: manager.close(sid) for sid in pcm}
        results = {sid: future.result(timeout=300) for sid, future in closing.items()}
    finally:
        manager.stop()
    for sid, name in zip(pcm, ("weather", "numbers")):
        assert wer(fixture_text(name), results[sid]["text"]) <= 0.25, results[sid]["text"]
    overlapping = sum(1 for a in spans for b in spans if a < b and a[0] < b[1] and b[0] < a[1])
    assert overlapping >= 2, f"the decodes never ran at once: {spans}"
    assert all(n == 1 for _, _, n in spans), "two decoders take one window each rather than a batch of two"


def test_a_stream_open_past_the_measured_capacity_is_refused_with_the_figures(spawn):
    sc = spawn(WHISPER_LIVE_DECODERS="2", WHISPER_CPU_THREADS="1")  # this machine's default on 2 CPUs
    sc.ready()
    sc.call("load_model", {}, timeout=120)
    audio = np.tile(np.concatenate([load("story"), load("weather")]), 2)  # ~46 s, written at once
    data = pcm16(audio)
    opened = []
    for _ in range(2):  # one stream per decoder: a stream is in one decode at a time
        opened.append(sc.call("stream_open", {"format": "pcm_s16le", "language": "en", "vad": False})["result"]["stream_id"])
        for i in range(0, len(data), 64000):
            assert "result" in sc.call("stream_write", {"stream_id": opened[-1],
                                                        "data": base64.b64encode(data[i:i + 64000]).decode()})
    time.sleep(5)  # both decoders decode without a pause: the load is measured near 100%
    refused = sc.call("stream_open", {"format": "pcm_s16le", "language": "en"})
    assert "error" in refused, refused
    e = refused["error"]
    assert e["code"] == -32011 and e["data"]["kind"] == "capacity", e
    assert e["data"]["open_streams"] == 2 and e["data"]["load"] > 0.6 and e["data"]["projected_load"] > 0.9, e
    assert e["data"]["decode_s_per_audio_s"] > 0 and e["data"]["retry_after_s"] > 0, e
    assert f"{e['data']['load']:.0%}" in e["message"], e["message"]
    statuses = [m["params"] for m in sc.notifications("status") if m["params"].get("stream_id") == opened[0]
                and m["params"]["stage"] == "live"]
    assert statuses and statuses[-1]["capacity"]["open_streams"] == 2, statuses[-1:]
    for sid in opened:
        assert sc.call("stream_abort", {"stream_id": sid})["result"]["aborted"]
    assert "result" in sc.call("stream_open", {"format": "pcm_s16le"}), "open again once the streams are gone"
    assert sc.close() == 0


def test_a_decode_writes_no_more_tokens_than_its_window_allows(model, monkeypatch):
    """A loop runs to Whisper's 448-token limit unless the window's budget stops it first."""
    from sidecar.stream import step

    clip = load("story")[: 8 * SR]
    whole = decode_window(model, clip, language="en", task="transcribe", beam_size=1)
    assert len(whole.pieces[0].text.split()) > 10
    assert step.token_budget(8.0) == 8 * step.TOKENS_PER_S + step.TOKENS_SLACK
    monkeypatch.setattr(step, "TOKENS_PER_S", 0)
    monkeypatch.setattr(step, "TOKENS_SLACK", 6)
    cut = decode_window(model, clip, language="en", task="transcribe", beam_size=1)
    words = "".join(p.text for p in cut.pieces).split()
    assert 0 < len(words) <= 6, words
