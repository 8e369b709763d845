'use strict';

/**
 * Durability: a relay restart loses no finished transcript, a job left 'running' by a relay that
 * died is requeued and finished, and a job whose sidecar is killed mid-run is retried and finished.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { fixture, fixtureText, tempDir, startSidecar, startRelay, uploadFile, getJson, followJob, readEvents,
  wordRecall, HELLO_MIN_RECALL } = require('./helpers');
const { JobStore } = require('../../relay/jobs/store');

let sidecar;
const dataDir = tempDir('relay-data-');

before(async () => {
  sidecar = await startSidecar();
});

after(async () => {
  if (sidecar) await sidecar.stop();
});

let finishedId;

test('a finished job is still there, with its formats, after a relay restart', async () => {
  const first = await startRelay({ sidecar, config: { dataDir } });
  try {
    const { body } = await uploadFile(first.url, fixture('hello.flac'));
    const { final } = await followJob(first.url, body.id);
    assert.equal(final.event, 'done');
    finishedId = body.id;
  } finally {
    await first.close();
  }

  const second = await startRelay({ sidecar, config: { dataDir } });
  try {
    const { status, body } = await getJson(second.url, `/api/transcriptions/${finishedId}`);
    assert.equal(status, 200);
    assert.equal(body.state, 'done');
    assert.ok(wordRecall(body.text, fixtureText('hello')) >= HELLO_MIN_RECALL, body.text);
    const srt = await (await fetch(`${second.url}/api/transcriptions/${finishedId}.srt`)).text();
    assert.match(srt, /^1\n00:00:00,000 --> /);
    const list = await getJson(second.url, '/api/transcriptions');
    assert.deepEqual(list.body.jobs.map((job) => job.id), [finishedId]);
  } finally {
    await second.close();
  }
});

test('a job a dead relay left running is requeued at startup and finished', async () => {
  // What a relay that died mid-job leaves behind: a 'running' row and its media file.
  const media = path.join(dataDir, 'uploads', 'interrupted.flac');
  fs.mkdirSync(path.dirname(media), { recursive: true });
  fs.copyFileSync(fixture('weather.flac'), media);
  const store = new JobStore(path.join(dataDir, 'relay.sqlite'));
  const id = '11111111-2222-3333-4444-555555555555';
  store.insert({ id, source: 'upload', name: 'weather.flac', mediaPath: media, ownsMedia: true, options: { language: 'en' } });
  store.update(id, { state: 'running', attempts: 1, progress: 0.4 });
  store.close();

  const relay = await startRelay({ sidecar, config: { dataDir } });
  try {
    const { final } = await followJob(relay.url, id);
    assert.equal(final.event, 'done');
    const { body } = await getJson(relay.url, `/api/transcriptions/${id}`);
    assert.equal(body.attempts, 2);
    assert.ok(wordRecall(body.text, fixtureText('weather')) >= 0.7, body.text);
    assert.equal(fs.existsSync(media), false, 'the media is removed once the job is done');
  } finally {
    await relay.close();
  }
});

test('a sidecar killed mid-transcription: the job is retried and finishes', async () => {
  const relay = await startRelay({ sidecar, config: { dataDir: tempDir() } });
  try {
    // Killed on the sidecar's own 'transcribing' line, which it writes before it decodes: the relay's SSE
    // can deliver that line with the whole job on a loaded machine, when the kill would come too late.
    let killedPid = null;
    const killOnStart = (status) => {
      if (killedPid === null && status.stage === 'transcribing') {
        killedPid = sidecar.pid;
        process.kill(killedPid, 'SIGKILL');
      }
    };
    sidecar.on('status', killOnStart);
    const { body } = await uploadFile(relay.url, fixture('story.flac'));
    const events = await readEvents(`${relay.url}/api/transcriptions/${body.id}/events`).finally(
      () => sidecar.off('status', killOnStart));
    assert.ok(killedPid, 'the sidecar was killed');
    assert.notEqual(sidecar.pid, killedPid, 'the bridge started a new sidecar');
    const final = events[events.length - 1];
    assert.equal(final.event, 'done', JSON.stringify(final));
    assert.ok(wordRecall(final.data.text, fixtureText('story')) >= 0.8, final.data.text);
    const job = await getJson(relay.url, `/api/transcriptions/${body.id}`);
    assert.equal(job.body.state, 'done');
    // Killed before its first segment, so the retry's segments are the only ones streamed.
    assert.equal(events.filter((e) => e.event === 'segment').length, job.body.result.segments.length);
  } finally {
    await relay.close();
  }
});
