'use strict';

/**
 * ClusterRunner: the API node's side of distributed mode, the BullMQ transport
 * (relay/jobs/transport.js), so that the routes, SSE and /v1 work unchanged. What a job is (its
 * events, waiting, finishing, errors) is relay/jobs/model.js; workers run it (./worker.js).
 *
 * The source of truth is Redis: a job is a BullMQ job (its data: the request; its progress events:
 * state, status, segments; its return value: the transcript; its failure: the error). This node's
 * SQLite file is a replica that the routes read synchronously: written when a job is created here,
 * filled from Redis for jobs created elsewhere (QueueEvents, a look-up on a miss, a sweep at start)
 * and kept current from the queues' events. Losing an API node loses no job and no transcript.
 */

const { randomUUID } = require('node:crypto');
const { HttpError } = require('../errors');
const { now, FINAL_STATES } = require('../jobs/store');
const { queueNameFor } = require('./redis');
const { signMediaUrl } = require('./signing');
const { fromQueueJob, returnedResult } = require('./records');
const { JobModel } = require('../jobs/model');
const { readFinals } = require('./live');
const { finalsResult } = require('../jobs/live');

const SWEEP_STATES = ['active', 'waiting', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'];
const SWEEP_LIMIT = 1000;
const STOP_WAIT_MS = 20000; // DELETE on a live job: how long to wait for its worker to close the stream
const KEEP_FINISHED_S = 7 * 86400;

/** @implements {import('../jobs/transport').JobTransport} */
class ClusterRunner extends JobModel {
  /**
   * @param {object} deps
   * @param {import('../jobs/store').JobStore} deps.store this node's replica
   * @param {Object<string, import('bullmq').Queue>} deps.queues by name (./redis.js QUEUES)
   * @param {import('ioredis').Redis} deps.publisher for cancellations (./redis.js CANCEL_CHANNEL)
   * @param {string} deps.nodeId this node's name; jobs created here are counted in its metrics
   * @param {object} deps.config, deps.log, deps.admit, deps.metrics
   */
  constructor({ store, queues, publisher, cancelChannel, nodeId, config, log = console, admit = null, metrics = null }) {
    super({ store, log, admit });
    this.queues = queues;
    this.publisher = publisher;
    this.cancelChannel = cancelChannel;
    this.nodeId = nodeId;
    this.config = config;
    this.metrics = metrics;
    this.mediaBase = null; // set once the node listens (./index.js)
    this.closing = false;
    this.hydrating = new Map();
    this.stopping = new Set(); // live streams stopped while queued (./stopStream): not 'cancelled'
  }

  /** Start: every job Redis knows goes into the replica (jobs made elsewhere, states that moved on). */
  async resume() {
    for (const queue of Object.values(this.queues)) {
      const jobs = await queue.getJobs(SWEEP_STATES, 0, SWEEP_LIMIT);
      for (const job of jobs) if (job) await this.sync(job);
    }
    return [];
  }

  /** An upload or a MEDIA_DIR file: queued in Redis; workers read it through a signed URL. */
  submit({ source, name, mediaPath, ownsMedia, options, owner = null, id = randomUUID() }) {
    const job = this.insert({ id, source, name, mediaPath, ownsMedia, options, owner });
    const url = signMediaUrl({ base: this.mediaBase, id, secret: this.config.clusterSecret, ttlS: this.config.mediaUrlTtlS });
    this.enqueue(job, { signed: url });
    return job;
  }

  /**
   * A URL: the worker that takes it opens it (same URL policy) and downloads a file or runs a live
   * stream (./live.js). A growing file under MEDIA_DIR can't be followed from another machine.
   */
  submitSource({ source, name, input, options, owner = null }) {
    if (source !== 'url') {
      throw new HttpError(501, 'not_supported', 'Following a growing file is not supported in distributed mode: workers cannot see this node\'s MEDIA_DIR.');
    }
    const job = this.insert({ source, name, options, owner, input, mediaPath: '', ownsMedia: false });
    this.enqueue(job, { url: input.url }, input);
    return job;
  }

  enqueue(job, media, input = null) {
    const queue = this.queues[queueNameFor(job.options, job.source)];
    const data = {
      id: job.id, source: job.source, name: job.name, options: job.options, owner: job.owner,
      createdAt: job.createdAt, apiNode: this.nodeId, media, ...(input ? { input } : {}),
    };
    // Failed attempts (a sidecar that died under the job) retry up to JOB_ATTEMPTS; a lost worker
    // (its lock expired) counts against the same bound through the workers' maxStalledCount.
    queue.add('transcribe', data, {
      jobId: job.id, attempts: this.config.jobAttempts, backoff: { type: 'fixed', delay: 500 },
      removeOnComplete: { age: KEEP_FINISHED_S }, removeOnFail: { age: KEEP_FINISHED_S },
    }).catch((err) => {
      this.log.error(`job ${job.id}: could not be queued in Redis: ${err.message}`);
      this.finish(this.store.get(job.id), 'error', { error: { code: 'queue_unavailable', message: err.message } });
    });
  }

  /** A live stream (DELETE stops it, keeping its finals). */
  isStreaming(id) {
    const job = this.store.get(id);
    return Boolean(job && job.live && !FINAL_STATES.includes(job.state));
  }

  /**
   * Queued: removed from the queue. Running: the worker holding it is told to stop. A live stream
   * stops keeping what it committed: resolves with the job once its worker finished it (state done,
   * stopped), or as it stands after STOP_WAIT_MS.
   */
  cancel(id) {
    const job = this.store.get(id);
    if (!job) return null;
    if (FINAL_STATES.includes(job.state)) return job;
    this.publisher.publish(this.cancelChannel, id).catch(() => {});
    if (this.isStreaming(id)) return this.stopStream(job);
    if (job.state === 'queued') {
      const queue = this.queues[queueNameFor(job.options, job.source)];
      queue.remove(id).catch(() => {});
      return this.finish(job, 'cancelled', { error: { code: 'cancelled', message: 'Cancelled before it started.' } });
    }
    return job;
  }

  /**
   * DELETE on a live stream. On a worker: it closes the stream and completes the job (done, stopped);
   * resolves with the job then, or as it stands after STOP_WAIT_MS. Waiting for a worker to take it
   * over: taken off the queue and finished here with the finals kept in Redis.
   */
  async stopStream(job) {
    if (job.state === 'queued') {
      const finals = await readFinals(this.publisher, job.id);
      this.stopping.add(job.id);
      const queue = this.queues[queueNameFor(job.options, job.source)];
      const removed = await queue.remove(job.id).catch(() => 0);
      if (removed) {
        const result = { ...finalsResult(finals), device: job.device || null, kind: job.kind, stopped: true };
        return this.finish(job, 'done', { result, stopped: 1, progress: 1, message: null, stage: null });
      }
      this.stopping.delete(job.id); // a worker took it meanwhile: it stops it
    }
    return Promise.race([this.waitFor(job.id), new Promise((resolve) => {
      setTimeout(() => resolve(this.store.get(job.id)), STOP_WAIT_MS).unref();
    })]);
  }

  /**
   * Redis went away or came back: every job someone is watching hears it as a status message (the
   * page shows it), so a client sees "reconnecting" rather than a silent stall.
   */
  queueConnection(up) {
    if (this.queueUp === up || (this.queueUp === undefined && up)) {
      this.queueUp = up;
      return;
    }
    this.queueUp = up;
    const message = up ? 'The queue is back' : 'Reconnecting to the queue (Redis)…';
    for (const id of this.events.eventNames()) {
      const job = typeof id === 'string' && id !== 'finished' ? this.store.get(id) : null;
      if (job && !FINAL_STATES.includes(job.state)) {
        this.emit(id, 'status', { stage: up ? 'reconnected' : 'reconnecting', message, progress: null, device: null });
      }
    }
  }

  /** 'up', or 'reconnecting' while Redis is away (/healthz, the page's banner). */
  queueState() {
    return this.queueUp === false ? 'reconnecting' : 'up';
  }

  /** Sources run on workers, not here: no signal of this process is a job's. */
  jobForSignal() {
    return null;
  }

  async close() {
    this.closing = true;
  }

  /** The job from Redis into the replica when this node has not seen it (a route's look-up). */
  async hydrate(id) {
    if (this.store.get(id)) return;
    if (!this.hydrating.has(id)) {
      const work = (async () => {
        for (const queue of Object.values(this.queues)) {
          const job = await queue.getJob(id);
          if (job) return this.sync(job);
        }
        return null;
      })().finally(() => this.hydrating.delete(id));
      this.hydrating.set(id, work);
    }
    await this.hydrating.get(id);
  }

  /** Brings the replica's row for a BullMQ job up to date with Redis. */
  async sync(queueJob) {
    const state = await queueJob.getState();
    const record = fromQueueJob(queueJob, state);
    if (!record) return;
    let job = this.store.get(record.id);
    if (!job) job = this.store.insert({ ...record.insert, state: 'queued' });
    if (FINAL_STATES.includes(job.state)) return;
    if (record.final) {
      this.finish(job, record.final.state, record.final.fields);
    } else if (record.update) {
      this.store.update(job.id, record.update);
    }
  }

  // --- the queues' events (./events.js subscribes) ---

  onProgress(id, event) {
    const job = this.store.get(id);
    if (!job || FINAL_STATES.includes(job.state) || !event || !event.type) return;
    this.applyEvent(id, event.type, event.data);
  }

  onCompleted(id, returnvalue) {
    const job = this.store.get(id);
    if (!job) return this.hydrate(id);
    if (FINAL_STATES.includes(job.state)) return null;
    const done = returnedResult(returnvalue);
    return this.finish(job, 'done', done);
  }

  /** A failed event is sent for a final failure; a failed attempt that will run again is not final. */
  async onFailed(id) {
    const job = this.store.get(id);
    if (!job) return this.hydrate(id);
    for (const queue of Object.values(this.queues)) {
      const queueJob = await queue.getJob(id);
      if (queueJob) return this.sync(queueJob);
    }
    return null;
  }

  onStalled(id) {
    this.log.warn(`job ${id}: its worker stopped answering; it goes to another worker`);
    this.onRequeued(id, 'Its worker was lost; queued again');
  }

  /** Back in the queue: a lost worker, a stopping one that handed it back, a retry after a crash. */
  onRequeued(id, message) {
    const job = this.store.get(id);
    if (!job || FINAL_STATES.includes(job.state)) return;
    this.store.update(id, { state: 'queued', progress: null, message });
    this.emit(id, 'state', { state: 'queued', attempts: job.attempts, message });
  }

  onRemoved(id) {
    const job = this.store.get(id);
    if (!job || FINAL_STATES.includes(job.state) || this.stopping.has(id)) return;
    this.finish(job, 'cancelled', { error: { code: 'cancelled', message: 'Cancelled.' } });
  }

  finish(job, state, { processingS = null, ...fields } = {}) {
    this.stopping.delete(job.id);
    const finished = super.finish(job, state, fields);
    // Counted by the node that created the job (only it has the media path or the URL input), so
    // summing the API nodes' counters counts each job once.
    if (this.metrics && (job.mediaPath || job.input)) {
      this.metrics.jobFinished({
        state, device: finished.device, attempts: finished.attempts, processingS,
        duration: finished.result && typeof finished.result.duration === 'number' ? finished.result.duration : null,
      });
    }
    return finished;
  }
}

module.exports = { ClusterRunner };
