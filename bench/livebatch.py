"""``python -m bench.livebatch``: live-stream windows decoded in one batch against one at a time, and the
short encoder window against the padded 30 s, on the fixtures (sidecar/stream/step.py, base int8).

Each row decodes N windows of ``WINDOW_S`` (different places in the fixtures) both ways, alternating,
``REPEAT`` times, and prints the median wall time of each way. Beam 1, as the partials run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from .inprocess import InProcess

SR = 16000
ROOT = Path(__file__).resolve().parents[1]
NAMES = ("story", "weather", "numbers", "hello")


def _audio() -> np.ndarray:
    from faster_whisper import decode_audio

    return np.concatenate([decode_audio(str(ROOT / "tests" / "fixtures" / "audio" / f"{n}.flac"), sampling_rate=SR)
                           for n in NAMES])


def _padded(model, samples: np.ndarray) -> None:
    """The encoder pass as before issue 18: the window padded to 30 s (faster-whisper's pad_or_trim)."""
    from faster_whisper.audio import pad_or_trim

    model.encode(pad_or_trim(model.feature_extractor(samples)))


def run(sizes=(1, 2, 3, 4), window_s: float = 5.0, repeat: int = 3) -> list:
    from sidecar.stream.step import Window, decode_batch, decode_window

    model = InProcess().model
    audio = _audio()
    rows = []
    decode_window(model, audio[:SR * 2], language="en", task="transcribe", beam_size=1)  # warm-up
    for n in sizes:
        step = (audio.size - int(window_s * SR)) // max(1, n)
        windows = [Window(audio[i * step: i * step + int(window_s * SR)]) for i in range(n)]
        batched, single, padded = [], [], []
        for _ in range(repeat):
            t0 = time.monotonic()
            decode_batch(model, windows, language="en", task="transcribe", beam_size=1)
            batched.append(time.monotonic() - t0)
            t0 = time.monotonic()
            for w in windows:
                decode_window(model, w.samples, language="en", task="transcribe", beam_size=1)
            single.append(time.monotonic() - t0)
            t0 = time.monotonic()
            for w in windows:
                _padded(model, w.samples)
            padded.append(time.monotonic() - t0)
        rows.append({"windows": n, "window_s": window_s, "batched_s": round(statistics.median(batched), 3),
                     "one_at_a_time_s": round(statistics.median(single), 3),
                     "padded_30s_encode_only_s": round(statistics.median(padded), 3)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window-s", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = run(window_s=args.window_s, repeat=args.repeat)
    print("| windows | window s | one batch s | one at a time s | ratio | 30-s padded encodes alone s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['windows']} | {r['window_s']:.0f} | {r['batched_s']:.2f} | {r['one_at_a_time_s']:.2f} | "
              f"{r['one_at_a_time_s'] / r['batched_s']:.2f}x | {r['padded_30s_encode_only_s']:.2f} |")


if __name__ == "__main__":
    main()
