#!/usr/bin/env node
'use strict';

/**
 * `npm start`: the setup (npm dependencies, .venv, the sidecar), then the relay.
 */

const { setup } = require('./scripts/setup');

async function start() {
  await setup({ mode: 'start' });
  // Required only now: the setup may just have installed the relay's npm dependencies.
  const { main, stopOnSignals } = require('./relay');
  // `npm start -- --role worker`: main() reads --role from the command line (distributed mode).
  const { close, stopTimeoutMs } = await main();
  stopOnSignals(close, stopTimeoutMs);
}

start().catch((err) => {
  console.error(`npm start failed: ${err.message}`);
  process.exit(1);
});
