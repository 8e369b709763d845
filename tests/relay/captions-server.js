'use strict';

/**
 * A live HLS origin for the captions tests, on 127.0.0.1 and port 0: the fixture stream's MPEG-TS
 * segments (tests/fixtures/make_streams.py) published one per period in real time, with their
 * PTS moved (PES PTS/DTS and PCR rewritten) so the media timeline is not the stream time: segments
 * before `discontinuityAt` by `shiftsS[0]` seconds, the rest, after an #EXT-X-DISCONTINUITY, by
 * `shiftsS[1]`. The playlist keeps the whole history and ends (#EXT-X-ENDLIST) after `count`
 * segments. /master.m3u8 names it as the one (audio-only) variant. Every answer allows any origin,
 * as a CDN would, so a browser player can read it. Also: parsePlaylist() for the tests.
 */

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { execFileSync } = require('node:child_process');
const { Parser } = require('m3u8-parser');
const { WebVTTParser } = require('webvtt-parser');
const { ROOT, fixture } = require('./helpers');
const { readSegments } = require('./live-servers');

const TICKS = 90000;
const WRAP = 2 ** 33;

/** A 33-bit timestamp into the 5 PES bytes at `at`, keeping the 4-bit prefix there. */
function writeTimestamp(bytes, at, ts) {
  const prefix = bytes[at] & 0xf0;
  bytes[at] = prefix | ((Math.floor(ts / 2 ** 30) & 0x07) << 1) | 1;
  bytes[at + 1] = Math.floor(ts / 2 ** 22) & 0xff;
  bytes[at + 2] = ((Math.floor(ts / 2 ** 15) & 0x7f) << 1) | 1;
  bytes[at + 3] = Math.floor(ts / 2 ** 7) & 0xff;
  bytes[at + 4] = ((ts & 0x7f) << 1) | 1;
}

function readTimestamp(bytes, at) {
  return ((bytes[at] >> 1) & 0x07) * 2 ** 30 + bytes[at + 1] * 2 ** 22 + (bytes[at + 2] >> 1) * 2 ** 15
    + bytes[at + 3] * 2 ** 7 + (bytes[at + 4] >> 1);
}

/** A copy of an MPEG-TS segment with every PTS, DTS and PCR moved by `ticks` (90 kHz). */
function shiftTimestamps(source, ticks) {
  const bytes = Buffer.from(source);
  for (let at = 0; at + 188 <= bytes.length; at += 188) {
    if (bytes[at] !== 0x47) continue;
    const control = (bytes[at + 3] >> 4) & 0x3;
    let payload = at + 4;
    if (control & 0x2) {
      const length = bytes[at + 4];
      if (length > 0 && (bytes[at + 5] & 0x10)) { // PCR: 33-bit base, then 6 reserved bits and a 9-bit extension
        const base = bytes.readUInt32BE(at + 6) * 2 + (bytes[at + 10] >> 7);
        const moved = (base + ticks) % WRAP;
        bytes.writeUInt32BE(Math.floor(moved / 2), at + 6);
        bytes[at + 10] = (bytes[at + 10] & 0x7f) | ((moved % 2) << 7);
      }
      payload += 1 + length;
    }
    if (!(bytes[at + 1] & 0x40) || !(control & 0x1) || payload + 19 > at + 188) continue;
    if (bytes[payload] !== 0 || bytes[payload + 1] !== 0 || bytes[payload + 2] !== 1) continue;
    const flags = bytes[payload + 7] >> 6;
    if (flags & 0x2) writeTimestamp(bytes, payload + 9, (readTimestamp(bytes, payload + 9) + ticks) % WRAP);
    if (flags === 0x3) writeTimestamp(bytes, payload + 14, (readTimestamp(bytes, payload + 14) + ticks) % WRAP);
  }
  return bytes;
}

/**
 * Args: {dir (makeStreams()), count (more than the fixture has: it plays again, its PTS going on),
 *   discontinuityAt, shiftsS: [before, after], periodMs, initial, targetS (#EXT-X-TARGETDURATION, 3)}.
 * Returns: {origin, segments: [{start (s in the fixture audio), pts (s, as published), duration}],
 *   published() (how many segments the playlist lists now), publishedAt(index) (the wall time in ms
 *   at which the playlist first listed that segment), close()}.
 */
async function startCaptionsOrigin({ dir, count, discontinuityAt, shiftsS, periodMs = 2000, initial = 1, targetS = 3 }) {
  const once = readSegments(dir);
  const loopS = once.reduce((sum, segment) => sum + segment.duration, 0);
  const fixture = Array.from({ length: count }, (_, index) => once[index % once.length]);
  let start = 0;
  const segments = fixture.map((segment, index) => {
    const shift = (index < discontinuityAt ? shiftsS[0] : shiftsS[1]) + Math.floor(index / once.length) * loopS;
    const entry = { start, pts: start + shift, duration: segment.duration, bytes: shiftTimestamps(segment.bytes, Math.round(shift * TICKS)) };
    start += segment.duration;
    return entry;
  });
  let began = null;
  const published = () => Math.min(count, initial + Math.floor((Date.now() - began) / periodMs));

  function playlist() {
    if (began === null) began = Date.now();
    const n = published();
    const lines = ['#EXTM3U', '#EXT-X-VERSION:3', `#EXT-X-TARGETDURATION:${targetS}`, '#EXT-X-MEDIA-SEQUENCE:0'];
    for (let index = 0; index < n; index += 1) {
      if (index === discontinuityAt) lines.push('#EXT-X-DISCONTINUITY');
      lines.push(`#EXTINF:${segments[index].duration.toFixed(3)},`, `seg/${index}.ts`);
    }
    if (n === count) lines.push('#EXT-X-ENDLIST');
    return `${lines.join('\n')}\n`;
  }

  const server = http.createServer((request, response) => {
    const url = new URL(request.url, 'http://origin');
    const headers = { 'access-control-allow-origin': '*', 'cache-control': 'no-cache' };
    const send = (status, type, body) => {
      response.writeHead(status, { ...headers, 'content-type': type, 'content-length': Buffer.byteLength(body) });
      response.end(body);
    };
    if (url.pathname === '/master.m3u8') {
      return send(200, 'application/vnd.apple.mpegurl',
        '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS="mp4a.40.2"\nlive.m3u8\n');
    }
    if (url.pathname === '/live.m3u8') return send(200, 'application/vnd.apple.mpegurl', playlist());
    const match = /^\/seg\/(\d+)\.ts$/.exec(url.pathname);
    if (match && began !== null && Number(match[1]) < published()) return send(200, 'video/mp2t', segments[Number(match[1])].bytes);
    return send(404, 'text/plain', 'not found');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    segments: segments.map(({ start: s, pts, duration }) => ({ start: s, pts, duration })),
    published: () => (began === null ? 0 : published()),
    publishedAt: (index) => (began === null ? null : began + Math.max(0, index - initial + 1) * periodMs),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** An HLS playlist through m3u8-parser (the relay's own parser). Returns: its manifest. */
function parsePlaylist(text) {
  const parser = new Parser();
  parser.push(text);
  parser.end();
  return parser.manifest;
}

/**
 * A fixture (tests/fixtures/audio/<file>) as MPEG-TS segments (tests/fixtures/make_streams.py)
 * published once, one segment per `periodMs`, PTS as encoded and no discontinuity.
 * Returns: {origin, close()} (close also removes the segments).
 */
async function publishFixture(file, { periodMs = 1000, initial = 2 } = {}) {
  const streams = fs.mkdtempSync(path.join(os.tmpdir(), 'captions-origin-'));
  execFileSync(path.join(ROOT, '.venv', 'bin', 'python'), ['-c',
    'import sys; sys.path.insert(0, sys.argv[1]); import make_streams; make_streams.make_hls([sys.argv[2]], sys.argv[3])',
    path.join(ROOT, 'tests', 'fixtures'), fixture(file), path.join(streams, 'hls')]);
  const count = fs.readdirSync(path.join(streams, 'hls')).filter((name) => name.endsWith('.ts')).length;
  const origin = await startCaptionsOrigin({ dir: streams, count, discontinuityAt: count, shiftsS: [0, 0], periodMs, initial });
  return {
    origin: origin.origin,
    close: async () => {
      await origin.close();
      fs.rmSync(streams, { recursive: true, force: true });
    },
  };
}

/**
 * Every cue of a captions media playlist, each segment fetched by the URI the playlist lists.
 * Returns: {playlist (parsed), uris, text (the cues' distinct texts, joined)}.
 */
async function captionCues(playlistUrl) {
  const playlist = parsePlaylist(await (await fetch(playlistUrl)).text());
  const cues = [];
  for (const segment of playlist.segments) {
    const response = await fetch(new URL(segment.uri, playlistUrl));
    if (response.status !== 200) throw new Error(`${segment.uri} answered ${response.status}`);
    cues.push(...new WebVTTParser().parse(await response.text(), 'metadata').cues);
  }
  return { playlist, uris: playlist.segments.map((s) => s.uri), text: [...new Set(cues.map((c) => c.text))].join(' ') };
}

module.exports = { startCaptionsOrigin, shiftTimestamps, parsePlaylist, publishFixture, captionCues };
