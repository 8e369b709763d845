'use strict';

/**
 * WhisperSidecar: the public face. One long-lived, supervised sidecar process; typed methods for
 * its RPCs; events for everything it says.
 */

const { EventEmitter } = require('node:events');
const { Supervisor } = require('./supervisor');
const { normalizeOptions } = require('./options');
const { SidecarStream } = require('./stream');
const { SidecarError, ClientKinds } = require('./errors');
const { RetryPolicy } = require('./retry-policy');
const { cpuFallbackStatus } = require('./crash-policy');

class WhisperSidecar extends EventEmitter {
  /** @param {import('../index').WhisperSidecarOptions} [options] */
  constructor(options = {}) {
    super();
    this.options = normalizeOptions(options);
    /** How work the sidecar died under is retried: here (resends) and by a job queue above (requeue). */
    this.retryPolicy = new RetryPolicy({ resends: this.options.retryOnCrash ? 1 : 0 });
    this.streams = new Map(); // stream_id -> SidecarStream
    this.supervisor = new Supervisor(this.options, (event, ...args) => {
      this.routeToStreams(event, args);
      this.emit(event, ...args);
    });
  }

  /** 'starting' | 'ready' | 'stopping' | 'stopped' | 'crashed' */
  get state() {
    return this.supervisor.state;
  }

  /** The pid of the current Python process, or null. */
  get pid() {
    return this.supervisor.pid;
  }

  /** The params of the last `ready` notification ({pid, version, python, platform}), or null. */
  get info() {
    return this.supervisor.info;
  }

  /** The Python the bridge found ({command, args, source, executable, version}), once started. */
  get python() {
    return this.supervisor.python;
  }

  /** Why the bridge moved the sidecar to the CPU (after a CUDA crash), or null. */
  get fallbackReason() {
    return this.supervisor.fallbackReason;
  }

  /** The error the bridge gave up with, or null. */
  get fatalError() {
    return this.supervisor.fatalError;
  }

  /** Starts the process; resolves with the `ready` params. Safe to call again. */
  start() {
    return this.supervisor.start();
  }

  /** `shutdown` RPC, stdin closed, SIGTERM then SIGKILL after the named delays; rejects all pending. */
  stop() {
    return this.supervisor.stop();
  }

  ping(options) {
    return this.request('ping', undefined, options);
  }

  /**
   * Opens a live stream (`stream_open`): write bytes as they arrive, get partial and final segments
   * as they are decoded. If the sidecar process dies, the stream emits 'lost'; open a new one.
   * @param {object} [params] format, language, task, model, vad, partials, silence_ms, max_lag_s, …
   * @param {{onSegment?: Function, onStatus?: Function, onSpeech?: Function, timeout?: number}} [options]
   * @returns {Promise<SidecarStream>}
   */
  async openStream(params = {}, { onSegment, onStatus, onSpeech, timeout } = {}) {
    if (params === null || typeof params !== 'object' || Array.isArray(params)) {
      throw new TypeError(`openStream() params must be an object, received ${JSON.stringify(params)}`);
    }
    const info = await this.request('stream_open', params, { timeout });
    const stream = new SidecarStream({
      id: info.stream_id,
      info,
      request: (method, p) => this.request(method, p),
      release: () => this.streams.delete(info.stream_id),
    });
    if (onSegment) stream.on('segment', onSegment);
    if (onStatus) stream.on('status', onStatus);
    if (onSpeech) stream.on('speech', onSpeech);
    this.streams.set(info.stream_id, stream);
    return stream;
  }

  routeToStreams(event, args) {
    if (event === 'segment' || event === 'status' || event === 'speech') {
      const body = args[0];
      const stream = body && body.stream_id ? this.streams.get(body.stream_id) : null;
      if (stream) stream.handleNotification(event, body);
    } else if ((event === 'exit' && !(args[0] && args[0].expected)) || event === 'fatal') {
      const error = event === 'fatal' ? args[0] : new SidecarError(
        `the sidecar exited under the stream (${args[0].signal || `code ${args[0].exitCode}`})`,
        { kind: ClientKinds.Exited, exitCode: args[0].exitCode, signal: args[0].signal });
      for (const stream of [...this.streams.values()]) stream.handleLost(error);
    } else if (event === 'exit') {
      const error = new SidecarError('the sidecar was stopped', { kind: ClientKinds.Stopped });
      for (const stream of [...this.streams.values()]) stream.handleLost(error);
    }
  }

  /** The `gpu_status` RPC: by default once the device is decided. @param {{recheck?: boolean, wait?: boolean}} [params] */
  async gpuStatus(params, options) {
    return this.withDevice(await this.request('gpu_status', params, options));
  }

  /** The `load_model` RPC. @param {{model?: string, device?: string}} [params] */
  async loadModel(params, options) {
    return this.withDevice(await this.request('load_model', params, options));
  }

  /** The `list_models` RPC: the models the sidecar has without a download, once the device is decided. */
  listModels(options) {
    return this.request('list_models', undefined, options);
  }

  /**
   * The `transcribe` RPC. Retried once on a fresh process if the sidecar crashes meanwhile (on the
   * CPU if the crash was a CUDA crash).
   * @param {string} filePath any file PyAV decodes (audio or video).
   * @param {object} [params] the sidecar's params: language, task, beam_size, vad_filter, …
   * @param {object} [options] signal, timeout, onStatus, onSegment, onRetry (called when the request
   *   is re-sent after a crash: segments then start again from the first one).
   */
  async transcribe(filePath, params = {}, options = {}) {
    if (typeof filePath !== 'string' || filePath === '') {
      throw new TypeError(`transcribe() needs a file path, received ${JSON.stringify(filePath)}`);
    }
    if (params === null || typeof params !== 'object' || Array.isArray(params)) {
      throw new TypeError(`transcribe() params must be an object, received ${JSON.stringify(params)}`);
    }
    let retried = null;
    const result = await this.request('transcribe', { ...params, path: filePath }, {
      ...options,
      retries: this.retryPolicy.resends,
      onRetry: (info) => {
        if (options.onRetry) options.onRetry(info);
        retried = { reason: info.reason, attempt: info.attempt, fallback_reason: info.cudaFallback ? info.fallbackReason : null };
        if (info.cudaFallback && options.onStatus) options.onStatus(cpuFallbackStatus(info.previousId, info.fallbackReason));
      },
    });
    if (retried && result && typeof result === 'object') result.retried = retried;
    return this.withDevice(result);
  }

  /**
   * Any RPC by name.
   * @param {string} method
   * @param {object} [params]
   * @param {object} [options] signal, timeout (default from the `timeouts` option), onStatus,
   *   onSegment, retries.
   */
  request(method, params, { signal, timeout, onStatus, onSegment, retries = 0, onRetry } = {}) {
    if (typeof method !== 'string' || method === '') {
      return Promise.reject(new TypeError(`request() needs a method name, received ${JSON.stringify(method)}`));
    }
    const effectiveTimeout = timeout === undefined ? (this.options.timeouts[method] || 0) : timeout;
    if (!Number.isFinite(effectiveTimeout) || effectiveTimeout < 0) {
      return Promise.reject(new TypeError(`timeout must be a number >= 0, received ${JSON.stringify(timeout)}`));
    }
    const onNotification = onStatus || onSegment ? (name, body) => {
      if (name === 'status' && onStatus) onStatus(body);
      else if (name === 'segment' && onSegment) onSegment(body.segment, body);
    } : undefined;
    return this.supervisor.request(method, params, {
      signal, timeout: effectiveTimeout, retries, onRetry, onNotification,
    });
  }

  withDevice(result) {
    if (!result || typeof result !== 'object') return result;
    this.supervisor.noteDevice(result.device);
    const reason = this.supervisor.fallbackReason;
    if (reason && result.device === 'cpu' && !result.fallback_reason) {
      result.fallback_reason = reason;
    }
    return result;
  }
}

module.exports = { WhisperSidecar };
