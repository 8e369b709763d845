'use strict';

/**
 * What an API-only node has in place of a sidecar: /api/gpu answers from the workers' heartbeats
 * in Redis, /healthz says the node is up, and what needs a local sidecar (the realtime socket)
 * is refused: it runs where a sidecar runs (role all or single-machine mode).
 */

const { EventEmitter } = require('node:events');
const { PREFIX } = require('./redis');

class ClusterSidecarView extends EventEmitter {
  constructor({ redis }) {
    super();
    this.redis = redis;
    this.state = 'remote';
    this.fatalError = null;
  }

  /** The workers that sent a heartbeat in the last 30 s; device 'cuda' when one has a GPU. */
  async gpuStatus() {
    const workers = await this.workers();
    const sidecars = workers.flatMap((w) => w.sidecars || []);
    const cuda = sidecars.filter((s) => s.device === 'cuda').length;
    return {
      device: cuda > 0 ? 'cuda' : 'cpu', cuda_available: cuda > 0, setup_complete: true, distributed: true,
      workers: workers.map(({ node, host, active, sidecars: list }) => ({ node, host, active, sidecars: list })),
      gpus: cuda, sidecars: sidecars.length,
    };
  }

  async workers() {
    const keys = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', `${PREFIX}:worker:*`, 'COUNT', 200);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const values = keys.length ? await this.redis.mget(keys) : [];
    return values.filter(Boolean).map((value) => JSON.parse(value));
  }

  async openStream() {
    const err = new Error('The realtime socket needs a local sidecar and this is an API-only node (--role api): '
      + 'connect to a node started with --role all. (Live URL jobs run on the workers.)');
    err.kind = 'not_supported';
    throw err;
  }

  async transcribe() {
    throw new Error('An API node transcribes nothing itself; jobs go to the workers.');
  }
}

module.exports = { ClusterSidecarView };
