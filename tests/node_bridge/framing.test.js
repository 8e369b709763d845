'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { LineDecoder, parseMessage, encodeMessage } = require('../../node_bridge/lib/framing');

const TEXT = '{"jsonrpc":"2.0","method":"segment","params":{"text":"héllo — 日本語 🎮 ñ"}}';

test('a split anywhere, also inside a multi-byte character, gives back the same line', () => {
  const bytes = Buffer.from(`${TEXT}\n`, 'utf8');
  for (let cut = 0; cut <= bytes.length; cut += 1) {
    const decoder = new LineDecoder();
    const lines = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
    assert.deepEqual(lines, [TEXT], `cut at byte ${cut}`);
  }
});

test('byte-by-byte input with CRLF line ends', () => {
  const bytes = Buffer.from(`${TEXT}\r\n${TEXT}\r\n`, 'utf8');
  const decoder = new LineDecoder();
  const lines = [];
  for (const byte of bytes) lines.push(...decoder.push(Buffer.from([byte])));
  assert.deepEqual(lines, [TEXT, TEXT]);
});

test('several lines in one chunk, empty lines kept, the unterminated tail comes out at end()', () => {
  const decoder = new LineDecoder();
  assert.deepEqual(decoder.push(Buffer.from('a\n\nb\nc')), ['a', '', 'b']);
  assert.deepEqual(decoder.end(), ['c']);
  assert.deepEqual(decoder.end(), []);
});

test('a very long line in many chunks', () => {
  const decoder = new LineDecoder();
  const chunk = Buffer.from('ü'.repeat(32 * 1024), 'utf8'); // 64 KiB
  const lines = [];
  for (let i = 0; i < 160; i += 1) lines.push(...decoder.push(chunk.subarray(0, 65535)), ...decoder.push(chunk.subarray(65535)));
  lines.push(...decoder.push(Buffer.from('\n')));
  assert.equal(lines.length, 1);
  assert.equal(lines[0].length, 160 * 32 * 1024);
});

test('a line over maxLineBytes is dropped whole and reported; the next line is fine', () => {
  const overflows = [];
  const decoder = new LineDecoder({ maxLineBytes: 10, onOverflow: (bytes) => overflows.push(bytes) });
  assert.deepEqual(decoder.push(Buffer.from('0123456789abcdef')), []);
  assert.deepEqual(decoder.push(Buffer.from('more\nok\n')), ['ok']);
  assert.equal(overflows.length, 1);
});

test('parseMessage accepts only JSON-RPC 2.0 objects', () => {
  assert.deepEqual(parseMessage('{"jsonrpc":"2.0","id":1,"result":null}'), { message: { jsonrpc: '2.0', id: 1, result: null } });
  for (const line of ['', 'garbage', '[1]', '"s"', '42', 'null', '{"id":1}', '{"jsonrpc":"1.0"}']) {
    assert.ok(parseMessage(line).error, line);
  }
});

test('encodeMessage writes one line, even for text with newlines and U+2028', () => {
  const line = encodeMessage({ jsonrpc: '2.0', method: 'x', params: { text: 'a\nb\u2028c\r' } });
  assert.equal(line.indexOf('\n'), line.length - 1);
  assert.equal(JSON.parse(line).params.text, 'a\nb\u2028c\r');
});
