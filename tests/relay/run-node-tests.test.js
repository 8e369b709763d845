'use strict';

/**
 * scripts/run-node-tests.js, the runner behind `npm test`'s node:test line: under CI=true a skipped
 * test fails the run unless its skip reason starts with "gpu:"; a failing test always fails it.
 * Run as a real child process on small real test files.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const childProcess = require('node:child_process');
const { ROOT, tempDir } = require('./helpers');
const { isGpuSkip, findTestFiles } = require('../../scripts/run-node-tests');

const RUNNER = path.join(ROOT, 'scripts', 'run-node-tests.js');

function suite(files) {
  const dir = tempDir('runner-');
  for (const [name, body] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, name), `'use strict';\nconst { test } = require('node:test');\n${body}\n`);
  }
  fs.writeFileSync(path.join(dir, 'helper.js'), 'throw new Error("not a test file: must not run");\n');
  return dir;
}

function runSuite(dir, env) {
  return childProcess.spawnSync(process.execPath, [RUNNER, dir], {
    env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 60000,
  });
}

const PASSING = "test('passes', () => {});";
const SKIPPED = "test('needs a tool', { skip: 'no /usr/bin/tool' }, () => {});";
const GPU = "test('needs a GPU', { skip: 'gpu: no CUDA device' }, () => {});";

test('under CI=true a skipped test fails the run, naming it', () => {
  const outcome = runSuite(suite({ 'a.test.js': PASSING, 'b.test.js': SKIPPED }), { CI: 'true' });
  assert.equal(outcome.status, 1, outcome.stdout + outcome.stderr);
  assert.match(outcome.stderr, /skipped: needs a tool \(no \/usr\/bin\/tool\)/);
  assert.match(outcome.stderr, /CI=true: 1 test\(s\) skipped that do not need a GPU/);
});

test('a GPU test\'s skip is allowed under CI; without CI skips are listed and pass', () => {
  const gpuOnly = runSuite(suite({ 'a.test.js': PASSING, 'g.test.js': GPU }), { CI: 'true' });
  assert.equal(gpuOnly.status, 0, gpuOnly.stdout + gpuOnly.stderr);
  assert.match(gpuOnly.stderr, /skipped: needs a GPU \(gpu: no CUDA device\)/);
  const local = runSuite(suite({ 'a.test.js': PASSING, 'b.test.js': SKIPPED }), {});
  assert.equal(local.status, 0, local.stdout + local.stderr);
  assert.match(local.stderr, /skipped: needs a tool/);
  assert.match(local.stdout, /passes/, 'the spec report is printed');
});

test('a failing test fails the run, CI or not', () => {
  const outcome = runSuite(suite({ 'a.test.js': "test('fails', () => { throw new Error('boom'); });" }), {});
  assert.equal(outcome.status, 1, outcome.stdout + outcome.stderr);
});

test('test files are found like node --test finds them; skip reasons are told apart', () => {
  const dir = suite({ 'a.test.js': PASSING, 'test-b.js': PASSING, 'c_test.js': PASSING });
  assert.deepEqual(findTestFiles([dir]).map((f) => path.basename(f)), ['a.test.js', 'c_test.js', 'test-b.js']);
  assert.equal(isGpuSkip('gpu: no CUDA'), true);
  assert.equal(isGpuSkip('no Chromium at /usr/bin/chromium'), false);
  assert.equal(isGpuSkip(''), false);
});
