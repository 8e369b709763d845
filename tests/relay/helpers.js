'use strict';

/**
 * Shared pieces of the relay tests: the real sidecar through the real bridge, relays on random
 * ports in temporary data folders, an SSE reader, fixture texts and a word-level comparison.
 */

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { WhisperSidecar } = require('../../node_bridge');
const { buildRelay } = require('../../relay/app');
const { loadConfig } = require('../../relay/config');
// The one word-level comparison (bench/wer.js, a port of bench/wer.py): share of the reference's words found.
const { wordRecall } = require('../../bench/wer');

const ROOT = path.resolve(__dirname, '..', '..');
const AUDIO = path.join(ROOT, 'tests', 'fixtures', 'audio');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');

function fixture(name) {
  return path.join(AUDIO, name);
}

function fixtureText(name) {
  return fs.readFileSync(path.join(AUDIO, `${name}.txt`), 'utf8');
}

function tempDir(prefix = 'relay-test-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** The real sidecar (python -m sidecar from the project's .venv) behind the real bridge. */
async function startSidecar(options = {}) {
  const sidecar = new WhisperSidecar({ projectRoot: ROOT, logger: null, ...options });
  await sidecar.start();
  return sidecar;
}

/**
 * A relay on 127.0.0.1 and a random port. `config` overrides the defaults (a fresh DATA_DIR unless
 * given). Returns {app, url, config, close()}; close() keeps the sidecar running.
 */
async function startRelay({ sidecar, config = {}, env = {} }) {
  const full = loadConfig(env, { port: 0, host: '127.0.0.1', dataDir: tempDir(), logLevel: 'silent', ...config });
  const app = buildRelay({ config: full, sidecar, logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address();
  return { app, url: `http://127.0.0.1:${port}`, config: full, close: () => app.close() };
}

/**
 * Reads a Server-Sent Events stream until it ends (or `signal` aborts: the caller has seen enough);
 * returns [{event, data}] (data parsed).
 */
async function readEvents(url, { timeoutMs = 120000, onEvent = () => {}, signal, headers = {} } = {}) {
  const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
  const response = await fetch(url, { headers, signal: AbortSignal.any(signals) });
  if (response.status !== 200) throw new Error(`SSE ${url} answered ${response.status}: ${await response.text()}`);
  const events = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = parseBlock(block);
      if (event) {
        events.push(event);
        onEvent(event);
      }
    }
  }
  return events;
}

function parseBlock(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
  }
  return data.length ? { event, data: JSON.parse(data.join('\n')) } : null;
}

async function uploadFile(baseUrl, file, fields = {}, route = '/api/transcriptions') {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, String(value));
  form.append('file', new Blob([fs.readFileSync(file)]), path.basename(file));
  const response = await fetch(`${baseUrl}${route}`, { method: 'POST', body: form });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

async function postJson(baseUrl, route, body) {
  const response = await fetch(`${baseUrl}${route}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function getJson(baseUrl, route) {
  const response = await fetch(`${baseUrl}${route}`);
  return { status: response.status, body: await response.json() };
}

/** Follows a job's events to the end; returns {events, final}. */
async function followJob(baseUrl, id) {
  const events = await readEvents(`${baseUrl}/api/transcriptions/${id}/events`);
  return { events, final: events[events.length - 1] };
}

// hello.flac is 11 words, and base int8 does not hear it the same on every CPU: on this project's AMD EPYC
// machines "The whole world. This is a test on the speech …" (9 of 11 words). The others keep their bounds.
const HELLO_MIN_RECALL = 0.8;

module.exports = {
  HELLO_MIN_RECALL,
  ROOT, AUDIO, ARTIFACTS, fixture, fixtureText, tempDir, startSidecar, startRelay, readEvents, uploadFile,
  postJson, getJson, followJob, wordRecall,
};
