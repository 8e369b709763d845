'use strict';

/**
 * Helpers for tests against a relay with API keys: fresh keys, requests with a key, an SSE reader
 * that sends the key, and relay.js spawned as a real process.
 */

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const childProcess = require('node:child_process');
const { ROOT } = require('./helpers');

/** A fresh random key (hex, 40 characters). */
function newKey(label = 'k') {
  return `${label}-${crypto.randomBytes(20).toString('hex')}`;
}

function auth(key) {
  return key ? { authorization: `Bearer ${key}` } : {};
}

/** fetch() with a key; returns {status, headers, body (parsed JSON or text)}. */
async function call(baseUrl, method, route, { key, json, form, headers = {} } = {}) {
  const init = { method, headers: { ...auth(key), ...headers } };
  if (json !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (form) {
    init.body = form;
  }
  const response = await fetch(`${baseUrl}${route}`, init);
  const text = method === 'HEAD' ? '' : await response.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: response.status, headers: response.headers, body };
}

/** A multipart form with a fixture file and fields. */
function audioForm(file, fields = {}) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, String(value));
  form.append('file', new Blob([fs.readFileSync(file)]), path.basename(file));
  return form;
}

/** Reads a job's SSE stream with a key to its end; returns the events [{event, data}]. */
async function readEventsWithKey(baseUrl, id, key, { timeoutMs = 120000 } = {}) {
  const response = await fetch(`${baseUrl}/api/transcriptions/${id}/events`,
    { headers: auth(key), signal: AbortSignal.timeout(timeoutMs) });
  if (response.status !== 200) throw new Error(`SSE answered ${response.status}: ${await response.text()}`);
  const text = await response.text();
  return text.split('\n\n').map((block) => {
    const event = /^event: (.+)$/m.exec(block);
    const data = /^data: (.+)$/m.exec(block);
    return event && data ? { event: event[1], data: JSON.parse(data[1]) } : null;
  }).filter(Boolean);
}

/**
 * Spawns `node relay.js` with `env` (on top of a minimal environment) and collects its output.
 * Returns {child, output() (stdout+stderr so far), waitFor(regex, ms), exited (a promise of {code, signal})}.
 */
function spawnRelay(env) {
  const child = childProcess.spawn(process.execPath, [path.join(ROOT, 'relay.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, HF_HUB_OFFLINE: '1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const waiters = [];
  const onData = (chunk) => {
    text += chunk;
    for (const waiter of waiters.slice()) {
      const match = waiter.regex.exec(text);
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  };
  child.stdout.setEncoding('utf8').on('data', onData);
  child.stderr.setEncoding('utf8').on('data', onData);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const waitFor = (regex, ms = 120000) => new Promise((resolve, reject) => {
    const match = regex.exec(text);
    if (match) return resolve(match);
    const timer = setTimeout(() => reject(new Error(`no ${regex} in ${ms} ms; output:\n${text}`)), ms);
    waiters.push({ regex, resolve: (m) => { clearTimeout(timer); resolve(m); } });
    exited.then(() => setTimeout(() => reject(new Error(`relay.js exited before ${regex}; output:\n${text}`)), 50));
    return undefined;
  });
  return { child, output: () => text, waitFor, exited };
}

/** Polls `check` (sync or async) until true; raises after `ms`. */
async function until(check, ms, what) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

module.exports = { newKey, auth, call, audioForm, readEventsWithKey, spawnRelay, until };
