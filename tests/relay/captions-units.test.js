'use strict';

/**
 * The captions' pieces without a sidecar (issue 21): the first PTS of real MPEG-TS segments (moved by
 * the test origin's rewriter) and of packed audio's ID3 timestamp; a timeline with a gap (source
 * segments the job never read) keeps its sequence numbers and stream times; the WebVTT map; the
 * master playlist made from a multi-variant origin master.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { firstPts } = require('../../relay/captions/pts');
const { captionSegments, mediaPlaylist, vttSegment, timestamp } = require('../../relay/captions/rendition');
const { masterPlaylist } = require('../../relay/captions/master');
const { makeStreams, readSegments } = require('./live-servers');
const { shiftTimestamps, parsePlaylist } = require('./captions-server');

test('firstPts: the audio PES of MPEG-TS segments, moved or not, and the ID3 timestamp of packed audio', () => {
  const segments = readSegments(makeStreams());
  let expected = firstPts(segments[0].bytes);
  assert.equal(typeof expected, 'number');
  for (const segment of segments.slice(0, 5)) {
    assert.equal(firstPts(segment.bytes), expected);
    expected += Math.round(segment.duration * 90000);
    const moved = shiftTimestamps(segment.bytes, 2 ** 33 - 90000); // across the 33-bit wrap
    assert.equal(firstPts(moved), (firstPts(segment.bytes) + 2 ** 33 - 90000) % 2 ** 33);
  }
  const owner = Buffer.from('com.apple.streaming.transportStreamTimestamp\0', 'latin1');
  const stamp = Buffer.alloc(8);
  stamp.writeBigUInt64BE(123456789n);
  const body = Buffer.concat([owner, stamp]);
  const frame = Buffer.concat([Buffer.from('PRIV', 'latin1'), Buffer.from([0, 0, 0, body.length, 0, 0]), body]);
  const id3 = Buffer.concat([Buffer.from([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, frame.length]), frame, Buffer.alloc(64, 0xff)]);
  assert.equal(firstPts(id3), 123456789);
  assert.equal(firstPts(Buffer.from('not a media segment at all')), null);
});

test('a gap in the source: the unread segments are listed empty, numbers and times stay aligned', () => {
  const entries = [
    { seq: 10, dur: 2, stream: 0, pts: 900000, cc: 0 },
    { seq: 11, dur: 2, stream: 2, pts: 1080000, cc: 0 },
    // 12 and 13 were never read (a 404, a window that slid): the sidecar got a 4-s gap
    { seq: 14, dur: 2, stream: 8, pts: 1620000, cc: 0 },
    { seq: 15, dur: 2, stream: 10, pts: 9000000, cc: 1 }, // after a discontinuity
  ];
  const finals = [{ start: 0.5, end: 2.5, text: ' Before the gap.' }, { start: 8.2, end: 10.5, text: ' After --> it.' }];
  const live = captionSegments({ entries, finals, live: true, ended: false, committedTo: 10.4 });
  assert.deepEqual(live.map((i) => i.seq), [10, 11, 12, 13, 14]); // 15 ends at 12 s: not committed yet
  assert.deepEqual(live.slice(2, 4).map((i) => [i.stream, i.dur, i.filler]), [[4, 2, true], [6, 2, true]]);
  const all = captionSegments({ entries, finals, live: true, ended: true });
  const text = mediaPlaylist({ items: all, ended: true, vod: false, segmentUri: (seq) => `captions.vtt?seq=${seq}` });
  const manifest = parsePlaylist(text);
  assert.equal(manifest.mediaSequence, 10);
  assert.equal(manifest.endList, true);
  assert.equal(manifest.playlistType, 'EVENT');
  assert.deepEqual(manifest.segments.map((s) => [s.uri, s.duration, Boolean(s.discontinuity)]), [
    ['captions.vtt?seq=10', 2, false], ['captions.vtt?seq=11', 2, false], ['captions.vtt?seq=12', 2, false],
    ['captions.vtt?seq=13', 2, false], ['captions.vtt?seq=14', 2, false], ['captions.vtt?seq=15', 2, true]]);

  assert.equal(vttSegment(all[0], finals), 'WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00.000\n\n'
    + '00:00:00.500 --> 00:00:02.500\nBefore the gap.\n\n');
  assert.equal(vttSegment(all[2], finals), 'WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n'); // unread
  // a cue across the discontinuity is in both segments, each mapped by its own PTS
  assert.match(vttSegment(all[4], finals), /MPEGTS:1620000,LOCAL:00:00:08\.000\n\n00:00:08\.200 --> 00:00:10\.500\nAfter -> it\.\n/);
  assert.match(vttSegment(all[5], finals), /MPEGTS:9000000,LOCAL:00:00:10\.000\n\n00:00:08\.200 --> 00:00:10\.500\n/);
  assert.equal(timestamp(3723.4567), '01:02:03.457');
});

test('master.m3u8 from an origin master: every variant absolute with SUBTITLES, one captions rendition', () => {
  const origin = ['#EXTM3U', '#EXT-X-VERSION:4',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",URI="audio/en.m3u8"',
    '#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.4d401f,mp4a.40.2",AUDIO="aud",SUBTITLES="old"', 'hi/index.m3u8',
    '#EXT-X-STREAM-INF:BANDWIDTH=200000,AUDIO="aud"', '/lo/index.m3u8?token=1', ''].join('\n');
  const text = masterPlaylist({ text: origin, url: 'https://cdn.example/live/master.m3u8', captionsUri: 'captions.m3u8?exp=1&sig=2', language: 'de' });
  const manifest = parsePlaylist(text);
  assert.deepEqual(manifest.playlists.map((p) => [p.uri, p.attributes.SUBTITLES, p.attributes.AUDIO]), [
    ['https://cdn.example/live/hi/index.m3u8', 'captions', 'aud'], ['https://cdn.example/lo/index.m3u8?token=1', 'captions', 'aud']]);
  assert.equal(manifest.mediaGroups.AUDIO.aud.en.uri, 'https://cdn.example/live/audio/en.m3u8');
  const [rendition] = Object.values(manifest.mediaGroups.SUBTITLES.captions);
  assert.deepEqual([rendition.uri, rendition.language, rendition.default, rendition.autoselect], ['captions.m3u8?exp=1&sig=2', 'de', true, true]);

  const media = parsePlaylist(masterPlaylist({ text: '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n', url: 'http://o.example/x.m3u8', captionsUri: 'captions.m3u8' }));
  assert.deepEqual(media.playlists.map((p) => [p.uri, p.attributes.SUBTITLES]), [['http://o.example/x.m3u8', 'captions']]);
});
