'use strict';

/**
 * Renders a sidecar `transcribe` result as txt, srt, vtt or json, and as OpenAI's json and
 * verbose_json shapes. Pure functions of the result.
 */

const { languageName } = require('../requests/languages');

const FORMATS = Object.freeze({
  txt: 'text/plain; charset=utf-8',
  srt: 'application/x-subrip; charset=utf-8',
  vtt: 'text/vtt; charset=utf-8',
  json: 'application/json; charset=utf-8',
});

/**
 * Args: result — the sidecar's transcribe result; format — one of FORMATS' keys.
 * Returns: the body as a string.
 */
function render(result, format) {
  switch (format) {
    case 'txt': return `${(result.text || '').trim()}\n`;
    case 'srt': return toSrt(result.segments || []);
    case 'vtt': return toVtt(result.segments || []);
    case 'json': return `${JSON.stringify(result, null, 2)}\n`;
    default: throw new TypeError(`render: unknown format ${JSON.stringify(format)}`);
  }
}

function toSrt(segments) {
  return segments.map((s, i) => `${i + 1}\n${timestamp(s.start, ',')} --> ${timestamp(s.end, ',')}\n${s.text.trim()}\n`)
    .join('\n');
}

function toVtt(segments) {
  const cues = segments.map((s) => `${timestamp(s.start, '.')} --> ${timestamp(s.end, '.')}\n${s.text.trim()}\n`);
  return ['WEBVTT\n', ...cues].join('\n');
}

/** 3725.5 → "01:02:05,500" (SRT) or "01:02:05.500" (VTT). */
function timestamp(seconds, separator) {
  const ms = Math.max(0, Math.round((seconds || 0) * 1000));
  const pad = (n, width = 2) => String(n).padStart(width, '0');
  const h = Math.floor(ms / 3600000);
  const m = Math.floor((ms % 3600000) / 60000);
  const s = Math.floor((ms % 60000) / 1000);
  return `${pad(h)}:${pad(m)}:${pad(s)}${separator}${pad(ms % 1000, 3)}`;
}

/**
 * OpenAI's verbose_json: https://platform.openai.com/docs/api-reference/audio/verbose-json-object
 * Fields the engine does not report (tokens, avg_logprob, …) are given neutral values, so clients
 * that read them keep working.
 */
function toOpenAiVerbose(result, { task = 'transcribe', words = false } = {}) {
  const body = {
    task,
    language: languageName(result.language),
    duration: result.duration,
    text: (result.text || '').trim(),
    segments: (result.segments || []).map((s, i) => ({
      id: i,
      seek: 0,
      start: s.start,
      end: s.end,
      text: s.text,
      tokens: [],
      temperature: 0,
      avg_logprob: s.avg_logprob ?? 0,
      compression_ratio: s.compression_ratio ?? 0,
      no_speech_prob: s.no_speech_prob ?? 0,
    })),
  };
  if (words) {
    body.words = (result.segments || []).flatMap((s) => (s.words || [])
      .map((w) => ({ word: w.word.trim(), start: w.start, end: w.end })));
  }
  return body;
}

module.exports = { FORMATS, render, timestamp, toOpenAiVerbose };
