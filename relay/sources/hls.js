'use strict';

/**
 * Reads an HLS media playlist as one ordered run of chunks.
 *
 * VOD (#EXT-X-ENDLIST): every segment in order, each fetched only when the consumer asks for the
 * next chunk. Live: starts at the live edge — the last segments whose EXTINF durations add up to
 * at least three target durations (the HLS spec's rule for how close to the end a client may
 * start) — unless from === 'start'; reloads the playlist every target duration (half of it after
 * a reload that brought nothing new, RFC 8216 §6.3.4) and tracks media sequence numbers, so no
 * segment comes out twice and none is dropped in silence: segments that slid out of the window
 * before we fetched them become one `gap` (their EXTINF durations where we saw them, else one
 * target duration each). A reload is never sooner than MIN_RELOAD_MS after the last one, whatever
 * the playlist's target duration says (#EXT-X-TARGETDURATION:0 made 1,841 reloads in 4 s, issue 19),
 * and never later than the idle limit, so a huge target duration can't keep a dead job waiting.
 */

const { sleep } = require('./guard');
const { createSegmentFetcher, MAX_SEGMENT_BYTES } = require('./segments');
const { parsePlaylist, segmentsOf, targetDurationOf, MAX_PLAYLIST_BYTES } = require('./playlist');
const { streamIdle, notMedia, playlistInvalid, segmentTooLarge } = require('./errors');

const LIVE_EDGE_TARGETS = 3;
/** Segments that fail this way this many times in a row end the source: the stream is not usable. */
const UNUSABLE_IN_A_ROW = 3;
const UNUSABLE = {
  not_media: (uri) => notMedia(`${UNUSABLE_IN_A_ROW} segments in a row were not audio or video (the last: ${uri}).`),
  too_large: (uri) => segmentTooLarge(UNUSABLE_IN_A_ROW, MAX_SEGMENT_BYTES, uri),
};
const MIN_RELOAD_MS = 1000;

/** Index of the first segment to play live: the last ones adding up to 3 target durations. */
function liveEdgeIndex(segments, targetS) {
  let seconds = 0;
  for (let index = segments.length - 1; index >= 0; index -= 1) {
    seconds += segments[index].duration;
    if (seconds >= LIVE_EDGE_TARGETS * targetS) return index;
  }
  return 0;
}

class HlsReader {
  /**
   * @param {object} options {client, url (the media playlist's), manifest (parsed), from ('live'|'start'),
   *   limits: {maxBytes, idleTimeoutS, maxPlaylistEntries}, signal}
   */
  constructor({ client, url, manifest, from, limits, signal }) {
    this.client = client;
    this.url = url;
    this.limits = limits;
    this.signal = signal;
    this.fetcher = createSegmentFetcher({ client, maxBytes: limits.maxBytes });
    this.durations = new Map();
    this.pendingGap = null;
    this.lastError = null;
    const segments = segmentsOf(manifest, url);
    this.ended = Boolean(manifest.endList);
    this.target = targetDurationOf(manifest);
    const start = this.ended || from === 'start' ? 0 : liveEdgeIndex(segments, this.target);
    this.nextSeq = segments.length ? segments[start].sequence : Number(manifest.mediaSequence) || 0;
    this.newest = segments.length ? segments[segments.length - 1].sequence : this.nextSeq - 1;
    for (const segment of segments) this.durations.set(segment.sequence, segment.duration);
    this.queue = segments.slice(start);
    this.loadedAt = Date.now();
    this.grewAt = Date.now();
    this.unchanged = false;
  }

  async reload() {
    let parsed;
    let baseUrl;
    const began = Date.now(); // RFC 8216 §6.3.4 counts the wait from when a load began
    try {
      const { bytes, url } = await this.client.fetchAll(this.url, { maxBytes: MAX_PLAYLIST_BYTES, what: 'playlist' });
      baseUrl = url.href;
      parsed = await parsePlaylist(bytes.toString('utf8'), baseUrl, this.limits.maxPlaylistEntries);
    } catch (err) {
      // A playlist that fails to load now and then is normal on a live stream; the idle limit decides.
      if (this.signal.aborted || err.code !== 'url_fetch_failed') throw err;
      this.lastError = err.message;
      this.loadedAt = began;
      this.unchanged = true;
      this.checkIdle();
      return;
    }
    if (parsed.master) throw playlistInvalid(`The playlist at ${baseUrl} turned into a master playlist.`);
    this.lastError = null;
    this.merge(parsed.manifest, segmentsOf(parsed.manifest, baseUrl), began);
    this.checkIdle();
  }

  merge(manifest, segments, loadedAt = Date.now()) {
    this.loadedAt = loadedAt;
    if (manifest.endList) this.ended = true;
    this.target = targetDurationOf(manifest);
    for (const segment of segments) this.durations.set(segment.sequence, segment.duration);
    const last = segments.length ? segments[segments.length - 1].sequence : -Infinity;
    this.unchanged = last <= this.newest;
    if (!this.unchanged) {
      this.newest = last;
      this.grewAt = Date.now();
    }
    const first = segments.length ? segments[0].sequence : null;
    if (first !== null && first > this.nextSeq) {
      let seconds = 0;
      for (let seq = this.nextSeq; seq < first; seq += 1) seconds += this.durations.get(seq) ?? this.target;
      const before = this.pendingGap ? this.pendingGap.seconds : 0;
      this.pendingGap = { seconds: before + seconds };
      this.nextSeq = first;
    }
    for (const seq of this.durations.keys()) if (seq < this.nextSeq) this.durations.delete(seq);
    this.queue = segments.filter((segment) => segment.sequence >= this.nextSeq);
  }

  checkIdle() {
    if (this.ended || Date.now() - this.grewAt < this.limits.idleTimeoutS * 1000) return;
    const err = streamIdle(this.limits.idleTimeoutS, 'segments');
    if (this.lastError) err.message += ` The last playlist reload failed: ${this.lastError}`;
    throw err;
  }

  reloadDue() {
    if (this.ended) return false;
    return this.queue.length === 0 || Date.now() - this.loadedAt >= this.reloadEveryMs(this.target);
  }

  /** ms between reloads for a period of `seconds`: at least MIN_RELOAD_MS, at most the idle limit. */
  reloadEveryMs(seconds) {
    return Math.max(MIN_RELOAD_MS, Math.min(seconds * 1000, this.limits.idleTimeoutS * 1000));
  }

  /** Yields Chunks (see ./index.js) until the end of a VOD playlist; a live one goes on until the idle limit. */
  async* chunks() {
    let resetReason = null;
    let emitted = false;
    let currentInit = null;
    let failedAs = null; // the reason the last segments failed, and how many in a row
    let failedRun = 0;
    for (;;) {
      if (this.reloadDue()) {
        if (this.queue.length === 0) {
          const every = this.reloadEveryMs(this.unchanged ? this.target / 2 : this.target);
          await sleep(every - (Date.now() - this.loadedAt), this.signal);
        }
        await this.reload();
      }
      if (this.pendingGap) {
        yield { type: 'gap', seconds: round(this.pendingGap.seconds), reason: 'skipped' };
        this.pendingGap = null;
        resetReason = 'skipped';
      }
      if (this.queue.length === 0) {
        if (!this.ended) continue;
        yield { type: 'end', reason: 'endlist' };
        return;
      }
      const segment = this.queue.shift();
      this.nextSeq = segment.sequence + 1;
      const result = await this.fetcher.segment(segment);
      if (segment.discontinuity && !resetReason) resetReason = 'discontinuity';
      let init = null;
      if (!result.failed && segment.map && (resetReason || mapId(segment.map) !== currentInit)) {
        init = await this.fetcher.init(segment.map);
        if (init.failed) result.failed = `init_${init.failed}`;
      }
      if (result.failed) {
        failedRun = result.failed === failedAs ? failedRun + 1 : 1;
        failedAs = result.failed;
        if (failedRun >= UNUSABLE_IN_A_ROW && UNUSABLE[failedAs]) throw UNUSABLE[failedAs](segment.uri);
        yield { type: 'gap', seconds: round(segment.duration), reason: result.failed };
        resetReason = result.failed;
        continue;
      }
      failedAs = null;
      if (resetReason && emitted) {
        yield { type: 'reset', reason: resetReason };
      }
      resetReason = null;
      if (init) {
        currentInit = mapId(segment.map);
        yield { type: 'data', bytes: init.bytes };
      }
      // `segment` lets the captions (relay/captions/tap.js) line cues up with the source's timeline
      yield { type: 'data', bytes: result.bytes, segment: { sequence: segment.sequence, duration: segment.duration, discontinuity: segment.discontinuity } };
      emitted = true;
    }
  }
}

function mapId(map) {
  return `${map.uri} ${map.byterange ? `${map.byterange.offset}@${map.byterange.length}` : ''}`;
}

function round(seconds) {
  return Math.round(seconds * 1000) / 1000;
}

module.exports = { HlsReader, liveEdgeIndex };
