'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { PassThrough } = require('node:stream');
const { setImmediate: tick } = require('node:timers/promises');
const { Connection } = require('../../node_bridge/lib/connection');
const { SidecarError } = require('../../node_bridge/lib/errors');

/** A Connection on PassThrough pipes; `sent` collects what it wrote, `reply` plays the sidecar. */
function setup(options = {}) {
  const warnings = [];
  const notifications = [];
  const connection = new Connection({
    log: { debug() {}, warn: (message) => warnings.push(message) },
    onNotification: (method, params) => notifications.push([method, params]),
    ...options,
  });
  const stdout = new PassThrough();
  const stdin = new PassThrough();
  const sent = [];
  stdin.on('data', (chunk) => {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) sent.push(JSON.parse(line));
  });
  connection.attach({ input: stdout, output: stdin });
  const reply = (message) => stdout.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
  return { connection, sent, reply, warnings, notifications, stdout };
}

test('requests wait until open, then go out in order with fresh ids', async () => {
  const { connection, sent } = setup();
  const first = connection.request('ping');
  const second = connection.request('gpu_status', { recheck: true });
  await tick();
  assert.equal(sent.length, 0);
  connection.open();
  await tick();
  assert.deepEqual(sent, [
    { jsonrpc: '2.0', id: 1, method: 'ping' },
    { jsonrpc: '2.0', id: 2, method: 'gpu_status', params: { recheck: true } },
  ]);
  assert.equal(connection.size, 2);
  connection.rejectAll(() => new Error('end'));
  await assert.rejects(first, /end/);
  await assert.rejects(second, /end/);
});

test('answers out of order reach their own callers; errors become SidecarError', async () => {
  const { connection, reply } = setup();
  connection.open();
  const a = connection.request('transcribe', { path: 'a' });
  const b = connection.request('transcribe', { path: 'b' });
  reply({ id: 2, result: { text: 'B' } });
  reply({ id: 1, error: { code: -32001, message: 'File not found: a', data: { kind: 'file_not_found' } } });
  assert.deepEqual(await b, { text: 'B' });
  const error = await a.catch((e) => e);
  assert.ok(error instanceof SidecarError);
  assert.equal(error.code, -32001);
  assert.equal(error.kind, 'file_not_found');
  assert.equal(error.method, 'transcribe');
  assert.match(error.message, /File not found: a/);
  assert.equal(connection.size, 0);
});

test('a timeout rejects with timedOut and sends cancel for it', async () => {
  const { connection, sent } = setup();
  connection.open();
  const error = await connection.request('gpu_status', undefined, { timeout: 20 }).catch((e) => e);
  assert.equal(error.timedOut, true);
  assert.equal(error.kind, 'timeout');
  await tick();
  assert.deepEqual(sent[1], { jsonrpc: '2.0', id: 2, method: 'cancel', params: { id: 1 } });
  connection.rejectAll(() => new Error('end'));
});

test('an abort rejects with an AbortError, sends cancel, and the late answer is ignored', async () => {
  const { connection, sent, reply, warnings } = setup();
  connection.open();
  const controller = new AbortController();
  const promise = connection.request('transcribe', { path: 'x' }, { signal: controller.signal });
  controller.abort(new Error('user left'));
  const error = await promise.catch((e) => e);
  assert.equal(error.name, 'AbortError');
  assert.equal(error.isCanceled, true);
  assert.equal(error.code, -32800);
  assert.equal(error.cause.message, 'user left');
  await tick();
  assert.equal(sent[1].method, 'cancel');
  assert.deepEqual(sent[1].params, { id: 1 });
  reply({ id: 1, error: { code: -32800, message: 'cancelled' } });
  reply({ id: 2, result: { cancelled: true } });
  await tick();
  assert.deepEqual(warnings, []);
  assert.equal(connection.size, 0);
});

test('an already aborted signal rejects at once and sends nothing; a queued abort sends nothing', async () => {
  const { connection, sent } = setup();
  await assert.rejects(connection.request('ping', undefined, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  const controller = new AbortController();
  const queued = connection.request('transcribe', {}, { signal: controller.signal });
  controller.abort();
  await assert.rejects(queued, { name: 'AbortError' });
  connection.open();
  await tick();
  assert.deepEqual(sent, []);
});

test('notifications: all reach onNotification, those with request_id reach their request too', async () => {
  const { connection, reply, notifications } = setup();
  connection.open();
  const mine = [];
  const other = [];
  const a = connection.request('transcribe', {}, { onNotification: (m, p) => mine.push([m, p.segment && p.segment.id]) });
  const b = connection.request('transcribe', {}, { onNotification: (m) => other.push(m) });
  reply({ method: 'status', params: { request_id: null, stage: 'starting' } });
  reply({ method: 'segment', params: { request_id: 1, segment: { id: 0 } } });
  reply({ method: 'segment', params: { request_id: 1, segment: { id: 1 } } });
  reply({ method: 'status', params: { request_id: 2, stage: 'done' } });
  reply({ id: 1, result: 'a' });
  reply({ id: 2, result: 'b' });
  await Promise.all([a, b]);
  assert.deepEqual(mine, [['segment', 0], ['segment', 1]]);
  assert.deepEqual(other, ['status']);
  assert.equal(notifications.length, 4);
});

test('a throwing listener is logged and the loop goes on', async () => {
  const { connection, reply, warnings } = setup({ onNotification: () => { throw new Error('listener bug'); } });
  connection.open();
  const a = connection.request('ping');
  reply({ method: 'status', params: {} });
  reply({ id: 1, result: 'pong' });
  assert.equal(await a, 'pong');
  assert.match(warnings[0], /listener bug/);
});

test('garbage on stdout is logged and skipped; a request from the sidecar is refused', async () => {
  const { connection, reply, stdout, warnings, sent } = setup();
  connection.open();
  const a = connection.request('ping');
  stdout.write('not json\n[1,2]\n{"jsonrpc":"2.0"}\n\n');
  stdout.write(Buffer.from([0xff, 0xfe, 0x0a]));
  reply({ id: 7, method: 'what' });
  reply({ id: 1, result: 'pong' });
  assert.equal(await a, 'pong');
  assert.equal(warnings.length, 4);
  await tick();
  assert.equal(sent[1].id, 7);
  assert.equal(sent[1].error.code, -32601);
});

test('detach re-queues requests with retries (calling onRetry) and rejects the others', async () => {
  const { connection, sent } = setup();
  connection.open();
  const retries = [];
  const kept = connection.request('transcribe', { path: 'a' }, { retries: 1, onRetry: (info) => retries.push(info) });
  const lost = connection.request('gpu_status');
  await tick();
  connection.detach((request) => new Error(`${request.method} lost`), { retryInfo: { reason: 'crash' } });
  await assert.rejects(lost, /gpu_status lost/);
  assert.deepEqual(retries, [{ reason: 'crash', previousId: 1, attempt: 2 }]);
  // a new process
  const next = new PassThrough();
  const stdin = new PassThrough();
  const resent = [];
  stdin.on('data', (chunk) => resent.push(JSON.parse(chunk)));
  connection.attach({ input: next, output: stdin });
  connection.open();
  await tick();
  assert.equal(resent[0].method, 'transcribe');
  assert.equal(resent[0].id, 3);
  next.write('{"jsonrpc":"2.0","id":3,"result":"done"}\n');
  assert.equal(await kept, 'done');
  assert.equal(sent.length, 2);
});
