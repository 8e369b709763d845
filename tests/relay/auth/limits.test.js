'use strict';

/**
 * Limits on a keyed relay with the real sidecar: the job-creation rate limit per key, the queued +
 * running job quotas per key and in total, open event streams per key — each reached (429 with
 * Retry-After, the relay's or OpenAI's error shape) and recovered. And the CORS allow-list.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { AUDIO, fixture, tempDir, startSidecar, startRelay } = require('../helpers');
const { newKey, call, audioForm, until } = require('../keyed');

const A = newKey('a');
const B = newKey('b');

let sidecar;
const relays = [];

before(async () => {
  sidecar = await startSidecar();
});

after(async () => {
  for (const relay of relays) await relay.close();
  if (sidecar) await sidecar.stop();
});

async function keyedRelay(config) {
  const relay = await startRelay({ sidecar, config: { apiKeys: [A, B], mediaDir: AUDIO, ...config } });
  relays.push(relay);
  return relay;
}

const createJob = (relay, key, file = 'story.flac') => call(relay.url, 'POST', '/api/transcriptions',
  { key, json: { path: file, language: 'en' } });

async function cancelAll(relay, key) {
  const { jobs } = (await call(relay.url, 'GET', '/api/transcriptions', { key })).body;
  for (const job of jobs) {
    if (job.state === 'queued' || job.state === 'running') await call(relay.url, 'DELETE', `/api/transcriptions/${job.id}`, { key });
  }
}

function assertTooMany(answer, code, label) {
  assert.equal(answer.status, 429, `${label}: ${answer.status} ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.error.code, code, label);
  assert.equal(typeof answer.body.error.message, 'string', label);
  const retryAfter = Number(answer.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `${label}: Retry-After ${answer.headers.get('retry-after')}`);
  return retryAfter;
}

test('the rate limit on job creation: per key, 429 with Retry-After, then recovered', async () => {
  const relay = await keyedRelay({ rateLimitPerMin: 2, rateLimitWindowS: 2, maxJobsPerKey: 50 });
  try {
    assert.equal((await createJob(relay, A, 'hello.flac')).status, 202);
    assert.equal((await createJob(relay, A, 'hello.flac')).status, 202);
    const refused = await createJob(relay, A, 'hello.flac');
    const retryAfter = assertTooMany(refused, 'rate_limit_exceeded', 'the third in the window');
    assert.ok(retryAfter <= 2);
    // OpenAI's shape on /v1, refused before the upload is read.
    const openai = await call(relay.url, 'POST', '/v1/audio/transcriptions',
      { key: A, form: audioForm(fixture('hello.flac'), { model: 'whisper-1' }) });
    assertTooMany(openai, 'rate_limit_exceeded', '/v1 over the limit');
    assert.equal(openai.body.error.type, 'invalid_request_error');
    // Another key has its own budget; reading is not limited.
    assert.equal((await createJob(relay, B, 'hello.flac')).status, 202);
    assert.equal((await call(relay.url, 'GET', '/api/transcriptions', { key: A })).status, 200);

    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 100));
    assert.equal((await createJob(relay, A, 'hello.flac')).status, 202, 'after Retry-After');
  } finally {
    await cancelAll(relay, A);
    await cancelAll(relay, B);
  }
});

test('queued + running jobs per key: 429 too_many_jobs at the limit, room again after a cancel', async () => {
  const relay = await keyedRelay({ maxJobsPerKey: 2, maxJobsTotal: 10 });
  try {
    const first = await createJob(relay, A);
    const second = await createJob(relay, A);
    assert.deepEqual([first.status, second.status], [202, 202]);
    assertTooMany(await createJob(relay, A), 'too_many_jobs', 'the third for A');
    assert.equal((await createJob(relay, B)).status, 202, 'B is not limited by A');

    assert.equal((await call(relay.url, 'DELETE', `/api/transcriptions/${second.body.id}`, { key: A })).status, 200);
    assert.equal((await createJob(relay, A)).status, 202, 'room again after a cancel');
  } finally {
    await cancelAll(relay, A);
    await cancelAll(relay, B);
  }
});

test('two uploads racing for the last slot: one is queued, one is refused, no upload is left behind', async () => {
  const relay = await keyedRelay({ maxJobsPerKey: 2, maxJobsTotal: 10 });
  try {
    assert.equal((await createJob(relay, A)).status, 202);
    const answers = await Promise.all([1, 2].map(() => call(relay.url, 'POST', '/api/transcriptions',
      { key: A, form: audioForm(fixture('story.flac'), { language: 'en' }) })));
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [202, 429], JSON.stringify(answers.map((a) => a.body)));
    assertTooMany(answers.find((a) => a.status === 429), 'too_many_jobs', 'the racing upload');
    await cancelAll(relay, A);
    const uploads = path.join(relay.config.dataDir, 'uploads');
    await until(() => !fs.existsSync(uploads) || fs.readdirSync(uploads).length === 0, 10000, 'the uploads folder to be empty');
  } finally {
    await cancelAll(relay, A);
  }
});

test('jobs in total: 429 when the relay is full, whoever asks', async () => {
  const relay = await keyedRelay({ maxJobsPerKey: 5, maxJobsTotal: 2 });
  try {
    assert.equal((await createJob(relay, A)).status, 202);
    assert.equal((await createJob(relay, B)).status, 202);
    assertTooMany(await createJob(relay, A), 'too_many_jobs', 'A when full');
    assertTooMany(await createJob(relay, B), 'too_many_jobs', 'B when full');
    await cancelAll(relay, B);
    assert.equal((await createJob(relay, A)).status, 202);
  } finally {
    await cancelAll(relay, A);
    await cancelAll(relay, B);
  }
});

test('open event streams per key: 429 too_many_streams at the limit, room again when one closes', async () => {
  const relay = await keyedRelay({ maxStreamsPerKey: 2 });
  const controllers = [];
  const open = async (key, id) => {
    const controller = new AbortController();
    const response = await fetch(`${relay.url}/api/transcriptions/${id}/events`,
      { headers: { authorization: `Bearer ${key}` }, signal: controller.signal });
    if (response.status === 200) {
      controllers.push(controller);
      await response.body.getReader().read(); // the snapshot
    }
    return { response, controller };
  };
  try {
    // Two long jobs, so the streams stay open.
    const a = (await createJob(relay, A)).body.id;
    const b = (await createJob(relay, B)).body.id;
    assert.equal((await open(A, a)).response.status, 200);
    assert.equal((await open(A, a)).response.status, 200);
    const third = await open(A, a);
    assert.equal(third.response.status, 429);
    assert.ok(Number(third.response.headers.get('retry-after')) >= 1);
    assert.equal((await third.response.json()).error.code, 'too_many_streams');
    assert.equal((await open(B, b)).response.status, 200, 'B has its own streams');

    controllers[0].abort();
    let again;
    await until(async () => {
      again = await open(A, a);
      return again.response.status === 200;
    }, 5000, 'a stream slot to come back');
  } finally {
    for (const controller of controllers) controller.abort();
    await cancelAll(relay, A);
    await cancelAll(relay, B);
  }
});

test('CORS: off by default; CORS_ORIGINS allows only its origins, preflight without a key', async () => {
  const relay = await keyedRelay({ corsOrigins: ['https://app.example'] });
  const preflight = await fetch(`${relay.url}/api/transcriptions`, { method: 'OPTIONS', headers: {
    origin: 'https://app.example', 'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization, content-type' } });
  assert.ok(preflight.status < 300, String(preflight.status));
  assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example');
  assert.match(preflight.headers.get('access-control-allow-headers'), /authorization/i);

  const allowed = await call(relay.url, 'GET', '/api/transcriptions', { key: A, headers: { origin: 'https://app.example' } });
  assert.equal(allowed.status, 200);
  assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example');
  const refusedKey = await call(relay.url, 'GET', '/api/transcriptions', { headers: { origin: 'https://app.example' } });
  assert.equal(refusedKey.status, 401, 'CORS does not open the API');
  const other = await call(relay.url, 'GET', '/api/transcriptions', { key: A, headers: { origin: 'https://evil.example' } });
  assert.equal(other.headers.get('access-control-allow-origin'), null);
});
