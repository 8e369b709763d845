"""The device run behind ``bench/gpu.sh``: prove the probe, transcribe the long fixture, then raise the
number of live streams at once until one falls behind. The answer is *streams per device*: the most
streams at once whose every final arrived within ``--p90-s`` (p90) with the lag bounded and no gap.

    python -m bench.gpurun --device cuda --out DIR       # on a GPU machine (bench/gpu.sh stages it first)
    python -m bench.gpurun --device cpu --quick --out DIR  # the same steps on the CPU (the tests run this)

Writes ``DIR/gpu-run.json`` and ``DIR/gpu-run.md`` and prints the markdown. Exit status 0 when every
step ran (whatever the figures); 2 when the probe did not give the device asked for; 1 on an error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from . import fixtures, livemetrics, machine
from .client import Sidecar, SidecarFailed
from .livedirect import DirectStreams
from .livefeed import Feed, mp3_chunks
from .report import fmt, table
from .stats import rnd
from .wer import wer

log = logging.getLogger("bench.gpurun")

LANGUAGE = "en"
FULL = {"levels": (1, 4, 8, 16, 32, 48, 64, 96, 128), "stream_s": 30.0, "long_speech_s": 300.0}
QUICK = {"levels": (1, 2), "stream_s": 12.0, "long_speech_s": 40.0}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.gpurun", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p.add_argument("--quick", action="store_true", help="short streams and levels 1, 2 (the tests' CPU mode)")
    p.add_argument("--levels", help="streams at once to try, in order, e.g. 1,4,8,16")
    p.add_argument("--stream-s", type=float, help="audio per stream at each level")
    p.add_argument("--p90-s", type=float, default=3.0, help="a level passes when every stream's final p90 is at most this")
    p.add_argument("--budget-s", type=float, default=420.0, help="no new level starts after this many seconds")
    p.add_argument("--out", default="bench/results", help="folder for gpu-run.json / gpu-run.md")
    return p.parse_args(argv)


def sidecar_env(device: str) -> dict:
    # bench/client.py's BASE_ENV pins the CPU; on the GPU the sidecar chooses its own compute type.
    return {"WHISPER_DEVICE": device, "WHISPER_COMPUTE_TYPE": "int8" if device == "cpu" else ""}


def probe(sidecar: Sidecar, device: str) -> dict:
    """The sidecar's own verified device report (the crash-safe child-process check)."""
    status, wall = sidecar.call("gpu_status", {"wait": True}, timeout=600)
    keep = ("device", "compute_type", "fallback_reason", "verification", "cuda_libraries", "devices")
    report = {k: status.get(k) for k in keep if k in status}
    report["wait_s"] = rnd(wall, 2)
    report["ok"] = status.get("device") == device
    return report


def transcribe_long(sidecar: Sidecar, audio_dir: Path, speech_s: float) -> dict:
    clip = fixtures.concatenated(audio_dir, f"gpu-long-{int(speech_s)}", speech_s)
    result, wall = sidecar.call("transcribe", {"path": clip.path, "language": LANGUAGE}, timeout=900)
    return {"file": clip.to_dict(), "wall_s": rnd(wall, 3), "rtf": rnd(wall / clip.duration, 4),
            "wer": rnd(wer(clip.text, result["text"]), 4), "device": result.get("device"),
            "compute_type": result.get("compute_type")}


def stream_figures(feed: Feed, out: dict) -> dict:
    """One stream's final latencies, lag and gaps, from its notifications (bench/livedirect.py's shape)."""
    events = out["events"]
    finals = [(t, s) for t, n, s in events if n == "segment" and s.get("final") and not s.get("gap")]
    lags = [(t, d.get("lag_s")) for t, n, d in events if n == "lag"]
    return {"final": livemetrics.spread(livemetrics.segment_latencies(finals, feed)),
            "lag": livemetrics.lag_figures(lags, feed.started_at or 0),
            "gaps": sum(1 for _, n, s in events if n == "segment" and s.get("gap")),
            "write_errors": out["write_errors"][:2]}


def level(direct: DirectStreams, samples: np.ndarray, n: int, stream_s: float, p90_s: float) -> dict:
    """``n`` streams at once, each from its own place in the recording, fed in real time."""
    size = int(stream_s * fixtures.SAMPLE_RATE)
    feeds = [Feed(f"n{n}-{i}", mp3_chunks(np.roll(samples, -int(i * samples.size / n))[:size])) for i in range(n)]
    try:
        outs = direct.run(feeds, {"language": LANGUAGE}, timeout=stream_s + 180)
    except SidecarFailed as e:  # e.g. the sidecar's capacity check refused a stream_open
        return {"streams": n, "passed": False, "refused": str(e)[:400]}
    streams = [stream_figures(f, o) for f, o in zip(feeds, outs)]
    p90s = [s["final"]["p90"] for s in streams]
    # Falling behind shows in the finals' p90 first; the lag (the sidecar's lag_s) must also stay
    # within twice that. The lag's slope is reported, not judged: on a 30-s level it mostly measures warm-up.
    passed = all(p is not None and p <= p90_s and (s["lag"]["max_s"] or 0) <= 2 * p90_s and not s["gaps"]
                 for p, s in zip(p90s, streams))
    return {"streams": n, "passed": passed, "final_p50_s": [s["final"]["p50"] for s in streams], "final_p90_s": p90s,
            "worst_p90_s": max((p for p in p90s if p is not None), default=None),
            "lag_max_s": max((s["lag"]["max_s"] or 0) for s in streams),
            "lag_slope": [s["lag"]["slope"] for s in streams], "gaps": sum(s["gaps"] for s in streams)}


def ramp(sidecar: Sidecar, samples: np.ndarray, levels, stream_s: float, p90_s: float, deadline: float) -> list:
    direct = DirectStreams(sidecar)
    rows = []
    for n in levels:
        if time.monotonic() + stream_s > deadline:
            log.info("gpurun: the time budget is spent; no level above %d", rows[-1]["streams"] if rows else 0)
            break
        log.info("gpurun: %d streams at once, %.0f s each", n, stream_s)
        rows.append(level(direct, samples, n, stream_s, p90_s))
        if not rows[-1]["passed"]:
            break
    return rows


def run(args: argparse.Namespace) -> dict:
    preset = QUICK if args.quick else FULL
    levels = [int(x) for x in args.levels.split(",")] if args.levels else list(preset["levels"])
    stream_s = args.stream_s or preset["stream_s"]
    out_dir = Path(args.out)
    audio_dir = out_dir / "audio"
    started = time.monotonic()
    result = {"device_asked": args.device, "machine": machine.describe(), "load_start": machine.load_average(),
              "gpu": machine.gpu(), "p90_limit_s": args.p90_s, "stream_s": stream_s}
    with Sidecar(env=sidecar_env(args.device)) as sidecar:
        result["probe"] = probe(sidecar, args.device)
        if not result["probe"]["ok"]:
            result["error"] = f"the sidecar chose {result['probe'].get('device')}, not {args.device}"
            return result
        sidecar.wait_warm(timeout=600)
        result["long"] = transcribe_long(sidecar, audio_dir, preset["long_speech_s"])
        recording = fixtures.concatenated(audio_dir, "gpu-streams", max(stream_s, 40.0))
        samples = fixtures._decode(Path(recording.path))
        result["levels"] = ramp(sidecar, samples, levels, stream_s, args.p90_s, started + args.budget_s)
    passed = [r["streams"] for r in result["levels"] if r["passed"]]
    result["streams_per_device"] = max(passed, default=0)
    result["load_end"] = machine.load_average()
    result["wall_s"] = rnd(time.monotonic() - started, 1)
    return result


def markdown(result: dict) -> str:
    lines = [f"Device asked: **{result['device_asked']}**; GPU seen: {', '.join(result['gpu'].get('names') or []) or 'none'}; "
             f"load {result['load_start']} → {result.get('load_end')}."]
    pr = result.get("probe", {})
    lines.append(f"Probe: the sidecar chose **{pr.get('device')}** ({pr.get('compute_type')})"
                 + (f", fallback: {pr['fallback_reason']}" if pr.get("fallback_reason") else "") + ".")
    if result.get("error"):
        return "\n\n".join(lines + [f"**Stopped:** {result['error']}"])
    lg = result["long"]
    lines.append(f"Long fixture ({lg['file']['duration']:.0f} s): {fmt(lg['wall_s'])} s, RTF {fmt(lg['rtf'], 4)}, "
                 f"WER {fmt(lg['wer'] * 100, 1)} %.")
    rows = [[r["streams"], "yes" if r["passed"] else "no", r.get("refused") or fmt(r.get("worst_p90_s")),
             fmt(r.get("lag_max_s")), r.get("gaps", "")] for r in result["levels"]]
    lines.append(table(["streams at once", "passed", "worst final p90 s", "lag max s", "gaps"], rows))
    lines.append(f"**Streams per device at final p90 ≤ {result['p90_limit_s']} s: {result['streams_per_device']}** "
                 f"({result['stream_s']:.0f} s of audio per stream and level; run took {result['wall_s']} s).")
    return "\n\n".join(lines)


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    args = parse_args(argv)
    try:
        result = run(args)
    except Exception as e:  # the report says what broke; the exit status says it broke
        log.exception("gpurun failed")
        result = {"error": f"{type(e).__name__}: {e}"}
        code = 1
    else:
        code = 2 if result.get("error") else 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu-run.json").write_text(json.dumps(result, indent=2, default=str))
    text = markdown(result) if "device_asked" in result else f"**gpurun failed:** {result['error']}"
    (out / "gpu-run.md").write_text(text + "\n")
    print(text)
    return code


if __name__ == "__main__":
    sys.exit(main())
