#!/usr/bin/env node
'use strict';

/**
 * Soak the sidecar through the Node bridge: N transcriptions from C concurrent clients, K `kill -9` of the
 * sidecar at random moments, garbage on both pipes. Checks that every request resolves exactly once with
 * the right text, that no sidecar process outlives stop(), and that the last sidecar's RSS stays flat
 * after warm-up. Prints the figures; exits 1 when a check fails.
 *
 *   node scripts/soak.js [--requests 500] [--clients 4] [--kills 5] [--seed 1] [--warmup 20] [--beam-size 1]
 *                        [--cache-dir DIR] [--json]
 *
 * Garbage: the bridge's `spawn` option wraps child_process.spawn. Between the bridge's own lines, the
 * wrapper writes invalid lines to the sidecar's stdin (parse errors, invalid requests, unknown methods
 * with ids the bridge never uses), and inserts lines into what the bridge reads from the sidecar's stdout,
 * at line boundaries (text that is not JSON, invalid UTF-8, null-id errors, unsolicited responses).
 */

const childProcess = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { PassThrough } = require('node:stream');
const { WhisperSidecar } = require('../node_bridge');
const { wordErrorRate } = require('../bench/wer');

const ROOT = path.resolve(__dirname, '..');
const AUDIO = path.join(ROOT, 'tests', 'fixtures', 'audio');
const FILES = ['hello', 'numbers', 'weather'];
// hello.flac is 11 words that base int8 hears differently by CPU ("The whole world … test on the …": 0.27).
const MAX_WER = { hello: 0.3, numbers: 0.2, weather: 0.2 };

const STDIN_GARBAGE = [
  'this is not json',
  '{"jsonrpc":"2.0","method":"ping","id":',
  '[{"jsonrpc":"2.0","method":"ping","id":"garbage-batch"}]',
  '{"jsonrpc":"1.0","method":"ping","id":"garbage-old"}',
  '{"jsonrpc":"2.0","method":"no_such_method","id":"garbage-unknown"}',
  '{"jsonrpc":"2.0","method":"transcribe","params":{"path":42},"id":"garbage-params"}',
  '\u0000\u0001\u0002 binary',
];
const STDOUT_GARBAGE = [
  'Traceback (most recent call last): not protocol',
  '{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}',
  '{"jsonrpc":"2.0","result":{"pong":true},"id":"never-sent"}',
  '{"jsonrpc":"2.0","method":"status","params":null}',
  '{not json',
];

/** A small seeded PRNG (mulberry32), so a run can be repeated. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rssKiB(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Sidecar processes still alive (zombies count as gone): ours by pid, and any child of this process. */
function survivors(pids) {
  const out = [];
  let entries = [];
  try {
    entries = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return out; // no /proc (not Linux): nothing to check
  }
  for (const name of entries) {
    try {
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (!(cmdline.includes('-m') && cmdline.includes('sidecar'))) continue;
      const status = fs.readFileSync(`/proc/${name}/status`, 'utf8');
      if (/^State:\s+Z/m.test(status)) continue;
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)[1]);
      if (pids.has(Number(name)) || ppid === process.pid) out.push(Number(name));
    } catch {
      // gone while we looked
    }
  }
  return out;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : null;
}

/**
 * A spawn for the bridge that keeps the pids, counts responses per id on the real stdout, and adds
 * garbage: inserted lines on the stdout the bridge reads, and (see injectStdin) lines on the stdin.
 */
function tappedSpawn({ random, figures, stdoutRate }) {
  const tap = { pids: new Set(), current: null, responses: new Map() };
  tap.spawn = (command, args, options) => {
    const child = childProcess.spawn(command, args, options);
    if (!child.pid) return child;
    tap.pids.add(child.pid);
    tap.current = child;
    const out = new PassThrough();
    let partial = '';
    child.stdout.on('data', (chunk) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop();
      for (const line of lines) countResponse(tap.responses, child.pid, line);
      const cut = chunk.lastIndexOf(0x0a);
      if (cut === -1) return void out.write(chunk);
      out.write(chunk.subarray(0, cut + 1)); // what was written so far ends a line: insert here
      if (random() < stdoutRate) {
        figures.garbage_stdout += 1;
        const pick = Math.floor(random() * (STDOUT_GARBAGE.length + 1));
        out.write(pick === STDOUT_GARBAGE.length ? Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x0a])
          : `${STDOUT_GARBAGE[pick]}\n`);
      }
      if (cut + 1 < chunk.length) out.write(chunk.subarray(cut + 1));
    });
    child.stdout.once('end', () => out.end());
    child.stdout.once('error', (error) => out.destroy(error));
    child.stdout = out;
    return child;
  };
  return tap;
}

function countResponse(responses, pid, line) {
  let message;
  try {
    message = JSON.parse(line);
  } catch {
    return;
  }
  if (!message || message.method !== undefined || message.id === undefined || message.id === null) return;
  if (typeof message.id === 'string' && message.id.startsWith('garbage-')) return; // our stdin garbage, repeated
  const key = `${pid}:${JSON.stringify(message.id)}`;
  responses.set(key, (responses.get(key) || 0) + 1);
}

/** Writes a garbage line to the live sidecar's stdin every so often; returns a stop function. */
function injectStdin({ tap, random, figures, everyMs }) {
  let timer = null;
  const tick = () => {
    const child = tap.current;
    if (child && child.exitCode === null && child.signalCode === null && child.stdin.writable) {
      child.stdin.write(`${STDIN_GARBAGE[Math.floor(random() * STDIN_GARBAGE.length)]}\n`);
      figures.garbage_stdin += 1;
    }
    timer = setTimeout(tick, everyMs * (0.5 + random()));
  };
  timer = setTimeout(tick, everyMs);
  return () => clearTimeout(timer);
}

/** K kill -9 at random moments: after random completion counts inside `window` (shares of the run), plus 0-1.5 s. */
function killPlan({ requests, kills, random, window: [from, to] }) {
  const lo = Math.max(1, Math.floor(requests * from));
  const hi = Math.max(lo + kills, Math.floor(requests * to));
  const at = [];
  while (at.length < kills) {
    const n = lo + Math.floor(random() * (hi - lo));
    if (!at.includes(n)) at.push(n);
  }
  return at.sort((a, b) => a - b);
}

function killSoon({ sidecar, random, figures, events }) {
  const delay = Math.floor(random() * 1500);
  setTimeout(() => {
    if (sidecar.state !== 'ready' || !sidecar.pid) {
      sidecar.once('ready', () => killSoon({ sidecar, random, figures, events }));
      return;
    }
    try {
      process.kill(sidecar.pid, 'SIGKILL');
      figures.kills += 1;
      events.push({ kill: sidecar.pid, completed: figures.completed });
    } catch (error) {
      events.push({ killFailed: error.message });
    }
  }, delay).unref();
}

function rssFigures(samples, warmup) {
  const last = samples.length ? samples[samples.length - 1].pid : null;
  const mine = samples.filter((s) => s.pid === last && s.rss !== null).map((s) => s.rss);
  const out = { pid: last, samples: mine.length, warmup, baseline_kib: null, final_kib: null, max_kib: null, drift_pct: null };
  if (mine.length < warmup + 10) {
    out.note = `too few requests on the last sidecar (${mine.length}) to measure drift after ${warmup} warm-up`;
    return out;
  }
  out.baseline_kib = median(mine.slice(warmup, warmup + 5));
  out.final_kib = median(mine.slice(-5));
  out.max_kib = Math.max(...mine.slice(warmup));
  out.drift_pct = Number((((out.final_kib - out.baseline_kib) / out.baseline_kib) * 100).toFixed(2));
  return out;
}

/**
 * Runs the soak. Options: requests (500), clients (4), kills (5), seed (1), warmup (20 requests on the
 * last process before the RSS baseline), killWindow ([0.1, 0.6]: kills happen in that share of the run, so
 * the last process serves enough requests to measure RSS drift), beamSize (1: greedy, to fit more
 * transcriptions in a minute), stdinGarbageMs (300), stdoutGarbageRate (0.05), cacheDir,
 * requestTimeoutMs (180000), log (a function for progress lines, or null).
 * Resolves to the figures; never rejects for a failed check (see failures()).
 */
async function runSoak(options = {}) {
  const o = {
    requests: 500, clients: 4, kills: 5, seed: 1, warmup: 20, killWindow: [0.1, 0.6], beamSize: 1,
    stdinGarbageMs: 300, stdoutGarbageRate: 0.05, requestTimeoutMs: 180000, log: null, ...options,
  };
  const random = prng(o.seed);
  const figures = {
    requests: o.requests, clients: o.clients, seed: o.seed, completed: 0, kills: 0, restarts: 0,
    bridge_retries: 0, client_retries: 0, lost: 0, duplicated: 0, protocol_duplicates: 0, wrong_text: 0,
    garbage_stdin: 0, garbage_stdout: 0, bridge_warnings: 0, pids: 0, leaked: [], errors: [], rss: null,
    duration_s: 0,
  };
  const events = [];
  const tap = tappedSpawn({ random, figures, stdoutRate: o.stdoutGarbageRate });
  const sidecar = new WhisperSidecar({
    forceCpu: true, projectRoot: ROOT, spawn: tap.spawn, crashLimit: o.kills + 3,
    ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
    logger: { warn: () => { figures.bridge_warnings += 1; }, debug: () => {} },
  });
  sidecar.on('restart', () => { figures.restarts += 1; });
  const references = Object.fromEntries(FILES.map((n) => [n, fs.readFileSync(path.join(AUDIO, `${n}.txt`), 'utf8')]));
  const results = new Array(o.requests).fill(0);
  const samples = [];
  const kills = killPlan({ requests: o.requests, kills: o.kills, random, window: o.killWindow });
  const started = Date.now();
  await sidecar.start();
  const stopGarbage = injectStdin({ tap, random, figures, everyMs: o.stdinGarbageMs });
  let next = 0;

  const finish = (i, name, result) => {
    results[i] += 1;
    if (results[i] > 1) figures.duplicated += 1;
    const own = wordErrorRate(references[name], result.text);
    const closest = FILES.every((other) => other === name || wordErrorRate(references[other], result.text) > own);
    if (own > MAX_WER[name] || !closest) {
      figures.wrong_text += 1;
      figures.errors.push(`#${i} ${name}: wrong text (WER ${own.toFixed(2)}): ${result.text}`);
    }
    figures.completed += 1;
    samples.push({ pid: sidecar.pid, rss: rssKiB(sidecar.pid) });
    while (kills.length && figures.completed >= kills[0]) {
      kills.shift();
      killSoon({ sidecar, random, figures, events });
    }
    if (o.log && figures.completed % 25 === 0) o.log(`${figures.completed}/${o.requests} done, ${figures.kills} kills`);
  };

  const one = async (i) => {
    const name = FILES[Math.floor(random() * FILES.length)];
    for (let attempt = 1; ; attempt += 1) {
      try {
        const result = await sidecar.transcribe(path.join(AUDIO, `${name}.flac`), { language: 'en', beam_size: o.beamSize }, {
          timeout: o.requestTimeoutMs, onRetry: () => { figures.bridge_retries += 1; },
        });
        return finish(i, name, result);
      } catch (error) {
        // 'exited': killed again while the bridge's one retry ran; the client tries again itself.
        if (error && error.kind === 'exited' && attempt < 4) {
          figures.client_retries += 1;
          continue;
        }
        figures.lost += 1;
        figures.errors.push(`#${i} ${name}: ${error && error.kind}: ${error && error.message}`);
        return undefined;
      }
    }
  };
  const client = async () => {
    while (next < o.requests) await one(next++);
  };
  try {
    await Promise.all(Array.from({ length: o.clients }, client));
  } finally {
    stopGarbage();
    figures.rss = rssFigures(samples, o.warmup);
    await sidecar.stop();
  }
  figures.lost = results.filter((n) => n === 0).length; // each unanswered request once
  figures.protocol_duplicates = [...tap.responses.values()].filter((n) => n > 1).length;
  figures.pids = tap.pids.size;
  const deadline = Date.now() + 10000;
  while (survivors(tap.pids).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  figures.leaked = survivors(tap.pids);
  figures.duration_s = Number(((Date.now() - started) / 1000).toFixed(1));
  figures.kill_events = events;
  return figures;
}

/** The checks the issue asks for; an empty list means the soak passed. */
function failures(figures, { maxDriftPct = 5 } = {}) {
  const out = [];
  if (figures.lost) out.push(`${figures.lost} request(s) lost`);
  if (figures.duplicated || figures.protocol_duplicates) out.push('duplicated answers');
  if (figures.wrong_text) out.push(`${figures.wrong_text} wrong transcript(s)`);
  if (figures.completed !== figures.requests) out.push(`${figures.completed}/${figures.requests} completed`);
  if (figures.leaked.length) out.push(`sidecar processes left running: ${figures.leaked.join(', ')}`);
  if (figures.rss.drift_pct === null) out.push(`RSS drift not measured: ${figures.rss.note}`);
  // growth is what leaks look like; RSS falling after warm-up (the allocator giving pages back) is not one
  else if (figures.rss.drift_pct >= maxDriftPct) out.push(`RSS drift ${figures.rss.drift_pct} %`);
  return out;
}

function report(figures) {
  const rss = figures.rss;
  return [
    `requests ${figures.requests} from ${figures.clients} clients: ${figures.completed} completed, ` +
      `${figures.lost} lost, ${figures.duplicated} duplicated (protocol: ${figures.protocol_duplicates}), ` +
      `${figures.wrong_text} wrong text`,
    `kills ${figures.kills} (kill -9), restarts ${figures.restarts}, retries ${figures.bridge_retries} by the bridge + ` +
      `${figures.client_retries} by the clients`,
    `garbage ${figures.garbage_stdin} lines to stdin, ${figures.garbage_stdout} lines into stdout; ` +
      `bridge warnings ${figures.bridge_warnings}`,
    `processes ${figures.pids} sidecars spawned, ${figures.leaked.length} left after stop()`,
    `RSS of the last sidecar (pid ${rss.pid}, ${rss.samples} samples, ${rss.warmup} warm-up): baseline ` +
      `${rss.baseline_kib} KiB, final ${rss.final_kib} KiB, max ${rss.max_kib} KiB, drift ${rss.drift_pct} %` +
      (rss.note ? ` (${rss.note})` : ''),
    `duration ${figures.duration_s} s (${(figures.completed / figures.duration_s).toFixed(2)} transcriptions/s)`,
  ].join('\n');
}

function parseArgs(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    if (flag === '--json') options.json = true;
    else if (['--requests', '--clients', '--kills', '--seed', '--warmup', '--beam-size'].includes(flag)) {
      const value = Number(argv[i += 1]);
      if (!Number.isInteger(value) || value < 0) throw new TypeError(`${flag} needs a whole number, got ${argv[i]}`);
      options[flag === '--beam-size' ? 'beamSize' : flag.slice(2)] = value;
    } else if (flag === '--cache-dir') options.cacheDir = argv[i += 1];
    else throw new TypeError(`unknown option ${flag}; see the comment at the top of scripts/soak.js`);
  }
  return options;
}

async function main() {
  const { json, ...options } = parseArgs(process.argv.slice(2));
  const figures = await runSoak({ ...options, log: (line) => process.stderr.write(`soak: ${line}\n`) });
  process.stdout.write(json ? `${JSON.stringify(figures, null, 1)}\n` : `${report(figures)}\n`);
  const failed = failures(figures);
  for (const line of [...failed, ...figures.errors.slice(0, 10)]) process.stderr.write(`soak: ${line}\n`);
  process.exitCode = failed.length ? 1 : 0;
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`soak: ${error && error.stack ? error.stack : error}\n`);
    process.exitCode = 2;
  });
}

module.exports = { runSoak, failures, report, wordErrorRate, survivors, prng };
