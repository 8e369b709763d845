"""2. Warm vs the old way: the old relay spawned Python and loaded the model for every file; time that
against one warm sidecar, for the 5–10 s clips."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

from ..client import Sidecar
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
    rows = []
    with Sidecar() as sidecar:
        sidecar.wait_warm()
        sidecar.call("transcribe", {"path": clips[0].path})  # warm-up
        for clip in clips:
            log.info("oldway: %s x%d", clip.name, reps)
            runs = {"old": [], "warm": []}
            for r in range(reps):
                for side in rotated(["old", "warm"], r):
                    if side == "old":
                        runs["old"].append(spawn_per_file(clip.path))
                    else:
                        result, wall = sidecar.call("transcribe", {"path": clip.path})
                        runs["warm"].append({"wall_s": wall, "text": result["text"]})
            old = [x["wall_s"] for x in runs["old"]]
            warm = [x["wall_s"] for x in runs["warm"]]
            rows.append({
                "file": clip.name, "duration_s": clip.duration,
                "old_s": summary(old), "warm_s": summary(warm),
                "ratio": rnd(ratio(median(old), median(warm)), 3),
                "old_split_s": {k: rnd(median(x[k] for x in runs["old"]), 3)
                                for k in ("import_s", "load_s", "transcribe_s")},
                "old_wer": rnd(wer(clip.text, runs["old"][0]["text"]), 4),
                "warm_wer": rnd(wer(clip.text, runs["warm"][0]["text"]), 4),
            })
    return {"rows": rows, "ratio_median": rnd(median(r["ratio"] for r in rows), 3)}


def markdown(result: dict) -> str:
    rows = [[r["file"], r["duration_s"], r["old_s"]["median"], r["old_split_s"]["import_s"],
             r["old_split_s"]["load_s"], r["old_split_s"]["transcribe_s"], r["warm_s"]["median"],
             fmt(r["ratio"])] for r in result["rows"]]
    text = table(["file", "audio s", "spawn per file s", "of which import s", "load s", "transcribe s",
                  "warm sidecar s", "ratio"], rows)
    return text + ("\n\n*spawn per file* = spawn → exit of a Python process that imports faster-whisper, "
                   "loads the model and transcribes one file (`python -m bench.oneshot`), as the old relay did; "
                   "*warm sidecar* = request → response on one warm sidecar; *ratio* = spawn / warm (medians).")
