'use strict';

// A live stream on the real sidecar emits 'speech' (started, stopped, committed) on the stream and
// on the sidecar object; `committed` comes after every final of its turn (ids < next_id). With
// vad: false there are no started/stopped events, and reset() commits the turn.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const path = require('node:path');
const { WhisperSidecar, SidecarStream, findPythonSync } = require('../../node_bridge');

const ROOT = path.resolve(__dirname, '..', '..');

/** weather.flac, 1.5 s of silence, as PCM16 mono 16 kHz (decoded by the project's Python + PyAV). */
function pcm16k() {
  const python = findPythonSync({ projectRoot: ROOT });
  const code = 'import sys; sys.path.insert(0, sys.argv[1]); import numpy as np, make_streams as m; '
    + 'a = np.concatenate([m.concat_audio([sys.argv[2]], rate=16000), np.zeros(24000, np.float32)]); '
    + 'sys.stdout.buffer.write((np.clip(a, -1, 1) * 32767).astype("<i2").tobytes())';
  return childProcess.execFileSync(python.command, [...python.args, '-c', code, path.join(ROOT, 'tests', 'fixtures'),
    path.join(ROOT, 'tests', 'fixtures', 'audio', 'weather.flac')], { maxBuffer: 64 * 1024 * 1024 });
}

let sidecar;
let pcm;

before(async () => {
  pcm = pcm16k();
  sidecar = new WhisperSidecar({ projectRoot: ROOT, forceCpu: true, logger: null });
  await sidecar.start();
});

after(async () => {
  if (sidecar) await sidecar.stop();
});

/** Writes pcm in 100 ms pieces, then waits until `until` is true for the log of [kind, payload]. */
async function feed(stream, log, until, ms = 120000) {
  for (let i = 0; i < pcm.length; i += 3200) await stream.write(pcm.subarray(i, i + 3200));
  await waitUntil(log, until, ms);
}

async function waitUntil(log, until, ms = 120000) {
  const end = Date.now() + ms;
  while (!until(log)) {
    if (Date.now() > end) throw new Error(`timed out: ${JSON.stringify(log.map(([k, p]) => [k, p.event || p.id]))}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('with VAD: started, then stopped, then committed after the turn\'s finals', async () => {
  const log = [];
  const onSidecar = (body) => log.push(['sidecar-speech', body]);
  sidecar.on('speech', onSidecar);
  const stream = await sidecar.openStream({ format: 'pcm_s16le', sample_rate: 16000, language: 'en', silence_ms: 500 },
    { onSpeech: (s) => log.push(['speech', s]), onSegment: (seg) => log.push(['segment', seg]) });
  assert.ok(stream instanceof SidecarStream);
  await feed(stream, log, (l) => l.some(([k, p]) => k === 'speech' && p.event === 'committed'));
  sidecar.off('speech', onSidecar);
  const speech = log.filter(([k]) => k === 'speech').map(([, p]) => p);
  assert.deepEqual(speech.map((s) => s.event).slice(0, 3), ['started', 'stopped', 'committed']);
  assert.ok(speech.every((s) => s.stream_id === stream.id && typeof s.time === 'number'));
  assert.ok(speech[0].time < 0.5 && speech[1].time > 5, `started ${speech[0].time}, stopped ${speech[1].time}`);
  const committedAt = log.findIndex(([k, p]) => k === 'speech' && p.event === 'committed');
  const finals = log.filter(([k, p], i) => k === 'segment' && p.final && i < committedAt).map(([, p]) => p);
  assert.ok(finals.length >= 1 && finals.every((f) => f.id < speech[2].next_id), 'finals before committed');
  assert.match(finals.map((f) => f.text).join(''), /sunny/i);
  assert.equal(log.filter(([k]) => k === 'sidecar-speech').length, speech.length, 'the sidecar object emits them too');
  await stream.close();
});

test('without VAD: no started/stopped; reset() commits the turn', async () => {
  const log = [];
  const stream = await sidecar.openStream({ format: 'pcm_s16le', sample_rate: 16000, language: 'en', vad: false },
    { onSpeech: (s) => log.push(['speech', s]), onSegment: (seg) => log.push(['segment', seg]) });
  for (let i = 0; i < pcm.length; i += 3200) await stream.write(pcm.subarray(i, i + 3200));
  await stream.reset();
  await waitUntil(log, (l) => l.some(([k, p]) => k === 'speech' && p.event === 'committed'));
  const speech = log.filter(([k]) => k === 'speech').map(([, p]) => p.event);
  assert.ok(!speech.includes('started') && !speech.includes('stopped'), speech.join());
  assert.match(log.filter(([k, p]) => k === 'segment' && p.final).map(([, p]) => p.text).join(''), /rain/i);
  await stream.abort();
});
