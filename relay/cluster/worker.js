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
const { downloadUrl } = require('../download');
const { connect, QUEUES, PREFIX, CANCEL_CHANNEL } = require('./redis');
const { attemptsOf } = require('./records');

const MB = 1024 * 1024;
const HEARTBEAT_MS = 10000;
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
    this.draining = false;
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-worker-'));
  }

  async start() {
    const { config, log } = this;
    await this.pool.start();
    for (const entry of this.pool.sidecars) {
      if (this.metrics) this.metrics.watchSidecar(entry.sidecar, entry.name);
      const names = entry.device === 'cuda' ? [QUEUES.gpu, QUEUES.any] : [QUEUES.any];
      for (const name of names) {
        const worker = new Worker(name, (job, token) => this.process(job, token, entry), {
          connection: connect(config.redisUrl, { name: `worker-${name}`, log }),
          prefix: PREFIX,
          concurrency: config.jobConcurrency,
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
    this.redis = connect(config.redisUrl, { name: 'heartbeat', log });
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
    send('state', { state: 'running', attempts, worker: this.nodeId, startedAt });
    const file = path.join(this.tmp, `${job.id}-${attempts}`);
    const segments = [];
    const restart = () => {
      if (segments.length === 0) return;
      segments.length = 0;
      send('reset', { keep: 0 });
    };
    try {
      await this.fetchMedia(job.data.media, file, controller.signal);
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
      throw await this.failure(err, controller.signal, job, token);
    } finally {
      this.active.delete(job.id);
      fs.rmSync(file, { force: true });
    }
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

  /** The job's media into `file`: {signed} from the API node, or {url} under the URL policy. */
  async fetchMedia(media, file, signal) {
    const { config } = this;
    if (media.url) {
      await downloadUrl(media.url, file, {
        maxBytes: config.maxDownloadMb * MB, timeoutMs: config.downloadTimeoutS * 1000,
        maxRedirects: config.maxRedirects, allowPrivate: config.allowPrivateUrls,
      });
      return;
    }
    let response;
    try {
      response = await fetch(media.signed, { signal });
    } catch (err) {
      if (signal.aborted) throw err;
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
