'use strict';

/**
 * `{path}` requests: a file inside the configured media folder, and nothing else.
 *
 * Both the folder and the file are resolved with realpath before the comparison, so `../`, an
 * absolute path elsewhere and a symlink that points out of the folder are all refused alike.
 */

const fs = require('node:fs');
const path = require('node:path');
const { HttpError } = require('./errors');

/**
 * Args: mediaDir — the configured folder (or null); requested — the client's path, relative to the
 *   folder or absolute.
 * Returns: the real path of a regular file inside the folder.
 * Raises: HttpError 403 (no media folder, outside it), 404 (missing), 400 (not a regular file).
 */
async function resolveMediaPath(mediaDir, requested) {
  if (!mediaDir) {
    throw new HttpError(403, 'media_dir_not_configured', 'Set MEDIA_DIR to transcribe files by path.');
  }
  if (typeof requested !== 'string' || requested === '' || requested.includes('\0')) {
    throw new HttpError(400, 'invalid_path', 'path must be a non-empty string.');
  }
  const root = await fs.promises.realpath(mediaDir).catch(() => {
    throw new HttpError(500, 'media_dir_missing', `The media folder ${mediaDir} does not exist.`);
  });
  const candidate = path.resolve(root, requested);
  if (!isInside(root, candidate)) throw outside(requested);
  let real;
  try {
    real = await fs.promises.realpath(candidate);
  } catch {
    throw new HttpError(404, 'file_not_found', `No file ${JSON.stringify(requested)} in the media folder.`);
  }
  if (!isInside(root, real)) throw outside(requested);
  const stat = await fs.promises.stat(real);
  if (!stat.isFile()) throw new HttpError(400, 'not_a_file', `${JSON.stringify(requested)} is not a regular file.`);
  return real;
}

function isInside(root, candidate) {
  const relative = path.relative(root, candidate);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

function outside(requested) {
  return new HttpError(403, 'path_outside_media_dir',
    `${JSON.stringify(requested)} is outside the media folder; only files inside MEDIA_DIR are transcribed.`);
}

module.exports = { resolveMediaPath };
