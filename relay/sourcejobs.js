'use strict';

/**
 * Jobs that read a source instead of a file already here: a URL (HLS, endless HTTP audio, or a
 * finite file to download) or a growing file. They start at once, outside the file queue: a live
 * stream can't wait behind a long file, and a download should be under way while files transcribe.
 *
 * - A URL's first answer decides its kind. A finite file is downloaded (state `downloading`, with
 *   progress) and then joins the file queue like an upload. A live kind runs as a LiveJob.
 * - DELETE on a live job stops it: state `done`, `stopped: true`, everything committed kept.
 * - A relay shutdown leaves live jobs to be resumed: HLS and endless HTTP go on from the live edge
 *   with the restart marked as a gap; a followed file ends with what was committed.
 */

const fs = require('node:fs');
const path = require('node:path');
const { openSource } = require('./live');
const { LiveJob, finalsResult, endOf } = require('./livejob');
const { now } = require('./store');
const { HttpError, describeSidecarError } = require('./errors');

const MB = 1024 * 1024;

class SourceJobs {
  /** @param {{runner: import('./jobs').JobRunner, config: object, sidecar: object}} deps */
  constructor({ runner, config, sidecar }) {
    Object.assign(this, { runner, config, sidecar });
    this.active = new Map(); // job id -> {controller, liveJob, promise, kind}
    this.kindWaiters = new Map(); // job id -> [resolve]
  }

  get store() {
    return this.runner.store;
  }

  /** Creates the job and starts reading its source. Returns the stored job. */
  submit({ source, name, input, options, owner, id }) {
    const job = this.runner.insert({
      ...(id ? { id } : {}), source, name, options, owner, input, mediaPath: '', ownsMedia: false,
      state: input.follow ? 'running' : 'downloading', kind: input.follow ? 'file' : null, live: Boolean(input.follow),
    });
    this.start(job);
    return job;
  }

  /** Resolves with the job once its kind is known (or it failed), or after `ms`. */
  waitForKind(id, ms) {
    const job = this.store.get(id);
    if (!job || job.kind || job.state === 'error') return Promise.resolve(job);
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(), ms);
      const done = () => {
        clearTimeout(timer);
        const waiters = (this.kindWaiters.get(id) || []).filter((w) => w !== done);
        if (waiters.length) this.kindWaiters.set(id, waiters); else this.kindWaiters.delete(id);
        resolve(this.store.get(id));
      };
      this.kindWaiters.set(id, [...(this.kindWaiters.get(id) || []), done]);
    });
  }

  liveCount() {
    return [...this.active.values()].filter((a) => a.kind && a.kind !== 'download').length;
  }

  /** The largest lag (s of audio not decoded yet) among the live jobs running here; 0 with none. */
  maxLag() {
    return Math.max(0, ...[...this.active.values()].map((a) => (a.liveJob ? a.liveJob.lagS || 0 : 0)));
  }

  start(job) {
    const controller = new AbortController();
    const entry = { controller, liveJob: null, kind: job.kind, promise: null, stopping: false };
    this.active.set(job.id, entry);
    entry.promise = this.run(job, entry).finally(() => {
      this.active.delete(job.id);
      this.settleKind(job.id);
    });
  }

  async run(job, entry) {
    const { config } = this;
    const opts = job.input; // the live limits asked for live with the input
    const input = job.input.follow
      ? { path: job.input.path, follow: true, mediaDir: config.mediaDir } // checked again as it is opened
      : { url: job.input.url, from: job.input.from || 'live' };
    const downloadDir = path.join(config.dataDir, 'uploads');
    let source;
    try {
      await fs.promises.mkdir(downloadDir, { recursive: true });
      source = await openSource(input, {
        signal: entry.controller.signal,
        downloadDir,
        limits: {
          maxBytes: config.maxDownloadMb * MB,
          timeoutMs: config.downloadTimeoutS * 1000,
          maxRedirects: config.maxRedirects,
          allowPrivate: config.allowPrivateUrls,
          idleTimeoutS: opts.idle_timeout_s || config.liveIdleTimeoutS,
          followIdleS: opts.follow_idle_s || config.followIdleS,
        },
        onKind: (kind) => this.noteKind(job, entry, kind),
        onProgress: ({ bytes, total }) => this.onDownloadProgress(job.id, bytes, total),
      });
    } catch (err) {
      if (this.runner.closing) return;
      if (entry.controller.signal.aborted) {
        this.runner.finish(job, 'cancelled', { error: { code: 'cancelled', message: 'Cancelled while fetching.' } });
        return;
      }
      this.fail(job, err);
      return;
    }
    this.noteKind(job, entry, source.kind, source.live);
    if (source.kind === 'download') {
      this.runner.enqueueDownloaded(job.id, source.file);
      return;
    }
    await this.runLive(job, entry, source);
  }

  async runLive(job, entry, source) {
    const started = this.store.update(job.id, {
      state: 'running', started_at: job.startedAt || now(), attempts: job.attempts + 1, error: null,
      stage: 'live', message: 'Live',
    });
    this.runner.emit(job.id, 'state', { state: 'running', live: true, kind: source.kind });
    const opts = job.input;
    entry.liveJob = new LiveJob({
      job: started, source, sidecar: this.sidecar, store: this.store,
      emit: (type, data) => this.runner.emit(job.id, type, data),
      signal: entry.controller.signal,
      log: this.runner.log,
      maxDurationS: opts.max_duration_s || this.config.liveMaxDurationS,
      onOpen: () => this.settleKind(job.id),
    });
    try {
      const result = await entry.liveJob.run();
      if (this.runner.closing && !entry.stopping) return this.leaveForResume(job, source);
      this.runner.finish(started, 'done', { result, device: result.device, progress: null, stopped: result.stopped ? 1 : 0 });
    } catch (err) {
      if (this.runner.closing && !entry.stopping) return this.leaveForResume(job, source);
      this.fail(started, err, err.partialResult);
    }
    return undefined;
  }

  /** The relay is shutting down under a live job: the next relay resumes it. */
  leaveForResume(job, source) {
    this.store.update(job.id, { state: 'queued', message: 'Interrupted by a relay shutdown' });
    this.runner.log.warn(`live job ${job.id} (${source.kind}) interrupted by the shutdown; it resumes at the next start`);
  }

  /** Called by the runner's resume() for a source job a previous relay left unfinished. */
  resume(job) {
    if (job.live && job.kind === 'file') {
      // a followed file can't be picked up where it was: end with what was committed
      this.runner.finish(job, 'done', {
        result: { ...finalsResult(this.store.segments(job.id)), kind: 'file', stopped: true, interrupted: true },
        stopped: 1, message: 'Interrupted by a relay restart; the text committed until then is kept',
      });
      return;
    }
    if (job.live) {
      const segments = this.store.segments(job.id);
      const end = endOf(segments);
      const gap = { id: segments.length, start: end, end, text: '', gap: true, reason: 'relay_restart', final: true };
      this.store.addSegment(job.id, gap);
      job = this.store.update(job.id, { input: { ...job.input, from: 'live' } });
    }
    this.start(job);
  }

  /** Stops a live job (DELETE): resolves with the finished job. Cancels a download. */
  async stop(id) {
    const entry = this.active.get(id);
    if (!entry) return this.store.get(id);
    entry.stopping = true;
    entry.controller.abort();
    await entry.promise;
    return this.store.get(id);
  }

  isActive(id) {
    return this.active.has(id);
  }

  liveView(id) {
    const entry = this.active.get(id);
    if (!entry || !entry.liveJob) return null;
    const { segments, partial } = entry.liveJob;
    return { segments: partial ? [...segments, partial] : segments.slice() };
  }

  async close() {
    const entries = [...this.active.values()];
    for (const entry of entries) entry.controller.abort();
    await Promise.allSettled(entries.map((entry) => entry.promise));
  }

  noteKind(job, entry, kind, live = kind !== 'download') {
    if (entry.kind === kind && this.store.get(job.id).kind === kind) return;
    entry.kind = kind;
    this.store.update(job.id, live ? { kind, live: 1, state: 'running' } : { kind, live: 0 });
    this.runner.emit(job.id, 'state', { state: this.store.get(job.id).state, kind, live });
    // A live job's POST waits on until the sidecar accepted the stream (or refused it for capacity).
    if (!live) this.settleKind(job.id);
  }

  settleKind(id) {
    for (const waiter of this.kindWaiters.get(id) || []) waiter();
  }

  onDownloadProgress(id, bytes, total) {
    const progress = total ? Math.min(1, bytes / total) : null;
    this.store.update(id, { progress, stage: 'downloading', message: `Downloading… ${Math.round(bytes / 1024)} KB` });
    this.runner.emit(id, 'progress', { progress, bytes, total: total || null, stage: 'downloading' });
  }

  fail(job, err, partialResult = null) {
    const error = err instanceof HttpError ? { code: err.code, message: err.message } : (({ code, message }) => ({ code, message }))(describeSidecarError(err));
    // The sidecar's capacity refusal says when to try again (the POST answers 503 with it).
    if (err && err.data && Number.isFinite(err.data.retry_after_s)) error.retry_after_s = err.data.retry_after_s;
    this.runner.log.warn(`job ${job.id} failed: ${error.message}`);
    const fields = { error };
    if (partialResult) fields.result = partialResult;
    this.runner.finish(this.store.get(job.id), 'error', fields);
  }
}

module.exports = { SourceJobs };
