#!/usr/bin/env node
'use strict';

/**
 * `npm run transcribe -- FILE [--language en] [--model base] [--format txt|srt|vtt|json]`:
 * one file through the bridge and the sidecar, progress on stderr, the transcript on stdout.
 */

const path = require('node:path');
const { parseArgs } = require('node:util');
const { WhisperSidecar } = require('../node_bridge');
const { render, FORMATS } = require('../relay/responses/formats');

const ROOT = path.resolve(__dirname, '..');
const USAGE = 'usage: npm run transcribe -- FILE [--language CODE] [--model NAME] [--task transcribe|translate] '
  + '[--format txt|srt|vtt|json] [--word-timestamps]';

async function transcribeFile(file, { language, model, task, format = 'txt', wordTimestamps = false },
  { stdout = process.stdout, stderr = process.stderr } = {}) {
  if (!FORMATS[format]) throw new TypeError(`--format must be one of ${Object.keys(FORMATS).join(', ')}, got ${JSON.stringify(format)}`);
  const sidecar = new WhisperSidecar({ projectRoot: ROOT, logger: null });
  const progress = (line) => stderr.write(stderr.isTTY ? `\r\x1b[K${line}` : `${line}\n`);
  try {
    await sidecar.start();
    const params = { language, model, task, word_timestamps: wordTimestamps || undefined };
    const result = await sidecar.transcribe(path.resolve(file), withoutUndefined(params), {
      onStatus: (status) => {
        const percent = typeof status.progress === 'number' ? ` ${bar(status.progress)}` : '';
        if (status.message) progress(`${status.message.replace(/\s*\d+%$/, '')}${percent}`);
      },
    });
    if (stderr.isTTY) stderr.write('\n');
    stderr.write(`${result.duration.toFixed(1)} s of audio on ${String(result.device).toUpperCase()} `
      + `(${result.model}, ${result.compute_type}), real-time factor ${Number(result.rtf).toFixed(2)}\n`);
    stdout.write(render(result, format));
    return result;
  } finally {
    await sidecar.stop();
  }
}

function bar(fraction) {
  const width = 20;
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(fraction * 100)}%`;
}

function withoutUndefined(object) {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));
}

if (require.main === module) {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        language: { type: 'string' }, model: { type: 'string' }, task: { type: 'string' },
        format: { type: 'string', default: 'txt' }, 'word-timestamps': { type: 'boolean' },
      },
    });
  } catch (err) {
    console.error(`${err.message}\n${USAGE}`);
    process.exit(2);
  }
  if (parsed.positionals.length !== 1) {
    console.error(USAGE);
    process.exit(2);
  }
  const { values } = parsed;
  transcribeFile(parsed.positionals[0], { ...values, wordTimestamps: values['word-timestamps'] }).catch((err) => {
    console.error(`transcription failed: ${err.message}`);
    process.exit(1);
  });
}

module.exports = { transcribeFile };
