'use strict';

/**
 * POST /v1/audio/transcriptions with stream=true and GET /v1/models, against the real sidecar:
 * the official `openai` npm package iterating the stream unchanged, the raw event stream byte for
 * byte, errors before and after the first byte, a client that hangs up, and a sidecar killed mid-stream.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const OpenAI = require('openai');
const { fixture, fixtureText, tempDir, startSidecar, startRelay, getJson, wordRecall } = require('./helpers');
const { longFixture, postStream } = require('./openai-helpers');
const { wordErrorRate } = require('../../bench/wer');

let sidecar;
let relay;
let client;
let long;
const cacheDir = tempDir('openai-cache-');

before(async () => {
  // A hub model as faster-whisper caches it, and one download left half-way (no model.bin).
  const snapshot = path.join(cacheDir, 'hub', 'models--Systran--faster-whisper-small', 'snapshots', 'abc123');
  fs.mkdirSync(snapshot, { recursive: true });
  fs.writeFileSync(path.join(snapshot, 'model.bin'), 'weights');
  fs.mkdirSync(path.join(cacheDir, 'hub', 'models--someone--half-done', 'snapshots', 'def456'), { recursive: true });
  long = longFixture();
  // The relay lists the models the sidecar's list_models finds in its cache folder.
  sidecar = await startSidecar({ cacheDir });
  relay = await startRelay({ sidecar });
  client = new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: 'not-needed', maxRetries: 0, timeout: 300000 });
});

after(async () => {
  if (relay) await relay.close();
  if (sidecar) await sidecar.stop();
});

function form(file, fields = {}) {
  const body = new FormData();
  for (const [name, value] of Object.entries(fields)) body.append(name, String(value));
  body.append('file', new Blob([fs.readFileSync(file)]), path.basename(file));
  return body;
}

async function latestOpenAiJob() {
  const { body } = await getJson(relay.url, '/api/transcriptions');
  return body.jobs.find((job) => job.source === 'openai');
}

async function waitForState(id, states, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await getJson(relay.url, `/api/transcriptions/${id}`);
    if (states.includes(body.state)) return body;
    if (Date.now() > deadline) throw new Error(`job ${id} is still ${body.state}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('the official SDK iterates stream: true: deltas as segments are decoded, then done', async (t) => {
  const t0 = performance.now();
  const stream = await client.audio.transcriptions.create({
    file: fs.createReadStream(long.path), model: 'whisper-1', language: 'en', stream: true,
  });
  const events = [];
  for await (const event of stream) events.push({ ...event, at: performance.now() - t0 });
  const deltas = events.filter((e) => e.type === 'transcript.text.delta');
  const done = events[events.length - 1];
  assert.equal(done.type, 'transcript.text.done');
  assert.equal(events.filter((e) => e.type === 'transcript.text.done').length, 1);
  assert.ok(deltas.length >= 3, `${deltas.length} deltas`);
  assert.deepEqual(Object.keys(deltas[0]).sort(), ['at', 'delta', 'type']);
  assert.deepEqual(Object.keys(done).sort(), ['at', 'text', 'type', 'usage']);
  assert.deepEqual(done.usage, { type: 'duration', seconds: Math.ceil(long.duration) }, 'usage: the audio length');
  assert.ok(wordErrorRate(long.text, done.text) <= 0.15, done.text);
  assert.equal(deltas.map((d) => d.delta).join(''), done.text, 'the deltas add up to the text');
  // 72 s of audio is three 30 s windows: the first window's segments come well before the last.
  const margin = done.at - deltas[0].at;
  t.diagnostic(`${deltas.length} deltas; first at ${deltas[0].at.toFixed(0)} ms, done at ${done.at.toFixed(0)} ms`);
  assert.ok(margin >= 500, `first delta at ${deltas[0].at.toFixed(0)} ms, done at ${done.at.toFixed(0)} ms`);
  const job = await latestOpenAiJob();
  assert.equal(job.state, 'done');
});

test('the raw stream: text/event-stream, bare data lines, OpenAI\'s shapes and nothing else', async () => {
  const { status, headers, raw, events } = await postStream(`${relay.url}/v1/audio/transcriptions`,
    form(fixture('weather.flac'), { model: 'whisper-1', language: 'en', stream: 'true', response_format: 'text' }));
  assert.equal(status, 200);
  assert.match(headers.get('content-type'), /^text\/event-stream/);
  assert.match(raw, /^data: \{"type":"transcript\.text\.delta","delta":"/);
  assert.doesNotMatch(raw, /^event:/m);
  assert.ok(events.length >= 2);
  for (const event of events.slice(0, -1)) assert.deepEqual(Object.keys(event.data), ['type', 'delta']);
  const done = events[events.length - 1].data;
  assert.deepEqual(Object.keys(done), ['type', 'text', 'usage']);
  assert.equal(done.usage.type, 'duration');
  assert.ok(Number.isInteger(done.usage.seconds) && done.usage.seconds >= 1, JSON.stringify(done.usage));
  assert.ok(wordRecall(done.text, fixtureText('weather')) >= 0.7, done.text);
  assert.ok(raw.endsWith('\n\n'));
});

test('before the first byte, errors are plain HTTP errors in OpenAI\'s shape', async () => {
  const fake = path.join(tempDir(), 'fake.mp3');
  fs.writeFileSync(fake, 'definitely not audio\n'.repeat(40));
  await assert.rejects(client.audio.transcriptions.create({ file: fs.createReadStream(fake), model: 'whisper-1', stream: true }),
    (err) => err instanceof OpenAI.BadRequestError && err.code === 'not_audio');
  await assert.rejects(client.audio.transcriptions.create({
    file: fs.createReadStream(fixture('hello.flac')), model: 'whisper-1', stream: true, response_format: 'srt',
  }), (err) => err instanceof OpenAI.BadRequestError && err.error.param === 'response_format');
  const bad = await fetch(`${relay.url}/v1/audio/transcriptions`, {
    method: 'POST', body: form(fixture('hello.flac'), { model: 'whisper-1', stream: 'yes' }),
  });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.param, 'stream');
});

test('translations do not stream (as OpenAI): 400', async () => {
  const answer = await fetch(`${relay.url}/v1/audio/translations`, {
    method: 'POST', body: form(fixture('hello.flac'), { model: 'whisper-1', stream: 'true' }),
  });
  assert.equal(answer.status, 400);
  const { error } = await answer.json();
  assert.deepEqual([error.type, error.param, error.code], ['invalid_request_error', 'stream', 'unknown_parameter']);
  const plain = await client.audio.translations.create({ file: fs.createReadStream(fixture('hello.flac')), model: 'whisper-1' });
  assert.ok(plain.text.length > 5);
});

test('an error after the first delta: an error event in OpenAI\'s shape, and the SDK raises it', async () => {
  const stream = await client.audio.transcriptions.create({
    file: fs.createReadStream(long.path), model: 'whisper-1', language: 'en', stream: true,
  });
  const seen = [];
  await assert.rejects((async () => {
    for await (const event of stream) {
      seen.push(event);
      // Someone cancels the job through the relay's own API while it streams.
      if (seen.length === 1) await fetch(`${relay.url}/api/transcriptions/${(await latestOpenAiJob()).id}`, { method: 'DELETE' });
    }
  })(), (err) => err instanceof OpenAI.APIError && err.error.code === 'cancelled' && /cancelled/.test(err.message));
  assert.equal(seen[0].type, 'transcript.text.delta');
  assert.ok(seen.every((e) => e.type === 'transcript.text.delta'), 'no done after the error');
  let cancelled = false;
  const raw = await postStream(`${relay.url}/v1/audio/transcriptions`, form(long.path, { stream: 'true' }), {
    onEvent: (event) => {
      if (event.data.type === 'transcript.text.delta' && !cancelled) {
        cancelled = true;
        latestOpenAiJob().then((job) => fetch(`${relay.url}/api/transcriptions/${job.id}`, { method: 'DELETE' }));
      }
    },
  });
  const last = raw.events[raw.events.length - 1];
  assert.equal(last.event, 'error');
  assert.deepEqual(Object.keys(last.data.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(last.data.type, 'error');
});

test('a client that hangs up mid-stream cancels its job', async () => {
  const { events } = await postStream(`${relay.url}/v1/audio/transcriptions`, form(long.path, { stream: 'true' }), {
    onEvent: (event, controller) => controller.abort(),
  });
  assert.equal(events.length, 1);
  assert.equal(events[0].data.type, 'transcript.text.delta');
  const job = await latestOpenAiJob();
  const finished = await waitForState(job.id, ['cancelled', 'done', 'error']);
  assert.equal(finished.state, 'cancelled');
});

test('a sidecar killed mid-stream: the retry sends no delta twice', async () => {
  let killedPid = null;
  const { events } = await postStream(`${relay.url}/v1/audio/transcriptions`, form(long.path, { stream: 'true', language: 'en' }), {
    onEvent: (event) => {
      if (killedPid === null && event.data.type === 'transcript.text.delta') {
        killedPid = sidecar.pid;
        process.kill(killedPid, 'SIGKILL');
      }
    },
  });
  assert.ok(killedPid, 'the sidecar was killed after the first delta');
  assert.notEqual(sidecar.pid, killedPid, 'the bridge started a new sidecar');
  const deltas = events.filter((e) => e.data.type === 'transcript.text.delta').map((e) => e.data.delta);
  const done = events[events.length - 1].data;
  assert.equal(done.type, 'transcript.text.done', JSON.stringify(done));
  const job = await getJson(relay.url, `/api/transcriptions/${(await latestOpenAiJob()).id}`);
  assert.equal(job.body.state, 'done');
  assert.equal(deltas.length, job.body.result.segments.length, 'one delta per final segment, none repeated');
  assert.ok(wordErrorRate(done.text, deltas.join('')) <= 0.05, deltas.join('|'));
  assert.ok(wordErrorRate(long.text, done.text) <= 0.15, done.text);
});

test('GET /v1/models: the alias, the embedded model, the default and complete cached hub models', async () => {
  const page = await client.models.list();
  const ids = page.data.map((m) => m.id);
  for (const id of ['whisper-1', 'base', 'small', 'Systran/faster-whisper-small']) assert.ok(ids.includes(id), ids.join());
  assert.ok(!ids.some((id) => /half-done/.test(id)), 'a download without model.bin is not listed');
  assert.equal(new Set(ids).size, ids.length);
  for (const model of page.data) {
    assert.deepEqual(Object.keys(model), ['id', 'object', 'created', 'owned_by']);
    assert.equal(model.object, 'model');
    assert.ok(Number.isInteger(model.created) && model.created >= 0);
  }
  const gpu = await getJson(relay.url, '/api/gpu');
  assert.ok(ids.includes(gpu.body.model), `the sidecar's default ${gpu.body.model}`);
  const { body } = await getJson(relay.url, '/v1/models');
  assert.equal(body.object, 'list');
  assert.equal(page.data.find((m) => m.id === 'small').owned_by, 'Systran');
});

test('GET /v1/models/{id}: found, with a slash in the id, and 404 in OpenAI\'s shape', async () => {
  assert.deepEqual(Object.keys(await client.models.retrieve('whisper-1')), ['id', 'object', 'created', 'owned_by']);
  assert.equal((await client.models.retrieve('Systran/faster-whisper-small')).id, 'Systran/faster-whisper-small');
  const unescaped = await getJson(relay.url, '/v1/models/Systran/faster-whisper-small');
  assert.equal(unescaped.status, 200);
  await assert.rejects(client.models.retrieve('whisper-2'), (err) => err instanceof OpenAI.NotFoundError
    && err.status === 404 && err.error.type === 'invalid_request_error' && err.code === 'model_not_found');
});
