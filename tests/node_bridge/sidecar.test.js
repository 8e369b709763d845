'use strict';

// WhisperSidecar against a well-behaved fake sidecar (fixtures/echo.js).

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const childProcess = require('node:child_process');
const { fakeSidecar, waitGone, record } = require('./helpers');
const { WhisperSidecar } = require('../../node_bridge');

test('start resolves with ready; options reach the process as argv, cwd and env', async (t) => {
  const sidecar = fakeSidecar(t, 'echo', {
    model: 'tiny', device: 'cpu', cacheDir: '/tmp/cache', preload: false, forceCpu: true,
    env: { FAKE_EXTRA: 'yes' }, cwd: path.join(__dirname, 'fixtures'),
  });
  const seen = record(sidecar, ['ready', 'state', 'status']);
  const ready = await sidecar.start();
  assert.equal(ready.version, '0.0.0-fake');
  assert.equal(ready.pid, sidecar.pid);
  assert.equal(sidecar.state, 'ready');
  assert.deepEqual(seen.state, ['starting', 'ready']);
  assert.equal(seen.ready.length, 1);
  assert.equal(await sidecar.start(), sidecar.info); // idempotent
  const gpu = await sidecar.gpuStatus();
  assert.equal(gpu.cwd, path.join(__dirname, 'fixtures'));
  assert.deepEqual(gpu.env, {
    FORCE_CPU: '1', WHISPER_MODEL: 'tiny', WHISPER_DEVICE: 'cpu', WHISPER_CACHE_DIR: '/tmp/cache', WHISPER_PRELOAD: '0',
    PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8', FAKE_EXTRA: 'yes',
  });
  assert.equal(gpu.fallback_reason, null); // the sidecar's own answer, untouched
  assert.equal(sidecar.fallbackReason, null);
  assert.equal(seen.status[0].stage, 'starting');
  assert.deepEqual(await sidecar.ping().then((r) => r.pong), true);
});

test('concurrent transcriptions answered out of order; callbacks get only their own notifications', async (t) => {
  const sidecar = fakeSidecar(t, 'echo');
  await sidecar.start();
  const calls = { a: [], b: [] };
  const [a, b] = await Promise.all([
    sidecar.transcribe('/a.wav', { delay_ms: 150 }, {
      onStatus: (s) => calls.a.push(s.stage), onSegment: (segment) => calls.a.push(segment.id),
    }),
    sidecar.transcribe('/b.wav', { delay_ms: 0 }, {
      onStatus: (s) => calls.b.push(s.stage), onSegment: (segment) => calls.b.push(segment.id),
    }),
  ]);
  assert.equal(a.text, ' part 0 part 1 part 2');
  assert.equal(b.text, a.text);
  assert.deepEqual(calls.a, ['transcribing', 0, 1, 2, 'done']);
  assert.deepEqual(calls.b, ['transcribing', 0, 1, 2, 'done']);
});

test('an application error keeps code, kind and data; the sidecar keeps serving', async (t) => {
  const sidecar = fakeSidecar(t, 'echo');
  await sidecar.start();
  await assert.rejects(sidecar.request('fail'), (error) => {
    assert.equal(error.name, 'SidecarError');
    assert.equal(error.code, -32001);
    assert.equal(error.kind, 'file_not_found');
    assert.equal(error.data.path, '/nope.wav');
    assert.equal(error.isTerminated, false);
    return true;
  });
  await assert.rejects(sidecar.request('nope'), { code: -32601 });
  assert.equal((await sidecar.ping()).pong, true);
});

test('AbortSignal: the request rejects with an AbortError, the sidecar gets cancel and goes on', async (t) => {
  const sidecar = fakeSidecar(t, 'echo');
  await sidecar.start();
  const controller = new AbortController();
  const statuses = [];
  const promise = sidecar.transcribe('/long.wav', { delay_ms: 10000 }, {
    signal: controller.signal, onStatus: (s) => { statuses.push(s.stage); controller.abort(); },
  });
  await assert.rejects(promise, { name: 'AbortError', isCanceled: true, code: -32800 });
  assert.deepEqual(statuses, ['transcribing']);
  assert.equal((await sidecar.ping()).pong, true);
  assert.ok(sidecar.logs.warn.length === 0, sidecar.logs.warn.join('\n'));
});

test('requests before start or after stop reject at once; stop rejects what is pending', async (t) => {
  const sidecar = fakeSidecar(t, 'echo');
  await assert.rejects(sidecar.ping(), { kind: 'not_running' });
  await sidecar.start();
  const pending = sidecar.transcribe('/slow.wav', { delay_ms: 10000 });
  const stopping = sidecar.stop();
  await assert.rejects(pending, { kind: 'stopped', isTerminated: true });
  await stopping;
  assert.equal(sidecar.state, 'stopped');
  await assert.rejects(sidecar.gpuStatus(), { kind: 'not_running' });
  await sidecar.stop(); // idempotent
});

test('stop leaves no process and removes the parent-exit handlers; start works again', async (t) => {
  const sidecar = fakeSidecar(t, 'echo');
  const before = process.listenerCount('SIGINT');
  await sidecar.start();
  const firstPid = sidecar.pid;
  // the parent-exit handlers are installed (one more SIGINT listener) ...
  assert.equal(process.listenerCount('SIGINT'), before + 1);
  assert.equal(process.listenerCount('SIGTERM') >= 1, true);
  const seen = record(sidecar, ['exit']);
  await sidecar.stop();
  assert.equal(sidecar.pid, null);
  assert.ok(await waitGone(firstPid));
  assert.deepEqual(seen.exit, [{ pid: firstPid, exitCode: 0, signal: null, expected: true }]);
  // ... and removed with the last child
  assert.equal(process.listenerCount('SIGINT'), before);
  await sidecar.start();
  assert.notEqual(sidecar.pid, firstPid);
  assert.equal((await sidecar.ping()).pong, true);
});

test('kill -9 mid-transcription: the request resolves after the restart', async (t) => {
  const sidecar = fakeSidecar(t, 'echo');
  await sidecar.start();
  const seen = record(sidecar, ['exit', 'restart', 'ready']);
  const firstPid = sidecar.pid;
  const retries = [];
  const promise = sidecar.transcribe('/x.wav', { delay_ms: 300 }, {
    onStatus: (s) => { if (s.stage === 'transcribing' && sidecar.pid === firstPid) process.kill(firstPid, 'SIGKILL'); },
    onRetry: (info) => retries.push(info),
  });
  const result = await promise;
  assert.deepEqual(retries.map((r) => [r.reason, r.attempt, r.forceCpu]), [['signal SIGKILL', 2, false]]);
  assert.equal(result.text, ' part 0 part 1 part 2');
  assert.equal(result.retried.reason, 'signal SIGKILL');
  assert.equal(result.retried.fallback_reason, null);
  assert.equal(seen.restart.length, 1);
  assert.equal(seen.restart[0].forceCpu, false);
  assert.equal(seen.exit[0].expected, false);
  assert.equal(seen.ready.length, 1);
  assert.notEqual(sidecar.pid, firstPid);
});

test('the spawn function is injectable; it gets the command, an argument array and pipes', async (t) => {
  const calls = [];
  const sidecar = fakeSidecar(t, 'echo', {
    spawn: (command, args, options) => {
      calls.push({ command, args, stdio: options.stdio, shell: options.shell });
      return childProcess.spawn(command, args, options);
    },
  });
  await sidecar.start();
  assert.equal(calls.length, 1);
  assert.equal(calls[0].command, process.execPath);
  assert.match(calls[0].args[0], /echo\.js$/);
  assert.deepEqual(calls[0].stdio, ['pipe', 'pipe', 'pipe']);
  assert.equal(calls[0].shell, undefined);
});

test('options are checked early with the received value in the message', async () => {
  assert.throws(() => new WhisperSidecar({ crashLimit: 0 }), /crashLimit.*at least 1, received 0/);
  assert.throws(() => new WhisperSidecar({ python: 5 }), /python option must be .* received 5/);
  assert.throws(() => new WhisperSidecar({ gracefulStopMs: 'soon' }), /gracefulStopMs.*received "soon"/);
  assert.throws(() => new WhisperSidecar({ args: '-m sidecar' }), /args.*array of strings/);
  const sidecar = new WhisperSidecar({ cwd: '/tmp' });
  assert.equal(sidecar.options.projectRoot, '/tmp');
  assert.equal(new WhisperSidecar().options.projectRoot, path.resolve(__dirname, '..', '..'));
  await assert.rejects(sidecar.transcribe(42), TypeError);
});
