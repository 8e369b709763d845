'use strict';

/**
 * {url} requests against a local fixture server on 127.0.0.1: allowed only where the test's relay
 * sets ALLOW_PRIVATE_URLS, refused (403) by a relay with the default config. Plus the download's
 * own limits and the SSRF policy, hop by hop.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { fixture, fixtureText, tempDir, startSidecar, startRelay, postJson, followJob, wordRecall, HELLO_MIN_RECALL } = require('./helpers');
const { openSource } = require('../../relay/sources');
const { isPrivateAddress } = require('../../relay/net/policy');

let sidecar;
let open; // ALLOW_PRIVATE_URLS=1
let strict; // the default config
let server;
let origin;

function serveFixtures(request, response) {
  const routes = {
    '/hello.flac': () => {
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      fs.createReadStream(fixture('hello.flac')).pipe(response);
    },
    '/page.html': () => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<!doctype html><title>not media</title>'.repeat(20));
    },
    '/hello.mp3': () => {
      response.writeHead(200, { 'content-type': 'audio/mpeg' });
      fs.createReadStream(fixture('hello.flac')).pipe(response);
    },
    '/redirect': () => {
      response.writeHead(302, { location: '/hello.flac' });
      response.end();
    },
    '/loop': () => {
      response.writeHead(302, { location: '/loop' });
      response.end();
    },
    '/empty': () => {
      response.writeHead(200, { 'content-type': 'audio/wav' });
      response.end();
    },
    '/slow': () => {
      response.writeHead(200, { 'content-type': 'audio/wav' });
      response.write('RIFF');
    },
  };
  const route = routes[new URL(request.url, 'http://x').pathname];
  if (route) return route();
  response.writeHead(404, { 'content-type': 'text/plain' });
  return response.end('not found');
}

before(async () => {
  server = http.createServer(serveFixtures);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
  sidecar = await startSidecar();
  open = await startRelay({ sidecar, config: { allowPrivateUrls: true, downloadTimeoutS: 2, maxDownloadMb: 1 } });
  strict = await startRelay({ sidecar });
});

after(async () => {
  await Promise.allSettled([open && open.close(), strict && strict.close()]);
  if (sidecar) await sidecar.stop();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test('a URL is downloaded and transcribed when private URLs are allowed', async () => {
  const { status, body } = await postJson(open.url, '/api/transcriptions', { url: `${origin}/redirect`, language: 'en' });
  assert.equal(status, 202, JSON.stringify(body));
  assert.equal(body.source, 'url');
  const { final } = await followJob(open.url, body.id);
  assert.equal(final.event, 'done');
  assert.ok(wordRecall(final.data.text, fixtureText('hello')) >= HELLO_MIN_RECALL, final.data.text);
  assert.deepEqual(fs.readdirSync(path.join(open.config.dataDir, 'uploads')), [], 'the download is removed when done');
});

test('loopback URLs are refused by default, also as IPv6 and IPv4-mapped literals', async () => {
  for (const url of [`${origin}/hello.flac`, `http://localhost:${server.address().port}/hello.flac`,
    'http://[::1]/a.mp3', 'http://[::ffff:127.0.0.1]/a.mp3', 'http://169.254.169.254/latest/meta-data/',
    'http://10.1.2.3/a.mp3', 'http://0.0.0.0/a.mp3',
    // IPv6 forms that carry an IPv4 address (issue 19): IPv4-compatible, IPv4-translated, 6to4
    'http://[::127.0.0.1]/a.mp3', 'http://[::ffff:0:7f00:1]/a.mp3', 'http://[2002:7f00:1::]/a.mp3']) {
    const { status, body } = await postJson(strict.url, '/api/transcriptions', { url });
    assert.equal(status, 403, url);
    assert.equal(body.error.code, 'url_forbidden', url);
    assert.match(body.error.message, /ALLOW_PRIVATE_URLS/);
  }
});

test('bad URLs: what needs no request is a 4xx at once, what the fetch finds is the job\'s error', async () => {
  // The POST answers at once for every URL (issue 11): the download is part of the job, so its
  // failures are the job's error, with the same code and message a 4xx used to carry.
  const jobErrors = [
    [{ url: `${origin}/missing.mp3` }, 'url_fetch_failed', /404/],
    [{ url: `${origin}/page.html` }, 'not_media', /text\/html/],
    [{ url: `${origin}/empty` }, 'empty_download', /empty/],
    [{ url: `${origin}/loop` }, 'url_fetch_failed', /redirected more than/],
    [{ url: `${origin}/slow` }, 'download_timeout', /longer than 2 s/],
  ];
  for (const [body, code, message] of jobErrors) {
    const answer = await postJson(open.url, '/api/transcriptions', body);
    assert.equal(answer.status, 202, JSON.stringify(body));
    const { final } = await followJob(open.url, answer.body.id);
    assert.equal(final.event, 'error', JSON.stringify(body));
    assert.equal(final.data.error.code, code, JSON.stringify(body));
    assert.match(final.data.error.message, message);
  }
  const refused = [
    [{ url: 'ftp://example.com/a.mp3' }, 400, 'invalid_url', /http and https/],
    [{ url: 'file:///etc/passwd' }, 400, 'invalid_url', /http and https/],
    [{ url: 'not a url' }, 400, 'invalid_url', /Not a URL/],
    [{ url: 42 }, 400, 'invalid_url', /string/],
  ];
  for (const [body, status, code, message] of refused) {
    const answer = await postJson(open.url, '/api/transcriptions', body);
    assert.equal(answer.status, status, JSON.stringify(body));
    assert.equal(answer.body.error.code, code, JSON.stringify(body));
    assert.match(answer.body.error.message, message);
  }
  assert.deepEqual(fs.readdirSync(path.join(open.config.dataDir, 'uploads')), [], 'failed downloads leave nothing');
});

/** openSource on a URL, as a URL job opens it: a finite file is downloaded into `dir`. */
function openUrl(url, dir, limits) {
  return openSource({ url, from: 'start' }, { signal: new AbortController().signal, downloadDir: dir, limits });
}

test('a download over the size limit is cut off with 413, leaving no file', async () => {
  const dir = tempDir();
  await assert.rejects(openUrl(`${origin}/hello.flac`, dir, { maxBytes: 10000, timeoutMs: 5000, allowPrivate: true }),
    (err) => err.statusCode === 413 && err.code === 'download_too_large');
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('every redirect hop is checked again', async () => {
  // Treat 127.0.0.1 as public and 127.0.0.2 as private: the first hop passes, the redirect must not.
  const hops = http.createServer((request, response) => {
    response.writeHead(302, { location: `http://127.0.0.2:${server.address().port}/hello.flac` });
    response.end();
  });
  await new Promise((resolve) => hops.listen(0, '127.0.0.1', resolve));
  try {
    const dir = tempDir();
    await assert.rejects(openUrl(`http://127.0.0.1:${hops.address().port}/start`, dir, {
      maxBytes: 1e6, timeoutMs: 5000, allowPrivate: false, isPrivate: (address) => address !== '127.0.0.1',
    }), (err) => err.statusCode === 403 && /127\.0\.0\.2/.test(err.message));
    assert.deepEqual(fs.readdirSync(dir), []);
  } finally {
    await new Promise((resolve) => hops.close(resolve));
  }
});

test('the address policy', () => {
  for (const address of ['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1',
    '0.0.0.0', '224.0.0.1', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '64:ff9b::a00:1',
    '[::1]', 'localhost', '::127.0.0.1', '::7f00:1', '[::127.0.0.1]', '::ffff:0:7f00:1', '::ffff:0:127.0.0.1',
    '2002:7f00:1::', '2002:808:808::1', '2001:0:4136:e378:8000:63bf:80ff:fffe', '64:ff9b:1::a00:1']) {
    assert.equal(isPrivateAddress(address), true, address);
  }
  for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8', '2a00:1450:4001::200e']) {
    assert.equal(isPrivateAddress(address), false, address);
  }
});
