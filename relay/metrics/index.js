'use strict';

/**
 * The relay's Prometheus metrics (prom-client), one registry per process. The same names in both
 * modes; what feeds them differs: single-machine mode reads the SQLite store and its one sidecar,
 * distributed mode the BullMQ queues and every job's result as it completes (relay/cluster/).
 *
 *   whisper_jobs{state}                    jobs by state (gauge, read at scrape time)
 *   whisper_queue_depth{queue}             jobs waiting for a sidecar (gauge)
 *   whisper_jobs_finished_total{state,device}
 *   whisper_audio_seconds_total{device}    audio transcribed by finished jobs
 *   whisper_realtime_factor{device}        processing time / audio time per job (histogram)
 *   whisper_job_attempts_total             attempts spent on finished jobs (retries and stalls count)
 *   whisper_sidecar_restarts_total{sidecar}
 *   whisper_cpu_fallbacks_total{reason}
 *   whisper_live_streams_open, whisper_live_stream_lag_seconds (the largest lag of the open streams)
 *   whisper_live_headroom{sidecar}, whisper_live_load{sidecar}, whisper_live_decode_seconds_per_audio_second{sidecar},
 *   whisper_live_partials_thinned{sidecar}, whisper_live_loops{sidecar}, whisper_live_decode_failed{sidecar},
 *   whisper_live_decode_batches{sidecar,size}: the stream worker's own figures (the `capacity` of its last live
 *   status line; the counts run from the sidecar's start), and whisper_live_refused_total (capacity refusals)
 */

const client = require('prom-client');

const RTF_BUCKETS = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 4];

/**
 * Args: {sources: {jobCounts: async () => ({state: n}), queueDepth: async () => ({queue: n}),
 *   liveStreams: () => ({open, lagS})}} — each optional, settable later with setSources().
 * Returns: {register, jobFinished(job), watchSidecar(sidecar, name), setSources(sources)}.
 */
function createMetrics({ sources = {} } = {}) {
  const register = new client.Registry();
  let feed = { ...sources };
  new client.Gauge({
    name: 'whisper_jobs', help: 'Jobs by state', labelNames: ['state'], registers: [register],
    async collect() {
      this.reset();
      const counts = feed.jobCounts ? await feed.jobCounts() : {};
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new client.Gauge({
    name: 'whisper_queue_depth', help: 'Jobs waiting for a sidecar', labelNames: ['queue'], registers: [register],
    async collect() {
      this.reset();
      const depths = feed.queueDepth ? await feed.queueDepth() : {};
      for (const [queue, n] of Object.entries(depths)) this.set({ queue }, n);
    },
  });
  const finished = new client.Counter({
    name: 'whisper_jobs_finished_total', help: 'Finished jobs by outcome and device',
    labelNames: ['state', 'device'], registers: [register],
  });
  const audio = new client.Counter({
    name: 'whisper_audio_seconds_total', help: 'Seconds of audio transcribed', labelNames: ['device'], registers: [register],
  });
  const rtf = new client.Histogram({
    name: 'whisper_realtime_factor', help: 'Processing time over audio time, per finished job',
    labelNames: ['device'], buckets: RTF_BUCKETS, registers: [register],
  });
  const attempts = new client.Counter({
    name: 'whisper_job_attempts_total', help: 'Attempts spent on finished jobs', registers: [register],
  });
  const restarts = new client.Counter({
    name: 'whisper_sidecar_restarts_total', help: 'Sidecar restarts by the bridge', labelNames: ['sidecar'], registers: [register],
  });
  const fallbacks = new client.Counter({
    name: 'whisper_cpu_fallbacks_total', help: 'Sidecars moved from CUDA to the CPU, by reason',
    labelNames: ['reason'], registers: [register],
  });
  new client.Gauge({
    name: 'whisper_live_streams_open', help: 'Live streams being transcribed', registers: [register],
    collect() { this.set(feed.liveStreams ? feed.liveStreams().open : 0); },
  });
  new client.Gauge({
    name: 'whisper_live_stream_lag_seconds', help: 'The largest lag among the open live streams', registers: [register],
    collect() { this.set(feed.liveStreams ? feed.liveStreams().lagS : 0); },
  });

  const capacity = capacityGauges(register);
  const refused = new client.Counter({
    name: 'whisper_live_refused_total', help: 'Live streams refused because the sidecar had no capacity for them',
    registers: [register],
  });

  return {
    register,
    /** A live stream was refused with the sidecar's capacity error. */
    liveRefused() { refused.inc(); },
    setSources(more) { feed = { ...feed, ...more }; },
    /** A job reached done, error or cancelled: {state, device, duration (audio s), processingS, attempts}. */
    jobFinished({ state, device, duration, processingS, attempts: spent }) {
      const label = device || 'none';
      finished.inc({ state, device: label });
      if (spent) attempts.inc(spent);
      if (state !== 'done' || !(duration > 0)) return;
      audio.inc({ device: label }, duration);
      if (processingS >= 0) rtf.observe({ device: label }, processingS / duration);
    },
    /** Counts a bridge's restarts and CPU fallbacks. */
    watchSidecar(sidecar, name = '0') {
      restarts.inc({ sidecar: name }, 0);
      sidecar.on('status', (status) => {
        if (status && status.capacity) capacity.update(name, status.capacity);
      });
      sidecar.on('restart', (info = {}) => {
        restarts.inc({ sidecar: name });
        if (info.forceCpu && info.fallbackReason) fallbacks.inc({ reason: fallbackKind(info.fallbackReason) });
      });
    },
  };
}

/** Gauges of each sidecar's stream-worker figures, as its last live status line gave them. */
function capacityGauges(register) {
  const latest = new Map(); // sidecar name -> capacity object
  const gauge = (name, help, read) => new client.Gauge({
    name, help, labelNames: ['sidecar'], registers: [register],
    collect() {
      this.reset();
      for (const [sidecar, c] of latest) {
        const value = read(c);
        if (typeof value === 'number') this.set({ sidecar }, value);
      }
    },
  });
  gauge('whisper_live_headroom', 'Share of the stream worker not spent decoding (1 - load)', (c) => c.headroom);
  gauge('whisper_live_load', 'Share of the last 30 s the stream worker spent decoding', (c) => c.load);
  gauge('whisper_live_decode_seconds_per_audio_second', 'Decode time one second of stream audio cost',
    (c) => c.decode_s_per_audio_s);
  gauge('whisper_live_partials_thinned', 'Partials skipped because the worker was loaded (since the sidecar started)',
    (c) => c.partials_thinned);
  gauge('whisper_live_loops', 'Decodes cut at a repetition or compression loop (since the sidecar started)', (c) => c.loops);
  gauge('whisper_live_decode_failed', 'Windows of speech that decoded to no text, sent as gaps (since the sidecar started)',
    (c) => c.decode_failed);
  new client.Gauge({
    name: 'whisper_live_decode_batches', help: 'Stream decodes by the number of windows in the batch (since the sidecar started)',
    labelNames: ['sidecar', 'size'], registers: [register],
    collect() {
      this.reset();
      for (const [sidecar, c] of latest) {
        for (const [size, n] of Object.entries(c.batch_sizes || {})) this.set({ sidecar, size }, n);
      }
    },
  });
  return { update(name, value) { latest.set(name, value); } };
}

/** A short, bounded label for a fallback reason (the bridge's reason is a sentence). */
function fallbackKind(reason) {
  const text = String(reason).toLowerCase();
  if (/out of memory|oom/.test(text)) return 'cuda_oom';
  if (/driver|libcu|cudnn|cublas|library/.test(text)) return 'cuda_library';
  if (/cuda/.test(text)) return 'cuda_error';
  return 'other';
}

/** The facts metrics need from a finished single-machine job (relay/store.js shape). */
function finishedFacts(job) {
  const processingS = job.startedAt && job.finishedAt
    ? (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000 : null;
  return {
    state: job.state, device: job.device, attempts: job.attempts,
    duration: job.result && typeof job.result.duration === 'number' ? job.result.duration : null, processingS,
  };
}

module.exports = { createMetrics, fallbackKind, finishedFacts };
