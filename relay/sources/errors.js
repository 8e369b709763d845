'use strict';

/**
 * Every error a live source throws, worded once: HttpError (../errors) with the codes the routes
 * answer with. Messages say what happened and what a person can do about it.
 */

const { HttpError } = require('../errors');

const streamIdle = (seconds, what) => new HttpError(504, 'stream_idle',
  `The stream sent no new ${what} for ${seconds} s; it seems to have stopped or stalled.`);

const playlistInvalid = (message) => new HttpError(400, 'playlist_invalid', message);

const tooManyEntries = (count, max) => playlistInvalid(
  `The playlist has ${count} entries, more than the ${max} allowed (maxPlaylistEntries).`);

const tooManyLines = (count, max) => playlistInvalid(
  `The playlist has ${count} lines, more than the ${max} allowed (4 per entry of maxPlaylistEntries).`);

const unsupportedEncryption = (method) => new HttpError(400, 'unsupported_encryption',
  `The stream is encrypted with ${method}; only AES-128 (whole-segment) encryption is supported.`);

const notMedia = (message) => new HttpError(415, 'not_media', message);

const segmentTooLarge = (count, maxBytes, uri) => new HttpError(413, 'segment_too_large',
  `${count} segments in a row were larger than ${Math.round(maxBytes / (1024 * 1024))} MB, the most one segment may be `
  + `(the last: ${uri}); each was skipped as a gap.`);

const fetchFailed = (message, details) => new HttpError(400, 'url_fetch_failed', message, details);

const downloadTimeout = (ms) => new HttpError(504, 'download_timeout', `The download took longer than ${ms / 1000} s.`);

const tooLarge = (what, maxBytes) => new HttpError(413, 'download_too_large',
  `The ${what} is larger than ${Math.round(maxBytes / (1024 * 1024))} MB.`);

module.exports = {
  streamIdle, playlistInvalid, tooManyEntries, tooManyLines, unsupportedEncryption, notMedia, segmentTooLarge,
  fetchFailed, downloadTimeout, tooLarge,
};
