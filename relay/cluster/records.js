'use strict';

/**
 * Between BullMQ jobs (the truth in distributed mode) and the replica's rows (relay/store.js).
 *
 * A worker returns {result, device, attempts, startedAt, processingS}; a failure's reason is
 * "<code>: <message>" (./worker.js), BullMQ's own for a job that stalled too often; a live stream
 * that failed leaves what it committed in the job's data (`partial`).
 */

const STALLED = /stalled more than allowable limit/i;

function iso(ms) {
  return ms ? new Date(ms).toISOString() : null;
}

/** Attempts as users see them: failed attempts plus lost workers, plus the one running. */
function attemptsOf(queueJob, running) {
  return (queueJob.attemptsMade || 0) + (queueJob.stalledCounter || 0) + (running ? 1 : 0);
}

/** The done fields from a worker's return value (a string in some BullMQ events). */
function returnedResult(returnvalue) {
  const value = typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue || {};
  const result = value.result || {};
  return {
    result: value.result, device: value.device || null, progress: 1, attempts: value.attempts || 1,
    started_at: value.startedAt || null, processingS: value.processingS == null ? null : value.processingS,
    message: null, stage: null,
    // a live stream: its kind, and whether DELETE stopped it
    ...(result.live ? { kind: result.kind || null, live: 1, stopped: result.stopped ? 1 : 0 } : {}),
  };
}

/** {state, fields} for a final failure. */
function parseFailure(reason, attempts) {
  const text = String(reason || 'failed');
  let code = 'transcription_failed';
  let message = text;
  const match = /^([a-z_]+): ([\s\S]*)$/.exec(text);
  if (match) [, code, message] = match;
  else if (STALLED.test(text)) {
    code = 'worker_lost';
    message = `Its workers stopped answering ${attempts} times; given up.`;
  }
  return { state: code === 'cancelled' ? 'cancelled' : 'error', fields: { error: { code, message }, attempts } };
}

/**
 * Args: queueJob (a BullMQ Job), state (its getState()).
 * Returns: {id, insert (a replica row for a job this node has not seen), update | final} or null.
 */
function fromQueueJob(queueJob, state) {
  const data = queueJob.data || {};
  if (!data.id) return null;
  const insert = {
    id: data.id, source: data.source, name: data.name, options: data.options || {}, owner: data.owner || null,
    createdAt: data.createdAt, mediaPath: '', ownsMedia: false,
  };
  if (state === 'completed') {
    const fields = returnedResult(queueJob.returnvalue);
    return { id: data.id, insert, final: { state: 'done', fields: { ...fields, finished_at: iso(queueJob.finishedOn) } } };
  }
  if (state === 'failed') {
    const final = parseFailure(queueJob.failedReason, attemptsOf(queueJob, false));
    final.fields.finished_at = iso(queueJob.finishedOn);
    const partial = data.partial; // a live stream that failed: what it committed until then (./worker.js)
    if (partial) Object.assign(final.fields, { result: partial, kind: partial.kind || null, live: 1 });
    return { id: data.id, insert, final };
  }
  if (state === 'active') {
    return { id: data.id, insert, update: { state: 'running', started_at: iso(queueJob.processedOn), attempts: attemptsOf(queueJob, true) } };
  }
  return { id: data.id, insert, update: { state: 'queued' } };
}

module.exports = { fromQueueJob, returnedResult, parseFailure, attemptsOf };
