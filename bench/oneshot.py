"""The old relay's way, as a child process: start Python, import faster-whisper, load the model,
transcribe the given files, print one JSON line and exit.

    python -m bench.oneshot --model-path DIR [--compute-type int8] FILE...

Also used to measure the peak memory of faster-whisper in a process of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

T_START = time.monotonic()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.oneshot")
    parser.add_argument("--model-path", required=True)
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)

    from faster_whisper import WhisperModel, decode_audio

    from .procfs import memory_kb

    t_import = time.monotonic()
    model = WhisperModel(args.model_path, device="cpu", compute_type=args.compute_type)
    t_load = time.monotonic()
    files = []
    for path in args.files:
        t0 = time.monotonic()
        segments, _ = model.transcribe(decode_audio(path, sampling_rate=16000))
        text = "".join(s.text for s in segments).strip()
        files.append({"path": path, "transcribe_s": round(time.monotonic() - t0, 4), "text": text})
    out = {
        "import_s": round(t_import - T_START, 4),
        "load_s": round(t_load - t_import, 4),
        "files": files,
        "memory_kb": memory_kb(os.getpid()),
    }
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
