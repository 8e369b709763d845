'use strict';

/**
 * What happens to work the sidecar died under: the one retry policy, written once.
 *
 * Two owners apply it, each at its own level, and neither guesses from the traffic:
 * - the bridge re-sends an in-flight `transcribe` to the restarted sidecar `resends` times within
 *   one call (lib/sidecar.js), and tells the caller through `onRetry`;
 * - a caller that keeps jobs of its own (the relay) runs a job again, up to `attempts` calls in
 *   all, when a call failed because the sidecar exited (`requeue`).
 */
class RetryPolicy {
  /**
   * @param {object} [options]
   * @param {number} [options.resends] re-sends of one call after a crash (0: none); default 1.
   * @param {number} [options.attempts] calls per job, counting the first; default 3.
   */
  constructor({ resends = 1, attempts = 3 } = {}) {
    this.resends = resends;
    this.attempts = attempts;
  }

  /** Whether a job whose call number `attempts` failed with `error` runs again. */
  requeue(error, attempts) {
    return Boolean(error) && error.kind === 'exited' && !error.isFatal && attempts < this.attempts;
  }
}

module.exports = { RetryPolicy };
