'use strict';

/**
 * Deepgram's /v1/listen query options, read into what the relay does with them. Every option is
 * either honoured, or refused with a DeepgramError naming it: none is silently ignored.
 * https://developers.deepgram.com/reference/speech-to-text/listen-streaming
 */

const sidecarProtocol = require('../requests/sidecar-schema');
const { languageCode } = require('../requests/languages');

/** A request Deepgram's API would refuse too (HTTP 400 `Bad Request`, or a close before any audio). */
class DeepgramError extends Error {
  constructor(message, { status = 400, code = 'Bad Request' } = {}) {
    super(message);
    this.name = 'DeepgramError';
    this.statusCode = status;
    this.code = code;
  }

  /** Deepgram's error body. */
  toJSON(requestId) {
    return { err_code: this.code, err_msg: this.message, request_id: requestId };
  }
}

/**
 * encoding → how the bytes reach the sidecar. Raw encodings need sample_rate; without `encoding`
 * the audio is a container (WebM, Ogg, WAV, MP3, FLAC, …) the sidecar sniffs with PyAV.
 */
const ENCODINGS = Object.freeze({
  linear16: { raw: true, law: null },
  mulaw: { raw: true, law: 'ulaw' },
  alaw: { raw: true, law: 'alaw' },
  opus: { raw: false, format: 'ogg' }, // Deepgram's `opus` is Ogg Opus
  flac: { raw: false, format: 'flac' },
});
const RATE = {
  min: sidecarProtocol.param('stream_open', 'sample_rate').minimum,
  max: sidecarProtocol.param('stream_open', 'sample_rate').maximum,
};
const SILENCE_MS = {
  min: sidecarProtocol.param('stream_open', 'silence_ms').minimum,
  max: sidecarProtocol.param('stream_open', 'silence_ms').maximum,
};
/** Options that change nothing here and say so in the README: names, tags, opt-outs. */
const ACCEPTED = new Set(['model', 'version', 'tier', 'tag', 'mip_opt_out', 'extra']);
/** What each option means to the live socket and to the pre-recorded call. */
const LIVE_ONLY = new Set(['encoding', 'sample_rate', 'channels', 'interim_results', 'endpointing', 'utterance_end_ms',
  'vad_events']);
const COMMON = new Set(['language', 'punctuate', 'smart_format', 'detect_language']);

function fail(name, why) {
  return new DeepgramError(`${name}: ${why}`);
}

function readBoolean(query, name, fallback) {
  const value = query[name];
  if (value === undefined) return fallback;
  if (value === 'true' || value === true) return true;
  if (value === 'false' || value === false) return false;
  throw fail(name, `expected true or false, got ${JSON.stringify(value)}.`);
}

function readInt(query, name, { min, max }) {
  const value = query[name];
  if (value === undefined) return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw fail(name, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}.`);
  }
  return n;
}

/** language=en / en-US / multi; detect_language=true. Returns a Whisper language code or null (detect). */
function readLanguage(query) {
  if (readBoolean(query, 'detect_language', false)) {
    if (query.language !== undefined) throw fail('detect_language', 'give either language or detect_language.');
    return null;
  }
  const value = query.language;
  if (value === undefined || value === 'multi') return value === 'multi' ? null : 'en'; // Deepgram's default: en
  const code = languageCode(String(value));
  if (!code) throw fail('language', `${JSON.stringify(value)} is not a language Whisper knows.`);
  return code;
}

/** Options not for this call, or not offered at all, are refused by name. */
function refuseUnknown(query, allowed) {
  for (const name of Object.keys(query)) {
    if (allowed.has(name) || ACCEPTED.has(name)) continue;
    throw fail(name, 'not supported by this relay (it runs Whisper: no diarization, redaction, search, keywords, '
      + 'multichannel or callbacks). Leave it out.');
  }
}

function readCommon(query) {
  if (readBoolean(query, 'smart_format', true) === false) {
    throw fail('smart_format', 'Whisper\'s text is always formatted (numerals, punctuation); false is not offered.');
  }
  return { language: readLanguage(query), punctuate: readBoolean(query, 'punctuate', true) };
}

/**
 * The live socket's options. Returns {language, punctuate, interim, vadEvents, utteranceEndMs,
 * endpointing (ms, or null for endpointing=false), channels, sampleRate, law, stream (stream_open
 * params)}. Raises DeepgramError.
 */
function readLiveOptions(query) {
  refuseUnknown(query, new Set([...LIVE_ONLY, ...COMMON]));
  const common = readCommon(query);
  const encodingName = query.encoding;
  const encoding = encodingName === undefined ? { raw: false, format: 'auto' } : ENCODINGS[encodingName];
  if (!encoding) {
    throw fail('encoding', `${JSON.stringify(encodingName)} is not supported: use ${Object.keys(ENCODINGS).join(', ')}, `
      + 'or leave it out for containerized audio (WebM, Ogg, WAV, MP3, FLAC).');
  }
  const sampleRate = readInt(query, 'sample_rate', RATE);
  const channels = readInt(query, 'channels', { min: 1, max: 2 }) || 1;
  if (encoding.raw && sampleRate === null) throw fail('sample_rate', `required with encoding=${encodingName}.`);
  if (!encoding.raw && (query.sample_rate !== undefined || query.channels !== undefined)) {
    throw fail(query.sample_rate !== undefined ? 'sample_rate' : 'channels', 'only for raw encodings '
      + '(linear16, mulaw, alaw); a container says its own.');
  }
  const interim = readBoolean(query, 'interim_results', false);
  const endpointing = query.endpointing === 'false' || query.endpointing === false ? null
    : readInt(query, 'endpointing', { min: 0, max: SILENCE_MS.max }) ?? 500;
  const utteranceEndMs = readInt(query, 'utterance_end_ms', { min: 1000, max: 5000 });
  if (utteranceEndMs !== null && !interim) throw fail('utterance_end_ms', 'requires interim_results=true.');
  const stream = encoding.raw
    ? { format: 'pcm_s16le', sample_rate: sampleRate, channels }
    : { format: encoding.format };
  Object.assign(stream, {
    partials: interim,
    // endpointing=false: no turn ends by a pause; one that runs 20 s commits, Finalize commits at once.
    silence_ms: endpointing === null ? SILENCE_MS.max : Math.max(SILENCE_MS.min, endpointing),
  });
  if (common.language) stream.language = common.language;
  return { ...common, interim, vadEvents: readBoolean(query, 'vad_events', false), utteranceEndMs, endpointing,
    channels, sampleRate, law: encoding.law || null, stream };
}

/** The pre-recorded call's options. Returns {language, punctuate}. Raises DeepgramError. */
function readPrerecordedOptions(query) {
  refuseUnknown(query, COMMON);
  return readCommon(query);
}

/** Whisper's text without punctuation (punctuate=false). */
function unpunctuated(text) {
  return text.replace(/[.,!?;:¿¡…"“”]/g, '').replace(/\s+/g, ' ').trim();
}

module.exports = { DeepgramError, readLiveOptions, readPrerecordedOptions, unpunctuated };
