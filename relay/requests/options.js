'use strict';

/**
 * Validates the transcription options a client sends (JSON body or multipart fields) and turns
 * them into the sidecar's `transcribe` params. Multipart fields arrive as strings, so each option
 * also accepts its string spelling ("5", "true").
 */

const { HttpError } = require('../errors');
const protocol = require('./sidecar-schema');
const { languageCode } = require('./languages');

/** Enums, ranges and lengths are the sidecar's, from its transcribe schema (sidecar/protocol/). */
const schema = (name) => protocol.param('transcribe', name);
const enumOf = (name) => protocol.enumOf('transcribe', name);

const OPTIONS = {
  language: parseLanguage,
  task: (v, name) => parseEnum(v, name, enumOf('task')),
  beam_size: (v, name) => parseInteger(v, name, schema('beam_size').minimum, schema('beam_size').maximum),
  batch_size: (v, name) => parseInteger(v, name, schema('batch_size').minimum, schema('batch_size').maximum),
  vad_filter: parseBool,
  word_timestamps: parseBool,
  initial_prompt: (v, name) => parseText(v, name, schema('initial_prompt').maxLength),
  model: parseModelName,
  device: (v, name) => parseEnum(v, name, enumOf('device')),
  // A live job's second, English track (relay/jobs/tracks.js); false is the same as not given.
  translation: (v, name) => parseBool(v, name) || undefined,
};

/** Options only a live job takes: the relay's own, never sent to the sidecar's `transcribe`. */
const LIVE_ONLY = Object.freeze(['translation']);

const OPTION_NAMES = Object.freeze(Object.keys(OPTIONS));

/**
 * Args: input — a plain object of option values; ignore — names to skip (e.g. 'url', 'path').
 * Returns: the sidecar params (only the options given; empty strings count as not given).
 * Raises: HttpError 400 `invalid_option` naming the option.
 */
function parseOptions(input, { ignore = [] } = {}) {
  const options = {};
  for (const [name, value] of Object.entries(input || {})) {
    if (ignore.includes(name)) continue;
    // Own keys only: "valueOf" or "constructor" is an unknown option, not Object.prototype's.
    const parse = Object.hasOwn(OPTIONS, name) ? OPTIONS[name] : null;
    if (!parse) {
      throw new HttpError(400, 'unknown_option',
        `Unknown option ${JSON.stringify(name)}; known options: ${OPTION_NAMES.join(', ')}.`, { param: name });
    }
    if (value === undefined || value === null || value === '') continue;
    options[name] = parse(value, name);
  }
  if (options.translation && options.task === 'translate') {
    throw invalid('translation', 'a second, English track is for task "transcribe"; with task "translate" the job\'s '
      + 'own track is English already');
  }
  return options;
}

/**
 * Raises HttpError 400 `invalid_option` when `options` hold an option only a live job takes (LIVE_ONLY)
 * and the job is not live; `what` says what it is instead ("an uploaded file").
 */
function refuseLiveOnly(options, what) {
  const name = LIVE_ONLY.find((key) => options && options[key] !== undefined);
  if (name) {
    throw invalid(name, `only a live job takes it (the URL of a live stream, or a followed file); ${what} is not live`);
  }
}

function invalid(name, message) {
  return new HttpError(400, 'invalid_option', `Option ${name}: ${message}`, { param: name });
}

/** A code Whisper knows (relay/requests/languages.js, the sidecar's list), "en-US" read as "en"; "auto": detect. */
function parseLanguage(value, name) {
  if (value === 'auto') return undefined;
  const code = typeof value === 'string' && value.length <= schema('language').maxLength ? languageCode(value) : null;
  if (!code) {
    throw invalid(name, `expected a language code Whisper knows such as "en", "de" or "ja" (or "auto" to detect), `
      + `got ${JSON.stringify(value)}`);
  }
  return code;
}

function parseEnum(value, name, allowed) {
  if (!allowed.includes(value)) {
    throw invalid(name, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function parseInteger(value, name, min, max) {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (!Number.isInteger(number) || number < min || number > max) {
    throw invalid(name, `expected a whole number ${min}..${max}, got ${JSON.stringify(value)}`);
  }
  return number;
}

function parseBool(value, name) {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw invalid(name, `expected true or false, got ${JSON.stringify(value)}`);
}

function parseText(value, name, maxLength) {
  if (typeof value !== 'string' || value.length > maxLength || value.includes('\u0000')) {
    throw invalid(name, `expected a string of at most ${maxLength} characters, without NUL characters`);
  }
  return value;
}

/**
 * A model is asked for by name: `base`, `large-v3`, or a hub id `ORG/NAME`. Never a path (the
 * sidecar would load any folder, and its error would tell what is on the server's disk); which
 * names this server serves is relay/requests/models.js's vetModel, after this.
 */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*(?:\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/;
const MODEL_MAX_LENGTH = 96;

function parseModelName(value, name) {
  if (typeof value !== 'string' || value.length > MODEL_MAX_LENGTH || !MODEL_NAME.test(value) || value.includes('..')) {
    throw invalid(name, `expected a model name such as "base" or "Systran/faster-whisper-small" (at most ${MODEL_MAX_LENGTH} `
      + 'characters, no paths); GET /v1/models lists what this server has');
  }
  return value;
}

/** Drops undefined values (e.g. language "auto"). */
function compact(options) {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
}

module.exports = {
  parseOptions: (input, opts) => compact(parseOptions(input, opts)), refuseLiveOnly, OPTION_NAMES, LIVE_ONLY, MODEL_MAX_LENGTH,
};
