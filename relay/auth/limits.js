'use strict';

/**
 * Limits per caller: job creations per minute (@fastify/rate-limit, set up in ./plugin.js), queued
 * and running jobs (uploads still coming in count too) per key and in total, live jobs per key and
 * in total, open event streams per key, and the free disk an upload needs.
 *
 * The caller is its key; without keys, its IP address, except that loopback clients are not
 * limited when no keys are configured (that is the machine's own user, who could run the sidecar
 * directly).
 */

const fs = require('node:fs');
const { HttpError } = require('../errors');
const { isLoopback } = require('./exposure');

const JOBS_RETRY_AFTER_S = 5;
const STREAMS_RETRY_AFTER_S = 5;
const LIVE_RETRY_AFTER_S = 30;
const DISK_RETRY_AFTER_S = 60;
const MB = 1024 * 1024;

/** The limits' name for the caller: 'key:<id>', 'ip:<address>', or null (not limited). */
function callerOf(request) {
  const identity = request.identity;
  if (identity && identity.id) return `key:${identity.id}`;
  return isLoopback(request.ip) ? null : `ip:${request.ip}`;
}

/** POST /api/transcriptions and POST /v1/audio/*: the requests that create jobs. */
function createsJob(request) {
  const url = (request.routeOptions && request.routeOptions.url) || '';
  return request.method === 'POST' && (url === '/api/transcriptions' || url.startsWith('/v1/audio/'));
}

function tooMany(code, message, retryAfterS) {
  const err = new HttpError(429, code, message);
  err.headers = { 'retry-after': String(retryAfterS) };
  return err;
}

/**
 * Args: {store (JobStore), maxPerKey, maxTotal}.
 * Returns: admit({owner}) — raises HttpError 429 (too_many_jobs, Retry-After in err.headers) when
 *   the owner (a key id; null is not limited per key) or the relay has too many queued+running jobs
 *   plus requests still being received. JobRunner.submit calls it right before the insert, so the
 *   check and the insert are one step. admit.hold(request): admit, then count the request as one job
 *   of its owner until its body is in (an upload that trickles in holds its place in the quota).
 */
function jobAdmission({ store, maxPerKey, maxTotal }) {
  const receiving = new Map(); // owner ('' for none) -> job-creating requests whose body is coming in
  const inFlight = (owner) => (owner === undefined
    ? [...receiving.values()].reduce((sum, n) => sum + n, 0) : receiving.get(owner) || 0);
  function admit({ owner = null } = {}) {
    if (store.countActive() + inFlight() >= maxTotal) {
      throw tooMany('too_many_jobs', `The relay has ${maxTotal} jobs queued, running or being uploaded, its limit; `
        + 'try again later.', JOBS_RETRY_AFTER_S);
    }
    if (owner && store.countActive({ owner }) + inFlight(owner) >= maxPerKey) {
      throw tooMany('too_many_jobs', `This key has ${maxPerKey} jobs queued, running or being uploaded, its limit; `
        + 'wait for one to finish (or cancel one) and try again.', JOBS_RETRY_AFTER_S);
    }
  }
  admit.hold = (request, { owner = null } = {}) => {
    admit({ owner });
    const name = owner || '';
    receiving.set(name, inFlight(name) + 1);
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      const left = inFlight(name) - 1;
      if (left > 0) receiving.set(name, left);
      else receiving.delete(name);
    };
    request.raw.once('end', release);
    request.raw.once('close', release);
  };
  return admit;
}

/**
 * Args: {store (JobStore), maxTotal (LIVE_MAX_JOBS), maxPerKey (LIVE_MAX_JOBS_PER_KEY)}.
 * Returns: admitLive({owner}) — raises HttpError 429 too_many_live_jobs (Retry-After) when the relay
 *   or the key (null: not limited per key) holds as many live slots (store.countLive) as allowed.
 *   Called in the same tick as the insert, which takes the slot.
 */
function liveAdmission({ store, maxTotal, maxPerKey }) {
  return function admitLive({ owner = null } = {}) {
    if (store.countLive() >= maxTotal) {
      throw tooMany('too_many_live_jobs', `${maxTotal} live jobs are running (LIVE_MAX_JOBS); stop one or retry later.`,
        LIVE_RETRY_AFTER_S);
    }
    if (owner && store.countLive({ owner }) >= maxPerKey) {
      throw tooMany('too_many_live_jobs', `This key has ${maxPerKey} live jobs running (LIVE_MAX_JOBS_PER_KEY); `
        + 'stop one or retry later.', LIVE_RETRY_AFTER_S);
    }
  };
}

/**
 * Refuses a request that would write to a disk with less than minFreeMb left after its body
 * (Content-Length, when it says) is stored. Raises: HttpError 507 insufficient_storage.
 */
async function ensureFreeDisk(dir, { minFreeMb, incomingBytes = 0 }) {
  if (!minFreeMb) return;
  const stats = await fs.promises.statfs(dir);
  const free = stats.bavail * stats.bsize;
  if (free - incomingBytes < minFreeMb * MB) {
    const err = new HttpError(507, 'insufficient_storage', 'The server is short of disk space for this upload; '
      + 'try again later.');
    err.headers = { 'retry-after': String(DISK_RETRY_AFTER_S) };
    throw err;
  }
}

/** Open event streams (SSE now, WebSocket later) per caller. */
class StreamCounter {
  /** @param {{max: number}} options */
  constructor({ max }) {
    this.max = max;
    this.open = new Map();
  }

  /**
   * Counts one more stream for the request's caller.
   * Returns: release() (idempotent). Raises: HttpError 429 too_many_streams with Retry-After.
   */
  acquire(request) {
    const caller = callerOf(request);
    if (caller === null) return () => {};
    const count = this.open.get(caller) || 0;
    if (count >= this.max) {
      throw tooMany('too_many_streams', `At most ${this.max} event streams may be open at once per key; `
        + 'close one and try again.', STREAMS_RETRY_AFTER_S);
    }
    this.open.set(caller, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(caller) || 1) - 1;
      if (left > 0) this.open.set(caller, left);
      else this.open.delete(caller);
    };
  }
}

module.exports = { callerOf, createsJob, jobAdmission, liveAdmission, ensureFreeDisk, StreamCounter };
