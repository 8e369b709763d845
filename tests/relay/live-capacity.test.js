'use strict';

/**
 * A live stream the sidecar has no capacity for (issue 18): the sidecar measures its own load and
 * refuses the stream_open; the relay answers the POST 503 with the sidecar's Retry-After, keeps no job
 * for it, and counts it in /metrics beside the worker's own figures. The first stream is an endless
 * MP3 sent far faster than real time, so the one decoder has no time left for a second (the test waits
 * until /metrics, from the sidecar's own status lines, shows under 50 % headroom, or the stream behind).
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
  sidecar = await startSidecar({ env: { WHISPER_LIVE_DECODERS: '1' } }); // one decoder: one stream behind fills it
  relay = await startRelay({ sidecar, config: { allowPrivateUrls: true } });
});

after(async () => {
  if (relay) await relay.close();
  if (sidecar) await sidecar.stop();
  if (media) await media.close();
});

/** The figures /metrics shows: the sidecar's headroom (from its last live status line) and the relay's largest lag. */
async function figures() {
  const text = await (await fetch(`${relay.url}/metrics`)).text();
  const read = (re) => { const m = text.match(re); return m ? Number(m[1]) : null; };
  return { headroom: read(/^whisper_live_headroom\{sidecar="0"\} (\S+)$/m), lag: read(/^whisper_live_stream_lag_seconds (\S+)$/m) };
}

test('a stream past the sidecar\'s capacity gets 503 with Retry-After, and /metrics shows why', { timeout: 180000 }, async () => {
  const first = await postJson(relay.url, '/api/transcriptions', { url: `${media.origin}/endless.mp3`, language: 'en' });
  assert.equal(first.status, 202, JSON.stringify(first.body));
  assert.equal(first.body.live, true);
  // Wait until the worker's own figures say one more stream would not fit: a load over 45 % (a second
  // stream would pass 90 %), or the open stream 3 s or more behind its audio.
  let seen = {};
  for (let i = 0; i < 240 && !(seen.headroom !== null && seen.headroom < 0.5) && !(seen.lag >= 4); i += 1) {
    await sleep(500);
    seen = await figures();
  }
  assert.ok((seen.headroom !== null && seen.headroom < 0.5) || seen.lag >= 4, `the first stream never loaded the worker: ${JSON.stringify(seen)}`);

  const response = await fetch(`${relay.url}/api/transcriptions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: `${media.origin}/endless.mp3?second=1`, language: 'en' }),
  });
  const body = await response.json();
  assert.equal(response.status, 503, JSON.stringify(body));
  assert.equal(body.error.code, 'capacity');
  assert.match(body.error.message, /No capacity for another live stream: 1 open stream/);
  assert.match(body.error.message, /one second of audio costs .* s of decoding\), and (one more would take it to|an open stream is)/);
  const retryAfter = Number(response.headers.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${response.headers.get('retry-after')}`);

  const { body: list } = await getJson(relay.url, '/api/transcriptions');
  assert.deepEqual(list.jobs.map((j) => j.id), [first.body.id], 'the refused stream left no job');

  // The worker's own figures reach /metrics from its status lines (about one a second).
  let text = '';
  for (let i = 0; i < 60 && !/^whisper_live_decode_batches\{sidecar="0",size="1"\} [1-9]/m.test(text); i += 1) {
    await sleep(500);
    text = await (await fetch(`${relay.url}/metrics`)).text();
  }
  assert.match(text, /^whisper_live_refused_total 1$/m);
  assert.match(text, /^whisper_live_decode_batches\{sidecar="0",size="1"\} [1-9]/m);
  assert.match(text, /^whisper_live_headroom\{sidecar="0"\} (0|1|0\.\d+)$/m);

  const stop = await fetch(`${relay.url}/api/transcriptions/${first.body.id}`, { method: 'DELETE' });
  assert.ok(stop.status < 300, `DELETE ${stop.status}`);
});
