'use strict';

/**
 * The API node's additions in distributed mode (not encapsulated: the hook covers every route):
 * the signed media route, and a look-up in Redis before any route that names a job this node's
 * replica has not seen yet (created through another API node a moment ago).
 */

const fp = require('fastify-plugin');
const { clusterMediaRoutes } = require('./media-route');

const JOB_ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/i;

async function cluster(app, { runner, store, secret }) {
  app.addHook('preHandler', async (request) => {
    const raw = request.params && request.params.id;
    const match = typeof raw === 'string' ? JOB_ID.exec(raw) : null;
    if (match && !store.get(match[1].toLowerCase())) await runner.hydrate(match[1].toLowerCase());
  });
  await app.register(clusterMediaRoutes, { store, secret });
}

module.exports = { clusterPlugin: fp(cluster, { name: 'relay-cluster', fastify: '5.x' }) };
