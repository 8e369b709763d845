'use strict';

/**
 * Issue 19, the limits a caller meets, on relays with the real sidecar: live limits a caller can
 * lower but not raise (and the job view shows them), live slots taken atomically (four parallel
 * POSTs, LIVE_MAX_JOBS=2), a live cap per key, request and header timeouts against a trickling
 * client, uploads counted by the quotas while they come in, the free-disk check, JOB_RETENTION_DAYS,
 * and a key removed on SIGHUP losing its sockets and its live jobs.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const http = require('node:http');
const path = require('node:path');
const { AUDIO, fixture, tempDir } = require('./helpers');
const { newKey, call, audioForm, until } = require('./keyed');
const { JobStore } = require('../../relay/jobs/store');
const { reloadKeysOnSighup } = require('../../relay.js');
const { callerTestBed } = require('./caller-fixtures');

const A = newKey('a');
const B = newKey('b');

const { relayWith, stall: stallServer } = callerTestBed({ before, after });
const stall = { get url() { return stallServer().url; } };

async function stopAll(relay, key) {
  const { jobs } = (await call(relay.url, 'GET', '/api/transcriptions', { key })).body;
  for (const job of jobs) {
    if (['queued', 'downloading', 'running'].includes(job.state)) {
      await call(relay.url, 'DELETE', `/api/transcriptions/${job.id}`, { key });
    }
  }
}

function assertTooMany(answer, code, label) {
  assert.equal(answer.status, 429, `${label}: ${answer.status} ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.error.code, code, label);
  const retryAfter = Number(answer.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `${label}: Retry-After ${answer.headers.get('retry-after')}`);
}

test('a caller lowers the live limits but cannot raise them; the job view shows the effective ones', async () => {
  const media = tempDir('relay-media-');
  fs.copyFileSync(fixture('hello.flac'), path.join(media, 'hello.flac'));
  const relay = await relayWith({ mediaDir: media, allowPrivateUrls: true, liveMaxDurationS: 600, liveIdleTimeoutS: 2, followIdleS: 1 });
  try {
    const raised = await call(relay.url, 'POST', '/api/transcriptions', { json: {
      path: 'hello.flac', follow: true, max_duration_s: 604800, idle_timeout_s: 3600, follow_idle_s: 86400 } });
    assert.equal(raised.status, 202, JSON.stringify(raised.body));
    assert.deepEqual(raised.body.limits, { max_duration_s: 600, idle_timeout_s: 2, follow_idle_s: 1 });
    const viewed = await call(relay.url, 'GET', `/api/transcriptions/${raised.body.id}`);
    assert.deepEqual(viewed.body.limits, { max_duration_s: 600, idle_timeout_s: 2, follow_idle_s: 1 });

    const lowered = await call(relay.url, 'POST', '/api/transcriptions', { json: { url: stall.url, max_duration_s: 30 } });
    assert.equal(lowered.status, 202, JSON.stringify(lowered.body));
    assert.deepEqual(lowered.body.limits, { max_duration_s: 30, idle_timeout_s: 2 });

    // The effective idle limit is the one that runs: a silent stream asked to wait an hour ends in seconds.
    const silent = await call(relay.url, 'POST', '/api/transcriptions', { json: { url: stall.url, idle_timeout_s: 3600 } });
    assert.equal(silent.status, 202, JSON.stringify(silent.body));
    await until(async () => (await call(relay.url, 'GET', `/api/transcriptions/${silent.body.id}`)).body.state !== 'running',
      60000, 'the silent stream to end after LIVE_IDLE_TIMEOUT_S');

    const bad = await call(relay.url, 'POST', '/api/transcriptions', { json: { url: stall.url, max_duration_s: 'forever' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.param, 'max_duration_s');
  } finally {
    await stopAll(relay);
  }
});

test('four parallel live POSTs with LIVE_MAX_JOBS=2: two start, two get 429 with Retry-After', async () => {
  const relay = await relayWith({ allowPrivateUrls: true, liveMaxJobs: 2, liveIdleTimeoutS: 60 });
  try {
    const answers = await Promise.all([1, 2, 3, 4].map(() => call(relay.url, 'POST', '/api/transcriptions',
      { json: { url: stall.url } })));
    const started = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status !== 202);
    assert.equal(started.length, 2, JSON.stringify(answers.map((a) => [a.status, a.body.error || a.body.kind])));
    for (const answer of refused) assertTooMany(answer, 'too_many_live_jobs', 'a third live job');
    // A stopped job gives its slot back.
    await call(relay.url, 'DELETE', `/api/transcriptions/${started[0].body.id}`);
    const again = await call(relay.url, 'POST', '/api/transcriptions', { json: { url: stall.url } });
    assert.equal(again.status, 202, JSON.stringify(again.body));
  } finally {
    await stopAll(relay);
  }
});

test('one key cannot take every live slot: LIVE_MAX_JOBS_PER_KEY', async () => {
  const relay = await relayWith({ apiKeys: [A, B], allowPrivateUrls: true, liveMaxJobs: 8, liveMaxJobsPerKey: 1 });
  try {
    assert.equal((await call(relay.url, 'POST', '/api/transcriptions', { key: A, json: { url: stall.url } })).status, 202);
    assertTooMany(await call(relay.url, 'POST', '/api/transcriptions', { key: A, json: { url: stall.url } }),
      'too_many_live_jobs', 'a second live job of key A');
    assert.equal((await call(relay.url, 'POST', '/api/transcriptions', { key: B, json: { url: stall.url } })).status, 202);
  } finally {
    await stopAll(relay, A);
    await stopAll(relay, B);
  }
});

/** Opens a raw connection, sends `head`, then one byte of `trickle` every `everyMs`; resolves {ms, answer} when the server closes it. */
function trickle(port, head, { trickle: bytes = 'x'.repeat(1000), everyMs = 300, giveUpMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
    let answer = '';
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < bytes.length && !socket.destroyed) socket.write(bytes[sent++]);
    }, everyMs);
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the relay kept a trickling request open for ${giveUpMs} ms`));
    }, giveUpMs);
    socket.on('data', (chunk) => { answer += chunk; });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ ms: Date.now() - started, answer });
    });
  });
}

test('a body or headers that trickle in are cut off by REQUEST_TIMEOUT_S and HEADERS_TIMEOUT_S', async () => {
  const relay = await relayWith({ requestTimeoutS: 2, headersTimeoutS: 1 });
  const port = new URL(relay.url).port;
  const body = await trickle(port, 'POST /api/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\n'
    + 'Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 100000000\r\n\r\n'
    + '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n');
  assert.match(body.answer, /^HTTP\/1\.1 408/, body.answer);
  const headers = await trickle(port, 'GET /api/transcriptions HTTP/1.1\r\n', { trickle: 'X-Slow: '.padEnd(1000, 'y') });
  assert.match(headers.answer, /^HTTP\/1\.1 408/, headers.answer);
  assert.equal(fs.readdirSync(path.join(relay.config.dataDir, 'uploads')).length, 0, 'no upload is left behind');
});

test('an upload still coming in counts against the job quota of its key', async () => {
  const relay = await relayWith({ apiKeys: [A, B], mediaDir: AUDIO, maxJobsPerKey: 1, rateLimitPerMin: 0 });
  const port = new URL(relay.url).port;
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.on('error', () => {});
  socket.write(`POST /api/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${A}\r\n`
    + 'Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 1000000\r\n\r\n'
    + '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="slow.flac"\r\n\r\nfLaC');
  try {
    await until(() => fs.existsSync(path.join(relay.config.dataDir, 'uploads'))
      && fs.readdirSync(path.join(relay.config.dataDir, 'uploads')).length === 1, 10000, 'the upload to start');
    assertTooMany(await call(relay.url, 'POST', '/api/transcriptions', { key: A, json: { path: 'hello.flac' } }),
      'too_many_jobs', 'a job while the key\'s upload comes in');
    const other = await call(relay.url, 'POST', '/api/transcriptions', { key: B, json: { path: 'hello.flac' } });
    assert.equal(other.status, 202, 'another key is not held up');
  } finally {
    socket.destroy();
  }
  await until(async () => (await call(relay.url, 'POST', '/api/transcriptions',
    { key: A, json: { path: 'hello.flac' } })).status === 202, 10000, 'the quota to come back once the upload is gone');
  await stopAll(relay, A);
  await stopAll(relay, B);
});

test('an upload is refused with 507 when the disk would be left with less than MIN_FREE_DISK_MB', async () => {
  const relay = await relayWith({ minFreeDiskMb: 1024 ** 3 }); // a petabyte: never free here
  const answer = await call(relay.url, 'POST', '/api/transcriptions', { form: audioForm(fixture('hello.flac')) });
  assert.equal(answer.status, 507, JSON.stringify(answer.body));
  assert.equal(answer.body.error.code, 'insufficient_storage');
  assert.ok(Number(answer.headers.get('retry-after')) >= 1);
  const uploads = path.join(relay.config.dataDir, 'uploads');
  assert.equal(fs.existsSync(uploads) ? fs.readdirSync(uploads).length : 0, 0);
  const normal = await relayWith({});
  const accepted = await call(normal.url, 'POST', '/api/transcriptions', { form: audioForm(fixture('hello.flac')) });
  assert.equal(accepted.status, 202, 'the default (1024 MB) lets an upload in on this machine');
  await call(normal.url, 'DELETE', `/api/transcriptions/${accepted.body.id}`);
});

test('JOB_RETENTION_DAYS removes old finished jobs with their uploads, and stale uploads; recent ones stay', async () => {
  const dataDir = tempDir('relay-retention-');
  const uploads = path.join(dataDir, 'uploads');
  fs.mkdirSync(uploads);
  const old = new Date(Date.now() - 40 * 86400e3);
  const oldFile = path.join(uploads, 'old-job.flac');
  const strayOld = path.join(uploads, 'stray-old.flac');
  const strayNew = path.join(uploads, 'stray-new.flac');
  for (const file of [oldFile, strayOld, strayNew]) fs.copyFileSync(fixture('hello.flac'), file);
  fs.utimesSync(strayOld, old, old);
  fs.utimesSync(oldFile, old, old);
  const store = new JobStore(path.join(dataDir, 'relay.sqlite'));
  store.insert({ id: '00000000-0000-4000-8000-000000000001', source: 'upload', name: 'old', mediaPath: oldFile,
    ownsMedia: true, createdAt: old.toISOString() });
  store.update('00000000-0000-4000-8000-000000000001', { state: 'error', finished_at: old.toISOString() });
  store.insert({ id: '00000000-0000-4000-8000-000000000002', source: 'upload', name: 'recent', mediaPath: '', ownsMedia: false });
  store.update('00000000-0000-4000-8000-000000000002', { state: 'error', finished_at: new Date().toISOString() });
  store.close();

  const relay = await relayWith({ dataDir, jobRetentionDays: 30 });
  assert.equal((await call(relay.url, 'GET', '/api/transcriptions/00000000-0000-4000-8000-000000000001')).status, 404);
  assert.equal((await call(relay.url, 'GET', '/api/transcriptions/00000000-0000-4000-8000-000000000002')).status, 200);
  assert.equal(fs.existsSync(oldFile), false, 'the old job\'s upload is removed');
  assert.equal(fs.existsSync(strayOld), false, 'a stale upload no job needs is removed');
  assert.equal(fs.existsSync(strayNew), true, 'a recent file stays');
});

test('a key removed from the keys file on SIGHUP loses its open streams and its live jobs; other keys keep theirs', async () => {
  const dir = tempDir('relay-keys-');
  const keysFile = path.join(dir, 'keys');
  fs.writeFileSync(keysFile, `${A}\n${B}\n`);
  const relay = await relayWith({ apiKeysFile: keysFile, allowPrivateUrls: true, liveIdleTimeoutS: 120 });
  const before = process.listeners('SIGHUP');
  reloadKeysOnSighup(relay.app.keyring, { log: () => {}, error: () => {} });
  const handler = process.listeners('SIGHUP').find((l) => !before.includes(l));
  try {
    const jobA = (await call(relay.url, 'POST', '/api/transcriptions', { key: A, json: { url: stall.url } })).body;
    const jobB = (await call(relay.url, 'POST', '/api/transcriptions', { key: B, json: { url: stall.url } })).body;
    await until(() => relay.app.store.get(jobB.id).live, 20000, 'B\'s job to go live');
    const streamA = openStream(relay.url, jobA.id, A);
    const streamB = openStream(relay.url, jobB.id, B);
    await Promise.all([streamA.opened, streamB.opened]);

    fs.writeFileSync(keysFile, `${A}\n`);
    process.kill(process.pid, 'SIGHUP');
    await within(streamB.closed, 20000, 'the relay to end B\'s stream');
    await until(() => relay.app.store.get(jobB.id).state === 'done', 20000, 'B\'s live job to stop');
    assert.equal(relay.app.store.get(jobB.id).stopped, true);
    assert.equal(streamA.isClosed(), false, 'A\'s stream stays open');
    assert.equal(relay.app.store.get(jobA.id).state, 'running', 'A\'s live job goes on');
    assert.equal((await call(relay.url, 'GET', '/api/transcriptions', { key: B })).status, 401);
    streamA.close();
  } finally {
    process.off('SIGHUP', handler);
    await stopAll(relay, A);
  }
});

function within(promise, ms, what) {
  let timer;
  const late = new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** An SSE stream on a raw request: {opened, closed (the server ended it), isClosed(), close()}. */
function openStream(baseUrl, id, key) {
  let closedByUs = false;
  let isClosed = false;
  let onOpen;
  let onClosed;
  const opened = new Promise((resolve) => { onOpen = resolve; });
  const closed = new Promise((resolve) => { onClosed = resolve; });
  const request = http.get(`${baseUrl}/api/transcriptions/${id}/events`, { headers: { authorization: `Bearer ${key}` } }, (res) => {
    assert.equal(res.statusCode, 200);
    res.on('data', () => onOpen());
    res.on('close', () => { isClosed = true; if (!closedByUs) onClosed(); });
  });
  request.on('error', () => { isClosed = true; if (!closedByUs) onClosed(); });
  return { opened, closed, isClosed: () => isClosed, close: () => { closedByUs = true; request.destroy(); } };
}
