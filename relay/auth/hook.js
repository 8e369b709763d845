'use strict';

/**
 * The one onRequest hook that keys every route: deny by default. Open without a key are only the
 * routes marked `config: {auth: 'public'}` (the page's files, /healthz), /metrics unless
 * METRICS_REQUIRE_KEY, CORS preflights, and requests that match no route (they are 404 anyway).
 * A route added later without a marker is keyed, and tests/relay/auth/routes.test.js checks every route.
 */

const PUBLIC = 'public';

/**
 * Args: {authenticate (./authenticate.js), metricsRequireKey}.
 * Returns: an async onRequest hook that sets request.identity ({id, admin}) or raises 401.
 */
function authHook({ authenticate, metricsRequireKey = false }) {
  return async function requireKey(request) {
    if (isOpen(request, metricsRequireKey)) {
      request.identity = null;
      return;
    }
    request.identity = authenticate(request);
  };
}

function isOpen(request, metricsRequireKey) {
  if (request.is404) return true;
  const route = request.routeOptions || {};
  if (route.config && route.config.auth === PUBLIC) return true;
  // A route may open itself to a request it vouches for: a signed, expiring URL (relay/routes/captions.js).
  if (route.config && route.config.auth && typeof route.config.auth.signed === 'function' && route.config.auth.signed(request)) return true;
  if (route.url === '/metrics' && !metricsRequireKey) return true;
  return request.method === 'OPTIONS' && Boolean(request.headers.origin)
    && Boolean(request.headers['access-control-request-method']);
}

module.exports = { authHook, isOpen, PUBLIC };
