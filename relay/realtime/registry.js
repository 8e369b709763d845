'use strict';

/**
 * Sessions a client may resume: /v1/realtime?intent=transcription&resume=<session id>.
 *
 * A socket that drops without a normal close (1000) leaves its session detached for `resumeS`
 * seconds: its sidecar stream goes on, and the events it makes are kept. A reconnect with the same
 * key (the same key id; with no keys, anyone holding the id, which is 72 random bits) takes it back;
 * another key, an unknown id or an expired one is refused (RealtimeError `session_not_found`, the
 * same answer for all three, so an id leaks nothing). The sessions live in this process only.
 */

const { RealtimeError } = require('./protocol');

class SessionRegistry {
  /** @param {{resumeS: number}} options  0 turns resume off */
  constructor({ resumeS }) {
    this.resumeS = resumeS;
    this.sessions = new Map(); // id → {session, owner, timer}
    this.closed = false;
  }

  /** A session now served by a socket, resumable later by `owner` (a key id or null); `release` frees
   * its stream slot when the session ends, not when a socket drops. */
  add(session, owner, release = () => {}) {
    this.sessions.set(session.id, { session, owner, timer: null });
    session.onEnd = () => {
      this.forget(session.id);
      release();
    };
  }

  /** Its socket dropped: keep it `resumeS` seconds, then end it. Returns false when it ended now. */
  detach(session) {
    const entry = this.sessions.get(session.id);
    if (!entry || this.resumeS <= 0 || this.closed) {
      session.close();
      return false;
    }
    session.detach();
    entry.timer = setTimeout(() => session.close(), this.resumeS * 1000);
    entry.timer.unref();
    return true;
  }

  /** The detached session `id` for `owner`. Raises RealtimeError session_not_found. */
  take(id, owner) {
    const entry = this.sessions.get(id);
    if (!entry || !entry.timer || entry.owner !== owner) {
      throw new RealtimeError('session_not_found', `No realtime session ${JSON.stringify(String(id).slice(0, 80))} `
        + `can be resumed with this key: it never existed, belongs to another key, is still connected, or ended `
        + `(a dropped session is kept ${this.resumeS} s).`, { param: 'resume' });
    }
    clearTimeout(entry.timer);
    entry.timer = null;
    return entry.session;
  }

  forget(id) {
    const entry = this.sessions.get(id);
    if (entry) clearTimeout(entry.timer);
    this.sessions.delete(id);
  }

  /** Ends every session (the relay is closing). */
  closeAll() {
    this.closed = true;
    for (const { session } of [...this.sessions.values()]) session.close();
  }
}

module.exports = { SessionRegistry };
