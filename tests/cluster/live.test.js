'use strict';

/**
 * Live streams in distributed mode, with a real redis-server and real sidecars: one API process and
 * two worker processes (`node relay.js --role …`), a live HLS stream published in real time by the
 * test's own server. The stream runs on a worker; its partials, finals and lag reach the API node's
 * SSE; the worker is killed with kill -9 and another takes the stream over from the live edge with
 * the time no one heard marked as a gap; DELETE stops it keeping every final. A finite URL is
 * downloaded and transcribed by a worker; a growing file is refused with the reason.
 */

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { fixtureText, wordRecall, tempDir } = require('../relay/helpers');
const { makeStreams, startMediaServer } = require('../relay/live-servers');
const {
  SECRET, redisOrSkip, startRedis, startNode, stopNode, pidOfNode, parseMetrics, readEventsAs, getAs,
} = require('./helpers');

const KEY = 'live-client-key-0123456789abcdef';
const STORY = fixtureText('story');

const skip = redisOrSkip();

describe('live streams in distributed mode', { skip, timeout: 600000 }, () => {
  let redis;
  let media;
  let env;
  let api;
  const workers = [];
  const mediaDir = tempDir('cluster-media-');

  before(async () => {
    const dir = makeStreams();
    // live.m3u8: a new 2-s segment every 2 s of wall clock, as a live encoder publishes them
    media = await startMediaServer({ dir, live: { periodMs: 2000, window: 6, initial: 1 } });
    redis = await startRedis();
    env = {
      REDIS_URL: redis.url, CLUSTER_SECRET: SECRET, RELAY_API_KEYS: KEY, ALLOW_PRIVATE_URLS: 'true', MEDIA_DIR: mediaDir,
      JOB_LOCK_S: '4', WORKER_DRAIN_S: '0', JOB_ATTEMPTS: '3',
    };
    const started = await Promise.all([startNode('api', env), startNode('worker', env), startNode('worker', env)]);
    api = started[0];
    workers.push(started[1], started[2]);
  });

  after(async () => {
    await Promise.allSettled([api, ...workers].map((node) => stopNode(node, 15000)));
    if (redis) await redis.stop();
    if (media) await media.close();
  });

  async function post(body) {
    const response = await fetch(`${api.url}/api/transcriptions`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }

  /** Follows a job's SSE on the API node until `until(events)` or its end. */
  async function watch(id, { until = () => false, timeoutMs = 150000 } = {}) {
    const controller = new AbortController();
    const events = [];
    await readEventsAs(KEY, `${api.url}/api/transcriptions/${id}/events`, {
      timeoutMs,
      signal: controller.signal,
      onEvent: (event) => {
        events.push(event);
        if (until(events)) controller.abort();
      },
    }).catch((err) => {
      if (!controller.signal.aborted) throw err;
    });
    return events;
  }

  const workerOf = (events) => events.filter((e) => e.event === 'lag' && e.data.worker).map((e) => e.data.worker).pop();
  const finals = (events) => events.filter((e) => e.event === 'segment' && e.data.final).map((e) => e.data);

  async function metrics() {
    const { status, body } = await getAs(null, api.url, '/metrics');
    assert.equal(status, 200);
    return parseMetrics(body);
  }

  test('a live HLS stream runs on a worker; kill -9 of that worker: another takes it over from the live edge, a gap marked, no final lost; DELETE keeps it all', async () => {
    const created = await post({ url: `${media.origin}/live.m3u8?name=cluster`, language: 'en' });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    assert.equal(created.body.live, true, 'the POST says live once the worker opened it');
    assert.equal(created.body.kind, 'hls');
    const id = created.body.id;

    const before = await watch(id, { until: (list) => finals(list).length >= 1 });
    const firstFinal = before.findIndex((e) => e.event === 'segment' && e.data.final);
    assert.ok(before.slice(0, firstFinal).some((e) => e.event === 'segment' && e.data.final === false), 'a partial came first');
    assert.ok(before.some((e) => e.event === 'lag' && typeof e.data.lag_s === 'number'), 'lag events reach the API node');
    const owner = workerOf(before);
    assert.ok(owner, 'the lag events name the worker running the stream');
    const m = await metrics();
    assert.equal(m.whisper_live_streams_open, 1, 'one live stream open in the cluster');
    assert.ok(m.whisper_live_stream_lag_seconds >= 0);
    const view = (await getAs(KEY, api.url, `/api/transcriptions/${id}`)).body;
    assert.equal(view.state, 'running');
    assert.ok(view.segments.length >= 1, 'the job view shows the segments so far');

    // The worker running the stream dies outright; a fresh worker joins so two stay up.
    const committed = finals(before);
    process.kill(pidOfNode(owner), 'SIGKILL');
    const replacement = startNode('worker', env);
    const takeover = await watch(id, {
      until: (list) => {
        const got = finals(list);
        const gap = got.find((s) => s.gap && s.reason === 'worker_takeover');
        return Boolean(gap && got.some((s) => !s.gap && s.id > gap.id));
      },
    });
    workers.push(await replacement);
    const victim = workers.find((w) => w.nodeId === owner);
    assert.equal((await victim.exited).signal, 'SIGKILL');
    const newOwner = workerOf(takeover);
    assert.ok(newOwner && newOwner !== owner, `another worker took it over (${newOwner})`);

    const stop = await fetch(`${api.url}/api/transcriptions/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${KEY}` } });
    const stopped = await stop.json();
    assert.equal(stop.status, 200);
    assert.equal(stopped.state, 'done', JSON.stringify(stopped));
    assert.equal(stopped.stopped, true);

    const { body: job } = await getAs(KEY, api.url, `/api/transcriptions/${id}`);
    assert.equal(job.state, 'done');
    assert.equal(job.live, true);
    assert.equal(job.kind, 'hls');
    assert.equal(job.stopped, true);
    const segments = job.result.segments;
    segments.forEach((s, i) => assert.equal(s.id, i, `finals numbered in order: ${JSON.stringify(segments)}`));
    assert.deepEqual(segments.slice(0, committed.length).map((s) => s.text), committed.map((s) => s.text),
      'every final sent before the kill is in the result, unchanged');
    const gap = segments.find((s) => s.gap && s.reason === 'worker_takeover');
    assert.ok(gap && gap.id >= committed.length, `the takeover is a marked gap after them: ${JSON.stringify(segments)}`);
    assert.ok(segments.some((s) => !s.gap && s.id > gap.id), 'text after the takeover');
    assert.match(job.text, /once upon a time/i);
    assert.equal((await metrics()).whisper_live_streams_open, 0, 'no live stream open after the stop');
  });

  test('a finite URL is downloaded and transcribed by a worker (kind download)', async () => {
    const created = await post({ url: `${media.origin}/story.mp3`, language: 'en' });
    assert.equal(created.status, 202);
    const events = await watch(created.body.id);
    assert.equal(events[events.length - 1].event, 'done', JSON.stringify(events.slice(-3)));
    const { body: job } = await getAs(KEY, api.url, `/api/transcriptions/${created.body.id}`);
    assert.equal(job.kind, 'download');
    assert.equal(job.live, false);
    assert.ok(wordRecall(job.text, STORY) >= 0.8, job.text);
  });

  test('following a growing file is refused with the reason: workers cannot see the API node\'s MEDIA_DIR', async () => {
    fs.writeFileSync(path.join(mediaDir, 'growing.wav'), Buffer.alloc(1000));
    const followed = await post({ path: 'growing.wav', follow: true });
    assert.equal(followed.status, 501, JSON.stringify(followed.body));
    assert.match(followed.body.error.message, /distributed mode/);
  });

  test('the realtime socket on an --role api node: an error event that names --role all, the socket stays usable', async () => {
    const WebSocket = require(require.resolve('ws', { paths: [path.dirname(require.resolve('openai'))] }));
    const socket = new WebSocket(`${api.url.replace(/^http/, 'ws')}/v1/realtime?intent=transcription`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    const events = [];
    const error = new Promise((resolve, reject) => {
      socket.on('message', (data) => {
        const event = JSON.parse(data);
        events.push(event);
        if (event.type === 'error') resolve(event);
      });
      socket.on('close', () => reject(new Error(`closed before an error event: ${JSON.stringify(events)}`)));
    });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(4800).toString('base64') }));
    const event = await error;
    assert.match(event.error.message, /--role all/, JSON.stringify(event));
    assert.equal(socket.readyState, WebSocket.OPEN);
    socket.close();
  });
});
