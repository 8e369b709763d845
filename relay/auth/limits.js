'use strict';

/**
 * Limits per caller: job creations per minute (@fastify/rate-limit, set up in ./plugin.js), queued
 * and running jobs per key and in total, and open event streams per key.
 *
 * The caller is its key; without keys, its IP address, except that loopback clients are not
 * limited when no keys are configured (that is the machine's own user, who could run the sidecar
 * directly).
 */

const { HttpError } = require('../errors');
const { isLoopback } = require('./exposure');

const JOBS_RETRY_AFTER_S = 5;
const STREAMS_RETRY_AFTER_S = 5;

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
 *   the owner (a key id; null is not limited per key) or the relay has too many queued+running jobs.
 *   JobRunner.submit calls it right before the insert, so the check and the insert are one step.
 */
function jobAdmission({ store, maxPerKey, maxTotal }) {
  return function admit({ owner = null } = {}) {
    if (store.countActive() >= maxTotal) {
      throw tooMany('too_many_jobs', `The relay has ${maxTotal} jobs queued or running, its limit; try again later.`,
        JOBS_RETRY_AFTER_S);
    }
    if (owner && store.countActive({ owner }) >= maxPerKey) {
      throw tooMany('too_many_jobs', `This key has ${maxPerKey} jobs queued or running, its limit; `
        + 'wait for one to finish (or cancel one) and try again.', JOBS_RETRY_AFTER_S);
    }
  };
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

module.exports = { callerOf, createsJob, jobAdmission, StreamCounter };
