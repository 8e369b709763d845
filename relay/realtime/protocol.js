'use strict';

/**
 * The wire side of /v1/realtime?intent=transcription: reading client events, OpenAI's error event,
 * and the session object in both shapes the SDKs speak.
 *
 * Two shapes (OpenAI's beta and GA Realtime APIs):
 *   beta  `transcription_session.update` {session: {input_audio_format: 'pcm16'|'g711_ulaw'|'g711_alaw',
 *         input_audio_transcription: {model, language, prompt}, turn_detection}};
 *         answered with `transcription_session.created` / `.updated`.
 *   ga    `session.update` {session: {type: 'transcription', audio: {input: {format: {type: 'audio/pcm',
 *         rate: 24000} | {type: 'audio/pcmu'|'audio/pcma'}, transcription, turn_detection, noise_reduction}}}};
 *         answered with `session.created` / `.updated`.
 * Internally a session's settings are one plain object (see DEFAULT_SETTINGS).
 */

const crypto = require('node:crypto');
const sidecarProtocol = require('../requests/sidecar-schema');
const { sidecarModel } = require('../requests/models');
const { languageCode } = require('../requests/languages');
const { decodeG711 } = require('./g711');

const SAMPLE_RATE = 24000; // pcm16 in OpenAI's Realtime API: 24 kHz, mono, little-endian
const BYTES_PER_MS = (SAMPLE_RATE * 2) / 1000;
/**
 * The input formats, by their beta name; `ga` is the GA format object. G.711 is 8 kHz, one byte a
 * sample; it is decoded to PCM16 here and the sidecar stream opens at 8 kHz.
 */
const FORMATS = Object.freeze({
  pcm16: { ga: { type: 'audio/pcm', rate: SAMPLE_RATE }, rate: SAMPLE_RATE, law: null },
  g711_ulaw: { ga: { type: 'audio/pcmu' }, rate: 8000, law: 'ulaw' },
  g711_alaw: { ga: { type: 'audio/pcma' }, rate: 8000, law: 'alaw' },
});
const GA_FORMATS = Object.freeze({ 'audio/pcm': 'pcm16', 'audio/pcmu': 'g711_ulaw', 'audio/pcma': 'g711_alaw' });
const NOISE_REDUCTION = ['near_field', 'far_field'];
/**
 * semantic_vad's end-of-turn policy: the sidecar has no model of whether a sentence is finished, so
 * `eagerness` sets the pause that ends a turn (OpenAI: low waits longest, high cuts soonest).
 */
const SEMANTIC_SILENCE_MS = Object.freeze({ low: 2000, medium: 1000, auto: 1000, high: 500 });
/** The sidecar's longest initial_prompt (its stream_open schema). */
const PROMPT_MAX_LENGTH = sidecarProtocol.param('stream_open', 'initial_prompt').maxLength;
/** The sidecar's silence_ms range (its stream_open schema). */
const SILENCE_MS = {
  min: sidecarProtocol.param('stream_open', 'silence_ms').minimum,
  max: sidecarProtocol.param('stream_open', 'silence_ms').maximum,
};

const DEFAULT_SETTINGS = Object.freeze({
  format: 'pcm16',
  model: 'whisper-1',
  language: null,
  prompt: null,
  turnDetection: Object.freeze({ type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500,
    idle_timeout_ms: null }),
  noiseReduction: null,
});

/** PCM16 bytes a millisecond once `settings.format` is decoded. */
function bytesPerMs(settings) {
  return (FORMATS[settings.format].rate * 2) / 1000;
}

/** A client's mistake: becomes OpenAI's error event; the socket stays open. */
class RealtimeError extends Error {
  constructor(code, message, { param = null, type = 'invalid_request_error' } = {}) {
    super(message);
    this.name = 'RealtimeError';
    this.code = code;
    this.param = param;
    this.type = type;
  }
}

function newId(prefix) {
  return `${prefix}_${crypto.randomBytes(9).toString('base64url')}`;
}

/** OpenAI's error event for `err` (a RealtimeError, or anything else as a server_error). */
function errorEvent(err, clientEventId = null) {
  const known = err instanceof RealtimeError;
  return {
    type: 'error',
    error: {
      type: known ? err.type : 'server_error',
      code: known ? err.code : 'server_error',
      message: err.message || String(err),
      param: known ? err.param : null,
      event_id: clientEventId,
    },
  };
}

/**
 * Parses one text frame. Returns the event object ({type, ...}). Raises RealtimeError
 * (invalid_json, invalid_event) for anything that is not an event.
 */
function parseClientEvent(text) {
  let event;
  try {
    event = JSON.parse(text);
  } catch (err) {
    throw new RealtimeError('invalid_json', `The event is not valid JSON: ${err.message}`);
  }
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new RealtimeError('invalid_event', 'An event must be a JSON object with a "type".');
  }
  if (typeof event.type !== 'string' || event.type === '') {
    throw new RealtimeError('invalid_event', 'The event has no "type".', { param: 'type' });
  }
  return event;
}

/**
 * The audio of an input_audio_buffer.append as PCM16 (G.711 decoded). `maxBytes`: the most bytes
 * one append may carry as sent. Raises RealtimeError.
 */
function decodeAppend(event, maxBytes, format = 'pcm16') {
  const audio = event.audio;
  const law = FORMATS[format].law;
  if (typeof audio !== 'string') {
    throw new RealtimeError('invalid_value', `input_audio_buffer.append needs "audio": base64 ${format}.`,
      { param: 'audio' });
  }
  const encodedLimit = Math.ceil(maxBytes / 3) * 4;
  if (audio.length > encodedLimit) {
    throw new RealtimeError('audio_too_large', `One append may carry at most ${maxBytes} bytes of audio; this one has `
      + `~${Math.floor((audio.length * 3) / 4)}. Send it in smaller appends.`, { param: 'audio' });
  }
  if (audio.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(audio)) {
    throw new RealtimeError('invalid_value', 'The "audio" of input_audio_buffer.append is not base64.', { param: 'audio' });
  }
  const bytes = Buffer.from(audio, 'base64');
  if (law) return decodeG711(bytes, law);
  if (bytes.length % 2 !== 0) {
    throw new RealtimeError('invalid_value', 'PCM16 audio has 2 bytes a sample; this append has an odd number of bytes.',
      { param: 'audio' });
  }
  return bytes;
}

/**
 * Reads a transcription_session.update (beta) or session.update (GA) into new settings.
 * Returns: {shape: 'beta'|'ga', settings}. Raises RealtimeError naming the bad field; nothing changes then.
 */
function readSessionUpdate(event, current) {
  const session = event.session;
  if (session === null || typeof session !== 'object' || Array.isArray(session)) {
    throw new RealtimeError('invalid_value', `${event.type} needs a "session" object.`, { param: 'session' });
  }
  if (event.type === 'transcription_session.update') {
    return { shape: 'beta', settings: readBeta(session, current) };
  }
  if (session.type !== undefined && session.type !== 'transcription') {
    throw new RealtimeError('unsupported_session_type', `This relay serves transcription sessions only; `
      + `session.type ${JSON.stringify(session.type)} is not supported. Use "transcription".`, { param: 'session.type' });
  }
  return { shape: 'ga', settings: readGa(session, current) };
}

function readBeta(session, current) {
  const next = { ...current };
  if (session.input_audio_format !== undefined) {
    if (!Object.hasOwn(FORMATS, session.input_audio_format)) {
      throw new RealtimeError('unsupported_audio_format', `input_audio_format ${JSON.stringify(session.input_audio_format)} `
        + `is not supported here: send one of ${Object.keys(FORMATS).join(', ')}.`, { param: 'session.input_audio_format' });
    }
    next.format = session.input_audio_format;
  }
  if (session.input_audio_transcription !== undefined) {
    Object.assign(next, readTranscription(session.input_audio_transcription, 'session.input_audio_transcription', current));
  }
  if (session.turn_detection !== undefined) {
    next.turnDetection = readTurnDetection(session.turn_detection, 'session.turn_detection', current);
  }
  if (session.input_audio_noise_reduction !== undefined) {
    next.noiseReduction = readNoiseReduction(session.input_audio_noise_reduction, 'session.input_audio_noise_reduction');
  }
  readInclude(session.include);
  return next;
}

function readGa(session, current) {
  const next = { ...current };
  readInclude(session.include);
  const input = session.audio && session.audio.input;
  if (!input) return next;
  if (input.format !== undefined && input.format !== null) {
    const { type, rate } = input.format;
    const format = GA_FORMATS[type];
    if (!format || (rate !== undefined && rate !== FORMATS[format].rate)) {
      throw new RealtimeError('unsupported_audio_format', `audio.input.format ${JSON.stringify(input.format)} is not `
        + `supported here: send {"type": "audio/pcm", "rate": ${SAMPLE_RATE}}, {"type": "audio/pcmu"} or `
        + '{"type": "audio/pcma"} (G.711 at 8 kHz).', { param: 'session.audio.input.format' });
    }
    next.format = format;
  }
  if (input.transcription !== undefined) {
    Object.assign(next, readTranscription(input.transcription, 'session.audio.input.transcription', current));
  }
  if (input.turn_detection !== undefined) {
    next.turnDetection = readTurnDetection(input.turn_detection, 'session.audio.input.turn_detection', current);
  }
  if (input.noise_reduction !== undefined) {
    next.noiseReduction = readNoiseReduction(input.noise_reduction, 'session.audio.input.noise_reduction');
  }
  return next;
}

/** Accepted and echoed; not applied (README: the high-pass measured did not help Whisper). */
function readNoiseReduction(value, param) {
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value) || !NOISE_REDUCTION.includes(value.type)) {
    throw new RealtimeError('invalid_value', `${param} must be null or {"type": "near_field"|"far_field"}.`,
      { param: `${param}.type` });
  }
  return { type: value.type };
}

/** Logprobs need Whisper's token log-probabilities, which the sidecar's streams do not report. */
function readInclude(include) {
  if (include === undefined || include === null) return;
  if (!Array.isArray(include) || include.length > 0) {
    throw new RealtimeError('unsupported_include', `include ${JSON.stringify(include)} is not supported here: `
      + 'logprobs are not available from this transcriber. Leave include empty.', { param: 'session.include' });
  }
}

function readTranscription(value, param, current) {
  if (value === null) return { model: DEFAULT_SETTINGS.model, language: null, prompt: null };
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new RealtimeError('invalid_value', `${param} must be an object {model, language, prompt}.`, { param });
  }
  const out = { model: current.model, language: current.language, prompt: current.prompt };
  for (const name of ['model', 'language', 'prompt']) {
    if (value[name] === undefined) continue;
    if (value[name] !== null && typeof value[name] !== 'string') {
      throw new RealtimeError('invalid_value', `${param}.${name} must be a string.`, { param: `${param}.${name}` });
    }
    out[name] = value[name] === '' ? null : value[name];
  }
  if (out.model === null) out.model = DEFAULT_SETTINGS.model;
  if (value.language !== undefined && out.language !== null) {
    const code = languageCode(out.language);
    if (!code) {
      throw new RealtimeError('invalid_value', `${param}.language ${JSON.stringify(out.language)} is not a language `
        + 'Whisper knows: use a code such as "en", "de" or "ja", or null to detect it.', { param: `${param}.language` });
    }
    out.language = code;
  }
  if (value.prompt !== undefined && out.prompt !== null
    && (out.prompt.length > PROMPT_MAX_LENGTH || out.prompt.includes('\u0000'))) {
    throw new RealtimeError('invalid_value', `${param}.prompt must be at most ${PROMPT_MAX_LENGTH} characters `
      + `without NUL characters (got ${out.prompt.length}).`, { param: `${param}.prompt` });
  }
  return out;
}

function readTurnDetection(value, param, current) {
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new RealtimeError('invalid_value', `${param} must be an object or null.`, { param });
  }
  const type = value.type === undefined ? 'server_vad' : value.type;
  if (type === 'semantic_vad') return readSemanticVad(value, param);
  if (type !== 'server_vad') {
    throw new RealtimeError('unsupported_turn_detection', `${param}.type ${JSON.stringify(type)} is not supported here: `
      + 'use "server_vad", "semantic_vad", or null to commit turns with input_audio_buffer.commit.',
    { param: `${param}.type` });
  }
  const base = current.turnDetection && current.turnDetection.type === 'server_vad'
    ? current.turnDetection : DEFAULT_SETTINGS.turnDetection;
  const out = { type, threshold: base.threshold, prefix_padding_ms: base.prefix_padding_ms,
    silence_duration_ms: base.silence_duration_ms, idle_timeout_ms: base.idle_timeout_ms };
  for (const name of ['threshold', 'prefix_padding_ms', 'silence_duration_ms', 'idle_timeout_ms']) {
    if (value[name] === undefined || (name === 'idle_timeout_ms' && value[name] === null)) continue;
    if (typeof value[name] !== 'number' || !Number.isFinite(value[name]) || value[name] < 0) {
      throw new RealtimeError('invalid_value', `${param}.${name} must be a number >= 0.`, { param: `${param}.${name}` });
    }
    out[name] = value[name];
  }
  if (value.idle_timeout_ms === null) out.idle_timeout_ms = null;
  if (out.threshold > 1) {
    throw new RealtimeError('invalid_value', `${param}.threshold must be between 0 and 1.`, { param: `${param}.threshold` });
  }
  const ms = out.silence_duration_ms;
  if (!Number.isInteger(ms) || ms < SILENCE_MS.min || ms > SILENCE_MS.max) {
    throw new RealtimeError('invalid_value', `${param}.silence_duration_ms must be a whole number of ms from `
      + `${SILENCE_MS.min} to ${SILENCE_MS.max}.`, { param: `${param}.silence_duration_ms` });
  }
  const idle = out.idle_timeout_ms;
  if (idle !== null && (!Number.isInteger(idle) || idle < 5000 || idle > 30000)) {
    throw new RealtimeError('invalid_value', `${param}.idle_timeout_ms must be null or a whole number of ms from 5000 `
      + 'to 30000.', { param: `${param}.idle_timeout_ms` });
  }
  return out;
}

function readSemanticVad(value, param) {
  const eagerness = value.eagerness === undefined ? 'auto' : value.eagerness;
  if (!Object.hasOwn(SEMANTIC_SILENCE_MS, eagerness)) {
    throw new RealtimeError('invalid_value', `${param}.eagerness must be one of ${Object.keys(SEMANTIC_SILENCE_MS)
      .join(', ')}.`, { param: `${param}.eagerness` });
  }
  return { type: 'semantic_vad', eagerness };
}

/** The pause (ms) that ends a turn under `turnDetection` (null: turns end on commit only). */
function silenceMs(turnDetection) {
  if (!turnDetection) return null;
  if (turnDetection.type === 'semantic_vad') return SEMANTIC_SILENCE_MS[turnDetection.eagerness];
  return turnDetection.silence_duration_ms;
}

/** The session object of a `.created` / `.updated` event in `shape`. */
function sessionObject(id, shape, settings) {
  const transcription = { model: settings.model, language: settings.language, prompt: settings.prompt };
  const turnDetection = settings.turnDetection ? { ...settings.turnDetection } : null;
  const noiseReduction = settings.noiseReduction ? { ...settings.noiseReduction } : null;
  if (shape === 'beta') {
    return {
      id, object: 'realtime.transcription_session', input_audio_format: settings.format,
      input_audio_transcription: transcription, turn_detection: turnDetection,
      input_audio_noise_reduction: noiseReduction, include: null,
    };
  }
  return {
    type: 'transcription', id, object: 'realtime.transcription_session',
    audio: { input: { format: { ...FORMATS[settings.format].ga }, transcription, turn_detection: turnDetection,
      noise_reduction: noiseReduction } },
    include: [],
  };
}

/** `transcription_session.created` (beta) or `session.created` (GA). */
function sessionEventType(shape, what) {
  return shape === 'beta' ? `transcription_session.${what}` : `session.${what}`;
}

/** What the sidecar's stream_open gets for these settings. */
function streamParams(settings, { maxLagS } = {}) {
  const params = {
    format: 'pcm_s16le', sample_rate: FORMATS[settings.format].rate, channels: 1, partials: true,
    vad: settings.turnDetection !== null,
  };
  if (settings.turnDetection) params.silence_ms = silenceMs(settings.turnDetection);
  if (settings.language) params.language = settings.language;
  if (settings.prompt) params.initial_prompt = settings.prompt;
  if (sidecarModel(settings.model)) params.model = settings.model;
  if (maxLagS) params.max_lag_s = maxLagS;
  return params;
}

module.exports = {
  SAMPLE_RATE, BYTES_PER_MS, DEFAULT_SETTINGS, SEMANTIC_SILENCE_MS, RealtimeError, newId, errorEvent, parseClientEvent,
  decodeAppend, bytesPerMs, readSessionUpdate, sessionObject, sessionEventType, streamParams,
};
