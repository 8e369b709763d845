'use strict';

/**
 * Captions of a file job and signed playlist URLs (issue 21), with the real sidecar: a finished file
 * job's captions.m3u8 is a VOD playlist whose WebVTT segments hold its segments' text; with API keys
 * on, captions/urls gives signed, expiring URLs that a player (no Authorization header) can load,
 * and nothing else opens the playlists: no signature, a changed one, an expired one, another job's.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { WebVTTParser } = require('webvtt-parser');
const { loadConfig } = require('../../relay/config');
const { buildRelay } = require('../../relay/app');
const { createSigner } = require('../../relay/captions/links');
const { startSidecar, tempDir, AUDIO, HELLO_MIN_RECALL, wordRecall, fixtureText } = require('./helpers');
const { newKey, call } = require('./keyed');
const { parsePlaylist } = require('./captions-server');

const A = newKey('a');
const B = newKey('b');
const SECRET = 'captions-test-secret-0123456789abcdef0123456789';

let sidecar;
let relay;

before(async () => {
  sidecar = await startSidecar();
  const config = loadConfig({}, {
    port: 0, host: '127.0.0.1', dataDir: tempDir(), logLevel: 'silent', mediaDir: AUDIO, apiKeys: [A, B], clusterSecret: SECRET,
  });
  const app = buildRelay({ config, sidecar, logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  relay = { app, url: `http://127.0.0.1:${app.server.address().port}` };
});

after(async () => {
  if (relay) await relay.app.close();
  if (sidecar) await sidecar.stop();
});

async function finishedJob(key, name) {
  const created = await call(relay.url, 'POST', '/api/transcriptions', { key, json: { path: name, language: 'en' } });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  for (;;) {
    const job = await call(relay.url, 'GET', `/api/transcriptions/${created.body.id}`, { key });
    if (!['queued', 'running', 'downloading'].includes(job.body.state)) return job.body;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

test('a finished file job: a VOD playlist; signed URLs open it without a key, and nothing else does', async () => {
  const job = await finishedJob(A, 'numbers.flac');
  assert.equal(job.state, 'done');
  const route = `/api/transcriptions/${job.id}`;

  // Keys on: the playlist needs the key (or a signature), and only the owner's key finds the job.
  assert.equal((await call(relay.url, 'GET', `${route}/captions.m3u8`)).status, 401);
  assert.equal((await call(relay.url, 'GET', `${route}/captions/urls`, { key: B })).status, 404);
  const keyed = await call(relay.url, 'GET', `${route}/captions.m3u8`, { key: A });
  assert.equal(keyed.status, 200);

  const urls = await call(relay.url, 'GET', `${route}/captions/urls?ttl_s=600`, { key: A });
  assert.equal(urls.status, 200, JSON.stringify(urls.body));
  const expiresIn = Date.parse(urls.body.expires_at) - Date.now();
  assert.ok(expiresIn > 590000 && expiresIn <= 601000, urls.body.expires_at);

  // A player's requests: no Authorization header at all.
  const response = await fetch(urls.body.captions);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('access-control-allow-origin'), '*');
  const manifest = parsePlaylist(await response.text());
  assert.equal(manifest.playlistType, 'VOD');
  assert.equal(manifest.endList, true);
  assert.ok(manifest.segments.length >= 1);
  const covered = manifest.segments.reduce((sum, s) => sum + s.duration, 0);
  assert.ok(Math.abs(covered - job.result.duration) < 0.5, `${covered} s listed for ${job.result.duration} s`);
  const cues = [];
  for (const segment of manifest.segments) {
    assert.match(segment.uri, /^captions\.vtt\?seq=\d+&exp=\d+&sig=[0-9a-f]{64}$/);
    const vtt = await fetch(new URL(segment.uri, urls.body.captions));
    assert.equal(vtt.status, 200);
    assert.match(vtt.headers.get('content-type'), /^text\/vtt/);
    const text = await vtt.text();
    assert.match(text, /^WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00\.000\n/);
    cues.push(...new WebVTTParser().parse(text, 'metadata').cues);
  }
  const unique = [...new Map(cues.map((c) => [`${c.startTime} ${c.text}`, c])).values()];
  assert.deepEqual(unique.map((c) => c.text), job.result.segments.map((s) => s.text.trim()).filter(Boolean));
  unique.forEach((cue, i) => assert.ok(Math.abs(cue.startTime - job.result.segments[i].start) < 0.002));
  assert.ok(wordRecall(unique.map((c) => c.text).join(' '), fixtureText('numbers')) >= HELLO_MIN_RECALL);

  // master.m3u8 of a job with no HLS source: the captions alone, signature kept.
  const master = await fetch(urls.body.master);
  assert.equal(master.status, 200);
  assert.equal(parsePlaylist(await master.text()).playlistType, 'VOD');

  // Nothing else opens it: a changed signature, an expired one, another job's, a signature on a keyed route.
  const changed = urls.body.captions.replace(/sig=([0-9a-f])/, (all, c) => `sig=${c === '0' ? '1' : '0'}`);
  assert.equal((await fetch(changed)).status, 401);
  const signer = createSigner({ secret: SECRET });
  const expired = signer.sign(job.id, -60);
  assert.equal((await fetch(`${relay.url}${route}/captions.m3u8${expired.query}`)).status, 401);
  const other = await finishedJob(A, 'hello.flac');
  const theirs = signer.sign(other.id, 600);
  assert.equal((await fetch(`${relay.url}${route}/captions.m3u8${theirs.query}`)).status, 401);
  assert.equal((await fetch(`${relay.url}/api/transcriptions/${other.id}/captions.m3u8${theirs.query}`)).status, 200);
  assert.equal((await fetch(`${relay.url}${route}/captions/urls${signer.sign(job.id, 600).query}`)).status, 401);
  assert.equal((await fetch(`${relay.url}${route}${signer.sign(job.id, 600).query}`)).status, 401);
});
