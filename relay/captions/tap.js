'use strict';

/**
 * Where a live HLS source's chunks pass on their way to the sidecar, so the captions can learn which
 * source segments (sequence, duration, first PTS) the job's stream time is made of (issue 21).
 * relay/sources/index.js wraps an HLS reader's chunks in observeChunks(signal, chunks); the captions'
 * recorder (./timeline.js) listens and tells jobs apart by their AbortSignal. The chunks go on
 * unchanged, and a listener that throws never stops the stream.
 */

const { EventEmitter } = require('node:events');

const mediaChunks = new EventEmitter();
mediaChunks.setMaxListeners(0);

/** Yields `chunks` unchanged, telling mediaChunks ('chunk', signal, chunk) about each first. */
async function* observeChunks(signal, chunks) {
  for await (const chunk of chunks) {
    if (mediaChunks.listenerCount('chunk') > 0) {
      try {
        mediaChunks.emit('chunk', signal, chunk);
      } catch {
        // the captions are a bystander: the stream goes on without them
      }
    }
    yield chunk;
  }
}

module.exports = { mediaChunks, observeChunks };
