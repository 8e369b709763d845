"""Command line: ``python -m sidecar transcribe FILE`` and ``python -m sidecar gpu-status``.

Both drive the same Engine the JSON-RPC server uses, in-process. The transcript goes to stdout,
the progress bar and logs to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import threading
import time

import orjson

from .config import Config
from .engine import Engine
from .errors import SidecarError
from .engine.formats import FORMATS
from .params import transcribe_params
from .endpoint.stdio import ProtocolWriter, write_text


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sidecar", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve JSON-RPC 2.0 on stdin/stdout (the default)")
    t = sub.add_parser("transcribe", help="transcribe one media file")
    t.add_argument("file")
    t.add_argument("--format", choices=sorted(FORMATS), default="txt")
    t.add_argument("--model")
    t.add_argument("--language")
    t.add_argument("--task", choices=["transcribe", "translate"])
    t.add_argument("--device", choices=["auto", "cuda", "cpu"])
    t.add_argument("--beam-size", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--vad", action="store_true", default=None, help="skip silence with Silero VAD")
    t.add_argument("--word-timestamps", action="store_true", default=None)
    g = sub.add_parser("gpu-status", help="print the device report as JSON")
    g.add_argument("--recheck", action="store_true", help="run the GPU check again, ignoring the cache")
    return p


class _Progress:
    """A one-line progress bar on stderr, fed by the engine's status notifications."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, method: str, params: dict) -> None:
        if method != "status":
            return
        progress = params.get("progress")
        if params["stage"] == "transcribing" and progress is not None:
            filled = int(progress * 30)
            line = f"\r[{'#' * filled}{'.' * (30 - filled)}] {progress:4.0%} on {params.get('device')}"
            sys.stderr.write(line)
        else:
            sys.stderr.write(("\n" if self.last == "bar" else "") + params["message"] + "\n")
        self.last = "bar" if params["stage"] == "transcribing" else "line"
        sys.stderr.flush()


def main(argv, writer: ProtocolWriter, config: Config) -> int:
    args = _parser().parse_args(argv)
    if args.command == "gpu-status":
        config = dataclasses.replace(config, preload=False)
        engine = Engine(config, lambda m, p: None)
        engine.start()
        if args.recheck:
            engine.decision()
            engine.recheck()
        engine.decision()
        write_text(writer, orjson.dumps(engine.gpu_report().to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    config = dataclasses.replace(config, preload=False)
    engine = Engine(config, _Progress())
    engine.start()
    params = {k: v for k, v in {
        "path": args.file, "model": args.model, "language": args.language, "task": args.task,
        "device": args.device, "beam_size": args.beam_size, "batch_size": args.batch_size,
        "vad_filter": args.vad, "word_timestamps": args.word_timestamps,
    }.items() if v is not None}
    try:
        result = engine.transcribe(None, transcribe_params(params), threading.Event(), time.monotonic())
    except SidecarError as e:
        sys.stderr.write(f"error: {e.message}\n")
        return 2
    write_text(writer, FORMATS[args.format](result.to_dict()))
    return 0
