'use strict';

/**
 * relay/jobs/run.js, the run both transports call: a retry's segments start over, a URL's finite
 * file is handed to the transport or transcribed in the same run, and downloadFile refuses a live
 * stream. The sidecar here is a tiny in-test one (the real one cannot be made to fall back to the CPU
 * on demand); the URLs are served by a real HTTP server on 127.0.0.1.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const { runJob, downloadFile } = require('../../../relay/jobs/run');
const { fixture, tempDir } = require('../helpers');

let server;
let origin;

before(async () => {
  server = http.createServer((request, response) => {
    if (request.url === '/hello.flac') {
      const bytes = fs.readFileSync(fixture('hello.flac'));
      response.writeHead(200, { 'content-type': 'audio/flac', 'content-length': bytes.length });
      response.end(bytes);
      return;
    }
    // an endless audio stream: no length, chunks until the client goes
    response.writeHead(200, { 'content-type': 'audio/mpeg' });
    const timer = setInterval(() => response.write(Buffer.alloc(512, 0xff)), 20);
    response.on('close', () => clearInterval(timer));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const config = {
  maxDownloadMb: 10, downloadTimeoutS: 10, maxRedirects: 2, allowPrivateUrls: true, liveIdleTimeoutS: 5, followIdleS: 5,
  liveMaxDurationS: 0,
};

function sinkFor(events, extra = {}) {
  return {
    signal: new AbortController().signal, config, log: console, downloadDir: tempDir(),
    emit: (type, data) => events.push({ type, data }), ...extra,
  };
}

test('a file run: segments unwrapped, a CPU re-run starts them over, decode time measured', async () => {
  const sidecar = {
    async transcribe(file, options, { onSegment, onStatus }) {
      onSegment({ request_id: 'r', segment: { id: 0, text: ' first try' } });
      onStatus({ stage: 'fallback', message: 'CUDA failed; on the CPU', device: 'cpu' });
      onSegment({ request_id: 'r', segment: { id: 0, text: ' hello' } });
      return { text: 'hello', device: 'cpu', file, options };
    },
  };
  const events = [];
  const { result, processingS } = await runJob({ id: 'j', mediaPath: '/m.flac', options: { language: 'en' } }, sidecar, sinkFor(events));
  assert.deepEqual([result.file, result.options], ['/m.flac', { language: 'en' }]);
  assert.ok(processingS >= 0);
  assert.deepEqual(events.map((e) => e.type), ['segment', 'reset', 'status', 'segment']);
  assert.deepEqual(events[0].data, { id: 0, text: ' first try' });
  assert.deepEqual(events[1].data, { keep: 0 });
  assert.deepEqual(events[2].data, { stage: 'fallback', message: 'CUDA failed; on the CPU', progress: null, device: 'cpu' });
});

test('a URL\'s finite file: its kind told once, then handed to the transport or transcribed in this run', async () => {
  const transcribed = [];
  const sidecar = {
    async transcribe(file) {
      transcribed.push(fs.statSync(file).size);
      return { text: 'hello', device: 'cpu' };
    },
  };
  const job = { id: 'u', mediaPath: '', options: {}, input: { url: `${origin}/hello.flac` } };

  const handed = [];
  const events = [];
  const queued = await runJob(job, sidecar, sinkFor(events, { onDownloaded: (file) => handed.push(file) > 0 }));
  assert.deepEqual(queued, {}, 'the transport took the file');
  assert.equal(handed.length, 1);
  assert.equal(fs.statSync(handed[0]).size, fs.statSync(fixture('hello.flac')).size);
  assert.deepEqual(events.filter((e) => e.type === 'kind').map((e) => e.data), [{ kind: 'download', live: false }]);
  assert.deepEqual(transcribed, []);

  const here = await runJob(job, sidecar, sinkFor([], { onDownloaded: () => false }));
  assert.equal(here.result.text, 'hello');
  assert.deepEqual(transcribed, [fs.statSync(fixture('hello.flac')).size], 'transcribed in the same run');
});

test('downloadFile: a finite file lands in the folder; a live stream is refused, live_url', async () => {
  const dir = tempDir();
  const file = await downloadFile(`${origin}/hello.flac`, { config, downloadDir: dir });
  assert.equal(file.kind, 'download');
  assert.equal(fs.readdirSync(dir).length, 1);
  await assert.rejects(downloadFile(`${origin}/radio`, { config, downloadDir: dir }),
    (err) => err.statusCode === 400 && err.code === 'live_url');
  assert.equal(fs.readdirSync(dir).length, 1, 'nothing of the stream was kept');
});
