'use strict';

/**
 * A live stream the sidecar has no capacity for (issue 18): the sidecar measures its own load and
 * refuses the stream_open; the relay answers the POST 503 with the sidecar's Retry-After, keeps no job
 * for it, and counts it in /metrics beside the worker's own figures. The first stream is an endless
 * MP3 sent far faster than real time, so the one decoder has no time left for a second (the test waits
 * until /metrics, from the sidecar's own status lines, shows under 50 % headroom).
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { setTimeout: sleep } = require('node:timers/promises');
const { startSidecar, startRelay, postJson, getJson } = require('./helpers');
const { makeStreams, startMediaServer } = require('./live-servers');

let sidecar;
let relay;
let media;

before(async () => {
  media = await startMediaServer({ dir: makeStreams() });
  sidecar = await startSidecar();
  relay = await startRelay({ sidecar, config: { allowPrivateUrls: true } });
});

after(async () => {
  if (relay) await relay.close();
  if (sidecar) await sidecar.stop();
  if (media) await media.close();
});

/** The sidecar's own headroom as /metrics shows it (from its last live status line), or null. */
async function headroom() {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  const match = text.match(/^whisper_live_headroom\{sidecar="0"\} (\S+)$/m);
  return match ? Number(match[1]) : null;
}

test('a stream past the sidecar\'s capacity gets 503 with Retry-After, and /metrics shows why', { timeout: 180000 }, async () => {
  const first = await postJson(relay.url, '/api/transcriptions', { url: `${media.origin}/endless.mp3`, language: 'en' });
  assert.equal(first.status, 202, JSON.stringify(first.body));
  assert.equal(first.body.live, true);
  // Wait until the worker's own figures say one more stream would not fit (load over 45 %).
  let room = null;
  for (let i = 0; i < 120 && !(room !== null && room < 0.5); i += 1) {
    await sleep(500);
    room = await headroom();
  }
  assert.ok(room !== null && room < 0.5, `the first stream never loaded the worker (headroom ${room})`);

  const response = await fetch(`${relay.url}/api/transcriptions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: `${media.origin}/endless.mp3?second=1`, language: 'en' }),
  });
  const body = await response.json();
  assert.equal(response.status, 503, JSON.stringify(body));
  assert.equal(body.error.code, 'capacity');
  assert.match(body.error.message, /No capacity for another live stream: 1 open stream/);
  assert.match(body.error.message, /one second of audio costs/);
  const retryAfter = Number(response.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${response.headers.get('retry-after')}`);

  const { body: list } = await getJson(relay.url, '/api/transcriptions');
  assert.deepEqual(list.jobs.map((j) => j.id), [first.body.id], 'the refused stream left no job');

  const text = await (await fetch(`${relay.url}/metrics`)).text();
  assert.match(text, /^whisper_live_refused_total 1$/m);
  assert.match(text, /^whisper_live_decode_batches\{sidecar="0",size="1"\} [1-9]/m);

  const stop = await fetch(`${relay.url}/api/transcriptions/${first.body.id}`, { method: 'DELETE' });
  assert.ok(stop.status < 300, `DELETE ${stop.status}`);
});
