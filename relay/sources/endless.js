'use strict';

/**
 * An endless HTTP audio stream (no Content-Length, audio/* or application/ogg): bytes go out as
 * they arrive, whatever they are (the decoder downstream judges them). No size limit: how long to
 * listen is the caller's choice. Ends on EOF; a server that sends nothing for idleTimeoutS ends it
 * with stream_idle.
 */

const { streamIdle } = require('./errors');

/**
 * Args: {body (./body Body of the response already opened), guard (its RequestGuard), limits, signal}.
 * Yields: {type: 'data', bytes} ..., then {type: 'end', reason: 'eof' | 'disconnected'}.
 */
async function* endlessChunks({ body, guard, limits, signal }) {
  try {
    for await (const bytes of body.chunks()) yield { type: 'data', bytes };
  } catch (err) {
    if (guard.reason === 'idle') throw streamIdle(limits.idleTimeoutS, 'bytes');
    if (signal.aborted) throw err;
    // The connection broke without a proper end: what came is delivered, the stream is over.
    yield { type: 'end', reason: 'disconnected' };
    return;
  } finally {
    guard.dispose();
    body.destroy();
  }
  yield { type: 'end', reason: 'eof' };
}

module.exports = { endlessChunks };
