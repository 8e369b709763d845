'use strict';

/**
 * scripts/setup.js: clear messages when Python is missing or too old (fake pythons on a PATH of
 * their own, in a child process so spawn sees that PATH), and a quick second run on this checkout.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const childProcess = require('node:child_process');
const { ROOT, tempDir } = require('./helpers');
const { setup, stampCovers } = require('../../scripts/setup');

const SETUP = path.join(ROOT, 'scripts', 'setup.js');

/** Runs setup({root, npm: false}) in a child with only `bin` on PATH; returns {status, stderr}. */
function setupWithPath(bin, env = {}) {
  const root = tempDir('setup-root-');
  fs.writeFileSync(path.join(root, 'pyproject.toml'), '[project]\nname = "x"\n');
  const code = `require(${JSON.stringify(SETUP)}).setup({ root: ${JSON.stringify(root)}, npm: false })`
    + '.then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); })';
  return childProcess.spawnSync(process.execPath, ['-e', code], {
    env: { PATH: bin, ...env }, encoding: 'utf8', timeout: 60000,
  });
}

/** A `python3` and `python` that claim to be Python 3.8, whatever they are asked. */
function fakeOldPython() {
  const bin = tempDir('fake-python-');
  const script = '#!/bin/sh\necho \'{"executable": "/fake/python3.8", "version": [3, 8, 10], "module": null, "sidecar": false}\'\n';
  for (const name of ['python3', 'python']) {
    fs.writeFileSync(path.join(bin, name), script, { mode: 0o755 });
  }
  return bin;
}

test('no Python at all: the message says what is needed and what was tried', { skip: process.platform === 'win32' }, () => {
  const outcome = setupWithPath(tempDir('empty-bin-'));
  assert.equal(outcome.status, 1);
  assert.match(outcome.stderr, /Setup needs Python 3\.9 or newer and found none/);
  assert.match(outcome.stderr, /python3: not found/);
  assert.match(outcome.stderr, /Install Python 3\.9\+/);
});

test('only an old Python on PATH: the message names its version', { skip: process.platform === 'win32' }, () => {
  const outcome = setupWithPath(fakeOldPython());
  assert.equal(outcome.status, 1);
  assert.match(outcome.stderr, /Python 3\.8\.10 is too old, need 3\.9\+/);
});

test('WHISPER_SIDECAR_PYTHON pointing at an old or a missing Python', { skip: process.platform === 'win32' }, () => {
  const old = setupWithPath(tempDir('empty-bin-'), { WHISPER_SIDECAR_PYTHON: path.join(fakeOldPython(), 'python3') });
  assert.equal(old.status, 1);
  assert.match(old.stderr, /is Python 3\.8\.10; the sidecar needs 3\.9 or newer/);
  const missing = setupWithPath(tempDir('empty-bin-'), { WHISPER_SIDECAR_PYTHON: '/no/such/python' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /WHISPER_SIDECAR_PYTHON: \/no\/such\/python/);
});

test('the second run on this checkout does nothing and is quick', async () => {
  const lines = [];
  await setup({ mode: 'test', log: (line) => lines.push(line) }); // npm test ran it already; make sure
  const started = Date.now();
  const result = await setup({ mode: 'test', log: (line) => lines.push(line) });
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 2000, `took ${elapsed} ms`);
  assert.deepEqual(result.installed, { npm: false, venv: false, sidecar: false });
  assert.ok(result.extras.includes('test'));
  const stamp = JSON.parse(fs.readFileSync(path.join(ROOT, '.venv', '.whisper-sidecar-setup.json'), 'utf8'));
  assert.match(stamp.pyproject_sha256, /^[0-9a-f]{64}$/);
});

test('the stamp: test extras also cover start; a changed pyproject or Python does not', () => {
  const stamp = { pyproject_sha256: 'h', python: '3.11.7', extras: ['test'] };
  assert.equal(stampCovers(stamp, { pyproject_sha256: 'h', python: '3.11.7', extras: [] }), true);
  assert.equal(stampCovers(stamp, { pyproject_sha256: 'h', python: '3.11.7', extras: ['test', 'cuda'] }), false);
  assert.equal(stampCovers(stamp, { pyproject_sha256: 'other', python: '3.11.7', extras: [] }), false);
  assert.equal(stampCovers(stamp, { pyproject_sha256: 'h', python: '3.12.1', extras: [] }), false);
  assert.equal(stampCovers(null, { pyproject_sha256: 'h', python: '3.11.7', extras: [] }), false);
});
