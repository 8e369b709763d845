'use strict';

/**
 * /api/transcriptions: create (upload, {url}, {path}), read, list, download formats, cancel.
 */

const fs = require('node:fs');
const path = require('node:path');
const { HttpError, capacityRefused } = require('../errors');
const { parseOptions, refuseLiveOnly } = require('../requests/options');
const { receiveUpload } = require('../media/uploads');
const { vetUrl } = require('../sources');
const { resolveMediaPath, pinMediaFile } = require('../media/folder');
const { vetModel } = require('../requests/models');
const { FORMATS, render } = require('../responses/formats');
const { jobView } = require('../responses/views');
const { ownerOf, visibleJob, listOwner } = require('../auth/ownership');
const { liveAdmission } = require('../auth/limits');

/** Why a sidecar refuses a live stream at its open: its measured capacity, or WHISPER_MAX_STREAMS open. */
const REFUSED_AT_OPEN = ['capacity', 'queue_full'];

const MB = 1024 * 1024;
const KIND_WAIT_MS = 5000;
const LIVE_KEYS = ['url', 'path', 'follow', 'from', 'max_duration_s', 'idle_timeout_s', 'follow_idle_s'];
const ID_WITH_FORMAT = /^([0-9a-f-]{36})(?:\.(txt|srt|vtt|json))?$/i;

/**
 * @param {import('fastify').FastifyInstance} app
 * @param {{config, runner: import('../jobs/transport').JobTransport, store, sidecar}} deps
 */
async function transcriptionRoutes(app, { config, runner, store, sidecar }) {
  const uploadsDir = path.join(config.dataDir, 'uploads');
  const admitLive = liveAdmission({ store, maxTotal: config.liveMaxJobs, maxPerKey: config.liveMaxJobsPerKey });

  app.post('/api/transcriptions', async (request, reply) => {
    const input = await receiveInput(request, { config, uploadsDir, sidecar });
    if (input.read) {
      // A URL or a followed file: the job reads it, starting now; the answer says its kind when the
      // first response tells it within a moment (a download's progress and failures are the job's).
      // The live slot is taken by the insert itself (a URL job counts until it turns out to be a
      // download): admitLive and submitSource run in one tick, so parallel POSTs cannot both pass.
      admitLive({ owner: ownerOf(request) });
      const created = runner.submitSource({ ...input.read, owner: ownerOf(request) });
      const job = await runner.waitForKind(created.id, KIND_WAIT_MS);
      // the sidecar refused the stream (its measured capacity, or WHISPER_MAX_STREAMS open): not accepted,
      // so no job is left behind, and the caller is told when to try again
      if (job && job.state === 'error' && job.error && REFUSED_AT_OPEN.includes(job.error.code)) {
        store.delete(job.id);
        throw capacityRefused(job.error);
      }
      reply.code(202).header('location', `/api/transcriptions/${job.id}`);
      return jobView(job, { full: false });
    }
    const job = runner.submit({ ...input, owner: ownerOf(request) });
    reply.code(202).header('location', `/api/transcriptions/${job.id}`);
    return jobView(job, { full: false });
  });

  app.get('/api/transcriptions', async (request) => {
    const limit = Math.min(Math.max(Number(request.query.limit) || 50, 1), 500);
    return { jobs: store.list({ limit, owner: listOwner(request) }).map((job) => jobView(job, { full: false })) };
  });

  app.get('/api/transcriptions/:id', async (request, reply) => {
    const { id, format } = parseId(request.params.id);
    const job = findJob(store, id, request);
    if (!format) return jobView(job, { live: runner.liveView(id) });
    if (job.state !== 'done') {
      throw new HttpError(409, 'not_ready', `Job ${id} is ${job.state}; formats are ready when it is done.`,
        { state: job.state });
    }
    const download = request.query.download !== undefined;
    if (download) reply.header('content-disposition', `attachment; filename="${id}.${format}"`);
    return reply.type(FORMATS[format]).send(render(job.result, format));
  });

  app.delete('/api/transcriptions/:id', async (request) => {
    const { id, format } = parseId(request.params.id);
    if (format) throw unknownJob(request.params.id);
    const job = findJob(store, id, request);
    if (runner.isStreaming(id)) {
      // A live job stops and keeps everything committed; a download is cancelled.
      const ended = await runner.cancel(id);
      return { id, state: ended.state, stopped: ended.state === 'done', cancelled: ended.state === 'cancelled' };
    }
    if (job.state === 'queued' || job.state === 'running') {
      runner.cancel(id);
      return { id, state: 'cancelled', cancelled: true };
    }
    // A finished job has nothing to cancel: DELETE removes it from the list.
    store.delete(id);
    return { id, state: job.state, deleted: true };
  });
}

async function receiveInput(request, { config, uploadsDir, sidecar }) {
  const vet = (options) => vetModel(options.model, { sidecar, allowed: config.allowedModels });
  if (request.isMultipart()) {
    const upload = await receiveUpload(request, { dir: uploadsDir, maxBytes: config.maxUploadMb * MB });
    try {
      const options = parseOptions(upload.fields);
      refuseLiveOnly(options, 'an uploaded file');
      await vet(options);
      return { source: 'upload', name: upload.name, mediaPath: upload.file, ownsMedia: true, options };
    } catch (err) {
      fs.rmSync(upload.file, { force: true });
      throw err;
    }
  }
  const body = request.body;
  if (!request.headers['content-type'] || !/^application\/json\b/i.test(request.headers['content-type'])
      || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(415, 'unsupported_media_type',
      'Send multipart/form-data with a file, or application/json with {"url": …} or {"path": …}.');
  }
  const given = ['url', 'path'].filter((key) => body[key] !== undefined);
  if (given.length !== 1) {
    throw new HttpError(400, 'missing_input', 'Give exactly one of "url" or "path" (or upload a file as multipart).');
  }
  const options = parseOptions(body, { ignore: LIVE_KEYS });
  await vet(options);
  if (given[0] === 'path') {
    const mediaPath = await resolveMediaPath(config.mediaDir, body.path);
    if (body.follow === true) {
      const limits = parseLiveLimits(body, config, { follow: true });
      return { read: { source: 'path', name: body.path, input: { path: mediaPath, follow: true, ...limits }, options } };
    }
    if (body.follow !== undefined && body.follow !== false) throw new HttpError(400, 'invalid_option', '"follow" must be true or false.', { param: 'follow' });
    refuseLiveOnly(options, 'a file path without "follow": true');
    // The sidecar opens a path later: it gets a link to (or a copy of) the file checked now, not a path to swap.
    const pinned = await pinMediaFile(config.mediaDir, body.path, uploadsDir);
    return { source: 'path', name: body.path, mediaPath: pinned, ownsMedia: true, options };
  }
  if (typeof body.url !== 'string') throw new HttpError(400, 'invalid_url', '"url" must be a string.');
  if (body.from !== undefined && body.from !== 'live' && body.from !== 'start') {
    throw new HttpError(400, 'invalid_option', '"from" must be "live" (the live edge, the default) or "start".', { param: 'from' });
  }
  // What needs no download is checked now (scheme, credentials, the first host's address).
  await vetUrl(body.url, { allowPrivate: config.allowPrivateUrls });
  const limits = parseLiveLimits(body, config);
  return { read: { source: 'url', name: body.url, input: { url: body.url, from: body.from || 'live', ...limits }, options } };
}

/** A live job's limits: the caller's value, at most the server's (which is also the default). */
const LIVE_LIMITS = [['max_duration_s', 'liveMaxDurationS'], ['idle_timeout_s', 'liveIdleTimeoutS'],
  ['follow_idle_s', 'followIdleS']];

/**
 * max_duration_s, idle_timeout_s, follow_idle_s (a followed file only): positive numbers of seconds,
 * lowered by a caller at will, never raised past LIVE_MAX_DURATION_S, LIVE_IDLE_TIMEOUT_S and
 * FOLLOW_IDLE_S. Returns the effective limits, kept with the job's input (its view shows them).
 */
function parseLiveLimits(body, config, { follow = false } = {}) {
  const limits = {};
  for (const [key, setting] of LIVE_LIMITS) {
    if (key === 'follow_idle_s' && !follow) continue;
    limits[key] = config[setting];
    if (body[key] === undefined || body[key] === null) continue;
    const value = Number(body[key]);
    if (typeof body[key] === 'boolean' || body[key] === '' || !Number.isFinite(value) || value <= 0) {
      throw new HttpError(400, 'invalid_option', `"${key}" must be a number of seconds above 0.`, { param: key });
    }
    limits[key] = Math.min(value, config[setting]);
  }
  return limits;
}

function parseId(raw) {
  const match = ID_WITH_FORMAT.exec(raw);
  if (!match) throw unknownJob(raw);
  return { id: match[1].toLowerCase(), format: match[2] ? match[2].toLowerCase() : null };
}

/** The job, when it exists and the request may see it (another key's job is unknown too). */
function findJob(store, id, request) {
  const job = visibleJob(store, id, request);
  if (!job) throw unknownJob(id);
  return job;
}

function unknownJob(id) {
  return new HttpError(404, 'unknown_job', `No transcription job ${JSON.stringify(id)}.`);
}

module.exports = { transcriptionRoutes, parseId, findJob };
