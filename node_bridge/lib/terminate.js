'use strict';

/**
 * Ending a child: wait for it to leave on its own, then SIGTERM, then SIGKILL, each after a named delay.
 */

function hasExited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves true once `child` has exited, or false after `ms` (never rejects). */
function waitForExit(child, ms) {
  if (hasExited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

function sendSignal(child, signal) {
  try {
    child.kill(signal);
  } catch {
    // already gone
  }
}

/**
 * Gives the child `gracefulMs` to exit (the caller has already asked it to: shutdown RPC, stdin
 * closed), then sends SIGTERM, then SIGKILL after `forceKillAfterMs`.
 * @returns {Promise<'exited'|'terminated'|'killed'>} how it ended.
 */
async function terminate(child, { gracefulMs, forceKillAfterMs }) {
  if (await waitForExit(child, gracefulMs)) return 'exited';
  sendSignal(child, 'SIGTERM');
  if (await waitForExit(child, forceKillAfterMs)) return 'terminated';
  sendSignal(child, 'SIGKILL');
  await waitForExit(child, forceKillAfterMs);
  return 'killed';
}

module.exports = { terminate, waitForExit, hasExited };
