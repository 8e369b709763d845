'use strict';

// Shared by the node_bridge tests: fake sidecars, leak checks.

const fs = require('node:fs');
const path = require('node:path');
const { once } = require('node:events');
const { WhisperSidecar } = require('../../node_bridge');

const FIXTURES = path.join(__dirname, 'fixtures');

/** A WhisperSidecar running tests/node_bridge/fixtures/NAME.js with Node; stopped after the test. */
function fakeSidecar(t, name, options = {}) {
  const logs = { warn: [], debug: [] };
  const sidecar = new WhisperSidecar({
    python: process.execPath,
    args: [path.join(FIXTURES, `${name}.js`)],
    restartDelayMs: 20,
    gracefulStopMs: 2000,
    forceKillAfterMs: 1000,
    logger: { warn: (m) => logs.warn.push(m), debug: (m) => logs.debug.push(m) },
    ...options,
  });
  sidecar.logs = logs;
  t.after(() => sidecar.stop());
  return sidecar;
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return error.code === 'EPERM';
  }
  // A dead process whose parent is gone stays a zombie until init reaps it: that is not a leak.
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()[0] !== 'Z';
  } catch {
    return true;
  }
}

/** Waits until `pid` is gone (a killed process may take a moment to be reaped). */
async function waitGone(pid, ms = 5000) {
  const end = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > end) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}

/** Collects every emission of `events` on `emitter`. */
function record(emitter, events) {
  const seen = Object.fromEntries(events.map((event) => [event, []]));
  for (const event of events) emitter.on(event, (...args) => seen[event].push(args.length > 1 ? args : args[0]));
  return seen;
}

module.exports = { fakeSidecar, isAlive, waitGone, record, once, FIXTURES };

/** Word error rate of `hypothesis` against `reference`: the project's one implementation (bench/wer.js). */
module.exports.wordErrorRate = require('../../bench/wer').wordErrorRate;
