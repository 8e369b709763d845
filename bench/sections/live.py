"""8. Live streams (issues 11 and 18): a long recording fed in real time through the relay's live jobs —
final and partial latency, a word's wait for its final, WER against the offline transcript, streams at
once with CPU per stream, the stream worker's own figures (status ``capacity``: load, batch sizes, partials
thinned, loops) —
and the peer, whisper_streaming's simulation, on the same audio and model.

The recording (the fixtures with pauses, >= 3 minutes) is MP3-encoded and served by bench/livefeed.py
as an endless ``audio/mpeg`` body paced to the wall clock in 100 ms chunks; ``POST /api/transcriptions
{url, language: "en"}`` makes it a live job; its SSE is read with arrival times (bench/relayside.py).
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from .. import fixtures, livemetrics, peer
from ..client import Sidecar
from ..livedirect import DirectStreams
from ..livefeed import Feed, FeedServer, mp3_chunks
from ..procfs import cpu_seconds
from ..relayside import Relay
from ..report import fmt, table
from ..stats import rnd
from ..wer import wer

log = logging.getLogger(__name__)

NAME = "live"
TITLE = "8. Live streams: latency, accuracy, streams at once (issues 11 and 18)"
LANGUAGE = "en"
SPEECH_S, QUICK_SPEECH_S = 165.0, 30.0  # 5 rounds of the fixtures: 181 s; quick: 36 s
LEVELS, QUICK_LEVELS = (2, 3, 4), (2,)  # streams at once beyond the single long run
LEVEL_S, QUICK_LEVEL_S = 90.0, 30.0  # audio per stream in the runs with several streams
# issue 18's targets (sidecar direct; the relay's are p50 <= 1.5 s, p90 <= 3 s)
TARGETS = {"final_p50_s": 1.2, "final_p90_s": 2.5, "word_wait_p90_s": 4.0, "wer_over_offline_points": 1.0,
           "streams_real_time": 4, "cpu_per_stream_s": 0.35}
PEER_EARLIER = {"final_p50_s": 2.95, "final_p90_s": 11.2, "final_max_s": 15.6, "wer_over_offline_points": 0.6}


STALL_S = 15.0  # the relay's stream counts as stalled when received_s stands still this long while audio is sent


def run(ctx) -> dict:
    speech = QUICK_SPEECH_S if ctx.quick else SPEECH_S
    clip = fixtures.concatenated(ctx.audio_dir, "live-quick" if ctx.quick else "live", speech)
    samples = fixtures._decode(clip.path)
    chunks = mp3_chunks(samples)
    result = {"file": clip.to_dict(), "language": LANGUAGE, "chunk_s": 0.1, "format": "audio/mpeg 16 kHz mono 32 kbit/s",
              "cores": os.cpu_count(), "targets": TARGETS, "peer_earlier": PEER_EARLIER}
    level_s = QUICK_LEVEL_S if ctx.quick else LEVEL_S

    with Sidecar(env=ctx.env()) as sidecar:
        sidecar.wait_warm()
        log.info("live: offline transcript of %s (%.0f s)", clip.name, clip.duration)
        offline, _ = sidecar.call("transcribe", {"path": clip.path, "language": LANGUAGE})
        result["offline"] = {"wer": rnd(wer(clip.text, offline["text"]), 4),
                             "transcribe_s": offline["timings"]["transcribe_s"]}
        direct = DirectStreams(sidecar)
        log.info("live: 1 stream on the sidecar directly, %.0f s in real time", clip.duration)
        single = direct_run(direct, sidecar.pid, [Feed("main", chunks)])
        result["direct"] = with_wer(single, clip.text, offline["text"])
        result["levels"] = [level_row(1, single)]
        for n in QUICK_LEVELS if ctx.quick else LEVELS:
            feeds = []
            for i in range(n):  # each stream starts at its own place in the recording
                part = np.roll(samples, -int(i * samples.size / n))[: int(level_s * fixtures.SAMPLE_RATE)]
                feeds.append(Feed(f"n{n}-{i}", mp3_chunks(part)))
            log.info("live: %d streams at once on the sidecar, %.0f s each", n, level_s)
            result["levels"].append(level_row(n, direct_run(direct, sidecar.pid, feeds)))

    relay = Relay(env=ctx.env())
    server = FeedServer({"main": Feed("main", chunks)})
    try:
        relay.wait_warm()
        log.info("live: 1 stream through the relay, %.0f s in real time", clip.duration)
        result["relay"] = with_wer(relay_run(relay, server, ["main"]), clip.text, offline["text"])
    finally:
        server.close()
        relay.close()
    result["peer"] = run_peer(ctx, clip, offline["text"])
    result["verdict"] = verdict(result)
    return result


def with_wer(run_: dict, reference: str, offline_text: str) -> dict:
    stream = run_["streams"][0]
    stream["wer"] = rnd(wer(reference, stream["text"]), 4)
    stream["wer_vs_offline"] = rnd(wer(offline_text, stream["text"]), 4)
    return run_


def analyze(feed: Feed, events: list, decode_s=None, **extra) -> dict:
    """One stream's figures from its events [(arrival time, name, data)] and its feed's send times."""
    segments = [(t, d) for t, n, d in events if n == "segment"]
    finals = [(t, s) for t, s in segments if s.get("final") and not s.get("gap")]
    partials = [(t, s) for t, s in segments if not s.get("final")]
    final_lat = livemetrics.segment_latencies(finals, feed)
    last = events[-1][0] if events else None
    return {
        "feed": feed.name, "audio_s": feed.duration,
        "final": livemetrics.spread(final_lat),
        "word_wait": livemetrics.spread(livemetrics.word_waits(finals, feed)),
        "partial": livemetrics.spread(livemetrics.segment_latencies(partials, feed)),
        "final_latency_slope": rnd(livemetrics.slope([(t - feed.started_at, x) for (t, _), x in zip(finals, final_lat)]), 4),
        "lag": livemetrics.lag_figures([(t, d.get("lag_s")) for t, n, d in events if n == "lag"], feed.started_at or 0),
        "gaps": sum(1 for _, s in segments if s.get("gap")), "decode_s": decode_s,
        "after_audio_end_s": rnd(last - feed.finished_at, 3) if last and feed.finished_at else None,
        "text": "".join(s["text"] for _, s in finals).strip(),
        "capacity": next((d["capacity"] for _, n, d in reversed(events) if n == "lag" and d.get("capacity")), None),
        **extra,
    }


def cpu_figures(pid, cpu0, audio_s: float, key: str) -> dict:
    cpu1 = cpu_seconds(pid) if pid else None
    used = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    return {f"{key}_cpu_s": rnd(used, 2), f"{key}_cpu_per_stream_s": rnd(used / audio_s, 3) if used is not None else None}


def direct_run(direct: DirectStreams, pid: int, feeds: list) -> dict:
    cpu0 = cpu_seconds(pid)
    outs = direct.run(feeds, {"language": LANGUAGE}, timeout=max(f.duration for f in feeds) + 300)
    streams = [analyze(f, o["events"], (o["result"].get("timings") or {}).get("transcribe_s"),
                       write_errors=o["write_errors"][:3], dropped_s=o["result"].get("dropped_s"))
               for f, o in zip(feeds, outs)]
    audio = sum(s["audio_s"] for s in streams)
    return {"path": "sidecar direct", "streams": streams, "audio_s": rnd(audio, 2),
            **cpu_figures(pid, cpu0, audio, "sidecar"), "relay_cpu_per_stream_s": None}


def relay_run(relay: Relay, server: FeedServer, names: list) -> dict:
    """The named feeds as live jobs at once. A job whose stream stops advancing (received_s still for
    STALL_S while its audio keeps being sent) is stopped with DELETE and reported as stalled."""
    sidecar_pid = relay.sidecar_pid()
    cpu0 = (cpu_seconds(sidecar_pid) if sidecar_pid else None, cpu_seconds(relay.pid))
    jobs = []
    for name in names:
        job_id = relay.start_live(server.url(name), language=LANGUAGE)
        jobs.append((server.feeds[name], job_id, relay.events(job_id)))
    stalled = {job_id: wait_or_stop(relay, feed, job_id, reader) for feed, job_id, reader in jobs}
    streams = []
    for feed, job_id, reader in jobs:
        job = relay.request("GET", f"/api/transcriptions/{job_id}")
        timings = (job.get("result") or {}).get("timings") or {}
        at, stopped = stalled[job_id]
        # a stalled job's figures: the events before the stop (what the stop flushed would count late)
        events = [e for e in reader.events if stopped is None or e[0] < stopped]
        streams.append(analyze(feed, events, timings.get("transcribe_s"), job=job_id, state=job.get("state"),
                               stalled_at_s=at, feed_error=feed.error))
    audio = sum(s["audio_s"] if s["stalled_at_s"] is None else s["stalled_at_s"] for s in streams)
    return {"path": "relay", "streams": streams, "audio_s": rnd(audio, 2),
            **cpu_figures(sidecar_pid, cpu0[0], audio, "sidecar"), **cpu_figures(relay.pid, cpu0[1], audio, "relay")}


def wait_or_stop(relay: Relay, feed: Feed, job_id: str, reader) -> tuple:
    """Waits for the job's end. Returns (stream time it stalled at, monotonic time it was stopped),
    or (None, None) when it ran to the end."""
    deadline = time.monotonic() + feed.duration + 300
    seen, since = None, time.monotonic()
    while not reader.done.wait(1.0) and time.monotonic() < deadline:
        lags = reader.of("lag")
        received = lags[-1][1].get("received_s") if lags else None
        if received != seen:
            seen, since = received, time.monotonic()
        sent = feed.sent[-1][0] if feed.sent else 0.0
        if seen is not None and time.monotonic() - since > STALL_S and sent - seen > 5:
            log.warning("live: relay job %s stalled at %.1f s received (%.1f s sent); stopping it", job_id, seen, sent)
            stopped = time.monotonic()
            relay.request("DELETE", f"/api/transcriptions/{job_id}")
            reader.done.wait(60)
            return seen, stopped
    return None, None


def level_row(n: int, run_: dict) -> dict:
    streams = run_["streams"]
    return {"streams": n, "path": run_["path"], "audio_s_each": rnd(max(s["audio_s"] for s in streams), 1),
            "final_p50_s": [s["final"]["p50"] for s in streams], "final_p90_s": [s["final"]["p90"] for s in streams],
            "final_max_s": [s["final"]["max"] for s in streams], "lag_max_s": [s["lag"]["max_s"] for s in streams],
            "word_wait_p90_s": [s["word_wait"]["p90"] for s in streams],
            "lag_slope": [s["lag"]["slope"] for s in streams], "gaps": sum(s["gaps"] for s in streams),
            "real_time": all(s["lag"]["bounded"] and not s["gaps"] for s in streams),
            "sidecar_cpu_per_stream_s": run_["sidecar_cpu_per_stream_s"],
            "capacity": streams[-1].get("capacity"),
            "per_stream": [{k: s.get(k) for k in ("feed", "final", "word_wait", "partial", "lag", "gaps", "decode_s",
                                                  "after_audio_end_s")} for s in streams]}


def run_peer(ctx, clip, offline_text: str) -> dict:
    source = ctx.peer_dir or os.environ.get("WHISPER_STREAMING_DIR")
    if not source:
        return {"run": False, "reason": "peer not run: no whisper_streaming source given (--whisper-streaming DIR "
                                         "or WHISPER_STREAMING_DIR)"}
    from sidecar.config import Config
    from sidecar.engine.models import resolve

    model_dir = str(resolve("base", Config.from_env().cache_dir).path)
    log.info("live: the peer (whisper_streaming from %s), %.0f s in real time", source, clip.duration)
    out = peer.run(source, clip.path, model_dir, min_chunk_s=1.0, language=LANGUAGE, env=ctx.env())
    if out["returncode"] != 0 or not out["commits"]:
        return {"run": False, "reason": f"peer failed (exit {out['returncode']}): {out['stderr_tail'][-600:]}"}
    commits = out["commits"]
    text = "".join(c["text"] for c in commits).strip()
    lat = livemetrics.peer_latencies(commits)
    return {"run": True, "source": str(source), "model_dir": model_dir, "min_chunk_s": 1.0, "commits": len(commits),
            "final": livemetrics.spread(lat),
            "final_latency_slope": rnd(livemetrics.slope([(c["emitted_s"], x) for c, x in zip(commits, lat)]), 4),
            "wer": rnd(wer(clip.text, text), 4), "wer_vs_offline": rnd(wer(offline_text, text), 4),
            "cpu_s": rnd(out["cpu_s"], 2), "cpu_per_stream_s": rnd(out["cpu_s"] / clip.duration, 3) if out["cpu_s"] else None,
            "wall_s": rnd(out["wall_s"], 1), "audio_s": clip.duration,
            "real_time": max(lat) < livemetrics.MAX_LAG_S and (livemetrics.slope([(c["emitted_s"], x) for c, x in zip(commits, lat)]) or 0) < livemetrics.MAX_SLOPE}


def verdict(result: dict) -> dict:
    """The targets, judged on the sidecar-direct stream (the relay's row is beside it)."""
    s = result["direct"]["streams"][0]
    over = (s["wer"] - result["offline"]["wer"]) * 100
    most = max([r["streams"] for r in result["levels"] if r["real_time"]], default=0)
    cpu = result["direct"]["sidecar_cpu_per_stream_s"]
    return {"final_p50_met": s["final"]["p50"] is not None and s["final"]["p50"] <= TARGETS["final_p50_s"],
            "final_p90_met": s["final"]["p90"] is not None and s["final"]["p90"] <= TARGETS["final_p90_s"],
            "word_wait_p90_met": s["word_wait"]["p90"] is not None and s["word_wait"]["p90"] <= TARGETS["word_wait_p90_s"],
            "cpu_met": cpu is not None and cpu <= TARGETS["cpu_per_stream_s"],
            "wer_over_offline_points": rnd(over, 2), "wer_met": over <= TARGETS["wer_over_offline_points"],
            "streams_real_time": most, "streams_met": most >= TARGETS["streams_real_time"]}


def _capacity(c) -> str:
    if not c:
        return "–"
    batches = ", ".join(f"{k}×{v}" for k, v in c["batch_sizes"].items())
    return f"{c['load']:.2f}; {batches}; {c['partials_thinned']}; {c['loops']}"


def _three(spread: dict) -> str:
    return f"{fmt(spread['p50'])} / {fmt(spread['p90'])} / {fmt(spread['max'])} ({spread['n']})"


def markdown(result: dict) -> str:
    d, r = result["direct"], result["relay"]
    ds, rs, off, v = d["streams"][0], r["streams"][0], result["offline"]["wer"], result["verdict"]
    p = result["peer"] if result["peer"].get("run") else {}
    pf = p.get("final", {})

    def pts(w):
        return None if w is None else f"{w * 100:.1f} % ({(w - off) * 100:+.1f})"

    stalled = "– (stalled)" if rs.get("stalled_at_s") else None

    def real_time(s):
        return s["lag"]["bounded"] and not s["gaps"] and not s.get("stalled_at_s")

    rows = [
        ["final latency p50 s", ds["final"]["p50"], rs["final"]["p50"], pf.get("p50"), PEER_EARLIER["final_p50_s"],
         f"≤ {TARGETS['final_p50_s']}", v["final_p50_met"]],
        ["final latency p90 s", ds["final"]["p90"], rs["final"]["p90"], pf.get("p90"), PEER_EARLIER["final_p90_s"],
         f"≤ {TARGETS['final_p90_s']}", v["final_p90_met"]],
        ["final latency max s", ds["final"]["max"], rs["final"]["max"], pf.get("max"), PEER_EARLIER["final_max_s"], "", ""],
        ["finals", ds["final"]["n"], rs["final"]["n"], p.get("commits"), "", "", ""],
        ["a word's wait for its final p50 / p90 / max s", _three(ds["word_wait"]), _three(rs["word_wait"]), "", "",
         f"p90 ≤ {TARGETS['word_wait_p90_s']}", v["word_wait_p90_met"]],
        ["partial latency p50 / p90 / max s (n)", _three(ds["partial"]), _three(rs["partial"]), "none", "", "", ""],
        ["WER vs the fixture texts (points over offline)", pts(ds["wer"]), stalled or pts(rs["wer"]), pts(p.get("wer")),
         f"+{PEER_EARLIER['wer_over_offline_points']}", f"≤ +{TARGETS['wer_over_offline_points']}", v["wer_met"]],
        ["WER vs the offline transcript", f"{ds['wer_vs_offline'] * 100:.1f} %", stalled or f"{rs['wer_vs_offline'] * 100:.1f} %",
         f"{p['wer_vs_offline'] * 100:.1f} %" if p else None, "", "", ""],
        ["lag max s / slope s/s", f"{fmt(ds['lag']['max_s'])} / {fmt(ds['lag']['slope'], 4)}",
         f"{fmt(rs['lag']['max_s'])} / {fmt(rs['lag']['slope'], 4)}",
         f"latency slope {fmt(p.get('final_latency_slope'), 4)}" if p else None, "", "", ""],
        ["kept real time", real_time(ds), real_time(rs) if not rs.get("stalled_at_s") else f"no: stalled at {rs['stalled_at_s']:.1f} s",
         p.get("real_time"), False, "", ""],
        ["CPU s per stream-second", d["sidecar_cpu_per_stream_s"],
         f"{fmt(r['sidecar_cpu_per_stream_s'], 3)} + relay {fmt(r['relay_cpu_per_stream_s'], 3)}", p.get("cpu_per_stream_s"), "",
         f"≤ {TARGETS['cpu_per_stream_s']}", v["cpu_met"]],
        ["decode s (share of the audio)", f"{fmt(ds['decode_s'])} ({fmt(ds['decode_s'] / ds['audio_s'] if ds['decode_s'] else None)})",
         fmt(rs["decode_s"]), "", "", "", ""],
    ]
    text = table([f"1 stream, {result['file']['duration']:.0f} s", "ours: sidecar direct", "ours: relay live job",
                  "peer (this run)", "peer (earlier)", "target", "met"], rows)
    text += (f"\n\nOffline WER (the same sidecar's `transcribe`, same audio, base int8, language en): {off * 100:.1f} %. "
             "Latency = arrival of the segment (SSE event; for *sidecar direct*, the `segment` notification) − the wall "
             "time at which the audio at the segment's `end` had been sent (MP3 in 100 ms chunks held to the wall clock); "
             "the peer's = its commit line's emission time − the commit's end (see bench/README.md). The targets are judged "
             "on *sidecar direct*.")
    if rs.get("stalled_at_s"):
        text += (f" **The relay's live job stalled** at {rs['stalled_at_s']:.1f} s of stream time while the audio kept "
                 f"coming; it was stopped after {STALL_S:.0f} s without progress (its latencies cover the finals that arrived before the stop; WER is not comparable).")
    text += "\n\n" + (f"Peer: `whisper_online.py` from {p['source']} (faster-whisper backend, `--model_dir {p['model_dir']}`, "
                        f"CPU int8, `--min-chunk-size {p['min_chunk_s']}`, `--lan en`); its CPU includes its model load and warm-up."
                        if p else result["peer"]["reason"] + ".")
    lrows = [[row["streams"], row["audio_s_each"], " / ".join(fmt(x) for x in row["final_p50_s"]),
              " / ".join(fmt(x) for x in row["final_p90_s"]), " / ".join(fmt(x) for x in row.get("word_wait_p90_s", [])),
              " / ".join(fmt(x) for x in row["lag_max_s"]),
              " / ".join(fmt(x, 3) for x in row["lag_slope"]), row["gaps"], row["real_time"],
              fmt(row["sidecar_cpu_per_stream_s"], 3), _capacity(row.get("capacity"))] for row in result["levels"]]
    text += "\n\n" + table(["streams at once (sidecar direct)", "audio s each", "final p50 s (each)", "final p90 s (each)",
                             "word wait p90 s (each)", "lag max s (each)", "lag slope s/s (each)", "gaps", "real time",
                             "sidecar CPU s / stream-s", "worker at the end: load, batches by size, thinned, loops"], lrows)
    text += (f"\n\n**Streams at once in real time**: {v['streams_real_time']} (target {TARGETS['streams_real_time']}: "
             f"{'met' if v['streams_met'] else 'not met'}). *Real time* = every stream's lag (the sidecar's `lag_s`) stayed "
             f"under {livemetrics.MAX_LAG_S:.0f} s with a least-squares slope under {livemetrics.MAX_SLOPE} s/s, and no audio "
             "was dropped as a gap; streams start at different places in the recording.")
    return text
