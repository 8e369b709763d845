'use strict';

/** The relay's pure parts, without a sidecar: formats, options, config, the job store, media sniffing. */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { render, timestamp, toOpenAiVerbose } = require('../../relay/responses/formats');
const { parseOptions } = require('../../relay/requests/options');
const { loadConfig } = require('../../relay/config');
const { JobStore } = require('../../relay/store');
const { looksLikeMedia } = require('../../relay/media/sniff');
const { toSidecarRequest } = require('../../relay/routes/openai');
const { withoutPaths } = require('../../relay/errors');
const { sameOrigin } = require('../../relay/auth/origin');
const { listModels, vetModel } = require('../../relay/requests/models');
const { fixture, tempDir } = require('./helpers');

const RESULT = {
  text: ' Hello there. General Kenobi.',
  language: 'en',
  duration: 3725.5,
  segments: [
    { id: 1, start: 0, end: 1.5, text: ' Hello there.', words: [{ word: ' Hello', start: 0, end: 0.5 }] },
    { id: 2, start: 3723.25, end: 3725.5, text: ' General Kenobi.' },
  ],
};

test('timestamps in SRT and VTT spelling', () => {
  assert.equal(timestamp(3725.5, ','), '01:02:05,500');
  assert.equal(timestamp(0.0004, '.'), '00:00:00.000');
  assert.equal(timestamp(59.9996, '.'), '00:01:00.000');
});

test('render txt, srt, vtt, json', () => {
  assert.equal(render(RESULT, 'txt'), 'Hello there. General Kenobi.\n');
  assert.equal(render(RESULT, 'srt'),
    '1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n01:02:03,250 --> 01:02:05,500\nGeneral Kenobi.\n');
  assert.equal(render(RESULT, 'vtt'),
    'WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n01:02:03.250 --> 01:02:05.500\nGeneral Kenobi.\n');
  assert.deepEqual(JSON.parse(render(RESULT, 'json')), RESULT);
  assert.throws(() => render(RESULT, 'doc'), TypeError);
});

test('OpenAI verbose_json', () => {
  const body = toOpenAiVerbose(RESULT, { words: true });
  assert.equal(body.language, 'english');
  assert.equal(body.text, 'Hello there. General Kenobi.');
  assert.deepEqual(body.segments.map((s) => s.id), [0, 1]);
  assert.deepEqual(body.words, [{ word: 'Hello', start: 0, end: 0.5 }]);
  assert.equal('words' in toOpenAiVerbose(RESULT), false);
});

test('options: coerced from form strings, wrong ones named', () => {
  assert.deepEqual(parseOptions({ language: 'EN', beam_size: '5', vad_filter: 'true', word_timestamps: false, task: '' }),
    { language: 'en', beam_size: 5, vad_filter: true, word_timestamps: false });
  assert.deepEqual(parseOptions({ language: 'auto' }), {});
  for (const [input, param] of [[{ beam_size: 0 }, 'beam_size'], [{ language: 'english!' }, 'language'],
    [{ task: 'summarize' }, 'task'], [{ vad_filter: 'maybe' }, 'vad_filter'], [{ device: 'tpu' }, 'device']]) {
    assert.throws(() => parseOptions(input), (err) => err.statusCode === 400 && err.details.param === param);
  }
  assert.throws(() => parseOptions({ temperature: 1 }), (err) => err.code === 'unknown_option');
});

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

test('media sniffing knows the fixtures and refuses text', () => {
  for (const name of ['hello.flac', 'hello.mp4']) {
    assert.equal(looksLikeMedia(fs.readFileSync(fixture(name)).subarray(0, 512)), true, name);
  }
  assert.equal(looksLikeMedia(Buffer.from('<!doctype html><html>')), false);
  assert.equal(looksLikeMedia(Buffer.from('{"error": "nope"}')), false);
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

test('/v1/models never lists a model folder; vetModel takes listed and configured names only', async () => {
  // list_models as the sidecar answers it with WHISPER_MODEL set to a folder: no default named.
  const sidecar = { listModels: async () => ({ default_model: null, known: ['tiny'],
    models: [{ name: 'base', repo: null, source: 'embedded', created: 5 }] }) };
  const models = await listModels({ sidecar });
  assert.deepEqual(models.map((m) => m.id), ['whisper-1', 'base']);
  assert.deepEqual(models.map((m) => m.created), [5, 5]);
  const dead = { listModels: async () => { throw new Error('the sidecar exited'); } };
  assert.deepEqual((await listModels({ sidecar: dead })).map((m) => [m.id, m.created]), [['whisper-1', 0], ['base', 0]]);
  await vetModel('base', { sidecar });
  await vetModel(undefined, { sidecar });
  await vetModel('tiny', { sidecar, allowed: ['tiny'] });
  await assert.rejects(vetModel('/srv/models/private-ct2', { sidecar }), (err) => err.statusCode === 400
    && err.code === 'model_not_found');
});

test('languages: one list (relay/requests/languages.js) for every entry point, a region read as its language', () => {
  const { languageCode } = require('../../relay/requests/languages');
  assert.equal(languageCode('EN'), 'en');
  assert.equal(languageCode('pt-BR'), 'pt');
  assert.equal(languageCode('yue'), 'yue');
  for (const unknown of ['xx', 'klingon', 'en-!!', 'en_US', '', 'auto', undefined, 42]) assert.equal(languageCode(unknown), null, unknown);
  assert.deepEqual(parseOptions({ language: 'de-AT' }), { language: 'de' });
  for (const language of ['xx', 'zz-ZZ']) {
    assert.throws(() => parseOptions({ language }), (err) => err.statusCode === 400 && err.details.param === 'language');
  }
  assert.throws(() => parseOptions({ initial_prompt: 'a\u0000b' }), (err) => err.details.param === 'initial_prompt');
});

test('OpenAI\'s hosted model names run on the sidecar\'s default model, on every entry point (one list)', () => {
  const { sidecarModel } = require('../../relay/requests/models');
  for (const hosted of ['whisper-1', 'gpt-4o-transcribe', 'gpt-4o-mini-transcribe', undefined, '']) {
    assert.equal(sidecarModel(hosted), undefined, hosted);
  }
  assert.equal(sidecarModel('tiny'), 'tiny');
  assert.equal(sidecarModel('Systran/faster-whisper-small'), 'Systran/faster-whisper-small');
});
