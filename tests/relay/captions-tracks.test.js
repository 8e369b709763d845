'use strict';

/**
 * Two caption tracks of one live stream (issue 21): `translation: true` on a live job from an HLS
 * source speaking German (tests/fixtures/audio/german.flac, espeak-ng) keeps the German finals as the
 * job's own track and adds an English track, served as `captions.m3u8?track=en` and listed in
 * master.m3u8 as a second rendition of the same group. An uploaded file with the option is refused.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { fixture, fixtureText, startSidecar, startRelay, postJson, uploadFile, wordRecall } = require('./helpers');
const { publishFixture, captionCues, parsePlaylist } = require('./captions-server');

const ENGLISH = 'Good morning. The weather is sunny and warm today. In the afternoon a strong wind comes from the west. Tomorrow it will rain all day.';
const GERMAN = fixtureText('german');
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

test('translation: true on a live German stream: German finals, an English track, two renditions', async () => {
  const created = await postJson(relay.url, '/api/transcriptions', {
    url: `${origin.origin}/live.m3u8`, from: 'start', language: 'de', translation: true,
  });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const base = `${relay.url}/api/transcriptions/${created.body.id}`;
  let job;
  for (const started = Date.now(); Date.now() - started < 180000; await new Promise((r) => setTimeout(r, 1000))) {
    job = await (await fetch(base)).json();
    if (!['queued', 'downloading', 'running'].includes(job.state)) break;
  }
  assert.equal(job.state, 'done', JSON.stringify(job.error));

  // The job's own track stays German; the English one is apart, in result.translation.
  assert.ok(wordRecall(job.result.text, GERMAN) >= 0.4, `German: ${job.result.text}`);
  assert.ok(job.result.translation, 'the result has the English track');
  assert.equal(job.result.translation.language, 'en');
  assert.ok(wordRecall(job.result.translation.text, ENGLISH) >= 0.4, `English: ${job.result.translation.text}`);
  assert.doesNotMatch(job.result.translation.text, GERMAN_WORDS);

  const own = await captionCues(`${base}/captions.m3u8`);
  assert.equal(own.playlist.endList, true);
  assert.match(own.text, GERMAN_WORDS);
  assert.ok(wordRecall(own.text, GERMAN) >= 0.4, `German cues: ${own.text}`);

  // The English track through its signed URL: every segment URI keeps the track and the signature.
  const urls = await (await fetch(`${base}/captions/urls`)).json();
  assert.ok(urls.tracks && urls.tracks.en, JSON.stringify(urls));
  const english = await captionCues(urls.tracks.en.captions);
  assert.equal(english.playlist.endList, true);
  assert.ok(english.uris.length > 0);
  for (const uri of english.uris) assert.match(uri, /^captions\.vtt\?seq=\d+&track=en&exp=\d+&sig=[0-9a-f]+$/);
  assert.ok(wordRecall(english.text, ENGLISH) >= 0.4, `English cues: ${english.text}`);
  assert.doesNotMatch(english.text, GERMAN_WORDS);

  const master = parsePlaylist(await (await fetch(`${base}/master.m3u8`)).text());
  const renditions = Object.values(master.mediaGroups.SUBTITLES.captions);
  assert.equal(renditions.length, 2);
  const [german, translated] = [renditions.find((r) => r.default), renditions.find((r) => !r.default)];
  assert.equal(german.language, 'de');
  assert.equal(translated.language, 'en');
  assert.equal(translated.autoselect, true);
  assert.match(translated.uri, /^captions\.m3u8\?track=en/);

  const unknown = await fetch(`${base}/captions.m3u8?track=fr`);
  assert.equal(unknown.status, 404);
  assert.equal((await unknown.json()).error.code, 'unknown_track');
});

test('translation on an uploaded file is refused with 400: it is for live jobs', async () => {
  const response = await uploadFile(relay.url, fixture('german.flac'), { translation: 'true', language: 'de' });
  assert.equal(response.status, 400, JSON.stringify(response.body));
  assert.equal(response.body.error.code, 'invalid_option');
  assert.equal(response.body.error.param, 'translation');
});
