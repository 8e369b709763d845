'use strict';

/**
 * Downloads a media URL to a file: the URL policy of ./fetch (http/https only, every hop's address
 * checked, redirects too, the connection pinned to the checked address), a size limit, a time
 * limit, and a refusal when the body is not audio or video.
 */

const fs = require('node:fs');
const { pipeline } = require('node:stream/promises');
const { Transform } = require('node:stream');
const { HttpError } = require('./errors');
const { fetchWithPolicy, parseHttpUrl, vetHost } = require('./fetch');
const { looksLikeMedia, isMediaContentType } = require('./sniff');

const MB = 1024 * 1024;
const ACCEPT_MEDIA = { accept: 'audio/*, video/*, */*' };

/**
 * Args: url — the string the client sent; dest — the file to write; limits —
 *   {maxBytes, timeoutMs, maxRedirects, allowPrivate, lookup (default dns.promises.lookup),
 *   isPrivate (default isPrivateAddress; tests pass their own to tell two loopback addresses apart)}.
 * Returns: {file, name, contentType, bytes, finalUrl}.
 * Raises: HttpError 400/403/413/415/504 with a code (invalid_url, url_forbidden, url_fetch_failed,
 *   download_too_large, not_media, download_timeout).
 */
async function downloadUrl(url, dest, limits) {
  const { maxBytes, timeoutMs } = limits;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const { response, url: finalUrl } = await fetchWithPolicy(url, { limits, signal, headers: ACCEPT_MEDIA });
    return await saveBody(response, dest, { maxBytes, url: finalUrl });
  } catch (err) {
    throw downloadError(err, dest, signal, timeoutMs);
  }
}

/**
 * What a failed download throws: an HttpError as it is, the time limit as download_timeout,
 * anything else as url_fetch_failed. Removes the partial file first.
 */
function downloadError(err, dest, signal, timeoutMs) {
  fs.rmSync(dest, { force: true });
  if (err instanceof HttpError) return err;
  if (signal.aborted) {
    return new HttpError(504, 'download_timeout', `The download took longer than ${timeoutMs / 1000} s.`);
  }
  return new HttpError(400, 'url_fetch_failed', `The URL could not be fetched: ${err.message}`);
}

/**
 * Writes a 2xx response's body to dest under the size limit; refuses what is not media.
 * Args: response — an unread http.IncomingMessage; dest — the file; {maxBytes, url (the final URL),
 *   onProgress? ({bytes, total}) => void, total being Content-Length or null; body? — the response's
 *   bytes as an async iterable, when some were already read to look at them}.
 * Returns: {file, name, contentType, bytes, finalUrl}.
 * Raises: HttpError download_too_large 413, empty_download 400, not_media 415.
 */
async function saveBody(response, dest, { maxBytes, url, onProgress, body }) {
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.resume();
    throw tooLarge(maxBytes);
  }
  const total = Number.isFinite(declared) && response.headers['content-length'] !== undefined ? declared : null;
  const contentType = response.headers['content-type'] || null;
  let bytes = 0;
  let head = Buffer.alloc(0);
  const counter = new Transform({
    transform(chunk, _encoding, callback) {
      bytes += chunk.length;
      if (head.length < 512) head = Buffer.concat([head, chunk.subarray(0, 512 - head.length)]);
      if (bytes > maxBytes) return callback(tooLarge(maxBytes));
      if (onProgress) onProgress({ bytes, total });
      return callback(null, chunk);
    },
  });
  await pipeline(body || response, counter, fs.createWriteStream(dest));
  if (bytes === 0) throw new HttpError(400, 'empty_download', 'The URL answered with an empty body.');
  if (!isMediaContentType(contentType) && !looksLikeMedia(head)) {
    throw new HttpError(415, 'not_media',
      `The URL did not serve audio or video (Content-Type ${contentType || 'missing'}).`);
  }
  return { file: dest, name: fileNameOf(url), contentType, bytes, finalUrl: url.href };
}

/** The last path segment of a URL, decoded, or its host. */
function fileNameOf(url) {
  const last = url.pathname.split('/').pop() || '';
  try {
    return decodeURIComponent(last) || url.hostname;
  } catch {
    return last || url.hostname;
  }
}

function tooLarge(maxBytes) {
  return new HttpError(413, 'download_too_large', `The download is larger than ${Math.round(maxBytes / MB)} MB.`);
}

module.exports = { downloadUrl, downloadError, saveBody, fileNameOf, vetHost, parseHttpUrl, ACCEPT_MEDIA };
