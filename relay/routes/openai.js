'use strict';

/**
 * POST /v1/audio/transcriptions and /v1/audio/translations, GET /v1/models and /v1/models/{id},
 * shaped like OpenAI's API so the official SDKs work unchanged:
 * https://platform.openai.com/docs/api-reference/audio
 *
 * The request waits for the transcript (as OpenAI's does), or with stream=true gets it segment by
 * segment as Server-Sent Events (relay/responses/transcript-stream.js); the job is also stored and listed. A
 * client that hangs up cancels its job. Errors use OpenAI's body: {error: {message, type, param, code}}.
 */

const path = require('node:path');
const fs = require('node:fs');
const { HttpError, statusForJobError } = require('../errors');
const { parseOptions } = require('../requests/options');
const { receiveUpload } = require('../media/uploads');
const { render, toOpenAiVerbose } = require('../responses/formats');
const { streamTranscript, durationUsage, logprobsOf } = require('../responses/transcript-stream');
const { listModels, sidecarModel } = require('../requests/models');
const { ownerOf } = require('../auth/ownership');

const MB = 1024 * 1024;
const RESPONSE_FORMATS = ['json', 'text', 'srt', 'verbose_json', 'vtt'];
/** Fields OpenAI accepts that change nothing here. */
const IGNORED_FIELDS = new Set(['temperature', 'chunking_strategy']);
/** What stream=true can carry: the text, not subtitles or timestamps. */
const STREAM_FORMATS = ['json', 'text'];

async function openaiRoutes(app, { config, runner, sidecar }) {
  app.setErrorHandler((err, request, reply) => {
    const status = err instanceof HttpError || (err.statusCode >= 400 && err.statusCode < 500) ? err.statusCode : 500;
    const unexpected = status === 500 && !(err instanceof HttpError);
    if (unexpected) request.log.error(err);
    if (err.headers) reply.headers(err.headers);
    reply.code(status).send({
      error: {
        message: unexpected ? 'The relay failed; see its log.' : err.message,
        type: status >= 500 ? 'server_error' : 'invalid_request_error',
        param: (err.details && err.details.param) || null,
        code: unexpected ? 'internal_error' : err.code || null,
      },
    });
  });

  const uploadsDir = path.join(config.dataDir, 'uploads');
  for (const [route, task] of [['/v1/audio/transcriptions', 'transcribe'], ['/v1/audio/translations', 'translate']]) {
    app.post(route, async (request, reply) => {
      const upload = await receiveUpload(request, { dir: uploadsDir, maxBytes: config.maxUploadMb * MB });
      let sidecarRequest;
      try {
        sidecarRequest = toSidecarRequest(upload.fields, task);
        await require('../requests/models').vetModel(sidecarRequest.options.model, { sidecar, allowed: config.allowedModels });
      } catch (err) {
        fs.rmSync(upload.file, { force: true });
        throw err;
      }
      const job = runner.submit({
        source: 'openai', name: upload.name, mediaPath: upload.file, ownsMedia: true, options: sidecarRequest.options,
        owner: ownerOf(request),
      });
      if (sidecarRequest.stream) {
        return streamTranscript({ runner, jobId: job.id, reply, logprobs: Boolean(sidecarRequest.logprobs) });
      }
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) runner.cancel(job.id);
      });
      const finished = await runner.waitFor(job.id);
      if (finished.state !== 'done') {
        const error = finished.error || { code: finished.state, message: `The job ended ${finished.state}.` };
        throw new HttpError(statusForJobError(error.code), error.code, error.message);
      }
      return sendResult(reply, finished.result, sidecarRequest);
    });
  }

  app.get('/v1/models', async () => ({ object: 'list', data: await listModels({ sidecar }) }));
  // A wildcard, so hub ids with a slash (Systran/faster-whisper-small) work whether escaped or not.
  app.get('/v1/models/*', async (request) => {
    const id = request.params['*'];
    const model = (await listModels({ sidecar })).find((m) => m.id === id);
    if (!model) {
      throw new HttpError(404, 'model_not_found', `The model '${id}' does not exist or is not available here.`,
        { param: 'model' });
    }
    return model;
  });
}

function toSidecarRequest(fields, task) {
  const format = fields.response_format || 'json';
  if (!RESPONSE_FORMATS.includes(format)) {
    throw new HttpError(400, 'invalid_value',
      `response_format must be one of ${RESPONSE_FORMATS.join(', ')}, got ${JSON.stringify(format)}.`,
      { param: 'response_format' });
  }
  const stream = parseStream(fields.stream, task);
  if (stream && !STREAM_FORMATS.includes(format)) {
    throw new HttpError(400, 'unsupported_value',
      `response_format ${format} cannot be streamed; with stream=true use ${STREAM_FORMATS.join(' or ')}.`,
      { param: 'response_format' });
  }
  const granularities = [].concat(fields.timestamp_granularities || []);
  for (const g of granularities) {
    if (g !== 'word' && g !== 'segment') {
      throw new HttpError(400, 'invalid_value', `timestamp_granularities[] must be word or segment, got ${JSON.stringify(g)}.`,
        { param: 'timestamp_granularities[]' });
    }
  }
  const words = granularities.includes('word');
  const logprobs = parseInclude(fields.include, format, task);
  const model = sidecarModel(fields.model);
  const known = new Set(['file', 'model', 'language', 'prompt', 'response_format', 'timestamp_granularities', 'stream',
    'include']);
  const unknown = Object.keys(fields).find((key) => !known.has(key) && !IGNORED_FIELDS.has(key));
  if (unknown) {
    throw new HttpError(400, 'unknown_parameter', `Unrecognized request argument supplied: ${unknown}`, { param: unknown });
  }
  const options = parseOptions({
    model, language: fields.language, initial_prompt: fields.prompt, word_timestamps: words || undefined,
    task: task === 'translate' ? 'translate' : undefined,
  });
  if (logprobs) options.logprobs = true;
  const request = { options, format, task, words };
  if (logprobs) request.logprobs = true;
  return stream ? { ...request, stream } : request;
}

/**
 * include[]: its one value, logprobs (Whisper's text tokens and their log-probabilities, which the sidecar
 * scores on request), goes with json, streamed or not, as OpenAI's does; translations have no include[].
 */
function parseInclude(value, format, task) {
  const include = [].concat(value || []).filter(Boolean);
  if (include.length === 0) return false;
  const other = include.find((v) => v !== 'logprobs');
  if (task === 'translate') {
    throw new HttpError(400, 'unknown_parameter', 'Unrecognized request argument supplied: include', { param: 'include[]' });
  }
  if (other !== undefined) {
    throw new HttpError(400, 'invalid_value', `include[] can only be logprobs, got ${JSON.stringify(other)}.`,
      { param: 'include[]' });
  }
  if (format !== 'json') {
    throw new HttpError(400, 'unsupported_value', `include[]=logprobs needs response_format json, got ${format}.`,
      { param: 'include[]' });
  }
  return true;
}

/** stream is 'true' or 'false' in a form (both SDKs send it so); OpenAI streams no translation. */
function parseStream(value, task) {
  if (value === undefined || value === 'false') return false;
  if (value !== 'true') {
    throw new HttpError(400, 'invalid_value', `stream must be true or false, got ${JSON.stringify(value)}.`,
      { param: 'stream' });
  }
  if (task === 'translate') {
    throw new HttpError(400, 'unknown_parameter', 'Unrecognized request argument supplied: stream', { param: 'stream' });
  }
  return true;
}

function sendResult(reply, result, { format, task, words, logprobs }) {
  switch (format) {
    case 'text': return reply.type('text/plain; charset=utf-8').send(`${(result.text || '').trim()}\n`);
    case 'srt': return reply.type('text/plain; charset=utf-8').send(render(result, 'srt'));
    case 'vtt': return reply.type('text/plain; charset=utf-8').send(render(result, 'vtt'));
    case 'verbose_json': return { ...toOpenAiVerbose(result, { task, words }), ...usageOf(result, task) };
    default: return { text: (result.text || '').trim(), ...(logprobs ? { logprobs: logprobsOf(result.segments) } : {}),
      ...usageOf(result, task) };
  }
}

/** OpenAI sends usage on transcriptions (duration-billed models), not on translations. */
function usageOf(result, task) {
  return task === 'transcribe' ? { usage: durationUsage(result.duration) } : {};
}

module.exports = { openaiRoutes, toSidecarRequest };
