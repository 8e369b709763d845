'use strict';

/**
 * The models GET /v1/models lists, in OpenAI's shape ({id, object: 'model', created, owned_by}):
 *
 *   whisper-1   OpenAI's name, which the relay runs on the sidecar's default model
 *   base        the embedded model (always there: it ships as a Python package)
 *   the default the sidecar's own default (WHISPER_MODEL, or medium on CUDA); not a model folder, whose
 *               path is the server's business (whisper-1 runs it)
 *   cached      the hub models complete in the sidecar's cache folder, by hub id and by faster-whisper's
 *               short name where it has one
 *
 * All of it is the sidecar's answer to `list_models`: the relay never looks into the sidecar's cache
 * folder itself. `created` is the model folder's modification time in Unix seconds, 0 where there is
 * no folder yet.
 */

const { HttpError } = require('../errors');

const ALIAS = 'whisper-1';
const EMBEDDED = 'base';
const OWNER = 'whisper-sidecar';
/** OpenAI's hosted model names (whisper-1, gpt-4o-transcribe, …): they run on the sidecar's default model. */
const HOSTED_MODELS = /^(whisper-1|gpt-4o(-mini)?-transcribe.*)$/;

/** The model to ask the sidecar for, for a request's `model`: undefined (its default) for none or a hosted name. */
function sidecarModel(model) {
  return model && !HOSTED_MODELS.test(model) ? model : undefined;
}

/**
 * Args: {sidecar (listModels() is asked; a dead sidecar, or one that cannot list, leaves the alias and
 *   the embedded model, created 0)}.
 * Returns: Promise of [{id, object: 'model', created, owned_by}], without duplicate ids.
 */
async function listModels({ sidecar }) {
  const models = new Map();
  const add = (id, created, owner = OWNER) => {
    if (id && !models.has(id)) models.set(id, { id, object: 'model', created, owned_by: owner });
  };
  const listed = await sidecarModels(sidecar);
  const embedded = listed.models.find((m) => m.source === 'embedded');
  add(ALIAS, embedded ? embedded.created : 0);
  add(EMBEDDED, embedded ? embedded.created : 0);
  if (listed.default_model) add(listed.default_model, 0, ownerOf(listed.default_model));
  for (const { name, repo, created } of listed.models) add(name, created, repo ? ownerOf(repo) : OWNER);
  return [...models.values()];
}

/**
 * The model a job asks for, when this server serves it: an id GET /v1/models lists, or one the
 * operator names in ALLOWED_MODELS (e.g. `tiny`, for the sidecar to download). The name's shape
 * (no paths, at most 96 characters) is relay/requests/options.js's check, before this one.
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

/** The sidecar's list_models answer; no models and no default when it cannot say. */
async function sidecarModels(sidecar) {
  try {
    const listed = await sidecar.listModels();
    return { default_model: listed.default_model || null, models: Array.isArray(listed.models) ? listed.models : [] };
  } catch {
    return { default_model: null, models: [] };
  }
}

function ownerOf(id) {
  const slash = id.indexOf('/');
  return slash > 0 ? id.slice(0, slash) : OWNER;
}

module.exports = { listModels, vetModel, sidecarModel, ALIAS, EMBEDDED };
