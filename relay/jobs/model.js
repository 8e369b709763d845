'use strict';

/**
 * What a job is, whichever transport delivers it (./local.js on this machine, relay/cluster in
 * distributed mode): its row's birth, the events it sends and what they change in the store, the
 * segments a client that connects late catches up with, waiting for its end or its kind, finishing
 * it, and the one reading of why it failed.
 *
 * A transport (./transport.js) extends JobModel below, the `ctx` of these functions:
 * {store, events, views, log, admit}.
 * Events go out on `ctx.events` under the job id: {type: 'state'|'status'|'progress'|'segment'|
 * 'reset'|'lag'|'done'|'error'|'cancelled', data}; a finished job also as 'finished' (metrics).
 */

const fs = require('node:fs');
const { EventEmitter } = require('node:events');
const { randomUUID } = require('node:crypto');
const { describeSidecarError } = require('../errors');
const { now, FINAL_STATES } = require('./store');

/**
 * A new job's row: the quotas asked first (relay/auth), an upload removed when they refuse it.
 * Args: ctx {store, admit (({owner}) => void, raises an HttpError 429; or null), log}, fields (the row).
 * Returns: the stored job. Raises: what admit raises, after removing an upload the job would own.
 */
function insertJob({ store, admit, log }, fields) {
  if (admit) {
    try {
      admit({ owner: fields.owner || null });
    } catch (err) {
      if (fields.ownsMedia) removeQuietly(fields.mediaPath, log);
      throw err;
    }
  }
  return store.insert({ id: fields.id || randomUUID(), ...fields });
}

/** Removes a job's media file; a failure is logged, not raised. */
function removeQuietly(file, log) {
  try {
    if (file) fs.rmSync(file, { force: true });
  } catch (err) {
    log.warn(`could not remove ${file}: ${err.message}`);
  }
}

/** A sidecar status line as a job's status event. */
function statusOf(params = {}) {
  return {
    stage: params.stage || null,
    message: params.message || null,
    progress: typeof params.progress === 'number' ? params.progress : null,
    device: params.device || null,
  };
}

/** A sidecar segment notification's segment (the bridge passes the params or the segment). */
function segmentOf(params) {
  return params && params.segment ? params.segment : params;
}

/**
 * Why a job failed, read once for every transport.
 * Returns: {error: {code, message, retry_after_s?}, cancelled (the caller cancelled it), retry (the
 *   sidecar died under it: another attempt may succeed)}.
 */
function classifyFailure(err) {
  const known = err && err.code && err.statusCode && !err.kind; // an HttpError of the relay's (a URL's refusal)
  const { code, message } = known ? err : describeSidecarError(err);
  const error = { code, message };
  // The sidecar's capacity refusal says when to try again (the POST answers 503 with it).
  if (err && err.data && Number.isFinite(err.data.retry_after_s)) error.retry_after_s = err.data.retry_after_s;
  return { error, cancelled: code === 'cancelled', retry: Boolean(err && err.kind === 'exited' && !err.isFatal) };
}

/**
 * What running jobs have sent so far (their segments, a live stream's partial and lag), for SSE
 * clients that connect late and for the live-stream metrics. Fed by applyEvent only.
 */
class LiveViews {
  constructor() {
    this.byId = new Map(); // id -> {segments, partial, lagS}
  }

  entry(id) {
    if (!this.byId.has(id)) this.byId.set(id, { segments: [], partial: null, lagS: 0 });
    return this.byId.get(id);
  }

  /** Starts a job's view with segments it already has (a live stream resumed or taken over). */
  seed(id, segments) {
    Object.assign(this.entry(id), { segments: segments.slice(), partial: null });
  }

  /** {segments} with the partial last; null when the job sent nothing here. */
  view(id) {
    const entry = this.byId.get(id);
    if (!entry) return null;
    return { segments: entry.partial ? [...entry.segments, entry.partial] : entry.segments.slice() };
  }

  ids() {
    return [...this.byId.keys()];
  }

  lagOf(id) {
    return (this.byId.get(id) || {}).lagS || 0;
  }

  delete(id) {
    this.byId.delete(id);
  }
}

/**
 * A running job's event: the store and the live view updated, then the event sent to listeners.
 * The local runner calls it as its jobs run; a cluster API node for the progress its workers send.
 */
function applyEvent(ctx, id, type, data) {
  const { store } = ctx;
  const entry = ctx.views.entry(id);
  if (type === 'state' && data.state === 'running' && data.attempts !== undefined) {
    // A new attempt starts from the first segment; a live stream taken over keeps its earlier finals.
    const keep = data.keep || 0;
    if (entry.segments.length > keep || entry.partial) emit(ctx, id, 'reset', { keep });
    Object.assign(entry, { segments: entry.segments.slice(0, keep), partial: null });
    store.update(id, { state: 'running', started_at: data.startedAt || now(), attempts: data.attempts,
      progress: 0, error: null, message: null });
  } else if (type === 'kind') {
    // The source's first answer: a live stream, or a file to download and then transcribe.
    const job = store.update(id, data.live ? { kind: data.kind, live: 1, state: 'running', stage: 'live', message: 'Live' }
      : { kind: data.kind, live: 0 });
    emit(ctx, id, 'state', { ...data, state: job.state });
    return;
  } else if (type === 'status') {
    const fields = { stage: data.stage, message: data.message };
    if (data.device) fields.device = data.device;
    if (data.progress !== null && data.progress !== undefined) fields.progress = data.progress;
    store.update(id, fields);
  } else if (type === 'segment') {
    // A live stream's partial (final: false) stands until the next segment; anything else is final.
    if (data.final === false) entry.partial = data;
    else Object.assign(entry, { segments: [...entry.segments, data], partial: null });
  } else if (type === 'reset') {
    Object.assign(entry, { segments: entry.segments.slice(0, data.keep), partial: null });
  } else if (type === 'lag') {
    entry.lagS = data.lag_s;
  }
  emit(ctx, id, type, data);
  if (type !== 'status') return;
  const { progress, bytes, total, stage } = data; // bytes and total: a download's
  if (bytes !== undefined) emit(ctx, id, 'progress', { progress, bytes, total, stage });
  else if (progress !== null && progress !== undefined) emit(ctx, id, 'progress', { progress });
}

function emit(ctx, id, type, data) {
  ctx.events.emit(id, { type, data });
}

/**
 * Ends a job: its final state stored, the media it owned removed, its end sent to listeners.
 * Returns: the finished job.
 */
function finishJob(ctx, job, state, fields = {}) {
  const finished = ctx.store.update(job.id, { state, finished_at: fields.finished_at || now(), ...fields });
  ctx.views.delete(job.id);
  if (job.ownsMedia) removeQuietly(job.mediaPath, ctx.log);
  const data = state === 'done'
    ? { state, text: finished.result.text, device: finished.device }
    : { state, error: finished.error };
  emit(ctx, job.id, state, data);
  ctx.events.emit('finished', finished); // for relay/metrics (job ids are UUIDs: no clash)
  return finished;
}

/** The live streams running as this transport sees them ({open, lagS}: the largest lag among them). */
function liveStreams(ctx) {
  const live = ctx.views.ids().map((id) => ctx.store.get(id))
    .filter((job) => job && job.live && !FINAL_STATES.includes(job.state));
  return { open: live.length, lagS: Math.max(0, ...live.map((job) => ctx.views.lagOf(job.id))) };
}

/** Resolves with the job once the store holds it as `settled(job)` says (or it is gone), or after `ms`. */
function waitUntil(ctx, id, settled, ms = 0) {
  return new Promise((resolve) => {
    let timer = null;
    const check = (event) => {
      const job = ctx.store.get(id);
      if (job && !FINAL_STATES.includes(job.state) && !settled(job, event)) return;
      clearTimeout(timer);
      ctx.events.off(id, check);
      resolve(job);
    };
    if (ms) {
      timer = setTimeout(() => {
        ctx.events.off(id, check);
        resolve(ctx.store.get(id));
      }, ms);
    }
    ctx.events.on(id, check);
    check(null);
  });
}

/** Resolves with the finished job (done, error or cancelled). */
function waitFor(ctx, id) {
  return waitUntil(ctx, id, () => false);
}

/**
 * Resolves with a URL or followed file's job once its kind is known (a live stream: once the sidecar
 * accepted it, or refused it for capacity), or it ended, or after `ms` as it stands.
 */
function waitForKind(ctx, id, ms) {
  return waitUntil(ctx, id, (job, event) => Boolean(
    (job.kind && !job.live) || (event && event.type === 'state' && event.data.open)), ms);
}

/** The part of a transport (./transport.js) that is the same for both: a job's model, bound to one store. */
class JobModel {
  /**
   * @param {object} deps
   * @param {import('./store').JobStore} deps.store
   * @param {object} [deps.log] pino-style logger
   * @param {function} [deps.admit] admit({owner}) raises when a new job may not be queued (quotas)
   */
  constructor({ store, log = console, admit = null }) {
    Object.assign(this, { store, log, admit });
    this.events = new EventEmitter();
    this.events.setMaxListeners(0);
    this.views = new LiveViews();
  }

  insert(fields) {
    return insertJob(this, fields);
  }

  waitFor(id) {
    return waitFor(this, id);
  }

  waitForKind(id, ms) {
    return waitForKind(this, id, ms);
  }

  liveView(id) {
    return this.views.view(id);
  }

  liveStreams() {
    return liveStreams(this);
  }

  applyEvent(id, type, data) {
    applyEvent(this, id, type, data);
  }

  finish(job, state, fields) {
    return finishJob(this, job, state, fields);
  }

  emit(id, type, data) {
    emit(this, id, type, data);
  }
}

module.exports = {
  JobModel, 
  FINAL_STATES, LiveViews, insertJob, removeQuietly, statusOf, segmentOf, classifyFailure,
  applyEvent, emit, finishJob, liveStreams, waitFor, waitForKind,
};
