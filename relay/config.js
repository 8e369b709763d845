'use strict';

/**
 * The relay's configuration, read once from the environment into one frozen object.
 *
 * Every setting has a default that is safe on a laptop: loopback only, private URLs refused,
 * no media folder (so `{path}` requests are refused until one is named).
 */

const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

/** Documented settings: env name → [config key, parser, default]. The README lists these. */
const SETTINGS = [
  ['PORT', 'port', parsePort, 8787],
  ['HOST', 'host', parseString, '127.0.0.1'],
  ['DATA_DIR', 'dataDir', parsePath, path.join(ROOT, 'data')],
  ['MEDIA_DIR', 'mediaDir', parsePath, null],
  ['MAX_UPLOAD_MB', 'maxUploadMb', parsePositiveNumber, 500],
  ['MAX_DOWNLOAD_MB', 'maxDownloadMb', parsePositiveNumber, null],
  ['DOWNLOAD_TIMEOUT_S', 'downloadTimeoutS', parsePositiveNumber, 120],
  ['MAX_REDIRECTS', 'maxRedirects', parseNonNegativeInt, 5],
  ['ALLOW_PRIVATE_URLS', 'allowPrivateUrls', parseBoolean, false],
  ['JOB_CONCURRENCY', 'jobConcurrency', parsePositiveInt, 1],
  ['LOG_LEVEL', 'logLevel', parseString, 'warn'],
  // Live streams (HLS, endless HTTP audio, growing files): see README's "Live streams".
  ['LIVE_MAX_DURATION_S', 'liveMaxDurationS', parsePositiveNumber, 4 * 3600],
  ['LIVE_IDLE_TIMEOUT_S', 'liveIdleTimeoutS', parsePositiveNumber, 30],
  ['FOLLOW_IDLE_S', 'followIdleS', parsePositiveNumber, 10],
  ['LIVE_MAX_JOBS', 'liveMaxJobs', parsePositiveInt, 8],
  // Hostile callers (issue 19): see docs/reliability.md "Limits a caller meets".
  ['LIVE_MAX_JOBS_PER_KEY', 'liveMaxJobsPerKey', parsePositiveInt, 4],
  ['REQUEST_TIMEOUT_S', 'requestTimeoutS', parsePositiveNumber, 300],
  ['HEADERS_TIMEOUT_S', 'headersTimeoutS', parsePositiveNumber, 30],
  ['MIN_FREE_DISK_MB', 'minFreeDiskMb', parseNonNegativeInt, 1024],
  ['ALLOWED_HOSTS', 'allowedHosts', parseList, []],
  ['ALLOWED_MODELS', 'allowedModels', parseList, []],
  ['JOB_RETENTION_DAYS', 'jobRetentionDays', parseNonNegativeNumber, 30],
  // Security (issue 13): keys, exposure, limits, headers. See README's "Security".
  ['RELAY_API_KEYS', 'apiKeys', parseList, []],
  ['RELAY_API_KEYS_FILE', 'apiKeysFile', parsePath, null],
  ['RELAY_ADMIN_KEYS', 'adminKeys', parseList, []],
  ['ALLOW_UNAUTHENTICATED', 'allowUnauthenticated', parseBoolean, false],
  ['METRICS_REQUIRE_KEY', 'metricsRequireKey', parseBoolean, false],
  ['RATE_LIMIT_PER_MIN', 'rateLimitPerMin', parseNonNegativeInt, 60],
  ['RATE_LIMIT_WINDOW_S', 'rateLimitWindowS', parsePositiveNumber, 60],
  ['MAX_JOBS_PER_KEY', 'maxJobsPerKey', parsePositiveInt, 20],
  ['MAX_JOBS_TOTAL', 'maxJobsTotal', parsePositiveInt, 200],
  ['MAX_STREAMS_PER_KEY', 'maxStreamsPerKey', parsePositiveInt, 10],
  ['REALTIME_RESUME_S', 'realtimeResumeS', parseNonNegativeInt, 60],
  ['CORS_ORIGINS', 'corsOrigins', parseList, []],
  // Scaling out (issue 14): see docs/scaling.md. REDIS_URL switches the relay to distributed mode.
  ['REDIS_URL', 'redisUrl', parseString, null],
  ['RELAY_ROLE', 'role', parseRole, 'all'],
  ['CLUSTER_SECRET', 'clusterSecret', parseString, null],
  ['CLUSTER_URL', 'clusterUrl', parseString, null],
  ['MEDIA_URL_TTL_S', 'mediaUrlTtlS', parsePositiveNumber, 6 * 3600],
  ['SIDECARS', 'sidecars', parsePositiveInt, null],
  ['JOB_ATTEMPTS', 'jobAttempts', parsePositiveInt, 3],
  ['JOB_LOCK_S', 'jobLockS', parsePositiveNumber, 30],
  ['WORKER_DRAIN_S', 'workerDrainS', parseNonNegativeInt, 30],
  ['WORKER_METRICS_PORT', 'workerMetricsPort', parsePort, null],
];

const ROLES = ['api', 'worker', 'all'];

/**
 * Reads the configuration.
 *
 * Args: env — the environment (default process.env); overrides — values that win (tests use these).
 * Returns: a frozen config object.
 * Raises: TypeError naming the variable and quoting the value when one does not parse.
 */
function loadConfig(env = process.env, overrides = {}) {
  const config = {};
  for (const [name, key, parse, fallback] of SETTINGS) {
    const raw = env[name];
    config[key] = raw === undefined || raw === '' ? fallback : parse(raw, name);
  }
  Object.assign(config, overrides);
  if (config.maxDownloadMb == null) config.maxDownloadMb = config.maxUploadMb;
  config.dataDir = path.resolve(config.dataDir);
  if (config.mediaDir) config.mediaDir = path.resolve(config.mediaDir);
  return Object.freeze(config);
}

function parseString(raw) {
  return String(raw);
}

function parseRole(raw, name) {
  const role = String(raw).trim().toLowerCase();
  if (!ROLES.includes(role)) throw new TypeError(`${name} must be api, worker or all, got ${JSON.stringify(raw)}`);
  return role;
}

/** Comma-separated, trimmed, empty items dropped. */
function parseList(raw) {
  return String(raw).split(',').map((item) => item.trim()).filter(Boolean);
}

function parsePath(raw) {
  return path.resolve(raw);
}

function parsePort(raw, name) {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`${name} must be a port number 0..65535, got ${JSON.stringify(raw)}`);
  }
  return port;
}

function parsePositiveNumber(raw, name) {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function parseNonNegativeNumber(raw, name) {
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new TypeError(`${name} must be a number >= 0, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function parsePositiveInt(raw, name) {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`${name} must be a whole number >= 1, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function parseNonNegativeInt(raw, name) {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new TypeError(`${name} must be a whole number >= 0, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function parseBoolean(raw, name) {
  const value = String(raw).trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new TypeError(`${name} must be 1/0, true/false, yes/no or on/off, got ${JSON.stringify(raw)}`);
}

module.exports = { loadConfig, parseRole, SETTINGS, ROLES, ROOT };
