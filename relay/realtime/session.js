'use strict';

/**
 * RealtimeSession: one /v1/realtime transcription socket's state, backed by one sidecar live stream.
 *
 * - The sidecar stream is opened on the first audio (a socket that only connects holds none) and
 *   reopened after a session.update that changes what it decodes (model, language, prompt, turn
 *   detection): the old stream is closed first, so what it heard is still transcribed.
 * - Audio goes to the stream one write at a time; appends that come while a write is out are joined
 *   into the next write. The audio waiting in Node is bounded: past `pauseBytes` the socket stops
 *   reading (TCP pushes back on the client), past `maxPendingBytes` an append is refused.
 * - input_audio_buffer.commit → stream.reset() (the sidecar commits the turn); .clear → the stream
 *   is aborted and the next audio opens a new one; close() aborts the stream.
 * - A session outlives its socket: detach() keeps the stream and queues the events it would have
 *   sent; attach() (a resume) sends them on the new socket. relay/realtime/registry.js decides how long.
 * - A turn the transcriber lost (a sidecar crash, a refused write) gets
 *   conversation.item.input_audio_transcription.failed.
 */

const { describeSidecarError } = require('../errors');
const { Turns } = require('./turns');
const {
  DEFAULT_SETTINGS, RealtimeError, newId, errorEvent, decodeAppend, bytesPerMs, readSessionUpdate,
  sessionObject, sessionEventType, streamParams,
} = require('./protocol');

const MIN_COMMIT_MS = 100; // OpenAI's least audio for input_audio_buffer.commit
const MAX_OUTBOX = 10000; // events kept for a detached session; past it the session ends
/** Client events of OpenAI's Realtime API that a transcription session does not take. */
const NOT_FOR_TRANSCRIPTION = /^(conversation\.|response\.|output_audio_buffer\.)/;

class RealtimeSession {
  /**
   * @param {object} deps
   * @param {object} deps.sidecar a WhisperSidecar (openStream)
   * @param {(event: object) => void} deps.send sends one server event (event_id is added here)
   * @param {{pause: () => void, resume: () => void}} deps.flow stops/starts reading the socket
   * @param {object} deps.log fastify's logger
   * @param {'beta'|'ga'} deps.shape how the client speaks until it says otherwise
   * @param {{maxAppendBytes: number, maxPendingBytes: number, pauseBytes: number, maxLagS?: number}} deps.limits
   *   (byte limits count PCM16 as decoded)
   */
  constructor({ sidecar, send, flow, log, shape, limits }) {
    this.sidecar = sidecar;
    this.rawSend = send;
    this.flow = flow;
    this.log = log;
    this.shape = shape;
    this.limits = limits;
    this.id = newId('sess');
    this.settings = { ...DEFAULT_SETTINGS };
    this.turns = new Turns({ send: (event) => this.send(event) });
    this.stream = null;
    this.ops = []; // {kind: 'audio', chunks, bytes} | {kind: 'reset'|'reopen'|'clear'}
    this.pendingBytes = 0;
    this.paused = false;
    this.pumping = false;
    this.closed = false;
    this.sentMs = 0; // session audio handed to streams so far
    this.uncommittedMs = 0;
    this.outbox = null; // events waiting for a resume while detached
    this.receivedS = null; // audio the current stream has received (its status), for idle_timeout_ms
    this.onEnd = () => {};
  }

  send(event) {
    if (this.closed) return;
    const full = { event_id: newId('event'), ...event };
    if (!this.outbox) return this.rawSend(full);
    this.outbox.push(full);
    if (this.outbox.length > MAX_OUTBOX) {
      this.log.warn('realtime: a detached session piled up too many events; ending it');
      this.close();
    }
  }

  /** The socket went away; the session goes on and keeps its events for attach(). */
  detach() {
    if (this.closed || this.outbox) return;
    this.outbox = [];
    this.rawSend = () => {};
    this.flow = { pause: () => {}, resume: () => {} };
  }

  /** A resumed socket: `.created` with the same id and settings, then every event kept meanwhile. */
  attach({ send, flow }) {
    const kept = this.outbox || [];
    this.outbox = null;
    this.rawSend = send;
    this.flow = flow;
    this.start();
    for (const event of kept) send(event);
    if (this.paused) flow.pause();
  }

  sendError(err, clientEventId = null) {
    if (!(err instanceof RealtimeError)) this.log.warn({ err }, 'realtime session error');
    this.send(errorEvent(err, clientEventId));
  }

  start() {
    this.send({ type: sessionEventType(this.shape, 'created'), session: sessionObject(this.id, this.shape, this.settings) });
  }

  /** One parsed client event. Raises RealtimeError for the caller to answer. */
  handle(event) {
    switch (event.type) {
      case 'transcription_session.update':
      case 'session.update':
        return this.update(event);
      case 'input_audio_buffer.append':
        return this.append(decodeAppend(event, this.limits.maxAppendBytes, this.settings.format));
      case 'input_audio_buffer.commit':
        return this.commit();
      case 'input_audio_buffer.clear':
        return this.enqueue({ kind: 'clear' });
      default:
        if (NOT_FOR_TRANSCRIPTION.test(event.type)) {
          throw new RealtimeError('unsupported_event', `${event.type} is not part of a transcription session; `
            + 'this relay takes session.update, transcription_session.update and input_audio_buffer.*.', { param: 'type' });
        }
        throw new RealtimeError('unknown_event', `Unknown event type ${JSON.stringify(event.type.slice(0, 80))}.`,
          { param: 'type' });
    }
  }

  update(event) {
    const { shape, settings } = readSessionUpdate(event, this.settings);
    const before = JSON.stringify(streamParams(this.settings));
    this.shape = shape;
    this.settings = settings;
    if (JSON.stringify(streamParams(settings)) !== before) this.enqueue({ kind: 'reopen' });
    this.send({ type: sessionEventType(shape, 'updated'), session: sessionObject(this.id, shape, settings) });
  }

  append(bytes) {
    if (bytes.length === 0) return;
    if (this.pendingBytes + bytes.length > this.limits.maxPendingBytes) {
      throw new RealtimeError('input_audio_buffer_full', `${this.pendingBytes} bytes of audio wait for the transcriber `
        + 'already; this append was dropped. Send audio no faster than it can be taken.', { param: 'audio' });
    }
    this.pendingBytes += bytes.length;
    this.uncommittedMs += bytes.length / bytesPerMs(this.settings);
    const last = this.ops[this.ops.length - 1];
    if (last && last.kind === 'audio' && last.settings === this.settings) {
      last.chunks.push(bytes);
      last.bytes += bytes.length;
    } else { // audio is written with the settings it was appended under (its format above all)
      this.ops.push({ kind: 'audio', chunks: [bytes], bytes: bytes.length, settings: this.settings });
    }
    if (this.pendingBytes > this.limits.pauseBytes && !this.paused) {
      this.paused = true;
      this.flow.pause();
    }
    this.pump();
  }

  commit() {
    if (this.uncommittedMs < MIN_COMMIT_MS) {
      throw new RealtimeError('input_audio_buffer_commit_empty', `Error committing input audio buffer: buffer too small. `
        + `Expected at least ${MIN_COMMIT_MS}ms of audio, but buffer only has `
        + `${Math.round(this.uncommittedMs)}ms of audio.`);
    }
    this.uncommittedMs = 0;
    this.turns.clientCommit();
    this.enqueue({ kind: 'reset' });
  }

  enqueue(op) {
    this.ops.push(op);
    this.pump();
  }

  async pump() {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.ops.length > 0 && !this.closed) {
        const op = this.ops.shift();
        try {
          await this.run(op);
        } catch (err) {
          this.reportStreamError(err);
        } finally {
          if (op.kind === 'audio') this.released(op.bytes);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  released(bytes) {
    this.pendingBytes -= bytes;
    if (this.paused && this.pendingBytes <= this.limits.pauseBytes / 2) {
      this.paused = false;
      this.flow.resume();
    }
  }

  async run(op) {
    if (op.kind === 'audio') {
      const stream = await this.openedStream(op.settings);
      const bytes = op.chunks.length === 1 ? op.chunks[0] : Buffer.concat(op.chunks);
      this.sentMs += bytes.length / bytesPerMs(op.settings);
      await stream.write(bytes);
    } else if (op.kind === 'reset') {
      if (this.stream) await this.stream.reset();
      else this.turns.flush(); // nothing was sent to a stream: the committed item completes empty
    } else if (op.kind === 'reopen') {
      await this.finishStream();
    } else if (op.kind === 'clear') {
      this.dropQueuedAudio();
      this.uncommittedMs = 0;
      await this.abortStream();
      this.send({ type: 'input_audio_buffer.cleared' });
    }
  }

  dropQueuedAudio() {
    const kept = [];
    for (const op of this.ops) {
      if (op.kind === 'audio') this.released(op.bytes);
      else kept.push(op);
    }
    this.ops = kept;
  }

  /**
   * server_vad's idle_timeout_ms: no speech for that long → input_audio_buffer.timeout_triggered.
   * Measured on the audio the stream has received (its VAD has heard), not on what was sent.
   */
  checkIdle() {
    const turnDetection = this.settings.turnDetection;
    if (turnDetection && turnDetection.idle_timeout_ms && this.receivedS !== null) {
      this.turns.idle(this.turns.ms(this.receivedS), turnDetection.idle_timeout_ms);
    }
  }

  async openedStream(settings = this.settings) {
    if (this.stream && this.stream.state === 'open') return this.stream;
    const params = streamParams(settings, { maxLagS: this.limits.maxLagS });
    const stream = await this.sidecar.openStream(params);
    if (this.closed) {
      stream.abort().catch(() => {});
      throw new RealtimeError('closed', 'The socket closed.');
    }
    this.turns.restart(this.sentMs);
    stream.on('segment', (segment) => this.onSegment(segment));
    stream.on('speech', (speech) => this.onSpeech(speech));
    this.receivedS = null;
    stream.on('status', (status) => {
      this.send({ type: 'transcription.status', device: status.device || null, lag_s: status.lag_s ?? null,
        received_s: status.received_s ?? null });
      if (typeof status.received_s === 'number') this.receivedS = status.received_s;
      this.checkIdle();
    });
    stream.on('lost', (err) => this.onLost(err));
    this.stream = stream;
    return stream;
  }

  onSegment(segment) {
    if (segment.gap) {
      const seconds = Math.round((segment.end - segment.start) * 10) / 10;
      this.send(errorEvent(new RealtimeError('audio_dropped', `${seconds} s of audio were dropped `
        + `(${segment.reason || 'gap'}): it came faster than it could be transcribed.`)));
    } else if (segment.final) {
      this.turns.final(segment);
    } else if (segment.text && segment.text.trim()) {
      this.turns.partial(segment);
    }
  }

  onSpeech({ event, time }) {
    if (event === 'started') this.turns.speechStarted(time);
    else if (event === 'stopped') this.turns.speechStopped(time);
    else if (event === 'committed') {
      this.turns.committed(time);
      this.checkIdle(); // a turn that completes late may leave the silence after it idle
    }
  }

  onLost(err) {
    this.stream = null;
    this.turns.fail(new RealtimeError('sidecar_restarted', `The transcriber stopped (${err.message}) before this `
      + 'turn was transcribed.', { type: 'server_error' }));
    if (!this.closed) {
      this.send(errorEvent(new RealtimeError('sidecar_restarted', `The transcriber stopped (${err.message}); `
        + 'audio not yet transcribed was lost. Go on sending: a new stream opens.', { type: 'server_error' })));
    }
  }

  /** Closes the stream gracefully: its last turn is transcribed and completed. */
  async finishStream() {
    const stream = this.stream;
    this.stream = null;
    if (!stream || stream.state !== 'open') return;
    try {
      await stream.close();
    } finally {
      this.turns.flush();
    }
  }

  async abortStream() {
    const stream = this.stream;
    this.stream = null;
    this.turns.flush();
    if (stream) await stream.abort();
  }

  reportStreamError(err) {
    if (this.closed || (err instanceof RealtimeError && err.code === 'closed')) return;
    if (err instanceof RealtimeError) return this.sendError(err);
    if (err && (err.kind === 'exited' || err.kind === 'stopped' || err.kind === 'stream_closed')) return; // 'lost' said it
    const { code, message } = describeSidecarError(err);
    if (this.stream) { // a stream the sidecar refused a write on is not trusted further: the next audio opens a new one
      this.stream.abort().catch(() => {});
      this.stream = null;
      this.turns.fail(new RealtimeError(code, message, { type: 'server_error' }));
    }
    this.log.warn({ err }, 'realtime: the sidecar stream failed');
    const type = code === 'invalid_params' || code === 'model_unavailable' ? 'invalid_request_error' : 'server_error';
    this.send(errorEvent(new RealtimeError(code, message, { type })));
  }

  /** The session ends: the stream is aborted, nothing more is sent. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.ops = [];
    this.onEnd();
    const stream = this.stream;
    this.stream = null;
    if (stream) stream.abort().catch((err) => this.log.warn({ err }, 'realtime: stream abort failed'));
  }
}

module.exports = { RealtimeSession };
