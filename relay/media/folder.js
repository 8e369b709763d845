'use strict';

/**
 * `{path}` requests: a file inside the configured media folder, and nothing else.
 *
 * Both the folder and the file are resolved with realpath before the comparison, so `../`, an
 * absolute path elsewhere and a symlink that points out of the folder are all refused alike.
 *
 * A check on a path says nothing about a later read of that path: the file, or a folder on the way,
 * can be swapped for a symlink in between (issue 19). So the file is opened once (O_NOFOLLOW), the
 * opened file is checked to be the one at the real path inside the folder (device and inode), and
 * readers use that descriptor (openMediaFile) or a link or copy made from it (pinMediaFile).
 */

const fs = require('node:fs');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const { pipeline } = require('node:stream/promises');
const { HttpError } = require('../errors');

// O_NONBLOCK: a FIFO swapped in after the check must not block the open (no effect on a regular file).
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW || 0) | (fs.constants.O_NONBLOCK || 0);

/**
 * Args: mediaDir, requested — as resolveMediaPath.
 * Returns: {handle (a fs.promises FileHandle; the caller closes it), path (real), stat (of the handle)}.
 * Raises: as resolveMediaPath; 403 path_outside_media_dir also when the path changed under the check.
 */
async function openMediaFile(mediaDir, requested) {
  const { root, real } = await locate(mediaDir, requested);
  let handle;
  try {
    handle = await fs.promises.open(real, OPEN_FLAGS);
  } catch (err) {
    if (err.code === 'ELOOP') throw outside(requested); // swapped for a symlink since the realpath
    throw notFound(requested);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw notAFile(requested);
    if (!(await isStillAt(root, real, stat))) throw outside(requested);
    return { handle, path: real, stat };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** True when `real` still resolves inside root to the very file `stat` describes. */
async function isStillAt(root, real, stat) {
  try {
    const again = await fs.promises.realpath(real);
    const now = await fs.promises.stat(again);
    return isInside(root, again) && now.dev === stat.dev && now.ino === stat.ino;
  } catch {
    return false;
  }
}

/**
 * A `{path}` file for a reader in another process (the sidecar opens a path): a hard link in `dir` to
 * the file that was checked, or a copy read from its descriptor where a link can't be made (another
 * filesystem, protected_hardlinks). The caller owns the result and removes it.
 * Args: mediaDir, requested — as resolveMediaPath; dir — where the link goes; link — makes the hard
 *   link (fs.promises.link).
 * Returns: the new file's path (in dir, with the file's extension).
 * Raises: as openMediaFile.
 */
async function pinMediaFile(mediaDir, requested, dir, { link = fs.promises.link } = {}) {
  const { handle, path: real, stat } = await openMediaFile(mediaDir, requested);
  const dest = path.join(dir, `${randomUUID()}${path.extname(real).slice(0, 16)}`);
  try {
    await fs.promises.mkdir(dir, { recursive: true });
    if (!(await linkSame(link, real, dest, stat))) {
      await pipeline(handle.createReadStream({ start: 0, autoClose: false }), fs.createWriteStream(dest, { flags: 'wx' }));
    }
    return dest;
  } catch (err) {
    await fs.promises.rm(dest, { force: true });
    throw err;
  } finally {
    await handle.close();
  }
}

/** Hard-links real to dest; true only when dest is the file `stat` describes (else nothing is left). */
async function linkSame(link, real, dest, stat) {
  try {
    await link(real, dest);
  } catch {
    return false;
  }
  const linked = await fs.promises.lstat(dest);
  if (linked.dev === stat.dev && linked.ino === stat.ino) return true;
  await fs.promises.rm(dest, { force: true }); // the path changed in between: copy what was opened
  return false;
}

/**
 * Args: mediaDir — the configured folder (or null); requested — the client's path, relative to the
 *   folder or absolute.
 * Returns: the real path of a regular file inside the folder (checked on the opened file).
 * Raises: HttpError 403 (no media folder, outside it), 404 (missing), 400 (not a regular file).
 */
async function resolveMediaPath(mediaDir, requested) {
  const { handle, path: real } = await openMediaFile(mediaDir, requested);
  await handle.close();
  return real;
}

/** The folder's and the file's real paths, both checked; the file is a regular file (by path). */
async function locate(mediaDir, requested) {
  if (!mediaDir) {
    throw new HttpError(403, 'media_dir_not_configured', 'Set MEDIA_DIR to transcribe files by path.');
  }
  if (typeof requested !== 'string' || requested === '' || requested.includes('\0')) {
    throw new HttpError(400, 'invalid_path', 'path must be a non-empty string.');
  }
  const root = await fs.promises.realpath(mediaDir).catch(() => {
    throw new HttpError(500, 'media_dir_missing', 'The media folder (MEDIA_DIR) does not exist; the operator must create it.');
  });
  const candidate = path.resolve(root, requested);
  if (!isInside(root, candidate)) throw outside(requested);
  let real;
  try {
    real = await fs.promises.realpath(candidate);
  } catch {
    throw notFound(requested);
  }
  if (!isInside(root, real)) throw outside(requested);
  const stat = await fs.promises.stat(real);
  if (!stat.isFile()) throw notAFile(requested);
  return { root, real };
}

function isInside(root, candidate) {
  const relative = path.relative(root, candidate);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

function notFound(requested) {
  return new HttpError(404, 'file_not_found', `No file ${JSON.stringify(requested)} in the media folder.`);
}

function notAFile(requested) {
  return new HttpError(400, 'not_a_file', `${JSON.stringify(requested)} is not a regular file.`);
}

function outside(requested) {
  return new HttpError(403, 'path_outside_media_dir',
    `${JSON.stringify(requested)} is outside the media folder; only files inside MEDIA_DIR are transcribed.`);
}

module.exports = { resolveMediaPath, openMediaFile, pinMediaFile };
