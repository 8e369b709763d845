'use strict';

/**
 * MAX_AUDIO_S through the relay (issue 19, finding 1): the real sidecar refuses a file longer than the
 * operator's limit from its header, and the relay's job fails once with that error (the caller's: a
 * 400 on the OpenAI route), never retried; a file under the limit still transcribes.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { fixture, tempDir, startSidecar, startRelay, uploadFile, followJob, getJson } = require('./helpers');

const MAX_AUDIO_S = 60;

let sidecar;
let relay;
let long;

/** A 16 kHz mono 16-bit WAV of `seconds` of silence. */
function silentWav(file, seconds) {
  const data = 16000 * 2 * seconds;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(16000, 24);
  header.writeUInt32LE(32000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data, 40);
  fs.writeFileSync(file, Buffer.concat([header, Buffer.alloc(data)]));
  return file;
}

before(async () => {
  sidecar = await startSidecar({ env: { MAX_AUDIO_S: String(MAX_AUDIO_S) } });
  relay = await startRelay({ sidecar });
  long = silentWav(path.join(tempDir('audio-limit-'), 'two-minutes.wav'), 120);
});

after(async () => {
  if (relay) await relay.close();
  if (sidecar) await sidecar.stop();
});

test('a file over MAX_AUDIO_S fails its job once with audio_too_long, naming the duration and the limit', async () => {
  const { status, body } = await uploadFile(relay.url, long);
  assert.equal(status, 202);
  const { events, final } = await followJob(relay.url, body.id);
  assert.equal(final.event, 'error');
  assert.equal(final.data.error.code, 'audio_too_long');
  assert.match(final.data.error.message, /The audio is 120 s long by its header; .* at most 60 s .*MAX_AUDIO_S/);
  assert.equal(events.filter((e) => e.event === 'segment').length, 0);
  const job = (await getJson(relay.url, `/api/transcriptions/${body.id}`)).body;
  assert.equal(job.state, 'error');
  assert.equal(job.attempts, 1, 'a caller error is not retried');
});

test('the OpenAI route answers 400 with the message; a file under the limit transcribes', async () => {
  const refused = await uploadFile(relay.url, long, { model: 'whisper-1' }, '/v1/audio/transcriptions');
  assert.equal(refused.status, 400);
  assert.match(refused.body.error.message, /MAX_AUDIO_S/);
  const ok = await uploadFile(relay.url, fixture('hello.flac'), { model: 'whisper-1' }, '/v1/audio/transcriptions');
  assert.equal(ok.status, 200);
  assert.match(ok.body.text.toLowerCase(), /speech recognition/);
});
