'use strict';

/**
 * The local transport (./transport.js): jobs run through this machine's sidecar, one file queue for
 * the whole relay; URLs and followed files start at once (./sources.js). What a job is (its events,
 * waiting, finishing, errors) is ./model.js; one run of it is ./run.js, as on a cluster worker.
 *
 * The store is the truth for every job's state; a running job also has a live view (./model.js
 * LiveViews: its segments so far) so that SSE clients that connect late can catch up.
 */

const path = require('node:path');
const { randomUUID } = require('node:crypto');
const { RetryPolicy } = require('../../node_bridge');
const { SourceJobs } = require('./sources');
const { JobModel, classifyFailure } = require('./model');
const { runJob } = require('./run');

/** @implements {import('./transport').JobTransport} */
class JobRunner extends JobModel {
  /**
   * @param {object} deps
   * @param {import('./store').JobStore} deps.store
   * @param {object} deps.sidecar a WhisperSidecar (node_bridge) or anything with its transcribe()
   * @param {number} [deps.concurrency] jobs handed to the sidecar at once
   * @param {object} [deps.log] pino-style logger
   * @param {function} [deps.admit] admit({owner}) raises when a new job may not be queued (quotas)
   * @param {object} [deps.config] the relay's settings (download and live limits, folders)
   */
  constructor({ store, sidecar, concurrency = 1, log = console, admit = null, config = null }) {
    super({ store, log, admit });
    // One retry policy (node_bridge/lib/retry-policy.js): the bridge re-sends a call once after a
    // crash and says so through onRetry; a job the sidecar dies under again is queued again here.
    this.retryPolicy = (sidecar && sidecar.retryPolicy) || new RetryPolicy();
    Object.assign(this, { sidecar, concurrency, config });
    this.running = new Map(); // id -> {controller, promise}: file jobs on the sidecar
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

  /** A job that reads a URL or follows a growing file (./sources.js): it starts at once. */
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

  isStreaming(id) {
    return this.sources.isActive(id);
  }

  /** Cancels a queued or running job. Returns the job (unchanged when it had already finished). */
  cancel(id) {
    const job = this.store.get(id);
    if (!job) return null;
    if (this.sources.isActive(id)) return this.sources.stop(id); // a live job stops, a download is cancelled
    if (job.state === 'queued') {
      this.pending = this.pending.filter((p) => p !== id);
      return this.finish(job, 'cancelled', { error: { code: 'cancelled', message: 'Cancelled before it started.' } });
    }
    const running = this.running.get(id);
    if (job.state === 'running' && running) running.controller.abort();
    return this.store.get(id);
  }

  /** The queue is in this process: there is nothing to reconnect to (the page watches nothing). */
  queueState() {
    return null;
  }

  jobForSignal(signal) {
    return this.sources.jobForSignal(signal);
  }

  /** Aborts running work without marking it cancelled, so the next relay requeues it. */
  async close() {
    this.closing = true;
    this.pending = [];
    const running = [...this.running.values()];
    for (const entry of running) entry.controller.abort();
    await Promise.allSettled([...running.map((entry) => entry.promise), this.sources.close()]);
  }

  schedule() {
    while (!this.closing && this.running.size < this.concurrency && this.pending.length > 0) {
      const id = this.pending.shift();
      const job = this.store.get(id);
      if (job && job.state === 'queued') this.start(job);
    }
  }

  start(job) {
    const entry = { controller: new AbortController(), promise: null };
    this.running.set(job.id, entry);
    this.applyEvent(job.id, 'state', { state: 'running', attempts: job.attempts + 1 });
    entry.promise = this.run(this.store.get(job.id), entry).finally(() => {
      this.running.delete(job.id);
      this.schedule();
    });
  }

  async run(job, entry) {
    try {
      const { result } = await runJob(job, this.sidecar, this.sink(job, entry.controller.signal));
      this.finish(job, 'done', { result, device: result.device || null, progress: 1 });
    } catch (err) {
      if (this.closing) {
        this.store.update(job.id, { state: 'queued', progress: null, message: 'Interrupted by a relay shutdown' });
        return;
      }
      const { error, cancelled, retry } = classifyFailure(err);
      if (retry && job.attempts < this.retryPolicy.attempts) {
        this.log.warn(`job ${job.id}: the sidecar exited mid-job (${err.message}); `
          + `queued again (attempt ${job.attempts + 1} of ${this.retryPolicy.attempts})`);
        this.store.update(job.id, { state: 'queued', progress: null, message: 'The sidecar crashed; retrying' });
        this.emit(job.id, 'state', { state: 'queued', attempts: job.attempts });
        this.pending.unshift(job.id);
        return;
      }
      if (!cancelled) this.log.error(`job ${job.id} failed: ${error.message}`);
      this.finish(job, cancelled ? 'cancelled' : 'error', { error });
    }
  }

  /** How a run of job `job` reports here (./run.js JobSink): straight into the store and the events. */
  sink(job, signal) {
    return {
      signal,
      config: this.config,
      log: this.log,
      downloadDir: this.config ? path.join(this.config.dataDir, 'uploads') : null,
      emit: (type, data) => this.applyEvent(job.id, type, data),
    };
  }
}

module.exports = { JobRunner };
