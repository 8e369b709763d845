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
const { callerOf, createsJob } = require('./limits');
const { ownerOf } = require('./ownership');

/** The page's policy: nothing inline, nothing from elsewhere, never in a frame. */
const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  connectSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/**
 * Args (plugin options): {config, keyring (./keys.js), admit (./limits.js jobAdmission)}.
 * Decorates: request.identity ({id, admin}; null on open routes).
 */
async function security(app, { config, keyring, admit }) {
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

  await app.register(rateLimit, { global: false });
  const limit = config.rateLimitPerMin > 0 ? app.rateLimit({
    max: config.rateLimitPerMin,
    timeWindow: config.rateLimitWindowS * 1000,
    keyGenerator: (request) => callerOf(request) || 'loopback',
    allowList: (request) => callerOf(request) === null,
    errorResponseBuilder: (request, context) => new HttpError(429, 'rate_limit_exceeded',
      `Too many new jobs: at most ${context.max} per ${config.rateLimitWindowS} s per key; retry in ${context.after}.`),
  }) : null;

  app.addHook('onRequest', async (request, reply) => {
    if (!createsJob(request)) return;
    if (limit) await limit(request, reply);
    // Refuse before the upload when the quota is already used up; JobRunner.submit checks again.
    admit({ owner: ownerOf(request) });
  });
}

module.exports = { securityPlugin: fp(security, { name: 'relay-security', fastify: '5.x' }), CSP_DIRECTIVES };
