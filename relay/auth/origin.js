'use strict';

/**
 * Without keys (the loopback default) nothing in a request tells the machine's user from a web page
 * the user happens to visit: DNS rebinding (a name that resolves to 127.0.0.1) reads every
 * transcript, and a cross-site form or fetch can POST jobs. So, with keys off, the relay answers
 * only Host names that are loopback, the configured HOST or CLUSTER_URL's host, or listed in
 * ALLOWED_HOSTS (`*`: any), and refuses a foreign Origin on POST, DELETE and WebSocket upgrades
 * (the page's own origin and CORS_ORIGINS pass). With keys on, a request needs a Bearer key, which
 * a browser never adds by itself, and these checks are not needed.
 */

const { HttpError } = require('../errors');
const { isLoopback, answeredHosts, bareHost } = require('./exposure');

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Args: {config (allowedHosts, host, clusterUrl, corsOrigins), keyring (./keys.js)}.
 * Returns: an async onRequest hook that raises HttpError 403 host_not_allowed / origin_not_allowed.
 */
function hostAndOriginGuard({ config, keyring }) {
  const allowed = answeredHosts(config);
  const origins = new Set(config.corsOrigins || []);

  return async function checkHostAndOrigin(request) {
    if (keyring.enabled || allowed.has('*')) return;
    const hostHeader = String(request.headers.host || '');
    const host = hostnameOf(`http://${hostHeader}`);
    if (!host || !(isLoopback(host) || allowed.has(host))) {
      throw new HttpError(403, 'host_not_allowed', 'This relay has no API keys, so it answers only loopback '
        + 'names (localhost, 127.0.0.1, [::1]); the operator may add names in ALLOWED_HOSTS or turn keys on.');
    }
    const origin = request.headers.origin;
    if (origin === undefined || !checksOrigin(request) || origins.has(origin)) return;
    if (!sameOrigin(origin, hostHeader)) {
      throw new HttpError(403, 'origin_not_allowed', 'A page from another site may not use this relay without '
        + 'an API key; the operator may list its origin in CORS_ORIGINS.');
    }
  };
}

function checksOrigin(request) {
  return UNSAFE_METHODS.has(request.method) || String(request.headers.upgrade || '').toLowerCase() === 'websocket';
}

/** True when the Origin header names the site the request was sent to (scheme's default port aside). */
function sameOrigin(origin, hostHeader) {
  try {
    const from = new URL(origin);
    if (from.protocol !== 'http:' && from.protocol !== 'https:') return false;
    return from.host === new URL(`${from.protocol}//${hostHeader}`).host;
  } catch {
    return false; // "null" (a sandboxed frame or a file: page) and anything unparsable
  }
}

/** The lower-case host name of a URL, without brackets or port; null when it does not parse. */
function hostnameOf(url) {
  try {
    return bareHost(new URL(url).hostname);
  } catch {
    return null;
  }
}

module.exports = { hostAndOriginGuard, sameOrigin };
