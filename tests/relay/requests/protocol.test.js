'use strict';

// The relay's option checks and error mapping against the sidecar's protocol files (sidecar/protocol/).
// Read here straight from the JSON, not through relay/requests/sidecar-schema.js, so a reader bug cannot hide drift.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { parseOptions } = require('../../../relay/requests/options');
const { describeSidecarError, statusForJobError } = require('../../../relay/errors');

const PROTOCOL = path.join(__dirname, '..', '..', '..', 'sidecar', 'protocol');
const read = (relative) => JSON.parse(fs.readFileSync(path.join(PROTOCOL, relative), 'utf8'));
const common = read('common.json').$defs;
const transcribe = read('methods/transcribe.json').$defs.params.properties;
const errors = read('errors.json');

/** A transcribe param's schema with its one-level $ref into common.json followed. */
function schemaOf(name) {
  const { $ref, ...rest } = transcribe[name];
  return $ref ? { ...common[$ref.split('/').pop()], ...rest } : rest;
}

function refused(options) {
  try {
    parseOptions(options);
    return null;
  } catch (err) {
    return err;
  }
}

test('every relay option is a transcribe param of the sidecar, but the live-only ones (the relay\'s own)', () => {
  const { OPTION_NAMES, LIVE_ONLY } = require('../../../relay/requests/options');
  for (const name of OPTION_NAMES) {
    if (LIVE_ONLY.includes(name)) assert.equal(transcribe[name], undefined, `${name} is live-only but in methods/transcribe.json`);
    else assert.ok(transcribe[name], `${name} is not in methods/transcribe.json`);
  }
});

test('text limits are the sidecar\'s (initial_prompt 4096 once drifted to 4000); a model name is the relay\'s stricter rule', () => {
  const { maxLength } = schemaOf('initial_prompt');
  assert.ok(Number.isInteger(maxLength));
  assert.equal(parseOptions({ initial_prompt: 'x'.repeat(maxLength) }).initial_prompt.length, maxLength);
  const err = refused({ initial_prompt: 'x'.repeat(maxLength + 1) });
  assert.equal(err && err.code, 'invalid_option');
  assert.equal(err.details.param, 'initial_prompt');
  // The relay takes names only (issue 19: no paths, no disk oracle), shorter than the sidecar's limit.
  const modelMax = schemaOf('model').maxLength;
  assert.equal(parseOptions({ model: 'x'.repeat(96) }).model.length, 96);
  assert.ok(96 < modelMax);
  assert.equal(refused({ model: 'x'.repeat(97) }).details.param, 'model');
  assert.equal(refused({ model: 'x'.repeat(modelMax + 1) }).details.param, 'model');
});

test('a language code longer than the sidecar takes is refused by the relay', () => {
  const { maxLength } = schemaOf('language');
  const long = `en-${'x'.repeat(maxLength)}`;
  assert.equal(refused({ language: long }).code, 'invalid_option');
  // a region is read as its language (the sidecar knows 'en', not 'en-us')
  assert.equal(parseOptions({ language: 'en-US' }).language, 'en');
});

test('ranges and enums are the sidecar\'s', () => {
  for (const name of ['beam_size', 'batch_size']) {
    const { minimum, maximum } = schemaOf(name);
    assert.equal(parseOptions({ [name]: minimum })[name], minimum);
    assert.equal(parseOptions({ [name]: String(maximum) })[name], maximum);
    assert.equal(refused({ [name]: minimum - 1 }).code, 'invalid_option', name);
    assert.equal(refused({ [name]: maximum + 1 }).code, 'invalid_option', name);
  }
  for (const name of ['task', 'device']) {
    const allowed = schemaOf(name).enum.filter((v) => v !== null);
    for (const value of allowed) assert.equal(parseOptions({ [name]: value })[name], value);
    assert.equal(refused({ [name]: 'not-one-of-them' }).code, 'invalid_option', name);
  }
});

test('every data.kind the sidecar sends gets the HTTP status errors.json gives it', () => {
  for (const [kind, { code, http_status: status }] of Object.entries(errors.kinds)) {
    assert.equal(statusForJobError(kind), status, kind);
    assert.equal(describeSidecarError({ code, kind, message: 'm' }).statusCode, status, kind);
  }
  // the sidecar sends not_a_file (a directory); it was a 502 while the relay listed kinds it never sends
  assert.equal(describeSidecarError({ code: -32002, kind: 'not_a_file', message: 'm' }).statusCode, 400);
  for (const kind of ['empty_file', 'unknown_language', 'is_directory']) {
    assert.ok(!errors.kinds[kind], `${kind} is not a kind the sidecar sends`);
    assert.equal(statusForJobError(kind), 502, kind);
  }
});

test('the caller\'s-fault kinds are the 4xx ones, and the rest are not', () => {
  for (const [kind, { client, http_status: status }] of Object.entries(errors.kinds)) {
    if (client) assert.ok(status >= 400 && status < 500, kind);
    else assert.ok(status === 409 || status >= 500, kind);
  }
});

test('the realtime silence_duration_ms range is stream_open\'s silence_ms', () => {
  const { readSessionUpdate, DEFAULT_SETTINGS } = require('../../../relay/realtime/protocol');
  const { minimum, maximum } = read('methods/stream_open.json').$defs.params.properties.silence_ms;
  const update = (ms) => readSessionUpdate({ type: 'transcription_session.update',
    session: { turn_detection: { type: 'server_vad', silence_duration_ms: ms } } }, DEFAULT_SETTINGS);
  assert.equal(update(minimum).settings.turnDetection.silence_duration_ms, minimum);
  assert.equal(update(maximum).settings.turnDetection.silence_duration_ms, maximum);
  assert.throws(() => update(minimum - 1), /silence_duration_ms|100/);
  assert.throws(() => update(maximum + 1));
});
