'use strict';

/**
 * GET /metrics in Prometheus' text format. Open without a key unless METRICS_REQUIRE_KEY
 * (relay/auth/hook.js decides).
 */

async function metricsRoutes(app, { metrics }) {
  app.get('/metrics', async (request, reply) => {
    reply.type(metrics.register.contentType);
    return metrics.register.metrics();
  });
}

module.exports = { metricsRoutes };
