'use strict';

/**
 * API keys on a relay with the real sidecar: every route fastify has registered (read from fastify
 * itself, so a route added later is in the table) answers 401 without a key and with a wrong key,
 * 404 for another key's job, and works with the right key; only the page and /healthz are open.
 * Ownership in lists, admin keys, the WebSocket subprotocol, and the OpenAI SDK with apiKey.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const OpenAI = require('openai');
const { AUDIO, fixture, fixtureText, tempDir, startSidecar, wordRecall } = require('../helpers');
const { newKey, call, audioForm, readEventsWithKey } = require('../keyed');
const { buildRelay } = require('../../../relay/app');
const { loadConfig } = require('../../../relay/config');
const { KeyRing, keyId } = require('../../../relay/auth/keys');
const { createAuthenticator } = require('../../../relay/auth/authenticate');

const PUBLIC_DIR = path.join(__dirname, '..', '..', '..', 'public');
const A = newKey('a');
const B = newKey('b');
const ADMIN = newKey('admin');
const WRONG = newKey('wrong');

let sidecar;
let relay;
const routes = []; // [{method, url, auth}] as fastify registered them

before(async () => {
  sidecar = await startSidecar();
  const config = loadConfig({}, {
    port: 0, host: '127.0.0.1', dataDir: tempDir(), logLevel: 'silent', mediaDir: AUDIO,
    apiKeys: [A, B], adminKeys: [ADMIN],
  });
  const app = buildRelay({ config, sidecar, logger: false });
  // Every route goes through onRoute, including ones added by plugins and ones added later.
  app.addHook('onRoute', (route) => {
    for (const method of [].concat(route.method)) routes.push({ method, url: route.url, auth: route.config && route.config.auth });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  relay = { app, url: `http://127.0.0.1:${app.server.address().port}` };
});

after(async () => {
  if (relay) await relay.app.close();
  if (sidecar) await sidecar.stop();
});

/** A finished job made with `key` (a short fixture through {path}). */
async function finishedJob(key) {
  const created = await call(relay.url, 'POST', '/api/transcriptions', { key, json: { path: 'hello.flac', language: 'en' } });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const events = await readEventsWithKey(relay.url, created.body.id, key);
  assert.equal(events[events.length - 1].event, 'done');
  return created.body.id;
}

/** What a request to a route sends: bodies for the routes that need one, the job id for :id, a model
 * the relay serves for a wildcard (/v1/models/*). */
function sampleRequest({ method, url }, jobId) {
  const route = url.replace(':id', jobId).replace(/\*$/, 'whisper-1');
  if (method === 'POST' && url === '/api/transcriptions') return { route, json: { path: 'hello.flac', language: 'en' } };
  if (method === 'POST' && url === '/v1/listen') { // Deepgram's pre-recorded call: the audio is the body
    return { route, form: () => new Blob([fs.readFileSync(fixture('hello.flac'))], { type: 'audio/flac' }) };
  }
  if (method === 'POST' && url.startsWith('/v1/audio/')) {
    return { route, form: () => audioForm(fixture('hello.flac'), { model: 'whisper-1', response_format: 'text' }) };
  }
  return { route };
}

async function send(routeInfo, jobId, key) {
  const sample = sampleRequest(routeInfo, jobId);
  return call(relay.url, routeInfo.method, sample.route, {
    key, json: sample.json, form: sample.form && sample.form(),
  });
}

test('the route table: no key and a wrong key → 401, another key\'s job → 404, the right key works', async () => {
  const jobId = await finishedJob(A);
  // The printed tree and onRoute agree on how many method+path pairs there are.
  const printed = relay.app.printRoutes({ commonPrefix: false });
  const printedCount = [...printed.matchAll(/\(([A-Z, ]+)\)/g)].reduce((n, m) => n + m[1].split(',').length, 0);
  assert.equal(routes.length, printedCount, printed);
  assert.ok(routes.length >= 15, `only ${routes.length} routes seen`);

  // Only the page's files and /healthz are open; /metrics may be (METRICS_REQUIRE_KEY off).
  // public/'s files, and the page's player, which relay/routes/system.js serves from node_modules (hls.js).
  const pageFiles = new Set(['/', '/hls.min.js', ...fs.readdirSync(PUBLIC_DIR).map((name) => `/${name}`)]);
  const open = routes.filter((r) => r.auth === 'public');
  for (const r of open) {
    assert.ok(r.url === '/healthz' || r.url === '/metrics' || pageFiles.has(r.url), `${r.method} ${r.url} is open`);
    const answer = await send(r, jobId, null);
    assert.ok(answer.status < 400, `${r.method} ${r.url} without a key: ${answer.status}`);
  }
  assert.ok(open.some((r) => r.url === '/healthz') && open.some((r) => r.url === '/'));

  // DELETE last: it removes the job the other rows use.
  const keyed = routes.filter((r) => r.auth !== 'public' && !(r.url === '/metrics'))
    .sort((x, y) => (x.method === 'DELETE') - (y.method === 'DELETE'));
  assert.ok(keyed.some((r) => r.url.startsWith('/v1/')) && keyed.some((r) => r.url.includes(':id')));
  for (const r of keyed) {
    const label = `${r.method} ${r.url}`;
    const none = await send(r, jobId, null);
    assert.equal(none.status, 401, `${label} without a key: ${none.status}`);
    const wrong = await send(r, jobId, WRONG);
    assert.equal(wrong.status, 401, `${label} with a wrong key: ${wrong.status}`);
    assert.match(wrong.headers.get('www-authenticate') || '', /^Bearer/, label);
    if (r.method !== 'HEAD') {
      assert.equal(none.body.error.code, 'missing_api_key', label);
      assert.equal(wrong.body.error.code, 'invalid_api_key', label);
      if (r.url.startsWith('/v1/')) assert.equal(wrong.body.error.type, 'invalid_request_error', `${label}: OpenAI's shape`);
    }
    if (r.url.includes(':id')) {
      const other = await send(r, jobId, B);
      assert.equal(other.status, 404, `${label} with another key: ${other.status}`);
      if (r.method !== 'HEAD') assert.equal(other.body.error.code, 'unknown_job', label);
    }
    const right = await send(r, jobId, A);
    assert.ok(right.status < 400, `${label} with the right key: ${right.status} ${JSON.stringify(right.body).slice(0, 200)}`);
  }
  // The DELETE with the right key removed it; the other key's DELETE before had not.
  assert.equal((await call(relay.url, 'GET', `/api/transcriptions/${jobId}`, { key: A })).status, 404);
});

test('lists show a key its own jobs; an admin key sees and may delete every job', async () => {
  const mine = await finishedJob(A);
  const theirs = await finishedJob(B);
  const ids = async (key) => (await call(relay.url, 'GET', '/api/transcriptions', { key })).body.jobs.map((j) => j.id);
  const listA = await ids(A);
  assert.ok(listA.includes(mine) && !listA.includes(theirs));
  const listB = await ids(B);
  assert.ok(listB.includes(theirs) && !listB.includes(mine));
  const listAdmin = await ids(ADMIN);
  assert.ok(listAdmin.includes(mine) && listAdmin.includes(theirs));
  assert.equal(relay.app.store.get(mine).owner, keyId(A));
  assert.equal((await call(relay.url, 'GET', `/api/transcriptions/${mine}.txt`, { key: ADMIN })).status, 200);
  assert.equal((await call(relay.url, 'DELETE', `/api/transcriptions/${theirs}`, { key: ADMIN })).body.deleted, true);
});

test('a malformed Authorization header is refused; the key is never in a response', async () => {
  for (const header of [`Basic ${A}`, `Bearer`, `Bearer ${A} extra`, `bearer  ${A}x`]) {
    const answer = await call(relay.url, 'GET', '/api/gpu', { headers: { authorization: header } });
    assert.equal(answer.status, 401, header);
    assert.ok(!JSON.stringify(answer.body).includes(A));
  }
  assert.equal((await call(relay.url, 'GET', '/api/gpu', { headers: { authorization: `bearer ${A}` } })).status, 200);
});

test('security headers on the page and the API; no CORS header without CORS_ORIGINS', async () => {
  for (const route of ['/', '/app.js', '/api/gpu']) {
    const answer = await call(relay.url, 'GET', route, { key: A, headers: { origin: 'https://elsewhere.example' } });
    const csp = answer.headers.get('content-security-policy');
    assert.match(csp, /default-src 'self'/, route);
    assert.match(csp, /script-src 'self'(;|$)/, route);
    assert.match(csp, /frame-ancestors 'none'/, route);
    assert.doesNotMatch(csp, /unsafe-inline|upgrade-insecure-requests/, route);
    assert.equal(answer.headers.get('x-content-type-options'), 'nosniff', route);
    assert.equal(answer.headers.get('referrer-policy'), 'no-referrer', route);
    assert.equal(answer.headers.get('access-control-allow-origin'), null, route);
  }
  // The page has no inline script or style for the CSP to block.
  const html = fs.readFileSync(path.join(PUBLIC_DIR, 'index.html'), 'utf8');
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);
});

test('a WebSocket upgrade is checked by the same authenticate(), with OpenAI\'s subprotocol', async () => {
  const authenticate = createAuthenticator(new KeyRing({ keys: [A] }));
  const server = http.createServer();
  server.on('upgrade', (request, socket) => {
    try {
      const who = authenticate(request);
      socket.end(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nx-key-id: ${who.id}\r\n\r\n`);
    } catch (err) {
      socket.end(`HTTP/1.1 ${err.statusCode} Unauthorized\r\nx-code: ${err.code}\r\n\r\n`);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const upgrade = (protocols) => new Promise((resolve, reject) => {
    const request = http.request({ port: server.address().port, host: '127.0.0.1', headers: {
      connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-protocol': protocols } });
    request.on('upgrade', (response, socket) => { socket.destroy(); resolve({ status: 101, id: response.headers['x-key-id'] }); });
    request.on('response', (response) => resolve({ status: response.statusCode, code: response.headers['x-code'] }));
    request.on('error', reject);
    request.end();
  });
  try {
    assert.deepEqual(await upgrade(`realtime, openai-insecure-api-key.${A}`), { status: 101, id: keyId(A) });
    assert.deepEqual(await upgrade(`realtime, openai-insecure-api-key.${WRONG}`), { status: 401, code: 'invalid_api_key' });
    assert.deepEqual(await upgrade('realtime'), { status: 401, code: 'missing_api_key' });
  } finally {
    server.close();
  }
  // Outside an upgrade, the subprotocol header is not a key.
  assert.throws(() => authenticate({ headers: { 'sec-websocket-protocol': `openai-insecure-api-key.${A}` } }),
    (err) => err.statusCode === 401);
});

test('the official openai SDK with apiKey against the keyed relay', async () => {
  const client = new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: A, maxRetries: 0, timeout: 120000 });
  const text = await client.audio.transcriptions.create({
    file: fs.createReadStream(fixture('hello.flac')), model: 'whisper-1', response_format: 'text',
  });
  assert.ok(wordRecall(text, fixtureText('hello')) >= 0.7, text);
  const wrong = new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: WRONG, maxRetries: 0 });
  await assert.rejects(wrong.audio.transcriptions.create({
    file: fs.createReadStream(fixture('hello.flac')), model: 'whisper-1',
  }), (err) => err instanceof OpenAI.AuthenticationError && err.status === 401 && err.code === 'invalid_api_key');
  // The job is A's: B's list does not have it.
  const listB = (await call(relay.url, 'GET', '/api/transcriptions', { key: B })).body.jobs;
  assert.ok(!listB.some((job) => job.source === 'openai'));
  const listA = (await call(relay.url, 'GET', '/api/transcriptions', { key: A })).body.jobs;
  assert.ok(listA.some((job) => job.source === 'openai' && job.state === 'done'));
});
