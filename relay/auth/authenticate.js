'use strict';

/**
 * authenticate(request): who is calling, from `Authorization: Bearer <key>` (what the OpenAI SDKs
 * send; `Token <key>` is Deepgram's) or, on a WebSocket upgrade only, the
 * `openai-insecure-api-key.<key>` subprotocol or Deepgram's `token, <key>` pair (what a browser's
 * WebSocket can send). Works on a fastify request and on a raw http.IncomingMessage, so a
 * WebSocket upgrade handler can call it too.
 */

const { HttpError } = require('../errors');

/** Everyone, when no keys are configured: no owner, sees every job (today's behaviour). */
const OPEN_IDENTITY = Object.freeze({ id: null, admin: true });
const BEARER = /^(?:Bearer|Token)[ \t]+(\S+)[ \t]*$/i; // Token: Deepgram's scheme
const SUBPROTOCOL_PREFIX = 'openai-insecure-api-key.';
const CHALLENGE = { 'www-authenticate': 'Bearer realm="whisper-relay"' };

/**
 * Args: keyring — a KeyRing (./keys.js).
 * Returns: authenticate(request) → {id, admin}; it raises HttpError 401 (code missing_api_key or
 *   invalid_api_key, with a WWW-Authenticate header in err.headers) when keys are on and the
 *   request has no known key.
 */
function createAuthenticator(keyring) {
  return function authenticate(request) {
    if (!keyring.enabled) return OPEN_IDENTITY;
    const key = presentedKey(request.headers || {});
    if (key === null) {
      throw unauthorized('missing_api_key',
        'This relay needs an API key: send it as "Authorization: Bearer <key>".');
    }
    const identity = keyring.lookup(key);
    if (!identity) throw unauthorized('invalid_api_key', 'The API key was not accepted.');
    return identity;
  };
}

/** The key a request presents, or null. */
function presentedKey(headers) {
  const header = headers.authorization;
  if (typeof header === 'string' && header !== '') {
    const match = BEARER.exec(header);
    return match ? match[1] : '';
  }
  if (String(headers.upgrade || '').toLowerCase() === 'websocket') {
    const offered = String(headers['sec-websocket-protocol'] || '').split(',').map((p) => p.trim());
    const protocol = offered.find((p) => p.startsWith(SUBPROTOCOL_PREFIX));
    if (protocol) return protocol.slice(SUBPROTOCOL_PREFIX.length);
    const token = offered.indexOf('token'); // Deepgram's browser SDK: `token, <key>`
    if (token !== -1 && offered[token + 1]) return offered[token + 1];
  }
  return null;
}

function unauthorized(code, message) {
  const err = new HttpError(401, code, message);
  err.headers = CHALLENGE;
  return err;
}

module.exports = { createAuthenticator, presentedKey, OPEN_IDENTITY, SUBPROTOCOL_PREFIX };
