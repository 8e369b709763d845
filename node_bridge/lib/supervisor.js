'use strict';

/**
 * The lifecycle of the sidecar process: start, wait for `ready`, restart with backoff after an
 * unexpected exit (on the CPU after a CUDA crash), give up after too many crashes in a window, stop.
 *
 * States: 'stopped' → start() → 'starting' → ready → 'ready'; an unexpected exit → 'crashed' →
 * (backoff) → 'starting' … or, after the crash limit, 'crashed' for good (fatalError set, `fatal`
 * emitted); stop() → 'stopping' → 'stopped'. Requests made while 'starting' or 'crashed' with a
 * restart planned wait for the next `ready`; in 'stopped', 'stopping' or after give-up they reject.
 */

const { Connection } = require('./connection');
const { SidecarError, ClientKinds } = require('./errors');
const { readLines } = require('./framing');
const { findPython } = require('./python');
const { spawnSidecar, buildEnv } = require('./spawn');
const { terminate, hasExited } = require('./terminate');
const { cleanupOnExit } = require('./cleanup');
const { CrashWindow, cpuFallbackStatus, cudaCrashReason, describeExit } = require('./crash-policy');

/** After `exit`, how long to wait for the pipes to close (a grandchild may hold them open). */
const CLOSE_GRACE_MS = 1000;

const States = Object.freeze({
  Starting: 'starting', Ready: 'ready', Stopping: 'stopping', Stopped: 'stopped', Crashed: 'crashed',
});

function deferred() {
  const result = { settled: false };
  result.promise = new Promise((resolve, reject) => {
    result.resolve = (value) => { result.settled = true; resolve(value); };
    result.reject = (error) => { result.settled = true; reject(error); };
  });
  result.promise.catch(() => {}); // the caller of start() may never look at it
  return result;
}

class Supervisor {
  /**
   * @param {object} options the normalized WhisperSidecar options.
   * @param {(event: string, ...args: any[]) => void} emit
   */
  constructor(options, emit) {
    this.options = options;
    this.emit = emit;
    this.log = options.logger;
    this.state = States.Stopped;
    this.connection = new Connection({
      log: this.log,
      maxLineBytes: options.maxLineBytes,
      onNotification: (method, params) => this.handleNotification(method, params),
    });
    this.crashes = new CrashWindow({
      limit: options.crashLimit, windowMs: options.crashWindowMs,
      baseDelayMs: options.restartDelayMs, maxDelayMs: options.maxRestartDelayMs,
    });
    this.child = null;
    this.info = null; // the last `ready` params
    this.device = null; // the last device the current process reported
    this.forceCpu = false;
    this.fallbackReason = null;
    this.fatalError = null;
    this.stderrTail = [];
    this.python = null;
    this.starting = null; // deferred of the current start()
    this.stopping = null; // promise of the current stop()
    this.restartTimer = null;
    this.readyTimer = null;
  }

  get pid() {
    return this.child ? this.child.pid : null;
  }

  async start() {
    if (this.stopping) await this.stopping;
    if (this.state === States.Ready) return this.info;
    const restarting = this.state === States.Starting || (this.state === States.Crashed && !this.fatalError);
    if (restarting && this.starting) return this.starting.promise;
    // A fresh lifecycle: from 'stopped', or after giving up.
    this.starting = deferred();
    this.fatalError = null;
    this.crashes.reset();
    this.forceCpu = Boolean(this.options.forceCpu);
    this.fallbackReason = null; // with forceCpu the sidecar itself says why it is on the CPU
    this.setState(States.Starting);
    const starting = this.starting;
    try {
      this.python = await findPython({
        python: this.options.python, env: this.options.discoveryEnv, projectRoot: this.options.projectRoot,
        module: this.options.pythonModule,
      });
    } catch (error) {
      this.setState(States.Stopped);
      this.connection.rejectAll((request) => requestError(error, request.method));
      starting.reject(error);
      return starting.promise;
    }
    if (this.state === States.Starting && this.starting === starting) this.spawnChild();
    return starting.promise;
  }

  spawnChild() {
    const env = buildEnv({ ...this.options, forceCpu: this.forceCpu });
    let child;
    try {
      child = spawnSidecar({
        python: this.python, args: this.options.args, cwd: this.options.cwd, env, spawn: this.options.spawn,
      });
    } catch (error) {
      this.giveUp(this.spawnFailure(error));
      return;
    }
    this.child = child;
    this.device = null;
    this.stderrTail = [];
    const exit = { reason: null, handled: false };
    child.on('error', (error) => {
      if (child.pid === undefined) this.giveUp(this.spawnFailure(error), child);
      else this.log.warn(`sidecar process error: ${error.message}`);
    });
    if (child.pid === undefined) return; // spawn failed; 'error' follows
    cleanupOnExit(child);
    child.stdin.on('error', (error) => this.log.debug(`sidecar stdin: ${error.message}`));
    this.connection.attach({ input: child.stdout, output: child.stdin });
    readLines(child.stderr, (line) => this.handleStderr(line));
    const gone = (code, signal) => {
      if (exit.handled) return;
      exit.handled = true;
      this.handleExit(child, code, signal, exit.reason);
    };
    child.once('exit', (code, signal) => {
      setTimeout(() => gone(code, signal), CLOSE_GRACE_MS).unref();
      child.once('close', () => gone(code, signal));
    });
    if (this.options.startTimeoutMs > 0) {
      this.readyTimer = setTimeout(() => {
        exit.reason = `no ready notification within ${this.options.startTimeoutMs} ms`;
        this.log.warn(`sidecar pid ${child.pid}: ${exit.reason}; killing it`);
        child.kill('SIGKILL');
      }, this.options.startTimeoutMs);
    }
  }

  spawnFailure(error) {
    const command = [this.python.command, ...this.python.args, ...this.options.args].join(' ');
    return new SidecarError(`could not start the sidecar (${command}): ${error.message}`, {
      kind: ClientKinds.SpawnFailed, cause: error, fatal: true,
    });
  }

  handleStderr(line) {
    this.stderrTail.push(line);
    if (this.stderrTail.length > this.options.stderrTailLines) this.stderrTail.shift();
    this.emit('stderr', line);
  }

  handleNotification(method, params) {
    const body = params && typeof params === 'object' ? params : {};
    if (method === 'ready') {
      if (this.state !== States.Starting) return; // stop() was called meanwhile
      clearTimeout(this.readyTimer);
      this.info = body;
      this.setState(States.Ready);
      this.connection.open();
      this.emit('ready', body);
      if (this.starting) this.starting.resolve(body);
    } else if (method === 'status') {
      this.noteDevice(body.device);
      this.emit('status', body);
    } else if (method === 'segment') {
      this.emit('segment', body);
    } else if (method === 'speech') {
      this.emit('speech', body); // a live stream's turns: started, stopped, committed
    } else {
      this.log.debug(`unknown notification ${method}`);
      this.emit('notification', method, params);
    }
  }

  /** Remembers the device the current process runs on (from statuses and results). */
  noteDevice(device) {
    if (device === 'cuda' || device === 'cpu') this.device = device;
  }

  handleExit(child, exitCode, signal, reason) {
    if (child !== this.child) return;
    clearTimeout(this.readyTimer);
    this.child = null;
    const expected = this.state === States.Stopping || this.state === States.Stopped;
    this.emit('exit', { pid: child.pid, exitCode, signal, expected });
    if (expected) {
      this.connection.detach((request) => this.stoppedError(request.method), { shouldRetry: () => false });
      return;
    }
    const how = reason || describeExit(exitCode, signal);
    const cudaReason = this.options.cudaFallback && !this.forceCpu
      ? cudaCrashReason({ exitCode, signal, device: this.device }) : null;
    const verdict = this.crashes.record();
    const details = { exitCode, signal, data: { kind: ClientKinds.Exited, stderr: this.stderrTail.slice(-10) } };
    if (verdict.giveUp) {
      this.giveUp(new SidecarError(
        `the sidecar crashed ${verdict.count} times within ${this.options.crashWindowMs} ms, giving up; `
        + `last: ${how}${tailText(this.stderrTail)}`,
        { ...details, kind: ClientKinds.Fatal, data: { ...details.data, kind: ClientKinds.Fatal } }));
      return;
    }
    if (cudaReason) {
      this.forceCpu = true;
      this.fallbackReason = `${cudaReason}; restarted with FORCE_CPU=1`;
    }
    const retryInfo = { reason: how, exitCode, signal, forceCpu: this.forceCpu, fallbackReason: this.fallbackReason,
      cudaFallback: Boolean(cudaReason) };
    this.connection.detach((request) => new SidecarError(`${request.method}: the sidecar exited (${how})`
      + `${tailText(this.stderrTail)}`, { ...details, kind: ClientKinds.Exited, method: request.method }),
    { retryInfo });
    this.setState(States.Crashed);
    // start() during the restart waits for the next ready; a first start() still waiting keeps its promise.
    if (!this.starting || this.starting.settled) this.starting = deferred();
    this.emit('restart', { attempt: verdict.count, delayMs: verdict.delayMs, ...retryInfo });
    if (cudaReason) {
      this.emit('status', cpuFallbackStatus(null, this.fallbackReason));
    }
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.state !== States.Crashed) return;
      this.setState(States.Starting);
      this.spawnChild();
    }, verdict.delayMs);
  }

  giveUp(error, child) {
    if (child && child !== this.child) return;
    this.child = null;
    clearTimeout(this.readyTimer);
    this.fatalError = error;
    this.setState(States.Crashed);
    this.connection.detach((request) => requestError(error, request.method), { shouldRetry: () => false });
    this.connection.rejectAll((request) => requestError(error, request.method));
    if (this.starting) this.starting.reject(error);
    this.emit('fatal', error);
  }

  stoppedError(method) {
    return new SidecarError(`${method}: the sidecar was stopped`, { kind: ClientKinds.Stopped, method });
  }

  /** The error a new request gets right away, or null when it may be sent or queued. */
  refusal(method) {
    if (this.state === States.Stopped || this.state === States.Stopping) {
      return new SidecarError(`${method}: the sidecar is ${this.state}; call start() first`, {
        kind: this.state === States.Stopping ? ClientKinds.Stopped : ClientKinds.NotRunning, method,
      });
    }
    if (this.fatalError) return requestError(this.fatalError, method);
    return null;
  }

  request(method, params, options) {
    const refusal = this.refusal(method);
    if (refusal) return Promise.reject(refusal);
    return this.connection.request(method, params, options);
  }

  stop() {
    if (this.stopping) return this.stopping;
    if (this.state === States.Stopped) return Promise.resolve();
    this.stopping = this.shutdown().finally(() => {
      this.stopping = null;
    });
    return this.stopping;
  }

  async shutdown() {
    this.setState(States.Stopping);
    clearTimeout(this.restartTimer);
    clearTimeout(this.readyTimer);
    this.restartTimer = null;
    this.connection.rejectAll((request) => this.stoppedError(request.method));
    if (this.starting) this.starting.reject(this.stoppedError('start'));
    const child = this.child;
    if (child && !hasExited(child)) {
      if (this.connection.isOpen) {
        this.connection.request('shutdown', undefined, { timeout: this.options.gracefulStopMs })
          .catch((error) => this.log.debug(`shutdown: ${error.message}`));
      }
      child.stdin.end();
      const how = await terminate(child, {
        gracefulMs: this.options.gracefulStopMs, forceKillAfterMs: this.options.forceKillAfterMs,
      });
      if (how !== 'exited') this.log.warn(`sidecar pid ${child.pid} did not exit in time; ${how} it`);
    }
    if (this.child === child && child) this.handleExit(child, child.exitCode, child.signalCode, null);
    this.child = null;
    this.connection.rejectAll((request) => this.stoppedError(request.method));
    this.setState(States.Stopped);
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }
}

function requestError(error, method) {
  return new SidecarError(`${method}: ${error.message}`, {
    code: error.code, kind: error.kind, data: error.data, exitCode: error.exitCode, signal: error.signal,
    method, cause: error, fatal: error.isFatal,
  });
}

function tailText(lines) {
  const last = lines.slice(-5).join('\n    ');
  return last ? `\n  stderr (last lines):\n    ${last}` : '';
}

module.exports = { Supervisor, States };
