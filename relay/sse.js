'use strict';

/**
 * Writing Server-Sent Events on a raw Node response: the headers every stream of the relay sends,
 * and one event per call.
 */

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
  if (res.writableEnded || res.destroyed) return false;
  return res.write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
}

module.exports = { SSE_HEADERS, openEventStream, writeEvent };
