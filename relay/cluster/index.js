'use strict';

/**
 * Distributed mode (REDIS_URL set): `--role api` serves HTTP, the page, SSE and /v1 and queues
 * jobs in Redis; `--role worker` runs a sidecar pool that takes them; `--role all` is both.
 * See docs/scaling.md.
 */

const os = require('node:os');
const http = require('node:http');
const { randomBytes } = require('node:crypto');
const { Queue } = require('bullmq');
const { ROOT } = require('../config');
const { buildRelay } = require('../app');
const { createMetrics } = require('../metrics');
const { checkSecret } = require('./signing');
const { connect, QUEUES, PREFIX, CANCEL_CHANNEL } = require('./redis');
const { ClusterRunner } = require('./runner');
const { followQueues } = require('./events');
const { createPool } = require('./pool');
const { WorkerNode } = require('./worker');
const { ClusterSidecarView } = require('./sidecar-view');
const { clusterPlugin } = require('./plugin');

/**
 * Args: {config, role ('api' | 'worker' | 'all'), keyring, log, makeSidecar(env) (default: a
 *   WhisperSidecar of this project with env added)}.
 * Returns: {app (null for a worker), worker (null for an API node), nodeId, close()}.
 */
async function startCluster({ config, role = config.role, keyring, log = console, makeSidecar = defaultSidecar }) {
  checkSecret(config.clusterSecret);
  const nodeId = `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const metrics = createMetrics();
  const closers = [];
  let worker = null;
  let app = null;
  let pool = null;

  if (role === 'worker' || role === 'all') {
    pool = createPool({ count: config.sidecars, makeSidecar, log });
    worker = new WorkerNode({ config, pool, nodeId, log, metrics });
    await worker.start();
    closers.push(() => worker.stop());
    if (role === 'worker') metrics.setSources({ liveStreams: () => worker.liveStreams() });
    if (role === 'worker' && config.workerMetricsPort !== null) closers.unshift(await serveMetrics(metrics, config, log));
  }

  if (role === 'api' || role === 'all') {
    const queues = Object.fromEntries(Object.values(QUEUES).map((name) => [name,
      new Queue(name, { connection: connect(config.redisUrl, { name: `queue-${name}`, log }), prefix: PREFIX })]));
    const publisher = connect(config.redisUrl, { name: 'publisher', log });
    metrics.setSources({ jobCounts: () => jobCounts(queues), queueDepth: () => queueDepth(queues) });
    let runner = null;
    const sidecar = pool ? pool.sidecars[0].sidecar : new ClusterSidecarView({ redis: publisher });
    app = buildRelay({
      config, sidecar, keyring, metrics,
      makeRunner: ({ store, admit, log: appLog }) => {
        runner = new ClusterRunner({ store, queues, publisher, cancelChannel: CANCEL_CHANNEL, nodeId, config, log: appLog, admit, metrics });
        // the live streams the whole cluster runs, as this node hears their events
        metrics.setSources({ liveStreams: () => runner.liveStreams() });
        return runner;
      },
      plugins: [[clusterPlugin, { secret: config.clusterSecret }]],
    });
    publisher.on('reconnecting', () => runner.queueConnection(false));
    publisher.on('ready', () => runner.queueConnection(true));
    const events = followQueues({ url: config.redisUrl, names: Object.keys(queues), runner, log });
    await events.ready();
    await app.listen({ port: config.port, host: config.host });
    const address = app.server.address();
    runner.mediaBase = config.clusterUrl || `http://${hostForUrl(address)}:${address.port}`;
    closers.unshift(async () => {
      await app.close();
      await events.close();
      await Promise.allSettled(Object.values(queues).map((queue) => queue.close()));
      publisher.disconnect();
    });
  }

  let closing = null;
  const close = () => {
    closing = closing || (async () => {
      for (const step of closers) await step().catch((err) => log.error(`stopping: ${err.message}`));
    })();
    return closing;
  };
  return { app, worker, nodeId, metrics, close, config };
}

function defaultSidecar(env) {
  const { WhisperSidecar } = require('../../node_bridge');
  return new WhisperSidecar({ projectRoot: ROOT, cwd: ROOT, env, logger: null });
}

function hostForUrl(address) {
  if (address.address === '0.0.0.0' || address.address === '::') return os.hostname();
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}

/** Jobs by state across the queues, in the relay's words (a cancelled running job counts as error). */
async function jobCounts(queues) {
  const total = { queued: 0, running: 0, done: 0, error: 0 };
  for (const queue of Object.values(queues)) {
    const c = await queue.getJobCounts('waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed');
    total.queued += c.waiting + c.delayed + c.prioritized;
    total.running += c.active;
    total.done += c.completed;
    total.error += c.failed;
  }
  return total;
}

async function queueDepth(queues) {
  const depth = {};
  for (const [name, queue] of Object.entries(queues)) {
    const c = await queue.getJobCounts('waiting', 'delayed', 'prioritized');
    depth[name] = c.waiting + c.delayed + c.prioritized;
  }
  return depth;
}

/** A worker's own /metrics (sidecar restarts, CPU fallbacks) on WORKER_METRICS_PORT. */
async function serveMetrics(metrics, config, log) {
  const server = http.createServer(async (req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': metrics.register.contentType });
    res.end(await metrics.register.metrics());
  });
  await new Promise((resolve) => server.listen(config.workerMetricsPort, config.host, resolve));
  log.log(`Worker metrics on http://${config.host}:${server.address().port}/metrics`);
  return () => new Promise((resolve) => server.close(resolve));
}

module.exports = { startCluster };
