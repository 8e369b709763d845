'use strict';

/**
 * buildRelay(): the fastify app with every route, constructible in-process (tests pass their own
 * config and sidecar) and used by relay.js to serve.
 */

const path = require('node:path');
const Fastify = require('fastify');
const multipart = require('@fastify/multipart');
const { HttpError } = require('./errors');
const { JobStore } = require('./jobs/store');
const { JobRunner } = require('./jobs/local');
const { transcriptionRoutes } = require('./routes/transcriptions');
const { eventRoutes } = require('./routes/events');
const { openaiRoutes } = require('./routes/openai');
const { systemRoutes } = require('./routes/system');
const { realtimeRoutes, websocketSupport } = require('./routes/realtime');
const { deepgramRoutes } = require('./routes/deepgram');
const { captionRoutes } = require('./routes/captions');
const { securityPlugin } = require('./auth/plugin');
const { keyRingFromConfig } = require('./auth/keys');
const { jobAdmission, StreamCounter } = require('./auth/limits');
const { createMetrics } = require('./metrics');
const { metricsRoutes } = require('./metrics/route');
const { feedSingleMachine } = require('./metrics/single');
const { KeySockets, revokeRemovedKeys } = require('./auth/revoke');
const { keepPruning } = require('./jobs/retention');

const MB = 1024 * 1024;
/** Fastify's own 4xx errors, renamed into the relay's words. */
const FASTIFY_CODES = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_content_length',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'unsupported_media_type',
};

/**
 * Args: {config (from loadConfig), sidecar (a started WhisperSidecar or the same API),
 *   logger (fastify's logger option; default: on unless LOG_LEVEL=silent),
 *   keyring (relay/auth/keys.js; default: read from config — relay.js passes its own to reload on SIGHUP)}.
 * Distributed mode (relay/cluster/) passes `makeRunner({store, admit, log, config})` (a JobTransport,
 *   relay/jobs/transport.js, as the local JobRunner is), `metrics` (relay/metrics) and `plugins`
 *   ([plugin, options] pairs).
 * Returns: the fastify app, not yet listening; `app.runner` and `app.store` are exposed, and
 *   closing the app stops the runner (running jobs are left to be requeued) and closes the store.
 *   The sidecar is the caller's to stop.
 */
function buildRelay({ config, sidecar, logger, keyring = keyRingFromConfig(config), makeRunner = null,
  metrics = null, plugins = [] }) {
  const app = Fastify({
    logger: logger !== undefined ? logger : config.logLevel !== 'silent' && { level: config.logLevel },
    bodyLimit: 1 * MB,
    forceCloseConnections: true,
    // A request must be in within REQUEST_TIMEOUT_S (its headers within HEADERS_TIMEOUT_S), else 408
    // and the connection closes: a body that trickles in holds nothing for long (issue 19).
    requestTimeout: config.requestTimeoutS * 1000,
    http: serverTimeouts(config),
  });
  const store = new JobStore(path.join(config.dataDir, 'relay.sqlite'));
  const admit = jobAdmission({ store, maxPerKey: config.maxJobsPerKey, maxTotal: config.maxJobsTotal });
  const runner = makeRunner ? makeRunner({ store, admit, log: app.log, config })
    : new JobRunner({ store, sidecar, concurrency: config.jobConcurrency, log: app.log, admit, config });
  if (!metrics) {
    metrics = createMetrics();
    feedSingleMachine({ metrics, store, runner, sidecar });
  }
  const streams = new StreamCounter({ max: config.maxStreamsPerKey });
  const sockets = new KeySockets();
  const stopRevoking = revokeRemovedKeys({ keyring, sockets, store, runner, log: app.log });
  app.decorate('store', store);
  app.decorate('runner', runner);
  app.decorate('keyring', keyring);

  app.register(securityPlugin, { config, keyring, admit, sockets });

  app.register(multipart, {
    limits: { fileSize: config.maxUploadMb * MB, files: 1, fields: 20, fieldSize: 64 * 1024 },
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(new HttpError(404, 'not_found', `No route ${request.method} ${request.url}.`).toJSON());
  });

  const deps = { config, sidecar, runner, store, streams, metrics };
  app.register(websocketSupport); // once, before every WebSocket route
  app.register(transcriptionRoutes, deps);
  app.register(eventRoutes, deps);
  app.register(openaiRoutes, deps);
  app.register(systemRoutes, deps);
  app.register(realtimeRoutes, deps);
  app.register(deepgramRoutes, deps);
  app.register(captionRoutes, deps);
  app.register(metricsRoutes, deps);
  for (const [plugin, options] of plugins) app.register(plugin, { ...deps, ...options });

  let stopPruning = () => {};
  app.addHook('onReady', async () => {
    stopPruning = keepPruning({ store, uploadsDir: path.join(config.dataDir, 'uploads'), days: config.jobRetentionDays, log: app.log });
    await runner.resume();
  });
  app.addHook('preClose', async () => {
    await runner.close();
  });
  app.addHook('onClose', async () => {
    stopPruning();
    stopRevoking();
    store.close();
  });
  return app;
}

/** Node's own header timeout, checked often enough for the shorter of the two timeouts to hold. */
function serverTimeouts(config) {
  const requestMs = config.requestTimeoutS * 1000;
  const headersMs = Math.min(config.headersTimeoutS * 1000, requestMs);
  return { headersTimeout: headersMs, connectionsCheckingInterval: Math.max(100, Math.min(30000, headersMs / 4)) };
}

function handleError(err, request, reply) {
  if (err.headers) reply.headers(err.headers); // WWW-Authenticate on 401, Retry-After on 429
  if (err instanceof HttpError) return reply.code(err.statusCode).send(err.toJSON());
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    const code = FASTIFY_CODES[err.code] || (/JSON/.test(err.code || '') ? 'invalid_json' : 'bad_request');
    return reply.code(err.statusCode).send({ error: { code, message: err.message } });
  }
  request.log.error(err);
  return reply.code(500).send({ error: { code: 'internal_error', message: 'The relay failed; see its log.' } });
}

module.exports = { buildRelay };
