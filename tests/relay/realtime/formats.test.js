'use strict';

/**
 * /v1/realtime through the official openai SDK's realtime client, beyond PCM16 and server VAD:
 * G.711 μ-law (beta `g711_ulaw`) and A-law (GA `audio/pcma`) made by PyAV's FFmpeg encoders,
 * semantic_vad whose eagerness moves the pause that ends a turn, noise reduction accepted and echoed,
 * server VAD's idle_timeout_ms (input_audio_buffer.timeout_triggered), and a sidecar killed mid-turn
 * (conversation.item.input_audio_transcription.failed, then the session goes on).
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { fixtureText, wordRecall } = require('../helpers');
const { decodeG711 } = require('../../../relay/realtime/g711');
const {
  TYPES, byType, checkItems, pcm24k, g711, g711Silence, startStack, connect, sendPcm, silence, runPython,
} = require('./helpers');

const G711 = { realTime: true, bytesPerS: 8000 }; // 8 kHz, a byte a sample

let stack;
let sidecar;
let front;

before(async () => {
  stack = await startStack();
  ({ sidecar, front } = stack);
});

after(async () => {
  if (stack) await stack.close();
});

test('the G.711 tables decode every code as FFmpeg\'s pcm_mulaw / pcm_alaw decoders do', () => {
  const codes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const script = [
    'import sys, av, numpy as np',
    'c = av.CodecContext.create(sys.argv[1], "r"); c.sample_rate = 8000; c.layout = "mono"',
    'frames = c.decode(av.Packet(bytes(range(256))))',
    'sys.stdout.buffer.write(np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype("<i2").tobytes())',
  ];
  for (const [law, codec] of [['ulaw', 'pcm_mulaw'], ['alaw', 'pcm_alaw']]) {
    const ffmpeg = runPython(script, [codec]);
    assert.ok(decodeG711(codes, law).equals(ffmpeg), `${law}: the 256 codes decode the same`);
  }
});

test('beta g711_ulaw at 8 kHz from FFmpeg\'s encoder: two turns, transcribed', async () => {
  const c = await connect(front, { headers: { 'OpenAI-Beta': 'realtime=v1' } });
  await c.waitFor((e) => e.type === 'transcription_session.created');
  c.rt.send({ type: 'transcription_session.update', session: { input_audio_format: 'g711_ulaw',
    input_audio_transcription: { model: 'whisper-1', language: 'en' },
    turn_detection: { type: 'server_vad', silence_duration_ms: 500 } } });
  const updated = await c.waitFor((e) => e.type === 'transcription_session.updated');
  assert.equal(updated.session.input_audio_format, 'g711_ulaw');

  const audio = Buffer.concat([g711(['weather.flac', 'numbers.flac'], 'ulaw', { gapS: 2 }), g711Silence(2, 'ulaw')]);
  await sendPcm(c.rt, audio, G711);
  await c.waitFor((e) => byType(c.events, TYPES.completed).length >= 2, 180000, 'two completed items');
  const texts = checkItems(c.events);
  // Telephone band (4 kHz) costs Whisper words: the same audio as PCM16 at 8 kHz misses the same ones.
  const recall = wordRecall(texts.join(' '), `${fixtureText('weather')} ${fixtureText('numbers')}`);
  assert.ok(recall >= 0.7, `recall ${recall}: ${texts.join(' | ')}`);
  const starts = byType(c.events, TYPES.started).map((e) => e.audio_start_ms);
  assert.ok(starts[1] > 7000 && starts[1] < 9500, `the second turn starts at ${starts[1]} ms of 8 kHz audio`);
  assert.deepEqual(c.errors, []);
  c.close();
});

test('GA audio/pcma with semantic_vad: eagerness low joins a 0.8 s pause into one turn, high splits it', async () => {
  const turnsFor = async (eagerness) => {
    const c = await connect(front);
    await c.waitFor((e) => e.type === 'session.created');
    c.rt.send({ type: 'session.update', session: { type: 'transcription', audio: { input: {
      format: { type: 'audio/pcma' }, transcription: { model: 'whisper-1', language: 'en' },
      turn_detection: { type: 'semantic_vad', eagerness }, noise_reduction: { type: 'near_field' } } } } });
    const updated = await c.waitFor((e) => e.type === 'session.updated');
    assert.deepEqual(updated.session.audio.input.format, { type: 'audio/pcma' });
    assert.deepEqual(updated.session.audio.input.turn_detection, { type: 'semantic_vad', eagerness });
    assert.deepEqual(updated.session.audio.input.noise_reduction, { type: 'near_field' });
    const audio = Buffer.concat([g711(['hello.flac', 'weather.flac'], 'alaw', { gapS: 0.8 }), g711Silence(3, 'alaw')]);
    await sendPcm(c.rt, audio, G711);
    // 3 s of trailing silence closes the last turn under every eagerness (2 s at most).
    const allDone = () => byType(c.events, TYPES.stopped).some((e) => e.audio_end_ms > 10000)
      && byType(c.events, TYPES.stopped).length === byType(c.events, TYPES.completed).length;
    await c.waitFor(allDone, 180000, 'every turn completed');
    const texts = checkItems(c.events);
    const recall = wordRecall(texts.join(' '), `${fixtureText('hello')} ${fixtureText('weather')}`); // telephone band
    assert.ok(recall >= 0.7, `${eagerness}: recall ${recall}: ${texts.join(' | ')}`);
    c.close();
    return texts.length;
  };
  assert.equal(await turnsFor('low'), 1, 'a 2 s pause policy keeps the 0.8 s pause inside the turn');
  assert.equal(await turnsFor('high'), 2, 'a 0.5 s pause policy ends the turn at the 0.8 s pause');
});

test('server VAD idle_timeout_ms: no speech for that long → timeout_triggered and an empty committed item', async () => {
  const c = await connect(front);
  await c.waitFor((e) => e.type === 'session.created');
  c.rt.send({ type: 'session.update', session: { type: 'transcription', audio: { input: {
    transcription: { language: 'en' }, turn_detection: { type: 'server_vad', idle_timeout_ms: 5000 } } } } });
  const updated = await c.waitFor((e) => e.type === 'session.updated');
  assert.equal(updated.session.audio.input.turn_detection.idle_timeout_ms, 5000);
  await sendPcm(c.rt, Buffer.concat([pcm24k(['weather.flac'], { gapS: 0 }), silence(7)]), { realTime: true });
  const timeout = await c.waitFor((e) => e.type === TYPES.timeout, 120000, 'timeout_triggered');
  const speech = await c.waitFor((e) => e.type === TYPES.completed && e.transcript !== '', 120000, 'the speech turn');
  assert.ok(wordRecall(speech.transcript, fixtureText('weather')) >= 0.8, speech.transcript);
  assert.ok(c.events.indexOf(speech) < c.events.indexOf(timeout), 'the timeout comes after the speech turn');
  const stopped = byType(c.events, TYPES.stopped)[0];
  assert.ok(timeout.audio_start_ms >= stopped.audio_end_ms - 1, `${timeout.audio_start_ms} after ${stopped.audio_end_ms}`);
  assert.ok(timeout.audio_end_ms - timeout.audio_start_ms >= 5000, JSON.stringify(timeout));
  const empty = await c.waitFor((e) => e.type === TYPES.completed && e.item_id === timeout.item_id);
  assert.equal(empty.transcript, '');
  assert.ok(byType(c.events, TYPES.committed).some((e) => e.item_id === timeout.item_id), 'the silent item is committed');
  checkItems(c.events);
  c.close();
});

test('a sidecar killed mid-turn: that turn fails, the session goes on and completes the next', async () => {
  const c = await connect(front);
  await c.waitFor((e) => e.type === 'session.created');
  c.rt.send({ type: 'session.update', session: { type: 'transcription', audio: { input: {
    transcription: { language: 'en' }, turn_detection: { type: 'server_vad', silence_duration_ms: 1500 } } } } });
  await c.waitFor((e) => e.type === 'session.updated');
  await sendPcm(c.rt, pcm24k(['story.flac'], { gapS: 0 }));
  const started = await c.waitFor((e) => e.type === TYPES.started, 60000, 'speech_started');
  const pid = sidecar.pid;
  process.kill(pid, 'SIGKILL');
  const failed = await c.waitFor((e) => e.type === TYPES.failed, 60000, 'failed');
  assert.equal(failed.item_id, started.item_id);
  assert.equal(failed.content_index, 0);
  assert.equal(failed.error.code, 'sidecar_restarted');
  assert.ok(failed.error.message.length > 10);
  assert.ok(!byType(c.events, TYPES.completed).some((e) => e.item_id === failed.item_id), 'a failed item never completes');

  for (let i = 0; i < 600 && (sidecar.pid === pid || sidecar.pid === null); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.ok(sidecar.pid && sidecar.pid !== pid, 'the bridge started a new sidecar');
  const seen = c.events.length;
  await sendPcm(c.rt, Buffer.concat([silence(2.5), pcm24k(['weather.flac'], { gapS: 0 }), silence(2.5)]),
    { realTime: true });
  // What of the story was still queued when the sidecar died comes first, as a turn of its own.
  const after = () => c.events.slice(seen);
  const allCompleted = () => byType(after(), TYPES.started).length > 0 && byType(after(), TYPES.started)
    .every((s) => byType(after(), TYPES.completed).some((e) => e.item_id === s.item_id));
  await c.waitFor(allCompleted, 180000, 'the next turns');
  // (the story's queued rest may share the weather's turn)
  const texts = byType(after(), TYPES.completed).map((e) => e.transcript);
  assert.ok(wordRecall(texts.join(' '), fixtureText('weather')) >= 0.8, JSON.stringify(texts));
  checkItems(c.events);
  c.close();
});
