'use strict';

/**
 * The Deepgram-compatible /v1/listen through the official `@deepgram/sdk` (pointed at the relay by
 * baseUrl), with the real sidecar: live (linear16 at real time with interim results, VAD events,
 * endpointing and utterance ends; μ-law with Finalize; Ogg Opus), pre-recorded (a body and a {url}),
 * refusals of what is not supported, and keys as Deepgram sends them.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { DeepgramClient } = require('@deepgram/sdk');
const { startSidecar, startRelay, fixture, fixtureText, wordRecall, tempDir, ROOT } = require('../helpers');
const { pcm24k, g711, SdkWebSocket, runPython } = require('../realtime/helpers');

const KEY = `dg-${crypto.randomBytes(16).toString('hex')}`;

let sidecar;
let relay;
let client;

before(async () => {
  sidecar = await startSidecar();
  relay = await startRelay({ sidecar, config: { apiKeys: [KEY], allowPrivateUrls: true } });
  client = new DeepgramClient({ apiKey: KEY, baseUrl: relay.url });
});

after(async () => {
  if (relay) await relay.close();
  if (sidecar) await sidecar.stop();
});

const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The SDK's live connection, open, with every message recorded; `closed` resolves with the close event. */
async function listen(options) {
  const connection = await client.listen.v1.connect({ model: 'nova-3', reconnectAttempts: 0, ...options });
  const messages = [];
  const closed = new Promise((resolve) => connection.on('close', resolve));
  connection.on('message', (message) => messages.push(message));
  connection.connect();
  await connection.waitForOpen();
  return { connection, messages, closed };
}

/** Sends `bytes` in 100 ms frames (`bytesPerS`), at real time or as fast as the socket takes them. */
async function sendAudio(connection, bytes, { bytesPerS, realTime = true }) {
  const frame = bytesPerS / 10;
  for (let offset = 0; offset < bytes.length; offset += frame) {
    connection.sendMedia(bytes.subarray(offset, offset + frame));
    await sleep(realTime ? 100 : 0);
  }
}

const finals = (messages) => messages.filter((m) => m.type === 'Results' && m.is_final);
const transcriptOf = (messages) => finals(messages).map((m) => m.channel.alternatives[0].transcript).join(' ');

test('live linear16: interim and final Results, SpeechStarted, speech_final per turn, UtteranceEnd, Metadata', async () => {
  const audio = Buffer.concat([pcm24k(['weather.flac', 'numbers.flac'], { gapS: 2.5, rate: 16000 }),
    Buffer.alloc(16000 * 2 * 2.5)]);
  const { connection, messages, closed } = await listen({ encoding: 'linear16', sample_rate: 16000, language: 'en',
    punctuate: 'true', interim_results: 'true', vad_events: 'true', utterance_end_ms: '1000', endpointing: '500' });
  await sendAudio(connection, audio, { bytesPerS: 32000 });
  connection.sendCloseStream({ type: 'CloseStream' });
  const close = await closed;
  assert.equal(close.code, 1000);

  const types = messages.map((m) => m.type);
  assert.equal(types[types.length - 1], 'Metadata');
  assert.ok(types.indexOf('SpeechStarted') < types.indexOf('Results'), types.join());
  assert.ok(messages.some((m) => m.type === 'Results' && !m.is_final), 'interim results');
  const text = transcriptOf(messages);
  const recall = wordRecall(text, `${fixtureText('weather')} ${fixtureText('numbers')}`);
  assert.ok(recall >= 0.8, `recall ${recall}: ${text}`);
  assert.ok(finals(messages).filter((m) => m.speech_final).length >= 2, 'one speech_final per turn at least');
  for (const m of finals(messages)) {
    const alt = m.channel.alternatives[0];
    assert.equal(alt.words.length, alt.transcript.split(/\s+/).length, 'a word per transcript word');
    assert.ok(alt.words.every((w) => w.start >= m.start - 0.001 && w.end <= m.start + m.duration + 0.001), 'words inside');
    assert.deepEqual(m.channel_index, [0, 1]);
  }
  const ends = messages.filter((m) => m.type === 'UtteranceEnd');
  assert.ok(ends.length >= 2, `${ends.length} UtteranceEnd`);
  const firstEnd = types.indexOf('UtteranceEnd');
  const lastFinalBefore = finals(messages.slice(0, firstEnd)).pop();
  assert.ok(Math.abs(ends[0].last_word_end - (lastFinalBefore.start + lastFinalBefore.duration)) < 0.01,
    'UtteranceEnd names the end of the last final word before it');
  const metadata = messages[messages.length - 1];
  assert.equal(metadata.sha256, sha256(audio), 'Metadata hashes the audio sent');
  assert.ok(Math.abs(metadata.duration - audio.length / 32000) < 0.5, `duration ${metadata.duration}`);
  assert.equal(metadata.channels, 1);
});

test('live mulaw at 8 kHz (FFmpeg\'s encoder): KeepAlive, Finalize commits at once (from_finalize)', async () => {
  const { connection, messages, closed } = await listen({ encoding: 'mulaw', sample_rate: 8000, language: 'en' });
  connection.sendKeepAlive({ type: 'KeepAlive' });
  await sendAudio(connection, g711(['weather.flac'], 'ulaw', { gapS: 0 }), { bytesPerS: 8000, realTime: false });
  connection.sendFinalize({ type: 'Finalize' });
  for (let i = 0; i < 1200 && !messages.some((m) => m.from_finalize); i += 1) await sleep(100);
  const finalized = messages.find((m) => m.from_finalize);
  assert.ok(finalized && finalized.is_final, 'a final Results with from_finalize');
  const recall = wordRecall(transcriptOf(messages), fixtureText('weather'));
  assert.ok(recall >= 0.6, `recall ${recall} (telephone band): ${transcriptOf(messages)}`);
  connection.sendCloseStream({ type: 'CloseStream' });
  assert.equal((await closed).code, 1000);
  assert.equal(messages[messages.length - 1].type, 'Metadata');
});

test('live Ogg Opus (encoding=opus): the container is decoded by the sidecar', async () => {
  const dest = path.join(tempDir('dg-ogg-'), 'hello.ogg');
  runPython(['import sys; sys.path.insert(0, sys.argv[1])', 'import make_streams as m',
    'm.make_ogg(sys.argv[3:], sys.argv[2])'], [path.join(ROOT, 'tests', 'fixtures'), dest, fixture('weather.flac')]);
  const { connection, messages, closed } = await listen({ encoding: 'opus', language: 'en' });
  await sendAudio(connection, fs.readFileSync(dest), { bytesPerS: 40000, realTime: false });
  connection.sendCloseStream({ type: 'CloseStream' });
  assert.equal((await closed).code, 1000);
  const recall = wordRecall(transcriptOf(messages), fixtureText('weather'));
  assert.ok(recall >= 0.8, `recall ${recall}: ${transcriptOf(messages)}`);
});

test('pre-recorded: the SDK\'s transcribeFile and transcribeUrl get metadata and results.channels', async () => {
  const bytes = fs.readFileSync(fixture('weather.flac'));
  const fromFile = await client.listen.v1.media.transcribeFile(bytes, { model: 'nova-3', language: 'en' });
  const alt = fromFile.results.channels[0].alternatives[0];
  assert.ok(wordRecall(alt.transcript, fixtureText('weather')) >= 0.8, alt.transcript);
  assert.ok(alt.confidence > 0 && alt.confidence <= 1, String(alt.confidence));
  assert.ok(alt.words.length >= 10 && alt.words.every((w) => w.end >= w.start && w.confidence >= 0 && w.punctuated_word));
  assert.equal(fromFile.metadata.sha256, sha256(bytes));
  assert.ok(fromFile.metadata.duration > 6 && fromFile.metadata.duration < 7, String(fromFile.metadata.duration));

  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'audio/flac', 'content-length': bytes.length });
    res.end(bytes);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const fromUrl = await client.listen.v1.media.transcribeUrl({ url: `http://127.0.0.1:${server.address().port}/w.flac`,
      punctuate: false });
    const text = fromUrl.results.channels[0].alternatives[0].transcript;
    assert.ok(wordRecall(text, fixtureText('weather')) >= 0.8, text);
    assert.doesNotMatch(text, /[.,]/, 'punctuate=false');
  } finally {
    server.close();
  }
  await assert.rejects(client.listen.v1.media.transcribeFile(bytes, { diarize: true }),
    (err) => err.statusCode === 400 && /diarize/.test(JSON.stringify(err.body)));
});

test('refused before the upgrade with Deepgram\'s error body; keys as Token, the token subprotocol, 401', async () => {
  const base = `${relay.url.replace('http', 'ws')}/v1/listen`;
  const answer = (query, options) => new Promise((resolve, reject) => {
    const ws = new SdkWebSocket(`${base}?${query}`, options.protocols || [], { headers: options.headers || {} });
    ws.once('open', () => resolve({ open: true, ws }));
    ws.once('error', () => {});
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
    });
    setTimeout(() => reject(new Error('no answer')), 10000).unref();
  });
  const auth = { headers: { Authorization: `Token ${KEY}` } };
  for (const [query, name] of [['diarize=true', 'diarize'], ['encoding=amr-nb&sample_rate=8000', 'encoding'],
    ['encoding=linear16', 'sample_rate'], ['multichannel=true', 'multichannel'], ['sample_rate=99000&encoding=linear16',
      'sample_rate'], ['utterance_end_ms=1000', 'utterance_end_ms']]) {
    const { status, body } = await answer(query, auth);
    assert.equal(status, 400, query);
    assert.match(body.err_msg, new RegExp(`^${name}:`), query);
    assert.ok(body.request_id && body.err_code, query);
  }
  const wrong = await answer('encoding=linear16&sample_rate=16000', { headers: { Authorization: 'Token not-the-key-at-all' } });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.err_code, 'INVALID_AUTH');
  const viaProtocol = await answer('encoding=linear16&sample_rate=16000', { protocols: ['token', KEY] });
  assert.ok(viaProtocol.open, 'the token subprotocol is a key');
  assert.equal(viaProtocol.ws.protocol, 'token', 'the key is not echoed back');
  viaProtocol.ws.send('{"type": "Frobnicate"}');
  const code = await new Promise((resolve) => viaProtocol.ws.once('close', resolve));
  assert.equal(code, 1008, 'an unknown control message closes with 1008 and says why');
});
