'use strict';

// /metrics shows the stream worker's own figures (issue 18): the `capacity` object of each sidecar's
// last live status line, by sidecar, and the relay's count of streams the sidecar refused.

const test = require('node:test');
const assert = require('node:assert/strict');
const { EventEmitter } = require('node:events');
const { createMetrics } = require('../../../relay/metrics');

function value(text, name, labels) {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`) || l === `${name} ${l.split(' ').pop()}`);
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

test('each sidecar\'s last capacity figures and the refusals are in /metrics', async () => {
  const metrics = createMetrics();
  const a = new EventEmitter();
  const b = new EventEmitter();
  metrics.watchSidecar(a, '0');
  metrics.watchSidecar(b, '1');
  const capacity = (load, batches) => ({
    open_streams: 2, headroom: 1 - load, load, decode_s_per_audio_s: 0.31, measured_audio_s: 25.5,
    partials_thinned: 4, loops: 1, decode_failed: 0, batch_sizes: batches,
  });
  a.emit('status', { stage: 'live', stream_id: 's1', capacity: capacity(0.25, { 1: 10, 2: 3 }) });
  a.emit('status', { stage: 'live', stream_id: 's1', capacity: capacity(0.5, { 1: 12, 2: 4 }) });
  a.emit('status', { stage: 'transcribing' }); // a file job's status carries no capacity: nothing changes
  b.emit('status', { stage: 'live', stream_id: 's9', capacity: capacity(0.1, { 3: 2 }) });
  metrics.liveRefused();
  const text = await metrics.register.metrics();
  assert.equal(value(text, 'whisper_live_headroom', 'sidecar="0"'), 0.5);
  assert.equal(value(text, 'whisper_live_load', 'sidecar="1"'), 0.1);
  assert.equal(value(text, 'whisper_live_decode_seconds_per_audio_second', 'sidecar="0"'), 0.31);
  assert.equal(value(text, 'whisper_live_partials_thinned', 'sidecar="0"'), 4);
  assert.equal(value(text, 'whisper_live_loops', 'sidecar="0"'), 1);
  assert.equal(value(text, 'whisper_live_decode_batches', 'sidecar="0",size="2"'), 4);
  assert.equal(value(text, 'whisper_live_decode_batches', 'sidecar="1",size="3"'), 2);
  assert.match(text, /^whisper_live_refused_total 1$/m);
});
