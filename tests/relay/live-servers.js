'use strict';

/**
 * Test servers for the live sources, on 127.0.0.1 and port 0: HLS (VOD, live with a sliding
 * window, a scripted window the test moves, masters, AES-128, discontinuities, 404/500/HTML
 * segments, a self-referencing master, a 100,000-entry playlist, a segment on a "private" host),
 * endless MP3/Ogg/garbage streams, and finite files. Media comes from tests/fixtures/make_streams.py,
 * run once per version of that script (cached under os.tmpdir()).
 *
 * Hostile ones (issue 19): a live playlist with #EXT-X-TARGETDURATION:0 and 1-ms segments that is new
 * at every reload, megabytes of #EXT-X-PART lines, too many entries or lines, a line the parser
 * chokes on, and segments of several MB (a real segment padded with MPEG-TS null packets, as the
 * video packets of a video segment look to an audio decoder).
 */

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'tests', 'fixtures', 'make_streams.py');
const PYTHON = path.join(ROOT, '.venv', 'bin', 'python');

/** Runs make_streams.py into a cached folder. Returns: the folder. */
function makeStreams() {
  const hash = crypto.createHash('sha256').update(fs.readFileSync(SCRIPT)).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), `whisper-streams-${hash}`);
  if (fs.existsSync(path.join(dir, 'done'))) return dir;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'whisper-streams-work-'));
  execFileSync(PYTHON, [SCRIPT, work], { stdio: ['ignore', 'ignore', 'inherit'] });
  fs.writeFileSync(path.join(work, 'done'), '');
  try {
    fs.renameSync(work, dir);
  } catch {
    fs.rmSync(work, { recursive: true, force: true }); // another run got there first
  }
  return dir;
}

/** The VOD segments: [{name, duration, bytes}] in order, from hls/index.m3u8. */
function readSegments(dir) {
  const lines = fs.readFileSync(path.join(dir, 'hls', 'index.m3u8'), 'utf8').split('\n');
  const segments = [];
  let duration = null;
  for (const line of lines) {
    if (line.startsWith('#EXTINF:')) duration = Number(line.slice(8).split(',')[0]);
    else if (line && !line.startsWith('#')) {
      segments.push({ name: line.trim(), duration, bytes: fs.readFileSync(path.join(dir, 'hls', line.trim())) });
    }
  }
  return segments;
}

const KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const EXPLICIT_IV = Buffer.from('0f0e0d0c0b0a09080706050403020100', 'hex');
const AES_FIRST_SEQ = 7;
const AES_EXPLICIT_COUNT = 3;

function encrypt(bytes, iv) {
  const cipher = crypto.createCipheriv('aes-128-cbc', KEY, iv);
  return Buffer.concat([cipher.update(bytes), cipher.final()]);
}

function sequenceIv(sequence) {
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(sequence), 8);
  return iv;
}

/** Stand-ins for fragmented MP4: an init section (ftyp box) and media fragments (moof boxes). */
const FMP4_INIT = Buffer.concat([Buffer.from([0, 0, 0, 16]), Buffer.from('ftypiso6\0\0\0\0', 'latin1')]);
function fmp4Fragment(index) {
  return Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from(`moof fragment number ${index}`, 'latin1')]);
}

/**
 * A real TS segment padded to `mb` MB with null packets (PID 0x1FFF, which demuxers skip) spread
 * between its own packets, as a video segment's video packets lie between its audio packets.
 */
function paddedSegment(bytes, mb) {
  const nul = Buffer.alloc(188, 0xff);
  nul.set([0x47, 0x1f, 0xff, 0x10]);
  const packets = bytes.length / 188;
  const each = Math.max(0, Math.ceil((mb * 1024 * 1024 - bytes.length) / 188 / packets));
  const padding = Buffer.concat(Array(each).fill(nul));
  const parts = [];
  for (let i = 0; i < packets; i += 1) parts.push(bytes.subarray(i * 188, (i + 1) * 188), padding);
  return Buffer.concat(parts);
}

/** `mb` MB of low-latency HLS part lines in a live playlist (they are not #EXTINF entries). */
function partLines(mb) {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:9', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:0'];
  let size = 0;
  for (let i = 0; size < mb * 1024 * 1024; i += 1) {
    const line = `#EXT-X-PART:DURATION=0.33334,URI="/part/${i}.m4s",INDEPENDENT=YES`;
    lines.push(line);
    size += line.length + 1;
    if (i % 6 === 5) lines.push('#EXTINF:2.0,', `/seg/${(i - 5) / 6}.ts`);
  }
  return `${lines.join('\n')}\n`;
}

function mediaPlaylist(entries, { target = 3, sequence = 0, endList = true, head = [] } = {}) {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', `#EXT-X-TARGETDURATION:${target}`, `#EXT-X-MEDIA-SEQUENCE:${sequence}`, ...head];
  for (const entry of entries) {
    if (entry.tags) lines.push(...entry.tags);
    lines.push(`#EXTINF:${entry.duration.toFixed(3)},`, entry.uri);
  }
  if (endList) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

/**
 * Args: {dir (from makeStreams), live: {periodMs, window, initial}}.
 * Returns: {origin, port, segments, mp3, ogg, hits (path -> count), requests (paths in order),
 *   scripted ({first, count, duration, target}: the /scripted.m3u8 window), endless (per stream:
 *   {sent, open}), openConnections(), close()}.
 */
async function startMediaServer({ dir, live = { periodMs: 500, window: 6, initial: 6 } }) {
  const segments = readSegments(dir);
  const mp3 = fs.readFileSync(path.join(dir, 'story.mp3'));
  const ogg = fs.readFileSync(path.join(dir, 'story.ogg'));
  const hits = new Map();
  const requests = [];
  const sockets = new Set();
  const clocks = new Map();
  const endless = {};
  const timers = new Set();
  const state = { scripted: { first: 0, count: 3, duration: 0.75, target: 1 } };
  const padded = new Map(); // `${index} ${mb}` -> bytes
  const parts = new Map(); // mb -> playlist text
  let zeroTargetLoads = 0;
  let port = 0;

  const seg = (index) => segments[index % segments.length];
  const vodEntries = (prefix = '/seg/') => segments.map((s, i) => ({ duration: s.duration, uri: `${prefix}${i}.ts` }));

  function send(response, status, type, body) {
    response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    response.end(body);
  }

  const M3U8 = 'application/vnd.apple.mpegurl';
  function playlist(response, text, type = M3U8) {
    send(response, 200, type, text);
  }

  /** A live window: `initial` segments at the first request, one more every periodMs, `window` kept. */
  function livePlaylist(name, { stale = false } = {}) {
    if (!clocks.has(name)) clocks.set(name, Date.now());
    const produced = stale ? live.initial : live.initial + Math.floor((Date.now() - clocks.get(name)) / live.periodMs);
    const first = Math.max(0, produced - live.window);
    const entries = [];
    for (let sequence = first; sequence < produced; sequence += 1) entries.push({ duration: 1, uri: `/seg/${sequence}.ts` });
    return mediaPlaylist(entries, { target: 1, sequence: first, endList: false });
  }

  function endlessStream(request, response, name, type, source) {
    response.writeHead(200, { 'content-type': type }); // chunked: no Content-Length
    const info = { sent: 0, open: true };
    endless[name] = info;
    let offset = 0;
    const timer = setInterval(() => {
      const chunk = source ? source.subarray(offset, offset + 8192) : crypto.randomBytes(8192);
      offset = source ? (offset + 8192) % source.length : 0;
      info.sent += chunk.length;
      response.write(chunk);
    }, 20);
    timers.add(timer);
    response.on('close', () => {
      clearInterval(timer);
      timers.delete(timer);
      info.open = false;
    });
  }

  const routes = {
    '/vod.m3u8': (q, res) => playlist(res, mediaPlaylist(vodEntries())),
    '/vod-by-content.txt': (q, res) => playlist(res, mediaPlaylist(vodEntries()), 'text/plain'),
    '/master.m3u8': (q, res) => playlist(res, ['#EXTM3U',
      '#EXT-X-STREAM-INF:BANDWIDTH=50000,CODECS="avc1.42e00a,mp4a.40.2"', '/video.m3u8',
      '#EXT-X-STREAM-INF:BANDWIDTH=96000,CODECS="mp4a.40.2"', '/vod.m3u8?variant=audio', ''].join('\n')),
    '/master-bandwidth.m3u8': (q, res) => playlist(res, ['#EXTM3U',
      '#EXT-X-STREAM-INF:BANDWIDTH=900000', '/vod.m3u8?variant=high',
      '#EXT-X-STREAM-INF:BANDWIDTH=100000', '/vod.m3u8?variant=low', ''].join('\n')),
    '/self.m3u8': (q, res) => playlist(res, '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n/self.m3u8\n'),
    '/nest.m3u8': (q, res) => {
      const level = Number(q.get('level') || 0);
      playlist(res, `#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n/nest.m3u8?level=${level + 1}\n`);
    },
    '/huge.m3u8': (q, res) => {
      const entries = Array.from({ length: 100000 }, (_, i) => ({ duration: 2, uri: `/seg/${i}.ts` }));
      playlist(res, mediaPlaylist(entries));
    },
    '/discontinuity.m3u8': (q, res) => playlist(res, mediaPlaylist(vodEntries().slice(0, 5).map((e, i) => (
      i === 3 ? { ...e, tags: ['#EXT-X-DISCONTINUITY'] } : e)))),
    '/missing.m3u8': (q, res) => playlist(res, mediaPlaylist(vodEntries().slice(0, 5).map((e, i) => (
      i === 2 ? { ...e, uri: '/gone/2.ts' } : e)))),
    '/error500.m3u8': (q, res) => playlist(res, mediaPlaylist(vodEntries().slice(0, 5).map((e, i) => (
      i === 2 ? { ...e, uri: '/fail/2.ts' } : e)))),
    '/html.m3u8': (q, res) => playlist(res, mediaPlaylist(vodEntries().slice(0, 5).map((e, i) => (
      i === 2 ? { ...e, uri: '/page/2.ts' } : e)))),
    '/all-html.m3u8': (q, res) => playlist(res, mediaPlaylist(vodEntries().map((e, i) => ({ ...e, uri: `/page/${i}.ts` })))),
    '/aes.m3u8': (q, res) => playlist(res, mediaPlaylist(vodEntries('/aes/').slice(0, 6).map((e, i) => {
      if (i === 0) return { ...e, tags: [`#EXT-X-KEY:METHOD=AES-128,URI="/key.bin",IV=0x${EXPLICIT_IV.toString('hex')}`] };
      if (i === AES_EXPLICIT_COUNT) return { ...e, tags: ['#EXT-X-KEY:METHOD=AES-128,URI="/key.bin"'] };
      return e;
    }), { sequence: AES_FIRST_SEQ })),
    '/sample-aes.m3u8': (q, res) => playlist(res, mediaPlaylist(vodEntries().slice(0, 2), {
      head: ['#EXT-X-KEY:METHOD=SAMPLE-AES,URI="/key.bin"'] })),
    '/private.m3u8': (q, res) => playlist(res, mediaPlaylist(vodEntries().slice(0, 3).map((e, i) => (
      i === 1 ? { ...e, uri: `http://127.0.0.2:${port}/seg/1.ts` } : e)))),
    '/live.m3u8': (q, res) => playlist(res, livePlaylist(q.get('name') || 'live')),
    '/stale.m3u8': (q, res) => playlist(res, livePlaylist('stale', { stale: true })),
    '/scripted.m3u8': (q, res) => {
      const { first, count, duration, target } = state.scripted;
      const entries = Array.from({ length: count }, (_, i) => ({ duration, uri: `/seg/${first + i}.ts` }));
      playlist(res, mediaPlaylist(entries, { target, sequence: first, endList: false }));
    },
    '/zero-target.m3u8': (q, res) => {
      zeroTargetLoads += 1; // a new window at every load: the reader never sees it unchanged
      const folder = q.get('missing') ? 'gone' : 'seg'; // missing: 404 segments, each a gap at once
      const entries = Array.from({ length: 3 }, (_, i) => ({ duration: 0.001, uri: `/${folder}/${(zeroTargetLoads + i) % 20}.ts` }));
      playlist(res, mediaPlaylist(entries, { target: 0, sequence: zeroTargetLoads, endList: false }));
    },
    '/parts.m3u8': (q, res) => {
      const mb = Number(q.get('mb') || 8);
      if (!parts.has(mb)) parts.set(mb, partLines(mb));
      playlist(res, parts.get(mb));
    },
    '/many.m3u8': (q, res) => {
      const entries = Array.from({ length: 6000 }, (_, i) => ({ duration: 2, uri: `/seg/${i}.ts` }));
      playlist(res, mediaPlaylist(entries));
    },
    '/many-lines.m3u8': (q, res) => playlist(res, mediaPlaylist(vodEntries().slice(0, 2), { head: Array(25000).fill('#EXT-X-GAP') })),
    '/bad-attribute.m3u8': (q, res) => playlist(res, `${mediaPlaylist(vodEntries().slice(0, 2))}#EXT-X-KEY:METHOD=NONE, \n`),
    '/big.m3u8': (q, res) => {
      const big = (i) => q.get('all') || i === Number(q.get('index') || 1);
      playlist(res, mediaPlaylist(vodEntries().slice(0, Number(q.get('count') || 3)).map((e, i) => (
        big(i) ? { ...e, uri: `/big/${i}.ts?mb=${q.get('mb')}` } : e))));
    },
    '/fmp4.m3u8': (q, res) => playlist(res, mediaPlaylist([0, 1, 2].map((i) => ({
      duration: 2, uri: `/frag/${i}.m4s`, tags: i === 2 ? ['#EXT-X-DISCONTINUITY'] : [] })), {
      head: ['#EXT-X-VERSION:7', '#EXT-X-MAP:URI="/init.mp4"'] })),
    '/init.mp4': (q, res) => send(res, 200, 'application/octet-stream', FMP4_INIT),
    '/key.bin': (q, res) => send(res, 200, 'application/octet-stream', KEY),
    '/endless.mp3': (q, res, req) => endlessStream(req, res, 'mp3', 'audio/mpeg', mp3),
    '/endless.ogg': (q, res, req) => endlessStream(req, res, 'ogg', 'application/ogg', ogg),
    '/garbage.mp3': (q, res, req) => endlessStream(req, res, 'garbage', 'audio/mpeg', null),
    '/silent.mp3': (q, res) => {
      res.writeHead(200, { 'content-type': 'audio/mpeg' });
      res.write(mp3.subarray(0, 4096));
    },
    '/once.mp3': (q, res) => {
      res.writeHead(200, { 'content-type': 'audio/mpeg' });
      res.end(mp3);
    },
    '/story.mp3': (q, res) => send(res, 200, 'audio/mpeg', mp3),
    '/slow.mp3': (q, res) => {
      res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': mp3.length });
      res.write(mp3.subarray(0, 1000));
    },
  };

  function handle(request, response) {
    const url = new URL(request.url, 'http://x');
    requests.push(request.url);
    hits.set(url.pathname, (hits.get(url.pathname) || 0) + 1);
    const route = routes[url.pathname];
    if (route) return route(url.searchParams, response, request);
    let match = /^\/seg\/(\d+)\.ts$/.exec(url.pathname);
    if (match) return send(response, 200, 'video/mp2t', seg(Number(match[1])).bytes);
    match = /^\/big\/(\d+)\.ts$/.exec(url.pathname);
    if (match) {
      const key = `${match[1]} ${url.searchParams.get('mb')}`;
      if (!padded.has(key)) padded.set(key, paddedSegment(seg(Number(match[1])).bytes, Number(url.searchParams.get('mb'))));
      return send(response, 200, 'video/mp2t', padded.get(key));
    }
    match = /^\/frag\/(\d+)\.m4s$/.exec(url.pathname);
    if (match) return send(response, 200, 'application/octet-stream', fmp4Fragment(Number(match[1])));
    match = /^\/aes\/(\d+)\.ts$/.exec(url.pathname);
    if (match) {
      const index = Number(match[1]);
      const iv = index < AES_EXPLICIT_COUNT ? EXPLICIT_IV : sequenceIv(AES_FIRST_SEQ + index);
      return send(response, 200, 'application/octet-stream', encrypt(seg(index).bytes, iv));
    }
    if (url.pathname.startsWith('/fail/')) return send(response, 500, 'text/plain', 'server error');
    if (url.pathname.startsWith('/page/')) {
      return send(response, 200, 'text/html', '<!doctype html><title>Sorry</title><p>Not here.</p>'.repeat(10));
    }
    return send(response, 404, 'text/plain', 'not found');
  }

  const server = http.createServer(handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    segments,
    mp3,
    hits,
    requests,
    state,
    endless,
    openConnections: () => sockets.size,
    zeroTargetLoads: () => zeroTargetLoads,
    async close() {
      padded.clear();
      for (const timer of timers) clearInterval(timer);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

module.exports = { makeStreams, readSegments, startMediaServer, KEY, FMP4_INIT, fmp4Fragment };
