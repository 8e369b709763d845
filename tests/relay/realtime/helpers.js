'use strict';

/**
 * Pieces of the realtime tests: fixtures as 24 kHz PCM16, a TLS front for the relay (the openai
 * SDK's realtime client always dials wss://), the SDK client pointed at it, and an event recorder.
 */

const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const { EventEmitter } = require('node:events');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const tls = require('node:tls');
const OpenAI = require('openai');
const { OpenAIRealtimeWS } = require('openai/realtime/ws');
const { findPythonSync } = require('../../../node_bridge');
const { ROOT, AUDIO, tempDir, startSidecar, startRelay } = require('../helpers');

/** The `ws` WebSocket class the SDK's realtime client uses (for the raw frames the SDK cannot send). */
const SdkWebSocket = require(require.resolve('ws', { paths: [path.dirname(require.resolve('openai'))] }));

const RATE = 24000;
const BYTES_PER_100MS = RATE * 2 / 10;

/**
 * The fixtures (names in tests/fixtures/audio) joined with gapS of silence at `rate`, mono: PCM16, or
 * encoded by PyAV's (FFmpeg's) encoder `codec` (pcm_mulaw, pcm_alaw).
 */
function fixtureAudio(names, { gapS, rate, codec = 'pcm' }) {
  return runPython([
    'import sys; sys.path.insert(0, sys.argv[1])',
    'import numpy as np, av, make_streams as m',
    'rate = int(sys.argv[3])',
    'pcm = (np.clip(m.concat_audio(sys.argv[5:], gap_s=float(sys.argv[2]), rate=rate), -1, 1) * 32767).astype("<i2")',
    'if sys.argv[4] == "pcm": sys.stdout.buffer.write(pcm.tobytes()); sys.exit(0)',
    'codec = av.CodecContext.create(sys.argv[4], "w")',
    'codec.sample_rate, codec.format, codec.layout = rate, "s16", "mono"',
    'frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono"); frame.sample_rate = rate',
    'sys.stdout.buffer.write(b"".join(bytes(p) for p in [*codec.encode(frame), *codec.encode(None)]))',
  ], [path.join(ROOT, 'tests', 'fixtures'), String(gapS), String(rate), codec, ...names.map((n) => path.join(AUDIO, n))]);
}

/** Runs Python `lines` (the project's Python: numpy, av) with `args`; returns its stdout as a Buffer. */
function runPython(lines, args = []) {
  const python = findPythonSync({ projectRoot: ROOT });
  return childProcess.execFileSync(python.command, [...python.args, '-c', lines.join('\n'), ...args],
    { maxBuffer: 512 * 1024 * 1024 });
}

/** The fixtures joined with gapS of silence, as PCM16 mono 24 kHz (or `rate`). */
function pcm24k(names, { gapS = 1.0, rate = RATE } = {}) {
  return fixtureAudio(names, { gapS, rate });
}

/** The same as G.711 at 8 kHz (`law`: 'ulaw' | 'alaw'), from FFmpeg's encoder: not the relay's decoder's twin. */
function g711(names, law, { gapS = 1.0 } = {}) {
  return fixtureAudio(names, { gapS, rate: 8000, codec: law === 'ulaw' ? 'pcm_mulaw' : 'pcm_alaw' });
}

/** A WAV of the fixtures (make_streams.make_wav) at `rate` Hz, for Chromium's fake microphone. */
function wav(names, rate, dest) {
  const python = findPythonSync({ projectRoot: ROOT });
  const code = 'import sys; sys.path.insert(0, sys.argv[1]); import make_streams as m; '
    + 'm.make_wav(sys.argv[4:], sys.argv[2], int(sys.argv[3]))';
  childProcess.execFileSync(python.command, [...python.args, '-c', code, path.join(ROOT, 'tests', 'fixtures'),
    dest, String(rate), ...names.map((n) => path.join(AUDIO, n))]);
  return dest;
}

/** A self-signed certificate for 127.0.0.1 (openssl), {key, cert} as PEM strings. */
function selfSigned() {
  const dir = tempDir('realtime-tls-');
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  childProcess.execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(certFile, 'utf8') };
}

/**
 * TLS in front of the relay's port (127.0.0.1, a random port): bytes piped both ways.
 * Returns {baseURL (https://…/v1), ca, close()}.
 */
async function tlsFront(relayUrl) {
  const { key, cert } = selfSigned();
  const target = new URL(relayUrl);
  const sockets = new Set();
  const server = tls.createServer({ key, cert }, (front) => {
    const back = net.connect(Number(target.port), target.hostname);
    for (const s of [front, back]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { front.destroy(); back.destroy(); });
    }
    front.pipe(back).pipe(front);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseURL: `https://127.0.0.1:${server.address().port}/v1`,
    ca: cert,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * The official SDK's realtime WebSocket client, connected. `headers` go on the upgrade (e.g.
 * OpenAI-Beta: realtime=v1 for the beta shapes). Returns {rt, events, waitFor(pred, ms), close()}.
 */
async function connect(front, { apiKey = 'sk-none', headers = {}, model = 'whisper-1' } = {}) {
  const client = new OpenAI({ apiKey, baseURL: front.baseURL });
  const rt = new OpenAIRealtimeWS({ model, options: { ca: front.ca, headers } }, client);
  const recorder = record(rt);
  rt.on('error', (err) => recorder.errors.push(err));
  await new Promise((resolve, reject) => {
    rt.socket.once('open', resolve);
    rt.socket.once('error', reject);
    rt.socket.once('unexpected-response', (req, res) => {
      req.destroy();
      reject(new Error(`upgrade answered ${res.statusCode}`));
    });
  });
  return recorder;
}

/**
 * A plain `ws` socket on `url` (the SDK cannot add ?resume=), recorded like connect()'s: resolves
 * once the upgrade is answered, {rt: {socket, send, close}, events, waitFor, closed}.
 */
async function connectWs(url, { headers = {}, protocols = [] } = {}) {
  const socket = new SdkWebSocket(url, protocols, { headers });
  const emitter = new EventEmitter();
  socket.on('message', (data) => emitter.emit('event', JSON.parse(data)));
  const rt = { socket, on: (name, fn) => emitter.on(name, fn), send: (event) => socket.send(JSON.stringify(event)),
    close: () => socket.close(1000) };
  const recorder = record(rt);
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
    socket.once('unexpected-response', (req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
  });
  return recorder;
}

/** Every event the client gets, with the time it came (ms since the recorder started). */
function record(rt) {
  const t0 = performance.now();
  const events = [];
  const waiters = new Set();
  const closed = new Promise((resolve) => rt.socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  rt.on('event', (event) => {
    events.push({ ...event, at: performance.now() - t0 });
    for (const w of [...waiters]) w();
  });
  function waitFor(predicate, ms = 60000, label = 'an event') {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = events.find(predicate);
        if (!hit) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        const seen = events.map((e) => (e.type === 'error' ? `error(${e.error.code}: ${e.error.message})` : e.type));
        reject(new Error(`no ${label} in ${ms} ms; got ${seen.join(', ')}`));
      }, ms);
      waiters.add(check);
      check();
    });
  }
  return { rt, events, errors: [], waitFor, closed, close: () => rt.close() };
}

/**
 * Sends `pcm` in 100 ms appends; with realTime, at the pace it plays (`bytesPerS`: 8000 for G.711).
 * The sidecar's VAD ends turns inside audio that comes at real time; audio sent faster is heard as
 * one stretch up to its last pause.
 */
async function sendPcm(rt, pcm, { realTime = false, bytesPerS = RATE * 2, chunkBytes = bytesPerS / 10,
  onChunk = () => {} } = {}) {
  const t0 = performance.now();
  for (let offset = 0, i = 0; offset < pcm.length; offset += chunkBytes, i += 1) {
    rt.send({ type: 'input_audio_buffer.append', audio: pcm.subarray(offset, offset + chunkBytes).toString('base64') });
    onChunk(offset + chunkBytes);
    if (realTime) {
      const due = t0 + ((i + 1) * chunkBytes * 1000) / bytesPerS;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
    } else if (i % 20 === 19) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

/** Silence, as PCM16 24 kHz. */
function silence(seconds) {
  return Buffer.alloc(Math.round(seconds * RATE) * 2);
}

const TYPES = {
  started: 'input_audio_buffer.speech_started',
  stopped: 'input_audio_buffer.speech_stopped',
  committed: 'input_audio_buffer.committed',
  delta: 'conversation.item.input_audio_transcription.delta',
  completed: 'conversation.item.input_audio_transcription.completed',
  failed: 'conversation.item.input_audio_transcription.failed',
  timeout: 'input_audio_buffer.timeout_triggered',
};

const byType = (events, type) => events.filter((e) => e.type === type);

/**
 * Per item: its deltas joined equal its completed transcript, each committed item names the one
 * committed before it, every event has an event_id. Returns the transcripts in order.
 */
function checkItems(events) {
  const completed = byType(events, TYPES.completed);
  for (const done of completed) {
    const deltas = byType(events, TYPES.delta).filter((d) => d.item_id === done.item_id).map((d) => d.delta).join('');
    assert.equal(deltas, done.transcript, `item ${done.item_id}: deltas join to the transcript`);
    assert.equal(done.content_index, 0);
    assert.equal(done.usage.type, 'duration');
  }
  let previous = null;
  for (const committed of byType(events, TYPES.committed)) {
    assert.equal(committed.previous_item_id, previous, `${committed.item_id} follows ${previous}`);
    previous = committed.item_id;
  }
  for (const e of events) assert.match(e.event_id, /^event_/, `${e.type} has an event_id`);
  return completed.map((c) => c.transcript);
}

/**
 * A sidecar, a relay on it (`config` overrides) and the TLS front the SDK needs.
 * Returns {sidecar, relay, front, close()}.
 */
async function startStack({ config = {} } = {}) {
  const sidecar = await startSidecar();
  const relay = await startRelay({ sidecar, config });
  const front = await tlsFront(relay.url);
  return { sidecar, relay, front, close: async () => {
    await front.close();
    await relay.close();
    await sidecar.stop();
  } };
}

/** G.711 silence (8 kHz): the code of 0 in `law`. */
function g711Silence(seconds, law) {
  return Buffer.alloc(Math.round(seconds * 8000), law === 'ulaw' ? 0xff : 0xd5);
}

module.exports = {
  SdkWebSocket, RATE, BYTES_PER_100MS, TYPES, byType, checkItems, startStack, runPython, pcm24k, g711, g711Silence, wav, tlsFront, connect, connectWs, record,
  sendPcm, silence,
};
