'use strict';

/**
 * relay/jobs/model.js on a real JobStore: the one failure reading, the events a transport applies
 * (the store's row and the live view they change), waiting for a source job's kind, finishing.
 * Both transports (relay/jobs/local.js, relay/cluster/runner.js) are JobModels, so these rules hold
 * for each.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { JobStore } = require('../../../relay/jobs/store');
const { JobModel, classifyFailure, statusOf, segmentOf } = require('../../../relay/jobs/model');
const { sourceLimits } = require('../../../relay/jobs/run');
const { HttpError } = require('../../../relay/errors');
const { SidecarError } = require('../../../node_bridge');
const { tempDir } = require('../helpers');

const quiet = { warn() {}, error() {}, log() {} };

function makeModel() {
  const dir = tempDir();
  const store = new JobStore(path.join(dir, 'jobs.sqlite'));
  return { dir, store, model: new JobModel({ store, log: quiet }) };
}

function record(model, id) {
  const events = [];
  model.events.on(id, (event) => events.push(event));
  return events;
}

test('classifyFailure: the relay\'s own refusal, a sidecar crash to retry, a capacity refusal, a cancel', () => {
  const refused = classifyFailure(new HttpError(403, 'url_forbidden', 'That address is private.'));
  assert.deepEqual(refused, { error: { code: 'url_forbidden', message: 'That address is private.' }, cancelled: false, retry: false });

  const crashed = classifyFailure(new SidecarError('the sidecar exited (SIGKILL)', { kind: 'exited' }));
  assert.equal(crashed.retry, true);
  assert.equal(crashed.error.code, 'exited');
  const gaveUp = classifyFailure(new SidecarError('the sidecar keeps dying', { kind: 'exited', fatal: true }));
  assert.equal(gaveUp.retry, false, 'the bridge gave up: no attempt would succeed');

  const full = classifyFailure(new SidecarError('No room for another stream', { kind: 'capacity', data: { kind: 'capacity', retry_after_s: 7 } }));
  assert.deepEqual(full.error, { code: 'capacity', message: 'No room for another stream', retry_after_s: 7 });

  const aborted = classifyFailure(new SidecarError('aborted', { name: 'AbortError', kind: 'aborted' }));
  assert.equal(aborted.cancelled, true);
  assert.equal(aborted.error.code, 'cancelled');
});

test('statusOf and segmentOf read the sidecar\'s notifications the same way for every transport', () => {
  assert.deepEqual(statusOf({ stage: 'transcribing', progress: 0.5, device: 'cpu' }),
    { stage: 'transcribing', message: null, progress: 0.5, device: 'cpu' });
  assert.deepEqual(statusOf({ stage: 'loading', progress: '1' }), { stage: 'loading', message: null, progress: null, device: null });
  const segment = { id: 0, start: 0, end: 1, text: ' hi' };
  assert.equal(segmentOf({ request_id: 'r', segment }), segment);
  assert.equal(segmentOf(segment), segment);
});

test('applied events change the row and the live view: attempts, partials, finals, resets, status', () => {
  const { store, model } = makeModel();
  const job = model.insert({ source: 'url', name: 'u', options: {}, mediaPath: '', ownsMedia: false, input: { url: 'http://x/' } });
  const events = record(model, job.id);

  model.applyEvent(job.id, 'state', { state: 'running', attempts: 1 });
  assert.equal(store.get(job.id).state, 'running');
  assert.equal(store.get(job.id).attempts, 1);
  model.applyEvent(job.id, 'kind', { kind: 'hls', live: true });
  assert.equal(store.get(job.id).live, true);
  assert.equal(store.get(job.id).kind, 'hls');
  assert.equal(store.get(job.id).stage, 'live');

  model.applyEvent(job.id, 'segment', { id: 0, start: 0, end: 1, text: ' one', final: true });
  model.applyEvent(job.id, 'segment', { id: 1, start: 1, end: 2, text: ' tw', final: false });
  assert.deepEqual(model.liveView(job.id).segments.map((s) => s.text), [' one', ' tw'], 'the partial comes last');
  model.applyEvent(job.id, 'segment', { id: 1, start: 1, end: 2, text: ' two', final: true });
  assert.deepEqual(model.liveView(job.id).segments.map((s) => s.text), [' one', ' two'], 'a final replaces the partial');
  model.applyEvent(job.id, 'lag', { lag_s: 2.5 });
  assert.deepEqual(model.liveStreams(), { open: 1, lagS: 2.5 });

  // another attempt keeping the first final (a stream taken over): the rest is dropped, clients told
  model.applyEvent(job.id, 'state', { state: 'running', attempts: 2, keep: 1 });
  assert.deepEqual(model.liveView(job.id).segments.map((s) => s.text), [' one']);
  assert.deepEqual(events.find((e) => e.type === 'reset').data, { keep: 1 });

  model.applyEvent(job.id, 'status', { stage: 'downloading', message: 'Downloading… 4 KB', progress: 0.25, device: null, bytes: 4096, total: 16384 });
  assert.equal(store.get(job.id).progress, 0.25);
  assert.deepEqual(events[events.length - 1], { type: 'progress', data: { progress: 0.25, bytes: 4096, total: 16384, stage: 'downloading' } });
  store.close();
});

test('waitForKind: a download settles at its kind, a live stream once the sidecar accepted it, anything at its end or the time limit', async () => {
  const { store, model } = makeModel();
  const insert = () => model.insert({ source: 'url', name: 'u', options: {}, mediaPath: '', ownsMedia: false, input: { url: 'http://x/' }, state: 'downloading' });

  const download = insert();
  const waiting = model.waitForKind(download.id, 60000);
  model.applyEvent(download.id, 'kind', { kind: 'download', live: false });
  assert.equal((await waiting).kind, 'download');

  const live = insert();
  let settled = null;
  const waitingLive = model.waitForKind(live.id, 60000).then((job) => { settled = job; });
  model.applyEvent(live.id, 'kind', { kind: 'hls', live: true });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, null, 'the kind alone does not settle a live stream: the sidecar may still refuse it');
  model.applyEvent(live.id, 'state', { state: 'running', live: true, kind: 'hls', open: true });
  await waitingLive;
  assert.equal(settled.kind, 'hls');

  const refused = insert();
  const waitingRefused = model.waitForKind(refused.id, 60000);
  model.finish(refused, 'error', { error: { code: 'capacity', message: 'full', retry_after_s: 3 } });
  assert.equal((await waitingRefused).error.code, 'capacity');

  const slow = insert();
  assert.equal((await model.waitForKind(slow.id, 20)).state, 'downloading', 'after the time limit, as it stands');
  assert.equal(model.events.listenerCount(slow.id), 0, 'the waiter is gone');
  store.close();
});

test('finish: the final state stored, owned media removed, the end and a "finished" event sent, waitFor resolved', async () => {
  const { dir, store, model } = makeModel();
  const media = path.join(dir, 'upload.flac');
  fs.writeFileSync(media, 'x');
  const job = model.insert({ source: 'upload', name: 'a', options: {}, mediaPath: media, ownsMedia: true });
  const events = record(model, job.id);
  const finishedEvents = [];
  model.events.on('finished', (finished) => finishedEvents.push(finished.id));
  const waiting = model.waitFor(job.id);
  model.applyEvent(job.id, 'segment', { id: 0, start: 0, end: 1, text: ' hello' });
  const finished = model.finish(job, 'done', { result: { text: 'hello', segments: [] }, device: 'cpu', progress: 1 });
  assert.equal((await waiting).state, 'done');
  assert.equal(finished.state, 'done');
  assert.equal(fs.existsSync(media), false, 'the upload the job owned is removed');
  assert.deepEqual(events[events.length - 1], { type: 'done', data: { state: 'done', text: 'hello', device: 'cpu' } });
  assert.deepEqual(finishedEvents, [job.id]);
  assert.equal(model.liveView(job.id), null, 'a finished job has no live view');
  store.close();
});

test('sourceLimits: the server\'s settings, lowered by the job\'s own live limits', () => {
  const config = { maxDownloadMb: 2, downloadTimeoutS: 30, maxRedirects: 3, allowPrivateUrls: false, liveIdleTimeoutS: 60, followIdleS: 45 };
  assert.deepEqual(sourceLimits(config, { idle_timeout_s: 5 }), {
    maxBytes: 2 * 1024 * 1024, timeoutMs: 30000, maxRedirects: 3, allowPrivate: false, idleTimeoutS: 5, followIdleS: 45,
  });
});
