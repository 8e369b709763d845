'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { cudaCrashReason, CrashWindow, isAbortExit, WINDOWS_FAST_FAIL } = require('../../node_bridge/lib/crash-policy');

test('a crash while the sidecar reported cuda is a CUDA crash, whatever the exit', () => {
  assert.match(cudaCrashReason({ exitCode: 1, signal: null, device: 'cuda' }), /while running on CUDA/);
  assert.match(cudaCrashReason({ exitCode: null, signal: 'SIGKILL', device: 'cuda' }), /signal SIGKILL/);
});

test('an abort before any device was reported counts as CUDA; on the CPU nothing does', () => {
  assert.match(cudaCrashReason({ exitCode: WINDOWS_FAST_FAIL, signal: null, device: null }), /0xC0000409/);
  assert.match(cudaCrashReason({ exitCode: null, signal: 'SIGABRT', device: null }), /aborted/);
  assert.equal(cudaCrashReason({ exitCode: null, signal: 'SIGABRT', device: 'cpu' }), null);
  assert.equal(cudaCrashReason({ exitCode: 1, signal: null, device: null }), null);
  assert.equal(cudaCrashReason({ exitCode: null, signal: 'SIGKILL', device: null }), null);
});

test('abort exits: SIGABRT, Windows fast-fail (unsigned and signed), 134', () => {
  assert.ok(isAbortExit(null, 'SIGABRT'));
  assert.ok(isAbortExit(3221226505, null));
  assert.ok(isAbortExit(-1073740791, null));
  assert.ok(isAbortExit(134, null));
  assert.ok(!isAbortExit(1, null));
});

test('CrashWindow: exponential backoff, give up at the limit, old crashes fall out of the window', () => {
  let now = 0;
  const window = new CrashWindow({ limit: 3, windowMs: 1000, baseDelayMs: 100, maxDelayMs: 150, now: () => now });
  assert.deepEqual(window.record(), { count: 1, giveUp: false, delayMs: 100 });
  now = 500;
  assert.deepEqual(window.record(), { count: 2, giveUp: false, delayMs: 150 });
  now = 1200; // the first crash is out of the window
  assert.deepEqual(window.record(), { count: 2, giveUp: false, delayMs: 150 });
  now = 1300;
  assert.equal(window.record().giveUp, true);
  window.reset();
  assert.equal(window.record().count, 1);
});

test('the CPU fallback status line names the request and the reason', () => {
  const { cpuFallbackStatus } = require('../../node_bridge/lib/crash-policy');
  assert.deepEqual(cpuFallbackStatus(7, 'the sidecar crashed'), {
    request_id: 7, stage: 'fallback', progress: null, device: 'cpu',
    message: 'CUDA error detected, retrying with CPU mode (the sidecar crashed)',
  });
});
