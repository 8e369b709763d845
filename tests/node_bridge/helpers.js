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

/** Word error rate of `hypothesis` against `reference`, both lowercased without punctuation. */
function wordErrorRate(reference, hypothesis) {
  const words = (text) => text.toLowerCase().replace(/[^a-z0-9' ]+/g, ' ').split(/\s+/).filter(Boolean);
  const ref = words(reference);
  const hyp = words(hypothesis);
  let previous = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= hyp.length; j += 1) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ref[i - 1] === hyp[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[hyp.length] / Math.max(1, ref.length);
}

module.exports.wordErrorRate = wordErrorRate;
