'use strict';

/**
 * Fetches one HLS segment (or init section) and turns it into clear media bytes: one retry for a
 * 5xx or a broken connection, AES-128 decryption with cached keys, and a look at the bytes so an
 * HTML error page is not fed to the decoder. A segment that cannot be had is reported as
 * {failed: reason} for the caller to mark as a gap; policy violations and stalls are thrown.
 */

const crypto = require('node:crypto');
const { HttpError } = require('../errors');
const { looksLikeMedia, isMediaContentType } = require('../media/sniff');
const { playlistInvalid } = require('./errors');

/** The most one segment (or init section) may be: it is held whole (to sniff and decrypt it). Video HLS
 * segments of 2-10 MB are ordinary; 32 MB is a minute of 4K video. */
const MAX_SEGMENT_BYTES = 32 * 1024 * 1024;
const KEY_CACHE_SIZE = 16;
const KEY_MAX_BYTES = 1024;
/** Boxes a fragmented-MP4 media segment starts with (the sniffer knows only 'ftyp'). */
const FMP4_BOXES = new Set(['moof', 'styp', 'sidx', 'emsg', 'prft', 'ftyp', 'moov']);

function rangeHeader(byterange) {
  if (!byterange) return undefined;
  const start = Number(byterange.offset) || 0;
  return { range: `bytes=${start}-${start + Number(byterange.length) - 1}` };
}

function isHtml(contentType) {
  const type = String(contentType || '').split(';')[0].trim().toLowerCase();
  return type === 'text/html' || type === 'application/xhtml+xml';
}

function looksLikeSegment(contentType, bytes) {
  if (isMediaContentType(contentType) || looksLikeMedia(bytes)) return true;
  return bytes.length >= 8 && FMP4_BOXES.has(bytes.subarray(4, 8).toString('latin1'));
}

/**
 * Args: {client (./client), maxBytes (per segment: at most MAX_SEGMENT_BYTES whatever is given)}.
 * Returns: {segment(seg) -> Promise<{bytes}|{failed}>, init(map) -> Promise<{bytes}|{failed}>};
 *   failed is 'too_large' for a segment over the limit (its download stops there).
 */
function createSegmentFetcher({ client, maxBytes: given }) {
  const maxBytes = Math.min(given || Infinity, MAX_SEGMENT_BYTES);
  const keys = new Map();
  const inits = new Map();

  async function fetchKey(uri) {
    const { bytes } = await client.fetchAll(uri, { maxBytes: KEY_MAX_BYTES, what: 'AES-128 key' });
    if (bytes.length !== 16) {
      throw playlistInvalid(`The AES-128 key at ${uri} is ${bytes.length} bytes long, not 16.`);
    }
    return bytes;
  }

  function key(uri) {
    if (!keys.has(uri)) {
      if (keys.size >= KEY_CACHE_SIZE) keys.delete(keys.keys().next().value);
      const pending = fetchKey(uri);
      pending.catch(() => keys.delete(uri));
      keys.set(uri, pending);
    }
    return keys.get(uri);
  }

  /** Fetches with one retry for a 5xx or a connection that failed; {failed} for what stays broken. */
  async function fetchPart(part, what) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await client.fetchAll(part.uri, { headers: rangeHeader(part.byterange), maxBytes, what });
      } catch (err) {
        if (err instanceof HttpError && err.code === 'download_too_large') return { failed: 'too_large' };
        if (!(err instanceof HttpError) || err.code !== 'url_fetch_failed') throw err;
        const status = err.details && err.details.upstream_status;
        if (attempt === 0 && (!status || status >= 500)) continue;
        return { failed: status ? `http_${status}` : 'fetch_failed' };
      }
    }
  }

  async function clearBytes(part, what) {
    const fetched = await fetchPart(part, what);
    if (fetched.failed) return fetched;
    if (isHtml(fetched.contentType)) return { failed: 'not_media' };
    let { bytes } = fetched;
    if (part.key) {
      const secret = await key(part.key.uri);
      try {
        const decipher = crypto.createDecipheriv('aes-128-cbc', secret, part.key.iv);
        bytes = Buffer.concat([decipher.update(bytes), decipher.final()]);
      } catch {
        return { failed: 'decrypt_failed' };
      }
    }
    return { bytes, contentType: fetched.contentType };
  }

  async function segment(seg) {
    const result = await clearBytes(seg, 'segment');
    if (result.failed) return result;
    if (!looksLikeSegment(result.contentType, result.bytes)) return { failed: 'not_media' };
    return { bytes: result.bytes };
  }

  async function init(map) {
    const id = `${map.uri} ${map.byterange ? `${map.byterange.offset}@${map.byterange.length}` : ''}`;
    if (inits.has(id)) return { bytes: inits.get(id) };
    const result = await clearBytes(map, 'init section');
    if (result.failed) return result;
    if (inits.size >= 4) inits.delete(inits.keys().next().value);
    inits.set(id, result.bytes);
    return { bytes: result.bytes };
  }

  return { segment, init };
}

module.exports = { createSegmentFetcher, MAX_SEGMENT_BYTES };
