"""1. Overhead: faster-whisper in-process vs the same model and settings through the sidecar,
from Python (JSON-RPC on stdio) and from Node (node_bridge). Targets: ratio ≤ 1.02 on the long file,
≤ 30 ms extra per short clip."""

from __future__ import annotations

import logging

from ..client import OMP_PASSIVE, Sidecar
from ..inprocess import InProcess
from ..nodeside import NodeSide, unavailable
from ..report import fmt, rotated, table
from ..stats import median, ms, ratio, rnd, summary
from ..wer import wer

log = logging.getLogger(__name__)

NAME = "overhead"
TITLE = "1. Overhead: in-process vs the sidecar"
LONG_RATIO_TARGET = 1.02
SHORT_EXTRA_MS_TARGET = 30.0


def run(ctx) -> dict:
    clips = ctx.short_clips()
    long = ctx.long()
    inproc = InProcess()
    sidecar = Sidecar(env=ctx.env())
    passive = None if "OMP_WAIT_POLICY" in ctx.sidecar_env else Sidecar(env=ctx.env(**OMP_PASSIVE))
    node_reason = unavailable()
    node = None
    try:
        sidecar.wait_warm()
        if passive is not None:
            passive.wait_warm()
        if node_reason is None:
            try:
                node = NodeSide(env=ctx.env())
            except Exception as e:  # the Python figures still count
                node_reason = f"node side failed to start: {e}"
                log.warning("%s", node_reason)
        sides = {
            "inprocess": lambda p: _inproc(inproc, p),
            "python_sidecar": lambda p: _python(sidecar, p),
        }
        if passive is not None:
            sides["python_sidecar_passive"] = lambda p: _python(passive, p)
        if node is not None:
            sides["node_sidecar"] = lambda p: _node(node, p)
        for fn in sides.values():  # warm-up: first-call costs are not overhead
            fn(clips[0].path)
        rows = []
        for clip, reps in [(c, ctx.reps(3)) for c in clips] + [(long, ctx.long_reps(1))]:
            log.info("overhead: %s (%.0f s) x%d", clip.name, clip.duration, reps)
            runs = {name: [] for name in sides}
            for r in range(reps):
                for name in rotated(list(sides), r):
                    runs[name].append(sides[name](clip.path))
            rows.append(_row(clip, clip is long, runs))
    finally:
        sidecar.close()
        if passive is not None:
            passive.close()
        if node is not None:
            node.close()
    return {"rows": rows, "node": None if node_reason is None else node_reason, "sidecar_env": ctx.sidecar_env,
            "targets": {"long_ratio": LONG_RATIO_TARGET, "short_extra_ms": SHORT_EXTRA_MS_TARGET}}


def _inproc(engine: InProcess, path: str) -> dict:
    out = engine.transcribe(path)
    return {"wall_s": out.wall_s, "text": out.text, "engine_s": None, "decode_s": out.decode_s}


def _python(sidecar: Sidecar, path: str) -> dict:
    result, wall = sidecar.call("transcribe", {"path": path})
    return {"wall_s": wall, "text": result["text"], "engine_s": result["timings"]["transcribe_s"]}


def _node(node: NodeSide, path: str) -> dict:
    out = node.transcribe(path)
    return {"wall_s": out["wall_s"], "text": out["text"], "engine_s": out["timings"]["transcribe_s"]}


def _row(clip, is_long: bool, runs: dict) -> dict:
    base = [r["wall_s"] for r in runs["inprocess"]]
    decode = median(r["decode_s"] for r in runs["inprocess"])
    row = {"file": clip.name, "duration_s": clip.duration, "long": is_long,
           "inprocess_s": summary(base), "inprocess_decode_ms": ms(decode),
           "inprocess_wer": rnd(wer(clip.text, runs["inprocess"][0]["text"]), 4)}
    for side in ("python_sidecar", "python_sidecar_passive", "node_sidecar"):
        if side not in runs:
            continue
        walls = [r["wall_s"] for r in runs[side]]
        outside = median([r["wall_s"] - r["engine_s"] for r in runs[side]])
        row[side] = {
            "wall_s": summary(walls),
            "ratio": rnd(ratio(median(walls), median(base)), 4),
            # paired: each run against the in-process run of the same round
            "extra_ms": ms(median([w - b for w, b in zip(walls, base)])),
            # inside one run, so free of the noise between runs: client wall - engine time
            "outside_engine_ms": ms(outside),
            # what the sidecar adds that in-process code does not do: outside_engine - decoding
            "protocol_ms": ms(outside - decode),
            "wer": rnd(wer(clip.text, runs[side][0]["text"]), 4),
        }
    return row


SIDES = [("python_sidecar", "sidecar (Py)"), ("python_sidecar_passive", "sidecar (Py, OMP passive)"),
         ("node_sidecar", "sidecar (Node)")]


def markdown(result: dict) -> str:
    sides = [(key, name) for key, name in SIDES if any(key in r for r in result["rows"])]
    headers = ["file", "audio s", "in-process s"]
    for _, name in sides:
        headers += [f"{name} s", "ratio", "extra ms", "protocol ms"]
    rows = []
    for r in result["rows"]:
        row = [r["file"], r["duration_s"], r["inprocess_s"]["median"]]
        for key, _ in sides:
            x = r.get(key) or {}
            row += [(x.get("wall_s") or {}).get("median"), fmt(x.get("ratio"), 3), x.get("extra_ms"),
                    x.get("protocol_ms")]
        rows.append(row)
    text = table(headers, rows)
    text += ("\n\nMedians of alternating runs. *ratio* = sidecar median / in-process median (target ≤ "
             f"{LONG_RATIO_TARGET} on the long file); *extra ms* = median of each run minus the in-process "
             f"run of the same round (target ≤ {SHORT_EXTRA_MS_TARGET:.0f} ms per short clip), noisy when other "
             "processes share the CPU; *protocol ms* = the client's wall time minus the sidecar's own "
             "`timings.transcribe_s` in the same run, minus the in-process decode time: what the sidecar "
             "adds around faster-whisper (file checks, JSON-RPC, the bridge), free of the noise between runs.")
    if any(key == "python_sidecar_passive" for key, _ in sides):
        text += " *OMP passive*: the sidecar with `OMP_WAIT_POLICY=PASSIVE`."
    if result.get("sidecar_env"):
        text += f" Every sidecar ran with {_env_text(result['sidecar_env'])}."
    if result.get("node"):
        text += f"\n\nNode figures: not measured — {result['node']}."
    return text


def _env_text(env: dict) -> str:
    return ", ".join(f"`{k}={v}`" for k, v in env.items())
