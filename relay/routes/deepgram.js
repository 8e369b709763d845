'use strict';

/**
 * Deepgram-compatible /v1/listen, so clients written for Deepgram (its SDKs, live-captioning apps)
 * work against the relay:
 *   GET /v1/listen (WebSocket)  live: binary audio in; Results, SpeechStarted, UtteranceEnd, Metadata
 *                               out (relay/deepgram/live.js); KeepAlive, Finalize, CloseStream.
 *   POST /v1/listen             pre-recorded: the audio as the body, or JSON {url}; answers
 *                               {metadata, results: {channels: [{alternatives: [...]}]}}.
 * Query options: relay/deepgram/options.js (anything not supported is refused by name: 400 before
 * the upgrade). Keys: the security hook, which also takes `Authorization: Token <key>` and the
 * browser's `token, <key>` subprotocol. Errors are Deepgram's {err_code, err_msg, request_id}, with the
 * relay's `error` object beside them.
 */

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { Transform } = require('node:stream');
const { pipeline } = require('node:stream/promises');
const { HttpError, statusForJobError } = require('../errors');
const { parseOptions } = require('../requests/options');
const { downloadFile } = require('../jobs/run');
const { ownerOf } = require('../auth/ownership');
const { DeepgramError, readLiveOptions, readPrerecordedOptions } = require('../deepgram/options');
const { DeepgramLive } = require('../deepgram/live');
const { metadataOf, prerecordedResponse } = require('../deepgram/results');

const MB = 1024 * 1024;
const CLOSE_TRY_LATER = 1013;

async function deepgramRoutes(app, { config, runner, sidecar, streams }) {
  app.setErrorHandler((err, request, reply) => {
    const known = err instanceof DeepgramError || err instanceof HttpError
      || (err.statusCode >= 400 && err.statusCode < 500);
    if (!known) request.log.error(err);
    if (err.headers) reply.headers(err.headers);
    const status = known ? err.statusCode : 500;
    const code = status === 401 ? 'INVALID_AUTH' : (known && err.code) || 'INTERNAL_SERVER_ERROR';
    const message = known ? err.message : 'The relay failed; see its log.';
    // Deepgram's fields, and the relay's `error` object as on every /v1 route (OpenAI's shape).
    reply.code(status).header('dg-error', code).send({
      err_code: code, err_msg: message, request_id: crypto.randomUUID(),
      error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', param: null,
        code: known ? err.code || null : 'internal_error' },
    });
  });
  // The pre-recorded body is audio of any type: read as a stream by the handler.
  app.addContentTypeParser('*', (request, payload, done) => done(null, payload));

  app.route({
    method: 'GET',
    url: '/v1/listen',
    // Options are read before the upgrade, so a bad one is a plain 400 (as Deepgram answers).
    preValidation: async (request) => {
      request.deepgramOptions = readLiveOptions(request.query || {});
    },
    handler: async () => ({ // a plain GET says how to connect, as /v1/realtime does
      object: 'listen.endpoint',
      message: 'GET /v1/listen is a WebSocket (Upgrade: websocket) for live audio; send a file with POST /v1/listen.',
    }),
    wsHandler: (socket, request) => serveLive(socket, request, { sidecar, streams }),
  });

  app.post('/v1/listen', async (request, reply) => {
    const options = readPrerecordedOptions(request.query || {});
    const audio = await receiveAudio(request, config);
    const job = runner.submit({
      source: 'deepgram', name: audio.name, mediaPath: audio.file, ownsMedia: true, owner: ownerOf(request),
      options: parseOptions({ language: options.language || undefined, word_timestamps: true }),
    });
    reply.raw.on('close', () => { // the client hung up: its job is cancelled
      if (!reply.raw.writableFinished) runner.cancel(job.id);
    });
    const finished = await runner.waitFor(job.id);
    if (finished.state !== 'done') {
      const error = finished.error || { code: finished.state, message: `The job ended ${finished.state}.` };
      throw new HttpError(statusForJobError(error.code), error.code, error.message);
    }
    const { result } = finished;
    const metadata = metadataOf({ requestId: job.id, sha256: audio.sha256, created: new Date().toISOString(),
      duration: result.duration || 0, channels: 1, model: result.model || 'whisper' });
    return prerecordedResponse(result, { metadata, punctuate: options.punctuate });
  });
}

/**
 * The pre-recorded audio as a file in the uploads folder: the request body, or the JSON {url}'s
 * download. Returns {file, name, sha256}. Raises HttpError / DeepgramError.
 */
async function receiveAudio(request, config) {
  const dir = path.join(config.dataDir, 'uploads');
  await fs.promises.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${crypto.randomUUID()}.audio`);
  const body = request.body;
  if (body && typeof body.pipe !== 'function') { // JSON
    if (typeof body.url !== 'string' || Object.keys(body).some((k) => k !== 'url')) {
      throw new DeepgramError('A JSON body must be {"url": "https://…"}; send audio as the body otherwise.');
    }
    const downloaded = await downloadFile(body.url, { config, downloadDir: dir });
    return { file: downloaded.file, name: body.url, sha256: await sha256Of(downloaded.file) };
  }
  if (!body) throw new DeepgramError('The request has no audio: send it as the body, or JSON {"url"}.');
  const hash = crypto.createHash('sha256');
  const maxBytes = config.maxUploadMb * MB;
  let bytes = 0;
  const count = new Transform({ transform(chunk, encoding, done) {
    bytes += chunk.length;
    if (bytes > maxBytes) return done(new HttpError(413, 'upload_too_large', `The audio is over ${config.maxUploadMb} MB.`));
    hash.update(chunk);
    return done(null, chunk);
  } });
  try {
    await pipeline(body, count, fs.createWriteStream(file));
  } catch (err) {
    fs.rmSync(file, { force: true });
    throw err instanceof HttpError ? err : new HttpError(400, 'upload_failed', `The audio did not arrive: ${err.message}`);
  }
  if (bytes === 0) {
    fs.rmSync(file, { force: true });
    throw new DeepgramError('The request body is empty: send the audio as the body.');
  }
  return { file, name: 'deepgram-upload', sha256: hash.digest('hex') };
}

async function sha256Of(file) {
  const hash = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}

function serveLive(socket, request, { sidecar, streams }) {
  let release;
  try {
    release = streams.acquire(request);
  } catch (err) {
    socket.close(CLOSE_TRY_LATER, Buffer.from(err.message).subarray(0, 123).toString());
    return;
  }
  const live = new DeepgramLive({
    sidecar, options: request.deepgramOptions, log: request.log,
    send: (message) => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
    },
    close: (code, reason) => socket.close(code, reason),
    flow: { pause: () => socket.pause(), resume: () => socket.resume() },
  });
  socket.on('message', (data, isBinary) => {
    if (isBinary) return live.audio(Buffer.isBuffer(data) ? data : Buffer.concat([].concat(data)));
    try {
      live.control(data.toString('utf8'));
    } catch (err) {
      live.fail(err);
    }
  });
  socket.on('close', () => {
    live.end();
    release();
  });
}

module.exports = { deepgramRoutes };
