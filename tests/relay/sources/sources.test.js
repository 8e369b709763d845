'use strict';

/**
 * relay/sources: real HTTP against the servers in ./live-servers.js (127.0.0.1, port 0), real files
 * for the growing-file source. Media from tests/fixtures/make_streams.py.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { setTimeout: delay } = require('node:timers/promises');
const { openSource, vetUrl } = require('../../../relay/sources');
const { makeStreams, startMediaServer, FMP4_INIT, fmp4Fragment } = require('../live-servers');

let server;
let downloadDir;

const LIMITS = { maxBytes: 20e6, timeoutMs: 5000, maxRedirects: 3, allowPrivate: true, idleTimeoutS: 3, followIdleS: 0.6 };

before(async () => {
  server = await startMediaServer({ dir: makeStreams() });
  downloadDir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-sources-'));
});

after(async () => {
  await server.close();
  fs.rmSync(downloadDir, { recursive: true, force: true });
});

function open(input, { limits = {}, signal = AbortSignal.timeout(30000), onProgress } = {}) {
  return openSource(typeof input === 'string' ? { url: `${server.origin}${input}` } : input,
    { signal, limits: { ...LIMITS, ...limits }, downloadDir, onProgress });
}

/** Every chunk until the end (or `stop(chunks)` says enough). */
async function collect(source, stop = () => false) {
  const chunks = [];
  for await (const chunk of source.chunks()) {
    chunks.push(chunk);
    if (stop(chunks)) break;
  }
  return chunks;
}

const dataOf = (chunks) => Buffer.concat(chunks.filter((c) => c.type === 'data').map((c) => c.bytes));
const kinds = (chunks) => chunks.map((c) => c.type);

/** Which VOD segment index each data chunk is (by its bytes). */
function segmentIndexes(chunks) {
  return chunks.filter((c) => c.type === 'data').map((c) => {
    const index = server.segments.findIndex((s) => s.bytes.equals(c.bytes));
    assert.notEqual(index, -1, 'a data chunk is one whole segment');
    return index;
  });
}

async function waitFor(predicate, ms = 3000) {
  const until = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > until) return false;
    await delay(20);
  }
  return true;
}

const rejectsWith = (promise, status, code, message) => assert.rejects(promise, (err) => {
  assert.equal(err.code, code, err.message);
  assert.equal(err.statusCode, status);
  if (message) assert.match(err.message, message);
  return true;
});

test('VOD HLS: every segment in order, complete, then end', async () => {
  const source = await open('/vod.m3u8');
  assert.equal(source.kind, 'hls');
  assert.equal(source.live, true);
  const chunks = await collect(source);
  assert.deepEqual(chunks.at(-1), { type: 'end', reason: 'endlist' });
  assert.deepEqual(kinds(chunks).filter((k) => k !== 'data'), ['end'], 'no gap, no reset');
  assert.ok(dataOf(chunks).equals(Buffer.concat(server.segments.map((s) => s.bytes))));
});

test('HLS recognized by its body (#EXTM3U) whatever the Content-Type', async () => {
  const source = await open('/vod-by-content.txt');
  assert.equal(source.kind, 'hls');
  const chunks = await collect(source);
  assert.equal(segmentIndexes(chunks).length, server.segments.length);
});

test('backpressure: the next segment is fetched only when asked for', async () => {
  const before = server.hits.get('/vod.m3u8') || 0;
  const segmentHits = () => server.requests.filter((r) => r.startsWith('/seg/')).length;
  const start = segmentHits();
  const source = await open('/vod.m3u8');
  assert.equal(server.hits.get('/vod.m3u8'), before + 1, 'the playlist is fetched once (the first GET is reused)');
  const iterator = source.chunks()[Symbol.asyncIterator]();
  const first = await iterator.next();
  assert.equal(first.value.type, 'data');
  await delay(300);
  assert.equal(segmentHits() - start, 1, 'one segment fetched while the consumer holds the first');
  await iterator.return();
});

test('a master playlist plays its audio-only variant, else the lowest bandwidth', async () => {
  let chunks = await collect(await open('/master.m3u8'));
  assert.ok(server.requests.includes('/vod.m3u8?variant=audio'));
  assert.ok(!server.requests.includes('/video.m3u8'), 'the cheaper video variant is not taken');
  assert.equal(segmentIndexes(chunks).length, server.segments.length);
  chunks = await collect(await open('/master-bandwidth.m3u8'));
  assert.ok(server.requests.includes('/vod.m3u8?variant=low'));
  assert.ok(!server.requests.includes('/vod.m3u8?variant=high'));
  assert.equal(chunks.at(-1).type, 'end');
});

test('a discontinuity resets before that segment', async () => {
  const chunks = await collect(await open('/discontinuity.m3u8'));
  assert.deepEqual(kinds(chunks), ['data', 'data', 'data', 'reset', 'data', 'data', 'end']);
  assert.equal(chunks[3].reason, 'discontinuity');
  assert.deepEqual(segmentIndexes(chunks), [0, 1, 2, 3, 4]);
});

test('a 404 segment is a gap of its EXTINF seconds, then a reset', async () => {
  const chunks = await collect(await open('/missing.m3u8'));
  assert.deepEqual(kinds(chunks), ['data', 'data', 'gap', 'reset', 'data', 'data', 'end']);
  assert.equal(chunks[2].seconds, server.segments[2].duration);
  assert.equal(chunks[2].reason, 'http_404');
  assert.deepEqual(segmentIndexes(chunks), [0, 1, 3, 4]);
});

test('a 500 segment is tried twice, then a gap', async () => {
  const chunks = await collect(await open('/error500.m3u8'));
  assert.deepEqual(kinds(chunks), ['data', 'data', 'gap', 'reset', 'data', 'data', 'end']);
  assert.equal(chunks[2].reason, 'http_500');
  assert.equal(server.hits.get('/fail/2.ts'), 2);
});

test('an HTML segment is a not_media gap; three in a row fail the source with 415', async () => {
  const chunks = await collect(await open('/html.m3u8'));
  assert.deepEqual(kinds(chunks), ['data', 'data', 'gap', 'reset', 'data', 'data', 'end']);
  assert.equal(chunks[2].reason, 'not_media');
  const source = await open('/all-html.m3u8');
  const seen = [];
  await rejectsWith((async () => {
    for await (const chunk of source.chunks()) seen.push(chunk);
  })(), 415, 'not_media', /3 segments in a row/);
  assert.deepEqual(kinds(seen), ['gap', 'gap']);
});

test('AES-128 segments are decrypted (IV from the tag, then from the sequence number)', async () => {
  const chunks = await collect(await open('/aes.m3u8'));
  assert.deepEqual(segmentIndexes(chunks), [0, 1, 2, 3, 4, 5]);
  assert.equal(server.hits.get('/key.bin'), 1, 'the key is fetched once');
});

test('fMP4: the init section (EXT-X-MAP) comes before the first fragment and again after a reset', async () => {
  const chunks = await collect(await open('/fmp4.m3u8'));
  assert.deepEqual(kinds(chunks), ['data', 'data', 'data', 'reset', 'data', 'data', 'end']);
  const data = chunks.filter((c) => c.type === 'data').map((c) => c.bytes);
  assert.deepEqual(data, [FMP4_INIT, fmp4Fragment(0), fmp4Fragment(1), FMP4_INIT, fmp4Fragment(2)]);
  assert.equal(server.hits.get('/init.mp4'), 1, 'the init section is fetched once');
});

test('bad inputs get their error codes', async () => {
  await rejectsWith(open('/self.m3u8'), 400, 'playlist_invalid', /points back/);
  await rejectsWith(open('/nest.m3u8'), 400, 'playlist_invalid', /more than 2 deep/);
  await rejectsWith(open('/huge.m3u8'), 413, 'download_too_large', /playlist is larger than 1 MB/);
  await rejectsWith(open('/many.m3u8'), 400, 'playlist_invalid', /6000 entries, more than the 5000/);
  await rejectsWith(open('/many-lines.m3u8'), 400, 'playlist_invalid', /lines, more than the 20000/);
  await rejectsWith(open('/bad-attribute.m3u8'), 400, 'playlist_invalid', /could not be parsed/);
  await rejectsWith(open('/parts.m3u8?mb=8'), 413, 'download_too_large', /playlist is larger than 1 MB/);
  await rejectsWith(open('/sample-aes.m3u8'), 400, 'unsupported_encryption', /SAMPLE-AES/);
  await rejectsWith(open({ url: 'ftp://example.com/a.m3u8' }), 400, 'invalid_url', /http and https/);
  await rejectsWith(open({ url: 'http://user:pw@example.com/a.m3u8' }), 400, 'invalid_url', /credentials/);
  await rejectsWith(open({ url: 'not a url' }), 400, 'invalid_url', /Not a URL/);
  await rejectsWith(open('/vod.m3u8', { limits: { allowPrivate: false } }), 403, 'url_forbidden', /ALLOW_PRIVATE_URLS/);
  await rejectsWith(open('/nothing-here.mp3'), 400, 'url_fetch_failed', /404/);
  await rejectsWith(open('/story.mp3', { limits: { maxBytes: 10000 } }), 413, 'download_too_large');
  await rejectsWith(open('/slow.mp3', { limits: { timeoutMs: 500 } }), 504, 'download_timeout');
  assert.deepEqual(fs.readdirSync(downloadDir), [], 'failed downloads leave no file');
});

test('vetUrl checks scheme, credentials and the first host without a request', async () => {
  const count = server.requests.length;
  await rejectsWith(vetUrl('file:///etc/passwd', { allowPrivate: true }), 400, 'invalid_url');
  await rejectsWith(vetUrl(`${server.origin}/vod.m3u8`, { allowPrivate: false }), 403, 'url_forbidden');
  await rejectsWith(vetUrl('http://media.example/a.m3u8', {
    allowPrivate: false, lookup: async () => [{ address: '10.0.0.7', family: 4 }] }), 403, 'url_forbidden', /10\.0\.0\.7/);
  const url = await vetUrl('http://media.example/a.m3u8', {
    allowPrivate: false, lookup: async () => [{ address: '93.184.216.34', family: 4 }] });
  assert.equal(url.hostname, 'media.example');
  assert.equal(server.requests.length, count, 'no request was made');
});

test('a segment on a private host fails the whole source with url_forbidden', async () => {
  // 127.0.0.1 counts as public here, 127.0.0.2 as private: the playlist passes, the segment must not.
  const isPrivate = (address) => address !== '127.0.0.1';
  const source = await open('/private.m3u8', { limits: { allowPrivate: false, isPrivate } });
  const seen = [];
  await rejectsWith((async () => {
    for await (const chunk of source.chunks()) seen.push(chunk);
  })(), 403, 'url_forbidden', /127\.0\.0\.2/);
  assert.deepEqual(kinds(seen), ['data'], 'the first segment came, nothing was skipped in silence');
});

test('live HLS starts at the live edge and polls without duplicates or skips; abort closes every socket', async () => {
  const controller = new AbortController();
  const source = await open('/live.m3u8?name=edge', { signal: controller.signal });
  assert.equal(source.kind, 'hls');
  const chunks = [];
  for await (const chunk of source.chunks()) {
    chunks.push(chunk);
    if (chunks.length === 6) controller.abort();
  }
  // 6 segments at the start, 1 s each, target 1 s: the live edge is the last 3 (sequence 3, 4, 5).
  assert.deepEqual(kinds(chunks), Array(6).fill('data'));
  assert.deepEqual(segmentIndexes(chunks), [3, 4, 5, 6, 7, 8]);
  assert.ok(server.hits.get('/live.m3u8') >= 3, 'the playlist was reloaded');
  assert.ok(await waitFor(() => server.openConnections() === 0), `${server.openConnections()} connections left open`);
});

test('live HLS from: start begins at the first segment in the window', async () => {
  const controller = new AbortController();
  const source = await openSource({ url: `${server.origin}/live.m3u8?name=start`, from: 'start' },
    { signal: controller.signal, limits: LIMITS, downloadDir });
  const chunks = await collect(source, (all) => all.length === 2);
  controller.abort();
  assert.deepEqual(segmentIndexes(chunks), [0, 1]);
});

test('segments that slid out of the window before being fetched become one gap', async () => {
  server.state.scripted = { first: 0, count: 3, duration: 0.75, target: 1 };
  const controller = new AbortController();
  const source = await openSource({ url: `${server.origin}/scripted.m3u8`, from: 'start' },
    { signal: controller.signal, limits: LIMITS, downloadDir });
  const iterator = source.chunks()[Symbol.asyncIterator]();
  assert.deepEqual(segmentIndexes([(await iterator.next()).value]), [0]);
  server.state.scripted = { first: 5, count: 3, duration: 0.75, target: 1 };
  await delay(1100); // a reload is due
  const next = [];
  for (let i = 0; i < 3; i += 1) next.push((await iterator.next()).value);
  controller.abort();
  // 1 and 2 were seen (0.75 s each); 3 and 4 never were (one target duration each).
  assert.deepEqual(next[0], { type: 'gap', seconds: 3.5, reason: 'skipped' });
  assert.deepEqual(next[1], { type: 'reset', reason: 'skipped' });
  assert.deepEqual(segmentIndexes([next[2]]), [5]);
  assert.equal((await iterator.next()).done, true, 'after abort the iterator just returns');
});

test('a live playlist that stops growing ends with stream_idle', async () => {
  const source = await open('/stale.m3u8', { limits: { idleTimeoutS: 1.5 } });
  const seen = [];
  const started = Date.now();
  await rejectsWith((async () => {
    for await (const chunk of source.chunks()) seen.push(chunk);
  })(), 504, 'stream_idle', /1\.5 s/);
  assert.deepEqual(segmentIndexes(seen), [3, 4, 5]);
  assert.ok(Date.now() - started < 5000);
});

test('endless MP3 and Ogg: bytes come while the server is still sending; abort closes the socket', async () => {
  for (const [route, name, type] of [['/endless.mp3', 'mp3', 'audio/mpeg'], ['/endless.ogg', 'ogg', 'application/ogg']]) {
    const controller = new AbortController();
    const source = await open(route, { signal: controller.signal });
    assert.equal(source.kind, 'http');
    assert.equal(source.live, true);
    assert.equal(source.contentType, type);
    let bytes = Buffer.alloc(0);
    for await (const chunk of source.chunks()) {
      assert.equal(chunk.type, 'data');
      bytes = Buffer.concat([bytes, chunk.bytes]);
      if (bytes.length >= 64 * 1024) {
        assert.equal(server.endless[name].open, true, 'the server is still sending');
        controller.abort();
      }
    }
    const media = name === 'mp3' ? server.mp3 : fs.readFileSync(path.join(makeStreams(), 'story.ogg'));
    assert.ok(bytes.subarray(0, 64 * 1024).equals(media.subarray(0, 64 * 1024)), 'the bytes in order');
    assert.ok(await waitFor(() => !server.endless[name].open), 'the server saw the client go');
  }
  assert.ok(await waitFor(() => server.openConnections() === 0));
});

test('garbage on an endless stream still comes through as bytes', async () => {
  const controller = new AbortController();
  const source = await open('/garbage.mp3', { signal: controller.signal });
  assert.equal(source.kind, 'http');
  const chunks = await collect(source, (all) => dataOf(all).length >= 32 * 1024);
  controller.abort();
  assert.ok(dataOf(chunks).length >= 32 * 1024);
});

test('an endless stream ends with end on EOF and with stream_idle when it goes silent', async () => {
  const chunks = await collect(await open('/once.mp3'));
  assert.ok(dataOf(chunks).equals(server.mp3));
  assert.deepEqual(chunks.at(-1), { type: 'end', reason: 'eof' });
  const source = await open('/silent.mp3', { limits: { idleTimeoutS: 0.5 } });
  let got = 0;
  await rejectsWith((async () => {
    for await (const chunk of source.chunks()) got += chunk.bytes.length;
  })(), 504, 'stream_idle');
  assert.equal(got, 4096);
});

test('a finite file is downloaded (kind download) with progress', async () => {
  const progress = [];
  const source = await open('/story.mp3', { onProgress: (p) => progress.push(p) });
  assert.equal(source.kind, 'download');
  assert.equal(source.live, false);
  assert.equal(source.name, 'story.mp3');
  assert.equal(source.chunks, undefined);
  assert.ok(fs.readFileSync(source.file).equals(server.mp3));
  assert.deepEqual(progress.at(-1), { bytes: server.mp3.length, total: server.mp3.length });
  fs.rmSync(source.file);
});

test('a growing file is followed to the end, and ends after followIdleS without growth', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-follow-'));
  const file = path.join(dir, 'recording.mp3');
  const whole = server.mp3.subarray(0, 100000);
  fs.writeFileSync(file, whole.subarray(0, 10000));
  let written = 10000;
  let lastWriteAt = Date.now();
  const writer = setInterval(() => {
    fs.appendFileSync(file, whole.subarray(written, written + 10000));
    lastWriteAt = Date.now();
    written += 10000;
    if (written >= whole.length) clearInterval(writer);
  }, 60);
  try {
    const source = await open({ path: file, follow: true, mediaDir: dir });
    assert.equal(source.kind, 'file');
    assert.equal(source.contentType, 'audio/mpeg');
    const chunks = await collect(source);
    assert.ok(dataOf(chunks).equals(whole), 'every byte, in order');
    assert.deepEqual(chunks.at(-1), { type: 'end', reason: 'idle' });
    const quiet = Date.now() - lastWriteAt;
    assert.ok(quiet >= 600 && quiet < 2000, `ended ${quiet} ms after the last write (followIdleS 0.6)`);
  } finally {
    clearInterval(writer);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a followed file that shrinks gives a zero-second gap and a reset, then is read from 0', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-follow-'));
  const file = path.join(dir, 'rec.ts');
  fs.writeFileSync(file, server.segments[0].bytes);
  try {
    const source = await open({ path: file, follow: true, mediaDir: dir }, { limits: { followIdleS: 1 } });
    const iterator = source.chunks()[Symbol.asyncIterator]();
    assert.ok((await iterator.next()).value.bytes.equals(server.segments[0].bytes));
    fs.writeFileSync(file, server.segments[1].bytes.subarray(0, 1000));
    const rest = [];
    for (let step = await iterator.next(); !step.done; step = await iterator.next()) rest.push(step.value);
    assert.deepEqual(rest.slice(0, 2), [{ type: 'gap', seconds: 0, reason: 'truncated' }, { type: 'reset', reason: 'truncated' }]);
    assert.ok(dataOf(rest).equals(server.segments[1].bytes.subarray(0, 1000)));
    assert.deepEqual(rest.at(-1), { type: 'end', reason: 'idle' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('following a missing file is a 404; abort ends a follow at once', async () => {
  await rejectsWith(open({ path: path.join(os.tmpdir(), 'no-such-recording.mp3'), follow: true, mediaDir: os.tmpdir() }),
    404, 'file_not_found');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-follow-'));
  const file = path.join(dir, 'quiet.mp3');
  fs.writeFileSync(file, server.mp3.subarray(0, 100));
  try {
    const controller = new AbortController();
    const source = await open({ path: file, follow: true, mediaDir: dir }, { signal: controller.signal, limits: { followIdleS: 60 } });
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const chunks = await collect(source);
    assert.deepEqual(kinds(chunks), ['data']);
    assert.ok(Date.now() - started < 1000, 'returned promptly after abort');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a live playlist with #EXT-X-TARGETDURATION:0 is reloaded at most once a second', async () => {
  const controller = new AbortController();
  const source = await open('/zero-target.m3u8', { signal: controller.signal });
  const before = server.zeroTargetLoads();
  const started = Date.now();
  const chunks = await collect(source, () => Date.now() - started > 3000);
  controller.abort();
  const loads = server.zeroTargetLoads() - before;
  const seconds = (Date.now() - started) / 1000;
  // 1,841 reloads in 4 s before the floor (issue 19); now one a second, plus the first.
  assert.ok(loads <= Math.ceil(seconds) + 1, `${loads} reloads in ${seconds} s`);
  assert.ok(chunks.some((c) => c.type === 'data'), 'segments still come');
});

test('a segment over 32 MB is a too_large gap and its download stops; three in a row fail the source', async () => {
  const chunks = await collect(await open('/big.m3u8?mb=40&index=1', { limits: { maxBytes: 500e6 } }));
  assert.deepEqual(kinds(chunks), ['data', 'gap', 'reset', 'data', 'end']);
  assert.deepEqual(chunks[1], { type: 'gap', seconds: server.segments[1].duration, reason: 'too_large' });
  const source = await open('/big.m3u8?mb=40&all=1', { limits: { maxBytes: 500e6 } });
  await rejectsWith(collect(source), 413, 'segment_too_large', /3 segments in a row were larger than 32 MB/);
});

test('a 4 MB segment comes through whole', async () => {
  const chunks = await collect(await open('/big.m3u8?mb=4&index=1'));
  assert.deepEqual(kinds(chunks), ['data', 'data', 'data', 'end']);
  assert.ok(chunks[1].bytes.length >= 4 * 1024 * 1024);
  assert.ok(chunks[1].bytes.subarray(0, 188).equals(server.segments[1].bytes.subarray(0, 188)));
});

test('a followed file swapped for a symlink is never read through the new path', async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'live-follow-swap-'));
  const media = path.join(base, 'media');
  fs.mkdirSync(media);
  const file = path.join(media, 'rec.mp3');
  const secret = path.join(base, 'secret.bin');
  fs.writeFileSync(secret, Buffer.alloc(200000, 'S'));
  const first = server.mp3.subarray(0, 5000);
  fs.writeFileSync(file, first);
  try {
    // a symlink out of the folder at open time: refused, nothing read
    fs.symlinkSync(secret, path.join(media, 'out.mp3'));
    await rejectsWith(open({ path: path.join(media, 'out.mp3'), follow: true, mediaDir: media }), 403, 'path_outside_media_dir');
    // swapped after the open: the descriptor opened at the start is all that is read
    const source = await open({ path: file, follow: true, mediaDir: media }, { limits: { followIdleS: 1 } });
    const iterator = source.chunks()[Symbol.asyncIterator]();
    assert.ok((await iterator.next()).value.bytes.equals(first));
    fs.renameSync(file, path.join(media, 'old.mp3'));
    fs.symlinkSync(secret, file);
    const rest = [];
    for (let step = await iterator.next(); !step.done; step = await iterator.next()) rest.push(step.value);
    assert.equal(dataOf(rest).length, 0, 'not one byte of the file outside the folder');
    assert.deepEqual(rest.at(-1), { type: 'end', reason: 'idle' });
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});
