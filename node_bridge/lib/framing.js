'use strict';

/**
 * Newline-delimited JSON framing.
 *
 * Chunks are split on the byte 0x0A and decoded only once a line is complete: in UTF-8 no byte of
 * a multi-byte character is ever 0x0A, so a chunk boundary inside a character (or anywhere else)
 * cannot corrupt the text. A trailing CR is dropped (CRLF). A line is kept as a list of chunks and
 * joined once, so very long lines cost O(n). A line longer than `maxLineBytes` is dropped whole.
 */

const NEWLINE = 0x0a;
const CR = '\r';
/** Results with word timestamps for hours of audio are large; anything past this is a runaway. */
const DEFAULT_MAX_LINE_BYTES = 256 * 1024 * 1024;

class LineDecoder {
  /**
   * @param {object} [options]
   * @param {number} [options.maxLineBytes]
   * @param {(bytes: number) => void} [options.onOverflow] called once per dropped line.
   */
  constructor({ maxLineBytes = DEFAULT_MAX_LINE_BYTES, onOverflow = () => {} } = {}) {
    this.maxLineBytes = maxLineBytes;
    this.onOverflow = onOverflow;
    this.parts = [];
    this.size = 0;
    this.overflowing = false;
  }

  /**
   * Feeds one chunk, returns the lines it completed (without the line terminator).
   * @param {Buffer|string} chunk
   * @returns {string[]}
   */
  push(chunk) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const lines = [];
    let start = 0;
    let index;
    while ((index = buffer.indexOf(NEWLINE, start)) !== -1) {
      this.append(buffer.subarray(start, index));
      const line = this.take();
      if (line !== null) lines.push(line);
      start = index + 1;
    }
    if (start < buffer.length) this.append(buffer.subarray(start));
    return lines;
  }

  /** Returns the unterminated last line, if any (the stream ended). */
  end() {
    if (this.size === 0 && !this.overflowing) return [];
    const line = this.take();
    return line === null || line === '' ? [] : [line];
  }

  append(part) {
    if (this.overflowing || part.length === 0) return;
    if (this.size + part.length > this.maxLineBytes) {
      this.overflowing = true;
      this.onOverflow(this.size + part.length);
      this.parts = [];
      this.size = 0;
      return;
    }
    this.parts.push(part);
    this.size += part.length;
  }

  take() {
    if (this.overflowing) {
      this.overflowing = false;
      return null;
    }
    const bytes = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    const line = bytes.toString('utf8');
    return line.endsWith(CR) ? line.slice(0, -1) : line;
  }
}

/**
 * Calls `onLine` for every line read from `stream` (a Readable of bytes), also the last
 * unterminated one when the stream ends.
 * @returns {() => void} detaches the listeners.
 */
function readLines(stream, onLine, options) {
  const decoder = new LineDecoder(options);
  const onData = (chunk) => { for (const line of decoder.push(chunk)) onLine(line); };
  const onEnd = () => { for (const line of decoder.end()) onLine(line); };
  stream.on('data', onData);
  stream.on('end', onEnd);
  return () => {
    stream.off('data', onData);
    stream.off('end', onEnd);
  };
}

/** One message as one line. JSON.stringify escapes U+2028/U+2029 and never emits a raw newline. */
function encodeMessage(message) {
  return `${JSON.stringify(message)}\n`;
}

/**
 * Parses one line into a JSON-RPC message.
 * @returns {{ message: object } | { error: string }}
 */
function parseMessage(line) {
  if (line.trim() === '') return { error: 'empty line' };
  let value;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { error: `not JSON (${error.message})` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { error: 'not a JSON-RPC message object' };
  }
  if (value.jsonrpc !== '2.0') return { error: 'missing "jsonrpc": "2.0"' };
  return { message: value };
}

module.exports = { LineDecoder, readLines, encodeMessage, parseMessage, DEFAULT_MAX_LINE_BYTES };
