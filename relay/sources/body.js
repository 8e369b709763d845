'use strict';

/**
 * A response body read through one async iterator, so its first bytes can be looked at (is this
 * a playlist?) and the same bytes still come out afterwards: the response is fetched once.
 */

class Body {
  /**
   * @param {import('node:http').IncomingMessage} response
   * @param {import('./guard').RequestGuard} guard touched on every chunk
   */
  constructor(response, guard) {
    this.response = response;
    this.guard = guard;
    this.iterator = response[Symbol.asyncIterator]();
    this.buffered = [];
    this.bufferedBytes = 0;
    this.done = false;
  }

  async pull() {
    this.guard.touch();
    const { value, done } = await this.iterator.next();
    if (done) {
      this.done = true;
      return null;
    }
    this.guard.touch();
    return value;
  }

  /** Returns: up to n first bytes (fewer only when the body is shorter); they stay in the body. */
  async head(n) {
    while (this.bufferedBytes < n && !this.done) {
      const chunk = await this.pull();
      if (chunk) {
        this.buffered.push(chunk);
        this.bufferedBytes += chunk.length;
      }
    }
    return Buffer.concat(this.buffered).subarray(0, n);
  }

  /** Every chunk in order, the looked-at ones first. The guard's idle timer is paused while the consumer holds one. */
  async* chunks() {
    while (this.buffered.length) {
      const chunk = this.buffered.shift();
      this.bufferedBytes -= chunk.length;
      this.guard.pause();
      yield chunk;
    }
    while (!this.done) {
      const chunk = await this.pull();
      if (chunk) {
        this.guard.pause();
        yield chunk;
      }
    }
  }

  /**
   * Returns: the whole body as one Buffer.
   * Raises: whatever `tooLarge()` returns once more than maxBytes arrived.
   */
  async readAll(maxBytes, tooLarge) {
    const parts = [];
    let size = 0;
    for await (const chunk of this.chunks()) {
      size += chunk.length;
      if (size > maxBytes) {
        this.destroy();
        throw tooLarge();
      }
      parts.push(chunk);
    }
    return Buffer.concat(parts);
  }

  destroy() {
    this.done = true;
    this.response.destroy();
  }
}

module.exports = { Body };
