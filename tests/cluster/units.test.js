'use strict';

/**
 * Distributed mode's small parts, without Redis: signed media URLs and their route, the secret
 * and role checks at start, and /metrics in single-machine mode.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { EventEmitter } = require('node:events');
const Fastify = require('fastify');
const http = require('node:http');
const { UnrecoverableError } = require('bullmq');
const { checkSecret, signMediaUrl, verifyMediaSignature, verifyMediaUrl } = require('../../relay/cluster/signing');
const { WorkerNode } = require('../../relay/cluster/worker');
const { clusterMediaRoutes } = require('../../relay/cluster/media-route');
const { roleFromArgs } = require('../../relay/cluster/role');
const { queueNameFor } = require('../../relay/cluster/redis');
const { parseFailure, returnedResult, fromQueueJob } = require('../../relay/cluster/records');
const { main } = require('../../relay');
const { loadConfig } = require('../../relay/config');
const { JobStore } = require('../../relay/jobs/store');
const { ClusterRunner } = require('../../relay/cluster/runner');
const { tempDir, startRelay } = require('../relay/helpers');
const { SECRET, parseMetrics } = require('./helpers');

const ID = '0b6f2a4e-1c2d-4e5f-8a9b-0123456789ab';
const quiet = { log() {}, warn() {}, error() {} };

test('a signed media URL verifies; a changed id, signature, expiry or secret does not', () => {
  const url = new URL(signMediaUrl({ base: 'http://api:8787/', id: ID, secret: SECRET, ttlS: 60 }));
  assert.equal(url.pathname, `/internal/media/${ID}`);
  const exp = url.searchParams.get('exp');
  const sig = url.searchParams.get('sig');
  assert.ok(verifyMediaSignature({ id: ID, exp, sig, secret: SECRET }));
  assert.ok(!verifyMediaSignature({ id: ID.replace('0b', '0c'), exp, sig, secret: SECRET }));
  assert.ok(!verifyMediaSignature({ id: ID, exp: String(Number(exp) + 1), sig, secret: SECRET }));
  assert.ok(!verifyMediaSignature({ id: ID, exp, sig: sig.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')), secret: SECRET }));
  assert.ok(!verifyMediaSignature({ id: ID, exp, sig, secret: `${SECRET}x` }));
  assert.ok(!verifyMediaSignature({ id: ID, exp, sig, secret: SECRET, nowMs: (Number(exp) + 1) * 1000 }), 'expired');
  assert.ok(!verifyMediaSignature({ id: ID, exp, sig: undefined, secret: SECRET }));
});

test('a worker fetches media only from this cluster\'s signed origins, and follows no redirect', async () => {
  const OTHER = ID.replace('0b', '0d');
  const hits = [];
  const server = http.createServer((request, response) => {
    hits.push(request.url);
    if (request.url.startsWith(`/internal/media/${OTHER}`)) return response.end('audio bytes');
    if (request.url.startsWith('/internal/media/')) {
      response.writeHead(302, { location: `http://127.0.0.1:${server.address().port}/elsewhere` });
      return response.end();
    }
    return response.end('what a redirect would have read');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const worker = new WorkerNode({ config: { clusterSecret: SECRET }, pool: { sidecars: [] }, nodeId: 'n', log: quiet });
  const file = path.join(worker.tmp, 'media');
  const { signal } = new AbortController();
  const refused = (pattern) => (err) => err instanceof UnrecoverableError && pattern.test(err.message);
  try {
    const good = signMediaUrl({ base, id: OTHER, secret: SECRET, ttlS: 60 });
    assert.ok(verifyMediaUrl({ url: good, id: OTHER, secret: SECRET }));
    await worker.fetchMedia({ signed: good }, file, signal, OTHER);
    assert.equal(fs.readFileSync(file, 'utf8'), 'audio bytes');
    // The cluster's own origin answering with a redirect: refused, the target never asked.
    const redirecting = signMediaUrl({ base, id: ID, secret: SECRET, ttlS: 60 });
    await assert.rejects(worker.fetchMedia({ signed: redirecting }, file, signal, ID), refused(/redirect/));
    assert.deepEqual(hits.filter((hit) => hit === '/elsewhere'), []);
    // Another origin (the same server under another name), another job's link, another secret, a
    // link without its origin signature, a path elsewhere: refused before any request.
    const before = hits.length;
    const foreign = [
      good.replace(base, `http://localhost:${server.address().port}`),
      good.replace(base, 'http://169.254.169.254'),
      signMediaUrl({ base, id: ID, secret: SECRET, ttlS: 60 }).replace(ID, OTHER),
      signMediaUrl({ base, id: OTHER, secret: `${SECRET}x`, ttlS: 60 }),
      good.replace(/&node=[0-9a-f]+/, ''),
      good.replace('/internal/media/', '/elsewhere/'),
      'file:///etc/passwd',
    ];
    for (const signed of foreign) {
      assert.ok(!verifyMediaUrl({ url: signed, id: OTHER, secret: SECRET }), signed);
      await assert.rejects(worker.fetchMedia({ signed }, file, signal, OTHER), refused(/not one of this cluster/), signed);
    }
    assert.equal(hits.length, before, 'no request left the worker');
  } finally {
    server.close();
    fs.rmSync(worker.tmp, { recursive: true, force: true });
  }
});

test('the media route serves an upload for a valid signature only, and 404 otherwise', async () => {
  const dir = tempDir('cluster-media-');
  const file = path.join(dir, 'upload.bin');
  fs.writeFileSync(file, 'audio bytes');
  const store = { get: (id) => (id === ID ? { id, mediaPath: file, ownsMedia: true, source: 'upload' } : null) };
  const app = Fastify();
  await app.register(clusterMediaRoutes, { store, secret: SECRET });
  const url = new URL(signMediaUrl({ base: 'http://x', id: ID, secret: SECRET, ttlS: 60 }));
  const ok = await app.inject({ url: `${url.pathname}${url.search}` });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.body, 'audio bytes');
  for (const bad of [url.pathname, `${url.pathname}?exp=${url.searchParams.get('exp')}&sig=${'0'.repeat(64)}`]) {
    assert.equal((await app.inject({ url: bad })).statusCode, 404);
  }
  await app.close();
});

test('distributed mode refuses to start without a long enough CLUSTER_SECRET', async () => {
  assert.throws(() => checkSecret(undefined), /CLUSTER_SECRET/);
  assert.throws(() => checkSecret('short'), /at least 32/);
  checkSecret(SECRET);
  const config = loadConfig({ REDIS_URL: 'redis://127.0.0.1:1', DATA_DIR: tempDir() });
  await assert.rejects(main({ config, log: quiet, argv: ['--role', 'api'] }), /CLUSTER_SECRET/);
});

test('--role: api, worker or all; api and worker need REDIS_URL', async () => {
  assert.equal(roleFromArgs(['--role', 'worker']), 'worker');
  assert.equal(roleFromArgs(['--role=api']), 'api');
  assert.equal(roleFromArgs([], 'all'), 'all');
  assert.throws(() => roleFromArgs(['--role', 'boss']), /api, worker or all/);
  const config = loadConfig({ DATA_DIR: tempDir() });
  await assert.rejects(main({ config, log: quiet, argv: ['--role', 'worker'] }), /needs REDIS_URL/);
});

test('routing: cuda jobs to the GPU queue; failures read back as the relay\'s errors', () => {
  assert.equal(queueNameFor({ device: 'cuda' }), 'whisper-gpu');
  assert.equal(queueNameFor({}), 'whisper-any');
  assert.equal(queueNameFor({ device: 'cpu' }), 'whisper-any');
  assert.equal(queueNameFor({}, 'url'), 'whisper-url');
  assert.equal(queueNameFor({}, 'upload'), 'whisper-any');
  assert.equal(queueNameFor({ device: 'cuda' }, 'url'), 'whisper-gpu');
  assert.deepEqual(parseFailure('cancelled: Cancelled while running.', 1).state, 'cancelled');
  assert.equal(parseFailure('job stalled more than allowable limit', 3).fields.error.code, 'worker_lost');
  assert.equal(parseFailure('media_unavailable: gone', 1).fields.error.code, 'media_unavailable');
});

test('a live stream read back from Redis: its kind and stop; a failed one keeps what it committed', () => {
  const result = { text: 'hi', segments: [{ id: 0, start: 0, end: 1, text: 'hi', final: true }], live: true, kind: 'hls', stopped: true };
  const done = returnedResult(JSON.stringify({ result, device: 'cpu', attempts: 2 }));
  assert.deepEqual([done.kind, done.live, done.stopped, done.attempts], ['hls', 1, 1, 2]);
  assert.equal(returnedResult({ result: { text: 'file' } }).live, undefined, 'a file job says nothing of live');
  const failed = fromQueueJob({
    data: { id: 'j1', source: 'url', options: {}, partial: { ...result, stopped: false } },
    failedReason: 'not_audio: The stream stopped being audio.', attemptsMade: 1, stalledCounter: 0, finishedOn: 1,
  }, 'failed');
  assert.equal(failed.final.state, 'error');
  assert.equal(failed.final.fields.error.code, 'not_audio');
  assert.equal(failed.final.fields.result.segments[0].text, 'hi');
  assert.equal(failed.final.fields.kind, 'hls');
});

/** A sidecar stand-in: transcribes every file as two seconds of "hello" in 50 ms. */
class FakeSidecar extends EventEmitter {
  constructor() {
    super();
    this.state = 'ready';
    this.fatalError = null;
  }

  async transcribe() {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return { text: 'hello', segments: [{ id: 1, start: 0, end: 2, text: 'hello' }], duration: 2, device: 'cpu' };
  }

  async gpuStatus() {
    return { device: 'cpu' };
  }
}

test('/metrics in single-machine mode counts finished jobs, audio, restarts and fallbacks', async () => {
  const sidecar = new FakeSidecar();
  const relay = await startRelay({ sidecar });
  try {
    const dir = tempDir('metrics-');
    for (let i = 0; i < 2; i += 1) {
      const file = path.join(dir, `${i}.wav`);
      fs.writeFileSync(file, 'x');
      const job = relay.app.runner.submit({ source: 'path', name: `${i}.wav`, mediaPath: file, ownsMedia: false, options: {} });
      await relay.app.runner.waitFor(job.id);
    }
    sidecar.emit('restart', { forceCpu: false });
    sidecar.emit('restart', { forceCpu: true, fallbackReason: 'CUDA failed with error out of memory' });
    const response = await fetch(`${relay.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /text\/plain/);
    const m = parseMetrics(await response.text());
    assert.equal(m['whisper_jobs{state="done"}'], 2);
    assert.equal(m['whisper_queue_depth{queue="local"}'], 0);
    assert.equal(m['whisper_jobs_finished_total{state="done",device="cpu"}'], 2);
    assert.equal(m['whisper_audio_seconds_total{device="cpu"}'], 4);
    assert.equal(m['whisper_realtime_factor_count{device="cpu"}'], 2);
    assert.equal(m['whisper_sidecar_restarts_total{sidecar="0"}'], 2);
    assert.equal(m['whisper_cpu_fallbacks_total{reason="cuda_oom"}'], 1);
    assert.equal(m.whisper_live_streams_open, 0);
  } finally {
    await relay.close();
  }
});

test('DELETE on a live stream waiting for another worker: taken off the queue, done and stopped with the finals from Redis', async () => {
  const store = new JobStore(path.join(tempDir(), 'replica.sqlite'));
  const finals = [
    { id: 0, start: 0, end: 2, text: ' Hello there.', final: true },
    { id: 1, start: 2, end: 2, text: '', gap: true, reason: 'worker_takeover', final: true },
  ];
  const removed = [];
  const queue = { remove: async (id) => { removed.push(id); return 1; } };
  const publisher = { publish: async () => 1, lrange: async () => finals.map((f) => JSON.stringify(f)) };
  const runner = new ClusterRunner({
    store, queues: { 'whisper-url': queue }, publisher, cancelChannel: 'c', nodeId: 'n', config: {}, log: quiet,
  });
  const job = runner.insert({ source: 'url', name: 'live.m3u8', options: {}, input: { url: 'http://x/live.m3u8' }, mediaPath: '', ownsMedia: false });
  store.update(job.id, { state: 'queued', kind: 'hls', live: 1 });
  const events = [];
  runner.events.on(job.id, (event) => events.push(event.type));
  const stopped = await runner.cancel(job.id);
  assert.deepEqual(removed, [job.id]);
  assert.equal(stopped.state, 'done');
  assert.equal(stopped.stopped, true);
  assert.equal(stopped.result.text, 'Hello there.');
  assert.deepEqual(stopped.result.segments, finals);
  runner.onRemoved(job.id); // the queue's own 'removed' event, after: no second end
  assert.deepEqual(events, ['done']);
});
