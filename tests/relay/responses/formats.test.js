'use strict';

/** relay/responses/formats.js: a transcribe result as txt, srt, vtt, json and OpenAI's verbose_json. */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { render, timestamp, toOpenAiVerbose } = require('../../../relay/responses/formats');

const RESULT = {
  text: ' Hello there. General Kenobi.',
  language: 'en',
  duration: 3725.5,
  segments: [
    { id: 1, start: 0, end: 1.5, text: ' Hello there.', words: [{ word: ' Hello', start: 0, end: 0.5 }] },
    { id: 2, start: 3723.25, end: 3725.5, text: ' General Kenobi.' },
  ],
};

test('timestamps in SRT and VTT spelling', () => {
  assert.equal(timestamp(3725.5, ','), '01:02:05,500');
  assert.equal(timestamp(0.0004, '.'), '00:00:00.000');
  assert.equal(timestamp(59.9996, '.'), '00:01:00.000');
});

test('render txt, srt, vtt, json', () => {
  assert.equal(render(RESULT, 'txt'), 'Hello there. General Kenobi.\n');
  assert.equal(render(RESULT, 'srt'),
    '1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n01:02:03,250 --> 01:02:05,500\nGeneral Kenobi.\n');
  assert.equal(render(RESULT, 'vtt'),
    'WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n01:02:03.250 --> 01:02:05.500\nGeneral Kenobi.\n');
  assert.deepEqual(JSON.parse(render(RESULT, 'json')), RESULT);
  assert.throws(() => render(RESULT, 'doc'), TypeError);
});

test('OpenAI verbose_json', () => {
  const body = toOpenAiVerbose(RESULT, { words: true });
  assert.equal(body.language, 'english');
  assert.equal(body.text, 'Hello there. General Kenobi.');
  assert.deepEqual(body.segments.map((s) => s.id), [0, 1]);
  assert.deepEqual(body.words, [{ word: 'Hello', start: 0, end: 0.5 }]);
  assert.equal('words' in toOpenAiVerbose(RESULT), false);
});
