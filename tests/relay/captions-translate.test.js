'use strict';

/**
 * Live translation (issue 21): `task: "translate"` on a live job from an HLS source speaking German
 * (tests/fixtures/audio/german.flac, espeak-ng) gives English captions: the WebVTT cues are English,
 * not German, and master.m3u8 labels the rendition `en`.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startSidecar, startRelay, postJson, wordRecall } = require('./helpers');
const { publishFixture, captionCues, parsePlaylist } = require('./captions-server');

const ENGLISH = 'Good morning. The weather is sunny and warm today. In the afternoon a strong wind comes from the west. Tomorrow it will rain all day.';
const GERMAN_WORDS = /\b(guten|wetter|heute|sonnig|nachmittag|westen|morgen wird|regnen)\b/i;

let sidecar;
let relay;
let origin;

before(async () => {
  origin = await publishFixture('german.flac');
  sidecar = await startSidecar();
  relay = await startRelay({ sidecar, config: { allowPrivateUrls: true } });
});

after(async () => {
  if (relay) await relay.close();
  if (sidecar) await sidecar.stop();
  if (origin) await origin.close();
});

test('task "translate" on a live German stream: English captions', async () => {
  const created = await postJson(relay.url, '/api/transcriptions', {
    url: `${origin.origin}/live.m3u8`, from: 'start', language: 'de', task: 'translate',
  });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const base = `${relay.url}/api/transcriptions/${created.body.id}`;
  let job;
  for (const started = Date.now(); Date.now() - started < 180000; await new Promise((r) => setTimeout(r, 1000))) {
    job = await (await fetch(base)).json();
    if (!['queued', 'downloading', 'running'].includes(job.state)) break;
  }
  assert.equal(job.state, 'done', JSON.stringify(job.error));
  const { playlist, text } = await captionCues(`${base}/captions.m3u8`);
  assert.equal(playlist.endList, true);
  assert.ok(wordRecall(text, ENGLISH) >= 0.4, `English: ${text}`);
  assert.doesNotMatch(text, GERMAN_WORDS);
  const master = parsePlaylist(await (await fetch(`${base}/master.m3u8`)).text());
  assert.equal(Object.values(master.mediaGroups.SUBTITLES.captions)[0].language, 'en');
});
