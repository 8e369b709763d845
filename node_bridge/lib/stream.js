'use strict';

/**
 * SidecarStream: one live stream on the sidecar (stream_open … stream_close), as an EventEmitter.
 *
 * Events: 'segment' (the segment: partials have final === false), 'status' (stage 'live' with lag_s,
 * buffered_s; 'error'; 'fallback'), 'speech' ({event: 'started'|'stopped'|'committed', time, next_id}:
 * the turns the VAD hears, and 'committed' once every final of a turn (ids < next_id) is out), 'lost' (the sidecar process ended under the stream: a SidecarError
 * of kind 'exited'; the stream is gone and a caller that wants to go on opens a new one), 'end'.
 */

const { EventEmitter } = require('node:events');
const { SidecarError, ClientKinds } = require('./errors');

class SidecarStream extends EventEmitter {
  /**
   * @param {object} deps
   * @param {string} deps.id the stream_id the sidecar answered
   * @param {(method: string, params: object, options?: object) => Promise<any>} deps.request
   * @param {() => void} deps.release called once when the stream is over, whichever way
   */
  constructor({ id, request, release, info }) {
    super();
    this.id = id;
    this.info = info;
    this.request = request;
    this.release = release;
    this.state = 'open'; // 'open' | 'closing' | 'closed' | 'aborted' | 'lost'
    this.lastWrite = null;
  }

  /**
   * Sends the next bytes. Resolves with {buffered_s, lag_s, received_s}: a writer that is ahead of
   * real time waits while buffered_s is high.
   * @param {Buffer|Uint8Array} bytes
   */
  async write(bytes) {
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(`write() needs a Buffer or Uint8Array, received ${describe(bytes)}`);
    }
    return this.send({ stream_id: this.id, data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64') });
  }

  /** Audio that will never come (a missing segment): `seconds` of stream time, marked as a gap. */
  gap(seconds, { bytes } = {}) {
    if (!Number.isFinite(seconds) || seconds < 0) throw new TypeError(`gap() needs seconds >= 0, received ${describe(seconds)}`);
    const params = { stream_id: this.id, gap_s: seconds };
    if (bytes) params.data = Buffer.from(bytes).toString('base64');
    return this.send(params);
  }

  /** The next bytes start a new container (an HLS discontinuity). */
  reset() {
    return this.send({ stream_id: this.id, reset: true });
  }

  async send(params) {
    this.assertOpen('stream_write');
    this.lastWrite = await this.request('stream_write', params);
    return this.lastWrite;
  }

  /** Flushes and finishes: resolves with the result (text, segments, duration, device, …). */
  async close() {
    this.assertOpen('stream_close');
    this.state = 'closing';
    try {
      const result = await this.request('stream_close', { stream_id: this.id });
      this.finish('closed');
      return result;
    } catch (err) {
      if (this.state === 'closing') this.finish(err.kind === ClientKinds.Exited ? 'lost' : 'closed');
      throw err;
    }
  }

  /** Drops the stream and whatever it had not committed. */
  async abort() {
    if (this.state !== 'open' && this.state !== 'closing') return { stream_id: this.id, aborted: false };
    this.finish('aborted');
    try {
      return await this.request('stream_abort', { stream_id: this.id });
    } catch (err) {
      if (err.kind === 'unknown_stream' || err.kind === ClientKinds.Exited || err.kind === ClientKinds.Stopped) {
        return { stream_id: this.id, aborted: false };
      }
      throw err;
    }
  }

  /** Called by the sidecar object for this stream's notifications. */
  handleNotification(method, params) {
    if (method === 'segment') this.emit('segment', params.segment, params);
    else if (method === 'status') this.emit('status', params);
    else if (method === 'speech') this.emit('speech', params);
  }

  /** Called by the sidecar object when the process under the stream ended. */
  handleLost(error) {
    if (this.state === 'closed' || this.state === 'aborted' || this.state === 'lost') return;
    this.finish('lost');
    this.emit('lost', error);
  }

  assertOpen(method) {
    if (this.state !== 'open') {
      throw new SidecarError(`${method}: stream ${this.id} is ${this.state}`, { kind: 'stream_closed', method });
    }
  }

  finish(state) {
    this.state = state;
    this.release();
    this.emit('end', state);
  }
}

function describe(value) {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

module.exports = { SidecarStream };
