'use strict';

/**
 * The HTTP API end to end against the real sidecar: upload and follow SSE to `done`, the formats,
 * {path} requests, cancel, and every bad input, on one shared sidecar and relay.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const {
  AUDIO, fixture, fixtureText, tempDir, startSidecar, startRelay, uploadFile, postJson, getJson, followJob,
  readEvents, wordRecall, HELLO_MIN_RECALL } = require('./helpers');

let sidecar;
let relay;
let media;

before(async () => {
  sidecar = await startSidecar();
  media = tempDir('relay-media-');
  fs.copyFileSync(fixture('weather.flac'), path.join(media, 'weather.flac'));
  fs.writeFileSync(path.join(media, 'notes.txt'), 'not audio at all\n'.repeat(50));
  fs.mkdirSync(path.join(media, 'folder'));
  fs.symlinkSync(fixture('hello.flac'), path.join(media, 'escape.flac'));
  relay = await startRelay({ sidecar, config: { mediaDir: media } });
});

after(async () => {
  if (relay) await relay.close();
  if (sidecar) await sidecar.stop();
});

let helloId;

test('an upload answers 202 and its events run to done with the transcript', async () => {
  const { status, body, headers } = await uploadFile(relay.url, fixture('hello.flac'), { language: 'en' });
  assert.equal(status, 202);
  assert.match(body.id, /^[0-9a-f-]{36}$/);
  assert.equal(headers.get('location'), `/api/transcriptions/${body.id}`);
  helloId = body.id;

  const { events, final } = await followJob(relay.url, body.id);
  const types = events.map((e) => e.event);
  assert.equal(types[0], 'snapshot');
  assert.ok(types.includes('segment'), `no segment event in ${types}`);
  assert.ok(types.includes('progress'), `no progress event in ${types}`);
  assert.ok(types.indexOf('segment') < types.indexOf('done'));
  assert.equal(final.event, 'done');
  assert.equal(final.data.device, 'cpu');
  assert.ok(wordRecall(final.data.text, fixtureText('hello')) >= HELLO_MIN_RECALL, final.data.text);
  const segments = events.filter((e) => e.event === 'segment').map((e) => e.data.text).join('');
  assert.equal(segments.trim(), final.data.text.trim());
});

test('GET returns the finished job with its result, and the list has it', async () => {
  const { status, body } = await getJson(relay.url, `/api/transcriptions/${helloId}`);
  assert.equal(status, 200);
  assert.equal(body.state, 'done');
  assert.equal(body.progress, 1);
  assert.equal(body.device, 'cpu');
  assert.equal(body.options.language, 'en');
  assert.ok(body.result.segments.length >= 1);
  assert.equal(body.text, body.result.text);

  const list = await getJson(relay.url, '/api/transcriptions');
  assert.ok(list.body.jobs.some((job) => job.id === helloId && job.state === 'done'));
});

test('the formats: txt, srt, vtt, json', async () => {
  const base = `${relay.url}/api/transcriptions/${helloId}`;
  const txt = await fetch(`${base}.txt`);
  assert.match(txt.headers.get('content-type'), /^text\/plain/);
  assert.ok(wordRecall(await txt.text(), fixtureText('hello')) >= HELLO_MIN_RECALL);

  const srt = await (await fetch(`${base}.srt`)).text();
  assert.match(srt, /^1\n00:00:00,000 --> 00:00:0\d,\d{3}\n\S/);

  const vtt = await fetch(`${base}.vtt`);
  assert.match(vtt.headers.get('content-type'), /^text\/vtt/);
  assert.match(await vtt.text(), /^WEBVTT\n\n00:00:00\.000 --> 00:00:0\d\.\d{3}\n\S/);

  const json = await (await fetch(`${base}.json`)).json();
  assert.equal(json.language, 'en');
  assert.ok(Array.isArray(json.segments) && typeof json.duration === 'number');

  const download = await fetch(`${base}.srt?download`);
  assert.match(download.headers.get('content-disposition'), /attachment; filename=".+\.srt"/);
});

test('a late SSE client gets the snapshot, the segments and done', async () => {
  const events = await readEvents(`${relay.url}/api/transcriptions/${helloId}/events`);
  assert.deepEqual([events[0].event, events[events.length - 1].event], ['snapshot', 'done']);
  assert.ok(events.some((e) => e.event === 'segment'));
});

test('{path} inside the media folder is transcribed', async () => {
  const { status, body } = await postJson(relay.url, '/api/transcriptions', { path: 'weather.flac' });
  assert.equal(status, 202);
  const { final } = await followJob(relay.url, body.id);
  assert.equal(final.event, 'done');
  assert.ok(wordRecall(final.data.text, fixtureText('weather')) >= 0.7, final.data.text);
  assert.ok(fs.existsSync(path.join(media, 'weather.flac')), 'a {path} file is never deleted');
});

test('{path} outside the media folder, missing, or not a file is refused', async () => {
  const cases = [
    [{ path: '../weather.flac' }, 403, 'path_outside_media_dir'],
    [{ path: `../../${path.relative('/', AUDIO)}/hello.flac` }, 403, 'path_outside_media_dir'],
    [{ path: path.join(AUDIO, 'hello.flac') }, 403, 'path_outside_media_dir'],
    [{ path: 'escape.flac' }, 403, 'path_outside_media_dir'],
    [{ path: 'missing.flac' }, 404, 'file_not_found'],
    [{ path: 'folder' }, 400, 'not_a_file'],
    [{ path: '' }, 400, 'invalid_path'],
  ];
  for (const [body, status, code] of cases) {
    const answer = await postJson(relay.url, '/api/transcriptions', body);
    assert.equal(answer.status, status, JSON.stringify(body));
    assert.equal(answer.body.error.code, code, JSON.stringify(body));
    assert.ok(answer.body.error.message.length > 10);
  }
});

test('bad requests get a clear 4xx JSON error', async () => {
  const post = (init) => fetch(`${relay.url}/api/transcriptions`, { method: 'POST', ...init });
  const expect = async (response, status, code) => {
    assert.equal(response.status, status);
    const body = await response.json();
    assert.equal(body.error.code, code);
    assert.equal(typeof body.error.message, 'string');
  };
  await expect(await post({ headers: { 'content-type': 'text/plain' }, body: 'hello' }), 415, 'unsupported_media_type');
  await expect(await post({ headers: { 'content-type': 'application/xml' }, body: '<a/>' }), 415, 'unsupported_media_type');
  await expect(await post({ headers: { 'content-type': 'application/json' }, body: '{"url": ' }), 400, 'invalid_json');
  await expect(await post({ headers: { 'content-type': 'application/json' }, body: '[1]' }), 415, 'unsupported_media_type');
  await expect(await post({ headers: { 'content-type': 'application/json' }, body: '{}' }), 400, 'missing_input');
  await expect(await post({ headers: { 'content-type': 'application/json' }, body: '{"url":"http://x","path":"a"}' }),
    400, 'missing_input');

  const empty = new FormData();
  empty.append('file', new Blob([]), 'empty.wav');
  await expect(await post({ body: empty }), 400, 'empty_upload');
  const noFile = new FormData();
  noFile.append('language', 'en');
  await expect(await post({ body: noFile }), 400, 'missing_file');

  const badOption = await uploadFile(relay.url, fixture('hello.flac'), { beam_size: '-3' });
  assert.deepEqual([badOption.status, badOption.body.error.code, badOption.body.error.param], [400, 'invalid_option', 'beam_size']);
  const unknownOption = await uploadFile(relay.url, fixture('hello.flac'), { colour: 'blue' });
  assert.deepEqual([unknownOption.status, unknownOption.body.error.code], [400, 'unknown_option']);
  // A language the sidecar does not know is the caller's error at once (relay/requests/languages.js), not a 202
  // whose job fails later; the JSON {url} and {path} bodies go through the same parser.
  const jobsBefore = (await getJson(relay.url, '/api/transcriptions')).body.jobs.length;
  for (const language of ['xx', 'klingon', 'en-!!']) {
    const refused = await uploadFile(relay.url, fixture('hello.flac'), { language });
    assert.deepEqual([refused.status, refused.body.error.code, refused.body.error.param], [400, 'invalid_option', 'language'],
      language);
  }
  const byUrl = await postJson(relay.url, '/api/transcriptions', { url: 'https://example.com/a.mp3', language: 'xx' });
  assert.deepEqual([byUrl.status, byUrl.body.error.param], [400, 'language']);
  assert.equal((await getJson(relay.url, '/api/transcriptions')).body.jobs.length, jobsBefore, 'no job was kept');

  for (const route of ['/api/transcriptions/nope', '/api/transcriptions/00000000-0000-0000-0000-000000000000',
    '/api/transcriptions/00000000-0000-0000-0000-000000000000.srt', '/api/transcriptions/nope/events']) {
    await expect(await fetch(`${relay.url}${route}`), 404, 'unknown_job');
  }
  await expect(await fetch(`${relay.url}/api/transcriptions/00000000-0000-0000-0000-000000000000`,
    { method: 'DELETE' }), 404, 'unknown_job');
  await expect(await fetch(`${relay.url}/nowhere`), 404, 'not_found');

  const health = await getJson(relay.url, '/healthz');
  assert.deepEqual([health.status, health.body.ok, health.body.sidecar], [200, true, 'ready']);
});

test('an oversize upload gets 413 and leaves nothing behind', async () => {
  const small = await startRelay({ sidecar, config: { maxUploadMb: 0.05 } });
  try {
    const answer = await uploadFile(small.url, fixture('hello.flac'));
    assert.deepEqual([answer.status, answer.body.error.code], [413, 'upload_too_large']);
    const uploads = path.join(small.config.dataDir, 'uploads');
    assert.deepEqual(fs.existsSync(uploads) ? fs.readdirSync(uploads) : [], []);
    assert.equal((await getJson(small.url, '/healthz')).status, 200);
  } finally {
    await small.close();
  }
});

test('a file that is not audio ends in an error event with the reason', async () => {
  const dir = tempDir();
  const fake = path.join(dir, 'fake.wav');
  fs.writeFileSync(fake, 'this is a text file, renamed\n'.repeat(20));
  const { status, body } = await uploadFile(relay.url, fake);
  assert.equal(status, 202);
  const { final } = await followJob(relay.url, body.id);
  assert.equal(final.event, 'error');
  assert.equal(final.data.error.code, 'not_audio');
  const job = await getJson(relay.url, `/api/transcriptions/${body.id}`);
  assert.equal(job.body.state, 'error');
  const txt = await fetch(`${relay.url}/api/transcriptions/${body.id}.txt`);
  assert.equal(txt.status, 409);
});

test('DELETE cancels a running job; on a finished job it removes it', async () => {
  // Cancelled on the sidecar's own 'transcribing' line, written before it decodes: the relay's SSE copy
  // of it can come with the whole job on a loaded machine, too late to cancel anything.
  // The line can also come before the upload's answer does (the job starts at once): then the DELETE
  // goes as soon as the id is known.
  let cancelled = false;
  let started = false;
  let id = null;
  const cancel = () => {
    cancelled = true;
    fetch(`${relay.url}/api/transcriptions/${id}`, { method: 'DELETE' });
  };
  const cancelOnStart = (status) => {
    if (status.stage !== 'transcribing') return;
    started = true;
    if (!cancelled && id) cancel();
  };
  sidecar.on('status', cancelOnStart);
  const { body } = await uploadFile(relay.url, fixture('story.flac'));
  id = body.id;
  if (started && !cancelled) cancel();
  const events = await readEvents(`${relay.url}/api/transcriptions/${body.id}/events`)
    .finally(() => sidecar.off('status', cancelOnStart));
  assert.equal(events[events.length - 1].event, 'cancelled');
  const job = await getJson(relay.url, `/api/transcriptions/${body.id}`);
  assert.equal(job.body.state, 'cancelled');

  const removed = await fetch(`${relay.url}/api/transcriptions/${body.id}`, { method: 'DELETE' });
  assert.deepEqual(await removed.json(), { id: body.id, state: 'cancelled', deleted: true });
  assert.equal((await fetch(`${relay.url}/api/transcriptions/${body.id}`)).status, 404);
});

test('GET /api/gpu answers gpu_status; / serves the page', async () => {
  const gpu = await getJson(relay.url, '/api/gpu?wait=1');
  assert.equal(gpu.status, 200);
  assert.ok(['cpu', 'cuda'].includes(gpu.body.device));
  if (gpu.body.device === 'cpu') assert.ok(gpu.body.fallback_reason);

  const page = await fetch(`${relay.url}/`);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(await page.text(), /<script src="\/app.js">/);
  assert.equal((await fetch(`${relay.url}/app.js`)).status, 200);
  assert.equal((await fetch(`${relay.url}/../package.json`)).status, 404);
});
