"""What ``word_timestamps`` costs a file job (issue 21): one warm sidecar transcribes the same recording
with and without it, alternately, and the sidecar's own ``timings.transcribe_s`` is compared (medians).
A live stream aligns its words for LocalAgreement whatever the option says, so there it only adds the
words to the finals; the file path runs faster-whisper's alignment pass only when asked.

    .venv/bin/python -m bench.wordtimes [--speech-s 60] [--runs 3]

Prints JSON with the load average at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from . import fixtures
from .client import Sidecar


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--speech-s", type=float, default=60.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    clip = fixtures.concatenated(Path(tempfile.gettempdir()) / "wordtimes", f"words-{int(args.speech_s)}", args.speech_s)
    out = {"audio_s": clip.duration, "load_start": open("/proc/loadavg").read().split()[:3]}
    times = {False: [], True: []}
    with Sidecar() as sidecar:
        sidecar.wait_warm()
        sidecar.call("transcribe", {"path": clip.path, "language": "en"})  # warm-up
        for _ in range(args.runs):
            for words in (False, True):
                result, _ = sidecar.call("transcribe", {"path": clip.path, "language": "en", "word_timestamps": words})
                times[words].append(result["timings"]["transcribe_s"])
    plain, timed = statistics.median(times[False]), statistics.median(times[True])
    out.update({"without_s": times[False], "with_s": times[True], "median_without_s": round(plain, 3),
                "median_with_s": round(timed, 3), "ratio": round(timed / plain, 3),
                "extra_s_per_audio_s": round((timed - plain) / clip.duration, 4),
                "load_end": open("/proc/loadavg").read().split()[:3]})
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
