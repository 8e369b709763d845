'use strict';

// Supervision against misbehaving fake sidecars: garbage, crash loops, hangs, a CUDA abort, split UTF-8.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const childProcess = require('node:child_process');
const { fakeSidecar, waitGone, record } = require('./helpers');

// Runs the fake through `sh -c 'ulimit -c 0; exec …'` so its SIGABRT leaves no core file.
const spawnWithoutCore = (command, args, options) => childProcess.spawn('/bin/sh',
  ['-c', 'ulimit -c 0; exec "$0" "$@"', command, ...args], options);

function tempFile(t, name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-fake-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, name);
}

test('garbage on stdout is logged and skipped, never fatal', async (t) => {
  const sidecar = fakeSidecar(t, 'garbage');
  const seen = record(sidecar, ['restart', 'fatal']);
  await sidecar.start();
  for (let i = 0; i < 3; i += 1) assert.equal((await sidecar.ping()).pong, true);
  assert.ok(sidecar.logs.warn.length >= 10, sidecar.logs.warn.join('\n'));
  assert.ok(sidecar.logs.warn.some((line) => /libcudnn_ops/.test(line)));
  assert.deepEqual(seen, { restart: [], fatal: [] });
});

test('a crash loop before ready: start() and queued requests reject with the fatal error', async (t) => {
  const sidecar = fakeSidecar(t, 'crash-loop', { crashLimit: 3 });
  const seen = record(sidecar, ['restart', 'fatal', 'exit', 'stderr']);
  const starting = sidecar.start();
  const queued = sidecar.transcribe('/a.wav').catch((e) => e);
  const error = await starting.catch((e) => e);
  assert.equal(error.isFatal, true);
  assert.equal(error.kind, 'fatal');
  assert.equal(error.exitCode, 1);
  assert.match(error.message, /crashed 3 times .* giving up; last: exit code 1/);
  assert.match(error.message, /ImportError: fake import failure/);
  const queuedError = await queued;
  assert.equal(queuedError.isFatal, true);
  assert.equal(queuedError.method, 'transcribe');
  assert.equal(seen.restart.length, 2);
  assert.deepEqual(seen.restart.map((r) => r.delayMs), [20, 40]);
  assert.equal(seen.fatal.length, 1);
  assert.equal(seen.exit.length, 3);
  assert.ok(seen.stderr.includes('ImportError: fake import failure'));
  assert.equal(sidecar.state, 'crashed');
  assert.equal(sidecar.fatalError, error);
  await assert.rejects(sidecar.ping(), { isFatal: true });
  for (const exit of seen.exit) assert.ok(await waitGone(exit.pid));
});

test('a crash on every request: transcribe is retried once, then rejected; the next crash is fatal', async (t) => {
  const sidecar = fakeSidecar(t, 'crash-loop', { env: { FAKE_CRASH_AT: 'request' }, crashLimit: 3 });
  const seen = record(sidecar, ['restart', 'fatal', 'ready']);
  await sidecar.start();
  const error = await sidecar.transcribe('/a.wav').catch((e) => e);
  assert.equal(error.kind, 'exited');
  assert.equal(error.exitCode, 3);
  assert.equal(error.isTerminated, true);
  assert.deepEqual(error.data.stderr, ['fake crash on request']);
  assert.equal(seen.restart.length, 2); // the first crash and the retry's crash
  await assert.rejects(sidecar.gpuStatus(), { isFatal: true, method: 'gpu_status' });
  assert.equal(seen.fatal.length, 1);
});

test('a hang: requests time out, stop() escalates to SIGKILL', async (t) => {
  const sidecar = fakeSidecar(t, 'hang', { gracefulStopMs: 200, forceKillAfterMs: 200, timeouts: { gpu_status: 100 } });
  const seen = record(sidecar, ['exit']);
  await sidecar.start();
  await assert.rejects(sidecar.gpuStatus(), { timedOut: true, kind: 'timeout', method: 'gpu_status' });
  await assert.rejects(sidecar.transcribe('/a.wav', {}, { timeout: 50 }), { timedOut: true });
  const pid = sidecar.pid;
  await sidecar.stop();
  assert.equal(seen.exit[0].signal, 'SIGKILL');
  assert.equal(seen.exit[0].expected, true);
  assert.ok(await waitGone(pid));
  assert.ok(sidecar.logs.warn.some((line) => /did not exit in time; killed it/.test(line)));
});

test('no ready within startTimeoutMs counts as a crash; at the limit start() rejects', async (t) => {
  const sidecar = fakeSidecar(t, 'hang', { env: { FAKE_NO_READY: '1' }, startTimeoutMs: 300, crashLimit: 1 });
  await assert.rejects(sidecar.start(), (error) => {
    assert.equal(error.isFatal, true);
    assert.match(error.message, /no ready notification within 300 ms/);
    return true;
  });
});

for (const how of ['abort', 'exit']) {
  test(`${how === 'abort' ? 'SIGABRT' : 'exit(1)'} while on cuda: restart with FORCE_CPU=1 and the transcription retried on the CPU`, async (t) => {
    const countFile = tempFile(t, 'starts');
    const sidecar = fakeSidecar(t, 'cuda-abort', {
      spawn: spawnWithoutCore, env: { FAKE_COUNT_FILE: countFile, FAKE_CRASH_HOW: how },
    });
    const seen = record(sidecar, ['restart', 'status', 'exit']);
    await sidecar.start();
    const statuses = [];
    const result = await sidecar.transcribe('/a.wav', {}, { onStatus: (s) => statuses.push(`${s.stage}:${s.device}`) });
    assert.equal(result.device, 'cpu');
    assert.equal(result.env_force_cpu, '1');
    assert.deepEqual(fs.readFileSync(countFile, 'utf8').split('\n').filter(Boolean), ['cuda', 'cpu']);
    assert.equal(seen.exit[0].signal, how === 'abort' ? 'SIGABRT' : null);
    assert.equal(seen.restart.length, 1);
    assert.equal(seen.restart[0].forceCpu, true);
    assert.equal(seen.restart[0].cudaFallback, true);
    assert.match(sidecar.fallbackReason, /while running on CUDA; restarted with FORCE_CPU=1/);
    assert.match(result.retried.fallback_reason, /while running on CUDA/);
    assert.deepEqual(statuses, ['transcribing:cuda', 'fallback:cpu', 'transcribing:cpu', 'done:cpu']);
    const fallback = seen.status.find((s) => s.stage === 'fallback');
    assert.match(fallback.message, /^CUDA error detected, retrying with CPU mode \(/);
    // gpu_status on the new process: its own fallback_reason wins when it has one
    assert.equal((await sidecar.gpuStatus()).fallback_reason, 'FORCE_CPU=1');
  });
}

test('a message split inside multi-byte characters, with CRLF, arrives intact; a long one too', async (t) => {
  const sidecar = fakeSidecar(t, 'split-utf8');
  const info = await sidecar.start();
  assert.equal(info.version, 'fake-ütf8');
  const text = 'héllo wörld — 日本語のテキスト 🎮💻 ñandú';
  const segments = [];
  const result = await sidecar.transcribe('/ü.wav', {}, { onSegment: (segment) => segments.push(segment.text) });
  assert.equal(result.text, text);
  assert.deepEqual(segments, [text]);
  const long = await sidecar.transcribe('/long.wav', { repeat: 200000 });
  assert.equal(long.text.length, text.length * 200000);
  assert.equal(long.text.slice(-text.length), text);
  assert.deepEqual(sidecar.logs.warn, []);
});

test('the child dies with the parent (SIGTERM and process.exit)', async () => {
  for (const how of ['SIGTERM', 'exit']) {
    const parent = childProcess.spawn(process.execPath, [path.join(__dirname, 'fixtures', 'parent.js'), how],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    parent.stdout.on('data', (chunk) => { output += chunk; });
    const childPid = await new Promise((resolve) => {
      parent.stdout.on('data', () => { const match = /child (\d+)/.exec(output); if (match) resolve(Number(match[1])); });
    });
    if (how === 'SIGTERM') parent.kill('SIGTERM');
    const [code, signal] = await new Promise((resolve) => parent.on('exit', (...args) => resolve(args)));
    if (how === 'SIGTERM') assert.equal(signal, 'SIGTERM'); // the signal was re-raised: default behaviour kept
    else assert.equal(code, 0);
    assert.ok(await waitGone(childPid), `child ${childPid} outlived its parent (${how})`);
  }
});

test('a Python that cannot be spawned gives up at once with spawn_failed; a missing path says python_not_found', async (t) => {
  const sidecar = fakeSidecar(t, 'echo', { python: 'no-such-python-for-the-bridge' });
  const seen = record(sidecar, ['restart', 'fatal']);
  await assert.rejects(sidecar.start(), (error) => {
    assert.equal(error.kind, 'spawn_failed');
    assert.equal(error.isFatal, true);
    assert.match(error.message, /could not start the sidecar \(no-such-python-for-the-bridge .*echo\.js\): spawn .*ENOENT/);
    assert.equal(error.cause.code, 'ENOENT');
    return true;
  });
  assert.equal(seen.restart.length, 0);
  assert.equal(seen.fatal.length, 1);
  const missing = fakeSidecar(t, 'echo', { python: '/no/such/dir/python' });
  await assert.rejects(missing.start(), { kind: 'python_not_found' });
  assert.equal(missing.state, 'stopped');
});
