'use strict';

/**
 * Deepgram's message and response shapes, built from the sidecar's segments. JSON only here.
 * https://developers.deepgram.com/reference/speech-to-text/listen-streaming (Results, Metadata,
 * SpeechStarted, UtteranceEnd) and listen-pre-recorded (metadata, results.channels).
 */

const { unpunctuated } = require('./options');

const CHANNEL = [0, 1]; // Deepgram's [channel index, channel count]: one mixed channel here
const round = (x) => Math.round(x * 1000) / 1000;

/**
 * Words of a live segment. The sidecar's streams have no word timestamps, so each word gets a share
 * of the segment's time by its length (an estimate, said so in the README), and no confidence.
 */
function estimatedWords(text, start, end, punctuate) {
  const tokens = text.trim().split(/\s+/).filter(Boolean);
  const chars = tokens.reduce((n, t) => n + t.length, 0) || 1;
  let at = start;
  return tokens.map((token) => {
    const length = ((end - start) * token.length) / chars;
    const word = { word: bareWord(token), start: round(at), end: round(at + length), confidence: null,
      punctuated_word: punctuate ? token : bareWord(token) };
    at += length;
    return word;
  });
}

/** Deepgram's `word`: lower case, no punctuation. */
function bareWord(token) {
  return unpunctuated(token).toLowerCase();
}

function transcriptOf(text, punctuate) {
  return punctuate ? text.trim() : unpunctuated(text);
}

/** A live `Results` message for one segment (or an empty one: text ''). */
function resultsMessage(segment, { isFinal, speechFinal = false, fromFinalize = false, punctuate, metadata }) {
  const text = segment.text || '';
  return {
    type: 'Results',
    channel_index: CHANNEL,
    duration: round(Math.max(0, segment.end - segment.start)),
    start: round(segment.start),
    is_final: isFinal,
    speech_final: speechFinal,
    from_finalize: fromFinalize,
    channel: { alternatives: [{ transcript: transcriptOf(text, punctuate), confidence: null,
      words: estimatedWords(text, segment.start, segment.end, punctuate) }] },
    metadata,
  };
}

function speechStarted(timeS) {
  return { type: 'SpeechStarted', channel: CHANNEL, timestamp: round(timeS) };
}

function utteranceEnd(lastWordEnd) {
  return { type: 'UtteranceEnd', channel: CHANNEL, last_word_end: round(lastWordEnd) };
}

/** The `metadata` of a pre-recorded answer, and (with type) the live `Metadata` message. */
function metadataOf({ requestId, sha256, created, duration, channels, model }) {
  const modelId = `whisper-${model}`;
  return {
    transaction_key: 'deprecated', request_id: requestId, sha256, created, duration: round(duration), channels,
    models: [modelId], model_info: { [modelId]: { name: model, version: 'faster-whisper', arch: 'whisper' } },
  };
}

/**
 * The pre-recorded answer for a transcription result (segments with words and their probabilities).
 * confidence: the mean of the words' probabilities (Whisper's own).
 */
function prerecordedResponse(result, { metadata, punctuate }) {
  const words = (result.segments || []).flatMap((s) => s.words || []).map((w) => {
    const token = w.word.trim();
    return { word: bareWord(token), start: round(w.start), end: round(w.end), confidence: round(w.probability),
      punctuated_word: punctuate ? token : bareWord(token) };
  });
  const confidence = words.length ? round(words.reduce((n, w) => n + w.confidence, 0) / words.length) : 0;
  const channel = { alternatives: [{ transcript: transcriptOf(result.text || '', punctuate), confidence, words }] };
  if (result.language) channel.detected_language = result.language;
  return { metadata, results: { channels: [channel] } };
}

module.exports = { resultsMessage, speechStarted, utteranceEnd, metadataOf, prerecordedResponse };
