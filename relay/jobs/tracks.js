'use strict';

/**
 * A live job's sidecar streams as one: its own, and with `translation: true` a second one opened
 * with task "translate" and the same language, model and options (the English track, TRANSLATION),
 * written every chunk, gap and reset the first one gets.
 *
 * - Both are opened before the job counts as accepted: when the sidecar refuses the second (capacity),
 *   the first is closed again and the refusal is the job's, as if one stream had been refused.
 * - A write answers with the job's own stream's answer (its lag and received time are the job's);
 *   `lastWrite`, which paces a writer ahead of real time, is the answer of the stream further behind.
 * - close() closes both and answers with the job's own result, the translation's under `translated`.
 */

const TRANSLATION = 'en';

/**
 * Args: sidecar (openStream), params (the job's stream_open params), {translation (open the second
 *   track), onSegment(segment, track) (track: null for the job's own, TRANSLATION for the second),
 *   onStatus (the job's own stream's status lines)}.
 * Returns: a StreamTracks. Raises: the first refusal (the other stream closed first).
 */
async function openTracks(sidecar, params, { translation = false, onSegment, onStatus }) {
  const own = await sidecar.openStream(params, { onSegment: (segment) => onSegment(segment, null), onStatus });
  if (!translation) return new StreamTracks(own, null);
  let second;
  try {
    second = await sidecar.openStream({ ...params, task: 'translate' }, {
      onSegment: (segment) => onSegment(segment, TRANSLATION),
    });
  } catch (err) {
    await own.close().catch(() => {}); // the job is refused: nothing of it stays open on the sidecar
    throw err;
  }
  return new StreamTracks(own, second);
}

class StreamTracks {
  constructor(own, translation) {
    this.own = own;
    this.translation = translation;
    this.info = own.info;
  }

  streams() {
    return this.translation ? [this.own, this.translation] : [this.own];
  }

  /** The last write's answer of the stream further behind (null before the first write). */
  get lastWrite() {
    const answers = this.streams().map((stream) => stream.lastWrite).filter(Boolean);
    if (answers.length === 0) return null;
    return answers.reduce((behind, answer) => (answer.lag_s > behind.lag_s ? answer : behind));
  }

  write(bytes) {
    return this.both((stream) => stream.write(bytes));
  }

  gap(seconds) {
    return this.both((stream) => stream.gap(seconds));
  }

  reset() {
    return this.both((stream) => stream.reset());
  }

  /** The call on every stream at once; resolves with the job's own stream's answer. */
  async both(call) {
    const [answer] = await Promise.all(this.streams().map(call));
    return answer;
  }

  /** Closes both (each flushes and commits what it holds); the job's own result, the second's as `translated`. */
  async close() {
    const [result, translated] = await Promise.all(this.streams().map((stream) => stream.close()));
    return translated ? { ...result, translated } : result;
  }
}

module.exports = { openTracks, StreamTracks, TRANSLATION };
