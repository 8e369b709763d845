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
  }

  toJSON() {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

/** data.kind values from the sidecar that are the caller's fault. */
const CLIENT_KINDS = new Set([
  'file_not_found', 'not_audio', 'empty_file', 'invalid_params', 'unknown_language', 'is_directory',
  'model_unavailable',
]);

/** JSON-RPC codes the sidecar uses for the caller's mistakes. */
const INVALID_PARAMS = -32602;
const CANCELLED = -32800;

/**
 * Turns an error from the bridge into an HttpError.
 *
 * Returns a plain object: {statusCode, code, message} — the same words are stored with a failed job.
 */
function describeSidecarError(err) {
  const kind = (err && err.kind) || null;
  const message = (err && err.message) || String(err);
  if (err && (err.name === 'AbortError' || err.code === CANCELLED || kind === 'aborted')) {
    return { statusCode: 409, code: 'cancelled', message: 'The transcription was cancelled.' };
  }
  if (err && err.code === INVALID_PARAMS) return { statusCode: 400, code: 'invalid_params', message };
  if (kind && CLIENT_KINDS.has(kind)) return { statusCode: 400, code: kind, message };
  if (kind === 'queue_full') return { statusCode: 503, code: kind, message };
  return { statusCode: 502, code: kind || 'sidecar_error', message };
}

/** The HTTP status for a failed job's stored error code (the OpenAI route answers with it). */
function statusForJobError(code) {
  if (code === 'invalid_params' || CLIENT_KINDS.has(code)) return 400;
  if (code === 'cancelled') return 409;
  if (code === 'queue_full') return 503;
  return 502;
}

module.exports = { HttpError, describeSidecarError, statusForJobError };
