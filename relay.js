#!/usr/bin/env node
'use strict';

/**
 * The relay: starts the sidecar through node_bridge, prints the GPU diagnostics, serves the HTTP
 * API and the web page. `node relay.js` (or `npm start`, which runs the setup first).
 */

const { loadConfig, ROOT } = require('./relay/config');
const { buildRelay } = require('./relay/app');
const { formatGpuReport } = require('./relay/responses/diagnostics');
const { keyRingFromConfig } = require('./relay/auth/keys');
const { exposureProblem, keysBanner } = require('./relay/auth/exposure');
const { roleFromArgs } = require('./relay/cluster/role');

const STOP_TIMEOUT_MS = 10000;

/**
 * Starts everything. Returns {app, sidecar, close()}.
 * Args: options — {config, env, log (a console-like object for the startup lines),
 *   argv (for --role; REDIS_URL set: distributed mode, relay/cluster/, docs/scaling.md)}.
 */
async function main({ env = process.env, config = loadConfig(env), log = console, argv = process.argv.slice(2) } = {}) {
  // Keys and the exposure rule first: a relay that must not start starts nothing.
  const keyring = keyRingFromConfig(config);
  const problem = exposureProblem(config, keyring);
  if (problem) throw new Error(problem);
  const role = roleFromArgs(argv, config.role);
  if (config.redisUrl) return startDistributed({ config, role, keyring, log });
  if (role !== 'all') throw new Error(`--role ${role} needs REDIS_URL (distributed mode); without it the relay is one process`);

  const { WhisperSidecar, attachConsoleReporter } = require('./node_bridge');
  const sidecar = new WhisperSidecar({ projectRoot: ROOT, cwd: ROOT });
  // The old relay's lines (STATUS:..., "Transcription complete! Used: CUDA"); the GPU report is ours.
  attachConsoleReporter(sidecar, {
    write: (line) => log.log(line),
    writeError: (line) => log.error(line),
    stderr: config.logLevel === 'debug' || config.logLevel === 'trace',
    gpuSummary: false,
  });

  log.log('Starting the whisper sidecar...');
  await sidecar.start();
  // The device check (a child process loading the model on CUDA) can take a while on a GPU
  // machine: serve meanwhile, and print the diagnostics once the device is decided.
  const diagnostics = sidecar.gpuStatus({ wait: true }, { timeout: 600000 })
    .then((gpu) => { for (const line of formatGpuReport(gpu)) log.log(line); })
    .catch((err) => log.warn(`gpu_status failed: ${err.message}`));

  const app = buildRelay({ config, sidecar, keyring });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await sidecar.stop();
    throw err;
  }
  const address = app.server.address();
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  log.log(`Relay listening on http://${host}:${address.port}/ (data in ${config.dataDir})`);
  log.log(keysBanner(config, keyring));

  let closing = null;
  const close = () => {
    closing = closing || Promise.allSettled([app.close()]).then(() => sidecar.stop());
    return closing;
  };
  return { app, sidecar, config, close, diagnostics, keyring };
}

async function startDistributed({ config, role, keyring, log }) {
  const { startCluster } = require('./relay/cluster');
  const node = await startCluster({ config, role, keyring, log });
  if (node.app) {
    const address = node.app.server.address();
    log.log(`Relay (${role}, distributed on Redis) listening on port ${address.port}`);
    log.log(keysBanner(config, keyring));
  }
  if (node.worker) log.log(`Worker ${node.nodeId} taking jobs (${node.worker.pool.sidecars.length} sidecars)`);
  // A worker's SIGTERM lets its jobs finish for WORKER_DRAIN_S before handing them back.
  const stopTimeoutMs = STOP_TIMEOUT_MS + config.workerDrainS * 1000;
  return { ...node, sidecar: null, keyring, diagnostics: Promise.resolve(), stopTimeoutMs };
}

/** Re-reads RELAY_API_KEYS_FILE on SIGHUP; a file that does not read keeps the keys in use. */
function reloadKeysOnSighup(keyring, log = console) {
  process.on('SIGHUP', () => {
    const outcome = keyring.reload();
    if (outcome.ok) log.log(`SIGHUP: keys re-read (${outcome.count.keys} keys, ${outcome.count.admin} admin)`);
    else log.error(`SIGHUP: the keys file did not read, the keys in use stay: ${outcome.error}`);
  });
}

/** Stops cleanly on SIGINT/SIGTERM, and for good after a second signal or a stuck stop. */
function stopOnSignals(close, timeoutMs = STOP_TIMEOUT_MS) {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      if (stopping) process.exit(1);
      stopping = true;
      console.log(`${signal}: stopping the relay and the sidecar...`);
      setTimeout(() => process.exit(1), timeoutMs).unref();
      close().then(() => process.exit(0), () => process.exit(1));
    });
  }
}

if (require.main === module) {
  main().then(({ close, keyring, stopTimeoutMs }) => {
    stopOnSignals(close, stopTimeoutMs);
    reloadKeysOnSighup(keyring);
  }, (err) => {
    console.error(`The relay could not start: ${err.message}`);
    process.exit(1);
  });
}

module.exports = { main, stopOnSignals, reloadKeysOnSighup };
