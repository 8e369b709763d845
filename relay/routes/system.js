'use strict';

/** GET /api/gpu, GET /healthz, and the web page's files from public/. */

const fs = require('node:fs');
const path = require('node:path');
const { HttpError, withoutPaths } = require('../errors');
const { forCaller } = require('../responses/diagnostics');

const PUBLIC_DIR = path.resolve(__dirname, '..', '..', 'public');
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

async function systemRoutes(app, { sidecar, runner }) {
  // ?wait=1 answers once the device is decided (the GPU check can take a while on a GPU machine);
  // without it, at once, with setup_complete: false meanwhile.
  app.get('/api/gpu', async (request) => {
    const wait = ['1', 'true'].includes(String((request.query || {}).wait));
    let status;
    try {
      status = await sidecar.gpuStatus(wait ? { wait: true } : undefined, wait ? { timeout: 600000 } : undefined);
    } catch (err) {
      throw new HttpError(503, 'sidecar_unavailable', `The sidecar did not answer gpu_status: ${withoutPaths(err.message)}`);
    }
    // The server's folders (cache_dir) are for admin keys; without keys everyone is admin (loopback).
    return forCaller(status, request.identity);
  });

  // 503 once the bridge has given up on the sidecar: nothing will be transcribed until a restart.
  // `queue` says whether the job queue is reachable ("up"; null for the local one, in this process)
  // or, in distributed mode, being reconnected to (Redis): the node keeps serving meanwhile (jobs wait,
  // nothing is lost), so it stays 200; the page shows it.
  // Open without an API key (relay/auth/hook.js), like the page's files below.
  app.get('/healthz', { config: { auth: 'public' } }, async (request, reply) => {
    const fatal = sidecar.fatalError || null;
    if (fatal) reply.code(503);
    return { ok: !fatal, sidecar: sidecar.state || null, error: fatal ? fatal.message : null,
      uptime_s: Math.round(process.uptime()), queue: runner.queueState() };
  });

  // The page is a handful of files, listed once at startup: nothing outside public/ can be named.
  const files = new Map(fs.readdirSync(PUBLIC_DIR)
    .filter((name) => TYPES[path.extname(name)])
    .map((name) => [`/${name}`, path.join(PUBLIC_DIR, name)]));
  files.set('/', path.join(PUBLIC_DIR, 'index.html'));
  // The page's player (hls.js) comes from the installed package, not a CDN and not a copy or a link in public/.
  files.set('/hls.min.js', require.resolve('hls.js/dist/hls.min.js'));
  for (const [url, file] of files) {
    app.get(url, { config: { auth: 'public' } }, (request, reply) => {
      reply.type(TYPES[path.extname(file)]).header('cache-control', 'no-cache');
      return reply.send(fs.createReadStream(file));
    });
  }
}

module.exports = { systemRoutes };
