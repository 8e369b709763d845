"""6. Concurrency: 4 clients at once on one sidecar — throughput and each request's latency — for
several WHISPER_NUM_WORKERS × WHISPER_CPU_THREADS settings (and the OpenMP wait policy), all warm,
alternating."""

from __future__ import annotations

import logging
import os
import threading
import time

from ..client import Sidecar
from ..report import fmt, rotated, table
from ..stats import median, rnd, summary

log = logging.getLogger(__name__)

NAME = "concurrency"
TITLE = "6. Concurrency: 4 clients at once"
CLIENTS = 4
PER_CLIENT = 2
# (num_workers, cpu_threads, OMP_WAIT_POLICY); cpu_threads 0 = CTranslate2's default (4); policy None = as is
FULL_CONFIGS = [(1, 0, None), (1, 0, "PASSIVE"), (1, 2, "PASSIVE"), (2, 1, "PASSIVE"), (2, 2, "PASSIVE")]
QUICK_CONFIGS = [(1, 0, None), (2, 1, "PASSIVE")]
TIE = 0.03  # throughputs this close are a tie; then the lower latency wins


def burst(sidecar: Sidecar, paths: list, durations: dict) -> dict:
    """CLIENTS threads, each sending PER_CLIENT transcriptions one after another."""
    latencies, inside, queued = [], [], []
    lock = threading.Lock()
    errors: list = []

    def client(k: int) -> None:
        for j in range(PER_CLIENT):
            path = paths[(k + j) % len(paths)]
            try:
                result, wall = sidecar.call("transcribe", {"path": path})
            except Exception as e:  # reported, never hangs the burst
                errors.append(str(e))
                return
            with lock:
                latencies.append(wall)
                inside.append(result["timings"]["transcribe_s"])
                queued.append(result["timings"]["queue_s"])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    if errors:
        raise RuntimeError(f"concurrent requests failed: {errors[:3]}")
    audio = sum(durations[paths[(k + j) % len(paths)]] for k in range(CLIENTS) for j in range(PER_CLIENT))
    return {"wall_s": wall, "audio_s": audio, "latencies": latencies, "transcribe_s": inside, "queue_s": queued}


def run(ctx) -> dict:
    configs = QUICK_CONFIGS if ctx.quick else FULL_CONFIGS
    if "OMP_WAIT_POLICY" in ctx.sidecar_env:  # --sidecar-env chose the policy: "as is" would repeat it
        configs = [c for c in configs if c[2] is not None]
    clips = [c for c in ctx.short_clips() if 5 <= c.duration <= 10]
    paths = [c.path for c in clips]
    durations = {c.path: c.duration for c in clips}
    reps = ctx.reps(2)
    sidecars = {}
    try:
        for workers, threads, policy in configs:
            extra = {"WHISPER_NUM_WORKERS": str(workers), "WHISPER_CPU_THREADS": str(threads)}
            if policy:
                extra["OMP_WAIT_POLICY"] = policy
            sidecars[(workers, threads, policy)] = Sidecar(env=ctx.env(**extra))
        for sc in sidecars.values():
            sc.wait_warm()
            sc.call("transcribe", {"path": paths[0]})  # warm-up
        runs: dict = {cfg: {"bursts": [], "alone": []} for cfg in configs}
        for r in range(reps):
            for cfg in rotated(configs, r):
                log.info("concurrency: workers=%d threads=%d omp=%s, round %d/%d", *cfg, r + 1, reps)
                _, alone = sidecars[cfg].call("transcribe", {"path": paths[r % len(paths)]})
                runs[cfg]["alone"].append(alone)
                runs[cfg]["bursts"].append(burst(sidecars[cfg], paths, durations))
    finally:
        for sc in sidecars.values():
            sc.close()
    rows = []
    for (workers, threads, policy), data in runs.items():
        bursts = data["bursts"]
        lat = [x for b in bursts for x in b["latencies"]]
        rows.append({
            "num_workers": workers, "cpu_threads": threads, "omp_wait_policy": policy,
            "throughput_x_realtime": rnd(median(b["audio_s"] / b["wall_s"] for b in bursts), 3),
            "burst_wall_s": summary([b["wall_s"] for b in bursts]),
            "latency_s": summary(lat),
            "latency_max_s": rnd(max(lat), 3),
            "alone_latency_s": summary(data["alone"]),
            "queue_s_median": rnd(median(x for b in bursts for x in b["queue_s"]), 3),
            "transcribe_s_median": rnd(median(x for b in bursts for x in b["transcribe_s"]), 3),
        })
    return {"clients": CLIENTS, "per_client": PER_CLIENT, "clips": [c.name for c in clips],
            "cores": os.cpu_count(), "rows": rows, "recommendation": recommend(rows)}


def recommend(rows: list) -> dict:
    top = max(r["throughput_x_realtime"] for r in rows)
    near = [r for r in rows if r["throughput_x_realtime"] >= top * (1 - TIE)]
    best = min(near, key=lambda r: r["latency_s"]["median"])
    policy = f", OMP_WAIT_POLICY={best['omp_wait_policy']}" if best["omp_wait_policy"] else ""
    return {"num_workers": best["num_workers"], "cpu_threads": best["cpu_threads"],
            "omp_wait_policy": best["omp_wait_policy"], "throughput_x_realtime": best["throughput_x_realtime"],
            "text": (f"WHISPER_NUM_WORKERS={best['num_workers']}, WHISPER_CPU_THREADS={best['cpu_threads']}{policy} "
                     f"on this {os.cpu_count()}-core machine: {best['throughput_x_realtime']:.2f}x real time with "
                     f"{CLIENTS} clients (within {TIE:.0%} of the best throughput, lowest median latency)")}


def markdown(result: dict) -> str:
    rows = [[r["num_workers"], r["cpu_threads"] or "0 (default)", r["omp_wait_policy"] or "as is",
             fmt(r["throughput_x_realtime"]),
             r["burst_wall_s"]["median"], r["latency_s"]["median"], r["latency_max_s"], r["alone_latency_s"]["median"],
             r["queue_s_median"], r["transcribe_s_median"]] for r in result["rows"]]
    text = table(["num_workers", "cpu_threads", "OMP_WAIT_POLICY", "throughput (x real time)", "burst wall s", "latency p50 s",
                  "latency max s", "alone s", "queued s (p50)", "transcribing s (p50)"], rows)
    text += (f"\n\n{result['clients']} clients at once, {result['per_client']} requests each, on one warm sidecar "
             f"(clips: {', '.join(result['clips'])}); *throughput* = audio seconds / burst wall seconds; "
             "*alone* = one request with nothing else running; *queued*/*transcribing* from the sidecar's "
             "`timings`.")
    return text + f"\n\n**Defaults**: {result['recommendation']['text']}."
