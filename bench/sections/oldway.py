"""2. Warm vs the old way: the old relay spawned Python and loaded the model for every file; time that
against one warm sidecar, for the 5–10 s clips."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

from ..client import OMP_PASSIVE, Sidecar
from ..fixtures import ROOT
from ..inprocess import model_path
from ..report import fmt, rotated, table
from ..stats import median, ratio, rnd, summary
from ..wer import wer

log = logging.getLogger(__name__)

NAME = "oldway"
TITLE = "2. One warm sidecar vs spawning Python and loading the model per file"
MIN_S, MAX_S = 5.0, 10.0


def spawn_per_file(path: str, compute_type: str = "int8") -> dict:
    """Spawn → exit of ``python -m bench.oneshot`` on one file, with its own import/load/transcribe split."""
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "bench.oneshot", "--model-path", model_path(),
                          "--compute-type", compute_type, path],
                         capture_output=True, text=True, cwd=str(ROOT), check=False)
    wall = time.monotonic() - t0
    if out.returncode != 0:
        raise RuntimeError(f"bench.oneshot failed ({out.returncode}): {out.stderr[-2000:]}")
    report = json.loads(out.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, "text": report["files"][0]["text"], "import_s": report["import_s"],
            "load_s": report["load_s"], "transcribe_s": report["files"][0]["transcribe_s"]}


def run(ctx) -> dict:
    clips = [c for c in ctx.short_clips() if MIN_S <= c.duration <= MAX_S]
    reps = ctx.reps(3)
    sidecars = {"warm": Sidecar(env=ctx.env())}
    if "OMP_WAIT_POLICY" not in ctx.sidecar_env:
        sidecars["warm_passive"] = Sidecar(env=ctx.env(**OMP_PASSIVE))
    rows = []
    try:
        for sc in sidecars.values():
            sc.wait_warm()
            sc.call("transcribe", {"path": clips[0].path})  # warm-up
        for clip in clips:
            log.info("oldway: %s x%d", clip.name, reps)
            runs: dict = {"old": [], **{name: [] for name in sidecars}}
            for r in range(reps):
                for side in rotated(list(runs), r):
                    if side == "old":
                        runs["old"].append(spawn_per_file(clip.path))
                    else:
                        result, wall = sidecars[side].call("transcribe", {"path": clip.path})
                        runs[side].append({"wall_s": wall, "text": result["text"]})
            old = [x["wall_s"] for x in runs["old"]]
            row = {
                "file": clip.name, "duration_s": clip.duration, "old_s": summary(old),
                "old_split_s": {k: rnd(median(x[k] for x in runs["old"]), 3)
                                for k in ("import_s", "load_s", "transcribe_s")},
                "old_wer": rnd(wer(clip.text, runs["old"][0]["text"]), 4),
            }
            for side in sidecars:
                warm = [x["wall_s"] for x in runs[side]]
                row[side] = {"wall_s": summary(warm), "ratio": rnd(ratio(median(old), median(warm)), 3),
                             "wer": rnd(wer(clip.text, runs[side][0]["text"]), 4)}
            rows.append(row)
    finally:
        for sc in sidecars.values():
            sc.close()
    return {"rows": rows, "sides": list(sidecars), "sidecar_env": ctx.sidecar_env,
            **{f"ratio_median_{side}": rnd(median(r[side]["ratio"] for r in rows), 3) for side in sidecars}}


def markdown(result: dict) -> str:
    passive = "warm_passive" in result["sides"]
    headers = ["file", "audio s", "spawn per file s", "of which import s", "load s", "transcribe s",
               "warm sidecar s", "ratio"] + (["warm sidecar, OMP passive s", "ratio"] if passive else [])
    rows = []
    for r in result["rows"]:
        row = [r["file"], r["duration_s"], r["old_s"]["median"], r["old_split_s"]["import_s"],
               r["old_split_s"]["load_s"], r["old_split_s"]["transcribe_s"], r["warm"]["wall_s"]["median"],
               fmt(r["warm"]["ratio"])]
        if passive:
            row += [r["warm_passive"]["wall_s"]["median"], fmt(r["warm_passive"]["ratio"])]
        rows.append(row)
    text = table(headers, rows) + (
        "\n\n*spawn per file* = spawn → exit of a Python process that imports faster-whisper, loads the model "
        "and transcribes one file (`python -m bench.oneshot`), as the old relay did; *warm sidecar* = request "
        "→ response on one warm sidecar; *ratio* = spawn / warm (medians).")
    if passive:
        text += " *OMP passive*: the same with `OMP_WAIT_POLICY=PASSIVE`."
    if result.get("sidecar_env"):
        text += " Every sidecar ran with " + ", ".join(f"`{k}={v}`" for k, v in result["sidecar_env"].items()) + "."
    return text
