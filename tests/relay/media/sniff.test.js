'use strict';

/** relay/media/sniff.js: the fixtures are recognized as media, an HTML page and JSON are not. */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { looksLikeMedia } = require('../../../relay/media/sniff');
const { fixture } = require('../helpers');

test('media sniffing knows the fixtures and refuses text', () => {
  for (const name of ['hello.flac', 'hello.mp4']) {
    assert.equal(looksLikeMedia(fs.readFileSync(fixture(name)).subarray(0, 512)), true, name);
  }
  assert.equal(looksLikeMedia(Buffer.from('<!doctype html><html>')), false);
  assert.equal(looksLikeMedia(Buffer.from('{"error": "nope"}')), false);
});
