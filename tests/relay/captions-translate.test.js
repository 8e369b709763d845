'use strict';

/**
 * Live translation (issue 21): `task: "translate"` on a live job from an HLS source speaking German
 * (tests/fixtures/audio/german.flac, espeak-ng) gives English captions: the WebVTT cues are English,
 * not German, and master.m3u8 labels the rendition `en`.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { WebVTTParser } = require('webvtt-parser');
const { ROOT, fixture, startSidecar, startRelay, postJson, wordRecall } = require('./helpers');
const { startCaptionsOrigin, parsePlaylist } = require('./captions-server');

const ENGLISH = 'Good morning. The weather is sunny and warm today. In the afternoon a strong wind comes from the west. Tomorrow it will rain all day.';
const GERMAN_WORDS = /\b(guten|wetter|heute|sonnig|nachmittag|westen|morgen wird|regnen)\b/i;

let sidecar;
let relay;
let origin;
let streams;

before(async () => {
  streams = fs.mkdtempSync(path.join(os.tmpdir(), 'captions-german-'));
  execFileSync(path.join(ROOT, '.venv', 'bin', 'python'), ['-c',
    'import sys; sys.path.insert(0, sys.argv[1]); import make_streams; make_streams.make_hls([sys.argv[2]], sys.argv[3])',
    path.join(ROOT, 'tests', 'fixtures'), fixture('german.flac'), path.join(streams, 'hls')]);
  const count = fs.readdirSync(path.join(streams, 'hls')).filter((name) => name.endsWith('.ts')).length;
  origin = await startCaptionsOrigin({ dir: streams, count, discontinuityAt: count, shiftsS: [0, 0], periodMs: 1000, initial: 2 });
  sidecar = await startSidecar();
  relay = await startRelay({ sidecar, config: { allowPrivateUrls: true } });
});

after(async () => {
  if (relay) await relay.close();
  if (sidecar) await sidecar.stop();
  if (origin) await origin.close();
  if (streams) fs.rmSync(streams, { recursive: true, force: true });
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
  const playlist = parsePlaylist(await (await fetch(`${base}/captions.m3u8`)).text());
  assert.equal(playlist.endList, true);
  const cues = [];
  for (const segment of playlist.segments) {
    cues.push(...new WebVTTParser().parse(await (await fetch(`${base}/${segment.uri}`)).text(), 'metadata').cues);
  }
  const text = [...new Set(cues.map((c) => c.text))].join(' ');
  assert.ok(wordRecall(text, ENGLISH) >= 0.4, `English: ${text}`);
  assert.doesNotMatch(text, GERMAN_WORDS);
  const master = parsePlaylist(await (await fetch(`${base}/master.m3u8`)).text());
  assert.equal(Object.values(master.mediaGroups.SUBTITLES.captions)[0].language, 'en');
});
