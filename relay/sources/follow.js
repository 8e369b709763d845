'use strict';

/**
 * Follows a file that another program is still writing (a recording, a capture): reads from the
 * start, then waits for growth — fs.watch where the platform gives events, a 250 ms fstat poll in
 * any case — and ends once the file has not grown for followIdleS. Every read and size goes through
 * the one descriptor opened (and checked) at the start, so a path swapped afterwards for a symlink
 * or another file is never read (issue 19); a file replaced at its path is read to its own end. A
 * file that shrinks was truncated: a zero-second gap and a reset mark that, and reading starts from
 * 0 again.
 */

const fs = require('node:fs');
const { sleep } = require('./guard');

const POLL_MS = 250;
const READ_BYTES = 1024 * 1024;

/** Resolves on the next change event or after ms; never rejects except on abort. */
function createWatcher(file) {
  let wake = null;
  let watcher = null;
  try {
    watcher = fs.watch(file, { persistent: false }, () => {
      if (wake) wake();
    });
    watcher.on('error', () => {}); // polling carries on alone
  } catch {
    watcher = null;
  }
  return {
    async wait(ms, signal) {
      const changed = new Promise((resolve) => {
        wake = resolve;
      });
      const controller = new AbortController();
      const onAbort = () => controller.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        await Promise.race([changed, sleep(ms, controller.signal)]);
      } finally {
        wake = null;
        signal.removeEventListener('abort', onAbort);
        controller.abort(); // clears the sleep's timer when the change came first
      }
      if (signal.aborted) throw signal.reason;
    },
    close() {
      if (watcher) watcher.close();
    },
  };
}

async function readRange(handle, offset, length) {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, offset);
  return buffer.subarray(0, bytesRead);
}

/**
 * Args: handle — the file, opened (a fs.promises FileHandle; closed when this ends); file — its path,
 *   only watched for change events; {followIdleS, signal}.
 * Yields: Chunks (see ./index.js); ends with {type: 'end', reason: 'idle'}.
 */
async function* followChunks(handle, file, { followIdleS, signal }) {
  const watcher = createWatcher(file);
  const onAbort = () => watcher.close();
  signal.addEventListener('abort', onAbort, { once: true });
  let offset = 0;
  let grewAt = Date.now();
  try {
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const { size } = await handle.stat();
      if (size < offset) {
        yield { type: 'gap', seconds: 0, reason: 'truncated' };
        yield { type: 'reset', reason: 'truncated' };
        offset = 0;
        grewAt = Date.now();
      }
      if (size > offset) {
        const bytes = await readRange(handle, offset, Math.min(READ_BYTES, size - offset));
        if (bytes.length > 0) {
          offset += bytes.length;
          grewAt = Date.now();
          yield { type: 'data', bytes };
          continue;
        }
      }
      const quietMs = Date.now() - grewAt;
      if (quietMs >= followIdleS * 1000) {
        yield { type: 'end', reason: 'idle' };
        return;
      }
      await watcher.wait(Math.min(POLL_MS, followIdleS * 1000 - quietMs), signal);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    watcher.close();
    await handle.close().catch(() => {});
  }
}

module.exports = { followChunks };
