'use strict';

/**
 * Distributed mode end to end, with a real redis-server and real sidecars: one API process, two
 * worker processes (`node relay.js --role …`). 20 jobs from 3 clients with a worker killed with
 * kill -9 mid-job; SSE on the API node showing a worker's progress; Redis restarted mid-run; a
 * worker's SIGTERM handing its job back; /metrics counting what happened.
 */

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { fixture, fixtureText, wordRecall, HELLO_MIN_RECALL } = require('../relay/helpers');
const {
  SECRET, redisOrSkip, startRedis, startNode, stopNode, pidOfNode, parseMetrics, readEventsAs, uploadAs, getAs,
} = require('./helpers');

const KEYS = ['client-one-key-0123456789abcdef', 'client-two-key-0123456789abcdef', 'client-three-key-0123456789abcde'];
const FILES = ['hello', 'numbers', 'weather'];
const MIN_RECALL = { hello: HELLO_MIN_RECALL, numbers: 0.8, weather: 0.8, story: 0.8 };

const skip = redisOrSkip();

describe('distributed mode (BullMQ on a real Redis)', { skip, timeout: 600000 }, () => {
  let redis;
  let env;
  let api;
  let api2; // a second API node, as behind a load balancer
  const workers = [];
  const finished = []; // {id, key, name, events, job}
  let cancelled = 0;

  before(async () => {
    redis = await startRedis();
    env = {
      REDIS_URL: redis.url, CLUSTER_SECRET: SECRET, RELAY_API_KEYS: KEYS.join(','),
      JOB_LOCK_S: '4', WORKER_DRAIN_S: '0', JOB_ATTEMPTS: '3',
    };
    const started = await Promise.all([startNode('api', env), startNode('worker', env), startNode('worker', env), startNode('api', env)]);
    api = started[0];
    workers.push(started[1], started[2]);
    api2 = started[3];
  });

  after(async () => {
    await Promise.allSettled([api, api2, ...workers].map((node) => stopNode(node, 15000)));
    if (redis) await redis.stop();
  });

  /** Submits `name` as client `key`, follows its events to the end, checks and records it. */
  async function run(key, name, { onEvent } = {}) {
    const created = await uploadAs(key, api.url, fixture(`${name}.flac`));
    const events = await readEventsAs(key, `${api.url}/api/transcriptions/${created.id}/events`, { onEvent: (e) => onEvent && onEvent(e, created.id) });
    const { body: job } = await getAs(key, api.url, `/api/transcriptions/${created.id}`);
    const entry = { id: created.id, key, name, events, job };
    finished.push(entry);
    return entry;
  }

  function assertDoneOnce({ id, name, events, job }) {
    const finals = events.filter((e) => ['done', 'error', 'cancelled'].includes(e.event));
    assert.equal(finals.length, 1, `job ${id}: one final event`);
    assert.equal(finals[0].event, 'done', `job ${id} (${name}): ${JSON.stringify(finals[0].data)}`);
    assert.equal(job.state, 'done');
    const recall = wordRecall(fixtureText(name), job.text);
    assert.ok(recall >= MIN_RECALL[name], `job ${id} (${name}) heard ${JSON.stringify(job.text)} (recall ${recall})`);
    const ids = job.result.segments.map((s) => s.id);
    assert.deepEqual(ids, [...new Set(ids)].sort((a, b) => a - b), 'segments once each, in order');
  }

  test('20 jobs from 3 clients, one worker killed with kill -9 mid-job: each done exactly once, right text', async () => {
    let killed = null;
    let replacement = null;
    // Job 0 is the long one; 0.3 s into its transcription, its worker is killed outright.
    const killer = (event, id) => {
      if (killed || event.event !== 'status' || event.data.stage !== 'transcribing' || !event.data.worker) return;
      killed = { id, nodeId: event.data.worker };
      setTimeout(() => {
        process.kill(pidOfNode(killed.nodeId), 'SIGKILL');
        replacement = startNode('worker', env);
      }, 300);
    };
    const first = run(KEYS[0], 'story', { onEvent: killer });
    const rest = [];
    for (let i = 1; i < 20; i += 1) rest.push(run(KEYS[i % 3], FILES[i % 3]));
    const results = await Promise.all([first, ...rest]);
    assert.ok(killed, 'a worker was killed mid-job');
    workers.push(await replacement);
    const victim = workers.find((w) => w.nodeId === killed.nodeId);
    assert.equal((await victim.exited).signal, 'SIGKILL');

    for (const entry of results) assertDoneOnce(entry);
    const lost = results[0];
    assert.equal(lost.job.attempts, 2, 'the killed attempt and the one that finished');
    const running = lost.events.filter((e) => e.event === 'state' && e.data.state === 'running');
    assert.ok(running.length >= 1 && running.length <= 2, 'one or two attempts were seen starting');
    assert.notEqual(running[running.length - 1].data.worker, killed.nodeId, 'another worker took it over');
    assert.ok(lost.events.some((e) => e.event === 'state' && e.data.state === 'queued'), 'shown as queued again');
    const workersSeen = new Set(lost.events.filter((e) => e.event === 'status').map((e) => e.data.worker));
    assert.equal(workersSeen.size, 2, 'its progress came from two workers');

    // Jobs belong to their client: another key's job is unknown.
    const other = await getAs(KEYS[1], api.url, `/api/transcriptions/${lost.id}`);
    assert.equal(other.status, 404);
    const listed = await getAs(KEYS[2], api.url, '/api/transcriptions');
    assert.equal(listed.body.jobs.length, results.filter((r) => r.key === KEYS[2]).length);
  });

  test('SSE on the API node shows the progress a worker made', () => {
    const entry = finished.find((e) => e.name === 'numbers');
    const types = entry.events.map((e) => e.event);
    assert.equal(types[0], 'snapshot');
    assert.ok(types.includes('status'), types.join(','));
    assert.ok(types.includes('segment'), types.join(','));
    const status = entry.events.find((e) => e.event === 'status');
    assert.match(status.data.worker, /-\d+-[0-9a-f]+$/, 'the worker that ran it is named');
    assert.ok(entry.events.some((e) => e.event === 'progress' && e.data.progress > 0 && e.data.progress < 1), 'progress mid-job');
    assert.equal(types[types.length - 1], 'done');
  });

  test('behind a load balancer: a job made through one API node is followed, read and listed through another', async () => {
    const created = await uploadAs(KEYS[1], api.url, fixture('weather.flac'));
    const events = await readEventsAs(KEYS[1], `${api2.url}/api/transcriptions/${created.id}/events`);
    assert.equal(events[events.length - 1].event, 'done');
    const { status, body: job } = await getAs(KEYS[1], api2.url, `/api/transcriptions/${created.id}`);
    assert.equal(status, 200);
    const entry = { id: created.id, key: KEYS[1], name: 'weather', events, job };
    assertDoneOnce(entry);
    finished.push(entry);
    const text = await getAs(KEYS[1], api2.url, `/api/transcriptions/${created.id}.txt`);
    assert.equal(text.body.trim(), job.text);
    // Every job of this client made through the first node is known to the second.
    const listed = await getAs(KEYS[1], api2.url, '/api/transcriptions?limit=500');
    const mine = finished.filter((e) => e.key === KEYS[1]).map((e) => e.id).sort();
    assert.deepEqual(listed.body.jobs.map((j) => j.id).sort(), mine);
    assert.equal((await getAs(KEYS[0], api2.url, `/api/transcriptions/${created.id}`)).status, 404, 'still another key\'s job');
  });

  test('Redis restarted mid-run: API and workers reconnect, no job lost, each done once', async () => {
    let restarted = null;
    const health = []; // /healthz's queue while Redis restarts (the page's banner reads it)
    const pollHealth = async () => {
      while (!health.done) {
        const { body } = await getAs(null, api.url, '/healthz');
        health.push(body.queue);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    let polling = null;
    const onEvent = (event) => {
      if (!restarted && event.event === 'status' && event.data.stage === 'transcribing') {
        polling = pollHealth();
        restarted = redis.restart(500);
      }
    };
    const results = await Promise.all([
      run(KEYS[0], 'story', { onEvent }), run(KEYS[1], 'hello'), run(KEYS[2], 'numbers'), run(KEYS[0], 'weather'),
    ]);
    assert.ok(restarted, 'Redis was restarted while a job ran');
    await restarted;
    health.done = true;
    await polling;
    assert.ok(health.includes('reconnecting'), `/healthz said the queue was reconnecting: ${health.join(',')}`);
    assert.equal(health[health.length - 1], 'up', 'and up again once the jobs were done');
    for (const entry of results) assertDoneOnce(entry);
    const watched = results[0].events.filter((e) => e.event === 'status').map((e) => e.data.stage);
    assert.ok(watched.includes('reconnecting'), `the client was told the queue was reconnecting: ${watched.join(',')}`);
    // And it still takes new jobs afterwards.
    assertDoneOnce(await run(KEYS[1], 'hello'));
  });

  test('SIGTERM on a worker hands its running job back; another worker finishes it', async () => {
    let stopping = null;
    const onEvent = (event) => {
      if (stopping || event.event !== 'status' || event.data.stage !== 'transcribing' || !event.data.worker) return;
      const nodeId = event.data.worker;
      stopping = { nodeId, node: workers.find((w) => w.nodeId === nodeId) };
      setTimeout(() => process.kill(pidOfNode(nodeId), 'SIGTERM'), 300);
    };
    const entry = await run(KEYS[2], 'story', { onEvent });
    assert.ok(stopping, 'the worker was stopped mid-job');
    const exit = await stopping.node.exited;
    assert.equal(exit.code, 0, `the worker exited cleanly: ${stopping.node.output().slice(-1500)}`);
    assert.match(stopping.node.output(), /handed back/);
    assertDoneOnce(entry);
    const workersSeen = new Set(entry.events.filter((e) => e.event === 'status').map((e) => e.data.worker));
    assert.equal(workersSeen.size, 2, 'another worker finished it');
    assert.ok(entry.events.some((e) => e.event === 'state' && e.data.state === 'queued'), 'shown as queued again');
    assert.equal(entry.job.attempts, 1, 'a handed-back job spends no attempt');
  });

  test('DELETE on a running job stops it on its worker: one cancelled event', async () => {
    let deleting = null;
    const created = await uploadAs(KEYS[0], api.url, fixture('story.flac'));
    const events = await readEventsAs(KEYS[0], `${api.url}/api/transcriptions/${created.id}/events`, {
      onEvent: (event) => {
        if (deleting || event.event !== 'status' || event.data.stage !== 'transcribing') return;
        deleting = fetch(`${api.url}/api/transcriptions/${created.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${KEYS[0]}` } });
      },
    });
    assert.equal((await deleting).status, 200);
    const finals = events.filter((e) => ['done', 'error', 'cancelled'].includes(e.event));
    assert.deepEqual(finals.map((e) => e.event), ['cancelled']);
    const { body: job } = await getAs(KEYS[0], api.url, `/api/transcriptions/${created.id}`);
    assert.equal(job.state, 'cancelled');
    cancelled += 1;
  });

  test('an API node killed with kill -9 loses nothing: a fresh one shows every job and transcript from Redis', async () => {
    api2.proc.kill('SIGKILL');
    await api2.exited;
    api2 = await startNode('api', env);
    for (const key of KEYS) {
      const listed = await getAs(key, api2.url, '/api/transcriptions?limit=500');
      const mine = finished.filter((e) => e.key === key);
      const done = listed.body.jobs.filter((j) => j.state !== 'cancelled');
      assert.deepEqual(done.map((j) => j.id).sort(), mine.map((e) => e.id).sort());
      for (const job of done) assert.equal(job.state, 'done');
      assert.equal(listed.body.jobs.length - done.length, key === KEYS[0] ? cancelled : 0, 'the cancelled job, as cancelled');
    }
    const sample = finished[0];
    const text = await getAs(sample.key, api2.url, `/api/transcriptions/${sample.id}.txt`);
    assert.equal(text.status, 200);
    assert.equal(text.body.trim(), sample.job.text);
  });

  test('/metrics counts what happened', async () => {
    const { status, body } = await getAs(null, api.url, '/metrics');
    assert.equal(status, 200);
    const m = parseMetrics(body);
    const done = finished.length;
    assert.equal(m['whisper_jobs{state="done"}'], done);
    assert.equal(m['whisper_jobs{state="error"}'], cancelled, 'a job cancelled while running is a failed BullMQ job');
    const cancelledCounted = Object.entries(m).filter(([name]) => name.startsWith('whisper_jobs_finished_total{state="cancelled"'))
      .reduce((sum, [, value]) => sum + value, 0);
    assert.equal(cancelledCounted, cancelled);
    assert.equal(m['whisper_jobs_finished_total{state="done",device="cpu"}'], done);
    assert.equal(m['whisper_queue_depth{queue="whisper-any"}'], 0);
    assert.equal(m['whisper_realtime_factor_count{device="cpu"}'], done);
    const audio = finished.reduce((sum, e) => sum + e.job.result.duration, 0);
    assert.ok(Math.abs(m['whisper_audio_seconds_total{device="cpu"}'] - audio) < 0.01, `${m['whisper_audio_seconds_total{device="cpu"}']} vs ${audio}`);
    const attempts = finished.reduce((sum, e) => sum + e.job.attempts, 0);
    assert.equal(m.whisper_job_attempts_total, attempts + cancelled);
  });
});
