'use strict';

/**
 * The official `openai` Python package (from the project's .venv, the `test` extra) against the
 * relay and the real sidecar: client.audio.transcriptions.create(..., stream=True) and
 * client.models.list()/retrieve(), run by tests/relay/openai_client.py.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const { startSidecar, startRelay, fixture } = require('./helpers');
const { PYTHON, longFixture } = require('./openai-helpers');
const { wordErrorRate } = require('../../bench/wer');

let sidecar;
let relay;

before(async () => {
  sidecar = await startSidecar();
  relay = await startRelay({ sidecar });
});

after(async () => {
  if (relay) await relay.close();
  if (sidecar) await sidecar.stop();
});

test('the Python SDK streams a transcription and lists the models', async (t) => {
  const long = longFixture();
  const { stdout } = await promisify(execFile)(PYTHON,
    [path.join(__dirname, 'openai_client.py'), `${relay.url}/v1`, long.path, fixture('weather.flac')], { timeout: 300000 });
  const out = JSON.parse(stdout);
  const deltas = out.events.filter((e) => e.type === 'transcript.text.delta');
  const done = out.events[out.events.length - 1];
  assert.equal(done.type, 'transcript.text.done');
  assert.equal(done.class, 'TranscriptionTextDoneEvent', 'the SDK parsed it into its own type');
  assert.ok(deltas.length >= 3 && deltas.every((d) => d.class === 'TranscriptionTextDeltaEvent'));
  assert.ok(wordErrorRate(long.text, done.text) <= 0.15, done.text);
  assert.equal(deltas.map((d) => d.delta).join(''), done.text);
  assert.deepEqual(done.usage, { type: 'duration', seconds: Math.ceil(long.duration) }, 'the SDK keeps usage');
  assert.deepEqual(out.json.usage, { type: 'duration', seconds: Math.ceil(long.duration) });
  const margin = done.at - deltas[0].at;
  t.diagnostic(`python ${out.openai_version}: first delta ${deltas[0].at.toFixed(2)} s, done ${done.at.toFixed(2)} s`);
  assert.ok(margin >= 0.5, `first delta at ${deltas[0].at.toFixed(2)} s, done at ${done.at.toFixed(2)} s`);

  // include=["logprobs"]: the SDK keeps them, on json and on each delta; tokens spell the text
  const spells = (logprobs, text) => {
    assert.ok(logprobs.length > 0);
    assert.equal(logprobs.map((l) => l.token).join('').trim(), text.trim());
    assert.ok(logprobs.every((l) => Number.isFinite(l.logprob) && l.logprob <= 0
      && Buffer.from(l.bytes).toString('utf8') === l.token), JSON.stringify(logprobs));
  };
  spells(out.logprobs.logprobs, out.logprobs.text);
  const lpDeltas = out.logprobs_events.filter((e) => e.type === 'transcript.text.delta');
  assert.ok(lpDeltas.length > 0);
  for (const d of lpDeltas) spells(d.logprobs, d.delta);
  assert.equal(out.logprobs_events.at(-1).type, 'transcript.text.done');

  const ids = out.models.map((m) => m.id);
  assert.ok(ids.includes('whisper-1') && ids.includes('base'), ids.join());
  assert.ok(out.models.every((m) => m.object === 'model' && Number.isInteger(m.created) && m.owned_by));
  assert.equal(out.retrieved.id, 'whisper-1');
  assert.deepEqual(out.missing, { status: 404, code: 'model_not_found', type: 'invalid_request_error', class: 'NotFoundError' });
});
