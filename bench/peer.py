"""The peer: whisper_streaming's ``whisper_online.py`` simulation (github.com/ufal/whisper_streaming),
run from a copy the caller names — its code is never part of this repository.

``python -m bench.peer DIR AUDIO.wav [whisper_online.py options...]`` runs ``DIR/whisper_online.py``
as ``__main__`` in this process after three adjustments, none of which touches its streaming policy:
- ``faster_whisper.WhisperModel`` is given ``device="cpu", compute_type="int8"`` (the script hard-codes
  CUDA float16) and the sidecar's CPU thread count (one on 2 CPUs: twice as fast there), so it runs
  what the sidecar runs on this machine;
- ``librosa.load`` reads the 16 kHz mono 16-bit WAV with the standard ``wave`` module (librosa is not
  installed here; for such a file it returns the same float32 samples);
- ``soundfile`` (used only by its OpenAI API backend) is an empty module.
At exit it prints one JSON line on stderr, ``PEER_RUSAGE {"cpu_s": ...}``: the process's CPU seconds.

``run(...)`` spawns that and parses the simulation's stdout: one line per commit,
``<emission ms since start> <begin ms> <end ms> <text>``, where the audio at second ``t`` of the file
becomes available at ``t`` seconds after start (it sleeps to keep to the wall clock).
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
import types
import wave
from pathlib import Path
from typing import List, Optional

import numpy as np

from .fixtures import ROOT

LINE = re.compile(r"^(\d+(?:\.\d+)?) (-?\d+) (-?\d+) (.*)$")


def _install_shims() -> None:
    import faster_whisper

    from sidecar.config import Config

    original = faster_whisper.WhisperModel
    threads = Config.from_env().cpu_threads

    def cpu_int8(*args, **kwargs):
        kwargs.update(device="cpu", compute_type="int8", cpu_threads=threads)
        return original(*args, **kwargs)

    faster_whisper.WhisperModel = cpu_int8

    def load(path, sr=16000, dtype=np.float32, **_):
        with wave.open(str(path), "rb") as w:
            if w.getframerate() != sr or w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise ValueError(f"{path}: the peer shim reads 16 kHz mono 16-bit WAV only")
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return (pcm.astype(np.float32) / 32768.0).astype(dtype), sr

    sys.modules["librosa"] = types.SimpleNamespace(load=load)
    sys.modules.setdefault("soundfile", types.ModuleType("soundfile"))


def _main(argv: List[str]) -> int:
    import atexit
    import runpy

    source_dir, rest = Path(argv[0]), argv[1:]
    script = source_dir / "whisper_online.py"
    if not script.is_file():
        print(f"no whisper_online.py in {source_dir}", file=sys.stderr)
        return 2
    _install_shims()

    def rusage() -> None:
        r = resource.getrusage(resource.RUSAGE_SELF)
        print("PEER_RUSAGE " + json.dumps({"cpu_s": r.ru_utime + r.ru_stime}), file=sys.stderr, flush=True)

    atexit.register(rusage)
    sys.path.insert(0, str(source_dir))
    sys.argv = [str(script)] + rest
    runpy.run_path(str(script), run_name="__main__")
    return 0


def run(source_dir: Path, wav: str, model_dir: str, min_chunk_s: float = 1.0, language: str = "en",
        env: Optional[dict] = None, timeout: float = 1800) -> dict:
    """Runs the simulation (computation-aware, real time) and returns its commits and CPU time.

    Returns: {"commits": [{"emitted_s", "start", "end", "text"}], "cpu_s", "wall_s", "returncode",
    "stderr_tail"}.
    """
    cmd = [sys.executable, "-m", "bench.peer", str(source_dir), wav, "--backend", "faster-whisper",
           "--model_dir", model_dir, "--lan", language, "--min-chunk-size", str(min_chunk_s),
           "--log-level", "INFO"]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=str(ROOT), env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout)
    wall = time.monotonic() - t0
    commits = []
    for line in proc.stdout.splitlines():
        m = LINE.match(line.strip())
        if m:
            commits.append({"emitted_s": float(m.group(1)) / 1000, "start": int(m.group(2)) / 1000,
                            "end": int(m.group(3)) / 1000, "text": m.group(4)})
    cpu = None
    for line in proc.stderr.splitlines():
        if line.startswith("PEER_RUSAGE "):
            cpu = json.loads(line[len("PEER_RUSAGE "):])["cpu_s"]
    return {"commits": commits, "cpu_s": cpu, "wall_s": wall, "returncode": proc.returncode,
            "stderr_tail": proc.stderr[-2000:]}


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
