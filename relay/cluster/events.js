'use strict';

/**
 * The queues' events (BullMQ QueueEvents, a Redis stream per queue) into the API node's runner:
 * progress (state, status, segments from the worker), completed, failed, stalled, removed, added.
 * Each API node reads every event, so SSE and the page work behind a load balancer.
 */

const { QueueEvents } = require('bullmq');
const { connect, PREFIX } = require('./redis');

/** Returns {close()}. */
function followQueues({ url, names, runner, log = console }) {
  const all = names.map((name) => {
    const events = new QueueEvents(name, { connection: connect(url, { name: `events-${name}`, log }), prefix: PREFIX });
    const guard = (what, fn) => (args) => {
      Promise.resolve().then(() => fn(args)).catch((err) => log.warn(`queue event ${what} (${args.jobId}): ${err.message}`));
    };
    events.on('progress', guard('progress', ({ jobId, data }) => runner.onProgress(jobId, data)));
    events.on('completed', guard('completed', ({ jobId, returnvalue }) => runner.onCompleted(jobId, returnvalue)));
    events.on('failed', guard('failed', ({ jobId }) => runner.onFailed(jobId)));
    events.on('stalled', guard('stalled', ({ jobId }) => runner.onStalled(jobId)));
    events.on('delayed', guard('delayed', ({ jobId }) => runner.onRequeued(jobId, 'Handed back or retried; queued again')));
    events.on('removed', guard('removed', ({ jobId }) => runner.onRemoved(jobId)));
    events.on('added', guard('added', ({ jobId }) => runner.hydrate(jobId)));
    events.on('error', (err) => log.warn(`queue events (${name}): ${err.message}`));
    return events;
  });
  return {
    ready: () => Promise.all(all.map((events) => events.waitUntilReady())),
    close: () => Promise.allSettled(all.map((events) => events.close())),
  };
}

module.exports = { followQueues };
