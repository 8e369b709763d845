'use strict';

/**
 * The JSON-RPC client side of one sidecar lifetime: ids, the pending map, per-request timeouts,
 * AbortSignal cancellation, notification routing.
 *
 * A Connection outlives the processes: `attach()` binds it to a process's pipes, `open()` starts
 * sending once that process said `ready`, `detach()` is called when it exits (pending requests are
 * re-queued when they still have retries, otherwise rejected), `rejectAll()` ends everything.
 * Requests made while no process is open wait in a FIFO queue; their timeout already runs.
 * It never touches child_process: the pipes are passed in, so tests use PassThrough streams.
 */

const { readLines, encodeMessage, parseMessage } = require('./framing');
const { SidecarError, ErrorCodes, ClientKinds } = require('./errors');

const DEFAULT_CANCEL_TIMEOUT_MS = 5000;
const LINE_PREVIEW_CHARS = 200;

const silentLog = { debug() {}, warn() {} };

class Connection {
  /**
   * @param {object} [options]
   * @param {{debug: Function, warn: Function}} [options.log]
   * @param {(method: string, params: any) => void} [options.onNotification] every notification.
   * @param {number} [options.cancelTimeoutMs] how long a `cancel` RPC may take.
   * @param {number} [options.maxLineBytes]
   */
  constructor({ log = silentLog, onNotification = () => {}, cancelTimeoutMs = DEFAULT_CANCEL_TIMEOUT_MS,
    maxLineBytes } = {}) {
    this.log = log;
    this.onNotification = onNotification;
    this.cancelTimeoutMs = cancelTimeoutMs;
    this.maxLineBytes = maxLineBytes;
    this.nextId = 1;
    this.pending = new Map(); // id -> request, sent to the current process
    this.queue = []; // requests waiting for an open process
    this.output = null;
    this.stopReading = null;
    this.isOpen = false;
  }

  /** Binds to a new process's pipes (its stdout as `input`, its stdin as `output`). */
  attach({ input, output }) {
    if (this.stopReading) this.stopReading();
    this.output = output;
    this.isOpen = false;
    this.stopReading = readLines(input, (line) => this.handleLine(line), {
      maxLineBytes: this.maxLineBytes,
      onOverflow: (bytes) => this.log.warn(`dropping a stdout line longer than ${bytes} bytes`),
    });
  }

  /** The process is ready: send everything queued, in order. */
  open() {
    this.isOpen = true;
    const queued = this.queue;
    this.queue = [];
    for (const request of queued) this.send(request);
  }

  /**
   * The process is gone. Requests it had accepted are re-queued while they have retries left and
   * `shouldRetry(request)` agrees (their `onRetry({...retryInfo, previousId, attempt})` is called),
   * the others are rejected with `makeError(request)`. Requests still queued stay queued.
   */
  detach(makeError, { shouldRetry = () => true, retryInfo = {} } = {}) {
    if (this.stopReading) this.stopReading();
    this.stopReading = null;
    this.output = null;
    this.isOpen = false;
    const retried = [];
    for (const request of [...this.pending.values()]) {
      this.pending.delete(request.id);
      if (request.retries > 0 && shouldRetry(request)) {
        request.retries -= 1;
        request.attempts += 1;
        if (request.onRetry) request.onRetry({ ...retryInfo, previousId: request.id, attempt: request.attempts });
        request.id = null;
        retried.push(request);
      } else {
        this.settle(request, makeError(request));
      }
    }
    this.queue = [...retried, ...this.queue];
  }

  /** Rejects every pending and queued request; nothing may hang. */
  rejectAll(makeError) {
    const all = [...this.pending.values(), ...this.queue];
    this.pending.clear();
    this.queue = [];
    for (const request of all) this.settle(request, makeError(request));
  }

  get size() {
    return this.pending.size + this.queue.length;
  }

  /**
   * Sends a request (now, or once a process is open) and resolves with its result.
   * @param {string} method
   * @param {object} [params]
   * @param {object} [options]
   * @param {number} [options.timeout] ms until it rejects with a timedOut error; 0 = none.
   * @param {AbortSignal} [options.signal] aborting sends `cancel` and rejects with an AbortError.
   * @param {number} [options.retries] times it is re-sent to the next process after a crash.
   * @param {(method: string, params: any) => void} [options.onNotification] gets the notifications
   *   whose `params.request_id` is this request's id.
   * @param {(info: object) => void} [options.onRetry] called when it is re-queued after a crash.
   */
  request(method, params, { timeout = 0, signal, retries = 0, onNotification, onRetry } = {}) {
    return new Promise((resolve, reject) => {
      if (signal && signal.aborted) {
        reject(SidecarError.aborted(method, signal.reason));
        return;
      }
      const request = {
        method, params, id: null, retries, attempts: 1, onNotification, onRetry, resolve, reject,
        timer: null, signal, onAbort: null, done: false,
      };
      if (timeout > 0) {
        request.timer = setTimeout(() => this.fail(request, new SidecarError(
          `${method}: no answer within ${timeout} ms`, { kind: ClientKinds.Timeout, method })), timeout);
      }
      if (signal) {
        request.onAbort = () => this.fail(request, SidecarError.aborted(method, signal.reason));
        signal.addEventListener('abort', request.onAbort, { once: true });
      }
      if (this.isOpen) this.send(request);
      else this.queue.push(request);
    });
  }

  send(request) {
    request.id = this.nextId++;
    this.pending.set(request.id, request);
    const message = { jsonrpc: '2.0', id: request.id, method: request.method };
    if (request.params !== undefined) message.params = request.params;
    this.write(message);
  }

  write(message) {
    if (!this.output || this.output.destroyed || this.output.writableEnded) {
      // The process is going away; its exit detaches (and retries or rejects) this request.
      this.log.debug(`not written, stdin is closed: ${message.method || message.id}`);
      return;
    }
    this.output.write(encodeMessage(message));
  }

  /** Rejects a request early (timeout, abort) and asks the sidecar to stop working on it. */
  fail(request, error) {
    if (request.done) return;
    const { id } = request;
    if (id !== null && this.pending.get(id) === request) {
      this.pending.delete(id);
      if (request.method !== 'cancel' && this.isOpen) {
        this.request('cancel', { id }, { timeout: this.cancelTimeoutMs })
          .catch((cancelError) => this.log.debug(`cancel ${id} failed: ${cancelError.message}`));
      }
    } else {
      const index = this.queue.indexOf(request);
      if (index !== -1) this.queue.splice(index, 1);
    }
    this.settle(request, error);
  }

  settle(request, error, result) {
    if (request.done) return;
    request.done = true;
    if (request.timer) clearTimeout(request.timer);
    if (request.onAbort) request.signal.removeEventListener('abort', request.onAbort);
    if (error) request.reject(error);
    else request.resolve(result);
  }

  handleLine(line) {
    const parsed = parseMessage(line);
    if (parsed.error) {
      if (line.trim() !== '') this.log.warn(`skipping a stdout line (${parsed.error}): ${preview(line)}`);
      return;
    }
    const message = parsed.message;
    const hasId = message.id !== undefined && message.id !== null;
    if (typeof message.method === 'string') {
      if (hasId) this.refuseRequest(message);
      else this.dispatchNotification(message.method, message.params);
    } else if (hasId && ('result' in message || 'error' in message)) {
      this.handleResponse(message);
    } else if ('error' in message) {
      // id null: the sidecar could not read something we sent.
      this.log.warn(`sidecar error without id: ${preview(JSON.stringify(message.error))}`);
    } else {
      this.log.warn(`skipping a message that is neither response nor notification: ${preview(line)}`);
    }
  }

  handleResponse(message) {
    const request = this.pending.get(message.id);
    if (!request) {
      // Usually the answer to a request that was aborted or timed out.
      this.log.debug(`response for unknown or settled id ${message.id}`);
      return;
    }
    this.pending.delete(message.id);
    if ('error' in message) this.settle(request, SidecarError.fromResponse(message.error, request.method));
    else this.settle(request, null, message.result);
  }

  dispatchNotification(method, params) {
    const requestId = params && typeof params === 'object' ? params.request_id : undefined;
    const request = requestId === undefined || requestId === null ? undefined : this.pending.get(requestId);
    this.callListener(this.onNotification, method, params);
    if (request && request.onNotification) this.callListener(request.onNotification, method, params);
  }

  callListener(listener, method, params) {
    try {
      listener(method, params);
    } catch (error) {
      // A listener's bug must not kill the read loop.
      this.log.warn(`a ${method} listener threw: ${error && error.stack ? error.stack : error}`);
    }
  }

  refuseRequest(message) {
    this.write({
      jsonrpc: '2.0',
      id: message.id,
      error: { code: ErrorCodes.MethodNotFound, message: `the Node bridge serves no method ${message.method}` },
    });
  }
}

function preview(line) {
  return line.length > LINE_PREVIEW_CHARS ? `${line.slice(0, LINE_PREVIEW_CHARS)}… (${line.length} chars)` : line;
}

module.exports = { Connection };
