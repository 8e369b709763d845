"""5. Memory: peak RSS of the sidecar vs faster-whisper in a process of its own, on the same files;
then RSS over 100 more requests (growth)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from ..client import Sidecar
from ..fixtures import ROOT
from ..inprocess import model_path
from ..procfs import memory_kb, mib
from ..report import fmt, table

log = logging.getLogger(__name__)

NAME = "memory"
TITLE = "5. Memory (peak RSS, growth over 100 requests)"
SAMPLE_EVERY = 10


def _inprocess_peak(paths: list) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.oneshot", "--model-path", model_path(), *paths],
                         capture_output=True, text=True, cwd=str(ROOT), check=False)
    if out.returncode != 0:
        raise RuntimeError(f"bench.oneshot failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["memory_kb"] or {}


def run(ctx) -> dict:
    if memory_kb(os.getpid()) is None:
        return {"skipped": "no /proc/<pid>/status on this platform"}
    workload = [c.path for c in ctx.short_clips()] + [(ctx.medium() or ctx.long()).path]
    requests = 20 if ctx.quick else 100
    repeat_clip = ctx.short_clips()[0]
    log.info("memory: in-process peak on %d files", len(workload))
    inproc = _inprocess_peak(workload)
    samples = []
    with Sidecar(env=ctx.env()) as sidecar:
        sidecar.wait_warm()
        after_load = memory_kb(sidecar.pid)
        log.info("memory: sidecar peak on the same files")
        for path in workload:
            sidecar.call("transcribe", {"path": path})
        after_workload = memory_kb(sidecar.pid)
        log.info("memory: %d requests of %s", requests, repeat_clip.name)
        for i in range(1, requests + 1):
            sidecar.call("transcribe", {"path": repeat_clip.path})
            if i % SAMPLE_EVERY == 0:
                samples.append({"requests": i, "rss_mib": mib(memory_kb(sidecar.pid)["VmRSS"])})
        final = memory_kb(sidecar.pid)
    first = samples[0]["rss_mib"] if samples else None
    return {
        "workload": [p.rsplit("/", 1)[-1] for p in workload],
        "inprocess": {"peak_mib": mib(inproc.get("VmHWM")), "rss_mib": mib(inproc.get("VmRSS"))},
        "sidecar": {
            "rss_after_load_mib": mib(after_load["VmRSS"]),
            "peak_after_workload_mib": mib(after_workload["VmHWM"]),
            "rss_after_workload_mib": mib(after_workload["VmRSS"]),
            "peak_final_mib": mib(final["VmHWM"]),
        },
        "growth": {
            "requests": requests, "clip": repeat_clip.name, "samples": samples,
            "rss_first_sample_mib": first, "rss_last_mib": mib(final["VmRSS"]),
            "growth_mib": None if first is None else round(mib(final["VmRSS"]) - first, 1),
            "growth_from_workload_mib": round(mib(final["VmRSS"]) - mib(after_workload["VmRSS"]), 1),
        },
    }


def markdown(result: dict) -> str:
    if result.get("skipped"):
        return f"Not measured: {result['skipped']}."
    s, g, i = result["sidecar"], result["growth"], result["inprocess"]
    rows = [
        ["peak RSS on the workload (VmHWM)", i["peak_mib"], s["peak_after_workload_mib"],
         fmt(s["peak_after_workload_mib"] - i["peak_mib"], 1) if i["peak_mib"] else None],
        ["RSS after the workload (VmRSS)", i["rss_mib"], s["rss_after_workload_mib"], None],
    ]
    text = table(["", "in-process MiB", "sidecar MiB", "difference MiB"], rows)
    text += (f"\n\nWorkload: {', '.join(result['workload'])}, one after another (in-process: "
             "`python -m bench.oneshot`, a process that only imports faster-whisper and loads the model).")
    text += (f"\n\nGrowth: sidecar RSS {g['rss_first_sample_mib']} MiB after {g['samples'][0]['requests'] if g['samples'] else '–'}"
             f" more requests of {g['clip']}, {g['rss_last_mib']} MiB after {g['requests']}: "
             f"**{fmt(g['growth_mib'], 1)} MiB** growth (samples: "
             + ", ".join(f"{x['requests']}→{x['rss_mib']}" for x in g["samples"]) + ").")
    return text
