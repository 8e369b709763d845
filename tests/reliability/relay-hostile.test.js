'use strict';

// Hostile input to the relay: path traversal in every form, URLs to file:// and private addresses (and
// redirects to them), uploads over the limit, slow and vanishing uploads, SSE clients that vanish, 50
// concurrent uploads. Each gets a clear 4xx (or works), nothing crashes, nothing outside the media folder is
// read, and no temp file is left behind. The relay is built in-process (buildRelay) around a stub sidecar
// that records every file it is asked to read (see relay-fixtures.js).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { buildRelay } = require('../../relay/app');
const { loadConfig } = require('../../relay/config');
const { openSource } = require('../../relay/sources');
const { isPrivateAddress } = require('../../relay/net/policy');
const { StubSidecar, spyOnReads, mediaWithTraps, rawUpload, filesUnder, until, HELLO, SECRET } = require('./relay-fixtures');

const MB = 1024 * 1024;
let relay;
let sidecar;
let traps;
let spy;
let origin; // a local server for URL tests
let server;
const bodies = []; // every response body, searched for the secret at the end

async function startRelay(config = {}) {
  const full = loadConfig({}, {
    port: 0, host: '127.0.0.1', dataDir: path.join(traps.base, `data-${Math.random().toString(36).slice(2)}`),
    mediaDir: traps.media, logLevel: 'silent', maxUploadMb: 1, downloadTimeoutS: 2, ...config,
  });
  const app = buildRelay({ config: full, sidecar, logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, config: full, port: app.server.address().port, url: `http://127.0.0.1:${app.server.address().port}` };
}

async function call(method, route, { json, headers = {}, body } = {}) {
  const response = await fetch(`${relay.url}${route}`, {
    method,
    headers: json !== undefined ? { 'content-type': 'application/json', ...headers } : headers,
    body: json !== undefined ? (typeof json === 'string' ? json : JSON.stringify(json)) : body,
  });
  const text = await response.text();
  bodies.push(text);
  let parsed = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: response.status, body: parsed, text };
}

function assertClear4xx(result, label) {
  assert.ok(result.status >= 400 && result.status < 500, `${label}: ${result.status} ${result.text.slice(0, 300)}`);
  assert.ok(result.body && result.body.error && typeof result.body.error.code === 'string'
    && typeof result.body.error.message === 'string', `${label}: no {error: {code, message}}: ${result.text.slice(0, 300)}`);
}

function uploadsDir(r = relay) {
  return path.join(r.config.dataDir, 'uploads');
}

before(async () => {
  traps = mediaWithTraps();
  sidecar = new StubSidecar();
  spy = spyOnReads();
  relay = await startRelay();
  server = http.createServer((request, response) => {
    const url = new URL(request.url, 'http://x');
    if (url.pathname === '/to') {
      response.writeHead(302, { location: url.searchParams.get('where') });
      return response.end();
    }
    response.writeHead(200, { 'content-type': 'audio/flac' });
    return fs.createReadStream(HELLO).pipe(response);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
});

after(async () => {
  spy.restore();
  if (relay) await relay.app.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(traps.base, { recursive: true, force: true });
});

test('path traversal in every form is refused with a 4xx, and nothing outside the media folder is read', async () => {
  const outside = [
    '../secret.flac', '../../../../../../etc/passwd', 'sub/../../secret.flac', './../secret.flac', '..', '../',
    '/etc/passwd', traps.secret, `${traps.media}/../secret.flac`, `${traps.media}/./../secret.flac`,
    '..%2Fsecret.flac', '%2e%2e/secret.flac', '%2e%2e%2fsecret.flac', '..%252Fsecret.flac', '..\\secret.flac',
    '....//secret.flac', '..;/secret.flac', '\u2025/secret.flac', '../media-evil/x.flac', `${traps.evil}/x.flac`,
    'link-out.flac', 'chain.flac', 'passwd.flac', 'linkdir/secret.flac', 'linkdir/media-evil/x.flac',
    'file:///etc/passwd', '~/.bashrc', '/proc/self/environ', '/dev/zero', '.', '', 'sub', 'sub/',
    'ok.flac\u0000.txt', '\u0000', 'x'.repeat(10000), `${'a/'.repeat(3000)}ok.flac`,
  ];
  const wrongTypes = [42, true, null, ['ok.flac'], { path: 'ok.flac' }];
  for (const p of [...outside, ...wrongTypes]) {
    const r = await call('POST', '/api/transcriptions', { json: { path: p } });
    assertClear4xx(r, `path ${JSON.stringify(p).slice(0, 80)}`);
  }
  // the same through the URL: job ids and static files are a closed set
  for (const route of ['/api/transcriptions/..%2F..%2Fetc%2Fpasswd', '/api/transcriptions/../../etc/passwd',
    '/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/index.html/../../package.json', '/..%5c..%5cpackage.json',
    '/api/transcriptions/%2e%2e%2fsecret/events']) {
    const r = await call('GET', route);
    assert.equal(r.status, 404, `${route}: ${r.status} ${r.text.slice(0, 200)}`);
  }
  assert.equal((await call('GET', '/')).status, 200);
  assert.ok(spy.opened.some((f) => f.endsWith(`${path.sep}index.html`)), 'the read spy sees nothing: it would prove nothing');
  const good = await call('POST', '/api/transcriptions', { json: { path: 'sub/nested.flac' } });
  assert.equal(good.status, 202, good.text);
  await until(() => sidecar.paths.length > 0, 10000, 'the stub to be asked');
  const realMedia = fs.realpathSync(traps.media);
  for (const file of sidecar.paths) {
    assert.ok(file.startsWith(realMedia + path.sep) || file.startsWith(uploadsDir() + path.sep), `sidecar asked to read ${file}`);
  }
  const opened = spy.opened.filter((f) => f.includes(traps.base) && !f.startsWith(traps.media + path.sep)
    && !f.startsWith(relay.config.dataDir));
  assert.deepEqual(opened, [], 'the relay opened a file outside the media folder');
  assert.ok(!spy.opened.some((f) => f === '/etc/passwd' || f.startsWith('/proc/')), spy.opened.join('\n'));
});

test('URLs to file://, loopback, private and link-local addresses, and redirects to them, are refused', async () => {
  const refused = [
    'file:///etc/passwd', 'ftp://example.com/a.flac', 'data:audio/flac;base64,AAAA', 'javascript:alert(1)',
    'gopher://127.0.0.1/', `${origin}/hello.flac`, 'http://localhost/', 'http://[::1]/', 'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:7f00:1]/', 'http://0.0.0.0/', 'http://0/', 'http://2130706433/', 'http://0x7f.1/', 'http://127.1/',
    'http://10.0.0.1/', 'http://172.16.5.4/', 'http://192.168.1.1/', 'http://169.254.169.254/latest/meta-data/',
    'http://100.64.0.1/', 'http://[fe80::1]/', 'http://[fd00::1]/', 'http://[64:ff9b::a00:1]/', 'http://224.0.0.1/',
    'http://user:pass@example.com/a.flac', `${origin}/to?where=${encodeURIComponent('http://10.0.0.1/')}`,
    'not a url', '', 'http://', 'http://[::1', 42, null, ['http://example.com'],
  ];
  for (const url of refused) {
    const r = await call('POST', '/api/transcriptions', { json: { url } });
    assertClear4xx(r, `url ${JSON.stringify(url)}`);
  }
  // Redirects from a host the policy allows to each kind of refused target: pass the local server as public.
  const isPrivate = (address) => address !== '127.0.0.1' && isPrivateAddress(address);
  const targets = ['file:///etc/passwd', 'http://127.0.0.2/', 'http://[::1]/', 'http://169.254.169.254/', 'http://10.1.2.3/',
    'http://[fe80::1]/', 'http://192.168.0.10/', 'ftp://example.com/'];
  // openSource is how every URL is opened (a URL job, Deepgram's {url}): a finite file lands in downloadDir.
  const downloadDir = path.join(traps.base, 'downloads');
  fs.mkdirSync(downloadDir, { recursive: true });
  const open = (url, limits) => openSource({ url, from: 'start' }, { signal: new AbortController().signal, downloadDir, limits });
  for (const where of targets) {
    await assert.rejects(open(`${origin}/to?where=${encodeURIComponent(where)}`,
      { maxBytes: MB, timeoutMs: 2000, maxRedirects: 3, allowPrivate: false, isPrivate }),
    (err) => err.statusCode >= 400 && err.statusCode < 500, where);
    assert.deepEqual(fs.readdirSync(downloadDir), [], `a refused redirect to ${where} left a file`);
  }
  // A name that resolves to a private address, and one that resolves to a public and a private one.
  for (const answer of [[{ address: '10.9.8.7', family: 4 }], [{ address: '93.184.216.34', family: 4 }, { address: '127.0.0.1', family: 4 }]]) {
    await assert.rejects(open('http://media.example/a.flac', { maxBytes: MB, timeoutMs: 2000, allowPrivate: false,
      lookup: async () => answer }), (err) => err.statusCode === 403);
  }
  assert.deepEqual(filesUnder(uploadsDir()), []);
});

test('uploads over the limit get 413 and leave nothing behind, on both upload routes', async () => {
  const big = Buffer.alloc(1.5 * MB, 7);
  for (const route of ['/api/transcriptions', '/v1/audio/transcriptions', '/v1/audio/translations']) {
    const form = new FormData();
    form.append('model', 'whisper-1');
    form.append('file', new Blob([big]), 'big.flac');
    const r = await call('POST', route, { body: form });
    assert.equal(r.status, 413, `${route}: ${r.text}`);
  }
  const bigJson = await call('POST', '/api/transcriptions', { json: JSON.stringify({ path: 'ok.flac', pad: 'x'.repeat(2 * MB) }) });
  assertClear4xx(bigJson, 'a 2 MB JSON body');
  assert.equal(bigJson.status, 413, bigJson.text);
  await until(() => filesUnder(uploadsDir()).length === 0, 5000, 'the uploads folder to be empty');
});

test('slow uploads work; uploads that vanish half-way leave no temp file; the relay keeps serving', async () => {
  const audio = fs.readFileSync(HELLO);
  const slow = await rawUpload({ port: relay.port, body: audio, chunks: 8, gapMs: 150 });
  assert.match(slow, /^HTTP\/1\.1 202/, slow.slice(0, 300));
  const vanished = await Promise.all([1, 2, 3].map((n) => rawUpload({ port: relay.port, body: audio, chunks: 10, gapMs: 50, stopAfter: n * 3 })));
  for (const response of vanished) assert.doesNotMatch(response, /^HTTP\/1\.1 5/);
  const bigSlow = await rawUpload({ port: relay.port, body: Buffer.alloc(2 * MB, 3), chunks: 20, gapMs: 10 });
  assert.match(bigSlow, /^HTTP\/1\.1 413/, bigSlow.slice(0, 300));
  await until(() => filesUnder(uploadsDir()).length === 0, 10000, 'the uploads folder to be empty');
  assert.equal((await call('GET', '/healthz')).status, 200);
});

test('SSE clients that vanish are let go: no listener left, the job finishes, the relay serves on', async () => {
  sidecar.stepMs = 100;
  sidecar.steps = 40; // 4 s: every client is gone long before the job ends
  try {
    const job = await call('POST', '/api/transcriptions', { json: { path: 'ok.flac' } });
    assert.equal(job.status, 202, job.text);
    const id = job.body.id;
    const controllers = Array.from({ length: 20 }, () => new AbortController());
    const streams = controllers.map(async (controller, i) => {
      const response = await fetch(`${relay.url}/api/transcriptions/${id}/events`, { signal: controller.signal });
      const reader = response.body.getReader();
      await reader.read(); // the snapshot
      if (i % 2) controller.abort(); // half leave after the first event, half mid-stream
      else setTimeout(() => controller.abort(), 150 + i * 20);
      try {
        while (!(await reader.read()).done);
      } catch {
        // aborted: the point of the test
      }
    });
    await Promise.all(streams);
    await until(() => relay.app.runner.events.listenerCount(id) === 0, 2000, 'the SSE listeners to be removed');
    assert.equal((await call('GET', `/api/transcriptions/${id}`)).body.state, 'running', 'the job ended before the clients left');
    await until(async () => (await call('GET', `/api/transcriptions/${id}`)).body.state === 'done', 15000, 'the job to finish');
    const unknown = await call('GET', '/api/transcriptions/00000000-0000-0000-0000-000000000000/events');
    assert.equal(unknown.status, 404);
  } finally {
    sidecar.stepMs = 5;
    sidecar.steps = 3;
  }
});

test('50 concurrent uploads: all accepted or clearly refused, all finished, no temp file left', async () => {
  const audio = fs.readFileSync(HELLO);
  const results = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
    const form = new FormData();
    form.append('language', 'en');
    form.append('file', new Blob([i % 10 === 9 ? Buffer.alloc(1.2 * MB) : audio]), `c${i}.flac`);
    return call('POST', '/api/transcriptions', { body: form });
  }));
  const accepted = results.filter((r) => r.status === 202);
  for (const r of results.filter((x) => x.status !== 202)) assertClear4xx(r, 'a concurrent upload');
  assert.equal(accepted.length, 45, results.map((r) => r.status).join(','));
  await until(async () => {
    const states = await Promise.all(accepted.map((r) => call('GET', `/api/transcriptions/${r.body.id}`)));
    return states.every((s) => s.body.state === 'done');
  }, 60000, 'all 45 jobs to finish');
  await until(() => filesUnder(uploadsDir()).length === 0, 10000, 'the uploads folder to be empty');
  assert.equal((await call('GET', '/healthz')).status, 200);
});

test('no response ever carried the secret', () => {
  assert.ok(bodies.length > 100);
  assert.ok(!bodies.some((text) => text.includes(SECRET)));
});
