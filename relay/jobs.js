'use strict';

/**
 * Runs jobs through the sidecar, one queue for the whole relay, and tells listeners what happens.
 *
 * The store is the truth for every job's state; a running job also has a live record here (its
 * segments so far and its AbortController) so that SSE clients that connect late can catch up.
 * Events go out on `runner.events` under the job id: {type: 'state'|'status'|'progress'|'segment'|
 * 'reset'|'done'|'error'|'cancelled', data}.
 */

const { EventEmitter } = require('node:events');
const { randomUUID } = require('node:crypto');
const { RetryPolicy } = require('../node_bridge');
const { describeSidecarError } = require('./errors');
const { SourceJobs } = require('./sourcejobs');
const { now } = require('./store');
const { insertJob, removeQuietly } = require('./newjob');

class JobRunner {
  /**
   * @param {object} deps
   * @param {import('./store').JobStore} deps.store
   * @param {object} deps.sidecar a WhisperSidecar (node_bridge) or anything with its transcribe()
   * @param {number} [deps.concurrency] jobs handed to the sidecar at once
   * @param {object} [deps.log] pino-style logger
   * @param {function} [deps.admit] admit({owner}) raises when a new job may not be queued (quotas)
   */
  constructor({ store, sidecar, concurrency = 1, log = console, admit = null, config = null }) {
    this.admit = admit;
    // One retry policy (node_bridge/lib/retry-policy.js): the bridge re-sends a call once after a
    // crash and says so through onRetry; a job the sidecar dies under again is queued again here.
    this.retryPolicy = (sidecar && sidecar.retryPolicy) || new RetryPolicy();
    this.store = store;
    this.sidecar = sidecar;
    this.concurrency = concurrency;
    this.log = log;
    this.events = new EventEmitter();
    this.events.setMaxListeners(0);
    this.live = new Map();
    this.pending = [];
    this.closing = false;
    this.sources = new SourceJobs({ runner: this, config, sidecar });
  }

  /**
   * Puts back the jobs a previous relay left running, then starts everything queued.
   * Returns the ids that were requeued.
   */
  resume() {
    const requeued = this.store.requeueInterrupted();
    for (const id of requeued) this.log.warn(`job ${id} was interrupted by a relay restart; requeued`);
    this.pending = [];
    for (const id of this.store.queuedIds()) {
      const job = this.store.get(id);
      if (job.input && !job.mediaPath) this.sources.resume(job); // a URL or followed file not read to the end
      else this.pending.push(id);
    }
    this.schedule();
    return requeued;
  }

  /** Inserts a job after the quota check (admit). Returns the stored job. */
  insert(fields) {
    return insertJob(this, fields);
  }

  /**
   * A job that reads a URL or follows a growing file (relay/sourcejobs.js): it starts at once.
   * Args: {source, name, input: {url, from} | {path, follow: true}, options, owner}.
   */
  submitSource(fields) {
    return this.sources.submit(fields);
  }

  /** A URL's file is downloaded: it joins the file queue. */
  enqueueDownloaded(id, file) {
    this.store.update(id, { state: 'queued', media_path: file, owns_media: 1, progress: null, stage: null, message: null });
    this.emit(id, 'state', { state: 'queued' });
    this.pending.push(id);
    this.schedule();
  }

  /**
   * Creates a queued job and schedules it. Returns the stored job. `owner` is the creating key's id
   * (null without keys). Raises what admit() raises, after removing the media the job would own.
   */
  submit({ source, name, mediaPath, ownsMedia, options, owner = null, id = randomUUID() }) {
    const job = this.insert({ id, source, name, mediaPath, ownsMedia, options, owner });
    this.pending.push(job.id);
    this.schedule();
    return job;
  }

  /** Resolves with the finished job (done, error or cancelled). */
  waitFor(id) {
    return new Promise((resolve) => {
      const check = () => {
        const job = this.store.get(id);
        if (!job || !['queued', 'downloading', 'running'].includes(job.state)) {
          this.events.off(id, onEvent);
          resolve(job);
        }
      };
      const onEvent = (event) => {
        if (['done', 'error', 'cancelled'].includes(event.type)) check();
      };
      this.events.on(id, onEvent);
      check();
    });
  }

  /**
   * Cancels a queued or running job. Returns the job (unchanged when it had already finished).
   */
  cancel(id) {
    const job = this.store.get(id);
    if (!job) return null;
    if (this.sources.isActive(id)) return this.sources.stop(id); // a live job stops, a download is cancelled
    if (job.state === 'queued') {
      this.pending = this.pending.filter((p) => p !== id);
      return this.finish(job, 'cancelled', { error: { code: 'cancelled', message: 'Cancelled before it started.' } });
    }
    const live = this.live.get(id);
    if (job.state === 'running' && live) live.controller.abort();
    return this.store.get(id);
  }

  /** The live view of a running job: segments so far; null when it is not running here. */
  liveView(id) {
    const source = this.sources.liveView(id);
    if (source) return source;
    const live = this.live.get(id);
    return live ? { segments: live.segments.slice() } : null;
  }

  /** Aborts running work without marking it cancelled, so the next relay requeues it. */
  async close() {
    this.closing = true;
    this.pending = [];
    const running = [...this.live.values()];
    for (const live of running) live.controller.abort();
    await Promise.allSettled([...running.map((live) => live.promise), this.sources.close()]);
  }

  schedule() {
    while (!this.closing && this.live.size < this.concurrency && this.pending.length > 0) {
      const id = this.pending.shift();
      const job = this.store.get(id);
      if (job && job.state === 'queued') this.start(job);
    }
  }

  start(job) {
    const live = { controller: new AbortController(), segments: [], promise: null };
    this.live.set(job.id, live);
    const started = this.store.update(job.id, {
      state: 'running', started_at: now(), attempts: job.attempts + 1, progress: 0, error: null,
    });
    this.emit(job.id, 'state', { state: 'running', attempts: started.attempts });
    live.promise = this.run(started, live).finally(() => {
      this.live.delete(job.id);
      this.schedule();
    });
  }

  async run(job, live) {
    const callbacks = {
      signal: live.controller.signal,
      onStatus: (params) => this.onStatus(job.id, params),
      onSegment: (params) => this.onSegment(job.id, live, params),
      // The bridge re-sent the request to a restarted sidecar: its segments start over.
      onRetry: () => this.restartSegments(job.id, live),
    };
    try {
      const result = await this.sidecar.transcribe(job.mediaPath, job.options, callbacks);
      this.finish(job, 'done', { result, device: result.device || null, progress: 1 });
    } catch (err) {
      if (this.closing) {
        this.store.update(job.id, { state: 'queued', progress: null, message: 'Interrupted by a relay shutdown' });
        return;
      }
      if (this.retryPolicy.requeue(err, job.attempts)) {
        this.log.warn(`job ${job.id}: the sidecar exited mid-job (${err.message}); `
          + `queued again (attempt ${job.attempts + 1} of ${this.retryPolicy.attempts})`);
        this.store.update(job.id, { state: 'queued', progress: null, message: 'The sidecar crashed; retrying' });
        this.emit(job.id, 'state', { state: 'queued', attempts: job.attempts });
        this.pending.unshift(job.id);
        return;
      }
      const error = describeSidecarError(err);
      if (error.code === 'cancelled') {
        this.finish(job, 'cancelled', { error: { code: 'cancelled', message: error.message } });
      } else {
        this.log.error(`job ${job.id} failed: ${error.message}`);
        this.finish(job, 'error', { error: { code: error.code, message: error.message } });
      }
    }
  }

  onStatus(id, params) {
    // The sidecar re-runs a request on the CPU after a CUDA error (stage 'fallback'): its segments
    // start over.
    if (params.stage === 'fallback') this.restartSegments(id, this.live.get(id));
    const status = {
      stage: params.stage || null,
      message: params.message || null,
      progress: typeof params.progress === 'number' ? params.progress : null,
      device: params.device || null,
    };
    const fields = { stage: status.stage, message: status.message };
    if (status.device) fields.device = status.device;
    if (status.progress !== null) fields.progress = status.progress;
    this.store.update(id, fields);
    this.emit(id, 'status', status);
    if (status.progress !== null) this.emit(id, 'progress', { progress: status.progress });
  }

  onSegment(id, live, params) {
    const segment = params && params.segment ? params.segment : params;
    live.segments.push(segment);
    this.emit(id, 'segment', segment);
  }

  /** A retry starts from the first segment: drop what the failed attempt sent, and tell clients. */
  restartSegments(id, live) {
    if (!live || live.segments.length === 0) return;
    live.segments = [];
    this.emit(id, 'reset', { keep: 0 });
  }

  finish(job, state, fields) {
    const finished = this.store.update(job.id, { state, finished_at: now(), ...fields });
    if (job.ownsMedia) removeQuietly(job.mediaPath, this.log);
    const data = state === 'done'
      ? { state, text: finished.result.text, device: finished.device }
      : { state, error: finished.error };
    this.emit(job.id, state, data);
    this.events.emit('finished', finished); // for relay/metrics (job ids are UUIDs: no clash)
    return finished;
  }

  emit(id, type, data) {
    this.events.emit(id, { type, data });
  }
}

module.exports = { JobRunner };
