'use strict';

/**
 * Which source segments a live HLS job's stream time is made of, kept per job so captions can be
 * placed on the source's own media timeline (its MPEG-TS PTS) after the job ends and across relay
 * restarts: DATA_DIR/captions/<job id>.ndjson, one line per segment read:
 *   {seq, dur, stream (the job's stream time where the segment starts), pts (90 kHz, or null), cc}
 *
 * Stream time is what the sidecar counts (audio received plus gaps, relay/livejob.js adds the offset
 * of a resumed job). A segment that follows the previous one without a break starts where the PTS
 * says (the decoder turns every tick into samples, so this does not drift as EXTINF rounding would);
 * after a discontinuity or a gap it starts where the previous one ended plus the gap's seconds.
 * `cc` counts the source's discontinuities since the job began (a player pairs a subtitle segment
 * with the main stream's segments of the same count). Files of jobs the store no longer has are
 * removed when the relay starts (prune()).
 */

const fs = require('node:fs');
const path = require('node:path');
const { mediaChunks } = require('./tap');
const { firstPts } = require('./pts');

const PTS_WRAP = 2 ** 33;
const TICKS = 90000;
/** A PTS step this far from the previous segment's EXTINF is a break the playlist did not mark. */
const MAX_DRIFT_S = 1;

class CaptionTimelines {
  /**
   * @param {object} deps {dir (the folder for the files), store (relay/store.js), runner (its
   *   jobForSignal(signal) names the job a source's signal aborts; without it nothing is recorded), log}
   */
  constructor({ dir, store, runner, log }) {
    Object.assign(this, { dir, store, runner, log });
    this.cache = new Map(); // job id -> entries
    this.feeds = new WeakMap(); // AbortSignal -> {id, cursor, last, gapS, cc}
    this.foreign = new WeakSet(); // AbortSignals of sources that are not this runner's
    this.committed = new Map(); // job id -> stream time the sidecar has committed to
    this.onChunk = (signal, chunk) => this.note(signal, chunk);
    mediaChunks.on('chunk', this.onChunk);
  }

  close() {
    mediaChunks.off('chunk', this.onChunk);
  }

  /** The recorded segments of a job, in order (empty for a job that is not from HLS). */
  entries(id) {
    if (!this.cache.has(id)) this.cache.set(id, this.load(id));
    return this.cache.get(id);
  }

  /** The stream time up to which the sidecar has committed the job's text (from its `lag` events), or 0. */
  committedTo(id) {
    return this.committed.get(id) || 0;
  }

  file(id) {
    return path.join(this.dir, `${id}.ndjson`);
  }

  load(id) {
    let text;
    try {
      text = fs.readFileSync(this.file(id), 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').filter(Boolean).map((line) => JSON.parse(line));
  }

  note(signal, chunk) {
    if (this.foreign.has(signal)) return;
    const feed = this.feeds.get(signal) || this.open(signal);
    if (!feed) {
      this.foreign.add(signal); // another relay's job (tests run several in one process)
      return;
    }
    if (chunk.type === 'gap') {
      feed.cursor += chunk.seconds;
      feed.gapS += chunk.seconds;
    } else if (chunk.type === 'data' && chunk.segment) {
      this.add(feed, chunk.segment, firstPts(chunk.bytes));
    }
  }

  /** A signal seen for the first time: the job whose source it aborts, starting where its finals end. */
  open(signal) {
    const id = this.runner ? this.runner.jobForSignal(signal) : null;
    if (!id) return null;
    const entries = this.entries(id);
    const finals = this.store.segments(id);
    const cursor = finals.length ? finals[finals.length - 1].end : 0; // as LiveJob starts its offset
    const last = entries[entries.length - 1];
    // a resumed job reads the same source on: its discontinuity count goes on where it was
    const feed = { id, cursor, last: null, gapS: 0, cc: last ? last.cc : 0 };
    this.feeds.set(signal, feed);
    this.follow(id);
    return feed;
  }

  add(feed, segment, pts) {
    const { last } = feed;
    let stream = feed.cursor;
    if (segment.discontinuity && last) feed.cc += 1;
    if (last && pts !== null && last.pts !== null && feed.gapS === 0 && !segment.discontinuity
      && segment.sequence === last.seq + 1) {
      const step = ((pts - last.pts + PTS_WRAP) % PTS_WRAP) / TICKS;
      if (Math.abs(step - last.dur) <= MAX_DRIFT_S) stream = last.stream + step;
    }
    const entry = { seq: segment.sequence, dur: round(segment.duration), stream: round(stream), pts, cc: feed.cc };
    feed.last = entry;
    feed.gapS = 0;
    feed.cursor = stream + segment.duration;
    this.entries(feed.id).push(entry);
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      fs.appendFileSync(this.file(feed.id), `${JSON.stringify(entry)}\n`);
    } catch (err) {
      this.log.warn(`captions: could not keep the timeline of job ${feed.id}: ${err.message}`);
    }
  }

  /** Follows the job's lag events: received − buffered is what the sidecar has committed. */
  follow(id) {
    const onEvent = ({ type, data }) => {
      if (type === 'lag' && Number.isFinite(data.received_s) && Number.isFinite(data.buffered_s)) {
        this.committed.set(id, Math.max(this.committedTo(id), data.received_s - data.buffered_s));
      } else if (type === 'done' || type === 'error' || type === 'cancelled') {
        this.runner.events.off(id, onEvent);
        this.committed.delete(id);
        this.cache.delete(id); // on disk: read again when asked
      }
    };
    this.runner.events.on(id, onEvent);
  }

  /** Removes the timelines of jobs the store no longer has (deleted, or pruned by retention). */
  prune() {
    let names = [];
    try {
      names = fs.readdirSync(this.dir).filter((name) => name.endsWith('.ndjson'));
    } catch {
      return;
    }
    for (const name of names) {
      const id = name.slice(0, -'.ndjson'.length);
      if (!this.store.get(id)) fs.rmSync(this.file(id), { force: true });
    }
  }
}

function round(x) {
  return Math.round(x * 1000) / 1000;
}

module.exports = { CaptionTimelines, PTS_WRAP, TICKS };
