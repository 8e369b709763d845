'use strict';

/**
 * The relay's security as one fastify plugin (not encapsulated, so its hooks cover every route):
 * CORS when CORS_ORIGINS is set, security headers (@fastify/helmet), the key check, the rate limit
 * on job creation and the early job-quota check. Registered first in relay/app.js.
 */

const fp = require('fastify-plugin');
const cors = require('@fastify/cors');
const helmet = require('@fastify/helmet');
const rateLimit = require('@fastify/rate-limit');
const { HttpError } = require('../errors');
const { createAuthenticator } = require('./authenticate');
const { authHook } = require('./hook');
const { callerOf, createsJob, ensureFreeDisk } = require('./limits');
const { hostAndOriginGuard } = require('./origin');
const { ownerOf } = require('./ownership');

/** The page's policy: nothing inline, nothing from elsewhere, never in a frame. */
const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  // the page's player (public/player.js) reads a live job's HLS source from its own origin, into MSE
  connectSrc: ["'self'", 'http:', 'https:'],
  mediaSrc: ["'self'", 'blob:', 'data:'], // data: hls.js's empty <track> for the captions
  imgSrc: ["'self'", 'data:'],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/**
 * Args (plugin options): {config, keyring (./keys.js), admit (./limits.js jobAdmission),
 *   sockets (./revoke.js KeySockets: each keyed request's socket is remembered under its key)}.
 * Decorates: request.identity ({id, admin}; null on open routes).
 */
async function security(app, { config, keyring, admit, sockets = null }) {
  // Keys off: only loopback Host names, and no foreign Origin on POST/DELETE/upgrades (./origin.js).
  app.addHook('onRequest', hostAndOriginGuard({ config, keyring }));
  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins,
      methods: ['GET', 'HEAD', 'POST', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type'],
      exposedHeaders: ['location', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'],
      maxAge: 600,
    });
  }
  await app.register(helmet, {
    // useDefaults: false, so no upgrade-insecure-requests: a relay is often reached over plain http.
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    // HSTS belongs to whatever terminates TLS in front of the relay.
    strictTransportSecurity: false,
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
  });

  app.decorateRequest('identity', null);
  app.addHook('onRequest', authHook({ authenticate: createAuthenticator(keyring), metricsRequireKey: config.metricsRequireKey }));
  if (sockets) app.addHook('onRequest', async (request) => sockets.track(request));

  await app.register(rateLimit, { global: false });
  const limit = config.rateLimitPerMin > 0 ? app.rateLimit({
    max: config.rateLimitPerMin,
    timeWindow: config.rateLimitWindowS * 1000,
    keyGenerator: (request) => callerOf(request) || 'loopback',
    allowList: (request) => callerOf(request) === null,
    errorResponseBuilder: (request, context) => {
      const err = new HttpError(429, 'rate_limit_exceeded',
        `Too many new jobs: at most ${context.max} per ${config.rateLimitWindowS} s per key; retry in ${context.after}.`);
      err.headers = { 'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))) }; // the window's rest
      return err;
    },
  }) : null;

  app.addHook('onRequest', async (request, reply) => {
    if (!createsJob(request)) return;
    if (limit) await limit(request, reply);
    await ensureFreeDisk(config.dataDir, { minFreeMb: config.minFreeDiskMb,
      incomingBytes: Number(request.headers['content-length']) || 0 });
    // Refuse before the upload when the quota is already used up; the request counts as a job of its
    // key while its body comes in, and JobRunner.submit checks again.
    admit.hold(request, { owner: ownerOf(request) });
  });
}

module.exports = { securityPlugin: fp(security, { name: 'relay-security', fastify: '5.x' }), CSP_DIRECTIVES };
