'use strict';

/**
 * One error class for everything the relay answers with a 4xx/5xx, and the mapping from the
 * bridge's SidecarError to HTTP.
 *
 * Every error body has one shape: `{error: {code, message, ...details}}` — `code` is a stable
 * snake_case word a client can branch on, `message` a sentence a person can act on.
 */

class HttpError extends Error {
  /**
   * @param {number} statusCode
   * @param {string} code stable machine word, e.g. 'empty_upload'
   * @param {string} message
   * @param {object} [details] extra fields for the body (e.g. {param: 'language'})
   */
  constructor(statusCode, code, message, details = {}) {
    super(message);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.code = code;
    this.details = details;
    // Every 429 says when to come back (issue 19); a caller that knows better sets its own.
    if (statusCode === 429) this.headers = { 'retry-after': String(DEFAULT_RETRY_AFTER_S) };
  }

  toJSON() {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

const DEFAULT_RETRY_AFTER_S = 5;

/**
 * A message with every absolute path in it cut to its last part: the sidecar names the files it
 * read (an upload's path in data/uploads, a model folder), and a caller learns nothing about the
 * server's folders from an error (issue 19).
 */
function withoutPaths(message) {
  return String(message)
    .replace(/(?<=^|[\s'"`(=[])(?:[A-Za-z]:)?(?:[\\/][^\s'"`,;:()[\]{}<>\\/]+)+[\\/]?/g, (found) => {
      const parts = found.split(/[\\/]/).filter(Boolean);
      return parts.length ? parts[parts.length - 1] : found;
    });
}

/** data.kind values the sidecar sends, each with the HTTP status a failed request gets (errors.json). */
const KINDS = require('./requests/sidecar-schema').errorKinds();

/** data.kind values from the sidecar that are the caller's fault. */
const CLIENT_KINDS = new Set(Object.keys(KINDS).filter((kind) => KINDS[kind].client));

/** JSON-RPC codes the sidecar uses for the caller's mistakes. */
const INVALID_PARAMS = KINDS.invalid_params.code;
const CANCELLED = KINDS.cancelled.code;

/**
 * Turns an error from the bridge into an HttpError.
 *
 * Returns a plain object: {statusCode, code, message} — the same words are stored with a failed job.
 */
function describeSidecarError(err) {
  const kind = (err && err.kind) || null;
  const message = withoutPaths((err && err.message) || String(err));
  if (err && (err.name === 'AbortError' || err.code === CANCELLED || kind === 'aborted')) {
    return { statusCode: KINDS.cancelled.http_status, code: 'cancelled', message: 'The transcription was cancelled.' };
  }
  if (err && err.code === INVALID_PARAMS) {
    return { statusCode: KINDS.invalid_params.http_status, code: 'invalid_params', message };
  }
  return { statusCode: statusForJobError(kind), code: kind || 'sidecar_error', message };
}

/** The sidecar refused a live stream for capacity (issue 18): 503, with the Retry-After it measured. */
function capacityRefused({ message, retry_after_s: retryAfterS }) {
  const err = new HttpError(503, 'capacity', message);
  err.headers = { 'retry-after': String(Math.max(1, Math.ceil(retryAfterS || DEFAULT_RETRY_AFTER_S))) };
  return err;
}

/** The HTTP status for a failed job's stored error code (the OpenAI route answers with it). */
function statusForJobError(code) {
  return Object.hasOwn(KINDS, code) ? KINDS[code].http_status : 502;
}

module.exports = { HttpError, capacityRefused, describeSidecarError, statusForJobError, withoutPaths };
