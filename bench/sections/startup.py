"""4. Startup: spawn → `ready`, spawn → `gpu_status` answered, spawn → model warm (the `loading_model`
status, then `gpu_status` saying `model_loaded: true`), and spawn → first transcript."""

from __future__ import annotations

import logging

from ..client import Sidecar
from ..report import table
from ..stats import ms, summary

log = logging.getLogger(__name__)

NAME = "startup"
TITLE = "4. Startup"
STEPS = [
    ("ready", "spawn → `ready`"),
    ("gpu_status", "spawn → `gpu_status` answered (sent right after spawn)"),
    ("device_decided", "spawn → device decided (`gpu_setup`/`fallback` status)"),
    ("loading_model", "spawn → `loading_model` status"),
    ("model_warm", "spawn → model warm (`gpu_status.model_loaded`)"),
    ("first_transcript", "spawn → first transcript (hello, 4.7 s)"),
]


def one_start(first_clip: str, env: dict) -> dict:
    # The default device choice (auto), as a user gets it; the machine decides CPU or GPU.
    sidecar = Sidecar(env={**env, "WHISPER_DEVICE": "auto", "WHISPER_COMPUTE_TYPE": ""})
    try:
        t0 = sidecar.spawned_at
        _, status_future = sidecar.send("gpu_status")
        t_ready = sidecar.wait_notification(lambda m, p: m == "ready")
        t_status, msg = status_future.result(120)
        t_decided = sidecar.wait_notification(
            lambda m, p: m == "status" and p.get("stage") in ("fallback", "gpu_setup")
            and (p.get("message") or "").startswith(("Using", "CUDA")))
        t_loading = sidecar.wait_notification(lambda m, p: m == "status" and p.get("stage") == "loading_model")
        t_warm = sidecar.wait_warm()
        _, wall = sidecar.call("transcribe", {"path": first_clip})
        t_first = t_warm + wall
        device = (msg.get("result") or {}).get("device")
    finally:
        sidecar.close()
    return {"ready": t_ready - t0, "gpu_status": t_status - t0, "device_decided": t_decided - t0,
            "loading_model": t_loading - t0, "model_warm": t_warm - t0, "first_transcript": t_first - t0,
            "device_at_first_gpu_status": device}


def run(ctx) -> dict:
    clip = ctx.short_clips()[0].path
    reps = ctx.reps(3)
    runs = []
    for r in range(reps):
        log.info("startup: run %d/%d", r + 1, reps)
        runs.append(one_start(clip, ctx.env()))
    return {"steps": {key: summary([x[key] for x in runs]) for key, _ in STEPS}, "runs": runs}


def markdown(result: dict) -> str:
    rows = [[what, ms(result["steps"][key]["median"]), ms(result["steps"][key]["min"]),
             ms(result["steps"][key]["max"])] for key, what in STEPS]
    return table(["step", "median ms", "min ms", "max ms"], rows) + (
        "\n\nA fresh `python -m sidecar` each run (`WHISPER_DEVICE=auto`, preload on). Times from `Popen` in "
        "the benchmark; the model is warm once `gpu_status` says `model_loaded: true` (polled every 25 ms "
        "after spawn).")
