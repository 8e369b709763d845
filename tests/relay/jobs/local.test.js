'use strict';

/**
 * JobRunner's own rules with a tiny in-test sidecar (the real one cannot be made to replay
 * segments on demand): a retry's segments replace the failed attempt's, a queued job cancels at
 * once, and closing the relay puts running work back in the queue instead of failing it.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const { JobStore } = require('../../../relay/jobs/store');
const { JobRunner } = require('../../../relay/jobs/local');
const { tempDir } = require('../helpers');

const quiet = { warn() {}, error() {} };

function makeRunner(sidecar, concurrency = 1) {
  const store = new JobStore(path.join(tempDir(), 'jobs.sqlite'));
  return { store, runner: new JobRunner({ store, sidecar, concurrency, log: quiet }) };
}

function abortable(signal) {
  return new Promise((_, reject) => signal.addEventListener('abort', () => {
    reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
  }));
}

/** One upload job run through a runner on `sidecar` to its end: {store, events, finished}. */
async function runOnce(sidecar) {
  const { store, runner } = makeRunner(sidecar);
  const events = [];
  const id = randomUUID();
  runner.events.on(id, (event) => events.push(event));
  runner.submit({ id, source: 'upload', name: 'x', mediaPath: '/nonexistent', ownsMedia: false, options: {} });
  return { store, events, finished: await runner.waitFor(id) };
}

test('a retried transcription replaces the segments of the failed attempt', async () => {
  const sidecar = {
    async transcribe(file, params, { onSegment, onStatus, onRetry }) {
      onStatus({ stage: 'transcribing', progress: 0.2, device: 'cpu', message: 'm' });
      onSegment({ request_id: 1, segment: { id: 1, start: 0, end: 1, text: ' a' } });
      onSegment({ request_id: 1, segment: { id: 2, start: 1, end: 2, text: ' b' } });
      // the sidecar crashed here; the bridge says so (onRetry) and its retry starts over
      onRetry({ reason: 'exit', attempt: 2, previousId: 1 });
      onSegment({ request_id: 1, segment: { id: 1, start: 0, end: 1, text: ' a' } });
      onSegment({ request_id: 1, segment: { id: 2, start: 1, end: 2, text: ' b' } });
      return { text: 'a b', device: 'cpu', segments: [{ id: 1 }, { id: 2 }] };
    },
  };
  const { store, events, finished } = await runOnce(sidecar);
  assert.equal(finished.state, 'done');
  assert.deepEqual(events.filter((e) => e.type === 'reset').map((e) => e.data), [{ keep: 0 }]);
  assert.equal(events.filter((e) => e.type === 'segment').length, 4);
  assert.equal(store.get(finished.id).progress, 1);
  store.close();
});

test('the sidecar\'s own CPU re-run (a fallback status) also replaces the segments, once', async () => {
  const sidecar = {
    async transcribe(file, params, { onSegment, onStatus }) {
      onSegment({ request_id: 1, segment: { id: 1, start: 0, end: 1, text: ' a' } });
      onStatus({ stage: 'fallback', progress: null, device: 'cpu', message: 'CUDA error detected, retrying with CPU mode' });
      onSegment({ request_id: 1, segment: { id: 1, start: 0, end: 1, text: ' a' } });
      onSegment({ request_id: 1, segment: { id: 2, start: 1, end: 2, text: ' b' } });
      return { text: 'a b', device: 'cpu', segments: [{ id: 1 }, { id: 2 }] };
    },
  };
  const { store, events, finished } = await runOnce(sidecar);
  assert.equal(finished.state, 'done');
  assert.deepEqual(events.filter((e) => e.type === 'reset').map((e) => e.data), [{ keep: 0 }]);
  store.close();
});

test('a queued job is cancelled at once; closing requeues the running one', async () => {
  const sidecar = { transcribe: (file, params, { signal }) => abortable(signal) };
  const { store, runner } = makeRunner(sidecar);
  const first = runner.submit({ source: 'upload', name: '1', mediaPath: '/a', options: {} });
  const second = runner.submit({ source: 'upload', name: '2', mediaPath: '/b', options: {} });
  assert.equal(store.get(first.id).state, 'running');
  assert.equal(store.get(second.id).state, 'queued');
  assert.equal(runner.cancel(second.id).state, 'cancelled');

  await runner.close();
  assert.equal(store.get(first.id).state, 'queued', 'a relay shutdown is not a cancel');
  assert.deepEqual(store.queuedIds(), [first.id]);
  store.close();
});

test('a sidecar error is stored with its kind, and without the server\'s folders (issue 19)', async () => {
  const sidecar = {
    transcribe: async () => {
      throw Object.assign(new Error('File not found: /srv/media/x'), { code: -32001, kind: 'file_not_found' });
    },
  };
  const { store, runner } = makeRunner(sidecar);
  const job = runner.submit({ source: 'path', name: 'x', mediaPath: '/x', options: {} });
  const finished = await runner.waitFor(job.id);
  assert.equal(finished.state, 'error');
  assert.deepEqual(finished.error, { code: 'file_not_found', message: 'File not found: x' });
  store.close();
});

test('a job the sidecar dies under twice is queued again, and gives up after maxAttempts', async () => {
  const { SidecarError } = require('../../../node_bridge');
  let calls = 0;
  const crash = () => new SidecarError('the sidecar exited (SIGKILL) twice during this request', { kind: 'exited' });
  const sidecar = {
    transcribe: async () => {
      calls += 1;
      if (calls <= 2) throw crash();
      return { text: 'after two crashes', device: 'cpu', segments: [] };
    },
  };
  const { store, runner } = makeRunner(sidecar);
  const job = runner.submit({ source: 'upload', name: 'x', mediaPath: '/nonexistent', ownsMedia: false, options: {} });
  const finished = await runner.waitFor(job.id);
  assert.equal(finished.state, 'done');
  assert.equal(finished.attempts, 3);
  assert.equal(finished.result.text, 'after two crashes');

  const always = { transcribe: async () => { throw crash(); } };
  const second = makeRunner(always);
  const doomed = second.runner.submit({ source: 'upload', name: 'y', mediaPath: '/nonexistent', ownsMedia: false, options: {} });
  const failed = await second.runner.waitFor(doomed.id);
  assert.equal(failed.state, 'error');
  assert.equal(failed.attempts, 3);
  store.close();
  second.store.close();
});
