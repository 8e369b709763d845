'use strict';

// Against the real `python -m sidecar` from the project's .venv, with the real base model on the CPU.
// Skipped when the .venv or the sidecar is missing (set WHISPER_SIDECAR_REAL=0 to skip on purpose).

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const childProcess = require('node:child_process');
const { WhisperSidecar } = require('../../node_bridge');
const { waitGone, record, wordErrorRate } = require('./helpers');

const ROOT = path.resolve(__dirname, '..', '..');
const AUDIO = path.join(ROOT, 'tests', 'fixtures', 'audio');
const VENV_PYTHON = path.join(ROOT, '.venv', process.platform === 'win32' ? 'Scripts\\python.exe' : 'bin/python');
const MAX_WER = 0.2;
// hello.flac: 11 words that base int8 hears differently by CPU ("The whole world … test on the …", 0.27).
const HELLO_MAX_WER = 0.3;
// The parent's SIGTERM listeners before any sidecar: the bridge's parent-exit handlers add one.
const SIGTERM_LISTENERS = process.listenerCount('SIGTERM');

function skipReason() {
  if (process.env.WHISPER_SIDECAR_REAL === '0') return 'WHISPER_SIDECAR_REAL=0';
  if (!fs.existsSync(VENV_PYTHON)) return `no ${VENV_PYTHON}`;
  const probe = childProcess.spawnSync(VENV_PYTHON, ['-c', 'import sidecar.endpoint.server, faster_whisper'],
    { cwd: ROOT, timeout: 60000, encoding: 'utf8' });
  return probe.status === 0 ? false : `the sidecar does not import: ${(probe.stderr || '').trim().split('\n').pop()}`;
}

const audio = (name) => path.join(AUDIO, `${name}.flac`);
const expected = (name) => fs.readFileSync(path.join(AUDIO, `${name}.txt`), 'utf8');

// About 6 s alone on 2 cores; the timeout leaves room for a machine busy with other test suites.
describe('the real sidecar', { skip: skipReason(), timeout: 300000 }, () => {
  let sidecar;
  let seen;
  const pids = new Set();

  before(() => {
    sidecar = new WhisperSidecar({ forceCpu: true, logger: null });
    seen = record(sidecar, ['ready', 'restart', 'exit', 'fatal', 'status']);
    sidecar.on('ready', (info) => pids.add(info.pid));
  });
  after(() => sidecar.stop());

  test('start() resolves on ready, with the .venv Python', async () => {
    const info = await sidecar.start();
    assert.equal(sidecar.state, 'ready');
    assert.equal(info.pid, sidecar.pid);
    for (const key of ['version', 'python', 'platform']) assert.equal(typeof info[key], 'string', key);
    assert.equal(sidecar.python.source, '.venv');
    assert.equal(sidecar.python.command, VENV_PYTHON);
  });

  test('gpuStatus() reports the CPU and why', async () => {
    const gpu = await sidecar.gpuStatus({ wait: true });  // at once it may still say setup_complete: false
    assert.equal(gpu.device, 'cpu');
    assert.equal(typeof gpu.compute_type, 'string');
    assert.equal(typeof gpu.model, 'string');
    assert.equal(typeof gpu.model_loaded, 'boolean');
    assert.equal(typeof gpu.cuda_device_count, 'number');
    assert.match(gpu.fallback_reason, /FORCE_CPU/);
  });

  test('transcribe() a fixture: the text, the shape, segments in order through onSegment', async () => {
    const segments = [];
    const stages = [];
    const result = await sidecar.transcribe(audio('hello'), { language: 'en' }, {
      onSegment: (segment) => segments.push(segment), onStatus: (status) => stages.push(status.stage),
    });
    assert.ok(wordErrorRate(expected('hello'), result.text) <= HELLO_MAX_WER, result.text);
    assert.equal(result.language, 'en');
    assert.equal(result.device, 'cpu');
    assert.ok(result.duration > 3 && result.duration < 7, String(result.duration));
    for (const key of ['queue_s', 'load_s', 'transcribe_s']) assert.equal(typeof result.timings[key], 'number', key);
    assert.equal(typeof result.rtf, 'number');
    assert.deepEqual(segments, result.segments);
    assert.equal(stages.at(-1), 'done');
    assert.ok(stages.includes('transcribing'));
  });

  test('two concurrent requests: both right, each callback sees only its own segments, in order', async () => {
    const names = ['weather', 'numbers'];
    const got = { weather: [], numbers: [] };
    const results = await Promise.all(names.map((name) => sidecar.transcribe(audio(name), { language: 'en' },
      { onSegment: (segment) => got[name].push(segment) })));
    names.forEach((name, index) => {
      const result = results[index];
      assert.ok(wordErrorRate(expected(name), result.text) <= (name === 'hello' ? HELLO_MAX_WER : MAX_WER), `${name}: ${result.text}`);
      assert.deepEqual(got[name], result.segments, name);
      const ids = got[name].map((segment) => segment.id);
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b), `${name} segment ids in order`);
      const starts = got[name].map((segment) => segment.start);
      assert.deepEqual(starts, [...starts].sort((a, b) => a - b), `${name} segment starts in order`);
    });
  });

  test('an application error: a missing file rejects with kind file_not_found; bad params with -32602', async () => {
    await assert.rejects(sidecar.transcribe(path.join(AUDIO, 'missing.flac')), (error) => {
      assert.equal(error.kind, 'file_not_found');
      assert.ok(error.code <= -32000 && error.code >= -32099, String(error.code));
      return true;
    });
    await assert.rejects(sidecar.transcribe(audio('hello'), { beam_size: -1 }), { code: -32602 });
    await assert.rejects(sidecar.transcribe(audio('hello'), { no_such_param: 1 }), { code: -32602 });
  });

  test('kill -9 of the Python process mid-transcription: the request resolves after the restart', async () => {
    const firstPid = sidecar.pid;
    const result = await sidecar.transcribe(audio('weather'), { language: 'en' }, {
      onStatus: (status) => {
        if (status.stage === 'transcribing' && sidecar.pid === firstPid) process.kill(firstPid, 'SIGKILL');
      },
    });
    assert.ok(wordErrorRate(expected('weather'), result.text) <= MAX_WER, result.text);
    assert.equal(result.retried.reason, 'signal SIGKILL');
    assert.equal(seen.restart.length, 1);
    assert.equal(seen.exit.at(-1).signal, 'SIGKILL');
    assert.notEqual(sidecar.pid, firstPid);
    assert.ok(await waitGone(firstPid));
    assert.deepEqual(seen.fatal, []);
  });

  test('cancel through an AbortSignal: AbortError, and the sidecar goes on', async () => {
    const controller = new AbortController();
    const promise = sidecar.transcribe(audio('story'), { language: 'en' }, {
      signal: controller.signal,
      onStatus: (status) => { if (status.stage === 'transcribing') controller.abort(); },
    });
    await assert.rejects(promise, { name: 'AbortError', isCanceled: true });
    assert.equal((await sidecar.ping()).pong, true); // stop() then cancels the rest in the sidecar
    assert.equal(seen.restart.length, 1); // the kill -9 test's
  });

  test('stop() leaves no process behind', async () => {
    assert.ok(pids.size >= 2);
    await sidecar.stop();
    assert.equal(sidecar.state, 'stopped');
    for (const pid of pids) assert.ok(await waitGone(pid), `pid ${pid} still alive`);
    assert.equal(process.listenerCount('SIGTERM'), SIGTERM_LISTENERS); // the parent-exit handlers are gone
    assert.ok(seen.exit.at(-1).expected);
  });
});
