'use strict';

/**
 * Live sources: a URL (HLS playlist, endless HTTP audio, or a finite file to download) or a
 * growing file, turned into one ordered run of chunks with gaps and resets marked.
 *
 * openSource(input, options) -> Promise<Source>
 *   input: {url: string, from?: 'live'|'start'} | {path: string, follow: true, mediaDir: string} (the
 *     path is checked inside mediaDir again as it is opened, and read only through that descriptor)
 *   options: {signal: AbortSignal, limits: {maxBytes, timeoutMs (whole-download limit for finite
 *     files), maxRedirects, allowPrivate, idleTimeoutS, followIdleS, maxPlaylistEntries (default
 *     5000), lookup?, isPrivate?}, downloadDir, onProgress?: ({bytes, total}) => void,
 *     onKind?: (kind) => void — called as soon as the first answer tells the kind}
 * Source = {kind: 'hls'|'http'|'file'|'download', live, contentType, name, file? (download only),
 *   chunks(): AsyncIterable<Chunk> (live kinds only; call it once)}
 * Chunk = {type: 'data', bytes} | {type: 'reset', reason} | {type: 'gap', seconds, reason}
 *       | {type: 'end', reason}
 *
 * The source holds sockets (and for 'file' a watcher) until its chunks() iterator finishes or
 * `signal` aborts; after an abort the iterator just returns. Errors are HttpErrors (../errors).
 */

const fs = require('node:fs');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const { parseHttpUrl, vetHost } = require('../net/fetch');
const { saveBody, fileNameOf, ACCEPT_MEDIA } = require('./download');
const { createClient } = require('./client');
const { classify } = require('./detect');
const { resolveMediaPlaylist, MAX_PLAYLIST_BYTES } = require('./playlist');
const { HlsReader } = require('./hls');
const { endlessChunks } = require('./endless');
const { followChunks } = require('./follow');
const { openMediaFile } = require('../media/folder');
const { tooLarge } = require('./errors');
const { observeChunks } = require('../captions/tap');

const DEFAULT_LIMITS = { maxRedirects: 5, idleTimeoutS: 30, followIdleS: 30, maxPlaylistEntries: 5000 };
const HEAD_BYTES = 16;

/**
 * The checks a URL must pass before anything is fetched: http/https, no credentials, and the
 * first host's addresses allowed by the policy (a DNS lookup, no request).
 * Args: url — the client's string; limits — {allowPrivate, lookup?, isPrivate?}.
 * Returns: the parsed URL.
 * Raises: HttpError invalid_url 400, url_forbidden 403, url_fetch_failed 400 (host not found).
 */
async function vetUrl(url, limits) {
  const parsed = parseHttpUrl(url);
  await vetHost(parsed.hostname, limits);
  return parsed;
}

async function openSource(input, options) {
  const { signal, downloadDir, onProgress, onKind = () => {} } = options;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  if (signal.aborted) throw signal.reason;
  if (input && typeof input.path === 'string') {
    if (input.follow !== true) throw new TypeError('openSource: a {path} input needs follow: true');
    const source = await openFollow(input, limits, signal);
    onKind(source.kind);
    return source;
  }
  const from = (input && input.from) || 'live';
  if (from !== 'live' && from !== 'start') throw new TypeError(`openSource: from must be 'live' or 'start', not ${JSON.stringify(from)}`);
  const url = parseHttpUrl(input && input.url);
  const client = createClient({ limits, signal });
  const onAbort = () => client.close();
  signal.addEventListener('abort', onAbort, { once: true });
  const release = () => {
    signal.removeEventListener('abort', onAbort);
    client.close();
  };
  let first = null;
  try {
    first = await client.open(url, { headers: ACCEPT_MEDIA, deadlineMs: limits.timeoutMs, what: 'bytes' });
    const head = await first.body.head(HEAD_BYTES);
    const kind = classify(first.response.headers, head);
    onKind(kind); // known now: a download may take minutes more
    if (kind === 'download') return await openDownload(first, { limits, downloadDir, onProgress, client, release });
    first.guard.setDeadline(null); // the time limit is for finite files; live ones have the idle limit
    const fields = { contentType: first.response.headers['content-type'] || null, name: fileNameOf(first.url) };
    if (kind === 'http') {
      const chunks = () => endlessChunks({ body: first.body, guard: first.guard, limits, signal });
      return liveSource({ kind: 'http', ...fields }, chunks, signal, release);
    }
    const reader = await openHls(first, { client, limits, from, signal });
    return liveSource({ kind: 'hls', ...fields }, () => observeChunks(signal, reader.chunks()), signal, release);
  } catch (err) {
    release();
    if (first) first.guard.dispose();
    throw first ? client.translate(err, first.guard, 'bytes', url.href) : err;
  }
}

async function openHls(first, { client, limits, from, signal }) {
  const text = (await first.body.readAll(MAX_PLAYLIST_BYTES, () => tooLarge('playlist', MAX_PLAYLIST_BYTES)))
    .toString('utf8');
  first.guard.dispose();
  const fetchText = async (uri) => {
    const { bytes, url } = await client.fetchAll(uri, { maxBytes: MAX_PLAYLIST_BYTES, what: 'playlist' });
    return { text: bytes.toString('utf8'), url: url.href };
  };
  const media = await resolveMediaPlaylist({ text, url: first.url.href }, fetchText, limits.maxPlaylistEntries);
  return new HlsReader({ client, url: media.url, manifest: media.manifest, from, limits, signal });
}

async function openDownload(first, { limits, downloadDir, onProgress, release }) {
  first.guard.setIdle(null); // a finite file: only the whole-download time limit applies
  const dest = path.join(downloadDir, `${randomUUID()}.download`);
  try {
    const saved = await saveBody(first.response, dest, {
      maxBytes: limits.maxBytes, url: first.url, onProgress, body: first.body.chunks(),
    });
    return { kind: 'download', live: false, contentType: saved.contentType, name: saved.name, file: saved.file };
  } catch (err) {
    fs.rmSync(dest, { force: true });
    throw err;
  } finally {
    first.guard.dispose();
    release();
  }
}

async function openFollow({ path: requested, mediaDir }, limits, signal) {
  const { handle, path: file } = await openMediaFile(mediaDir, requested);
  const close = () => handle.close().catch(() => {});
  signal.addEventListener('abort', close, { once: true }); // chunks() may never be asked for
  const chunks = () => followChunks(handle, file, { followIdleS: limits.followIdleS, signal });
  const release = () => signal.removeEventListener('abort', close);
  return liveSource({ kind: 'file', contentType: contentTypeOf(file), name: path.basename(file) }, chunks, signal, release);
}

const TYPES = {
  '.mp3': 'audio/mpeg', '.aac': 'audio/aac', '.ts': 'video/mp2t', '.ogg': 'audio/ogg', '.opus': 'audio/ogg',
  '.wav': 'audio/wav', '.flac': 'audio/flac', '.m4a': 'audio/mp4', '.mp4': 'video/mp4', '.webm': 'video/webm',
  '.mkv': 'video/x-matroska',
};

function contentTypeOf(file) {
  return TYPES[path.extname(file).toLowerCase()] || null;
}

function liveSource(fields, makeChunks, signal, release) {
  let used = false;
  return {
    ...fields,
    live: true,
    chunks() {
      if (used) throw new Error('chunks() can be iterated only once per source');
      used = true;
      return guarded(makeChunks(), signal, release);
    },
  };
}

/** Ends the iterator quietly once the signal has aborted, and lets go of the sockets however it ends. */
async function* guarded(chunks, signal, release) {
  try {
    yield* chunks;
  } catch (err) {
    if (signal.aborted) return;
    throw err;
  } finally {
    release();
  }
}

module.exports = { openSource, vetUrl };
