'use strict';

/**
 * The Node side of the overhead figures: one warm sidecar through node_bridge, timed from
 * `transcribe()` to its resolved promise.
 *
 *   node bench/node_overhead.js [--repeat N] [FILE...]   standalone: prints a JSON summary
 *   node bench/node_overhead.js --serve                  for `python -m bench`: one JSON path per
 *                                                        stdin line, one JSON timing per stdout line
 *
 * The sidecar runs with WHISPER_DEVICE=cpu, WHISPER_MODEL=base, WHISPER_COMPUTE_TYPE=int8 (the
 * in-process side's settings) unless the environment already sets them.
 */

const path = require('node:path');
const readline = require('node:readline');

const ROOT = path.resolve(__dirname, '..');
const FIXTURES = ['hello', 'weather', 'numbers', 'story'].map(
  (n) => path.join(ROOT, 'tests', 'fixtures', 'audio', `${n}.flac`));
const BASE_ENV = { WHISPER_DEVICE: 'cpu', WHISPER_MODEL: 'base', WHISPER_COMPUTE_TYPE: 'int8', WHISPER_BATCH_THRESHOLD_S: '0' };

function loadBridge() {
  try {
    return require('../node_bridge');
  } catch (error) {
    throw new Error(`node_bridge is not available (${error.message}); the Node figures need it`);
  }
}

async function startWarm() {
  const { WhisperSidecar } = loadBridge();
  const env = {};
  for (const [key, value] of Object.entries(BASE_ENV)) env[key] = process.env[key] || value;
  const sidecar = new WhisperSidecar({ projectRoot: ROOT, env, logger: null });
  const t0 = performance.now();
  await sidecar.start();
  const readyMs = performance.now() - t0;
  for (;;) {
    const status = await sidecar.gpuStatus();
    if (status.model_loaded) break;
    if (status.model_error) throw new Error(`the model did not load: ${status.model_error}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { sidecar, readyMs, warmMs: performance.now() - t0 };
}

async function timeOne(sidecar, file) {
  const t0 = performance.now();
  const result = await sidecar.transcribe(file);
  const wallS = (performance.now() - t0) / 1000;
  return { path: file, wall_s: wallS, duration: result.duration, text: result.text, timings: result.timings };
}

async function serve() {
  const { sidecar, readyMs, warmMs } = await startWarm();
  process.stdout.write(`${JSON.stringify({ ready: true, pid: sidecar.pid, ready_ms: readyMs, warm_ms: warmMs })}\n`);
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const { path: file } = JSON.parse(line);
    try {
      process.stdout.write(`${JSON.stringify(await timeOne(sidecar, file))}\n`);
    } catch (error) {
      process.stdout.write(`${JSON.stringify({ path: file, error: String(error && error.message) })}\n`);
    }
  }
  await sidecar.stop();
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function standalone(argv) {
  let repeat = 3;
  const files = [];
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--repeat') repeat = Number(argv[(i += 1)]);
    else files.push(path.resolve(argv[i]));
  }
  if (!Number.isInteger(repeat) || repeat < 1) throw new TypeError(`--repeat must be a positive integer, got ${repeat}`);
  const { sidecar, readyMs, warmMs } = await startWarm();
  const rows = [];
  try {
    for (const file of files.length ? files : FIXTURES) {
      await timeOne(sidecar, file); // warm-up, not counted
      const runs = [];
      for (let r = 0; r < repeat; r += 1) runs.push(await timeOne(sidecar, file));
      const wall = median(runs.map((x) => x.wall_s));
      const inside = median(runs.map((x) => x.timings.transcribe_s));
      rows.push({
        path: file,
        duration: runs[0].duration,
        wall_s: wall,
        sidecar_transcribe_s: inside,
        // everything but faster-whisper itself: decoding, JSON-RPC, notifications, the bridge
        outside_engine_ms: (wall - inside) * 1000,
      });
    }
  } finally {
    await sidecar.stop();
  }
  process.stdout.write(`${JSON.stringify({ ready_ms: readyMs, warm_ms: warmMs, repeat, files: rows }, null, 2)}\n`);
}

const argv = process.argv.slice(2);
(argv.includes('--serve') ? serve() : standalone(argv)).catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
