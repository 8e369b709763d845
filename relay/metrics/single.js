'use strict';

/**
 * Feeds the metrics in single-machine mode: the SQLite store for jobs by state and the queue, the
 * runner's 'finished' events, the one sidecar's restarts, the runner's live jobs.
 */

const { finishedFacts } = require('./index');

/** Args: {metrics, store (relay/store.js), runner (relay/jobs/local.js), sidecar}. */
function feedSingleMachine({ metrics, store, runner, sidecar }) {
  const counts = () => Object.fromEntries(store.db.all('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state')
    .map((row) => [row.state, row.n]));
  metrics.setSources({
    jobCounts: async () => counts(),
    queueDepth: async () => ({ local: counts().queued || 0 }),
    liveStreams: () => runner.liveStreams(),
  });
  runner.events.on('finished', (job) => {
    metrics.jobFinished(finishedFacts(job));
    if (job.state === 'error' && job.error && job.error.code === 'capacity') metrics.liveRefused();
  });
  if (sidecar && typeof sidecar.on === 'function') metrics.watchSidecar(sidecar, '0');
}

module.exports = { feedSingleMachine };
