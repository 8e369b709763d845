'use strict';

/**
 * GET /internal/media/:id?exp=&sig= — an upload held by this API node, for the worker that runs
 * its job. Needs no API key: only a valid, unexpired signature (./signing.js) opens it; anything
 * else is the same 404 as a missing job.
 */

const fs = require('node:fs');
const { HttpError } = require('../errors');
const { verifyMediaSignature } = require('./signing');

async function clusterMediaRoutes(app, { store, secret }) {
  app.get('/internal/media/:id', { config: { auth: 'public' } }, async (request, reply) => {
    const { id } = request.params;
    const { exp, sig } = request.query || {};
    const job = verifyMediaSignature({ id, exp, sig, secret }) ? store.get(id) : null;
    // An upload this node holds, or a MEDIA_DIR file a {"path"} job named (already checked then).
    const lent = job && job.mediaPath && (job.ownsMedia || job.source === 'path');
    if (!lent || !fs.existsSync(job.mediaPath)) {
      throw new HttpError(404, 'not_found', 'No such media.');
    }
    reply.type('application/octet-stream').header('cache-control', 'no-store');
    return reply.send(fs.createReadStream(job.mediaPath));
  });
}

module.exports = { clusterMediaRoutes };
