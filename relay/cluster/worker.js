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
const { classifyFailure } = require('../jobs/model');
const { runJob } = require('../jobs/run');
const { connect, QUEUES, PREFIX, CANCEL_CHANNEL } = require('./redis');
const { attemptsOf } = require('./records');
const { verifyMediaUrl } = require('./signing');
const { openLiveStore, countFinals } = require('./live');

const HEARTBEAT_MS = 10000;
/** The events that say which worker sent them (the page shows it). */
const WORKER_EVENTS = new Set(['kind', 'status', 'lag']);
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
    this.activeJobs = 0;
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
        // BullMQ aborts `signal` through worker.cancelJob / cancelAllJobs (a cancel, a shutdown).
        const worker = new Worker(name, (job, token, signal) => this.process(job, token, signal, entry), {
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
    // An API node's DELETE reaches every worker; the one holding the job aborts its processor.
    this.subscriber.on('message', (channel, id) => {
      for (const worker of this.workers) worker.cancelJob(id, CANCELLED);
    });
    await this.subscriber.subscribe(CANCEL_CHANNEL);
    this.heartbeat();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    this.heartbeatTimer.unref();
  }

  /** Who this worker is, for API nodes' /api/gpu (a key that expires with the worker). */
  heartbeat() {
    const value = JSON.stringify({
      node: this.nodeId, host: os.hostname(), pid: process.pid, active: this.activeJobs,
      sidecars: this.pool.sidecars.map(({ name, gpu, device }) => ({ name, gpu, device })),
    });
    this.redis.set(`${PREFIX}:worker:${this.nodeId}`, value, 'EX', Math.ceil((HEARTBEAT_MS * 3) / 1000)).catch(() => {});
  }

  async process(job, token, signal, entry) {
    this.activeJobs += 1;
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
    const run = {
      id: job.id, options: job.data.options || {}, mediaPath: '',
      input: media.url ? job.data.input || { url: media.url } : null,
    };
    const files = [];
    let finals = null;
    try {
      if (!media.url) {
        run.mediaPath = path.join(this.tmp, `${job.id}-${attempts}`);
        files.push(run.mediaPath);
        await this.fetchMedia(media, run.mediaPath, signal, job.id);
      }
      const { result, processingS } = await runJob(run, entry.sidecar, {
        signal, config: this.config, log: this.log, downloadDir: this.tmp,
        emit: (type, data) => {
          if (type === 'lag') this.live.set(job.id, data.lag_s);
          send(type, WORKER_EVENTS.has(type) ? { ...data, worker: this.nodeId } : data);
        },
        onDownloaded: (file) => {
          files.push(file); // transcribed in this run, removed after it
          return false;
        },
        liveStore: async () => {
          this.live.set(job.id, 0);
          const opened = await openLiveStore({ redis: this.redis, id: job.id, nodeId: this.nodeId, log: this.log });
          finals = opened.store;
          return opened;
        },
      });
      await chain;
      // stopping the worker hands a live stream back from its live edge (failure() moves it back)
      if (result.live && signal.aborted && signal.reason === SHUTDOWN) throw new Error('handed back');
      return { result, device: result.device || entry.device, attempts, startedAt, processingS, worker: this.nodeId };
    } catch (err) {
      await chain;
      if (err.partialResult) await job.updateData({ ...job.data, partial: err.partialResult }).catch(() => {});
      throw await this.failure(err, signal, job, token);
    } finally {
      if (finals) await finals.flushed();
      this.activeJobs -= 1;
      this.live.delete(job.id);
      for (const file of files) fs.rmSync(file, { force: true });
    }
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
    const { error, retry } = classifyFailure(err);
    if (retry) {
      this.log.warn(`job ${job.id}: the sidecar exited mid-job (${err.message}); retried`);
      return new Error(`sidecar_exited: ${err.message}`);
    }
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
      for (const worker of this.workers) worker.cancelAllJobs(SHUTDOWN);
    }, this.config.workerDrainS * 1000);
    await Promise.allSettled(this.workers.map((worker) => worker.close()));
    clearTimeout(handBack);
    if (this.redis) await this.redis.del(`${PREFIX}:worker:${this.nodeId}`).catch(() => {});
    for (const client of [this.subscriber, this.redis]) if (client) client.disconnect();
    await this.pool.stop();
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

function retryable(message) {
  const err = new Error(message);
  err.retry = true;
  return err;
}

module.exports = { WorkerNode };
