'use strict';

/**
 * A finite file's download, the last step of openSource (./index.js) for a URL whose first answer is
 * not a live stream: the body written under a size limit, refused when it is not audio or video.
 * The URL policy (every hop's address checked, redirects too) is ../fetch's, applied by ./client.js.
 */

const fs = require('node:fs');
const { pipeline } = require('node:stream/promises');
const { Transform } = require('node:stream');
const { HttpError } = require('../errors');
const { looksLikeMedia, isMediaContentType } = require('../media/sniff');

const MB = 1024 * 1024;
const ACCEPT_MEDIA = { accept: 'audio/*, video/*, */*' };

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

module.exports = { saveBody, fileNameOf, ACCEPT_MEDIA };
