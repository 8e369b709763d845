'use strict';

/**
 * GET /api/transcriptions/:id/events — Server-Sent Events for one job.
 *
 * A client that connects late first gets a `snapshot` (the job without its result) and every
 * segment so far, then the live events: `state`, `status`, `progress`, `segment`, `reset` (a retry
 * after a sidecar crash starts over: keep only the first `keep` segments), and one final event,
 * `done`, `error` or `cancelled`, after which the stream ends.
 */

const { parseId, findJob } = require('./transcriptions');
const { jobView } = require('../responses/views');
const { openEventStream, writeEvent, writeComment } = require('../responses/sse');

const HEARTBEAT_MS = 15000;
const FINAL = new Set(['done', 'error', 'cancelled']);

async function eventRoutes(app, { runner, store, streams }) {
  app.get('/api/transcriptions/:id/events', async (request, reply) => {
    const { id } = parseId(request.params.id);
    const job = findJob(store, id, request);
    const release = streams.acquire(request); // 429 when the caller has too many streams open
    reply.hijack();
    const res = reply.raw;
    openEventStream(res);
    // Bounded: a client that does not read is dropped (relay/responses/sse.js), which ends the stream below.
    const send = (event, data) => writeEvent(res, data, event);

    // Everything below until the subscription runs in one tick, so no event can fall in between.
    send('snapshot', jobView(job, { full: false }));
    if (FINAL.has(job.state)) {
      replayFinished(job, send);
      if (!res.destroyed) res.end();
      release();
      return;
    }
    const live = runner.liveView(id);
    for (const segment of live ? live.segments : []) send('segment', segment);

    const heartbeat = setInterval(() => writeComment(res, 'ping'), HEARTBEAT_MS);
    const onEvent = ({ type, data }) => {
      send(type, data);
      if (FINAL.has(type)) close();
    };
    const close = () => {
      release();
      clearInterval(heartbeat);
      runner.events.off(id, onEvent);
      if (!res.writableEnded) res.end();
    };
    runner.events.on(id, onEvent);
    res.on('close', close);
  });
}

function replayFinished(job, send) {
  if (job.state === 'done') {
    for (const segment of job.result.segments || []) send('segment', segment);
    send('progress', { progress: 1 });
    send('done', { state: 'done', text: job.result.text, device: job.device });
  } else {
    send(job.state, { state: job.state, error: job.error });
  }
}

module.exports = { eventRoutes };
