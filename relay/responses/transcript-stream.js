'use strict';

/**
 * POST /v1/audio/transcriptions with stream=true: a job's segments as OpenAI's transcription stream.
 *
 *   data: {"type":"transcript.text.delta","delta":"Hello world."}     one per decoded segment
 *   data: {"type":"transcript.text.done","text":"Hello world. ..."}  once, then the stream ends
 *
 * The 200 and the headers go out with the first delta, so a job that fails before its first segment
 * (not audio, a bad option) is answered with a plain HTTP error, as without stream. A failure after
 * that is an `event: error` whose data carries OpenAI's error object (both official SDKs raise
 * APIError on it), then the end of the stream.
 *
 * Retries never repeat text: a retry (the bridge's after a sidecar crash, announced by the runner's
 * `reset {keep}`, or the relay's re-queue, a new `running` state) starts the segments over, and a
 * delta goes out only for a segment past the last one already sent. `done` carries the final
 * transcript and `usage` as OpenAI gives it for duration-billed models ({type: 'duration', seconds}:
 * the audio's length, whole seconds rounded up). With include[]=logprobs (`logprobs: true`) each delta
 * carries `logprobs`, its segment's tokens [{token, logprob, bytes}] (the first delta's text is trimmed
 * of its leading space, its first token is not).
 */

const { HttpError, statusForJobError } = require('../errors');
const { openEventStream, writeEvent } = require('./sse');
const { FINAL_STATES } = require('../jobs/store');

/**
 * Streams one submitted job to the client.
 *
 * Args: {runner (a JobTransport, relay/jobs/transport.js), jobId, reply (fastify's reply; hijacked at
 *   the first byte), logprobs (each delta carries its segment's logprobs)}.
 * Returns: a Promise that resolves once the stream has ended (or the client has gone, which cancels
 *   the job).
 * Raises (rejects): HttpError when the job fails before anything was sent.
 */
function streamTranscript({ runner, jobId, reply, logprobs = false }) {
  const res = reply.raw;
  return new Promise((resolve, reject) => {
    let attempt = 0; // segments of the current attempt
    let sent = 0; // segments whose text went out as deltas
    let text = '';

    const begin = () => {
      if (res.headersSent) return;
      reply.hijack();
      openEventStream(res);
    };
    const end = () => {
      runner.events.off(jobId, onEvent);
      res.off('close', onClose);
      if (res.headersSent && !res.writableEnded) res.end();
      resolve();
    };
    const onSegment = (segment) => {
      attempt += 1;
      if (attempt <= sent) return; // already sent by an earlier attempt
      sent = attempt;
      const delta = text ? String(segment.text || '') : String(segment.text || '').trimStart();
      if (!delta) return;
      begin();
      text += delta;
      writeEvent(res, logprobs ? { type: 'transcript.text.delta', delta, logprobs: logprobsOf([segment]) }
        : { type: 'transcript.text.delta', delta });
    };
    const onFinal = (type, data) => {
      if (type === 'done') {
        begin();
        const job = runner.store.get(jobId);
        writeEvent(res, { type: 'transcript.text.done', text: String(data.text || '').trim(),
          usage: durationUsage(job && job.result && job.result.duration) });
        end();
        return;
      }
      const error = data.error || { code: type, message: `The job ended ${type}.` };
      if (!res.headersSent) {
        runner.events.off(jobId, onEvent);
        res.off('close', onClose);
        reject(new HttpError(statusForJobError(error.code), error.code, error.message));
        return;
      }
      const status = statusForJobError(error.code);
      writeEvent(res, {
        type: 'error',
        error: {
          message: error.message,
          type: status >= 500 ? 'server_error' : 'invalid_request_error',
          param: null,
          code: error.code || null,
        },
      }, 'error');
      end();
    };
    const onEvent = ({ type, data }) => {
      if (type === 'segment') onSegment(data);
      else if (type === 'reset') attempt = Math.min(attempt, data.keep);
      else if (type === 'state' && data.state === 'running') attempt = 0;
      else if (FINAL_STATES.includes(type)) onFinal(type, data);
    };
    // The client went away before the end: cancel the job (as the non-streaming route does).
    const onClose = () => {
      if (res.writableEnded) return;
      if (!res.headersSent) reply.hijack(); // nothing more will be sent on this socket
      runner.cancel(jobId);
      runner.events.off(jobId, onEvent);
      resolve();
    };

    runner.events.on(jobId, onEvent);
    res.on('close', onClose);
    const job = runner.store.get(jobId);
    if (!job) {
      onFinal('error', { error: { code: 'not_found', message: `The job ${jobId} is gone.` } });
    } else if (FINAL_STATES.includes(job.state)) {
      onFinal(job.state, job.state === 'done' ? { text: job.result.text } : { error: job.error });
    } else {
      const live = runner.liveView(jobId);
      for (const segment of live ? live.segments : []) onSegment(segment);
    }
  });
}

/** OpenAI's usage for duration-billed models: {type: 'duration', seconds} (whole seconds, rounded up). */
function durationUsage(durationS) {
  return { type: 'duration', seconds: Math.ceil(Number(durationS) || 0) };
}

/** The segments' token logprobs, in order, as OpenAI's [{token, logprob, bytes}]. */
function logprobsOf(segments) {
  return (segments || []).flatMap((segment) => segment.logprobs || []);
}

module.exports = { streamTranscript, durationUsage, logprobsOf };
