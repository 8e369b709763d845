"""The live policy without the wall clock: one ``LiveStream`` fed a recording in 100-ms chunks on a
simulated clock, each planned decode run at once (``--speed 0``: an infinitely fast machine) or
charged its measured time times ``--speed`` (audio keeps arriving meanwhile). Finals and their WER
against the fixture texts and against the offline transcript come out the same on a quiet or a loaded
machine, so policy changes can be compared in minutes::

    .venv/bin/python -m bench.livesim --speech-s 60 --speed 1

Prints JSON: wer, finals, decodes, decode_s (wall), cpu_s (the process's CPU time in decodes, all
threads: less disturbed by other load than wall time), final waits (simulated seconds from a
word's end to its final) p50/p90.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from . import fixtures
from .stats import percentile
from .wer import wer


def simulate(model, samples: np.ndarray, options, speed: float) -> dict:
    from sidecar.stream.session import LiveStream
    from sidecar.stream.step import Window, decode_batch

    clock = [0.0]
    events = []
    stream = LiveStream("sim", options, lambda m, p: events.append((clock[0], m, p)), clock=lambda: clock[0])
    chunk = fixtures.SAMPLE_RATE // 10
    fed = 0
    decodes, decode_s, cpu_s = 0, 0.0, 0.0

    def feed_until(t: float) -> None:
        nonlocal fed
        while fed < samples.size and (fed + chunk) / fixtures.SAMPLE_RATE <= t + 1e-9:
            stream.add_audio(samples[fed:fed + chunk])
            fed += chunk
        if fed >= samples.size and not stream.input_ended:
            stream.end_input()

    while True:
        feed_until(clock[0])
        plan = stream.plan(clock[0])
        if plan is None:
            if stream.finished() or (fed >= samples.size and stream.input_ended and stream.plan(clock[0]) is None
                                     and clock[0] > samples.size / fixtures.SAMPLE_RATE + 60):
                break
            clock[0] = round(clock[0] + 0.1, 6)
            continue
        beam = plan.beam(options)
        t0, c0 = time.monotonic(), time.process_time()
        result = decode_batch(model, [Window(stream.window(plan), stream.prompt())],
                              language=stream.language, task=options.task, beam_size=beam)[0]
        spent = time.monotonic() - t0
        cpu_s += time.process_time() - c0
        decodes += 1
        decode_s += spent
        clock[0] += spent * speed
        stream.apply(plan, result, spent)
    finals = [(t, p["segment"]) for t, m, p in events if m == "segment" and p["segment"].get("final")]
    text = "".join(s["text"] for _, s in finals if not s.get("gap")).strip()
    waits = sorted(t - s["end"] for t, s in finals if not s.get("gap"))
    return {"text": text, "finals": len(finals), "gaps": sum(1 for _, s in finals if s.get("gap")),
            "decodes": decodes, "decode_s": round(decode_s, 2), "cpu_s": round(cpu_s, 2),
            "cpu_per_audio_s": round(cpu_s / (samples.size / fixtures.SAMPLE_RATE), 3),
            "final_wait_p50": round(percentile(waits, 50), 2) if waits else None,
            "final_wait_p90": round(percentile(waits, 90), 2) if waits else None}


def main() -> None:
    from faster_whisper import WhisperModel

    from sidecar.config import Config
    from sidecar.engine import models
    from sidecar.stream.shapes import StreamOptions

    ap = argparse.ArgumentParser()
    ap.add_argument("--speech-s", type=float, default=60.0)
    ap.add_argument("--speed", type=float, default=0.0, help="decode time charged = measured x this")
    ap.add_argument("--beam", type=int, default=5, help="the stream's beam_size (closing decodes)")
    ap.add_argument("--offline", action="store_true", help="also the offline transcript's WER")
    ap.add_argument("--mp3", action="store_true",
                    help="feed (and transcribe offline) the recording as `bench live` sends it: 32 kbit/s MP3")
    ap.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE",
                    help="override a constant of sidecar.stream for this run, e.g. session.PAD_S=0.5")
    args = ap.parse_args()
    for item in args.set:
        import importlib

        target, value = item.split("=", 1)
        module, name = target.rsplit(".", 1)
        setattr(importlib.import_module(f"sidecar.stream.{module}"), name, json.loads(value))
    clip = fixtures.concatenated(Path(tempfile.gettempdir()) / "livesim", f"sim-{int(args.speech_s)}", args.speech_s)
    samples = fixtures._decode(Path(clip.path))
    if args.mp3:
        from .livefeed import mp3_chunks

        mp3 = Path(tempfile.mkdtemp(prefix="livesim-")) / "stream.mp3"  # one per run: runs may overlap
        mp3.write_bytes(b"".join(data for data, _ in mp3_chunks(samples)))
        samples = fixtures._decode(mp3)
    config = Config.from_env()  # the sidecar's own settings (WHISPER_CPU_THREADS)
    path = models.resolve("base", config.cache_dir, on_download=lambda n: None).path
    model = WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=config.cpu_threads)
    out = {"audio_s": clip.duration, "cpu_threads": config.cpu_threads, "load": open("/proc/loadavg").read().split()[:3]}
    if args.offline:
        segments, _ = model.transcribe(samples, language="en", beam_size=5, vad_filter=True)
        out["offline_wer"] = round(wer(clip.text, "".join(s.text for s in segments)), 4)
    sim = simulate(model, samples, StreamOptions(language="en", beam_size=args.beam), args.speed)
    out.update(sim)
    out["wer"] = round(wer(clip.text, sim["text"]), 4)
    out["load_end"] = open("/proc/loadavg").read().split()[:3]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
