'use strict';

/**
 * Pieces of the relay hostile-input tests: a stub sidecar that records every file it is asked to read,
 * a spy on the fs calls that read file contents, a media folder with traps around it, and raw HTTP
 * helpers for uploads that are slow or vanish.
 *
 * The stub stands in for the sidecar on purpose: these tests are about what reaches the sidecar, and the
 * real one is covered by tests/relay and by the soak.
 */

const { EventEmitter } = require('node:events');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const HELLO = path.join(ROOT, 'tests', 'fixtures', 'audio', 'hello.flac');
const SECRET = 'SECRET-CANARY-4f1d2c';

class StubSidecar extends EventEmitter {
  constructor({ stepMs = 5, steps = 3 } = {}) {
    super();
    this.state = 'ready';
    this.fatalError = null;
    this.paths = [];
    this.stepMs = stepMs;
    this.steps = steps;
  }

  async gpuStatus() {
    return { device: 'cpu', compute_type: 'int8', fallback_reason: 'stub' };
  }

  async transcribe(file, options, { signal, onStatus = () => {}, onSegment = () => {} } = {}) {
    this.paths.push(file);
    const bytes = fs.statSync(file).size;
    const segments = [];
    for (let i = 1; i <= this.steps; i += 1) {
      await sleep(this.stepMs, signal);
      const segment = { id: i, start: i - 1, end: i, text: ` part ${i}` };
      segments.push(segment);
      onStatus({ stage: 'transcribing', message: `step ${i}`, progress: i / this.steps, device: 'cpu' });
      onSegment({ request_id: 1, segment });
    }
    return { text: `stub read ${bytes} bytes`, segments, language: 'en', duration: this.steps, device: 'cpu' };
  }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) return reject(abortError());
    const onAbort = () => { clearTimeout(timer); reject(abortError()); };
    const timer = setTimeout(() => {
      if (signal) signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
    return undefined;
  });
}

function abortError() {
  const error = new Error('aborted');
  error.name = 'AbortError';
  return error;
}

/** Records the paths passed to the fs calls that read contents; restore() puts them back. */
function spyOnReads() {
  const opened = [];
  const patches = [
    [fs, 'createReadStream'], [fs, 'readFile'], [fs, 'readFileSync'], [fs, 'open'], [fs, 'openSync'],
    [fs.promises, 'readFile'], [fs.promises, 'open'],
  ];
  const originals = patches.map(([owner, name]) => owner[name]);
  patches.forEach(([owner, name], i) => {
    owner[name] = function spied(file, ...rest) {
      if (typeof file === 'string' || Buffer.isBuffer(file) || file instanceof URL) opened.push(String(file));
      return originals[i].call(this, file, ...rest);
    };
  });
  return { opened, restore: () => patches.forEach(([owner, name], i) => { owner[name] = originals[i]; }) };
}

/**
 * A media folder with one good file, and traps: a secret beside it, a sibling folder whose name starts
 * like it, symlinks that point out (to a file, to a folder, through a chain), /etc/passwd.
 */
function mediaWithTraps() {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-hostile-'));
  const media = path.join(base, 'media');
  const evil = path.join(base, 'media-evil');
  fs.mkdirSync(path.join(media, 'sub'), { recursive: true });
  fs.mkdirSync(evil);
  fs.copyFileSync(HELLO, path.join(media, 'ok.flac'));
  fs.copyFileSync(HELLO, path.join(media, 'sub', 'nested.flac'));
  const secret = path.join(base, 'secret.flac');
  fs.writeFileSync(secret, `${SECRET}\n`);
  fs.writeFileSync(path.join(evil, 'x.flac'), `${SECRET}\n`);
  fs.symlinkSync(secret, path.join(media, 'link-out.flac'));
  fs.symlinkSync(base, path.join(media, 'linkdir'));
  fs.symlinkSync(path.join(media, 'link-out.flac'), path.join(media, 'chain.flac'));
  fs.symlinkSync('/etc/passwd', path.join(media, 'passwd.flac'));
  return { base, media, secret, evil };
}

/** A raw multipart upload over a socket: sends `head`, then the body in `chunks` pieces `gapMs` apart. */
function rawUpload({ port, route = '/api/transcriptions', body, chunks = 1, gapMs = 0, stopAfter = Infinity }) {
  const boundary = 'soakboundary7d1';
  const head = `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="slow.flac"\r\n`
    + 'content-type: application/octet-stream\r\n\r\n';
  const tail = `\r\n--${boundary}--\r\n`;
  const payload = Buffer.concat([Buffer.from(head), body, Buffer.from(tail)]);
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let response = '';
    socket.on('data', (data) => { response += data.toString('latin1'); });
    socket.on('error', () => {});
    socket.on('close', () => resolve(response));
    socket.write(`POST ${route} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: multipart/form-data; boundary=${boundary}\r\n`
      + `content-length: ${payload.length}\r\nconnection: close\r\n\r\n`);
    const size = Math.ceil(payload.length / chunks);
    let sent = 0;
    const next = () => {
      if (sent >= chunks) return;
      if (sent >= stopAfter) return void socket.destroy();
      socket.write(payload.subarray(sent * size, (sent + 1) * size));
      sent += 1;
      setTimeout(next, gapMs);
    };
    next();
  });
}

function filesUnder(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true }).map((name) => path.join(dir, String(name)))
    .filter((file) => fs.statSync(file).isFile());
}

async function until(predicate, timeoutMs = 10000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

module.exports = { StubSidecar, spyOnReads, mediaWithTraps, rawUpload, filesUnder, until, HELLO, SECRET, ROOT };
