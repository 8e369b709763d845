'use strict';

/**
 * /v1/realtime transcription sessions through the official openai SDK's realtime WebSocket client
 * (openai/realtime/ws), against a relay with the real sidecar (behind a TLS front: the SDK dials
 * wss:// only). Turns with server VAD at real time, manual commits, both event shapes, bad input,
 * a flood of audio, a client that never reads, 50 sockets on one key, and the keys on the upgrade.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startRelay, fixtureText, wordRecall } = require('../helpers');
const {
  TYPES, pcm24k, tlsFront, connect, sendPcm, silence, SdkWebSocket, byType, checkItems, startStack,
} = require('./helpers');

let stack;
let sidecar;
let relay;
let front;

before(async () => {
  stack = await startStack();
  ({ sidecar, relay, front } = stack);
});

after(async () => {
  if (stack) await stack.close();
});

async function waitClosed(predicate, ms = 10000) {
  const until = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

test('GA session, server VAD, audio at real time: turns in order, deltas join to each transcript, the words', async () => {
  const c = await connect(front);
  await c.waitFor((e) => e.type === 'session.created');
  assert.equal(c.events[0].session.type, 'transcription');
  c.rt.send({ type: 'session.update', session: { type: 'transcription', audio: { input: {
    format: { type: 'audio/pcm', rate: 24000 }, transcription: { model: 'whisper-1', language: 'en' },
    turn_detection: { type: 'server_vad', silence_duration_ms: 500 } } } } });
  const updated = await c.waitFor((e) => e.type === 'session.updated');
  assert.equal(updated.session.audio.input.transcription.language, 'en');
  assert.equal(updated.session.audio.input.turn_detection.silence_duration_ms, 500);

  const pcm = Buffer.concat([pcm24k(['weather.flac']), silence(2.5), pcm24k(['numbers.flac']), silence(2.5)]);
  await sendPcm(c.rt, pcm, { realTime: true });
  await c.waitFor((e) => byType(c.events, TYPES.completed).length >= 2, 120000, 'two completed items');
  const texts = checkItems(c.events);
  const recall = wordRecall(texts.join(' '), `${fixtureText('weather')} ${fixtureText('numbers')}`);
  assert.ok(recall >= 0.8, `recall ${recall}: ${texts.join(' | ')}`);

  for (const done of byType(c.events, TYPES.completed)) {
    const id = done.item_id;
    const at = (type) => c.events.findIndex((e) => e.type === type && e.item_id === id);
    assert.ok(at(TYPES.started) >= 0 && at(TYPES.started) < at(TYPES.stopped), `${id}: started before stopped`);
    assert.ok(at(TYPES.stopped) < at(TYPES.committed) && at(TYPES.committed) < at(TYPES.completed),
      `${id}: stopped, committed, completed`);
  }
  const [first, second] = byType(c.events, TYPES.committed);
  assert.equal(first.previous_item_id, null);
  assert.equal(second.previous_item_id, first.item_id);
  const starts = byType(c.events, TYPES.started).map((e) => e.audio_start_ms);
  assert.ok(starts[0] < 1500 && starts[1] > 6000, `speech starts at ${starts} ms of audio`);
  assert.deepEqual(c.errors, []);
  c.close();
  assert.equal((await c.closed).code, 1000);
});

test('beta shape, no turn detection: input_audio_buffer.commit commits a turn; empty commit and clear', async () => {
  const c = await connect(front, { headers: { 'OpenAI-Beta': 'realtime=v1' } });
  await c.waitFor((e) => e.type === 'transcription_session.created');
  c.rt.send({ type: 'transcription_session.update', event_id: 'cfg', session: {
    input_audio_format: 'pcm16', input_audio_transcription: { model: 'gpt-4o-transcribe', language: 'en' },
    turn_detection: null } });
  const updated = await c.waitFor((e) => e.type === 'transcription_session.updated');
  assert.equal(updated.session.turn_detection, null);

  c.rt.send({ type: 'input_audio_buffer.commit', event_id: 'empty' });
  const empty = await c.waitFor((e) => e.type === 'error');
  assert.equal(empty.error.code, 'input_audio_buffer_commit_empty');
  assert.equal(empty.error.event_id, 'empty');

  await sendPcm(c.rt, pcm24k(['story.flac'], { gapS: 0 }));
  c.rt.send({ type: 'input_audio_buffer.commit' });
  const committed = await c.waitFor((e) => e.type === TYPES.committed);
  const done = await c.waitFor((e) => e.type === TYPES.completed, 120000, 'completed');
  assert.equal(done.item_id, committed.item_id);
  assert.equal(byType(c.events, TYPES.started).length, 0, 'no VAD events without turn detection');
  const recall = wordRecall(done.transcript, fixtureText('story'));
  assert.ok(recall >= 0.8, `recall ${recall}: ${done.transcript}`);
  checkItems(c.events);

  // clear drops what was not committed; the session goes on with a fresh stream.
  await sendPcm(c.rt, pcm24k(['hello.flac']));
  c.rt.send({ type: 'input_audio_buffer.clear' });
  await c.waitFor((e) => e.type === 'input_audio_buffer.cleared');
  await sendPcm(c.rt, pcm24k(['weather.flac']));
  c.rt.send({ type: 'input_audio_buffer.commit' });
  await c.waitFor((e) => byType(c.events, TYPES.completed).length === 2, 120000, 'a second completed');
  const last = byType(c.events, TYPES.completed)[1].transcript;
  assert.ok(wordRecall(last, fixtureText('weather')) >= 0.8, last);
  assert.doesNotMatch(last, /speech recognition/i, 'the cleared audio is not in the next turn');
  c.close();
});

test('bad input: each gets OpenAI\'s error event and the socket stays open', async () => {
  const c = await connect(front);
  await c.waitFor((e) => e.type === 'session.created');
  const huge = crypto.randomBytes(7.5 * 1024 * 1024).toString('base64'); // 10 MB of base64
  const cases = [
    ['binary', () => c.rt.socket.send(Buffer.from([1, 2, 3])), 'binary_not_supported'],
    ['not JSON', () => c.rt.socket.send('{"type": '), 'invalid_json'],
    ['not an event', () => c.rt.socket.send('[1, 2]'), 'invalid_event'],
    ['no type', () => c.rt.send({ audio: '' }), 'invalid_event'],
    ['unknown type', () => c.rt.send({ type: 'input_audio_buffer.frobnicate' }), 'unknown_event'],
    ['conversation event', () => c.rt.send({ type: 'response.create' }), 'unsupported_event'],
    ['bad base64', () => c.rt.send({ type: 'input_audio_buffer.append', audio: 'not base64!' }), 'invalid_value'],
    ['odd bytes', () => c.rt.send({ type: 'input_audio_buffer.append', audio: 'AAAA' }), 'invalid_value'],
    ['no audio', () => c.rt.send({ type: 'input_audio_buffer.append' }), 'invalid_value'],
    ['10 MB append', () => c.rt.send({ type: 'input_audio_buffer.append', audio: huge }), 'event_too_large'],
    ['g729', () => c.rt.send({ type: 'transcription_session.update', session: { input_audio_format: 'g729' } }),
      'unsupported_audio_format'],
    ['logprobs', () => c.rt.send({ type: 'session.update', session: { type: 'transcription',
      include: ['item.input_audio_transcription.logprobs'] } }), 'unsupported_include'],
    ['noise reduction type', () => c.rt.send({ type: 'session.update', session: { type: 'transcription',
      audio: { input: { noise_reduction: { type: 'studio' } } } } }), 'invalid_value'],
    ['semantic eagerness', () => c.rt.send({ type: 'session.update', session: { type: 'transcription',
      audio: { input: { turn_detection: { type: 'semantic_vad', eagerness: 'eager' } } } } }), 'invalid_value'],
    ['24 kHz only', () => c.rt.send({ type: 'session.update', session: { type: 'transcription',
      audio: { input: { format: { type: 'audio/pcm', rate: 16000 } } } } }), 'unsupported_audio_format'],
    ['a conversation session', () => c.rt.send({ type: 'session.update', session: { type: 'realtime' } }),
      'unsupported_session_type'],
    ['silence out of range', () => c.rt.send({ type: 'session.update', session: { type: 'transcription',
      audio: { input: { turn_detection: { type: 'server_vad', silence_duration_ms: 5 } } } } }), 'invalid_value'],
    // the language and the prompt are checked when set, not when the sidecar's stream refuses them
    ['unknown language', () => c.rt.send({ type: 'session.update', session: { type: 'transcription',
      audio: { input: { transcription: { model: 'whisper-1', language: 'xx' } } } } }), 'invalid_value'],
    ['unknown language, beta', () => c.rt.send({ type: 'transcription_session.update',
      session: { input_audio_transcription: { language: 'klingon' } } }), 'invalid_value'],
    ['prompt too long', () => c.rt.send({ type: 'session.update', session: { type: 'transcription',
      audio: { input: { transcription: { prompt: 'x'.repeat(5000) } } } } }), 'invalid_value'],
  ];
  for (const [label, act, code] of cases) {
    const seen = c.events.length;
    act();
    const err = await c.waitFor((e, i) => i >= seen && e.type === 'error', 10000, `error for ${label}`);
    assert.equal(err.error.code, code, `${label}: ${err.error.message}`);
    assert.ok(['invalid_request_error', 'server_error'].includes(err.error.type), label);
    assert.ok(err.error.message.length > 10, label);
  }
  // Still open and still serving: an update is answered, and it did not take the refused values.
  c.rt.send({ type: 'session.update', session: { type: 'transcription' } });
  const updated = await c.waitFor((e) => e.type === 'session.updated');
  assert.equal(updated.session.audio.input.turn_detection.silence_duration_ms, 500);
  assert.equal(updated.session.audio.input.transcription.language, null);
  assert.equal(updated.session.audio.input.transcription.prompt, null);
  assert.equal(c.rt.socket.readyState, c.rt.socket.OPEN);
  c.close();
  const health = await fetch(`${relay.url}/healthz`);
  assert.equal(health.status, 200);
});

test('audio much faster than real time: dropped audio is told, memory stays bounded, closing frees the stream', async () => {
  const c = await connect(front);
  await c.waitFor((e) => e.type === 'session.created');
  const story = pcm24k(['story.flac', 'weather.flac', 'numbers.flac'], { gapS: 0.3 });
  const minutes = Buffer.concat(Array.from({ length: Math.ceil((4 * 60 * 48000) / story.length) }, () => story));
  const heapBefore = process.memoryUsage().heapUsed;
  let peakHeap = heapBefore;
  await sendPcm(c.rt, minutes, { onChunk: () => { peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed); } });
  const dropped = await c.waitFor((e) => e.type === 'error' && e.error.code === 'audio_dropped', 120000, 'audio_dropped');
  assert.match(dropped.error.message, /dropped/);
  assert.ok(peakHeap - heapBefore < 200 * 1024 * 1024, `heap grew by ${(peakHeap - heapBefore) / 1e6} MB`);
  assert.ok(sidecar.streams.size >= 1, 'a stream is open');
  c.close();
  assert.ok(await waitClosed(() => sidecar.streams.size === 0), 'the stream is freed after the socket closes');
  const rpc = await sidecar.ping();
  assert.equal(rpc.pong, true);
});

test('a client that never reads is closed; the relay keeps serving', async () => {
  const c = await connect(front);
  await c.waitFor((e) => e.type === 'session.created');
  const connections = () => new Promise((resolve, reject) => relay.app.server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
  const before = await connections();
  let now = before;
  c.rt.socket._socket.pause(); // stop reading: the server's events pile up
  const junk = JSON.stringify({ type: `x.${'y'.repeat(60)}` });
  for (let i = 0; i < 200000 && now >= before; i += 1) {
    c.rt.socket.send(junk);
    if (i % 500 === 499) now = await connections();
  }
  for (let i = 0; i < 200 && now >= before; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    now = await connections();
  }
  assert.ok(now < before, 'the relay dropped the socket');
  c.rt.socket._socket.resume();
  const { code } = await c.closed;
  assert.ok([1006, 1008].includes(code), `close code ${code}`);
  const again = await connect(front);
  await again.waitFor((e) => e.type === 'session.created');
  again.close();
});

test('an unknown intent is refused with an error event and close 1008', async () => {
  const ws = new SdkWebSocket(`${relay.url.replace('http', 'ws')}/v1/realtime?intent=conversation`);
  const events = [];
  ws.on('message', (data) => events.push(JSON.parse(data)));
  const code = await new Promise((resolve) => ws.on('close', resolve));
  assert.equal(code, 1008);
  assert.equal(events[0].type, 'error');
  assert.equal(events[0].error.code, 'unsupported_intent');
});

test('keys: the upgrade needs one (Bearer or subprotocol); 50 sockets on one key: 10 open, the rest close 1013', async () => {
  const key = `rt-${crypto.randomBytes(16).toString('hex')}`;
  const keyed = await startRelay({ sidecar, config: { apiKeys: [key] } });
  const keyedFront = await tlsFront(keyed.url);
  try {
    await assert.rejects(connect(keyedFront, { apiKey: 'wrong' }), /401/);
    const url = `${keyed.url.replace('http', 'ws')}/v1/realtime?intent=transcription`;
    const viaProtocol = new SdkWebSocket(url, ['realtime', `openai-insecure-api-key.${key}`]);
    const first = await new Promise((resolve, reject) => {
      viaProtocol.once('message', (data) => resolve(JSON.parse(data)));
      viaProtocol.once('unexpected-response', (req, res) => reject(new Error(`upgrade ${res.statusCode}`)));
    });
    assert.equal(first.type, 'session.created');
    assert.equal(viaProtocol.protocol, 'realtime', 'the key is not echoed back');
    viaProtocol.close();
    await new Promise((resolve) => viaProtocol.once('close', resolve));

    const clients = await Promise.all(Array.from({ length: 50 }, () => connect(keyedFront, { apiKey: key })));
    const outcomes = await Promise.all(clients.map((c) => Promise.race([
      c.closed.then(({ code }) => ({ code, error: byType(c.events, 'error')[0] })),
      c.waitFor((e) => e.type === 'session.created').then(() => new Promise((r) => setTimeout(r, 500)))
        .then(() => (c.rt.socket.readyState === c.rt.socket.OPEN ? { open: true } : c.closed)),
    ])));
    const open = outcomes.filter((o) => o.open);
    const refused = outcomes.filter((o) => o.code === 1013);
    assert.equal(open.length, keyed.config.maxStreamsPerKey, JSON.stringify(outcomes.filter((o) => !o.open).slice(0, 2)));
    assert.equal(refused.length, 50 - keyed.config.maxStreamsPerKey);
    assert.equal(refused[0].error.error.code, 'too_many_streams');
    for (const c of clients) c.close();
    await Promise.all(clients.map((c) => c.closed));
    const later = await connect(keyedFront, { apiKey: key });
    await later.waitFor((e) => e.type === 'session.created');
    later.close();
    assert.equal((await fetch(`${keyed.url}/healthz`)).status, 200);
  } finally {
    await keyedFront.close();
    await keyed.close();
  }
});
