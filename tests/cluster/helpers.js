'use strict';

/**
 * The distributed-mode tests' pieces: a real redis-server on a free port (AOF on, in a temp
 * folder, so a restart keeps the queue, as docs/scaling.md asks of production), and relay
 * processes (`node relay.js --role …`) on 127.0.0.1.
 *
 * Without redis-server the tests skip, except under CI=true, where a missing Redis fails the run.
 */

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { ROOT, tempDir, readEvents } = require('../relay/helpers');

const SECRET = 'test-cluster-secret-0123456789abcdef0123456789';

function findRedis() {
  for (const candidate of ['/usr/bin/redis-server', '/usr/local/bin/redis-server']) {
    if (fs.existsSync(candidate)) return candidate;
  }
  try {
    return execFileSync('which', ['redis-server'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** {skip} for node:test: false when Redis is here; a reason otherwise; throws under CI=true. */
function redisOrSkip() {
  if (findRedis()) return false;
  if (process.env.CI === 'true') throw new Error('redis-server is missing (CI=true): install it (node scripts/setup.js --test)');
  return 'redis-server is not installed (node scripts/setup.js --test installs it where it can)';
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Starts redis-server; returns {url, port, stop(), restart()}. */
async function startRedis() {
  const bin = findRedis();
  const port = await freePort();
  const dir = tempDir('redis-test-');
  let proc = null;
  const launch = async () => {
    proc = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes',
      '--dir', dir, '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
    await waitForOutput(proc, /Ready to accept connections/, 10000);
  };
  const stop = async () => {
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM'); // redis writes the AOF and exits
    await exited;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
    restart: async (downMs = 500) => {
      await stop();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await launch();
    },
  };
}

/** Resolves once the process has printed a line matching `pattern` (stdout or stderr). */
function waitForOutput(proc, pattern, timeoutMs) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => done(new Error(`no ${pattern} within ${timeoutMs} ms; output: ${seen.slice(-2000)}`)), timeoutMs);
    const onData = (chunk) => {
      seen += chunk.toString();
      const match = pattern.exec(seen);
      if (match) done(null, match);
    };
    const onExit = (code) => done(new Error(`exited (${code}) before ${pattern}; output: ${seen.slice(-2000)}`));
    const done = (err, match) => {
      clearTimeout(timer);
      proc.stdout.off('data', onData);
      proc.stderr.off('data', onData);
      proc.off('exit', onExit);
      if (err) reject(err); else resolve(match);
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', onExit);
  });
}

/**
 * `node relay.js --role ROLE` with env added. Resolves when it serves (api, all: {url}) or takes
 * jobs (worker: {nodeId}). Returns {proc, pid, url, nodeId, output(), exited (a promise of {code, signal})}.
 */
async function startNode(role, env, { timeoutMs = 120000 } = {}) {
  const proc = spawn(process.execPath, ['relay.js', '--role', role], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', DATA_DIR: tempDir('cluster-node-'), LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stdout.on('data', (chunk) => { log += chunk; });
  proc.stderr.on('data', (chunk) => { log += chunk; });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const node = { proc, pid: proc.pid, exited, output: () => log, url: null, nodeId: null };
  if (role !== 'worker') {
    const match = await waitForOutput(proc, /listening on port (\d+)/, timeoutMs);
    node.url = `http://127.0.0.1:${match[1]}`;
  }
  if (role !== 'api') node.nodeId = (await waitForOutput(proc, /Worker (\S+) taking jobs/, timeoutMs))[1];
  return node;
}

/** The pid in a worker's node id (hostname-pid-random). */
function pidOfNode(nodeId) {
  return Number(/-(\d+)-[0-9a-f]+$/.exec(nodeId)[1]);
}

/** Stops a node with SIGTERM (SIGKILL after a while); resolves with its exit. */
async function stopNode(node, timeoutMs = 30000) {
  if (!node || node.proc.exitCode !== null || node.proc.signalCode !== null) return node && node.exited;
  node.proc.kill('SIGTERM');
  const timer = setTimeout(() => node.proc.kill('SIGKILL'), timeoutMs);
  const result = await node.exited;
  clearTimeout(timer);
  return result;
}

/** Prometheus text → {'name{labels}': value}. */
function parseMetrics(text) {
  const values = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values[line.slice(0, at)] = Number(line.slice(at + 1));
  }
  return values;
}

module.exports = { SECRET, ROOT, redisOrSkip, startRedis, startNode, stopNode, pidOfNode, parseMetrics, path };

/** Server-Sent Events with an API key (relay/helpers' readEvents): [{event, data}]. */
function readEventsAs(key, url, { timeoutMs = 180000, ...rest } = {}) {
  return readEvents(url, { timeoutMs, ...rest, headers: { authorization: `Bearer ${key}` } });
}

/** POSTs an upload as `key`; returns the job view. */
async function uploadAs(key, baseUrl, file, fields = {}) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, String(value));
  form.append('file', new Blob([fs.readFileSync(file)]), path.basename(file));
  const response = await fetch(`${baseUrl}/api/transcriptions`, {
    method: 'POST', body: form, headers: { authorization: `Bearer ${key}` },
  });
  const body = await response.json();
  if (response.status !== 202) throw new Error(`upload answered ${response.status}: ${JSON.stringify(body)}`);
  return body;
}

async function getAs(key, baseUrl, route) {
  const response = await fetch(`${baseUrl}${route}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  const text = await response.text();
  let body = text;
  try { body = JSON.parse(text); } catch { /* text formats */ }
  return { status: response.status, body };
}

module.exports.readEventsAs = readEventsAs;
module.exports.uploadAs = uploadAs;
module.exports.getAs = getAs;
