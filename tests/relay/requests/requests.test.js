'use strict';

/**
 * relay/requests/ without a sidecar: options coerced and refused, the models /v1/models lists and
 * vetModel takes, one language list, OpenAI's hosted model names.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { parseOptions } = require('../../../relay/requests/options');
const { listModels, vetModel, sidecarModel } = require('../../../relay/requests/models');
const { languageCode } = require('../../../relay/requests/languages');

test('options: coerced from form strings, wrong ones named', () => {
  assert.deepEqual(parseOptions({ language: 'EN', beam_size: '5', vad_filter: 'true', word_timestamps: false, task: '' }),
    { language: 'en', beam_size: 5, vad_filter: true, word_timestamps: false });
  assert.deepEqual(parseOptions({ language: 'auto' }), {});
  for (const [input, param] of [[{ beam_size: 0 }, 'beam_size'], [{ language: 'english!' }, 'language'],
    [{ task: 'summarize' }, 'task'], [{ vad_filter: 'maybe' }, 'vad_filter'], [{ device: 'tpu' }, 'device']]) {
    assert.throws(() => parseOptions(input), (err) => err.statusCode === 400 && err.details.param === param);
  }
  assert.throws(() => parseOptions({ temperature: 1 }), (err) => err.code === 'unknown_option');
});

test('/v1/models never lists a model folder; vetModel takes listed and configured names only', async () => {
  // list_models as the sidecar answers it with WHISPER_MODEL set to a folder: no default named.
  const sidecar = { listModels: async () => ({ default_model: null, known: ['tiny'],
    models: [{ name: 'base', repo: null, source: 'embedded', created: 5 }] }) };
  const models = await listModels({ sidecar });
  assert.deepEqual(models.map((m) => m.id), ['whisper-1', 'base']);
  assert.deepEqual(models.map((m) => m.created), [5, 5]);
  const dead = { listModels: async () => { throw new Error('the sidecar exited'); } };
  assert.deepEqual((await listModels({ sidecar: dead })).map((m) => [m.id, m.created]), [['whisper-1', 0], ['base', 0]]);
  await vetModel('base', { sidecar });
  await vetModel(undefined, { sidecar });
  await vetModel('tiny', { sidecar, allowed: ['tiny'] });
  await assert.rejects(vetModel('/srv/models/private-ct2', { sidecar }), (err) => err.statusCode === 400
    && err.code === 'model_not_found');
});

test('languages: one list (relay/requests/languages.js) for every entry point, a region read as its language', () => {
  assert.equal(languageCode('EN'), 'en');
  assert.equal(languageCode('pt-BR'), 'pt');
  assert.equal(languageCode('yue'), 'yue');
  for (const unknown of ['xx', 'klingon', 'en-!!', 'en_US', '', 'auto', undefined, 42]) assert.equal(languageCode(unknown), null, unknown);
  assert.deepEqual(parseOptions({ language: 'de-AT' }), { language: 'de' });
  for (const language of ['xx', 'zz-ZZ']) {
    assert.throws(() => parseOptions({ language }), (err) => err.statusCode === 400 && err.details.param === 'language');
  }
  assert.throws(() => parseOptions({ initial_prompt: 'a\u0000b' }), (err) => err.details.param === 'initial_prompt');
});

test('OpenAI\'s hosted model names run on the sidecar\'s default model, on every entry point (one list)', () => {
  for (const hosted of ['whisper-1', 'gpt-4o-transcribe', 'gpt-4o-mini-transcribe', undefined, '']) {
    assert.equal(sidecarModel(hosted), undefined, hosted);
  }
  assert.equal(sidecarModel('tiny'), 'tiny');
  assert.equal(sidecarModel('Systran/faster-whisper-small'), 'Systran/faster-whisper-small');
});
