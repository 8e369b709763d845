'use strict';

/**
 * The worker role: a pool of sidecars (./pool.js), a BullMQ Worker per sidecar and queue it may
 * take, the media fetched (an upload through the API node's signed URL, a URL under the relay's
 * URL policy), the transcription's events sent back as job progress, the transcript as the
 * job's return value.
 *
 * Exactly once as users see it: BullMQ holds a lock on a running job; a worker killed outright
 * stops renewing it and the stalled-job check gives the job to another worker (bounded by
 * maxStalledCount), whose first event tells API nodes to drop the lost attempt's segments. SIGTERM
 * (stop()): no new jobs; a running job may finish for WORKER_DRAIN_S, then is handed back
 * (moved to delayed with its lock token: no attempt is spent) and the process exits.
 */

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pipeline } = require('node:stream/promises');
const { Readable } = require('node:stream');
const { Worker, DelayedError, UnrecoverableError } = require('bullmq');
const { describeSidecarError } = require('../errors');
const { openSource } = require('../live');
const { connect, QUEUES, PREFIX, CANCEL_CHANNEL } = require('./redis');
const { attemptsOf } = require('./records');
const { verifyMediaUrl } = require('./signing');
const { runLiveJob, countFinals } = require('./live');

const MB = 1024 * 1024;
const HEARTBEAT_MS = 10000;
const PROGRESS_EVERY_MS = 1000;
const SHUTDOWN = 'shutdown';
const CANCELLED = 'cancelled';

class WorkerNode {
  /**
   * @param {object} deps {config, pool (./pool.js), nodeId, log, metrics}
   */
  constructor({ config, pool, nodeId, log = console, metrics = null }) {
    this.config = config;
    this.pool = pool;
    this.nodeId = nodeId;
    this.log = log;
    this.metrics = metrics;
    this.workers = [];
    this.active = new Map(); // job id -> AbortController
    this.live = new Map(); // live job id -> its last lag_s
    this.draining = false;
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-worker-'));
  }

  async start() {
    const { config, log } = this;
    await this.pool.start();
    this.redis = connect(config.redisUrl, { name: 'heartbeat', log }); // heartbeats and live streams' finals
    for (const entry of this.pool.sidecars) {
      if (this.metrics) this.metrics.watchSidecar(entry.sidecar, entry.name);
      const names = entry.device === 'cuda' ? [QUEUES.gpu, QUEUES.any, QUEUES.url] : [QUEUES.any, QUEUES.url];
      for (const name of names) {
        const worker = new Worker(name, (job, token) => this.process(job, token, entry), {
          connection: connect(config.redisUrl, { name: `worker-${name}`, log }),
          prefix: PREFIX,
          concurrency: name === QUEUES.url ? config.liveMaxJobs : config.jobConcurrency,
          lockDuration: config.jobLockS * 1000,
          stalledInterval: Math.max(1000, (config.jobLockS * 1000) / 2),
          maxStalledCount: Math.max(0, config.jobAttempts - 1),
        });
        worker.on('error', (err) => log.warn(`worker (${name}): ${err.message}`));
        this.workers.push(worker);
      }
    }
    this.subscriber = connect(config.redisUrl, { name: 'cancel', log });
    this.subscriber.on('message', (channel, id) => {
      const controller = this.active.get(id);
      if (controller) controller.abort(CANCELLED);
    });
    await this.subscriber.subscribe(CANCEL_CHANNEL);
    this.heartbeat();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    this.heartbeatTimer.unref();
  }

  /** Who this worker is, for API nodes' /api/gpu (a key that expires with the worker). */
  heartbeat() {
    const value = JSON.stringify({
      node: this.nodeId, host: os.hostname(), pid: process.pid, active: this.active.size,
      sidecars: this.pool.sidecars.map(({ name, gpu, device }) => ({ name, gpu, device })),
    });
    this.redis.set(`${PREFIX}:worker:${this.nodeId}`, value, 'EX', Math.ceil((HEARTBEAT_MS * 3) / 1000)).catch(() => {});
  }

  async process(job, token, entry) {
    const controller = new AbortController();
    this.active.set(job.id, controller);
    let chain = Promise.resolve();
    const send = (type, data) => {
      chain = chain.then(() => job.updateProgress({ type, data })).catch(() => {});
    };
    const attempts = attemptsOf(job, true);
    const startedAt = new Date().toISOString();
    const { media } = job.data;
    // A live stream taken over keeps the finals committed before; any other job starts afresh.
    const keep = media.url ? await countFinals(this.redis, job.id) : 0;
    send('state', { state: 'running', attempts, worker: this.nodeId, startedAt, keep });
    let file = path.join(this.tmp, `${job.id}-${attempts}`);
    const segments = [];
    const restart = () => {
      if (segments.length === 0) return;
      segments.length = 0;
      send('reset', { keep: 0 });
    };
    try {
      if (media.url) {
        const source = await this.openUrl(job, controller.signal, send);
        if (source.kind !== 'download') {
          const result = await this.runLive(job, source, entry, controller.signal, send);
          await chain;
          const processingS = result.timings ? result.timings.transcribe_s : null; // decode time, for the RTF
          return { result, device: result.device || entry.device, attempts, startedAt, processingS, worker: this.nodeId };
        }
        file = source.file;
      } else {
        await this.fetchMedia(media, file, controller.signal, job.id);
      }
      const began = Date.now();
      const result = await entry.sidecar.transcribe(file, job.data.options, {
        signal: controller.signal,
        // A retry (the bridge's re-send after a crash, the sidecar's CPU re-run) starts from the first segment.
        onRetry: () => restart(),
        onStatus: (params) => {
          if (params && params.stage === 'fallback') restart();
          send('status', { ...statusOf(params), worker: this.nodeId });
        },
        onSegment: (params) => {
          const segment = params && params.segment ? params.segment : params;
          segments.push(segment);
          send('segment', segment);
        },
      });
      await chain;
      return { result, device: result.device || entry.device, attempts, startedAt, processingS: (Date.now() - began) / 1000,
        worker: this.nodeId };
    } catch (err) {
      await chain;
      if (err.partialResult) await job.updateData({ ...job.data, partial: err.partialResult }).catch(() => {});
      throw await this.failure(err, controller.signal, job, token);
    } finally {
      this.active.delete(job.id);
      this.live.delete(job.id);
      fs.rmSync(file, { force: true });
    }
  }

  /**
   * A URL job's source (relay/live), under the relay's URL policy: a finite file downloaded into
   * this worker's folder, or a live kind (HLS, endless HTTP audio). The kind goes to API nodes as
   * soon as the first answer tells it.
   */
  openUrl(job, signal, send) {
    const { config } = this;
    const input = job.data.input || { url: job.data.media.url };
    let lastProgress = 0;
    return openSource({ url: input.url, from: input.from || 'live' }, {
      signal,
      downloadDir: this.tmp,
      limits: {
        maxBytes: config.maxDownloadMb * MB, timeoutMs: config.downloadTimeoutS * 1000,
        maxRedirects: config.maxRedirects, allowPrivate: config.allowPrivateUrls,
        idleTimeoutS: input.idle_timeout_s || config.liveIdleTimeoutS,
      },
      onKind: (kind) => send('kind', { kind, live: kind !== 'download', worker: this.nodeId }),
      onProgress: ({ bytes, total }) => {
        if (Date.now() - lastProgress < PROGRESS_EVERY_MS) return;
        lastProgress = Date.now();
        send('status', {
          stage: 'downloading', message: `Downloading… ${Math.round(bytes / 1024)} KB`,
          progress: total ? Math.min(1, bytes / total) : null, device: null, worker: this.nodeId,
        });
      },
    });
  }

  /** A live stream on this worker (./live.js); stopping the worker hands it back from the live edge. */
  async runLive(job, source, entry, signal, send) {
    const input = job.data.input || {};
    const run = runLiveJob({
      job, source, sidecar: entry.sidecar, redis: this.redis, nodeId: this.nodeId, signal, log: this.log,
      maxDurationS: input.max_duration_s || this.config.liveMaxDurationS,
      send: (type, data) => {
        if (type === 'lag') this.live.set(job.id, data.lag_s);
        send(type, type === 'status' || type === 'lag' ? { ...data, worker: this.nodeId } : data);
      },
    });
    this.live.set(job.id, 0);
    const result = await run;
    if (signal.aborted && signal.reason === SHUTDOWN) throw new Error('handed back'); // failure() moves it back
    return result;
  }

  /** Live streams running on this worker and the largest lag among them (its /metrics). */
  liveStreams() {
    return { open: this.live.size, lagS: Math.max(0, ...this.live.values()) };
  }

  /** What the processor throws: hand back, retry (a plain Error) or give up (UnrecoverableError). */
  async failure(err, signal, job, token) {
    if (signal.aborted && signal.reason === SHUTDOWN) {
      await job.moveToDelayed(Date.now() + 100, token);
      this.log.warn(`job ${job.id}: handed back (this worker is stopping)`);
      return new DelayedError();
    }
    if (signal.aborted && signal.reason === CANCELLED) return new UnrecoverableError('cancelled: Cancelled while running.');
    if (err instanceof UnrecoverableError || err.retry) return err;
    if (err && err.kind === 'exited' && !err.isFatal) {
      this.log.warn(`job ${job.id}: the sidecar exited mid-job (${err.message}); retried`);
      return new Error(`sidecar_exited: ${err.message}`);
    }
    const error = err.code && err.statusCode ? { code: err.code, message: err.message } : describeSidecarError(err);
    this.log.error(`job ${job.id} failed: ${error.message}`);
    return new UnrecoverableError(`${error.code}: ${error.message}`);
  }

  /**
   * An upload or a MEDIA_DIR file into `file`, through the API node's signed URL: only job `id`'s
   * media route on an origin an API node signed (./signing.js), and no redirect followed.
   */
  async fetchMedia(media, file, signal, id) {
    if (!verifyMediaUrl({ url: media.signed, id, secret: this.config.clusterSecret })) {
      throw new UnrecoverableError('media_unavailable: The media link is not one of this cluster\'s (or it expired).');
    }
    let response;
    try {
      response = await fetch(media.signed, { signal, redirect: 'error' });
    } catch (err) {
      if (signal.aborted) throw err;
      if (err.cause && /redirect/i.test(err.cause.message)) {
        throw new UnrecoverableError('media_unavailable: The API node answered with a redirect, which is not followed.');
      }
      throw retryable(`media_unreachable: the API node holding the upload did not answer (${err.message})`);
    }
    if (response.status === 404) {
      throw new UnrecoverableError('media_unavailable: The upload is gone or its link expired.');
    }
    if (!response.ok) throw retryable(`media_unreachable: the API node answered ${response.status}`);
    await pipeline(Readable.fromWeb(response.body), fs.createWriteStream(file), { signal });
  }

  /** SIGTERM: stop taking jobs, let running ones finish for WORKER_DRAIN_S, hand back the rest. */
  async stop() {
    this.draining = true;
    clearInterval(this.heartbeatTimer);
    const handBack = setTimeout(() => {
      for (const controller of this.active.values()) controller.abort(SHUTDOWN);
    }, this.config.workerDrainS * 1000);
    await Promise.allSettled(this.workers.map((worker) => worker.close()));
    clearTimeout(handBack);
    if (this.redis) await this.redis.del(`${PREFIX}:worker:${this.nodeId}`).catch(() => {});
    for (const client of [this.subscriber, this.redis]) if (client) client.disconnect();
    await this.pool.stop();
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

function statusOf(params) {
  return {
    stage: params.stage || null,
    message: params.message || null,
    progress: typeof params.progress === 'number' ? params.progress : null,
    device: params.device || null,
  };
}

function retryable(message) {
  const err = new Error(message);
  err.retry = true;
  return err;
}

module.exports = { WorkerNode };
