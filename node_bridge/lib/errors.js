'use strict';

/**
 * One error class for everything the bridge rejects with.
 *
 * An error that the sidecar sent back keeps its JSON-RPC `code`, `data` and `data.kind`. An error
 * raised on the Node side (timeout, abort, the process exited, stop(), give-up) has `code: null`
 * (or -32800 for an abort, the JSON-RPC "request cancelled" code) and a `kind` from ClientKinds.
 * Flags in the style of execa: `timedOut`, `isCanceled`, `isTerminated`, `isFatal`, `exitCode`, `signal`.
 */

const protocol = require('./protocol.json');

/** 'parse_error' -> 'ParseError' */
const pascal = (name) => name.replace(/(^|_)([a-z])/g, (_, __, letter) => letter.toUpperCase());

/**
 * The exact JSON-RPC 2.0 codes, plus the LSP "request cancelled" code the sidecar uses, as the
 * protocol's errors.json declares them (ParseError, InvalidRequest, MethodNotFound, InvalidParams,
 * InternalError, RequestCancelled; read from lib/protocol.json, which scripts/gen-types.js writes).
 */
const ErrorCodes = Object.freeze({
  ...Object.fromEntries(Object.entries(protocol.codes).map(([name, code]) => [pascal(name), code])),
  /** Application errors from the sidecar (data.kind says which) lie in this range. */
  ServerErrorStart: -32099,
  ServerErrorEnd: -32000,
});

/** Kinds of errors raised on the Node side; sidecar errors carry the sidecar's own data.kind. */
const ClientKinds = Object.freeze({
  Timeout: 'timeout',
  Aborted: 'aborted',
  Exited: 'exited',
  Stopped: 'stopped',
  Fatal: 'fatal',
  NotRunning: 'not_running',
  SpawnFailed: 'spawn_failed',
  PythonNotFound: 'python_not_found',
});

class SidecarError extends Error {
  /**
   * @param {string} message
   * @param {object} [details]
   * @param {number|null} [details.code] JSON-RPC error code, null for errors raised in Node.
   * @param {string} [details.kind] data.kind from the sidecar, or one of ClientKinds.
   * @param {object} [details.data] data from the sidecar's error object (or bridge details).
   * @param {unknown} [details.cause]
   * @param {string} [details.method] the RPC method of the request that failed.
   * @param {number|null} [details.exitCode]
   * @param {string|null} [details.signal]
   * @param {string} [details.name] 'AbortError' for aborts, so `err.name === 'AbortError'` works.
   * @param {boolean} [details.fatal] the bridge gave up (also implied by kind 'fatal').
   */
  constructor(message, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = details.name || 'SidecarError';
    this.code = details.code === undefined ? null : details.code;
    this.data = details.data === undefined ? null : details.data;
    this.kind = details.kind || (this.data && typeof this.data.kind === 'string' ? this.data.kind : null);
    this.method = details.method || null;
    this.exitCode = details.exitCode === undefined ? null : details.exitCode;
    this.signal = details.signal === undefined ? null : details.signal;
    this.timedOut = this.kind === ClientKinds.Timeout;
    this.isCanceled = this.kind === ClientKinds.Aborted || this.code === ErrorCodes.RequestCancelled;
    this.isTerminated = this.kind === ClientKinds.Exited || this.kind === ClientKinds.Stopped
      || this.kind === ClientKinds.Fatal;
    this.isFatal = this.kind === ClientKinds.Fatal || Boolean(details.fatal);
  }

  /** Builds the error for a JSON-RPC error object received from the sidecar. */
  static fromResponse(error, method) {
    const valid = error && typeof error === 'object';
    const code = valid && Number.isInteger(error.code) ? error.code : ErrorCodes.InternalError;
    const message = valid && typeof error.message === 'string' ? error.message : 'malformed error response';
    const data = valid && error.data !== undefined ? error.data : null;
    return new SidecarError(`${method}: ${message}`, { code, data, method });
  }

  /** The rejection for a request whose AbortSignal fired. */
  static aborted(method, reason) {
    return new SidecarError(`${method}: aborted`, {
      name: 'AbortError', code: ErrorCodes.RequestCancelled, kind: ClientKinds.Aborted, method, cause: reason,
    });
  }
}

module.exports = { SidecarError, ErrorCodes, ClientKinds };
