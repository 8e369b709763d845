'use strict';

/**
 * DeepgramLive: one /v1/listen WebSocket as Deepgram's live transcription, on one sidecar stream.
 *
 * Binary frames are audio (G.711 decoded here); the stream opens at the first frame. Segments become
 * `Results`: a partial is `is_final: false` (with interim_results); a final is held until the next
 * final or the end of its turn, so the last final of a turn can carry `speech_final: true` (the
 * sidecar's VAD heard the pause: endpointing). `SpeechStarted` (vad_events) comes from the VAD's
 * start; `UtteranceEnd` (utterance_end_ms) once the turn is committed and that much audio has passed
 * since its last word. Text frames: KeepAlive, Finalize (commits the open turn: its finals come with
 * `from_finalize: true`), CloseStream (everything left is transcribed, then `Metadata`, then close 1000).
 */

const crypto = require('node:crypto');
const { describeSidecarError } = require('../errors');
const { decodeG711 } = require('../realtime/g711');
const { DeepgramError } = require('./options');
const { resultsMessage, speechStarted, utteranceEnd, metadataOf } = require('./results');

const PAUSE_BYTES = 4 * 1024 * 1024; // audio waiting in Node past which the socket is not read

class DeepgramLive {
  /**
   * @param {object} deps
   * @param {object} deps.sidecar a WhisperSidecar (openStream)
   * @param {object} deps.options readLiveOptions()'s answer
   * @param {(message: object) => void} deps.send
   * @param {(code: number, reason: string) => void} deps.close closes the socket
   * @param {{pause: () => void, resume: () => void}} deps.flow
   * @param {object} deps.log
   */
  constructor({ sidecar, options, send, close, flow, log }) {
    Object.assign(this, { sidecar, options, send, closeSocket: close, flow, log });
    this.requestId = crypto.randomUUID();
    this.created = new Date().toISOString();
    this.hash = crypto.createHash('sha256');
    this.chain = Promise.resolve();
    this.stream = null;
    this.pending = 0;
    this.paused = false;
    this.ended = false;
    this.held = null; // the last final, not yet sent
    this.finalizing = false;
    this.turnOpen = false;
    this.lastWordEnd = null;
    this.utteranceEnded = true;
    this.receivedS = 0;
    this.model = 'whisper';
  }

  /** One binary frame. */
  audio(frame) {
    if (this.ended || frame.length === 0) return;
    this.hash.update(frame);
    const bytes = this.options.law ? decodeG711(frame, this.options.law) : frame;
    this.pending += bytes.length;
    if (this.pending > PAUSE_BYTES && !this.paused) {
      this.paused = true;
      this.flow.pause();
    }
    this.queue(async () => {
      try {
        await (await this.opened()).write(bytes);
      } finally {
        this.pending -= bytes.length;
        if (this.paused && this.pending <= PAUSE_BYTES / 2) {
          this.paused = false;
          this.flow.resume();
        }
      }
    });
  }

  /** One text frame: a control message. Raises DeepgramError for anything else. */
  control(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      throw new DeepgramError('A text frame must be a JSON control message: KeepAlive, Finalize or CloseStream.');
    }
    const type = message && message.type;
    if (type === 'KeepAlive') return;
    if (type === 'Finalize') return this.queue(() => this.finalize());
    if (type === 'CloseStream') return this.queue(() => this.finish());
    throw new DeepgramError(`Unknown control message ${JSON.stringify(String(type)).slice(0, 60)}: send KeepAlive, `
      + 'Finalize or CloseStream.');
  }

  queue(step) {
    this.chain = this.chain.then(() => (this.ended ? null : step())).catch((err) => this.fail(err));
    return this.chain;
  }

  async opened() {
    if (this.stream) return this.stream;
    const stream = await this.sidecar.openStream({ ...this.options.stream, ...(this.options.maxLagS
      ? { max_lag_s: this.options.maxLagS } : {}) });
    if (this.ended) {
      stream.abort().catch(() => {});
      throw new DeepgramError('The socket closed.');
    }
    this.model = (stream.info && stream.info.model) || this.model;
    stream.on('segment', (segment) => this.onSegment(segment));
    stream.on('speech', ({ event, time }) => this.onSpeech(event, time));
    stream.on('status', (status) => {
      if (typeof status.received_s === 'number') this.receivedS = status.received_s;
      this.checkUtteranceEnd();
    });
    stream.on('lost', (err) => this.fail(err));
    this.stream = stream;
    return stream;
  }

  onSegment(segment) {
    if (segment.gap) return;
    const text = (segment.text || '').trim();
    if (!segment.final) {
      if (this.options.interim && text) this.sendResults(segment, { isFinal: false });
      if (text) this.heardWords(segment.end);
      return;
    }
    if (!text) return;
    this.flushHeld(false);
    this.held = segment;
    this.heardWords(segment.end);
  }

  heardWords(endS) {
    this.turnOpen = true;
    this.lastWordEnd = endS;
    this.utteranceEnded = false;
  }

  onSpeech(event, time) {
    if (event === 'started') {
      this.turnOpen = true;
      if (this.options.vadEvents) this.send(speechStarted(time));
    } else if (event === 'committed') {
      const fromFinalize = this.finalizing;
      this.finalizing = false;
      if (!this.flushHeld(this.options.endpointing !== null || fromFinalize, fromFinalize) && fromFinalize) {
        this.sendResults({ start: time, end: time, text: '' }, { isFinal: true, fromFinalize: true });
      }
      this.turnOpen = false;
      this.receivedS = Math.max(this.receivedS, time);
      this.checkUtteranceEnd();
    }
  }

  /** Sends the held final, if any; returns whether there was one. */
  flushHeld(speechFinal, fromFinalize = false) {
    const segment = this.held;
    if (!segment) return false;
    this.held = null;
    this.sendResults(segment, { isFinal: true, speechFinal, fromFinalize });
    return true;
  }

  sendResults(segment, flags) {
    this.send(resultsMessage(segment, { ...flags, punctuate: this.options.punctuate, metadata: {
      request_id: this.requestId, model_info: { name: this.model, version: 'faster-whisper', arch: 'whisper' },
      model_uuid: `whisper-${this.model}`,
    } }));
  }

  checkUtteranceEnd() {
    const ms = this.options.utteranceEndMs;
    if (!ms || this.turnOpen || this.utteranceEnded || this.lastWordEnd === null) return;
    if ((this.receivedS - this.lastWordEnd) * 1000 < ms) return;
    this.utteranceEnded = true;
    this.send(utteranceEnd(this.lastWordEnd));
  }

  async finalize() {
    if (!this.stream) return;
    if (this.options.stream.format !== 'pcm_s16le') { // a reset would cut a container in two
      this.flushHeld(false, true);
      return;
    }
    this.finalizing = true;
    await this.stream.reset();
  }

  /** CloseStream: the rest is transcribed, then Metadata, then close 1000. */
  async finish() {
    const stream = this.stream;
    this.stream = null;
    const result = stream ? await stream.close() : null;
    this.flushHeld(this.options.endpointing !== null);
    const duration = result && typeof result.duration === 'number' ? result.duration : this.receivedS;
    this.send({ type: 'Metadata', ...metadataOf({ requestId: this.requestId, sha256: this.hash.digest('hex'),
      created: this.created, duration, channels: this.options.channels, model: this.model }) });
    this.end();
    this.closeSocket(1000, '');
  }

  /**
   * A failure: said in the close frame (Deepgram's way; its reason is at most 123 bytes). 1008 for the
   * client's mistake, 1013 when the sidecar has no capacity for another stream, else 1011.
   */
  fail(err) {
    if (this.ended) return;
    const known = err instanceof DeepgramError;
    const { code, message } = known ? { code: null, message: err.message } : describeSidecarError(err);
    if (!known) this.log.warn({ err }, 'deepgram live: the stream failed');
    this.end();
    const closeCode = known ? 1008 : code === 'capacity' ? 1013 : 1011;
    this.closeSocket(closeCode, Buffer.from(known ? message : `${code}: ${message}`).subarray(0, 123).toString());
  }

  /** The socket is gone (or ends now): the stream is aborted. */
  end() {
    if (this.ended) return;
    this.ended = true;
    const stream = this.stream;
    this.stream = null;
    if (stream) stream.abort().catch((err) => this.log.warn({ err }, 'deepgram live: stream abort failed'));
  }
}

module.exports = { DeepgramLive };
