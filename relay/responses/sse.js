'use strict';

/**
 * Writing Server-Sent Events on a raw Node response: the headers every stream of the relay sends,
 * and one event per call.
 *
 * A client that does not read would make Node buffer every event for it without end: once more
 * than MAX_BUFFERED_BYTES wait unsent, the response is destroyed (the client is dropped; an SSE
 * client reconnects and gets the snapshot).
 */

const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

const SSE_HEADERS = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
});

/** Sends the 200 and the event-stream headers (once; later calls do nothing). */
function openEventStream(res) {
  if (!res.headersSent) res.writeHead(200, SSE_HEADERS);
}

/**
 * Writes one event: `event: NAME` only when a name is given (OpenAI's transcription stream sends
 * bare `data:` lines), then the data as one line of JSON. Does nothing once the response has ended.
 */
function writeEvent(res, data, event = null) {
  return writeBounded(res, `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
}

/** A comment line (`: ping`), which keeps proxies from closing an idle stream. */
function writeComment(res, text) {
  return writeBounded(res, `: ${text}\n\n`);
}

function writeBounded(res, chunk) {
  if (res.writableEnded || res.destroyed) return false;
  const ok = res.write(chunk);
  if (res.writableLength > MAX_BUFFERED_BYTES) {
    res.destroy();
    return false;
  }
  return ok;
}

module.exports = { SSE_HEADERS, MAX_BUFFERED_BYTES, openEventStream, writeEvent, writeComment };
