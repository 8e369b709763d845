'use strict';

/**
 * GET /v1/realtime?intent=transcription (WebSocket): OpenAI's Realtime transcription session on
 * the sidecar's live streams (relay/realtime/). The OpenAI SDKs connect with `?model=…` instead of
 * `?intent=transcription`; both open a transcription session here.
 *
 * Keys: the security plugin's onRequest hook keys the upgrade like any route (Bearer, or the
 * `openai-insecure-api-key.<key>` subprotocol a browser can send). Open sockets count against the
 * per-key stream limit (auth/limits.js StreamCounter): one over it gets an error event and close 1013.
 * A plain GET (no upgrade) answers how to connect. `&resume=<session id>` takes back a session whose
 * socket dropped (relay/realtime/registry.js); a close frame with 1000 or no code ends a session for good.
 */

const websocket = require('@fastify/websocket');
const fp = require('fastify-plugin');
const { RealtimeSession } = require('../realtime/session');
const { SessionRegistry } = require('../realtime/registry');
const { ownerOf } = require('../auth/ownership');
const { RealtimeError, BYTES_PER_MS, errorEvent, newId, parseClientEvent } = require('../realtime/protocol');

const MiB = 1024 * 1024;
const LIMITS = Object.freeze({
  maxAppendBytes: 60 * 1000 * BYTES_PER_MS, // 60 s of audio in one append (2.88 MB, 3.84 MB as base64)
  maxPendingBytes: 120 * 1000 * BYTES_PER_MS, // audio waiting in Node for the sidecar
  pauseBytes: 10 * 1000 * BYTES_PER_MS, // past this, the socket is not read until half of it is written
});
const MAX_EVENT_BYTES = 4 * MiB; // one text frame (an append of 60 s is ~3.84 MB)
const MAX_PAYLOAD = 16 * MiB; // ws refuses bigger frames with close 1009 (OpenAI's own limit is 15 MiB)
const MAX_BUFFERED = 4 * MiB; // server events a client has not read; past it the client is dropped
const CLOSE = Object.freeze({ normal: 1000, noStatus: 1005, policy: 1008, tryAgainLater: 1013 });
const TERMINATE_AFTER_MS = 2000; // a client that does not read cannot read the close frame either

/**
 * Subprotocols: answer with 'realtime' (OpenAI) or 'token' (Deepgram's browser key) if offered; never
 * echo a key protocol back.
 */
function handleProtocols(protocols) {
  return ['realtime', 'token'].find((p) => protocols.has(p)) || false;
}

/**
 * WebSockets for every route (/v1/realtime, /v1/listen): @fastify/websocket listens to the server's
 * upgrades, so it is registered once, at the root (app.js), before the routes.
 */
const websocketSupport = fp(async (app) => {
  await app.register(websocket, { options: { maxPayload: MAX_PAYLOAD, handleProtocols } });
  // An upgrade request that is answered instead of upgraded (401, 429, 404) keeps its socket: Node's
  // HTTP server lets go of it at the upgrade, so nobody would end it. End it once the answer is out,
  // and whenever a client half-closes an upgrade socket.
  app.server.on('upgrade', (req, socket) => socket.once('end', () => socket.end()));
  app.addHook('onResponse', async (request) => {
    if (String(request.headers.upgrade || '').toLowerCase() === 'websocket') request.raw.socket.end();
  });
}, { name: 'websocket-support' });

/** The beta shape when the client says so (header from the SDKs, subprotocol from a browser). */
function shapeOf(headers) {
  const beta = /realtime=v1/.test(String(headers['openai-beta'] || ''))
    || /(^|,)\s*openai-beta\.realtime-v1\s*(,|$)/.test(String(headers['sec-websocket-protocol'] || ''));
  return beta ? 'beta' : 'ga';
}

/** Args (plugin options): {sidecar, streams (StreamCounter), config ({realtimeResumeS}), realtime?: {maxLagS}}. */
async function realtimeRoutes(app, { sidecar, streams, config = {}, realtime = {} }) {
  const registry = new SessionRegistry({ resumeS: config.realtimeResumeS ?? 60 });
  app.addHook('onClose', async () => registry.closeAll());

  // Answers before an upgrade (401, 429) in OpenAI's error shape, as the other /v1 routes do.
  app.setErrorHandler((err, request, reply) => {
    const status = err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error(err);
    if (err.headers) reply.headers(err.headers);
    reply.code(status).send({ error: {
      message: status === 500 ? 'The relay failed; see its log.' : err.message,
      type: status >= 500 ? 'server_error' : 'invalid_request_error',
      param: (err.details && err.details.param) || null,
      code: status === 500 ? 'internal_error' : err.code || null,
    } });
  });

  app.route({
    method: 'GET',
    url: '/v1/realtime',
    handler: async () => ({
      object: 'realtime.endpoint',
      message: 'Connect with a WebSocket: /v1/realtime?intent=transcription (Upgrade: websocket).',
    }),
    wsHandler: (socket, request) => serveSocket(socket, request,
      { sidecar, streams, registry, maxLagS: realtime.maxLagS }),
  });
}

function serveSocket(socket, request, { sidecar, streams, registry, maxLagS }) {
  const log = request.log;
  let dropped = false;
  const send = (event) => {
    if (socket.readyState !== socket.OPEN || dropped) return;
    if (socket.bufferedAmount > MAX_BUFFERED) {
      dropped = true;
      log.warn('realtime: the client does not read its events; closing');
      socket.close(CLOSE.policy, 'events not read');
      setTimeout(() => socket.terminate(), TERMINATE_AFTER_MS).unref();
      return;
    }
    socket.send(JSON.stringify(event));
  };
  const refuse = (err, code) => {
    send({ event_id: newId('event'), ...errorEvent(err) });
    socket.close(code, err.code);
  };

  const intent = request.query && request.query.intent;
  if (intent !== undefined && intent !== 'transcription') {
    return refuse(new RealtimeError('unsupported_intent', `intent ${JSON.stringify(String(intent))} is not served `
      + 'here: this relay serves ?intent=transcription.', { param: 'intent' }), CLOSE.policy);
  }
  const flow = { pause: () => socket.pause(), resume: () => socket.resume() };
  let session;
  const resume = request.query && request.query.resume;
  if (resume !== undefined) {
    try {
      session = registry.take(resume, ownerOf(request)); // it still holds the stream slot it was opened with
    } catch (err) {
      return refuse(err, CLOSE.policy);
    }
    session.attach({ send, flow });
  } else {
    let release;
    try {
      release = streams.acquire(request);
    } catch (err) {
      return refuse(new RealtimeError(err.code || 'too_many_streams', err.message, { type: 'rate_limit_error' }),
        CLOSE.tryAgainLater);
    }
    session = new RealtimeSession({ sidecar, send, log, flow, shape: shapeOf(request.headers),
      limits: { ...LIMITS, maxLagS } });
    // The slot is the session's until it ends: a dropped session waiting for its resume keeps counting,
    // so drop-and-reconnect cannot hold more sidecar streams than the limits allow.
    registry.add(session, ownerOf(request), release);
    session.start();
  }
  socket.on('message', (data, isBinary) => {
    let event = null;
    try {
      if (isBinary) {
        throw new RealtimeError('binary_not_supported', 'Send events as JSON text frames; audio goes base64 in '
          + 'input_audio_buffer.append.');
      }
      if (data.length > MAX_EVENT_BYTES) {
        throw new RealtimeError('event_too_large', `An event may be at most ${MAX_EVENT_BYTES} bytes; this one has `
          + `${data.length}. Send audio in smaller appends (at most ${LIMITS.maxAppendBytes} bytes of audio each).`);
      }
      event = parseClientEvent(data.toString('utf8'));
      session.handle(event);
    } catch (err) {
      session.sendError(err, event && typeof event.event_id === 'string' ? event.event_id : null);
    }
  });
  socket.on('close', (code) => {
    // A close frame (1000, or none with no code: 1005) says the client is done; so does the relay dropping it.
    if (code === CLOSE.normal || code === CLOSE.noStatus || dropped) session.close();
    else registry.detach(session);
  });
}

module.exports = { realtimeRoutes, websocketSupport, LIMITS, MAX_EVENT_BYTES, MAX_PAYLOAD, MAX_BUFFERED };
