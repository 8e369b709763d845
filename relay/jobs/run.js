'use strict';

/**
 * One run of a job on a sidecar, the same for every transport (./local.js, relay/cluster/worker.js):
 * a file transcribed; a URL opened under the relay's URL policy and limits (a finite file downloaded
 * and then transcribed, a live kind streamed as a LiveJob); a growing file followed.
 */

const fs = require('node:fs');
const { openSource } = require('../sources');
const { LiveJob } = require('./live');
const { statusOf, segmentOf } = require('./model');
const { HttpError } = require('../errors');
const { refuseLiveOnly } = require('../requests/options');

const MB = 1024 * 1024;
const PROGRESS_EVERY_MS = 1000;

/**
 * @typedef {object} JobSink how a transport takes part in one run of a job
 * @property {AbortSignal} signal aborts the run (cancel, stop, shutdown; the transport tells them apart)
 * @property {(type: string, data: object) => void} emit the job's events: 'state', 'kind', 'status',
 *   'segment', 'reset', 'lag' (./model.js applyEvent reads them)
 * @property {object} config the relay's settings (download and live limits)
 * @property {string} downloadDir where a URL's file is downloaded
 * @property {object} log
 * @property {(file: string) => boolean} [onDownloaded] a URL's file is downloaded; true when the
 *   transport takes it from here (the local file queue), false to transcribe it in this run
 * @property {(source: object) => Promise<{store: object, gap?: object}>} [liveStore] a live stream
 *   starts: where its finals are kept (store.segments(id) / store.addSegment(id, segment)), and a gap
 *   to mark first (a stream taken over from a lost worker)
 */

/** The limits a job's source is opened under: the server's settings, lowered by the job's own. */
function sourceLimits(config, input = {}) {
  return {
    maxBytes: config.maxDownloadMb * MB,
    timeoutMs: config.downloadTimeoutS * 1000,
    maxRedirects: config.maxRedirects,
    allowPrivate: config.allowPrivateUrls,
    idleTimeoutS: input.idle_timeout_s || config.liveIdleTimeoutS,
    followIdleS: input.follow_idle_s || config.followIdleS,
  };
}

/**
 * Args: job {id, options, mediaPath (a file here) or input ({url, from} | {path, follow: true}, with
 *   the live limits)}, sidecar (a WhisperSidecar), sink (a JobSink).
 * Returns: {result, processingS (decode time)}, or {} when onDownloaded took the file.
 * Raises: the source's HttpError, the sidecar's error; a live stream's carries its `partialResult`.
 */
async function runJob(job, sidecar, sink) {
  let file = job.mediaPath;
  if (!file) {
    const source = await openJobSource(job, sink);
    if (source.kind !== 'download') {
      const result = await streamLive(job, source, sidecar, sink);
      return { result, processingS: result.timings.transcribe_s };
    }
    refuseLiveOnly(job.options, 'this URL (a file, downloaded)');
    if (sink.onDownloaded && sink.onDownloaded(source.file)) return {};
    file = source.file;
  }
  const began = Date.now();
  const result = await transcribeFile(file, job.options, sidecar, sink);
  return { result, processingS: (Date.now() - began) / 1000 };
}

/** A URL or a followed file opened (relay/sources); its kind and a download's progress told as they come. */
async function openJobSource(job, sink) {
  const { config, signal, emit } = sink;
  const input = job.input;
  const target = input.follow
    ? { path: input.path, follow: true, mediaDir: config.mediaDir } // checked again as it is opened
    : { url: input.url, from: input.from || 'live' };
  let told = null;
  const tellKind = (kind, live = kind !== 'download') => {
    if (told === kind) return;
    told = kind;
    emit('kind', { kind, live });
  };
  let lastProgress = 0;
  await fs.promises.mkdir(sink.downloadDir, { recursive: true });
  const source = await openSource(target, {
    signal,
    downloadDir: sink.downloadDir,
    limits: sourceLimits(config, input),
    onKind: (kind) => tellKind(kind),
    onProgress: ({ bytes, total }) => {
      if (Date.now() - lastProgress < PROGRESS_EVERY_MS) return;
      lastProgress = Date.now();
      emit('status', {
        stage: 'downloading', message: `Downloading… ${Math.round(bytes / 1024)} KB`,
        progress: total ? Math.min(1, bytes / total) : null, device: null, bytes, total: total || null,
      });
    },
  });
  tellKind(source.kind, source.live);
  return source;
}

/** A file through the sidecar; a retry (the bridge's re-send, the sidecar's CPU re-run) starts the segments over. */
function transcribeFile(file, options, sidecar, { signal, emit }) {
  let segments = 0;
  const restart = () => {
    if (segments === 0) return;
    segments = 0;
    emit('reset', { keep: 0 });
  };
  return sidecar.transcribe(file, options, {
    signal,
    onRetry: () => restart(),
    onStatus: (params) => {
      if (params && params.stage === 'fallback') restart();
      emit('status', statusOf(params));
    },
    onSegment: (params) => {
      segments += 1;
      emit('segment', segmentOf(params));
    },
  });
}

/** A live kind as a LiveJob on this sidecar; `open: true` once the sidecar accepted the stream. */
async function streamLive(job, source, sidecar, sink) {
  const { store, gap } = await sink.liveStore(source);
  const liveJob = new LiveJob({
    job, source, sidecar, store, emit: sink.emit, signal: sink.signal, log: sink.log,
    maxDurationS: (job.input && job.input.max_duration_s) || sink.config.liveMaxDurationS,
    onOpen: () => sink.emit('state', { state: 'running', live: true, kind: source.kind, open: true }),
  });
  if (gap) liveJob.addFinal(gap);
  return liveJob.run();
}

/**
 * A URL's finite file downloaded into `downloadDir` under a URL job's policy and limits (openSource),
 * for a route that needs the file itself (Deepgram's pre-recorded {url}).
 * Returns: {file, name, contentType}. Raises: openSource's HttpErrors; 400 live_url for a live stream.
 */
async function downloadFile(url, { config, downloadDir }) {
  const controller = new AbortController();
  const source = await openSource({ url, from: 'start' }, { signal: controller.signal, downloadDir, limits: sourceLimits(config) });
  if (source.kind === 'download') return source;
  controller.abort(); // a live source holds its connection until aborted
  throw new HttpError(400, 'live_url', 'The URL is a live stream, not a file: send it to /api/transcriptions as a live job.');
}

module.exports = { runJob, sourceLimits, downloadFile };
