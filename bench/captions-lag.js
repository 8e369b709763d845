#!/usr/bin/env node
'use strict';

/**
 * Caption lag of a live HLS job (issue 21): the media time the source has published minus the media
 * time its captions.m3u8 covers, sampled once a second over a live run (default 80 s of 2-s segments,
 * the fixture stream looped, published in real time by tests/relay/captions-server.js), with the
 * real sidecar. Also each final's latency after publication (issue 18: the SSE `segment` event's
 * arrival minus the time the playlist first listed the media segment its last word is in), and the
 * sidecar's CPU seconds per stream second. Prints one JSON line.
 *
 *   node bench/captions-lag.js [--segments 40] [--task transcribe|translate] [--target-s 3]
 *
 * --target-s: the origin's #EXT-X-TARGETDURATION (its segments are 2 s; the relay reloads the playlist
 * once per target duration while it grows, as RFC 8216 §6.3.4 asks, so it bounds the latency).
 */

const fs = require('node:fs');
const { startSidecar, startRelay, postJson, readEvents } = require('../tests/relay/helpers');
const { makeStreams } = require('../tests/relay/live-servers');
const { startCaptionsOrigin, parsePlaylist } = require('../tests/relay/captions-server');

function arg(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : process.argv[at + 1];
}

function cpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function main() {
  const count = Number(arg('segments', 40));
  const task = arg('task', 'transcribe');
  const load = () => fs.readFileSync('/proc/loadavg', 'utf8').trim();
  const loadStart = load();
  const targetS = Number(arg('target-s', 3));
  const origin = await startCaptionsOrigin({ dir: makeStreams(), count, discontinuityAt: count, shiftsS: [0, 0], periodMs: 2000, initial: 1, targetS });
  const sidecar = await startSidecar();
  const relay = await startRelay({ sidecar, config: { allowPrivateUrls: true } });
  const ends = [];
  origin.segments.reduce((end, segment) => { ends.push(end + segment.duration); return end + segment.duration; }, 0);
  const samples = [];
  const afterPublication = [];
  let cpuStart = null;
  try {
    const created = await postJson(relay.url, '/api/transcriptions', { url: `${origin.origin}/live.m3u8`, from: 'start', language: 'en', task });
    const base = `${relay.url}/api/transcriptions/${created.body.id}`;
    cpuStart = cpuSeconds(sidecar.pid);
    const stop = new AbortController();
    const events = readEvents(`${base}/events`, { signal: stop.signal, timeoutMs: 3600e3, onEvent: ({ event, data }) => {
      const segment = data.segment || data;
      if (event !== 'segment' || !segment.final || segment.gap || !(segment.text || '').trim()) return;
      const index = ends.findIndex((end) => end >= segment.end - 0.01);
      if (index >= 0) afterPublication.push((Date.now() - origin.publishedAt(index)) / 1000);
    } }).catch(() => {});
    while (origin.published() < count) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const published = ends[origin.published() - 1] || 0;
      const listed = parsePlaylist(await (await fetch(`${base}/captions.m3u8`)).text()).segments.length;
      samples.push(published - (ends[listed - 1] || 0));
    }
    const cpu = cpuSeconds(sidecar.pid) - cpuStart;
    stop.abort();
    await events;
    await fetch(base, { method: 'DELETE' });
    const streamS = ends[count - 1];
    console.log(JSON.stringify({
      task, target_s: targetS, stream_s: Math.round(streamS), samples: samples.length,
      lag_median_s: Number(quantile(samples, 0.5).toFixed(2)), lag_p90_s: Number(quantile(samples, 0.9).toFixed(2)),
      lag_max_s: Number(Math.max(...samples).toFixed(2)),
      finals: afterPublication.length,
      final_after_publication_p50_s: Number(quantile(afterPublication, 0.5).toFixed(2)),
      final_after_publication_p90_s: Number(quantile(afterPublication, 0.9).toFixed(2)), sidecar_cpu_s_per_stream_s: Number((cpu / streamS).toFixed(3)),
      load_start: loadStart, load_end: load(),
    }));
  } finally {
    await relay.close();
    await sidecar.stop();
    await origin.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
