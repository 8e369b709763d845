'use strict';

/**
 * Realtime latency through the relay (issue 12): a long recording (the fixtures, repeated, with
 * pauses between them) fed at real time in 100 ms appends to /v1/realtime?intent=transcription:
 *   - speech end → `.completed`: from the moment the audio at speech_stopped.audio_end_ms was sent
 *     (t0 + audio_end_ms, since audio goes out at the pace it plays) to the item's completed event;
 *   - speech_stopped → completed, and speech start → first partial or delta;
 *   - partial cadence: the time between two transcription.partial events of one turn.
 * And for a file with `stream=true` on /v1/audio/transcriptions: time to the first
 * transcript.text.delta and to transcript.text.done.
 *
 *   node bench/realtime.js [--repeat N (times the fixtures play, default 3)] [--files N (stream=true runs, default 3)]
 *
 * Prints markdown; writes bench/results/realtime.json (with the load average at start and end).
 */

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const childProcess = require('node:child_process');
const { WhisperSidecar, findPythonSync } = require('../node_bridge');
const { buildRelay } = require('../relay/app');
const { loadConfig } = require('../relay/config');
const { wordRecall } = require('./wer');

const WebSocket = require(require.resolve('ws', { paths: [path.dirname(require.resolve('@fastify/websocket'))] }));

const ROOT = path.resolve(__dirname, '..');
const AUDIO = path.join(ROOT, 'tests', 'fixtures', 'audio');
const FIXTURES = ['story', 'hello', 'numbers', 'weather'];
const RATE = 24000;
const CHUNK = RATE * 2 / 10; // 100 ms of PCM16

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** The fixtures `repeat` times with 2 s pauses, PCM16 mono 24 kHz (tests/fixtures/make_streams.concat_audio). */
function recording(repeat) {
  const python = findPythonSync({ projectRoot: ROOT });
  const files = Array.from({ length: repeat }, () => FIXTURES.map((n) => path.join(AUDIO, `${n}.flac`))).flat();
  const code = 'import sys; sys.path.insert(0, sys.argv[1]); import numpy as np, make_streams as m; '
    + 'a = np.concatenate([m.concat_audio(sys.argv[2:], gap_s=2.0, rate=24000), np.zeros(48000, np.float32)]); '
    + 'sys.stdout.buffer.write((np.clip(a, -1, 1) * 32767).astype("<i2").tobytes())';
  return childProcess.execFileSync(python.command, [...python.args, '-c', code, path.join(ROOT, 'tests', 'fixtures'), ...files],
    { maxBuffer: 1024 * 1024 * 1024 });
}

function quantile(values, q) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (pos - lo);
}

const fmt = (ms) => (ms === null ? '–' : `${Math.round(ms)}`);

async function realtimeRun(url, pcm) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/realtime?intent=transcription`);
  const events = [];
  ws.on('message', (data) => events.push({ ...JSON.parse(data), at: performance.now() }));
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  ws.send(JSON.stringify({ type: 'session.update', session: { type: 'transcription', audio: { input: {
    transcription: { model: 'whisper-1', language: 'en' }, turn_detection: { type: 'server_vad', silence_duration_ms: 500 } } } } }));
  const t0 = performance.now();
  for (let offset = 0, i = 0; offset < pcm.length; offset += CHUNK, i += 1) {
    ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: pcm.subarray(offset, offset + CHUNK).toString('base64') }));
    const due = t0 + (i + 1) * 100;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
  }
  const stopped = events.filter((e) => e.type === 'input_audio_buffer.speech_stopped').length;
  const deadline = performance.now() + 60000;
  while (events.filter((e) => e.type.endsWith('transcription.completed')).length < stopped && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  ws.close();
  return { t0, events, audioS: pcm.length / (RATE * 2) };
}

function realtimeFigures({ t0, events }) {
  const of = (type) => events.filter((e) => e.type === type);
  const endToCompleted = [];
  const stoppedToCompleted = [];
  const startToFirstText = [];
  const cadence = [];
  for (const done of of('conversation.item.input_audio_transcription.completed')) {
    const stop = of('input_audio_buffer.speech_stopped').find((e) => e.item_id === done.item_id);
    const start = of('input_audio_buffer.speech_started').find((e) => e.item_id === done.item_id);
    if (stop) {
      endToCompleted.push(done.at - (t0 + stop.audio_end_ms));
      stoppedToCompleted.push(done.at - stop.at);
    }
    const texts = events.filter((e) => e.item_id === done.item_id
      && (e.type === 'transcription.partial' || e.type.endsWith('transcription.delta')));
    if (start && texts.length) startToFirstText.push(texts[0].at - (t0 + start.audio_start_ms));
    const partials = texts.filter((e) => e.type === 'transcription.partial');
    for (let i = 1; i < partials.length; i += 1) cadence.push(partials[i].at - partials[i - 1].at);
  }
  const transcript = of('conversation.item.input_audio_transcription.completed').map((e) => e.transcript).join(' ');
  return { endToCompleted, stoppedToCompleted, startToFirstText, cadence, transcript,
    turns: of('conversation.item.input_audio_transcription.completed').length,
    partials: of('transcription.partial').length, errors: of('error').map((e) => e.error.code) };
}

async function streamFile(url, file) {
  const form = new FormData();
  form.append('model', 'whisper-1');
  form.append('language', 'en');
  form.append('stream', 'true');
  form.append('file', new Blob([fs.readFileSync(file)]), path.basename(file));
  const t0 = performance.now();
  const response = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: form });
  if (response.status !== 200) throw new Error(`stream=true answered ${response.status}: ${await response.text()}`);
  let first = null;
  let buffer = '';
  for await (const chunk of response.body) {
    buffer += Buffer.from(chunk).toString('utf8');
    if (first === null && buffer.includes('transcript.text.delta')) first = performance.now() - t0;
  }
  return { firstDeltaMs: first, doneMs: performance.now() - t0 };
}

async function main() {
  const repeat = option('--repeat', 3);
  const files = option('--files', 3);
  const loadStart = os.loadavg();
  const sidecar = new WhisperSidecar({ projectRoot: ROOT, logger: null });
  await sidecar.start();
  const config = loadConfig({}, { port: 0, host: '127.0.0.1', logLevel: 'silent',
    dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'bench-realtime-')) });
  const app = buildRelay({ config, sidecar, logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${app.server.address().port}`;
  try {
    await sidecar.loadModel({}); // warm: the first stream should not pay the model load
    const pcm = recording(repeat);
    console.error(`[bench] realtime: ${(pcm.length / (RATE * 2)).toFixed(1)} s of audio at real time…`);
    const run = await realtimeRun(url, pcm);
    const fig = realtimeFigures(run);
    const reference = Array.from({ length: repeat }, () => FIXTURES.map((n) => fs.readFileSync(path.join(AUDIO, `${n}.txt`), 'utf8'))).flat().join(' ');
    const recall = wordRecall(reference, fig.transcript);
    const streams = [];
    for (let i = 0; i < files; i += 1) streams.push(await streamFile(url, path.join(AUDIO, 'story.flac')));
    const loadEnd = os.loadavg();
    const row = (label, values) => `| ${label} | ${values.length} | ${fmt(quantile(values, 0.5))} | ${fmt(quantile(values, 0.9))} | ${fmt(values.length ? Math.max(...values) : null)} |`;
    const lines = [
      `Realtime: ${run.audioS.toFixed(1)} s of audio (the four fixtures ×${repeat}, 2 s pauses) at real time in 100 ms appends; `
        + `${fig.turns} turns, ${fig.partials} partials, word recall ${recall.toFixed(2)}, errors: ${fig.errors.join(', ') || 'none'}. `
        + `Load average ${loadStart[0].toFixed(2)} at start, ${loadEnd[0].toFixed(2)} at end; ${os.cpus().length} cores (${os.cpus()[0].model}).`,
      '',
      '| measure (ms) | n | p50 | p90 | max |',
      '| --- | --- | --- | --- | --- |',
      row('speech end → `.completed`', fig.endToCompleted),
      row('`speech_stopped` → `.completed`', fig.stoppedToCompleted),
      row('speech start → first partial or delta', fig.startToFirstText),
      row('partial cadence (between two partials of a turn)', fig.cadence),
      row('`stream=true`, story.flac (16.3 s): first `transcript.text.delta`', streams.map((s) => s.firstDeltaMs)),
      row('`stream=true`, story.flac: `transcript.text.done`', streams.map((s) => s.doneMs)),
    ];
    console.log(lines.join('\n'));
    const out = path.join(__dirname, 'results');
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'realtime.json'), JSON.stringify({
      when: new Date().toISOString(), loadStart, loadEnd, cores: os.cpus().length, cpu: os.cpus()[0].model,
      audioS: run.audioS, recall, ...fig, streams,
    }, null, 2));
  } finally {
    await app.close();
    await sidecar.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
