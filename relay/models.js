'use strict';

/**
 * The models GET /v1/models lists, in OpenAI's shape ({id, object: 'model', created, owned_by}):
 *
 *   whisper-1   OpenAI's name, which the relay runs on the sidecar's default model
 *   base        the embedded model (always there: it ships as a Python package)
 *   the default the sidecar's own default (WHISPER_MODEL, or medium on CUDA), from gpu_status; not a
 *               model folder, whose path is the server's business (whisper-1 runs it)
 *   cached      hub models in the sidecar's cache folder, as gpu_status reports it (cache_dir: the
 *               relay never works it out itself) (CACHE/hub/models--ORG--NAME/snapshots/REV/
 *               model.bin, faster-whisper's layout), listed by hub id, and by short name too for
 *               faster-whisper's own Systran/faster-whisper-NAME repos (the sidecar resolves NAME there)
 *
 * `created` is the model folder's modification time in Unix seconds, 0 where there is no folder yet.
 */

const fs = require('node:fs');
const path = require('node:path');
const { HttpError } = require('./errors');

const ALIAS = 'whisper-1';
const EMBEDDED = 'base';
const EMBEDDED_DIR = path.join('models', 'whisper-base-ct2'); // sidecar/engine/models.py EMBEDDED_DIR
const OWNER = 'whisper-sidecar';
const SHORT_NAME = /^Systran\/faster-whisper-(.+)$/;
/** OpenAI's hosted model names (whisper-1, gpt-4o-transcribe, …): they run on the sidecar's default model. */
const HOSTED_MODELS = /^(whisper-1|gpt-4o(-mini)?-transcribe.*)$/;

/** The model to ask the sidecar for, for a request's `model`: undefined (its default) for none or a hosted name. */
function sidecarModel(model) {
  return model && !HOSTED_MODELS.test(model) ? model : undefined;
}

/**
 * Args: {sidecar (gpuStatus() is asked for the default model and the cache folder; a dead sidecar
 *   leaves the alias and the embedded model, created 0)}.
 * Returns: Promise of [{id, object: 'model', created, owned_by}], without duplicate ids.
 */
async function listModels({ sidecar }) {
  const models = new Map();
  const add = (id, created, owner = OWNER) => {
    if (id && !models.has(id)) models.set(id, { id, object: 'model', created, owned_by: owner });
  };
  const { model: defaultModel, cacheDir } = await sidecarModels(sidecar);
  const embeddedCreated = cacheDir ? mtimeSeconds(path.join(cacheDir, EMBEDDED_DIR)) : 0;
  add(ALIAS, embeddedCreated);
  add(EMBEDDED, embeddedCreated);
  // A model folder (WHISPER_MODEL=/srv/models/x) is not listed: its path is the server's business,
  // and whisper-1 runs it.
  if (defaultModel && !isFolder(defaultModel)) add(defaultModel, 0, ownerOf(defaultModel));
  for (const { repo, created } of cacheDir ? cachedHubModels(path.join(cacheDir, 'hub')) : []) {
    const short = SHORT_NAME.exec(repo);
    if (short) add(short[1], created, ownerOf(repo));
    add(repo, created, ownerOf(repo));
  }
  return [...models.values()];
}

/**
 * The model a job asks for, when this server serves it: an id GET /v1/models lists, or one the
 * operator names in ALLOWED_MODELS (e.g. `tiny`, for the sidecar to download). The name's shape
 * (no paths, at most 96 characters) is relay/options.js's check, before this one.
 *
 * Args: model (a name, or undefined: the default model), {sidecar, allowed (config.allowedModels)}.
 * Raises: HttpError 400 model_not_found (the caller's error; the message names no server path).
 */
async function vetModel(model, { sidecar, allowed = [] }) {
  if (model === undefined || model === null || allowed.includes(model)) return;
  if ((await listModels({ sidecar })).some((m) => m.id === model)) return;
  throw new HttpError(400, 'model_not_found', `The model ${JSON.stringify(model)} is not served here; `
    + 'GET /v1/models lists the models this server has.', { param: 'model' });
}

/** The sidecar's default model and cache folder, from one gpu_status; nulls when it cannot say. */
async function sidecarModels(sidecar) {
  try {
    const status = await sidecar.gpuStatus();
    const text = (value) => (typeof value === 'string' && value ? value : null);
    return { model: text(status.model), cacheDir: text(status.cache_dir) };
  } catch {
    return { model: null, cacheDir: null };
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

function isFolder(id) {
  return path.isAbsolute(id) || /^[.~]/.test(id) || id.includes('\\');
}

function ownerOf(id) {
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

module.exports = { listModels, vetModel, sidecarModel, ALIAS, EMBEDDED };
