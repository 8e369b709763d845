'use strict';

/**
 * Which kind of source a response is, from its headers and first bytes: an HLS playlist, an
 * endless audio stream, or a finite file to download.
 */

const { looksLikePlaylist } = require('./playlist');

const HLS_TYPES = new Set([
  'application/vnd.apple.mpegurl', 'application/x-mpegurl', 'audio/mpegurl', 'audio/x-mpegurl',
]);

function baseType(contentType) {
  return String(contentType || '').split(';')[0].trim().toLowerCase();
}

/**
 * Args: headers — the response's headers; head — its first bytes (up to 16).
 * Returns: 'hls' | 'http' | 'download'.
 */
function classify(headers, head) {
  const type = baseType(headers['content-type']);
  if (HLS_TYPES.has(type) || looksLikePlaylist(head)) return 'hls';
  const noLength = headers['content-length'] === undefined || /chunked/i.test(headers['transfer-encoding'] || '');
  if (noLength && (type.startsWith('audio/') || type === 'application/ogg')) return 'http';
  return 'download';
}

module.exports = { classify, baseType };
