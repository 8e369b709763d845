'use strict';

/**
 * A key taken out of the keys file (SIGHUP) is gone at once, not at its next request: the sockets
 * it opened (event streams, realtime WebSockets, uploads, kept-alive connections) are closed, and
 * its live jobs are stopped (they end `done`, `stopped: true`, with what was committed).
 */

class KeySockets {
  constructor() {
    this.byKey = new Map(); // key id -> Set of sockets that carried a request with that key
  }

  /** Remembers the request's socket under its key (nothing for a request without a key). */
  track(request) {
    const id = request.identity && request.identity.id;
    const socket = request.raw && request.raw.socket;
    if (!id || !socket || socket.destroyed) return;
    let sockets = this.byKey.get(id);
    if (!sockets) {
      sockets = new Set();
      this.byKey.set(id, sockets);
    }
    if (sockets.has(socket)) return;
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0 && this.byKey.get(id) === sockets) this.byKey.delete(id);
    });
  }

  /** Destroys every socket a key's requests came on. Returns how many. */
  close(id) {
    const sockets = [...(this.byKey.get(id) || [])];
    for (const socket of sockets) socket.destroy();
    this.byKey.delete(id);
    return sockets.length;
  }
}

/**
 * Args: {keyring (./keys.js, emits 'removed'), sockets (KeySockets), store, runner, log}.
 * Returns: stop() — unsubscribes (the app's onClose).
 */
function revokeRemovedKeys({ keyring, sockets, store, runner, log }) {
  const onRemoved = (ids) => {
    for (const id of ids) {
      const closed = sockets.close(id);
      const jobs = store.liveIds(id);
      for (const jobId of jobs) {
        Promise.resolve(runner.cancel(jobId)).catch((err) => log.warn(`stopping job ${jobId}: ${err.message}`));
      }
      log.warn(`key ${id} was removed: ${closed} socket(s) closed, ${jobs.length} live job(s) stopped`);
    }
  };
  keyring.on('removed', onRemoved);
  return () => keyring.off('removed', onRemoved);
}

module.exports = { KeySockets, revokeRemovedKeys };
