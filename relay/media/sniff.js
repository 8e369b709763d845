'use strict';

/**
 * Recognizes audio and video containers from their first bytes, so that a URL serving an HTML
 * page or JSON is refused before it reaches the sidecar. Not a decoder: PyAV has the last word.
 */

const ASCII_MAGIC = ['RIFF', 'fLaC', 'ID3', 'OggS', 'FORM', '#!AMR', 'caff', 'FLV', '.snd', 'wvpk', 'MAC '];

/** @param {Buffer} head the first 16 or more bytes of a file */
function looksLikeMedia(head) {
  if (!head || head.length < 4) return false;
  const ascii = head.subarray(0, 8).toString('latin1');
  if (ASCII_MAGIC.some((magic) => ascii.startsWith(magic))) return true;
  if (head.length >= 8 && head.subarray(4, 8).toString('latin1') === 'ftyp') return true; // MP4, M4A, MOV, 3GP
  if (head.readUInt32BE(0) === 0x1a45dfa3) return true; // EBML: Matroska, WebM
  if (head.readUInt32BE(0) === 0x3026b275) return true; // ASF: WMA, WMV
  if (head.readUInt32BE(0) === 0x000001ba) return true; // MPEG program stream
  if (head.length > 188 && head[0] === 0x47 && head[188] === 0x47) return true; // MPEG transport stream
  return head[0] === 0xff && (head[1] & 0xe0) === 0xe0; // MPEG audio frame sync: MP3, ADTS AAC
}

/** True for a Content-Type that announces audio or video. */
function isMediaContentType(contentType) {
  const type = String(contentType || '').split(';')[0].trim().toLowerCase();
  return type.startsWith('audio/') || type.startsWith('video/') || type === 'application/ogg';
}

module.exports = { looksLikeMedia, isMediaContentType };
