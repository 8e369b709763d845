"""7. GPU: find an NVIDIA GPU; with one, what the sidecar reports about it and its speed on the same
files; without one, say so."""

from __future__ import annotations

import logging

from .. import machine
from ..client import Sidecar
from ..report import fmt, table
from ..stats import rnd
from ..wer import wer

log = logging.getLogger(__name__)

NAME = "gpu"
TITLE = "7. GPU"


def run(ctx) -> dict:
    found = machine.gpu()
    if not found["present"]:
        log.info("gpu: no GPU on this machine")
        return {"gpu": found, "message": "no GPU on this machine"}
    rows = []
    # The sidecar's own GPU choice (verified in its child process), with the base model for comparison.
    with Sidecar(env=ctx.env(WHISPER_DEVICE="auto", WHISPER_COMPUTE_TYPE="")) as sidecar:
        status, _ = sidecar.call("gpu_status", {"wait": True}, timeout=600)
        if status.get("device") == "cuda":
            sidecar.wait_warm()
            for clip in ctx.short_clips() + [ctx.long()]:
                result, wall = sidecar.call("transcribe", {"path": clip.path})
                rows.append({"file": clip.name, "duration_s": clip.duration, "wall_s": rnd(wall, 3),
                             "rtf": rnd(wall / clip.duration, 4), "wer": rnd(wer(clip.text, result["text"]), 4),
                             "device": result["device"], "compute_type": result["compute_type"]})
    return {"gpu": found, "sidecar_device": status.get("device"), "fallback_reason": status.get("fallback_reason"),
            "verification": status.get("verification"), "rows": rows}


def markdown(result: dict) -> str:
    if result.get("message"):
        return f"**{result['message']}**: no GPU figure exists yet."
    names = ", ".join(result["gpu"].get("names") or []) or "an NVIDIA GPU"
    text = f"Device: {names}; the sidecar chose **{result['sidecar_device']}**"
    if result.get("fallback_reason"):
        text += f" ({result['fallback_reason']})"
    text += "."
    if result["rows"]:
        text += "\n\n" + table(["file", "audio s", "wall s", "RTF", "WER %", "compute type"],
                               [[r["file"], r["duration_s"], r["wall_s"], fmt(r["rtf"], 4), fmt(r["wer"] * 100, 1),
                                 r["compute_type"]] for r in result["rows"]])
    return text
