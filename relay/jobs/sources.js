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

const { finalsResult, endOf } = require('./live');
const { runJob } = require('./run');
const { now } = require('./store');
const { classifyFailure } = require('./model');

class SourceJobs {
  /** @param {{runner: import('./local').JobRunner, config: object, sidecar: object}} deps */
  constructor({ runner, config, sidecar }) {
    Object.assign(this, { runner, config, sidecar });
    this.active = new Map(); // job id -> {controller, promise, stopping, streaming}
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

  start(job) {
    const entry = { controller: new AbortController(), promise: null, stopping: false, streaming: false };
    this.active.set(job.id, entry);
    entry.promise = this.run(job, entry).finally(() => this.active.delete(job.id));
  }

  async run(job, entry) {
    const sink = {
      ...this.runner.sink(job, entry.controller.signal),
      // a downloaded file joins the file queue
      onDownloaded: (file) => {
        this.runner.enqueueDownloaded(job.id, file);
        return true;
      },
      liveStore: async () => {
        this.store.update(job.id, {
          state: 'running', started_at: job.startedAt || now(), attempts: job.attempts + 1, error: null,
          stage: 'live', message: 'Live',
        });
        this.runner.views.seed(job.id, this.store.segments(job.id));
        entry.streaming = true;
        return { store: this.store };
      },
    };
    let result;
    try {
      ({ result } = await runJob(job, this.sidecar, sink));
    } catch (err) {
      if (this.runner.closing && !entry.stopping) return this.leaveForResume(job, entry);
      if (entry.controller.signal.aborted && !entry.streaming) {
        return this.runner.finish(job, 'cancelled', { error: { code: 'cancelled', message: 'Cancelled while fetching.' } });
      }
      return this.fail(job, err, err.partialResult);
    }
    if (!result) return undefined; // downloaded: the file queue has it
    if (this.runner.closing && !entry.stopping) return this.leaveForResume(job, entry);
    return this.runner.finish(job, 'done', { result, device: result.device, progress: null, stopped: result.stopped ? 1 : 0 });
  }

  /** The relay is shutting down under a live job: the next relay resumes it. */
  leaveForResume(job, entry) {
    if (!entry.streaming) return; // still opening its source: the next relay opens it again
    const { kind } = this.store.update(job.id, { state: 'queued', message: 'Interrupted by a relay shutdown' });
    this.runner.log.warn(`live job ${job.id} (${kind}) interrupted by the shutdown; it resumes at the next start`);
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

  /** The id of the job whose source this AbortSignal aborts (relay/captions records by it), or null. */
  jobForSignal(signal) {
    for (const [id, entry] of this.active) if (entry.controller.signal === signal) return id;
    return null;
  }

  async close() {
    const entries = [...this.active.values()];
    for (const entry of entries) entry.controller.abort();
    await Promise.allSettled(entries.map((entry) => entry.promise));
  }

  fail(job, err, partialResult = null) {
    const { error } = classifyFailure(err);
    this.runner.log.warn(`job ${job.id} failed: ${error.message}`);
    const fields = { error };
    if (partialResult) fields.result = partialResult;
    this.runner.finish(this.store.get(job.id), 'error', fields);
  }
}

module.exports = { SourceJobs };
