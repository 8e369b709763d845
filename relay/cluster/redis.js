'use strict';

/**
 * Redis connections and the queues' names.
 *
 * Routing: a job that asks for device "cuda" goes to the `whisper-gpu` queue; a URL job (which may
 * turn out to be a live stream that plays for hours) to `whisper-url`; every other job to
 * `whisper-any`. Every worker takes `whisper-any` (JOB_CONCURRENCY jobs per sidecar) and
 * `whisper-url` (LIVE_MAX_JOBS per sidecar: these mostly wait on the network or play in real time,
 * and a stream must not wait behind a long file); only a worker whose sidecar verified a GPU
 * (gpu_status said device: cuda) also takes `whisper-gpu`. A cuda job waits (queued) while no GPU
 * worker is up rather than run on the CPU.
 */

const IORedis = require('ioredis');

const QUEUES = Object.freeze({ any: 'whisper-any', gpu: 'whisper-gpu', url: 'whisper-url' });
const PREFIX = 'whisper';
const CANCEL_CHANNEL = `${PREFIX}:cancel`;

/** The queue a job's options and source ('upload', 'path', 'url') route it to. */
function queueNameFor(options = {}, source = null) {
  if (options.device === 'cuda') return QUEUES.gpu;
  return source === 'url' ? QUEUES.url : QUEUES.any;
}

/**
 * A connection as BullMQ wants it (maxRetriesPerRequest null: commands wait out a Redis restart
 * instead of failing), reconnecting forever with a capped backoff.
 */
function connect(url, { name = 'relay', log = console } = {}) {
  const redis = new IORedis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectionName: `whisper-${name}`,
    retryStrategy: (times) => Math.min(200 * times, 2000),
  });
  let down = false;
  redis.on('error', (err) => {
    if (!down) log.warn(`redis (${name}): ${err.message}; reconnecting`);
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.warn(`redis (${name}): reconnected`);
    down = false;
  });
  return redis;
}

module.exports = { QUEUES, PREFIX, CANCEL_CHANNEL, queueNameFor, connect };
