"""3. Sequential vs batched (BatchedInferencePipeline, batch sizes 4/8/16) and int8 vs float32 on the
CPU: wall time, real-time factor and word error rate against the known text, on the short clips, a
one-minute file and the long file. From these, the batch threshold the data supports: batched by
default only from a duration where it is faster and its WER stays within 0.5 points of sequential."""

from __future__ import annotations

import logging

from ..inprocess import InProcess
from ..report import fmt, rotated, table
from ..stats import median, ratio, rnd, summary
from ..wer import wer

log = logging.getLogger(__name__)

NAME = "batching"
TITLE = "3. Sequential vs batched, int8 vs float32 (CPU)"
WER_TOLERANCE = 0.005  # 0.5 points
MIN_SPEEDUP = 1.05  # below this, batching is not worth a change of default
FULL_CONFIGS = [("int8", None), ("int8", 4), ("int8", 8), ("int8", 16), ("float32", None), ("float32", 8)]
QUICK_CONFIGS = [("int8", None), ("int8", 8), ("float32", None)]


def label(compute_type: str, batch: int | None) -> str:
    return f"{compute_type} {'sequential' if not batch else f'batch {batch}'}"


def run(ctx) -> dict:
    configs = QUICK_CONFIGS if ctx.quick else FULL_CONFIGS
    engines = {ct: InProcess(compute_type=ct) for ct in dict.fromkeys(ct for ct, _ in configs)}
    files = [(c, ctx.reps(2)) for c in ctx.short_clips()]
    if ctx.medium() is not None:
        files.append((ctx.medium(), ctx.long_reps(1)))
    files.append((ctx.long(), ctx.long_reps(1)))
    for engine in engines.values():  # warm-up
        engine.transcribe(files[0][0].path)
    rows = []
    for clip, reps in files:
        runs: dict = {cfg: [] for cfg in configs}
        for r in range(reps):
            for cfg in rotated(configs, r):
                log.info("batching: %s (%.0f s) %s, round %d/%d", clip.name, clip.duration, label(*cfg), r + 1, reps)
                runs[cfg].append(engines[cfg[0]].transcribe(clip.path, batch_size=cfg[1]))
        for (ct, batch), outs in runs.items():
            wall = median(o.wall_s for o in outs)
            rows.append({
                "file": clip.name, "duration_s": clip.duration, "compute_type": ct, "batch_size": batch,
                "wall_s": summary([o.wall_s for o in outs]), "rtf": rnd(wall / clip.duration, 4),
                "wer": rnd(median(wer(clip.text, o.text) for o in outs), 4),
            })
    _compare(rows)
    return {"rows": rows, "recommendation": recommend(rows)}


def _compare(rows: list) -> None:
    """Speed-up and WER change against sequential with the same compute type, on the same file."""
    base = {(r["file"], r["compute_type"]): r for r in rows if not r["batch_size"]}
    for r in rows:
        b = base.get((r["file"], r["compute_type"]))
        r["speedup"] = rnd(ratio(b["wall_s"]["median"], r["wall_s"]["median"]), 3) if b else None
        r["wer_delta_points"] = rnd((r["wer"] - b["wer"]) * 100, 2) if b else None


def recommend(rows: list) -> dict:
    """The shortest duration from which one batch size is faster at equal WER on every file that long."""
    batched = [r for r in rows if r["compute_type"] == "int8" and r["batch_size"]]
    durations = sorted({r["duration_s"] for r in batched})
    best = None
    for d in durations:
        longer = [r for r in batched if r["duration_s"] >= d]
        for size in sorted({r["batch_size"] for r in longer}):
            mine = [r for r in longer if r["batch_size"] == size]
            if all(r["speedup"] and r["speedup"] >= MIN_SPEEDUP
                   and r["wer_delta_points"] <= WER_TOLERANCE * 100 for r in mine):
                longest = max(mine, key=lambda r: r["duration_s"])
                if best is None or longest["speedup"] > best["speedup_on_longest"]:
                    best = {"threshold_s": d, "batch_size": size, "speedup_on_longest": longest["speedup"],
                            "wer_delta_points_on_longest": longest["wer_delta_points"]}
        if best is not None:
            break
    out: dict = {"batch": best}
    if best is None:
        out["batch_text"] = ("keep WHISPER_BATCH_THRESHOLD_S=0 (off): on no measured duration was a batch size "
                             f"≥ {MIN_SPEEDUP}x faster with WER within 0.5 points of sequential")
    else:
        out["batch_text"] = (f"WHISPER_BATCH_THRESHOLD_S={best['threshold_s']:.0f}, WHISPER_BATCH_SIZE="
                             f"{best['batch_size']}: from {best['threshold_s']:.0f} s on, batch "
                             f"{best['batch_size']} was {best['speedup_on_longest']:.2f}x faster on the longest "
                             f"file, WER {best['wer_delta_points_on_longest']:+.2f} points")
    seq = {(r["file"], r["compute_type"]): r for r in rows if not r["batch_size"]}
    pairs = [(seq[(f, "int8")], seq[(f, "float32")]) for f, ct in seq if ct == "int8" and (f, "float32") in seq]
    if pairs:
        speed = median(ratio(f["wall_s"]["median"], i["wall_s"]["median"]) for i, f in pairs)
        wer_gap = median((i["wer"] - f["wer"]) * 100 for i, f in pairs)
        keep = speed is not None and speed > 1 and wer_gap <= WER_TOLERANCE * 100
        out["compute_type"] = {"float32_over_int8_time": rnd(speed, 3), "int8_minus_float32_wer_points": rnd(wer_gap, 2),
                               "default": "int8" if keep else "float32"}
        out["compute_text"] = (f"{'int8' if keep else 'float32'} on the CPU: float32 took {speed:.2f}x the time "
                               f"of int8, int8's WER is {wer_gap:+.2f} points against float32 (medians over files)")
    return out


def markdown(result: dict) -> str:
    rows = [[r["file"], r["duration_s"], label(r["compute_type"], r["batch_size"]), r["wall_s"]["median"],
             fmt(r["rtf"], 3), fmt(r["wer"] * 100, 1), fmt(r["speedup"]), fmt(r["wer_delta_points"], 1)]
            for r in result["rows"]]
    rec = result["recommendation"]
    text = table(["file", "audio s", "pipeline", "wall s", "RTF", "WER %", "speed-up vs seq", "ΔWER points"], rows)
    text += ("\n\nIn-process, the sidecar's settings (base model, CPU, `cpu_threads=0`); batched runs use VAD, "
             "as the sidecar does. *RTF* = wall / audio duration; *speed-up* and *ΔWER* are against sequential "
             "with the same compute type on the same file.")
    text += f"\n\n**Batch default**: {rec['batch_text']}."
    if rec.get("compute_text"):
        text += f"\n\n**Compute type**: {rec['compute_text']}."
    return text
