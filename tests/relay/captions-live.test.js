'use strict';

/**
 * Captions as an HLS subtitle rendition, from a live HLS source that the test publishes in real time
 * (tests/relay/captions-server.js): its PTS start 10 s off the stream time and jump to +1000 s at a
 * discontinuity. captions.m3u8 is a valid playlist while the job is live (parsed by m3u8-parser),
 * grows, and ends with the job; the WebVTT segments (parsed by webvtt-parser) hold the finals' text,
 * and each cue lands on the source's own timeline on both sides of the discontinuity; master.m3u8
 * pairs the origin's variant with the rendition. The job asks for word_timestamps: every final carries its
 * words, in order and inside it.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { WebVTTParser } = require('webvtt-parser');
const { startSidecar, startRelay, postJson, wordRecall, fixtureText } = require('./helpers');
const { makeStreams } = require('./live-servers');
const { startCaptionsOrigin, parsePlaylist } = require('./captions-server');

const COUNT = 11; // story (0-16.3 s), a second of silence, hello (17.3-22.0 s)
const DISCONTINUITY_AT = 8; // 16.0 s: the end of the story
const SHIFTS_S = [10, 1000];
const HELLO_AT_S = 17.35; // where hello.flac begins in the fixture stream (story 16.35 s + 1 s of silence)
const HELLO_END_S = 22.0; // and ends (4.65 s long)

let sidecar;
let relay;
let origin;

before(async () => {
  origin = await startCaptionsOrigin({ dir: makeStreams(), count: COUNT, discontinuityAt: DISCONTINUITY_AT, shiftsS: SHIFTS_S });
  sidecar = await startSidecar();
  relay = await startRelay({ sidecar, config: { allowPrivateUrls: true } });
});

after(async () => {
  if (relay) await relay.close();
  if (sidecar) await sidecar.stop();
  if (origin) await origin.close();
});

async function get(url) {
  const response = await fetch(url);
  assert.equal(response.status, 200, `${url}: ${response.status}`);
  return { text: await response.text(), type: response.headers.get('content-type') };
}

/** The cues of a WebVTT segment on the media timeline: MPEGTS/90000 + (cue time − LOCAL). */
function mediaCues(text) {
  const map = /^X-TIMESTAMP-MAP=MPEGTS:(\d+),LOCAL:(\d\d):(\d\d):(\d\d)\.(\d\d\d)$/m.exec(text);
  assert.ok(map, `no X-TIMESTAMP-MAP in ${text}`);
  const local = Number(map[2]) * 3600 + Number(map[3]) * 60 + Number(map[4]) + Number(map[5]) / 1000;
  const tree = new WebVTTParser().parse(text, 'metadata');
  // the map header sits on the line after WEBVTT (RFC 8216 §3.5); the parser only notes that
  assert.deepEqual(tree.errors.filter((e) => !/blank line after the signature/.test(e.message)), []);
  const offset = Number(map[1]) / 90000 - local;
  return tree.cues.map((cue) => ({ text: cue.text, start: cue.startTime, mediaStart: cue.startTime + offset, mediaEnd: cue.endTime + offset }));
}

test('captions.m3u8 of a live HLS job: valid and growing while live, ended with the job, cues on the source timeline across a discontinuity', async () => {
  const created = await postJson(relay.url, '/api/transcriptions', { url: `${origin.origin}/master.m3u8`, from: 'start', language: 'en', word_timestamps: true });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const base = `${relay.url}/api/transcriptions/${created.body.id}`;

  // While the job is live: a valid EVENT playlist without #EXT-X-ENDLIST, growing.
  const seen = [];
  let job;
  for (const started = Date.now(); Date.now() - started < 240000;) {
    const playlist = await get(`${base}/captions.m3u8`);
    job = (await (await fetch(base)).json());
    if (['done', 'error', 'cancelled'].includes(job.state)) break;
    assert.equal(playlist.type, 'application/vnd.apple.mpegurl');
    const manifest = parsePlaylist(playlist.text);
    assert.equal(manifest.endList, undefined, playlist.text);
    assert.equal(manifest.playlistType, 'EVENT');
    assert.ok(manifest.targetDuration >= 2 && manifest.mediaSequence === 0, playlist.text);
    for (const segment of manifest.segments) assert.ok(segment.duration > 0 && segment.uri.startsWith('captions.vtt?seq='), playlist.text);
    seen.push(manifest.segments.length);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  assert.equal(job.state, 'done', JSON.stringify(job.error));
  assert.ok(seen.some((n) => n > 0) && seen.some((n, i) => i > 0 && n > seen[i - 1]), `the live playlist grew: ${seen} (${JSON.stringify(job.result.segments)})`);
  assert.ok(Math.max(...seen) < COUNT, `segments were listed while live before the end: ${seen}`);

  // Ended: every source segment, the discontinuity where the source had it, #EXT-X-ENDLIST.
  const final = parsePlaylist((await get(`${base}/captions.m3u8`)).text);
  assert.equal(final.endList, true);
  assert.equal(final.segments.length, COUNT);
  assert.deepEqual(final.segments.map((s) => Boolean(s.discontinuity)), final.segments.map((s, i) => i === DISCONTINUITY_AT));
  final.segments.forEach((segment, i) => assert.ok(Math.abs(segment.duration - origin.segments[i].duration) < 0.01));

  const cues = [];
  for (const segment of final.segments) cues.push(...mediaCues((await get(`${base}/${segment.uri}`)).text));
  const unique = [...new Map(cues.map((c) => [`${c.text} ${c.mediaStart.toFixed(3)}`, c])).values()];

  // The cue text is the finals' text, each final once (a final of no length has no cue).
  const finals = job.result.segments.filter((s) => !s.gap && s.text.trim() && s.end > s.start);
  assert.deepEqual(unique.map((c) => c.text), finals.map((s) => s.text.trim()));
  assert.ok(wordRecall(unique.map((c) => c.text).join(' '), fixtureText('story')) >= 0.8);

  // word_timestamps: every final's words cover its text, in order, inside the final, with a probability
  for (const final of finals) {
    const { words } = final;
    assert.ok(Array.isArray(words) && words.length > 0, `words on ${JSON.stringify(final)}`);
    assert.equal(words.map((w) => w.word).join(''), final.text);
    words.forEach((w, i) => {
      assert.ok(w.start <= w.end && w.probability >= 0 && w.probability <= 1, JSON.stringify(w));
      if (i > 0) assert.ok(words[i - 1].end <= w.start, `monotonic: ${JSON.stringify(words)}`);
    });
    assert.ok(final.start <= words[0].start && words[words.length - 1].end <= final.end, `inside: ${JSON.stringify(final)}`);
  }

  // Timing: before the discontinuity the media time is stream time + 10 s; after it, + 1000 s
  // (what the PTS say, not what the stream time says), and hello's words land where they are spoken.
  for (const cue of unique) {
    const shift = cue.mediaStart - cue.start;
    assert.ok(Math.abs(shift - SHIFTS_S[0]) < 0.2 || Math.abs(shift - SHIFTS_S[1]) < 0.2, `cue ${JSON.stringify(cue)}`);
  }
  const story = unique.find((c) => /once upon a time/i.test(c.text));
  assert.ok(story && story.mediaStart >= SHIFTS_S[0] - 0.1 && story.mediaStart < SHIFTS_S[0] + 1.5, JSON.stringify(story));
  // hello: its cues start after the discontinuity's first PTS, and its last words end where the fixture's do
  const hello = unique.filter((c) => c.mediaStart > SHIFTS_S[1]);
  const jumpAt = origin.segments[DISCONTINUITY_AT].pts;
  assert.ok(hello.length > 0 && hello[0].mediaStart >= jumpAt - 0.1 && hello[0].mediaStart < HELLO_AT_S + SHIFTS_S[1] + 1, JSON.stringify(hello));
  const helloEnd = HELLO_END_S + SHIFTS_S[1];
  assert.ok(Math.abs(hello[hello.length - 1].mediaEnd - helloEnd) < 1.5, `hello ends at ${helloEnd}: ${JSON.stringify(hello)}`);

  // master.m3u8: the origin's variant, absolute, with the captions as its SUBTITLES rendition.
  const master = parsePlaylist((await get(`${base}/master.m3u8`)).text);
  assert.equal(master.playlists.length, 1);
  assert.equal(master.playlists[0].uri, `${origin.origin}/live.m3u8`);
  assert.equal(master.playlists[0].attributes.SUBTITLES, 'captions');
  const renditions = Object.values(master.mediaGroups.SUBTITLES.captions);
  assert.equal(renditions.length, 1);
  assert.equal(renditions[0].uri, 'captions.m3u8');
  assert.equal(renditions[0].language, 'en');
  assert.equal(renditions[0].default, true);
});
