'use strict';

// Issue 19, what a hostile caller could do to a relay with the real sidecar, each now refused:
// DNS rebinding and cross-site requests with keys off (Host and Origin), `model` as a path or a
// 600-character name (a disk oracle, a sidecar error), options named after Object.prototype, server
// paths in error messages and in /api/gpu, and an event-stream client that never reads.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const http = require('node:http');
const path = require('node:path');
const { AUDIO, fixture, tempDir } = require('../relay/helpers');
const { newKey, call, audioForm, until } = require('../relay/keyed');
const { callerTestBed } = require('../relay/caller-fixtures');
const { MAX_BUFFERED_BYTES } = require('../../relay/responses/sse');

const { relayWith, stall: stallServer } = callerTestBed({ before, after, stallDelayMs: 10 });
const stall = { get url() { return stallServer().url; } };

/** A request with any Host/Origin header (fetch sets Host itself). Returns {status, body}. */
function rawRequest(baseUrl, method, route, headers = {}, body = null) {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, method, path: route, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk) => { text += chunk; });
      res.on('end', () => {
        let parsed = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // the page, or a plain answer
        }
        resolve({ status: res.statusCode, body: parsed });
      });
    });
    request.on('error', reject);
    if (body) request.write(body);
    request.end();
  });
}

/** A WebSocket upgrade by hand: resolves with the status line the relay answers. */
function upgrade(baseUrl, headers) {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(['GET /v1/realtime?intent=transcription HTTP/1.1', ...Object.entries({
        connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers,
      }).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n'));
    });
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk;
      if (answer.includes('\r\n')) {
        socket.destroy();
        resolve(answer.split('\r\n')[0]);
      }
    });
    socket.on('error', reject);
  });
}

test('keys off: only loopback Host names (plus ALLOWED_HOSTS); foreign Origins refused on POST, DELETE and upgrades', async () => {
  const relay = await relayWith({ mediaDir: AUDIO });
  const port = new URL(relay.url).port;
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
    assert.equal((await rawRequest(relay.url, 'GET', '/api/transcriptions', { host })).status, 200, host);
  }
  for (const host of [`evil.example:${port}`, 'rebind.attacker.test', `192.168.1.20:${port}`]) {
    const answer = await rawRequest(relay.url, 'GET', '/api/transcriptions', { host });
    assert.equal(answer.status, 403, host);
    assert.equal(answer.body.error.code, 'host_not_allowed', host);
  }
  assert.equal((await rawRequest(relay.url, 'GET', '/', { host: 'evil.example' })).status, 403, 'the page too');

  const json = JSON.stringify({ path: 'hello.flac', language: 'en' });
  const post = (origin) => rawRequest(relay.url, 'POST', '/api/transcriptions',
    { host: `127.0.0.1:${port}`, 'content-type': 'application/json', ...(origin ? { origin } : {}) }, json);
  for (const origin of ['https://evil.example', 'null', `http://127.0.0.1:${Number(port) + 1}`]) {
    const answer = await post(origin);
    assert.equal(answer.status, 403, origin);
    assert.equal(answer.body.error.code, 'origin_not_allowed', origin);
  }
  const same = await post(`http://127.0.0.1:${port}`);
  assert.equal(same.status, 202, 'the page\'s own origin posts');
  const deleted = await rawRequest(relay.url, 'DELETE', `/api/transcriptions/${same.body.id}`,
    { host: `127.0.0.1:${port}`, origin: 'https://evil.example' });
  assert.equal(deleted.status, 403, 'a cross-site DELETE');
  assert.equal((await rawRequest(relay.url, 'DELETE', `/api/transcriptions/${same.body.id}`,
    { host: `127.0.0.1:${port}` })).status, 200, 'a DELETE without Origin (curl, the SDKs)');
  assert.match(await upgrade(relay.url, { host: `127.0.0.1:${port}`, origin: 'https://evil.example' }), /^HTTP\/1\.1 403/);
  assert.match(await upgrade(relay.url, { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` }), /^HTTP\/1\.1 101/);

  const named = await relayWith({ allowedHosts: ['relay.lan'], corsOrigins: ['https://app.example'] });
  assert.equal((await rawRequest(named.url, 'GET', '/api/transcriptions', { host: 'relay.lan:8787' })).status, 200);
  const listed = await rawRequest(named.url, 'POST', '/api/transcriptions',
    { host: 'relay.lan', origin: 'https://app.example', 'content-type': 'application/json' }, '{}');
  assert.equal(listed.status, 400, 'a CORS_ORIGINS origin gets through to the route');

  const keyed = await relayWith({ apiKeys: [newKey('k')] });
  assert.equal((await rawRequest(keyed.url, 'GET', '/api/transcriptions', { host: 'anything.example' })).status, 401,
    'with keys on, the key decides');
});

test('model: names the server lists only; a path or a 600-character name is the caller\'s 400, naming no server path', async () => {
  const relay = await relayWith({ mediaDir: AUDIO, allowedModels: ['my-model'] });
  for (const model of ['/etc', '~', '../../etc', '/tmp/x/model', 'a'.repeat(600), 'tiny-not-here', 'my-model/../x']) {
    const answer = await call(relay.url, 'POST', '/api/transcriptions', { json: { path: 'hello.flac', model } });
    assert.equal(answer.status, 400, `${model.slice(0, 20)}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body.error.param, 'model');
    assert.doesNotMatch(answer.body.error.message, /model\.bin|No such file|File name too long|\/home|\/etc\//);
    const openai = await call(relay.url, 'POST', '/v1/audio/transcriptions', { form: audioForm(fixture('hello.flac'), { model }) });
    assert.equal(openai.status, 400, `OpenAI ${model.slice(0, 20)}: ${JSON.stringify(openai.body)}`);
    assert.equal(openai.body.error.type, 'invalid_request_error');
  }
  const uploads = path.join(relay.config.dataDir, 'uploads');
  assert.equal(fs.readdirSync(uploads).length, 0, 'a refused upload is removed');
  const listed = await call(relay.url, 'POST', '/v1/audio/transcriptions',
    { form: audioForm(fixture('hello.flac'), { model: 'base', response_format: 'text' }) });
  assert.equal(listed.status, 200, 'base, which /v1/models lists, works');
  assert.match(listed.body, /hello/i);
  const configured = await call(relay.url, 'POST', '/api/transcriptions', { json: { path: 'hello.flac', model: 'my-model' } });
  assert.equal(configured.status, 202, 'ALLOWED_MODELS names pass the relay (the sidecar decides the rest)');
});

test('options named valueOf, constructor or __proto__ are unknown options (400), not a 500', async () => {
  const relay = await relayWith({ mediaDir: AUDIO });
  for (const name of ['valueOf', 'constructor', 'toString', 'hasOwnProperty']) {
    const json = await call(relay.url, 'POST', '/api/transcriptions', { json: { path: 'hello.flac', [name]: 1 } });
    assert.equal(json.status, 400, `${name}: ${JSON.stringify(json.body)}`);
    assert.equal(json.body.error.code, 'unknown_option');
    const form = await call(relay.url, 'POST', '/api/transcriptions', { form: audioForm(fixture('hello.flac'), { [name]: 'x' }) });
    assert.equal(form.status, 400, `multipart ${name}: ${JSON.stringify(form.body)}`);
  }
  const proto = await call(relay.url, 'POST', '/api/transcriptions', { form: audioForm(fixture('hello.flac'), { '__proto__[]': 'x' }) });
  assert.equal(proto.status, 400, JSON.stringify(proto.body));
  const openai = await call(relay.url, 'POST', '/v1/audio/transcriptions', { form: audioForm(fixture('hello.flac'), { valueOf: 'x' }) });
  assert.equal(openai.status, 400, JSON.stringify(openai.body));
});

test('errors name no server path: not_audio has the upload\'s basename only; cache_dir is for admin keys', async () => {
  const dataDir = tempDir('relay-paths-');
  const relay = await relayWith({ dataDir });
  const form = new FormData();
  form.append('file', new Blob(['this is not audio at all, just words\n'.repeat(50)]), 'notes.wav');
  const created = await call(relay.url, 'POST', '/api/transcriptions', { form });
  assert.equal(created.status, 202);
  let job;
  await until(async () => {
    job = (await call(relay.url, 'GET', `/api/transcriptions/${created.body.id}`)).body;
    return job.state === 'error';
  }, 60000, 'the job to fail');
  assert.equal(job.error.code, 'not_audio');
  assert.ok(!job.error.message.includes(dataDir) && !job.error.message.includes('/uploads/'), job.error.message);
  assert.match(job.error.message, /\.wav/, 'the file is still named, by its basename');
  const openai = await call(relay.url, 'POST', '/v1/audio/transcriptions', { form });
  assert.equal(openai.status, 400, JSON.stringify(openai.body));
  assert.ok(!openai.body.error.message.includes(dataDir), openai.body.error.message);

  const user = newKey('user');
  const admin = newKey('admin');
  const keyed = await relayWith({ apiKeys: [user], adminKeys: [admin] });
  const seen = (await call(keyed.url, 'GET', '/api/gpu', { key: user })).body;
  assert.equal(typeof seen.device === 'string' || seen.device === null, true);
  assert.equal('cache_dir' in seen, false, 'a plain key does not see the server\'s cache folder');
  const paths = JSON.stringify(seen).match(/"(?:\/|[A-Za-z]:\\\\)[^"]*"/g);
  assert.equal(paths, null, `no absolute path in what a plain key sees: ${paths}`);
  const adminView = (await call(keyed.url, 'GET', '/api/gpu', { key: admin })).body;
  assert.equal(typeof adminView.cache_dir, 'string', 'an admin key does');
});

test('an event-stream client that never reads is dropped once the relay holds MAX_BUFFERED_BYTES for it', async (t) => {
  // A live job that runs until it is stopped: its stream ends only if the relay drops the client.
  const relay = await relayWith({ allowPrivateUrls: true, liveIdleTimeoutS: 300 });
  const created = await call(relay.url, 'POST', '/api/transcriptions', { json: { url: stall.url } });
  assert.equal(created.status, 202);
  const id = created.body.id;
  // A client that sends its request and then reads nothing, ever.
  const accepted = [];
  relay.app.server.on('connection', (s) => accepted.push(s));
  const listeners = relay.app.runner.events.listenerCount(id);
  const socket = net.connect(new URL(relay.url).port, '127.0.0.1');
  socket.pause();
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(`GET /api/transcriptions/${id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  await until(() => relay.app.runner.events.listenerCount(id) > listeners, 10000, 'the stream to open');
  const serverSide = accepted.find((s) => s.remotePort === socket.localPort);
  assert.ok(serverSide, 'the relay\'s end of the connection');
  // The job's events, as many and as large as a long transcript's, go to the client that does not read.
  const text = 'w'.repeat(64 * 1024);
  let sentBytes = 0;
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < 1000 && !serverSide.destroyed; i += 1) {
    relay.app.runner.events.emit(id, { type: 'segment', data: { id: i, start: i, end: i + 1, text } });
    sentBytes += text.length;
    if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await until(() => serverSide.destroyed, 10000, 'the relay to drop the client');
  t.diagnostic(`dropped after ${(sentBytes / 1048576).toFixed(1)} MiB of events (bound ${MAX_BUFFERED_BYTES / 1048576} MiB plus the socket buffers)`);
  assert.ok(sentBytes < 1000 * text.length, `the client was dropped after ${sentBytes} bytes of events`);
  assert.ok(sentBytes > MAX_BUFFERED_BYTES, 'not before the bound was reached');
  assert.ok(process.memoryUsage().heapUsed - heapBefore < 256 * 1024 * 1024, 'the relay did not keep the events');
  assert.equal(relay.app.store.get(id).state, 'running', 'the job goes on: the stream ended because the client was dropped');
  socket.destroy();
  await call(relay.url, 'DELETE', `/api/transcriptions/${id}`);
});
