'use strict';

/**
 * Resuming a /v1/realtime session whose socket dropped: `?intent=transcription&resume=<id>` within
 * REALTIME_RESUME_S, with the same key, gets the same session back (settings, the audio not yet
 * committed, the events it made meanwhile). Another key, an unknown id and an expired one get an error
 * event and close 1008. The first connection is the official SDK's realtime client; the resume is a
 * plain `ws` socket, since the SDK cannot add a query parameter.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startRelay, fixtureText, wordRecall } = require('../helpers');
const {
  TYPES, byType, checkItems, pcm24k, startStack, connect, connectWs, sendPcm, silence,
} = require('./helpers');

const KEY_A = `rt-a-${crypto.randomBytes(16).toString('hex')}`;
const KEY_B = `rt-b-${crypto.randomBytes(16).toString('hex')}`;

let stack;
let sidecar;
let relay;
let front;

before(async () => {
  stack = await startStack({ config: { apiKeys: [KEY_A, KEY_B] } });
  ({ sidecar, relay, front } = stack);
});

after(async () => {
  if (stack) await stack.close();
});

const wsUrl = (base, query) => `${base.replace('http', 'ws')}/v1/realtime?intent=transcription&${query}`;
const bearer = (key) => ({ headers: { Authorization: `Bearer ${key}` } });

/** The server has handled every event sent before: an update is answered in order. */
async function settled(c) {
  const seen = c.events.length;
  c.rt.send({ type: 'session.update', session: { type: 'transcription' } });
  await c.waitFor((e, i) => i >= seen && e.type === 'session.updated', 30000, 'session.updated');
}

async function refusal(url, options) {
  const c = await connectWs(url, options);
  const { code } = await c.closed;
  return { code, error: byType(c.events, 'error')[0] };
}

test('a socket dropped mid-turn: resume gets the settings, the turns completed meanwhile and the open turn', async () => {
  const a = await connect(front, { apiKey: KEY_A });
  const created = await a.waitFor((e) => e.type === 'session.created');
  const id = created.session.id;
  assert.match(id, /^sess_/);
  a.rt.send({ type: 'session.update', session: { type: 'transcription', audio: { input: {
    transcription: { language: 'en' }, turn_detection: { type: 'server_vad', silence_duration_ms: 1500 } } } } });
  await a.waitFor((e) => e.type === 'session.updated');
  // numbers, a pause that ends its turn, then weather with 0.2 s after it: that turn is still open.
  await sendPcm(a.rt, Buffer.concat([pcm24k(['numbers.flac'], { gapS: 0 }), silence(2.5),
    pcm24k(['weather.flac'], { gapS: 0 }), silence(0.2)]), { realTime: true });
  await settled(a);
  await a.waitFor(() => byType(a.events, TYPES.started).length >= 2, 60000, 'the weather turn started');
  a.rt.socket.terminate(); // no close frame: a dropped connection
  await a.closed;
  const open = byType(a.events, TYPES.started).at(-1).item_id;
  const before = byType(a.events, TYPES.completed);
  assert.ok(!before.some((e) => e.item_id === open), `the last turn was still open when the socket dropped: ${
    JSON.stringify(before.map((e) => e.transcript))}`);

  // Another key, an unknown id: refused, and the session is still there for its own key.
  const other = await refusal(wsUrl(relay.url, `resume=${id}`), bearer(KEY_B));
  assert.equal(other.code, 1008);
  assert.equal(other.error.error.code, 'session_not_found');
  const unknown = await refusal(wsUrl(relay.url, 'resume=sess_nope'), bearer(KEY_A));
  assert.equal(unknown.code, 1008);
  assert.equal(unknown.error.error.code, 'session_not_found');

  const b = await connectWs(wsUrl(relay.url, `resume=${encodeURIComponent(id)}`), bearer(KEY_A));
  const again = await b.waitFor((e) => e.type === 'session.created');
  assert.equal(again.session.id, id, 'the same session');
  assert.equal(again.session.audio.input.transcription.language, 'en');
  assert.equal(again.session.audio.input.turn_detection.silence_duration_ms, 1500, 'its settings');
  await sendPcm(b.rt, silence(2.5), { realTime: true }); // the pause that ends the open turn
  await b.waitFor((e) => e.type === TYPES.completed && wordRecall(e.transcript, fixtureText('weather')) >= 0.8,
    120000, 'the weather turn');

  const all = [...a.events, ...b.events];
  const completed = byType(all, TYPES.completed);
  const numbers = completed.filter((e) => wordRecall(e.transcript, fixtureText('numbers')) >= 0.8);
  assert.equal(numbers.length, 1, `numbers completed once over both sockets: ${completed.map((e) => e.transcript)}`);
  assert.equal(new Set(completed.map((e) => e.item_id)).size, completed.length, 'no item completed twice');
  const weather = completed.find((e) => wordRecall(e.transcript, fixtureText('weather')) >= 0.8);
  assert.equal(weather.item_id, open, 'the turn open at the drop completed after the resume, whole');
  checkItems(all);

  b.close();
  assert.equal((await b.closed).code, 1000);
  const ended = await refusal(wsUrl(relay.url, `resume=${id}`), bearer(KEY_A));
  assert.equal(ended.error.error.code, 'session_not_found', 'a normal close ends the session');
});

test('a session not resumed within REALTIME_RESUME_S ends: the resume is refused and its stream freed', async () => {
  const short = await startRelay({ sidecar, config: { realtimeResumeS: 1 } });
  try {
    const a = await connectWs(wsUrl(short.url, 'model=whisper-1'));
    const { session } = await a.waitFor((e) => e.type === 'session.created');
    await sendPcm(a.rt, pcm24k(['weather.flac'], { gapS: 0 }));
    await a.waitFor((e) => e.type === TYPES.started, 60000, 'speech_started');
    const streams = sidecar.streams.size;
    assert.ok(streams >= 1, 'the session holds a stream');
    a.rt.socket.terminate();
    await a.closed;
    for (let i = 0; i < 100 && sidecar.streams.size >= streams; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(sidecar.streams.size < streams, 'its stream was closed once the session expired');
    const expired = await refusal(wsUrl(short.url, `resume=${session.id}`));
    assert.equal(expired.code, 1008);
    assert.equal(expired.error.error.code, 'session_not_found');
  } finally {
    await short.close();
  }
});
