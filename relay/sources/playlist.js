'use strict';

/**
 * HLS playlists: parsed with m3u8-parser, checked (size, entries, encryption), a master resolved
 * to one media playlist, segments turned into plain objects with absolute URLs and sequence numbers.
 */

const { setImmediate: nextTurn } = require('node:timers/promises');
const { Parser } = require('m3u8-parser');
const { playlistInvalid, tooManyEntries, tooManyLines, unsupportedEncryption } = require('./errors');

/** A real playlist is a few KB to a few hundred; 8 MB of tags kept the event loop busy for seconds (issue 19). */
const MAX_PLAYLIST_BYTES = 1024 * 1024;
/** Every line counts (a tag the entry count skips, like #EXT-X-PART, costs as much to parse): 4 per entry. */
const LINES_PER_ENTRY = 4;
/** Lines handed to the parser at a time; the event loop gets a turn between pieces (a piece takes a few ms). */
const PARSE_PIECE_LINES = 500;
const MAX_MASTER_DEPTH = 2;
const AUDIO_CODECS = /^(mp4a|ac-3|ec-3|opus|flac|mp3|alac|fLaC|Opus)/i;

/** True when a body starts like a playlist (a UTF-8 byte-order mark may come first). */
function looksLikePlaylist(head) {
  const text = head.toString('utf8').replace(/^\uFEFF/, '');
  return text.startsWith('#EXTM3U');
}

/**
 * Args: text — the playlist; url — where it came from (for messages); maxEntries — the most
 *   segments or variants allowed (and 4 lines per entry, every line counted).
 * Returns: Promise<{master: boolean, manifest}> — m3u8-parser's manifest. The text is parsed in
 *   pieces of PARSE_PIECE_LINES lines with a turn of the event loop between them.
 * Raises: playlist_invalid (not a playlist, too many entries or lines, a line the parser chokes on),
 *   unsupported_encryption.
 */
async function parsePlaylist(text, url, maxEntries) {
  const body = text.replace(/^\uFEFF/, '');
  if (!body.startsWith('#EXTM3U')) playlistError(url, 'does not start with #EXTM3U');
  // Count before parsing: a 100,000-entry playlist is refused without building 100,000 objects.
  const entries = countTags(body, '#EXTINF') + countTags(body, '#EXT-X-STREAM-INF');
  if (entries > maxEntries) throw tooManyEntries(entries, maxEntries);
  const lines = body.split('\n');
  if (lines.length > maxEntries * LINES_PER_ENTRY) throw tooManyLines(lines.length, maxEntries * LINES_PER_ENTRY);
  const parser = new Parser();
  try {
    for (let at = 0; at < lines.length; at += PARSE_PIECE_LINES) {
      if (at > 0) await nextTurn();
      parser.push(`${lines.slice(at, at + PARSE_PIECE_LINES).join('\n')}\n`);
    }
    parser.end();
  } catch (err) {
    playlistError(url, `could not be parsed (${err.message})`);
  }
  const { manifest } = parser;
  const master = Array.isArray(manifest.playlists) && manifest.playlists.length > 0;
  if (!master) checkMedia(manifest, url);
  return { master, manifest };
}

function countTags(text, tag) {
  let count = 0;
  for (let at = text.indexOf(tag); at !== -1; at = text.indexOf(tag, at + tag.length)) count += 1;
  return count;
}

function checkMedia(manifest, url) {
  if (!manifest.segments || manifest.segments.length === 0) {
    if (manifest.endList) playlistError(url, 'has no segments');
  }
  for (const segment of manifest.segments || []) {
    for (const key of [segment.key, segment.map && segment.map.key]) {
      if (key && key.method !== 'NONE' && key.method !== 'AES-128') throw unsupportedEncryption(key.method);
      if (key && key.method === 'AES-128' && !key.uri) playlistError(url, 'has an AES-128 key without a URI');
    }
    if (!segment.uri) playlistError(url, 'has a segment without a URI');
  }
}

function playlistError(url, what) {
  throw playlistInvalid(`The playlist at ${url} ${what}.`);
}

/**
 * Picks what to play from a master playlist: an audio-only variant (every codec an audio one;
 * the lowest bandwidth of those), else an audio rendition with its own URI (EXT-X-MEDIA
 * TYPE=AUDIO, the DEFAULT one first), else the variant with the lowest BANDWIDTH.
 * Returns: {uri (absolute), why}.
 */
function chooseVariant(manifest, baseUrl) {
  const variants = manifest.playlists.filter((p) => p.uri);
  if (variants.length === 0) playlistError(baseUrl, 'lists no variant URIs');
  const bandwidth = (p) => Number((p.attributes && (p.attributes.BANDWIDTH ?? p.attributes['AVERAGE-BANDWIDTH'])) || Infinity);
  const byBandwidth = [...variants].sort((a, b) => bandwidth(a) - bandwidth(b));
  const audioOnly = byBandwidth.find((p) => {
    const codecs = p.attributes && p.attributes.CODECS;
    return codecs && codecs.split(',').every((c) => AUDIO_CODECS.test(c.trim()));
  });
  if (audioOnly) return { uri: resolve(audioOnly.uri, baseUrl), why: 'audio-only variant' };
  const renditions = Object.values((manifest.mediaGroups && manifest.mediaGroups.AUDIO) || {})
    .flatMap((group) => Object.values(group)).filter((r) => r.uri);
  if (renditions.length) {
    const rendition = renditions.find((r) => r.default) || renditions[0];
    return { uri: resolve(rendition.uri, baseUrl), why: 'audio rendition' };
  }
  return { uri: resolve(byBandwidth[0].uri, baseUrl), why: 'lowest bandwidth' };
}

function resolve(uri, baseUrl) {
  try {
    return new URL(uri, baseUrl).href;
  } catch {
    return playlistError(baseUrl, `has an invalid URI ${JSON.stringify(String(uri).slice(0, 200))}`);
  }
}

/**
 * Follows master playlists down to a media playlist.
 * Args: first — {text, url} of the playlist already fetched; fetchText(url) -> Promise<{text, url}>;
 *   maxEntries.
 * Returns: {url, manifest} of the media playlist.
 * Raises: playlist_invalid for a master that points back at itself (or at one above it) or masters
 *   nested more than MAX_MASTER_DEPTH deep.
 */
async function resolveMediaPlaylist(first, fetchText, maxEntries) {
  const seen = new Set();
  let current = first;
  for (let depth = 0; ; depth += 1) {
    seen.add(current.url);
    const { master, manifest } = await parsePlaylist(current.text, current.url, maxEntries);
    if (!master) return { url: current.url, manifest };
    if (depth >= MAX_MASTER_DEPTH) {
      playlistError(first.url, `nests master playlists more than ${MAX_MASTER_DEPTH} deep`);
    }
    const { uri } = chooseVariant(manifest, current.url);
    if (seen.has(uri)) playlistError(current.url, `points back to ${uri}, a playlist it came from`);
    const next = await fetchText(uri);
    if (seen.has(next.url)) playlistError(current.url, `redirects back to ${next.url}, a playlist it came from`);
    current = next;
  }
}

/** IV for a segment: the tag's own, else the media sequence number as a 16-byte big-endian integer. */
function ivOf(key, sequence) {
  const iv = Buffer.alloc(16);
  if (key.iv) {
    for (let word = 0; word < 4; word += 1) iv.writeUInt32BE(key.iv[word] >>> 0, word * 4);
  } else {
    iv.writeBigUInt64BE(BigInt(sequence), 8);
  }
  return iv;
}

function keyOf(key, sequence, baseUrl) {
  if (!key || key.method === 'NONE') return null;
  return { uri: resolve(key.uri, baseUrl), iv: ivOf(key, sequence) };
}

/**
 * Returns: the media playlist's segments as [{sequence, duration, uri, discontinuity, byterange,
 *   key: {uri, iv}|null, map: {uri, byterange, key}|null}], URIs absolute.
 */
function segmentsOf(manifest, baseUrl) {
  const first = Number(manifest.mediaSequence) || 0;
  return manifest.segments.map((segment, index) => {
    const sequence = first + index;
    return {
      sequence,
      duration: Number(segment.duration) || 0,
      uri: resolve(segment.uri, baseUrl),
      discontinuity: Boolean(segment.discontinuity),
      byterange: segment.byterange || null,
      key: keyOf(segment.key, sequence, baseUrl),
      map: segment.map ? {
        uri: resolve(segment.map.uri, baseUrl),
        byterange: segment.map.byterange || null,
        key: keyOf(segment.map.key, sequence, baseUrl),
      } : null,
    };
  });
}

/** The target duration in seconds: the tag, or the longest segment when the tag is missing. */
function targetDurationOf(manifest) {
  const declared = Number(manifest.targetDuration);
  if (declared > 0) return declared;
  const longest = Math.max(0, ...manifest.segments.map((s) => Number(s.duration) || 0));
  return longest > 0 ? longest : 10;
}

module.exports = {
  looksLikePlaylist, parsePlaylist, chooseVariant, resolveMediaPlaylist, segmentsOf, targetDurationOf,
  MAX_PLAYLIST_BYTES,
};
