'use strict';

/**
 * Pieces of the OpenAI streaming tests: a speech file longer than Whisper's 30 s window (so its
 * segments are decoded, and streamed, over several seconds), and an SSE reader that timestamps
 * OpenAI's bare `data:` events.
 */

const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ROOT, tempDir } = require('./helpers');

const PYTHON = process.platform === 'win32'
  ? path.join(ROOT, '.venv', 'Scripts', 'python.exe')
  : path.join(ROOT, '.venv', 'bin', 'python');

/**
 * The committed fixtures played in turn until `minSpeechS` seconds of speech (bench/fixtures.py).
 * Returns {path, duration, text}.
 */
function longFixture(minSpeechS = 45) {
  const folder = tempDir('openai-long-');
  const script = 'import json, sys; from pathlib import Path; from bench.fixtures import concatenated;'
    + ' c = concatenated(Path(sys.argv[1]), "long", float(sys.argv[2]));'
    + ' print(json.dumps({"path": c.path, "duration": c.duration, "text": c.text}))';
  const out = execFileSync(PYTHON, ['-c', script, folder, String(minSpeechS)], { cwd: ROOT, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

/**
 * POSTs a multipart form and reads the SSE answer. Returns {status, headers, raw, events:
 * [{event, data, at}]} (`at`: ms since the request was sent). `onEvent(event, controller)` may abort.
 */
async function postStream(url, form, { onEvent = () => {}, timeoutMs = 300000 } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const t0 = performance.now();
  const events = [];
  let raw = '';
  try {
    const response = await fetch(url, { method: 'POST', body: form, signal: controller.signal });
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body) {
        const text = decoder.decode(chunk, { stream: true });
        raw += text;
        buffer += text;
        let end;
        while (!controller.signal.aborted && (end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = null;
          const data = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (!data.length) continue;
          const parsed = { event, data: JSON.parse(data.join('\n')), at: performance.now() - t0 };
          events.push(parsed);
          onEvent(parsed, controller);
        }
      }
    } catch (err) {
      if (err.name !== 'AbortError') throw err;
    }
    return { status: response.status, headers: response.headers, raw, events };
  } finally {
    clearTimeout(timer);
  }
}

module.exports = { PYTHON, longFixture, postStream };
