'use strict';

/**
 * Timers for one request, tied to the source's AbortSignal: an idle timer (re-armed by touch(),
 * paused while the consumer holds a chunk) and an optional deadline. Whichever fires aborts
 * `guard.signal`, and `guard.reason` says which one did ('idle', 'deadline' or 'aborted').
 */

class RequestGuard {
  /**
   * @param {AbortSignal} parent the source's signal
   * @param {{idleMs?: number|null, deadlineMs?: number|null}} timers
   */
  constructor(parent, { idleMs = null, deadlineMs = null } = {}) {
    this.controller = new AbortController();
    this.signal = this.controller.signal;
    this.reason = null;
    this.idleMs = idleMs;
    this.idleTimer = null;
    this.deadlineTimer = null;
    this.parent = parent;
    this.onParentAbort = () => this.fire('aborted');
    if (parent.aborted) this.fire('aborted');
    else parent.addEventListener('abort', this.onParentAbort, { once: true });
    this.touch();
    this.setDeadline(deadlineMs);
  }

  fire(reason) {
    if (this.reason) return;
    this.reason = reason;
    this.clearTimers();
    this.controller.abort(new Error(`request ${reason}`));
  }

  /** Bytes arrived (or the wait starts now): the idle timer starts over. */
  touch() {
    clearTimeout(this.idleTimer);
    if (this.idleMs != null && !this.reason) this.idleTimer = setTimeout(() => this.fire('idle'), this.idleMs);
  }

  /** The consumer holds a chunk: its slowness is not the server's silence. */
  pause() {
    clearTimeout(this.idleTimer);
  }

  setIdle(ms) {
    this.idleMs = ms;
    this.touch();
  }

  setDeadline(ms) {
    clearTimeout(this.deadlineTimer);
    if (ms != null && !this.reason) this.deadlineTimer = setTimeout(() => this.fire('deadline'), ms);
  }

  clearTimers() {
    clearTimeout(this.idleTimer);
    clearTimeout(this.deadlineTimer);
  }

  /** Stops the timers and lets go of the parent signal (the request is done). */
  dispose() {
    this.clearTimers();
    this.parent.removeEventListener('abort', this.onParentAbort);
  }
}

/** Resolves after ms, or rejects with the signal's reason as soon as it aborts. No timer outlives it. */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

module.exports = { RequestGuard, sleep };
