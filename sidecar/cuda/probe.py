"""The GPU check, run as a child: ``python -m sidecar.cuda.probe --model PATH``.

It configures the library paths, loads the model on CUDA and encodes one second of a
tone, which makes ctranslate2 load cuBLAS (and cuDNN where it uses it) for real. A
missing cuDNN sub-library aborts the process, which is why this never runs inside the
sidecar. Exit codes: 0 verified, 1 error, 2 usage, 3 no CUDA device (exit_codes.py).
Its stdout is unused; everything goes to stderr.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import sys
import time
import traceback
from typing import List, Optional

from .exit_codes import EXIT_ERROR, EXIT_NO_DEVICE, EXIT_OK


def _say(message: str) -> None:
    print(f"whisper-sidecar-probe: {message}", file=sys.stderr, flush=True)


def _tone(seconds: float = 1.0, rate: int = 16000):
    import numpy as np

    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    return (0.1 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)


def _encode_once(model_path: str, device: str, device_index: int, compute_type: str) -> None:
    from faster_whisper import WhisperModel
    from faster_whisper.audio import pad_or_trim

    start = time.monotonic()
    model = WhisperModel(model_path, device=device, device_index=device_index,
                         compute_type=compute_type, cpu_threads=1, num_workers=1)
    _say(f"model loaded on {device} in {time.monotonic() - start:.2f} s")
    start = time.monotonic()
    features = pad_or_trim(model.feature_extractor(_tone()))
    output = model.encode(features)  # the first encode loads cuBLAS (and cuDNN)
    model.model.detect_language(output)  # and a decoder step, for the other GEMMs
    _say(f"encoded 1 s of audio in {time.monotonic() - start:.2f} s")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sidecar.cuda.probe")
    parser.add_argument("--model", required=True, help="model folder or name")
    parser.add_argument("--compute-type", default="float16")
    parser.add_argument("--device", default="cuda", help="cuda (default); cpu to test the probe")
    parser.add_argument("--device-index", type=int, default=0)
    parser.add_argument("--deadline-s", type=float, default=0,
                        help="exit by itself after this long, should the parent be gone")
    args = parser.parse_args(argv)
    if args.deadline_s > 0:
        faulthandler.dump_traceback_later(args.deadline_s, exit=True)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    from .paths import configure

    configure()
    try:
        if args.device == "cuda":
            import ctranslate2

            if ctranslate2.get_cuda_device_count() == 0:
                _say("no CUDA device visible (ctranslate2.get_cuda_device_count() == 0)")
                return EXIT_NO_DEVICE
        _encode_once(args.model, args.device, args.device_index, args.compute_type)
    except Exception:  # noqa: BLE001 - any error is a verdict, reported by exit code
        traceback.print_exc()
        return EXIT_ERROR
    _say("OK")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
