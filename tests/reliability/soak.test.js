'use strict';

// The short soak (scripts/soak.js with CI sizes): transcriptions from 3 clients through the bridge, 2 kill -9
// of the sidecar at random moments, garbage on both pipes. Every request resolves once with the right text,
// no sidecar outlives stop(), the last sidecar's RSS is flat after warm-up.
// Skipped without the project's .venv (WHISPER_SIDECAR_REAL=0 skips it on purpose).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { runSoak, failures, report } = require('../../scripts/soak');

const ROOT = path.resolve(__dirname, '..', '..');
const VENV_PYTHON = path.join(ROOT, '.venv', process.platform === 'win32' ? 'Scripts\\python.exe' : 'bin/python');

function skipReason() {
  if (process.env.WHISPER_SIDECAR_REAL === '0') return 'WHISPER_SIDECAR_REAL=0';
  if (process.platform !== 'linux') return 'reads /proc for RSS and leaked processes';
  return fs.existsSync(VENV_PYTHON) ? false : `no ${VENV_PYTHON}`;
}

test('short soak: 24 transcriptions, 3 clients, 2 kill -9, garbage in and out', { skip: skipReason(), timeout: 600000 }, async (t) => {
  const figures = await runSoak({ requests: 24, clients: 3, kills: 2, seed: 7, warmup: 2, killWindow: [0.1, 0.4] });
  t.diagnostic(report(figures).replace(/\n/g, ' | '));
  assert.deepEqual(failures(figures), [], `${report(figures)}\n${figures.errors.join('\n')}`);
  assert.equal(figures.kills, 2);
  assert.ok(figures.restarts >= 2, `restarts ${figures.restarts}`);
  assert.ok(figures.bridge_retries + figures.client_retries >= 1, 'no kill hit a request in flight');
  assert.ok(figures.garbage_stdin > 0 && figures.garbage_stdout > 0, 'no garbage was injected');
  assert.equal(figures.pids, 1 + figures.restarts);
});
