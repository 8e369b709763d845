'use strict';

/**
 * Distributed mode's costs and gains (issue 14), with real processes, a real redis-server and the
 * base int8 model on whatever this machine has:
 *
 *   1. per-job overhead of the queue: one short clip at a time, POST → `done` on SSE, single-machine
 *      mode (`node relay.js`) against distributed mode (an API process and one worker process);
 *   2. throughput with one worker process and with two, on this machine: a batch of short clips
 *      submitted at once, wall time until the last is done.
 *
 *   node bench/cluster.js [--repeat 8] [--batch 12]      prints markdown tables; JSON to bench-cluster.json
 *
 * GPU workers are measured the same way on a GPU machine (the worker then runs one sidecar per GPU).
 */

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { fixture, tempDir, readEvents, uploadFile } = require('../tests/relay/helpers');
const { SECRET, startRedis, startNode, stopNode } = require('../tests/cluster/helpers');

const SHORT = 'hello';
const MIX = ['hello', 'numbers', 'weather'];
const ENV = { WHISPER_DEVICE: process.env.WHISPER_DEVICE || 'cpu', WHISPER_MODEL: 'base', WHISPER_COMPUTE_TYPE: 'int8' };

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

/** `node relay.js` in single-machine mode on a free port. */
async function startSingle() {
  const proc = spawn(process.execPath, ['relay.js'], {
    cwd: path.resolve(__dirname, '..'),
    env: { ...process.env, ...ENV, HOST: '127.0.0.1', PORT: '0', DATA_DIR: tempDir('bench-single-'), LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    let seen = '';
    proc.stdout.on('data', (chunk) => {
      seen += chunk;
      const match = /listening on http:\/\/[^ ]+:(\d+)\//.exec(seen);
      if (match) resolve(match[1]);
    });
    proc.once('exit', () => reject(new Error(`the relay exited: ${seen}`)));
  });
  return { proc, exited, url: `http://127.0.0.1:${port}` };
}

/** One job: POST, then SSE to `done`; returns {ms, duration}. */
async function oneJob(url, name) {
  const began = process.hrtime.bigint();
  const { status, body } = await uploadFile(url, fixture(`${name}.flac`));
  if (status !== 202) throw new Error(`upload answered ${status}: ${JSON.stringify(body)}`);
  const events = await readEvents(`${url}/api/transcriptions/${body.id}/events`);
  const last = events[events.length - 1];
  if (last.event !== 'done') throw new Error(`job ${body.id} ended ${last.event}: ${JSON.stringify(last.data)}`);
  const ms = Number(process.hrtime.bigint() - began) / 1e6;
  const job = await (await fetch(`${url}/api/transcriptions/${body.id}`)).json();
  // The sidecar's own time (queue in it, model, decode+transcribe): what is left is the relay's.
  const t = job.result.timings || {};
  const sidecarMs = 1000 * ((t.queue_s || 0) + (t.load_s || 0) + (t.transcribe_s || 0));
  return { ms, outsideMs: ms - sidecarMs, duration: job.result.duration };
}

async function sequential(url, repeat) {
  await oneJob(url, SHORT); // warm-up: the first job loads the model
  const times = [];
  for (let i = 0; i < repeat; i += 1) times.push((await oneJob(url, SHORT)).ms);
  return times;
}

async function batch(url, size) {
  await oneJob(url, SHORT);
  const began = Date.now();
  const jobs = await Promise.all(Array.from({ length: size }, (_, i) => oneJob(url, MIX[i % MIX.length])));
  const wallS = (Date.now() - began) / 1000;
  const audioS = jobs.reduce((sum, j) => sum + j.duration, 0);
  return { wallS, audioS, jobsPerMin: (size / wallS) * 60, speed: audioS / wallS };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main() {
  const repeat = option('--repeat', 10);
  const size = option('--batch', 12);
  const results = { machine: { cpus: os.cpus().length, model: os.cpus()[0].model, memGiB: Math.round(os.totalmem() / 2 ** 30) } };
  const load = () => os.loadavg()[0].toFixed(1);

  // Both modes up at once (an idle sidecar costs no CPU), one request at a time, alternating, so
  // that what else the machine runs weighs on both sides alike.
  const redis = await startRedis();
  const env = { ...ENV, REDIS_URL: redis.url, CLUSTER_SECRET: SECRET };
  const nodes = [];
  let single = null;
  try {
    let api;
    let w1;
    [single, api, w1] = await Promise.all([startSingle(), startNode('api', env), startNode('worker', env)]);
    nodes.push(api, w1);
    await oneJob(single.url, SHORT);
    await oneJob(api.url, SHORT);
    results.single = [];
    results.distributed = [];
    results.singleOutside = [];
    results.distributedOutside = [];
    results.loadOverhead = [load()];
    for (let i = 0; i < repeat; i += 1) {
      const order = i % 2 ? [['distributed', api], ['single', single]] : [['single', single], ['distributed', api]];
      for (const [side, node] of order) {
        const job = await oneJob(node.url, SHORT);
        results[side].push(job.ms);
        results[`${side}Outside`].push(job.outsideMs);
      }
    }
    results.loadOverhead.push(load());
    single.proc.kill('SIGTERM');
    await single.exited;
    single = null;

    // Throughput: one worker, two, one again (drift shows as a difference between the two "one" runs).
    results.loadThroughput = [load()];
    results.oneWorker = await batch(api.url, size);
    const w2 = await startNode('worker', env);
    nodes.push(w2);
    results.twoWorkers = await batch(api.url, size);
    await stopNode(w2);
    results.oneWorkerAgain = await batch(api.url, size);
    results.loadThroughput.push(load());
  } finally {
    if (single) single.proc.kill('SIGTERM');
    await Promise.allSettled(nodes.map((node) => stopNode(node)));
    await redis.stop();
  }

  const s = median(results.single);
  const d = median(results.distributed);
  const pairs = results.single.map((ms, i) => results.distributed[i] - ms);
  const outsidePairs = results.singleOutside.map((ms, i) => results.distributedOutside[i] - ms);
  const so = results.singleOutside;
  const dout = results.distributedOutside;
  const lines = [
    `Machine: ${results.machine.cpus} CPU cores (${results.machine.model}), ${results.machine.memGiB} GiB; base int8 on ${ENV.WHISPER_DEVICE}.`,
    `Load average (1 min) during the overhead runs: ${results.loadOverhead.join(' → ')}; during the throughput runs: ${results.loadThroughput.join(' → ')}.`,
    '',
    `| ${SHORT}.flac, one at a time, alternating (${repeat} runs each) | median ms | min | max |`,
    '| --- | ---: | ---: | ---: |',
    `| single-machine (\`node relay.js\`) | ${s.toFixed(0)} | ${Math.min(...results.single).toFixed(0)} | ${Math.max(...results.single).toFixed(0)} |`,
    `| distributed (API + 1 worker process, Redis) | ${d.toFixed(0)} | ${Math.min(...results.distributed).toFixed(0)} | ${Math.max(...results.distributed).toFixed(0)} |`,
    `| difference, wall time (median of the paired differences) | ${median(pairs).toFixed(0)} | ${Math.min(...pairs).toFixed(0)} | ${Math.max(...pairs).toFixed(0)} |`,
    '',
    `| the same jobs, time outside the sidecar (wall minus its queue, load and transcribe timings) | median ms | min | max |`,
    '| --- | ---: | ---: | ---: |',
    `| single-machine | ${median(so).toFixed(0)} | ${Math.min(...so).toFixed(0)} | ${Math.max(...so).toFixed(0)} |`,
    `| distributed | ${median(dout).toFixed(0)} | ${Math.min(...dout).toFixed(0)} | ${Math.max(...dout).toFixed(0)} |`,
    `| **overhead of the queue** (median of the paired differences) | **${median(outsidePairs).toFixed(0)}** | ${Math.min(...outsidePairs).toFixed(0)} | ${Math.max(...outsidePairs).toFixed(0)} |`,
    '',
    `| ${size} short clips at once (distributed) | wall s | jobs/min | audio s per wall s |`,
    '| --- | ---: | ---: | ---: |',
    ...[['1 worker process', results.oneWorker], ['2 worker processes', results.twoWorkers], ['1 worker process, again', results.oneWorkerAgain]]
      .map(([label, r]) => `| ${label} | ${r.wallS.toFixed(1)} | ${r.jobsPerMin.toFixed(1)} | ${r.speed.toFixed(2)} |`),
  ];
  console.log(lines.join('\n'));
  fs.writeFileSync('bench-cluster.json', `${JSON.stringify(results, null, 2)}\n`);
}

main().catch((err) => {
  console.error(`bench/cluster.js failed: ${err.stack || err.message}`);
  process.exit(1);
});
