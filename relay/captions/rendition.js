'use strict';

/**
 * A job's captions as an HLS subtitle rendition: the media playlist and its WebVTT segments.
 *
 * - From an HLS source (a recorded timeline, ./timeline.js): one caption segment per source segment,
 *   with the source's media sequence numbers, durations and discontinuities, so a player pairs them
 *   with the segments it plays. Each WebVTT segment maps its cue times (the job's stream time) onto
 *   the source's PTS with X-TIMESTAMP-MAP (MPEGTS = the segment's first PTS, LOCAL = its stream time).
 *   Source segments the job never read (a gap, a restart) get empty caption segments of their length.
 * - Anything else: segments of SEGMENT_S seconds of stream time, numbered from 0, mapped MPEGTS:0.
 * - A live job lists a segment once the sidecar has committed past its end (a listed segment never
 *   changes, and players fetch it once); the whole history stays listed (an EVENT playlist) and
 *   #EXT-X-ENDLIST closes it when the job ends. A finished file job is a VOD playlist.
 */

const SEGMENT_S = 6;
/** How far past a segment's end the committed point must be before the segment is listed. */
const MARGIN_S = 0.25;

/**
 * Args: {entries (the recorded timeline, maybe empty), finals ([{start, end, text, gap?}]),
 *   live (a live job), ended (the job is finished), committedTo (stream time committed so far),
 *   duration (a finished job's length)}.
 * Returns: [{seq, dur, stream, pts, cc}] — the caption segments that may be listed now.
 */
function captionSegments({ entries, finals, live, ended, committedTo = 0, duration = 0 }) {
  const end = endOf(finals);
  const items = entries.length ? withFillers(entries) : fixedSegments(ended ? Math.max(duration, end) : Math.max(committedTo, end), ended);
  if (ended) return items;
  const upTo = Math.max(committedTo, end) - (live ? MARGIN_S : 0);
  return items.filter((item) => item.stream + item.dur <= upTo);
}

/** The recorded segments, with an empty one for each sequence number the job did not read. */
function withFillers(entries) {
  const items = [];
  for (const entry of entries) {
    const before = items[items.length - 1];
    if (before && entry.seq <= before.seq) continue; // the origin went back: keep the numbers rising
    const missing = before ? entry.seq - before.seq - 1 : 0;
    if (missing > 0) {
      const from = before.stream + before.dur;
      const dur = Math.max(0.001, (entry.stream - from) / missing);
      for (let i = 0; i < missing; i += 1) {
        items.push({ seq: before.seq + 1 + i, dur: round(dur), stream: round(from + i * dur), pts: null, cc: before.cc, filler: true });
      }
    }
    items.push(entry);
  }
  return items;
}

function fixedSegments(upTo, ended) {
  const count = ended ? Math.ceil(upTo / SEGMENT_S) : Math.floor(upTo / SEGMENT_S);
  return Array.from({ length: count }, (_, seq) => ({
    seq, dur: round(Math.min(SEGMENT_S, upTo - seq * SEGMENT_S)), stream: seq * SEGMENT_S, pts: null, cc: 0,
  }));
}

/**
 * Args: {items (captionSegments), ended, vod (a finished file job), segmentUri (seq -> the segment's
 *   URI, relative to the playlist)}.
 * Returns: the media playlist's text.
 */
function mediaPlaylist({ items, ended, vod, segmentUri }) {
  const target = items.length ? Math.max(1, Math.ceil(Math.max(...items.map((i) => i.dur)) - 0.001)) : SEGMENT_S;
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', `#EXT-X-TARGETDURATION:${target}`,
    `#EXT-X-MEDIA-SEQUENCE:${items.length ? items[0].seq : 0}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${items.length ? items[0].cc : 0}`,
    `#EXT-X-PLAYLIST-TYPE:${vod ? 'VOD' : 'EVENT'}`];
  let cc = items.length ? items[0].cc : 0;
  for (const item of items) {
    if (item.cc !== cc) lines.push('#EXT-X-DISCONTINUITY');
    cc = item.cc;
    lines.push(`#EXTINF:${item.dur.toFixed(3)},`, segmentUri(item.seq));
  }
  if (ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

/**
 * Args: item (one of captionSegments), finals.
 * Returns: the WebVTT text: the finals that overlap the segment, in stream time, mapped onto the
 *   source's PTS.
 */
function vttSegment(item, finals) {
  const local = item.pts === null ? 0 : item.stream;
  const lines = ['WEBVTT', `X-TIMESTAMP-MAP=MPEGTS:${item.pts === null ? 0 : item.pts},LOCAL:${timestamp(local)}`, ''];
  if (!item.filler) {
    const from = item.stream;
    const to = item.stream + item.dur;
    for (const final of finals) {
      const text = (final.text || '').trim();
      if (final.gap || !text || final.end <= from || final.start >= to || final.end <= final.start) continue;
      lines.push(`${timestamp(final.start)} --> ${timestamp(final.end)}`, text.replace(/-->/g, '->').replace(/\n+/g, ' '), '');
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Seconds as a WebVTT timestamp, hh:mm:ss.mmm. */
function timestamp(seconds) {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(ms / 3600000);
  const m = Math.floor(ms / 60000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(ms % 1000).padStart(3, '0')}`;
}

function endOf(finals) {
  return finals.length ? Math.max(...finals.map((f) => f.end)) : 0;
}

function round(x) {
  return Math.round(x * 1000) / 1000;
}

module.exports = { captionSegments, mediaPlaylist, vttSegment, timestamp, SEGMENT_S };
