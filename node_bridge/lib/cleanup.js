'use strict';

/**
 * The child dies with the parent. Live children are kept in one registry; the handlers for the
 * parent's `exit`, SIGINT and SIGTERM are installed once, when the first child registers, and removed
 * when the last one leaves. On a signal, when no one else listens for it, the signal is raised again
 * after the cleanup so the parent still ends the way it would have without us.
 */

const children = new Set();
const SIGNALS = ['SIGINT', 'SIGTERM'];
let installed = false;

function killAll() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

function onExit() {
  killAll();
}

function onSignal(signal) {
  killAll();
  if (process.listenerCount(signal) === 1) {
    uninstall();
    process.kill(process.pid, signal);
  }
}

function install() {
  if (installed) return;
  installed = true;
  process.on('exit', onExit);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall() {
  if (!installed) return;
  installed = false;
  process.off('exit', onExit);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/** Kills `child` when the parent exits; forgets it by itself once the child has exited. */
function cleanupOnExit(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  children.add(child);
  install();
  child.once('exit', () => forget(child));
}

function forget(child) {
  children.delete(child);
  if (children.size === 0) uninstall();
}

module.exports = { cleanupOnExit, forget };
