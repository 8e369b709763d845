'use strict';

/**
 * The relay's top-level parts without a sidecar: config, the job store, errors, /healthz; and OpenAI's
 * field mapping (relay/routes/openai.js) and sameOrigin (relay/auth/origin.js). relay/requests/,
 * relay/responses/ and relay/media/ are tested in the folders of the same names.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { loadConfig } = require('../../relay/config');
const { JobStore } = require('../../relay/jobs/store');
const { toSidecarRequest } = require('../../relay/routes/openai');
const { withoutPaths } = require('../../relay/errors');
const { sameOrigin } = require('../../relay/auth/origin');
const { tempDir } = require('./helpers');

test('OpenAI fields map to sidecar params', () => {
  assert.deepEqual(toSidecarRequest({ model: 'whisper-1', prompt: 'Hi', timestamp_granularities: ['word'] }, 'transcribe'),
    { options: { initial_prompt: 'Hi', word_timestamps: true }, format: 'json', task: 'transcribe', words: true });
  assert.deepEqual(toSidecarRequest({ model: 'tiny', response_format: 'text' }, 'translate').options,
    { model: 'tiny', task: 'translate' });
  assert.throws(() => toSidecarRequest({ bogus: '1' }, 'transcribe'), (err) => err.details.param === 'bogus');
});

test('config: defaults, env, and a TypeError that quotes a bad value', () => {
  const config = loadConfig({});
  assert.equal(config.port, 8787);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.allowPrivateUrls, false);
  assert.equal(config.mediaDir, null);
  assert.equal(config.maxDownloadMb, config.maxUploadMb);
  assert.ok(Object.isFrozen(config));
  const custom = loadConfig({ PORT: '9000', ALLOW_PRIVATE_URLS: 'yes', MEDIA_DIR: 'media', MAX_UPLOAD_MB: '2' });
  assert.deepEqual([custom.port, custom.allowPrivateUrls, custom.mediaDir, custom.maxDownloadMb],
    [9000, true, path.resolve('media'), 2]);
  assert.throws(() => loadConfig({ PORT: 'eighty' }), /PORT must be a port number 0..65535, got "eighty"/);
  assert.throws(() => loadConfig({ ALLOW_PRIVATE_URLS: 'sure' }), /ALLOW_PRIVATE_URLS/);
});

test('the job store survives closing and reopening, and requeues running jobs', () => {
  const file = path.join(tempDir(), 'jobs.sqlite');
  let store = new JobStore(file);
  store.insert({ id: 'a', source: 'upload', name: 'a.wav', mediaPath: '/tmp/a.wav', options: { language: 'en' } });
  store.insert({ id: 'b', source: 'path', name: 'b.wav', mediaPath: '/m/b.wav' });
  store.update('a', { state: 'done', result: { text: 'hi', segments: [], duration: 1 }, finished_at: 'x' });
  store.update('b', { state: 'running' });
  store.close();

  store = new JobStore(file);
  assert.deepEqual(store.get('a').result, { text: 'hi', segments: [], duration: 1 });
  assert.deepEqual(store.get('a').options, { language: 'en' });
  assert.deepEqual(store.requeueInterrupted(), ['b']);
  assert.deepEqual(store.queuedIds(), ['b']);
  assert.equal(store.list().find((job) => job.id === 'a').duration, 1);
  assert.throws(() => store.update('a', { id: 'z' }), TypeError);
  store.close();
});

test('/healthz says 503 once the bridge has given up on the sidecar', async () => {
  const { buildRelay } = require('../../relay/app');
  const config = loadConfig({}, { dataDir: tempDir(), logLevel: 'silent' });
  const sidecar = { state: 'crashed', fatalError: new Error('the sidecar crashed 3 times in 60 s'), transcribe() {} };
  const app = buildRelay({ config, sidecar, logger: false });
  try {
    const response = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(response.statusCode, 503);
    assert.deepEqual([response.json().ok, response.json().sidecar], [false, 'crashed']);
    assert.match(response.json().error, /crashed 3 times/);
  } finally {
    await app.close();
  }
});

test('error messages keep a path\'s last part only; URLs, ratios and hub ids stay whole', () => {
  assert.equal(withoutPaths('/srv/data/uploads/3f9a.wav is not an audio or video file (/srv/data/uploads/3f9a.wav)'),
    '3f9a.wav is not an audio or video file (3f9a.wav)');
  assert.equal(withoutPaths("'/etc' holds no model.bin"), "'etc' holds no model.bin");
  assert.equal(withoutPaths('C:\\Users\\me\\a.flac failed'), 'a.flac failed');
  for (const kept of ['GET https://example.com/a/b.mp3 failed', 'Systran/faster-whisper-small is missing', 'ratio 1/2']) {
    assert.equal(withoutPaths(kept), kept);
  }
});

test('sameOrigin: the scheme\'s default port aside, an Origin must name the Host the request went to', () => {
  assert.equal(sameOrigin('http://127.0.0.1:8787', '127.0.0.1:8787'), true);
  assert.equal(sameOrigin('http://localhost', 'localhost:80'), true);
  assert.equal(sameOrigin('https://evil.example', '127.0.0.1:8787'), false);
  assert.equal(sameOrigin('http://127.0.0.1:8788', '127.0.0.1:8787'), false);
  assert.equal(sameOrigin('null', '127.0.0.1:8787'), false);
  assert.equal(sameOrigin('file:///x', '127.0.0.1:8787'), false);
});
