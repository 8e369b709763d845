'use strict';

/**
 * The official `openai` npm package against POST /v1/audio/transcriptions, unchanged but for its
 * baseURL: text, json, verbose_json with word and segment timestamps, srt, and errors in OpenAI's shape.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const OpenAI = require('openai');
const { fixture, fixtureText, tempDir, startSidecar, startRelay, getJson, wordRecall, HELLO_MIN_RECALL } = require('./helpers');

let sidecar;
let relay;
let client;

before(async () => {
  sidecar = await startSidecar();
  relay = await startRelay({ sidecar });
  client = new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: 'not-needed', maxRetries: 0, timeout: 120000 });
});

after(async () => {
  if (relay) await relay.close();
  if (sidecar) await sidecar.stop();
});

test('response_format text returns the transcript as a string', async () => {
  const text = await client.audio.transcriptions.create({
    file: fs.createReadStream(fixture('hello.flac')), model: 'whisper-1', response_format: 'text',
  });
  assert.equal(typeof text, 'string');
  assert.ok(wordRecall(text, fixtureText('hello')) >= HELLO_MIN_RECALL, text);
});

test('the default json format returns {text, usage}', async () => {
  const result = await client.audio.transcriptions.create({
    file: fs.createReadStream(fixture('weather.flac')), model: 'whisper-1', language: 'en',
  });
  assert.deepEqual(Object.keys(result), ['text', 'usage']);
  assert.equal(result.usage.type, 'duration');
  assert.ok(Number.isInteger(result.usage.seconds) && result.usage.seconds >= 1, JSON.stringify(result.usage));
  assert.ok(wordRecall(result.text, fixtureText('weather')) >= 0.7, result.text);
});

test('verbose_json with word and segment timestamps', async () => {
  const result = await client.audio.transcriptions.create({
    file: fs.createReadStream(fixture('numbers.flac')),
    model: 'whisper-1',
    response_format: 'verbose_json',
    timestamp_granularities: ['word', 'segment'],
    prompt: 'Numbers.',
  });
  assert.equal(result.task, 'transcribe');
  assert.equal(result.language, 'english');
  assert.ok(result.duration > 5 && result.duration < 8, String(result.duration));
  assert.deepEqual(result.usage, { type: 'duration', seconds: Math.ceil(result.duration) });
  assert.ok(wordRecall(result.text, fixtureText('numbers')) >= 0.7, result.text);
  assert.ok(result.segments.length >= 1);
  for (const segment of result.segments) {
    assert.equal(typeof segment.id, 'number');
    assert.ok(segment.end > segment.start);
    for (const key of ['seek', 'tokens', 'temperature', 'avg_logprob', 'compression_ratio', 'no_speech_prob']) {
      assert.ok(key in segment, key);
    }
  }
  assert.ok(result.words.length >= 5);
  assert.ok(result.words.every((w) => typeof w.word === 'string' && w.end >= w.start));
});

test('srt and vtt come back as text', async () => {
  const srt = await client.audio.transcriptions.create({
    file: fs.createReadStream(fixture('hello.flac')), model: 'whisper-1', response_format: 'srt',
  });
  assert.match(srt, /^1\n00:00:00,000 --> /);
  const vtt = await client.audio.transcriptions.create({
    file: fs.createReadStream(fixture('hello.flac')), model: 'whisper-1', response_format: 'vtt',
  });
  assert.match(vtt, /^WEBVTT\n/);
});

/** OpenAI's logprobs: tokens whose texts spell `text`, finite log-probabilities ≤ 0, bytes that are the token. */
function assertLogprobs(logprobs, text) {
  assert.ok(Array.isArray(logprobs) && logprobs.length > 0, JSON.stringify(logprobs));
  assert.equal(logprobs.map((t) => t.token).join('').trim(), text.trim());
  for (const t of logprobs) {
    assert.deepEqual(Object.keys(t).sort(), ['bytes', 'logprob', 'token']);
    assert.ok(Number.isFinite(t.logprob) && t.logprob <= 0, JSON.stringify(t));
    assert.equal(Buffer.from(t.bytes).toString('utf8'), t.token);
  }
}

test('include[]=logprobs: json carries Whisper\'s tokens and their log-probabilities', async () => {
  const result = await client.audio.transcriptions.create({
    file: fs.createReadStream(fixture('weather.flac')), model: 'whisper-1', language: 'en', include: ['logprobs'],
  });
  assert.deepEqual(Object.keys(result), ['text', 'logprobs', 'usage']);
  assert.ok(wordRecall(result.text, fixtureText('weather')) >= 0.7, result.text);
  assertLogprobs(result.logprobs, result.text);
  const sorted = result.logprobs.map((t) => t.logprob).sort((a, b) => a - b);
  assert.ok(sorted[Math.floor(sorted.length / 2)] > -0.5, `a clear recording's median logprob: ${sorted}`);
});

test('include[]=logprobs with stream: true: each delta carries its tokens\' logprobs', async () => {
  const stream = await client.audio.transcriptions.create({
    file: fs.createReadStream(fixture('weather.flac')), model: 'whisper-1', language: 'en', stream: true,
    include: ['logprobs'],
  });
  const deltas = [];
  let done;
  for await (const event of stream) {
    if (event.type === 'transcript.text.delta') deltas.push(event);
    else if (event.type === 'transcript.text.done') done = event;
  }
  assert.ok(deltas.length > 0 && done, 'deltas, then done');
  for (const d of deltas) assertLogprobs(d.logprobs, d.delta);
  assertLogprobs(deltas.flatMap((d) => d.logprobs), done.text);
});

test('include[] other than logprobs, and on translations, is refused', async () => {
  await assert.rejects(client.audio.transcriptions.create({
    file: fs.createReadStream(fixture('hello.flac')), model: 'whisper-1', include: ['tokens'],
  }), (err) => err instanceof OpenAI.BadRequestError && err.error.param === 'include[]' && err.error.code === 'invalid_value');
  const res = await fetch(`${relay.url}/v1/audio/translations`, { method: 'POST', body: (() => {
    const form = new FormData();
    form.append('file', new Blob([fs.readFileSync(fixture('hello.flac'))]), 'hello.flac');
    form.append('model', 'whisper-1');
    form.append('include[]', 'logprobs');
    return form;
  })() });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.param, 'include[]');
});

test('errors come back in OpenAI\'s shape and the SDK raises its own classes', async () => {
  await assert.rejects(client.audio.transcriptions.create({
    file: fs.createReadStream(fixture('hello.flac')), model: 'whisper-1', response_format: 'xml',
  }), (err) => err instanceof OpenAI.BadRequestError && err.status === 400
    && err.error.param === 'response_format' && err.error.type === 'invalid_request_error');

  await assert.rejects(client.audio.transcriptions.create({
    file: fs.createReadStream(fixture('hello.flac')), model: 'whisper-1', include: ['logprobs'], response_format: 'srt',
  }), (err) => err instanceof OpenAI.BadRequestError && err.error.param === 'include[]' && /json/.test(err.message));

  const fake = path.join(tempDir(), 'fake.mp3');
  fs.writeFileSync(fake, 'definitely not audio\n'.repeat(40));
  await assert.rejects(client.audio.transcriptions.create({ file: fs.createReadStream(fake), model: 'whisper-1' }),
    (err) => err instanceof OpenAI.BadRequestError && err.code === 'not_audio');

  const empty = path.join(tempDir(), 'empty.wav');
  fs.writeFileSync(empty, '');
  await assert.rejects(client.audio.transcriptions.create({ file: fs.createReadStream(empty), model: 'whisper-1' }),
    (err) => err instanceof OpenAI.BadRequestError && err.code === 'empty_upload');
});

test('a language Whisper does not know is a 400 at once, on transcriptions and translations', async () => {
  const before = (await getJson(relay.url, '/api/transcriptions')).body.jobs.length;
  await assert.rejects(client.audio.transcriptions.create({
    file: fs.createReadStream(fixture('hello.flac')), model: 'whisper-1', language: 'xx',
  }), (err) => err instanceof OpenAI.BadRequestError && err.status === 400 && err.error.param === 'language'
    && /language/.test(err.message));
  await assert.rejects(client.audio.transcriptions.create({
    file: fs.createReadStream(fixture('hello.flac')), model: 'whisper-1', language: 'klingon', stream: true,
  }), (err) => err instanceof OpenAI.BadRequestError && err.error.param === 'language');
  assert.equal((await getJson(relay.url, '/api/transcriptions')).body.jobs.length, before, 'no job was made');
});

test('OpenAI requests are kept as jobs too', async () => {
  const { body } = await getJson(relay.url, '/api/transcriptions');
  assert.ok(body.jobs.filter((job) => job.source === 'openai' && job.state === 'done').length >= 4);
});
