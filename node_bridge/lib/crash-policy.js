'use strict';

/**
 * Pure decisions about an unexpected exit: was it a CUDA crash, restart or give up, how long to wait.
 */

/** 0xC0000409, STATUS_STACK_BUFFER_OVERRUN: how abort() / __fastfail ends a process on Windows. */
const WINDOWS_FAST_FAIL = 3221226505;
const WINDOWS_FAST_FAIL_SIGNED = WINDOWS_FAST_FAIL - 2 ** 32;
/** 128 + SIGABRT, when a shell or wrapper reports the abort as an exit code. */
const SHELL_ABORT_EXIT = 134;

function describeExit(exitCode, signal) {
  if (signal) return `signal ${signal}`;
  if (exitCode === WINDOWS_FAST_FAIL || exitCode === WINDOWS_FAST_FAIL_SIGNED) return `exit code ${exitCode} (0xC0000409, fast-fail)`;
  return `exit code ${exitCode}`;
}

function isAbortExit(exitCode, signal) {
  return signal === 'SIGABRT' || exitCode === WINDOWS_FAST_FAIL || exitCode === WINDOWS_FAST_FAIL_SIGNED
    || exitCode === SHELL_ABORT_EXIT;
}

/**
 * Returns why an exit looks like a CUDA crash, or null.
 * @param {object} exit
 * @param {number|null} exit.exitCode
 * @param {string|null} exit.signal
 * @param {string|null} exit.device the last device the process reported ('cuda', 'cpu' or null).
 */
function cudaCrashReason({ exitCode, signal, device }) {
  const how = describeExit(exitCode, signal);
  if (device === 'cuda') return `the sidecar crashed (${how}) while running on CUDA`;
  // It had not said which device yet: an abort during startup is how a broken cuBLAS/cuDNN ends it.
  if (device !== 'cpu' && isAbortExit(exitCode, signal)) return `the sidecar aborted (${how}) before reporting a device`;
  return null;
}

/**
 * The `status` line the bridge itself sends when it moves the sidecar to the CPU after a CUDA crash
 * (to every listener, and to the request it re-sends): the one place that says so.
 * @param {string|number|null} requestId
 * @param {string} reason why (the supervisor's fallbackReason)
 */
function cpuFallbackStatus(requestId, reason) {
  return {
    request_id: requestId, stage: 'fallback', progress: null, device: 'cpu',
    message: `CUDA error detected, retrying with CPU mode (${reason})`,
  };
}

/**
 * Counts crashes in a sliding window: restart with exponential backoff until `limit` crashes fall
 * inside `windowMs`, then give up.
 */
class CrashWindow {
  constructor({ limit = 3, windowMs = 60000, baseDelayMs = 250, maxDelayMs = 5000, now = Date.now } = {}) {
    this.limit = limit;
    this.windowMs = windowMs;
    this.baseDelayMs = baseDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.now = now;
    this.times = [];
  }

  /** Records one crash. @returns {{count: number, giveUp: boolean, delayMs: number}} */
  record() {
    const now = this.now();
    this.times = this.times.filter((time) => now - time < this.windowMs);
    this.times.push(now);
    const count = this.times.length;
    const delayMs = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (count - 1));
    return { count, giveUp: count >= this.limit, delayMs };
  }

  reset() {
    this.times = [];
  }
}

module.exports = { cudaCrashReason, cpuFallbackStatus, describeExit, isAbortExit, CrashWindow, WINDOWS_FAST_FAIL };
