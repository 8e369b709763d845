"""Where the model is loaded vs where it runs, and the OpenMP wait policy: the sidecar's preload case.

    python -m bench.omp_probe [--passive] [--hogs N] [--repeat 3]

Modes, each in a fresh process: ``main`` (load and transcribe on the main thread, like the CLI),
``thread-load`` (load on a thread that then ends, transcribe on another: the sidecar's preload), and
``thread-load-alive`` (the loading thread stays alive). ``--hogs N`` runs N busy-looping processes
meanwhile, to show the effect on a busy machine; ``--passive`` sets OMP_WAIT_POLICY=PASSIVE.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

from .fixtures import AUDIO, ROOT

MODES = ("main", "thread-load", "thread-load-alive")


def child(mode: str, model_path: str, repeat: int) -> None:
    box: dict = {}
    clip = str(AUDIO / "weather.flac")

    def load() -> None:
        from faster_whisper import WhisperModel

        box["model"] = WhisperModel(model_path, device="cpu", compute_type="int8")

    def run() -> None:
        from faster_whisper import decode_audio

        times = []
        for _ in range(repeat):
            t0 = time.monotonic()
            segments, _ = box["model"].transcribe(decode_audio(clip))
            "".join(s.text for s in segments)
            times.append(round(time.monotonic() - t0, 3))
        box["times"] = times

    if mode == "main":
        load()
        run()
    elif mode == "thread-load":
        t = threading.Thread(target=load)
        t.start()
        t.join()
        run()
    else:
        done = threading.Event()
        t = threading.Thread(target=lambda: (load(), done.wait()))
        t.start()
        while "model" not in box:
            time.sleep(0.05)
        w = threading.Thread(target=run)
        w.start()
        w.join()
        done.set()
    print(json.dumps(box["times"]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.omp_probe")
    parser.add_argument("--passive", action="store_true", help="OMP_WAIT_POLICY=PASSIVE")
    parser.add_argument("--hogs", type=int, default=0, help="busy-looping processes meanwhile")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--model-path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.model_path, args.repeat)
        return 0
    from .inprocess import model_path

    env = {**os.environ, **({"OMP_WAIT_POLICY": "PASSIVE"} if args.passive else {})}
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)]
    try:
        for mode in MODES:
            out = subprocess.run([sys.executable, "-m", "bench.omp_probe", "--child", mode, "--model-path",
                                  model_path(), "--repeat", str(args.repeat)],
                                 capture_output=True, text=True, env=env, cwd=str(ROOT), check=True)
            times = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{mode:18} {'passive' if args.passive else 'default'} hogs={args.hogs}: "
                  + " ".join(f"{t:.2f}s" for t in times), flush=True)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
