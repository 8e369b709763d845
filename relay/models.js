'use strict';

/**
 * The models GET /v1/models lists, in OpenAI's shape ({id, object: 'model', created, owned_by}):
 *
 *   whisper-1   OpenAI's name, which the relay runs on the sidecar's default model
 *   base        the embedded model (always there: it ships as a Python package)
 *   the default the sidecar's own default (WHISPER_MODEL, or medium on CUDA), from gpu_status
 *   cached      hub models in the sidecar's cache folder (CACHE/hub/models--ORG--NAME/snapshots/REV/
 *               model.bin, faster-whisper's layout), listed by hub id, and by short name too for
 *               faster-whisper's own Systran/faster-whisper-NAME repos (the sidecar resolves NAME there)
 *
 * `created` is the model folder's modification time in Unix seconds, 0 where there is no folder yet.
 */

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ALIAS = 'whisper-1';
const EMBEDDED = 'base';
const EMBEDDED_DIR = path.join('models', 'whisper-base-ct2'); // sidecar/engine/models.py EMBEDDED_DIR
const OWNER = 'whisper-sidecar';
const SHORT_NAME = /^Systran\/faster-whisper-(.+)$/;

/**
 * The sidecar's cache folder, worked out as sidecar/config.py's default_cache_dir does: a set
 * WHISPER_CACHE_DIR (with ~ expanded), else %LOCALAPPDATA%, ~/Library/Caches or $XDG_CACHE_HOME
 * (~/.cache) joined with whisper-sidecar.
 */
function sidecarCacheDir(configured, { env = process.env, platform = process.platform, home = os.homedir() } = {}) {
  if (configured) return path.resolve(configured.replace(/^~(?=$|[\\/])/, home));
  let base;
  if (platform === 'win32') base = env.LOCALAPPDATA || path.join(home, 'AppData', 'Local');
  else if (platform === 'darwin') base = path.join(home, 'Library', 'Caches');
  else base = env.XDG_CACHE_HOME || path.join(home, '.cache');
  return path.join(base, 'whisper-sidecar');
}

/**
 * Args: {sidecar (gpuStatus() is asked for the default model; a dead sidecar only drops that
 *   entry), cacheDir (the sidecar's cache folder)}.
 * Returns: Promise of [{id, object: 'model', created, owned_by}], without duplicate ids.
 */
async function listModels({ sidecar, cacheDir }) {
  const models = new Map();
  const add = (id, created, owner = OWNER) => {
    if (id && !models.has(id)) models.set(id, { id, object: 'model', created, owned_by: owner });
  };
  const embeddedCreated = mtimeSeconds(path.join(cacheDir, EMBEDDED_DIR));
  add(ALIAS, embeddedCreated);
  add(EMBEDDED, embeddedCreated);
  const defaultModel = await sidecarDefaultModel(sidecar);
  if (defaultModel) add(defaultModel, path.isAbsolute(defaultModel) ? mtimeSeconds(defaultModel) : 0, ownerOf(defaultModel));
  for (const { repo, created } of cachedHubModels(path.join(cacheDir, 'hub'))) {
    const short = SHORT_NAME.exec(repo);
    if (short) add(short[1], created, ownerOf(repo));
    add(repo, created, ownerOf(repo));
  }
  return [...models.values()];
}

async function sidecarDefaultModel(sidecar) {
  try {
    const status = await sidecar.gpuStatus();
    return typeof status.model === 'string' ? status.model : null;
  } catch {
    return null;
  }
}

/** Hub models with at least one complete snapshot (a model.bin), newest snapshot's time. */
function cachedHubModels(hubDir) {
  const found = [];
  for (const entry of readDir(hubDir)) {
    const match = /^models--([^-].*?)--(.+)$/.exec(entry.name);
    if (!entry.isDirectory() || !match) continue;
    const snapshots = path.join(hubDir, entry.name, 'snapshots');
    const complete = readDir(snapshots)
      .filter((snap) => fs.existsSync(path.join(snapshots, snap.name, 'model.bin')))
      .map((snap) => mtimeSeconds(path.join(snapshots, snap.name)));
    if (complete.length) found.push({ repo: `${match[1]}/${match[2]}`, created: Math.max(...complete) });
  }
  return found.sort((a, b) => a.repo.localeCompare(b.repo));
}

function ownerOf(id) {
  if (path.isAbsolute(id)) return 'local';
  const slash = id.indexOf('/');
  return slash > 0 ? id.slice(0, slash) : OWNER;
}

function readDir(dir) {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function mtimeSeconds(file) {
  try {
    return Math.floor(fs.statSync(file).mtimeMs / 1000);
  } catch {
    return 0;
  }
}

module.exports = { listModels, sidecarCacheDir, ALIAS, EMBEDDED };
