'use strict';

/**
 * Turns: the sidecar stream's segments and speech events as OpenAI's conversation items.
 *
 * One item per turn. The sidecar commits turns in order and sends a turn's finals before its
 * `committed` speech event, so finals always belong to the oldest item not yet completed (the
 * head of the queue); a `started` for the next turn may come before the previous turn is complete,
 * which is why this is a queue. Events sent:
 *   started   → input_audio_buffer.speech_started {audio_start_ms, item_id}
 *   stopped   → input_audio_buffer.speech_stopped {audio_end_ms, item_id}, then .committed
 *   final     → conversation.item.input_audio_transcription.delta {item_id, content_index: 0, delta}
 *   partial   → transcription.partial {item_id, text, audio_start_ms, audio_end_ms} (not OpenAI's:
 *               the text so far after the deltas; the next partial or delta replaces it)
 *   committed → conversation.item.input_audio_transcription.completed {item_id, content_index: 0,
 *               transcript (the deltas joined), usage: {type: 'duration', seconds}}
 *   lost      → conversation.item.input_audio_transcription.failed {item_id, content_index: 0, error}
 *   idle      → input_audio_buffer.timeout_triggered {audio_start_ms, audio_end_ms, item_id}, and that
 *               (silent) item committed and completed empty
 */

const { newId } = require('./protocol');

class Turns {
  /** @param {{send: (event: object) => void}} deps */
  constructor({ send }) {
    this.send = send;
    this.items = []; // [{id, text, committed, stopped}], oldest first, none completed
    this.lastCommittedId = null;
    this.offsetMs = 0; // session time when the current sidecar stream started
    this.lastCommitS = 0; // stream time of the last completion
    this.speaking = false;
    this.quietSinceMs = 0; // session time since which nobody spoke (for idle_timeout_ms)
  }

  /** A new sidecar stream starts at `offsetMs` of session audio. */
  restart(offsetMs) {
    this.offsetMs = offsetMs;
    this.lastCommitS = 0;
  }

  ms(timeS) {
    return Math.round(this.offsetMs + timeS * 1000);
  }

  newItem() {
    const item = { id: newId('item'), text: '', committed: false, stopped: false };
    this.items.push(item);
    return item;
  }

  head() {
    return this.items[0] || this.newItem();
  }

  speechStarted(timeS) {
    this.speaking = true;
    const last = this.items[this.items.length - 1];
    // The head may exist already without a start (partials came first): it is this turn.
    const item = last && !last.committed && !last.stopped && !last.started ? last : this.newItem();
    item.started = true;
    this.send({ type: 'input_audio_buffer.speech_started', audio_start_ms: this.ms(timeS), item_id: item.id });
  }

  speechStopped(timeS) {
    this.speaking = false;
    this.quietSinceMs = this.ms(timeS);
    const item = [...this.items].reverse().find((i) => !i.stopped && !i.committed) || this.newItem();
    item.stopped = true;
    this.send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: this.ms(timeS), item_id: item.id });
    this.commit(item);
  }

  /** input_audio_buffer.commit: the newest open item (or a new one) is committed now. */
  clientCommit() {
    const item = [...this.items].reverse().find((i) => !i.committed) || this.newItem();
    this.commit(item);
    return item;
  }

  commit(item) {
    if (item.committed) return;
    item.committed = true;
    this.send({ type: 'input_audio_buffer.committed', previous_item_id: this.lastCommittedId, item_id: item.id });
    this.lastCommittedId = item.id;
  }

  /** A final segment with text: one delta on the head item. */
  final(segment) {
    const text = segment.text || '';
    if (text.trim() === '') return;
    const item = this.head();
    const delta = item.text === '' ? text.trimStart() : text;
    item.text += delta;
    this.send({ type: 'conversation.item.input_audio_transcription.delta', item_id: item.id, content_index: 0, delta });
  }

  partial(segment) {
    const item = this.head();
    this.send({
      type: 'transcription.partial', item_id: item.id, text: (segment.text || '').trim(),
      audio_start_ms: this.ms(segment.start), audio_end_ms: this.ms(segment.end),
    });
  }

  /** The sidecar's `committed`: the head turn's finals are all out. */
  committed(timeS, { force = false } = {}) {
    const item = this.items[0];
    const seconds = Math.max(0, Math.round((timeS - this.lastCommitS) * 1000) / 1000);
    this.lastCommitS = timeS;
    if (!item) return; // a break with nothing said since the last turn
    if (!item.committed && !force && item.text === '' && !item.started) return;
    this.commit(item);
    this.complete(item, seconds);
  }

  complete(item, seconds) {
    this.items.splice(this.items.indexOf(item), 1);
    this.send({
      type: 'conversation.item.input_audio_transcription.completed', item_id: item.id, content_index: 0,
      transcript: item.text, usage: { type: 'duration', seconds },
    });
  }

  /** The stream ended (closed, cleared): committed items complete with what they have; the rest go. */
  flush() {
    for (const item of [...this.items]) {
      if (item.committed) this.complete(item, 0);
    }
    this.items = [];
    this.speaking = false;
  }

  /**
   * The stream was lost (`err`, a RealtimeError): every turn it held that was heard (committed, started
   * or with text) is committed if it was not, and fails; what it had said stays said in its deltas.
   */
  fail(err) {
    for (const item of [...this.items]) {
      if (!item.committed && !item.started && item.text === '') continue;
      this.commit(item);
      this.send({
        type: 'conversation.item.input_audio_transcription.failed', item_id: item.id, content_index: 0,
        error: { type: err.type, code: err.code, message: err.message, param: null },
      });
    }
    this.items = [];
    this.speaking = false;
  }

  /**
   * server_vad's idle_timeout_ms: at `nowMs` of session audio nobody has spoken for `idleMs` and no
   * turn is waiting for its transcript → timeout_triggered, and the silent stretch is one empty item.
   */
  idle(nowMs, idleMs) {
    if (this.speaking || this.items.length > 0 || nowMs - this.quietSinceMs < idleMs) return;
    const item = this.newItem();
    this.send({ type: 'input_audio_buffer.timeout_triggered', audio_start_ms: Math.round(this.quietSinceMs),
      audio_end_ms: Math.round(nowMs), item_id: item.id });
    this.commit(item);
    this.complete(item, Math.round(nowMs - this.quietSinceMs) / 1000);
    this.quietSinceMs = nowMs;
  }
}

module.exports = { Turns };
