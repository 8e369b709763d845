'use strict';

/**
 * A live job's second track (`translation: true`, relay/jobs/tracks.js) and its store: a final's words
 * kept in live_segments (and a relay.sqlite from before the column gets it), the English track kept
 * apart from the job's own finals, the option refused where it means nothing, and the fan-out on the
 * real sidecar: both streams opened, and when the sidecar refuses the second the first is closed again.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { Database } = require('node-sqlite3-wasm');
const { JobStore } = require('../../../relay/jobs/store');
const { parseOptions, refuseLiveOnly } = require('../../../relay/requests/options');
const { openTracks, TRANSLATION } = require('../../../relay/jobs/tracks');
const { LiveJob } = require('../../../relay/jobs/live');
const { tempDir, startSidecar } = require('../helpers');

let sidecar;

before(async () => {
  sidecar = await startSidecar({ env: { WHISPER_MAX_STREAMS: '1' } }); // one stream at a time: the second open is refused
});

after(async () => {
  if (sidecar) await sidecar.stop();
});

const WORDS = [{ word: ' Guten', start: 0.1, end: 0.4, probability: 0.93 }, { word: ' Morgen', start: 0.4, end: 0.9, probability: 0.88 }];

test('the store keeps a final\'s words, and a second track apart from the job\'s own finals', () => {
  const store = new JobStore(path.join(tempDir(), 'relay.sqlite'));
  try {
    store.insert({ id: 'job1', source: 'url', live: true });
    store.addSegment('job1', { id: 0, start: 0, end: 0.9, text: ' Guten Morgen', words: WORDS });
    store.addSegment('job1', { id: 1, start: 0.9, end: 2, text: '', gap: true, reason: 'sidecar_restart' });
    store.addSegment('job1', { id: 0, start: 0, end: 0.9, text: ' Good morning' }, TRANSLATION);
    const own = store.segments('job1');
    assert.deepEqual(own[0].words, WORDS);
    assert.equal(own[1].gap, true);
    assert.equal('words' in own[1], false, 'a final without words has none');
    assert.deepEqual(own.map((s) => s.text), [' Guten Morgen', '']);
    assert.deepEqual(store.segments('job1', TRANSLATION).map((s) => [s.id, s.text]), [[0, ' Good morning']]);
    store.delete('job1');
    assert.deepEqual(store.segments('job1', TRANSLATION), [], 'deleting the job deletes its second track too');
  } finally {
    store.close();
  }
});

test('a LiveJob keeps its finals\' words in the job\'s time, and a second track\'s finals apart and unsent', () => {
  const store = new JobStore(path.join(tempDir(), 'relay.sqlite'));
  try {
    const job = store.insert({ id: 'job2', source: 'url', live: true, options: { language: 'de', translation: true } });
    const events = [];
    const live = new LiveJob({ job, source: { kind: 'hls' }, sidecar: null, store, emit: (type, data) => events.push({ type, data }),
      signal: new AbortController().signal, log: console, offsetS: 5 }); // a stream resumed 5 s into the job
    live.onSegment({ start: 0, end: 0.9, text: ' Guten Morgen', final: true, words: WORDS });
    live.onSegment({ start: 0, end: 0.9, text: ' Good', final: false }, TRANSLATION);
    live.onSegment({ start: 0, end: 0.9, text: ' Good morning', final: true }, TRANSLATION);
    const [own] = store.segments('job2');
    assert.deepEqual(own.words.map((w) => [w.start, w.end]), [[5.1, 5.4], [5.4, 5.9]]);
    assert.deepEqual(store.segments('job2', TRANSLATION).map((s) => [s.start, s.end, s.text]), [[5, 5.9, ' Good morning']]);
    assert.deepEqual(events.map((e) => e.data.text), [' Guten Morgen'], 'only the job\'s own final is an event');
    const result = live.result([{ timings: { transcribe_s: 1 }, duration: 1, translated: { timings: { transcribe_s: 0.5 } } }]);
    assert.equal(result.text, 'Guten Morgen');
    assert.deepEqual([result.translation.language, result.translation.text], ['en', 'Good morning']);
    assert.equal(result.timings.transcribe_s, 1.5, 'the decode time counts both streams');
    assert.equal(result.translation.timings.transcribe_s, 0.5);
  } finally {
    store.close();
  }
});

test('a relay.sqlite from before the words column gets it, and its old finals read back without words', () => {
  const file = path.join(tempDir(), 'relay.sqlite');
  const old = new Database(file);
  old.exec(`CREATE TABLE live_segments (job_id TEXT NOT NULL, seq INTEGER NOT NULL, start REAL NOT NULL, end REAL NOT NULL,
    text TEXT NOT NULL, gap INTEGER NOT NULL DEFAULT 0, reason TEXT, PRIMARY KEY (job_id, seq))`);
  old.run("INSERT INTO live_segments (job_id, seq, start, end, text) VALUES ('old', 0, 0, 1, ' hello')");
  old.close();
  const store = new JobStore(file);
  try {
    assert.deepEqual(store.segments('old'), [{ id: 0, start: 0, end: 1, text: ' hello', final: true }]);
    store.addSegment('old', { id: 1, start: 1, end: 2, text: ' world', words: WORDS });
    assert.deepEqual(store.segments('old')[1].words, WORDS);
  } finally {
    store.close();
  }
});

test('translation: a boolean, not with task translate, and only for a live job', () => {
  assert.deepEqual(parseOptions({ translation: 'true', language: 'de' }), { translation: true, language: 'de' });
  assert.deepEqual(parseOptions({ translation: false }), {}, 'false is the same as not given: nothing reaches the sidecar');
  assert.throws(() => parseOptions({ translation: 'yes' }), (err) => err.statusCode === 400 && err.code === 'invalid_option' && /true or false/.test(err.message));
  assert.throws(() => parseOptions({ translation: true, task: 'translate' }), (err) => err.statusCode === 400 && err.details.param === 'translation');
  assert.throws(() => refuseLiveOnly({ translation: true }, 'an uploaded file'), (err) => err.statusCode === 400 && /only a live job/.test(err.message));
  refuseLiveOnly({ language: 'de' }, 'an uploaded file'); // no live-only option: nothing to refuse
});

test('openTracks on the real sidecar: the second stream refused, the first is closed again', async () => {
  await assert.rejects(
    openTracks(sidecar, { format: 'auto', language: 'de' }, { translation: true, onSegment: () => {}, onStatus: () => {} }),
    (err) => err.kind === 'queue_full',
  );
  // Had the first stream stayed open, this sidecar (one stream at most) would refuse this one as well.
  const tracks = await openTracks(sidecar, { format: 'auto', language: 'de' }, { translation: false, onSegment: () => {}, onStatus: () => {} });
  assert.equal(tracks.translation, null);
  const result = await tracks.close();
  assert.equal(result.translated, undefined);
});

test('a live POST the sidecar refuses for its open streams (WHISPER_MAX_STREAMS) gets 503 with Retry-After, and no job', async () => {
  const { startRelay } = require('../helpers');
  const { makeStreams, startMediaServer } = require('../live-servers');
  const media = await startMediaServer({ dir: makeStreams() });
  const held = await sidecar.openStream({ format: 'pcm_s16le' }, { onSegment: () => {}, onStatus: () => {} }); // the one stream it takes
  const relay = await startRelay({ sidecar, config: { allowPrivateUrls: true } });
  try {
    const response = await fetch(`${relay.url}/api/transcriptions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: `${media.origin}/endless.mp3` }),
    });
    const body = await response.json();
    assert.equal(response.status, 503, JSON.stringify(body));
    assert.equal(body.error.code, 'capacity', 'a refusal for capacity, whichever limit the sidecar hit');
    assert.match(body.error.message, /1 streams are open already/);
    assert.ok(Number(response.headers.get('retry-after')) >= 1, 'the caller is told when to try again');
    const list = await (await fetch(`${relay.url}/api/transcriptions`)).json();
    assert.deepEqual(list.jobs, [], 'a refused stream leaves no job behind');
  } finally {
    await relay.close();
    await held.close();
    await media.close();
  }
});
