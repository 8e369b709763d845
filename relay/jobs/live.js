'use strict';

/**
 * One live job: a source's chunks (relay/sources) written to a sidecar stream as they come, its final
 * segments stored as they come, its partials and lag passed on.
 *
 * - A writer ahead of real time (a VOD playlist, a file that is already long) waits while the
 *   sidecar has more than PACE_S of speech it has not decoded yet (its lag); a real-time source never
 *   gets there. (Not on uncommitted audio: a long sentence is uncommitted until its pause comes.)
 * - The sidecar dying under the stream costs only what it had not committed: a new stream is opened
 *   and the source goes on where it is (a live source from its live edge), with a gap marked.
 * - `stop` (DELETE) ends the source; what the sidecar holds is flushed and committed.
 * - `translation: true`: a second stream translates the same audio (./tracks.js); its finals are the
 *   English track, kept apart (store.addSegment(id, final, 'en')) and in the result's `translation`,
 *   never in the job's text, segments or events. Gaps are marked on the job's own track only.
 */

const { setTimeout: sleep } = require('node:timers/promises');
const { HttpError } = require('../errors');
const { openTracks, TRANSLATION } = require('./tracks');

const PACE_S = 6; // undecoded speech the sidecar may hold before a fast writer waits
const WRITE_BYTES = 1024 * 1024; // per stream_write: 1.4 MB as base64, well under the sidecar's 4 MB line limit
const LAG_EVERY_MS = 1000;
const MAX_RESTARTS = 5;

class LiveJob {
  /**
   * @param {object} deps
   * @param {object} deps.job the stored job
   * @param {object} deps.source from openSource() (a live kind)
   * @param {object} deps.sidecar a WhisperSidecar (openStream)
   * @param {import('./store').JobStore} deps.store
   * @param {(type: string, data: object) => void} deps.emit the job's events
   * @param {AbortSignal} deps.signal aborts the source: stop (or relay shutdown)
   * @param {number} [deps.maxDurationS] stream time after which the job stops by itself
   * @param {() => void} [deps.onOpen] called once the sidecar accepted the stream (its capacity check passed)
   */
  constructor({ job, source, sidecar, store, emit, signal, log, maxDurationS = 0, offsetS = 0, onOpen = null }) {
    Object.assign(this, { job, source, sidecar, store, emit, signal, log, maxDurationS, onOpen });
    const stored = store.segments(job.id);
    this.segments = stored; // finals so far (with gaps), as stored
    this.translation = Boolean(job.options && job.options.translation);
    this.tracks = this.translation ? { [TRANSLATION]: store.segments(job.id, TRANSLATION) } : {}; // track -> its finals
    this.partial = null;
    this.offsetS = Math.max(offsetS, stored.length ? stored[stored.length - 1].end : 0);
    this.receivedS = 0; // of the current sidecar stream
    this.stream = null;
    this.streamInfo = null;
    this.lastLag = 0;
    this.lagS = 0; // the sidecar's last lag_s: audio it has not decoded yet
    this.restarts = 0;
    this.limitReached = false;
    this.bytes = 0;
  }

  /** Runs to the end of the source, a stop, or a failure. Resolves with the job's result. */
  async run() {
    await this.openStream();
    if (this.onOpen) this.onOpen();
    const results = [];
    try {
      for await (const chunk of this.source.chunks()) {
        if (chunk.type === 'end') break;
        if (chunk.type === 'data') this.bytes += chunk.bytes.length;
        await this.deliver(chunk, results);
        if (this.maxDurationS && this.offsetS + this.receivedS >= this.maxDurationS) {
          this.limitReached = true;
          break;
        }
      }
    } catch (err) {
      if (!this.signal.aborted) {
        await this.closeStream(results).catch(() => {});
        err.partialResult = this.result(results);
        throw err;
      }
    }
    await this.closeStream(results);
    if (this.bytes === 0 && !this.signal.aborted) {
      throw new HttpError(400, 'empty_download', 'The URL answered with an empty body: no audio arrived.');
    }
    return this.result(results);
  }

  async deliver(chunk, results) {
    for (;;) {
      try {
        if (chunk.type === 'data') await this.write(chunk.bytes);
        else if (chunk.type === 'gap') this.noteAnswer(await this.stream.gap(chunk.seconds));
        else if (chunk.type === 'reset') this.noteAnswer(await this.stream.reset());
        return;
      } catch (err) {
        if (!isLost(err) || this.signal.aborted) throw err;
        await this.recover(results, err);
        if (chunk.type === 'data') return; // those bytes began mid-container; the next ones resync
      }
    }
  }

  /** Writes bytes in pieces of at most WRITE_BYTES (an HLS segment can be several MB), paced after each. */
  async write(bytes) {
    let at = 0;
    do {
      this.noteAnswer(await this.stream.write(bytes.subarray(at, at + WRITE_BYTES)));
      at += WRITE_BYTES;
      while (this.stream.lastWrite && this.stream.lastWrite.lag_s > PACE_S && !this.signal.aborted) {
        await sleep(250);
        this.noteAnswer(await this.stream.write(Buffer.alloc(0)));
      }
    } while (at < bytes.length);
  }

  noteAnswer(answer) {
    if (!answer) return;
    this.heard(answer.received_s);
    this.lagS = answer.lag_s;
    const now = Date.now();
    if (now - this.lastLag >= LAG_EVERY_MS) {
      this.lastLag = now;
      this.emit('lag', { lag_s: answer.lag_s, buffered_s: answer.buffered_s, received_s: this.offsetS + answer.received_s });
    }
  }

  async openStream() {
    const options = this.job.options || {};
    const params = { format: 'auto' };
    for (const key of ['language', 'task', 'model', 'initial_prompt', 'beam_size', 'word_timestamps']) {
      if (options[key] !== undefined && options[key] !== null) params[key] = options[key];
    }
    if (options.vad_filter === false) params.vad = false;
    this.stream = await openTracks(this.sidecar, params, {
      translation: this.translation,
      onSegment: (segment, track) => this.onSegment(segment, track),
      onStatus: (status) => this.onStatus(status),
    });
    this.streamInfo = this.stream.info;
  }

  /** The sidecar died under the stream: mark what it had not committed as a gap, open another. */
  async recover(results, err) {
    this.restarts += 1;
    if (this.restarts > MAX_RESTARTS) throw err;
    this.log.warn(`live job ${this.job.id}: the sidecar exited mid-stream (${err.message}); reopening`);
    this.offsetS = this.markLost();
    this.receivedS = 0;
    this.partial = null;
    this.emit('status', { stage: 'restart', message: 'The sidecar restarted; the stream goes on', progress: null, device: null });
    await this.openStream();
  }

  async closeStream(results) {
    if (!this.stream) return;
    const stream = this.stream;
    this.stream = null;
    try {
      const result = await stream.close();
      results.push(result);
    } catch (err) {
      if (!isLost(err)) throw err;
      this.log.warn(`live job ${this.job.id}: the sidecar exited while the stream closed (${err.message})`);
      this.markLost();
    }
  }

  /** The sidecar died: what it heard but had not committed is a gap. Returns the stream time heard to. */
  markLost() {
    const committedTo = this.segments.length ? this.segments[this.segments.length - 1].end : this.offsetS;
    const lostTo = this.offsetS + this.receivedS;
    if (lostTo > committedTo) this.addFinal({ start: committedTo, end: lostTo, text: '', gap: true, reason: 'sidecar_restart' });
    return Math.max(lostTo, committedTo);
  }

  /**
   * The sidecar has this stream's audio up to `seconds` (a write's answer, a status line, or a segment's
   * end, whichever says most): what a crash loses, and marks as a gap, is measured from here. A write's
   * answer alone can say less than the sidecar holds, while its decoder thread still reads the container.
   */
  heard(seconds) {
    if (Number.isFinite(seconds) && seconds > this.receivedS) this.receivedS = seconds;
  }

  onSegment(segment, track = null) {
    const shift = (seconds) => round(seconds + this.offsetS); // the stream's time to the job's
    const shifted = { ...segment, start: shift(segment.start), end: shift(segment.end) };
    if (Array.isArray(segment.words)) shifted.words = segment.words.map((w) => ({ ...w, start: shift(w.start), end: shift(w.end) }));
    if (track) {
      if (segment.final) this.addFinal(shifted, track); // a second track's partials go nowhere
      return;
    }
    this.heard(segment.end);
    if (segment.final) {
      this.partial = null;
      this.addFinal(shifted);
    } else {
      this.partial = { ...shifted, id: this.segments.length };
      this.emit('segment', this.partial);
    }
  }

  /** A final of the job's own track (stored, kept, sent as an event), or of a second `track` (stored, kept). */
  addFinal(segment, track = null) {
    const finals = track ? this.tracks[track] : this.segments;
    const final = { ...segment, id: finals.length, final: true };
    delete final.request_id;
    this.store.addSegment(this.job.id, final, track);
    finals.push(final);
    if (!track) this.emit('segment', final);
  }

  onStatus(status) {
    if (status.stage === 'live') {
      this.heard(status.received_s);
      this.lagS = status.lag_s;
      this.emit('lag', { lag_s: status.lag_s, buffered_s: status.buffered_s, received_s: round(this.offsetS + status.received_s) });
      this.lastLag = Date.now();
      if (status.device) this.device = status.device;
    } else {
      this.emit('status', { stage: status.stage, message: status.message, progress: null, device: status.device || null });
    }
  }

  /** The job's result: like a file's, from the stored finals, plus what makes a live job. */
  result(results) {
    const last = results[results.length - 1] || {};
    const { text, gaps } = finalsResult(this.segments);
    const end = endOf(this.segments);
    const decode = results.reduce((sum, r) => sum + decodeS(r), 0);
    const duration = round(Math.max(end, this.offsetS + (last.duration || 0)));
    return {
      text,
      language: last.language || null,
      language_probability: last.language_probability ?? null,
      duration,
      segments: this.segments,
      device: last.device || this.device || null,
      compute_type: last.compute_type || null,
      model: last.model || null,
      fallback_reason: last.fallback_reason || null,
      timings: { queue_s: 0, load_s: 0, transcribe_s: round(decode) },
      rtf: duration ? round(decode / duration) : null,
      batch_size: null,
      live: true,
      kind: this.source.kind,
      gaps,
      restarts: this.restarts,
      stopped: this.signal.aborted,
      limit_reached: this.limitReached,
      ...(this.translation ? { translation: this.translationResult(results) } : {}),
    };
  }

  /** The English track: {language, text, segments, timings: {transcribe_s} (its share of the decode time)}. */
  translationResult(results) {
    const finals = this.tracks[TRANSLATION];
    const decode = results.reduce((sum, r) => sum + (r.translated ? decodeS(r.translated) : 0), 0);
    return { language: TRANSLATION, text: finalsResult(finals).text, segments: finals, timings: { transcribe_s: round(decode) } };
  }
}

/** A stream's decode time: its own, and its second track's (./tracks.js `translated`). */
function decodeS(result) {
  const own = (result.timings && result.timings.transcribe_s) || 0;
  return own + (result.translated ? decodeS(result.translated) : 0);
}

/**
 * What a live job's stored finals say on their own (a job that ends without its stream: a followed
 * file after a relay restart, a stream stopped while it waited for a worker): {text, segments,
 * duration, gaps, live: true}, for the caller to add its kind and why it ended.
 */
function finalsResult(finals) {
  return {
    text: finals.filter((s) => !s.gap).map((s) => s.text).join('').trim(),
    segments: finals,
    duration: endOf(finals),
    gaps: finals.filter((s) => s.gap).length,
    live: true,
  };
}

/** Stream time at the end of the last final (0 with none). */
function endOf(finals) {
  return finals.length ? finals[finals.length - 1].end : 0;
}

function isLost(err) {
  return err && (err.kind === 'exited' || err.kind === 'stream_closed' || err.kind === 'unknown_stream');
}

function round(x) {
  return Math.round(x * 1000) / 1000;
}

module.exports = { LiveJob, finalsResult, endOf };
